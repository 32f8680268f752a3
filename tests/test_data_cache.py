"""The data cache under concurrency and faults, and the verified download (no network needed).

Every test points ``$ATTNLAB_CACHE`` at a temporary folder. The source archive comes from a local
copy (``$ATTNLAB_VADER_SDIST``) or from an HTTP server on 127.0.0.1 started by the test; the archive
itself is the verified one of the default cache (fetched once, as by any first use of the kit).
"""

import hashlib
import http.server
import multiprocessing
import os
import shutil
import signal
import subprocess
import tarfile
import threading
import time
import warnings

import pytest

from attnlab import data
from attnlab._io import sha256_of
from attnlab.data import CacheRepairedWarning, DataUnavailableError, vader  # vader: the cache's own module

FORK = "fork" in multiprocessing.get_all_start_methods()
needs_fork = pytest.mark.skipif(not FORK, reason="starts processes with fork (Linux, macOS)")


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    """A private copy of the verified source archive (tests may not damage the user's copy)."""
    copy = tmp_path_factory.mktemp("sdist") / vader.VADER_SDIST
    shutil.copyfile(vader._obtain_sdist(), copy)
    assert sha256_of(copy) == vader.VADER_SDIST_SHA256
    return copy


@pytest.fixture
def cache(tmp_path, monkeypatch, archive):
    """An empty cache folder; the archive is the local copy."""
    root = tmp_path / "cache"
    monkeypatch.setenv("ATTNLAB_CACHE", str(root))
    monkeypatch.setenv("ATTNLAB_VADER_SDIST", str(archive))
    monkeypatch.delenv(vader.TEST_BUILD_HOOK_ENV, raising=False)
    monkeypatch.delenv("ATTNLAB_VADER_URL", raising=False)
    return root


def snapshot(folder):
    """File name -> SHA-256 of every file in the folder."""
    return {p.name: sha256_of(p) for p in sorted(folder.iterdir())}


def expected_snapshot():
    return {**vader._cache_contents(), vader.MANIFEST: hashlib.sha256(vader._manifest_text().encode()).hexdigest()}


def leftovers(root):
    return sorted(p.name for p in root.glob(".*") if p.name != f".{vader.CACHE_FOLDER}.lock")


# --------------------------------------------------------------------------------------------------
# Concurrency: three processes on an empty cache, many rounds
# --------------------------------------------------------------------------------------------------


def _first_use(barrier, queue, hook=None):
    if hook:
        os.environ[vader.TEST_BUILD_HOOK_ENV] = hook
    try:
        barrier.wait(timeout=60)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            folder = vader.vader_files()
            queue.put(("ok", snapshot(folder), [str(w.message) for w in caught]))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        queue.put(("failed", f"{type(exc).__name__}: {exc}", []))


@needs_fork
def test_three_processes_on_an_empty_cache_all_succeed_with_identical_files(tmp_path, cache, monkeypatch):
    """Before the lock, 14 of 20 such rounds failed (FileNotFoundError, 'Directory not empty')."""
    ctx = multiprocessing.get_context("fork")
    rounds, failures = 10, []
    for round_ in range(rounds):
        root = tmp_path / f"round{round_}"
        monkeypatch.setenv("ATTNLAB_CACHE", str(root))  # an empty cache each round
        barrier, queue = ctx.Barrier(3), ctx.Queue()
        procs = [ctx.Process(target=_first_use, args=(barrier, queue)) for _ in range(3)]
        for p in procs:
            p.start()
        results = [queue.get(timeout=120) for _ in procs]
        for p in procs:
            p.join(timeout=60)
        assert [p.exitcode for p in procs] == [0, 0, 0]
        failures += [(round_, r[1]) for r in results if r[0] != "ok"]
        if not any(r[0] != "ok" for r in results):
            assert all(r[1] == expected_snapshot() for r in results), f"round {round_}: files differ"
            assert not any(r[2] for r in results), "a first build on an empty cache is not a repair"
        assert leftovers(root) == []
    assert failures == [], f"{len(failures)} failures in {rounds} rounds: {failures[:3]}"


# --------------------------------------------------------------------------------------------------
# Faults: a process killed mid-build, a truncated lexicon, a half-built folder
# --------------------------------------------------------------------------------------------------


def _build_in_child(hook):
    """Run vader_files() in a forked child with the test hook set; return the child process."""
    ctx = multiprocessing.get_context("fork")
    barrier, queue = ctx.Barrier(1), ctx.Queue()
    proc = ctx.Process(target=_first_use, args=(barrier, queue, hook))
    proc.start()
    return proc


def _repaired(root):
    with pytest.warns(CacheRepairedWarning) as caught:
        folder = vader.vader_files()
    assert snapshot(folder) == expected_snapshot()
    assert leftovers(root) == []
    return " ".join(str(w.message) for w in caught)


@needs_fork
def test_process_exiting_mid_build_leaves_a_cache_the_next_call_repairs(cache):
    proc = _build_in_child("building:exit")  # os._exit after the first file: no clean-up runs
    proc.join(timeout=120)
    assert proc.exitcode == 17
    assert not (cache / vader.CACHE_FOLDER).exists()  # never a partial folder in place
    assert any(name.startswith(f".{vader.CACHE_FOLDER}.build-") for name in leftovers(cache))
    message = _repaired(cache)
    assert "interrupted build" in message and "rebuilding" in message


@needs_fork
def test_process_killed_with_sigkill_mid_build_leaves_a_cache_the_next_call_repairs(cache):
    proc = _build_in_child("building:sleep=60")
    deadline = time.monotonic() + 60
    while not list(cache.glob(f".{vader.CACHE_FOLDER}.build-*/{vader.LEXICON_FILE}")):
        assert time.monotonic() < deadline and proc.is_alive(), "the build never started"
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.join(timeout=60)
    assert proc.exitcode == -signal.SIGKILL
    assert not (cache / vader.CACHE_FOLDER).exists()
    assert "interrupted build" in _repaired(cache)  # the dead process's lock is released by the OS


@needs_fork
def test_process_killed_while_replacing_a_corrupt_cache_leaves_a_cache_the_next_call_repairs(cache):
    folder = vader.vader_files()
    (folder / vader.DOMAINS["tweets"][0]).write_text("damaged")
    proc = _build_in_child("swap:exit")  # the damaged folder moved aside, the new one not yet in place
    proc.join(timeout=120)
    assert proc.exitcode == 17
    assert not folder.exists()
    assert "interrupted build" in _repaired(cache)


def test_truncated_lexicon_is_detected_and_repaired(cache):
    folder = vader.vader_files()
    lexicon = folder / vader.LEXICON_FILE
    lines = lexicon.read_text(encoding="utf-8").splitlines(keepends=True)
    lexicon.write_text("".join(lines[:999]), encoding="utf-8")  # as a full disk or a killed copy leaves it
    with pytest.warns(CacheRepairedWarning, match=r"vader_lexicon.txt with SHA-256 .*expected 1ec9c6e9"):
        entries = data.load_vader_lexicon()
    assert len(entries) == 7506
    assert sha256_of(lexicon) == vader.LEXICON_SHA256


@pytest.mark.parametrize(
    "damage", ["missing file", "no manifest and a missing file", "bad manifest", "extra bytes", "empty folder"]
)
def test_half_built_or_corrupted_cache_is_rebuilt(cache, damage):
    folder = vader.vader_files()
    movies = folder / vader.DOMAINS["movies"][0]
    if damage == "missing file":
        movies.unlink()
    elif damage == "no manifest and a missing file":
        (folder / vader.MANIFEST).unlink()
        movies.unlink()
    elif damage == "bad manifest":
        (folder / vader.MANIFEST).write_text("0" * 64 + "  vader_lexicon.txt\n")
    elif damage == "extra bytes":
        with open(movies, "ab") as handle:
            handle.write(b"1\t4.0\tan extra, unrated line\n")
    else:
        shutil.rmtree(folder)
        folder.mkdir()
    message = _repaired(cache)
    assert str(folder) in message
    assert len(data.load_ratings("movies")) == 10_603


def test_complete_cache_of_an_older_kit_gets_a_manifest_without_a_rebuild(cache):
    folder = vader.vader_files()
    inode = (folder / vader.DOMAINS["movies"][0]).stat().st_ino
    (folder / vader.MANIFEST).unlink()  # as the kit before manifests left its cache
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no repair message: nothing was wrong with the files
        assert vader.vader_files() == folder
    assert snapshot(folder) == expected_snapshot()
    assert (folder / vader.DOMAINS["movies"][0]).stat().st_ino == inode  # kept


def test_a_healthy_cache_is_not_touched(cache):
    folder = vader.vader_files()
    before = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert vader.vader_files() == folder
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == before


def test_an_archive_with_a_wrong_lexicon_is_refused(tmp_path, cache, monkeypatch, archive):
    """The members are checked too: an archive that passes no hash is never a source of files."""
    monkeypatch.setattr(data, "LEXICON_SHA256", "0" * 64)
    with pytest.raises(DataUnavailableError, match="vader_lexicon.txt inside .* expected 0000"):
        vader.vader_files()
    assert not (cache / vader.CACHE_FOLDER).exists() and leftovers(cache) == []


def test_a_stuck_builder_gives_a_clear_error_after_the_timeout(cache, monkeypatch):
    from filelock import FileLock

    cache.mkdir()
    monkeypatch.setattr(data, "LOCK_TIMEOUT_SECONDS", 0.2)
    with FileLock(str(cache / f".{vader.CACHE_FOLDER}.lock")):  # held elsewhere (here: this thread)
        ctx = multiprocessing.get_context("fork") if FORK else None
        if ctx is None:
            pytest.skip("needs fork")
        barrier, queue = ctx.Barrier(1), ctx.Queue()
        proc = ctx.Process(target=_first_use, args=(barrier, queue))
        proc.start()
        status, message, _ = queue.get(timeout=60)
        proc.join(timeout=60)
    assert status == "failed" and "DataUnavailableError" in message
    assert "Another process has been building" in message and ".lock" in message


# --------------------------------------------------------------------------------------------------
# The download: a local HTTP server serving a good archive, a corrupted one and a 404
# --------------------------------------------------------------------------------------------------


@pytest.fixture
def server(archive):
    """http://127.0.0.1:<port>/ serving /good.tar.gz, /corrupt.tar.gz (one byte changed), 404 else."""
    good = archive.read_bytes()
    corrupt = bytearray(good)
    corrupt[len(corrupt) // 2] ^= 0xFF
    files = {"/good.tar.gz": good, "/corrupt.tar.gz": bytes(corrupt)}
    requests = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the name http.server wants
            requests.append(self.path)
            body = files.get(self.path)
            if body is None:
                self.send_error(404, "Not Found")
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", requests
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


@pytest.fixture
def download_into(cache, monkeypatch):
    """An empty cache with no local archive: the kit has to download."""
    monkeypatch.delenv("ATTNLAB_VADER_SDIST", raising=False)

    def point_at(url):
        monkeypatch.setattr(data, "VADER_SDIST_URL", url)
        return cache

    return point_at


def nothing_left(root):
    downloads = root / "downloads"
    return (
        not (root / vader.CACHE_FOLDER).exists()
        and (not downloads.exists() or not any(downloads.iterdir()))
        and leftovers(root) == []
    )


def test_good_archive_is_downloaded_verified_and_used(server, download_into, monkeypatch):
    base, requests = server
    root = download_into(f"{base}/good.tar.gz")

    def no_subprocess(*args, **kwargs):
        raise AssertionError(f"the download ran a subprocess: {args}")

    monkeypatch.setattr(subprocess, "run", no_subprocess)
    monkeypatch.setattr(subprocess, "Popen", no_subprocess)
    folder = vader.vader_files()
    assert snapshot(folder) == expected_snapshot()
    assert sha256_of(root / "downloads" / vader.VADER_SDIST) == vader.VADER_SDIST_SHA256
    assert requests == ["/good.tar.gz"]
    vader.vader_files()
    shutil.rmtree(folder)
    assert snapshot(vader.vader_files()) == expected_snapshot()  # rebuilt from the kept archive ...
    assert requests == ["/good.tar.gz"]  # ... without downloading it again


def test_corrupted_download_is_refused_before_it_is_opened(server, download_into, monkeypatch):
    base, requests = server
    root = download_into(f"{base}/corrupt.tar.gz")
    opened = []
    real_open = tarfile.open
    monkeypatch.setattr(tarfile, "open", lambda *a, **k: opened.append(a) or real_open(*a, **k))
    with pytest.raises(DataUnavailableError) as error:
        vader.vader_files()
    message = str(error.value)
    assert "corrupt.tar.gz has SHA-256" in message and f"expected {vader.VADER_SDIST_SHA256}" in message
    assert "ATTNLAB_VADER_SDIST" in message
    assert opened == []  # never opened
    assert nothing_left(root)
    assert requests == ["/corrupt.tar.gz"]


def test_corrupted_download_names_the_actual_hash(server, download_into, archive):
    base, _ = server
    download_into(f"{base}/corrupt.tar.gz")
    corrupt = bytearray(archive.read_bytes())
    corrupt[len(corrupt) // 2] ^= 0xFF
    with pytest.raises(
        DataUnavailableError,
        match=f"SHA-256 {hashlib.sha256(corrupt).hexdigest()}, expected {vader.VADER_SDIST_SHA256}",
    ):
        vader.vader_files()


def test_missing_archive_404_says_what_to_do(server, download_into):
    base, _ = server
    root = download_into(f"{base}/nothing-here.tar.gz")
    with pytest.raises(DataUnavailableError, match="HTTP 404") as error:
        vader.vader_files()
    message = str(error.value)
    assert "nothing-here.tar.gz" in message and "export ATTNLAB_VADER_SDIST=" in message
    assert vader.VADER_SDIST_SHA256 in message  # how to check a copy fetched by hand
    assert nothing_left(root)


def test_unreachable_server_says_what_to_do(download_into):
    root = download_into("http://127.0.0.1:9/vaderSentiment-3.3.2.tar.gz")  # port 9: nothing listens
    with pytest.raises(DataUnavailableError, match="(?s)Could not download.*ATTNLAB_VADER_SDIST"):
        vader.vader_files()
    assert nothing_left(root)


def test_mirror_url_from_the_environment(server, download_into, monkeypatch):
    base, requests = server
    download_into(f"{base}/nothing-here.tar.gz")
    monkeypatch.setenv("ATTNLAB_VADER_URL", f"{base}/good.tar.gz")
    assert snapshot(vader.vader_files()) == expected_snapshot()
    assert requests == ["/good.tar.gz"]


def test_corrupted_cached_archive_is_downloaded_again(server, download_into):
    base, requests = server
    root = download_into(f"{base}/good.tar.gz")
    (root / "downloads").mkdir(parents=True)
    (root / "downloads" / vader.VADER_SDIST).write_bytes(b"truncated")
    with pytest.warns(CacheRepairedWarning, match="downloading it again"):
        vader.vader_files()
    assert requests == ["/good.tar.gz"]
    assert sha256_of(root / "downloads" / vader.VADER_SDIST) == vader.VADER_SDIST_SHA256


def test_default_url_is_the_file_hosts_address_of_the_archive():
    """The short /packages/source/ form answered 404; the address must be the one PyPI's index lists."""
    url = vader.VADER_SDIST_URL
    assert url.startswith("https://files.pythonhosted.org/packages/") and "/source/" not in url
    assert url.endswith("/" + vader.VADER_SDIST)
    assert "pip download" not in vader._what_to_do()  # the advice must not run the archive's setup.py
