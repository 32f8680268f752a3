"""Benchmark (not a test): wall time of every chapter in full and smoke mode, and of the book build.

Run from the repository root with the kit's environment:

    .venv/bin/python tests/benchmarks/notebook_times.py            # everything
    .venv/bin/python tests/benchmarks/notebook_times.py --no-book  # only the notebooks

Outputs and results files go to a temporary folder; the repository is not touched.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import papermill
import yaml

ROOT = Path(__file__).resolve().parents[2]


def toc_notebooks() -> list[Path]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [c["file"] for part in toc.get("parts", []) for c in part["chapters"]]
    return [ROOT / f"{f}.ipynb" for f in files if (ROOT / f"{f}.ipynb").is_file()]


def time_notebook(path: Path, smoke: bool, out: Path) -> float:
    start = time.perf_counter()
    papermill.execute_notebook(
        str(path),
        str(out / f"{path.stem}-{'smoke' if smoke else 'full'}.ipynb"),
        cwd=str(path.parent),
        kernel_name="python3",
        progress_bar=False,
        parameters={"SMOKE": smoke, "RESULTS_DIR": str(out)},
    )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-book", action="store_true", help="skip timing the book build")
    args = parser.parse_args()
    os.environ.setdefault("TQDM_DISABLE", "1")
    os.environ.setdefault("JUPYTER_PREFER_ENV_PATH", "1")
    print(f"{'notebook':45s} {'full (s)':>9s} {'smoke (s)':>9s}")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        for nb in toc_notebooks():
            full, smoke = time_notebook(nb, False, out), time_notebook(nb, True, out)
            print(f"{nb.stem:45s} {full:9.1f} {smoke:9.1f}", flush=True)
        if not args.no_book:
            start = time.perf_counter()
            jb = Path(sys.executable).parent / "jupyter-book"
            env = {**os.environ, "ATTNLAB_RESULTS_DIR": str(out / "book-results")}
            subprocess.run(
                [str(jb), "build", str(ROOT), "--all", "-W", "--path-output", str(out / "book")],
                check=True,
                stdout=subprocess.DEVNULL,
                env=env,
            )
            print(f"{'whole book build (jupyter-book build --all -W)':45s} {time.perf_counter() - start:9.1f}")
    print(f"machine: {os.cpu_count()} CPU cores, torch threads as configured by each notebook")


if __name__ == "__main__":
    main()
