"""Execute the book's notebooks in parallel, one process per core, into the build's execution cache.

``bash book/build.sh`` runs this before ``jupyter-book build``. Every notebook of ``_toc.yml`` is
executed from scratch by jupyter-cache's parallel executor (the Jupyter Book 1.x stack's own), each
kernel single-threaded (the ``Chapter`` helper's default), and its outputs are stored in the cache that
``_config.yml`` names; the book build (``execute_notebooks: cache``) then renders those outputs without
executing the chapters again. The MyST pages that read the chapters' results (the scorecard and the
claims ledger) are not executed here: the build executes them after every chapter has written its results.

    python book/execute.py            # clear the cache, execute every notebook (one process per core)
    python book/execute.py --reuse    # execute only the notebooks whose code changed since the last run

``ATTNLAB_JOBS=N`` runs N notebooks at a time (default: one per usable core; 1 is the sequential build that
the parallel one must equal). Exit status 1 if a notebook fails: its traceback is
printed and nothing half-done is left in the cache (a failed notebook has no cache entry).
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import multiprocessing.pool
import os
import shutil
import sys
import time
from pathlib import Path

import yaml
from jupyter_cache import get_cache
from jupyter_cache.executors import basic, load_executor

ROOT = Path(__file__).resolve().parents[1]
TIMES_FILE = "execution_seconds.json"  # beside the cache: the last run's seconds per notebook


def book_config(root: Path = ROOT) -> dict:
    return yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))


def cache_path(root: Path = ROOT) -> Path:
    """The jupyter-cache folder that the book build reads (``execute.cache`` in ``_config.yml``)."""
    execute = book_config(root).get("execute", {})
    if execute.get("execute_notebooks") != "cache" or not execute.get("cache"):
        raise SystemExit("_config.yml must set execute.execute_notebooks: cache and execute.cache: <folder>")
    return root / execute["cache"]


def toc_notebooks(root: Path = ROOT) -> list[Path]:
    """The ``.ipynb`` files of ``_toc.yml``, in the order of the table of contents."""
    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    files = [entry["file"] for part in toc.get("parts", []) for entry in part.get("chapters", [])]
    return [root / f"{name}.ipynb" for name in files if (root / f"{name}.ipynb").is_file()]


class _PoolOf:
    """``multiprocessing`` as jupyter-cache uses it, with pools of ``processes`` processes."""

    def __init__(self, processes: int) -> None:
        self.processes = processes

    def Pool(self) -> multiprocessing.pool.Pool:  # noqa: N802 (multiprocessing's name)
        return multiprocessing.Pool(self.processes)

    def __getattr__(self, name: str):
        return getattr(multiprocessing, name)


def usable_cores() -> int:
    """The cores this process may run on (fewer than ``os.cpu_count()`` in a limited container)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


# Seconds per notebook when nothing was measured yet (a fresh clone): an ordering hint only, from the
# execution-times page of a recent build; a build replaces it with what it measures (TIMES_FILE).
TYPICAL_SECONDS = {
    "06_transformers.ipynb": 300,
    "05_faithfulness_violation_test.ipynb": 180,
    "04_mitigations.ipynb": 160,
    "03_shortcut_experiment.ipynb": 90,
    "01_attention_as_explanation.ipynb": 70,
    "explorer.ipynb": 30,
    "07_can_i_read_this_map.ipynb": 30,
    "02_combinatorial_shortcuts.ipynb": 10,
}


def longest_first(notebooks: list[Path], previous: dict[str, float]) -> list[Path]:
    """Hand the longest notebooks out first, so that no core idles at the end while one still runs.

    The executor's pool takes the notebooks in this order: by the seconds the last run measured, else
    by ``TYPICAL_SECONDS``; a notebook known to neither goes first.
    """
    seconds = {**TYPICAL_SECONDS, **previous}
    return sorted(notebooks, key=lambda path: -seconds.get(path.name, float("inf")))


def execute(
    root: Path = ROOT,
    reuse: bool = False,
    jobs: int | None = None,
    folder: Path | None = None,
    notebooks: list[Path] | None = None,
) -> dict[str, float]:
    """Execute the notebooks (default: those of ``_toc.yml``) into the cache folder (default: the one of
    ``_config.yml``); return ``{notebook: seconds}`` of those executed."""
    config = book_config(root)
    folder = Path(folder) if folder is not None else cache_path(root)
    folder.parent.mkdir(parents=True, exist_ok=True)
    times_file = folder.parent / TIMES_FILE
    previous = json.loads(times_file.read_text()) if times_file.is_file() else {}
    if not reuse and folder.exists():
        shutil.rmtree(folder)  # a fresh cache: nothing stale can reach the book
    cache = get_cache(str(folder))
    order = longest_first(notebooks if notebooks is not None else toc_notebooks(root), previous)
    for path in order:
        cache.add_nb_to_project(str(path))
    jobs = jobs or int(os.environ.get("ATTNLAB_JOBS", "0") or 0) or usable_cores()
    logger = logging.getLogger("attnlab.execute")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    executor = load_executor("local-serial" if jobs == 1 else "local-parallel", cache, logger=logger)
    # jupyter-cache's parallel executor makes a multiprocessing.Pool() of os.cpu_count() processes; in a
    # container that count is the host's, not the cores this process may use: size the pool here.
    basic.mproc = _PoolOf(jobs)
    timeout = int(config.get("execute", {}).get("timeout", 900))
    start = time.perf_counter()
    # Only these notebooks: the book build adds the pages it executes itself (scorecard, claims) to the
    # same cache project, and those must run after the chapters, in the build.
    result = executor.run_and_cache(filter_uris=[str(path) for path in order], timeout=timeout, allow_errors=False)
    wall = time.perf_counter() - start
    failed = result.excepted + result.errored
    for uri in failed:
        record = cache.get_project_record(uri)
        print(f"\n{Path(uri).name} failed:\n{record.traceback or '(no traceback recorded)'}", file=sys.stderr)
    if failed:
        raise SystemExit(f"{len(failed)} notebook(s) failed: " + ", ".join(Path(u).name for u in failed))
    seconds = {}
    for uri in result.succeeded:
        cached = cache.get_cached_project_nb(uri)
        seconds[Path(uri).name] = round(float(cached.data.get("execution_seconds", 0.0)), 1)
    times_file.write_text(json.dumps({**previous, **seconds}, indent=1) + "\n")
    if seconds:
        width = max(map(len, seconds))
        print(
            f"Executed {len(seconds)} notebook(s) in {wall:.0f} s "
            f"({'one at a time' if jobs == 1 else f'{jobs} processes'}); seconds per notebook:"
        )
        for name, value in sorted(seconds.items(), key=lambda item: -item[1]):
            print(f"  {name:<{width}}  {value:7.1f}")
        print(f"  {'sum':<{width}}  {sum(seconds.values()):7.1f}")
    else:
        print("Every notebook was already in the cache with this code: nothing executed.")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="keep the cache: execute only notebooks whose code changed since it was filled",
    )
    args = parser.parse_args()
    execute(reuse=args.reuse)


if __name__ == "__main__":
    main()
