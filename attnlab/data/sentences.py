"""Labelled sentences and fixed splits: the rated corpora as sentiment and domain tasks, the VADER lexicon.

:class:`TextDataset` holds sentences with their tokens and labels, :class:`Splits` the fixed train /
dev / test splits of one task. The loaders read the verified files of :mod:`attnlab.data.vader`.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from . import vader
from ._checks import _check_int, _checked_labels, _short
from .text import tokenize
from .vader import DOMAINS, DataUnavailableError

#: Seed of the fixed train/dev/test split. It is *not* the experiment seed: every chapter and every
#: seed sees the same split, so numbers are comparable across chapters.
SPLIT_SEED = 2014
SPLIT_FRACTIONS = (0.8, 0.1, 0.1)


@dataclass
class TextDataset:
    """Sentences with their tokens and integer labels (and, for rated corpora, the mean rating)."""

    texts: list[str]
    tokens: list[list[str]]
    labels: np.ndarray
    label_names: tuple[str, ...]
    ratings: np.ndarray | None = None

    def __post_init__(self):
        if (
            isinstance(self.label_names, str)
            or not all(isinstance(x, str) for x in self.label_names)
            or len(self.label_names) == 0
        ):
            raise TypeError(
                f"label_names must be a non-empty tuple of class names, e.g. ('negative', "
                f"'positive'), got {_short(self.label_names)}"
            )
        if isinstance(self.texts, str) or isinstance(self.tokens, str):
            raise TypeError("texts and tokens must be lists (one entry per sentence), got a string")
        n = len(self.texts)
        n_labels = len(np.atleast_1d(np.asarray(self.labels, dtype=object)))
        if len(self.tokens) != n or n_labels != n:
            raise ValueError(f"texts ({n}), tokens ({len(self.tokens)}) and labels ({n_labels}) differ in length")
        for i, (text, toks) in enumerate(zip(self.texts, self.tokens)):
            if not isinstance(text, str):
                raise TypeError(f"texts[{i}] is {_short(text)} ({type(text).__name__}); texts must be strings")
            if isinstance(toks, str):
                raise TypeError(
                    f"tokens[{i}] is the string {_short(toks)}; tokens must be a list of "
                    "token lists, e.g. [tokenize(t) for t in texts]"
                )
        self.labels = _checked_labels(self.labels, n, len(self.label_names))
        if self.ratings is not None:
            self.ratings = np.asarray(self.ratings, dtype=np.float64)
            if self.ratings.shape != (n,):
                raise ValueError(f"ratings have shape {self.ratings.shape}, expected ({n},)")

    @classmethod
    def from_texts(
        cls, texts: Sequence[str], labels, label_names: Sequence[str], ratings=None, max_tokens: int | None = None
    ) -> TextDataset:
        """Tokenize ``texts`` with :func:`tokenize`; with ``max_tokens``, keep each text's first tokens."""
        max_tokens = _check_int("max_tokens", max_tokens, minimum=1, allow_none=True)
        texts = list(texts)
        bad = next((i for i, t in enumerate(texts) if not isinstance(t, str)), None)
        if bad is not None:
            raise TypeError(
                f"texts[{bad}] is {_short(texts[bad])} ({type(texts[bad]).__name__}); texts must be strings"
            )
        return cls(
            texts=texts,
            tokens=[tokenize(t)[:max_tokens] for t in texts],
            labels=np.asarray(labels),
            label_names=tuple(label_names),
            ratings=None if ratings is None else np.asarray(ratings),
        )

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, indices: Sequence[int]) -> TextDataset:
        """The sentences at positions ``indices`` (0..len-1; repeats allowed), in that order."""
        idx = np.asarray(indices)
        if idx.dtype == bool:
            raise TypeError("subset takes positions, not a True/False mask; use dataset.subset(np.flatnonzero(mask))")
        if idx.ndim != 1:
            raise ValueError(f"indices must be a flat list of positions, got shape {idx.shape}")
        if idx.size and idx.dtype.kind not in "iu":
            raise TypeError(f"indices must be whole numbers 0..{len(self) - 1}, got {_short(indices)}")
        idx = idx.astype(np.int64, copy=False)
        bad = np.flatnonzero((idx < 0) | (idx >= len(self)))
        if bad.size:
            raise IndexError(
                f"index {idx[bad[0]]} is out of range for a dataset of {len(self)} sentences "
                f"(allowed: 0..{len(self) - 1})"
            )
        return TextDataset(
            texts=[self.texts[i] for i in idx],
            tokens=[self.tokens[i] for i in idx],
            labels=self.labels[idx],
            label_names=self.label_names,
            ratings=None if self.ratings is None else self.ratings[idx],
        )

    def sample(self, n: int, seed: int = 0) -> TextDataset:
        """A random subset of ``n`` sentences (all of them if ``n >= len(self)``); order is kept."""
        n = _check_int("sample size n", n, minimum=1)
        seed = _check_int("seed", seed, minimum=0)
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
    _check_domain(domain)
    path = vader.vader_files() / DOMAINS[domain][0]
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


def _check_domain(domain) -> None:
    if not isinstance(domain, str):
        raise TypeError(f"domain must be a string, one of {sorted(DOMAINS)}; got {_short(domain)}")
    if domain not in DOMAINS:
        raise ValueError(f"unknown domain {domain!r}; choose one of {sorted(DOMAINS)}")


def _empty_splits(n: int) -> list[str]:
    """Names of the splits that would be empty for ``n`` sentences."""
    return [name for name, idx in zip(("train", "dev", "test"), _split_indices(n)) if len(idx) == 0]


def _split_indices(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    order = np.random.default_rng(SPLIT_SEED).permutation(n)
    n_train = int(round(SPLIT_FRACTIONS[0] * n))
    n_dev = int(round(SPLIT_FRACTIONS[1] * n))
    return (np.sort(order[:n_train]), np.sort(order[n_train : n_train + n_dev]), np.sort(order[n_train + n_dev :]))


def _make_splits(texts, labels, label_names, ratings=None) -> Splits:
    full = TextDataset.from_texts(texts, labels, label_names, ratings)
    return Splits(*(full.subset(idx) for idx in _split_indices(len(full))))


def load_sentiment(domain: str = "movies", min_abs_rating: float = 0.5) -> Splits:
    """Binary sentiment on one rated corpus with fixed 80/10/10 splits.

    Sentences whose mean human rating lies within ``min_abs_rating`` of neutral are dropped (they are
    ambiguous); label 1 = positive (rating > 0). For the movie sentences this keeps 10,070 of the
    10,603 distinct sentences.
    """
    _check_domain(domain)
    if not isinstance(min_abs_rating, numbers.Real) or isinstance(min_abs_rating, (bool, np.bool_)):
        raise TypeError(
            f"min_abs_rating must be a number in 0..4 (ratings lie in -4..+4), got {_short(min_abs_rating)}"
        )
    if not math.isfinite(min_abs_rating) or min_abs_rating < 0:
        raise ValueError(
            f"min_abs_rating must be >= 0, got {min_abs_rating} (ratings lie in -4..+4; "
            "the default 0.5 drops only near-neutral sentences)"
        )
    all_rows = load_ratings(domain)
    rows = [r for r in all_rows if abs(r[1]) >= min_abs_rating and r[1] != 0]
    if empty := _empty_splits(len(rows)):
        strongest = max(abs(r[1]) for r in all_rows)
        raise ValueError(
            f"min_abs_rating={min_abs_rating} keeps {len(rows)} of the {len(all_rows)} {domain} sentences, "
            f"too few for train/dev/test splits (the {' and '.join(empty)} split would be empty); the "
            f"strongest mean rating there is {strongest:.2f}, so choose a threshold well below it "
            "(the default is 0.5)"
        )
    return _make_splits(
        texts=[r[2] for r in rows],
        labels=[int(r[1] > 0) for r in rows],
        label_names=("negative", "positive"),
        ratings=[r[1] for r in rows],
    )


def load_domains(max_per_domain: int | None = None) -> Splits:
    """A four-class task: which corpus (movies, tweets, amazon, nyt) does a sentence come from?

    ``max_per_domain`` caps each class (taken in file order) to balance the classes.
    """
    max_per_domain = _check_int("max_per_domain", max_per_domain, minimum=1, allow_none=True)
    if max_per_domain is not None and _empty_splits(max_per_domain * len(DOMAINS)):
        raise ValueError(
            f"max_per_domain={max_per_domain} gives {max_per_domain * len(DOMAINS)} sentences, "
            "too few for train/dev/test splits; use at least 3 (or None for all)"
        )
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
    text = (vader.vader_files() / vader.LEXICON_FILE).read_text(encoding="utf-8")
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) >= 2:
            lexicon[parts[0]] = float(parts[1])
    return lexicon
