"""Benchmark (not a test): the book's notebooks executed in parallel (one process per core, as
`bash book/build.sh` does) against one at a time, and a check that both runs write the same results.

    .venv/bin/python tests/benchmarks/book_build.py                      # every notebook of _toc.yml
    .venv/bin/python tests/benchmarks/book_build.py --only 01 02 explorer # a subset, by name prefix

Each run executes the notebooks from scratch into its own temporary cache and results folder (the
repository and the book's cache are not touched). Results files must be equal number for number: the
parallel build may change how fast a chapter runs, never what it finds.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "book"))
from execute import execute, toc_notebooks  # noqa: E402


def run(notebooks: list[Path], jobs: int, where: Path) -> tuple[float, dict[str, float], Path]:
    results = where / "results"
    results.mkdir(parents=True)
    os.environ["ATTNLAB_RESULTS_DIR"] = str(results)  # the kernels inherit it (Chapter's default folder)
    start = time.perf_counter()
    seconds = execute(jobs=jobs, folder=where / "cache", notebooks=notebooks)
    return time.perf_counter() - start, seconds, results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="notebook name prefixes to run (default: all)")
    args = parser.parse_args()
    notebooks = [p for p in toc_notebooks() if not args.only or p.stem.startswith(tuple(args.only))]
    with tempfile.TemporaryDirectory() as tmp:
        parallel_wall, _, parallel = run(notebooks, 0, Path(tmp) / "parallel")
        serial_wall, serial_seconds, serial = run(notebooks, 1, Path(tmp) / "serial")
        files = sorted(p.name for p in serial.glob("*.json"))
        different = [
            name
            for name in files
            if json.loads((serial / name).read_text()) != json.loads((parallel / name).read_text())
        ]
        missing = sorted(set(files) ^ {p.name for p in parallel.glob("*.json")})
    print(f"\n{len(notebooks)} notebooks on {os.cpu_count()} cores")
    print(f"  one at a time : {serial_wall:7.0f} s (sum of notebooks {sum(serial_seconds.values()):.0f} s)")
    print(f"  in parallel   : {parallel_wall:7.0f} s")
    print(f"  speed-up      : {serial_wall / parallel_wall:7.2f}x")
    print(
        f"  results files : {len(files)} compared, "
        + ("all equal" if not different and not missing else f"DIFFERENT: {different + missing}")
    )
    if different or missing:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
