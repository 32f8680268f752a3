"""Datasets by name, for the ``DATASET`` parameter of chapters 1, 5 and 6: the offline movie sentences
by default, or, with internet, SST-2, IMDB, Yelp polarity and AG News from the Hugging Face hub.

Offline the kit's data are the rated sentences of :mod:`attnlab.data.sentences`; the book is built and
its claims are checked on them. The hub datasets are the ones Liu et al. (2022) and Jain & Wallace
(2019) report on, so a reader with internet (Colab, ideally on a GPU) can run a chapter's experiment on
them. They come through the Hugging Face ``datasets`` package, imported only when a hub dataset is
asked for: the kit does not depend on it (``pip install datasets``).

The hub datasets are large (Yelp polarity has 560,000 training reviews, IMDB's reviews 230 words on
average), so :func:`load_hub_dataset` caps them for a CPU, to about the size of the movie splits:
:data:`MAX_TRAIN` training and :data:`MAX_EVAL` dev and test texts, each cut to its first
:data:`MAX_TOKENS` tokens. The draw is fixed (:data:`~attnlab.data.sentences.SPLIT_SEED`), so every
chapter and every experiment seed sees the same texts. Dev is held out of the hub's training split,
test is drawn from its labelled evaluation split.

AG News has four classes (World, Sports, Business, Sci/Tech). The violation test works for any number
of classes; a chapter that reads its results as positive or negative asks :func:`load_splits` for two
classes (``require_binary``) and gets a clear refusal instead of a crash half-way.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

import numpy as np

from ._checks import _check_int, _short
from .sentences import SPLIT_SEED, Splits, TextDataset, load_sentiment
from .vader import DOMAINS, DataUnavailableError

_NEG_POS = ("negative", "positive")


@dataclass(frozen=True)
class HubDataset:
    """Where a hub dataset lives and how to read it."""

    repo: str  # the name datasets.load_dataset takes
    text_column: str
    test_split: str  # the labelled split the test sentences are drawn from
    label_names: tuple[str, ...]  # label i of the hub is class i of the kit
    about: str


#: The online datasets, by the name a chapter's ``DATASET`` takes.
HUB_DATASETS: dict[str, HubDataset] = {
    "sst2": HubDataset(
        "stanfordnlp/sst2",
        "sentence",
        "validation",
        _NEG_POS,
        "SST-2 (GLUE): movie-review sentences; its test split has no labels, so the test "
        "sentences are the 872 of its validation split",
    ),
    "imdb": HubDataset("stanfordnlp/imdb", "text", "test", _NEG_POS, "IMDB: whole movie reviews"),
    "yelp_polarity": HubDataset(
        "fancyzhx/yelp_polarity",
        "text",
        "test",
        _NEG_POS,
        "Yelp polarity: business reviews, 1-2 stars negative, 3-4 positive",
    ),
    "ag_news": HubDataset(
        "fancyzhx/ag_news",
        "text",
        "test",
        ("World", "Sports", "Business", "Sci/Tech"),
        "AG News: news headlines and first sentences, four topics",
    ),
}
#: Every name :func:`load_splits` takes: the rated corpora (offline; ``movies`` is the book's) and the hub's.
DATASETS: tuple[str, ...] = (*DOMAINS, *HUB_DATASETS)

MAX_TRAIN = 8000  # the movie sentences have 8,056 training sentences
MAX_EVAL = 1000  # and 1,007 dev and test sentences
MAX_TOKENS = 64  # as chapter 6's pretrained encoder, which cuts its input at 64 word pieces

_MARKUP = re.compile(r"<br\s*/?>|\\n")  # IMDB's HTML line breaks, Yelp's escaped newlines


def _choices() -> str:
    return (
        f"{', '.join(map(repr, DOMAINS))} (offline; 'movies' is the book's data) or, with internet, "
        f"{', '.join(map(repr, HUB_DATASETS))}"
    )


def _import_datasets(name: str):
    """The Hugging Face ``datasets`` module, or a clear error saying how to get it."""
    try:
        import datasets
    except ImportError as exc:
        raise DataUnavailableError(
            f"DATASET={name!r} comes from the Hugging Face hub through the `datasets` package, which is not "
            f"installed ({exc}). What to do: `pip install datasets` and restart the kernel (the download needs "
            "internet, e.g. in Colab), or keep DATASET='movies', the book's offline data."
        ) from exc
    return datasets


def _download(datasets, name: str, source: HubDataset):
    try:
        return datasets.load_dataset(source.repo)
    except Exception as exc:  # the hub raises many different errors when offline
        flags = [
            v
            for v in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")
            if os.environ.get(v, "").strip().lower() in ("1", "true", "yes", "on")
        ]
        hint = (
            f" {' and '.join(flags)} is set, which forbids downloads: unset it before `datasets` is "
            "imported (restart the kernel)."
            if flags
            else ""
        )
        raise DataUnavailableError(
            f"Could not load {source.repo} (DATASET={name!r}) from the Hugging Face hub: "
            f"{type(exc).__name__}: {exc}.{hint} It needs internet access (it works in Colab). "
            "What to do: connect and run again, or keep DATASET='movies', the book's offline data."
        ) from exc


def _part(ds, split: str, name: str, source: HubDataset):
    try:
        return ds[split]
    except (KeyError, TypeError) as exc:
        raise DataUnavailableError(
            f"{source.repo} (DATASET={name!r}) has no {split!r} split; the hub "
            "dataset has changed. Keep DATASET='movies', or report it."
        ) from exc


def _texts(part, indices: np.ndarray, source: HubDataset, max_tokens: int) -> TextDataset:
    """The rows at ``indices`` (sorted) as a TextDataset; rows without a valid label are left out."""
    rows = part.select(np.sort(indices).tolist())
    texts = [_MARKUP.sub(" ", str(t)) for t in rows[source.text_column]]
    labels = np.asarray(rows["label"], dtype=np.int64)
    keep = np.flatnonzero((labels >= 0) & (labels < len(source.label_names)))
    return TextDataset.from_texts([texts[i] for i in keep], labels[keep], source.label_names, max_tokens=max_tokens)


def load_hub_dataset(
    name: str, *, max_train: int = MAX_TRAIN, max_eval: int = MAX_EVAL, max_tokens: int = MAX_TOKENS
) -> Splits:
    """A dataset of the Hugging Face hub (:data:`HUB_DATASETS`) as fixed, CPU-sized splits; needs internet.

    ``max_train`` training texts and ``max_eval`` dev and test texts (fewer if the hub has fewer), each
    cut to its first ``max_tokens`` tokens (``texts`` keep the whole text). Raises
    :class:`DataUnavailableError` saying what to do when ``datasets`` is not installed or the hub
    cannot be reached (as on the machines that build this book).
    """
    if not isinstance(name, str) or name not in HUB_DATASETS:
        raise ValueError(f"unknown hub dataset {_short(name)}; choose one of {sorted(HUB_DATASETS)}")
    max_train = _check_int("max_train", max_train, minimum=1)
    max_eval = _check_int("max_eval", max_eval, minimum=1)
    max_tokens = _check_int("max_tokens", max_tokens, minimum=1)
    source = HUB_DATASETS[name]
    ds = _download(_import_datasets(name), name, source)
    train_part, test_part = _part(ds, "train", name, source), _part(ds, source.test_split, name, source)
    rng = np.random.default_rng(SPLIT_SEED)  # the same texts for every chapter and seed
    order = rng.permutation(len(train_part))
    n_dev = min(max_eval, len(train_part) // 10)
    dev_idx, train_idx = order[:n_dev], order[n_dev : n_dev + max_train]
    test_idx = rng.permutation(len(test_part))[:max_eval]
    splits = Splits(
        *(
            _texts(part, idx, source, max_tokens)
            for part, idx in ((train_part, train_idx), (train_part, dev_idx), (test_part, test_idx))
        )
    )
    if empty := [k for k, n in splits.sizes().items() if n == 0]:
        raise DataUnavailableError(
            f"{source.repo} (DATASET={name!r}) gave no labelled texts for the "
            f"{' and '.join(empty)} split; keep DATASET='movies'."
        )
    return splits


def load_splits(name: str = "movies", *, require_binary: str = "") -> Splits:
    """The train / dev / test splits a chapter uses, by the name of its ``DATASET`` parameter.

    ``"movies"`` (the default, offline) is exactly ``load_sentiment("movies")``, the book's data;
    ``"tweets"``, ``"amazon"``, ``"nyt"`` are the other rated corpora (offline, two classes);
    ``"sst2"``, ``"imdb"``, ``"yelp_polarity"`` and ``"ag_news"`` come from the Hugging Face hub
    (:func:`load_hub_dataset`: needs internet and ``pip install datasets``). ``require_binary`` says why
    the caller needs two classes (a chapter that reads predictions as positive or negative); when it is
    given, a dataset with more classes (AG News) is refused, before anything is downloaded.
    """
    if not isinstance(name, str) or name not in DATASETS:
        raise ValueError(f"unknown DATASET {_short(name)}; choose one of {_choices()}")
    if not isinstance(require_binary, str):
        raise TypeError(
            f"require_binary must be a sentence saying why two classes are needed, got {_short(require_binary)}"
        )
    if name in DOMAINS:
        return load_sentiment(name)
    labels = HUB_DATASETS[name].label_names
    if require_binary and len(labels) != 2:
        two = [n for n in DATASETS if n not in HUB_DATASETS or len(HUB_DATASETS[n].label_names) == 2]
        raise ValueError(
            f"DATASET={name!r} has {len(labels)} classes ({', '.join(labels)}), but "
            f"{require_binary}. Choose a two-class dataset: {', '.join(map(repr, two))}."
        )
    return load_hub_dataset(name)
