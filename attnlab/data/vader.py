"""The rated sentences' source: the ``vaderSentiment`` 3.3.2 source archive, verified and cached.

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

This module only obtains the files (:func:`vader_files`); :mod:`attnlab.data.sentences` reads them.
Settings such as :data:`VADER_SDIST_URL` are read from this module at call time, so a test or a user
may change them here (or through ``attnlab.data``, which forwards the change).
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import io
import os
import shutil
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
import warnings
from pathlib import Path

from filelock import FileLock, Timeout

from .._io import atomic_write, sha256_of, sha256_of_bytes

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
        time.sleep(float(action[len("sleep=") :]))


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
            f"the cached archive {path} has SHA-256 {digest}, expected {VADER_SDIST_SHA256}; downloading it again",
            CacheRepairedWarning,
            stacklevel=3,
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
            problems.append(
                f"has {name} with SHA-256 {digest}, expected {expected} "
                f"({path.stat().st_size:,} bytes: truncated or modified)"
            )
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
                warnings.warn(
                    f"the data cache is broken: {why}; rebuilding it from the verified archive",
                    CacheRepairedWarning,
                    stacklevel=2,
                )
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
        raise DataUnavailableError(
            f"the data cache {target} {problem} right after it was built; "
            "is the disk full or failing? Delete the folder and try again."
        )
    return target
