"""Where chapters write their headline numbers and their checked claims, and how to read them back.

Each executed chapter writes one flat JSON object of numbers to ``<results dir>/<notebook stem>.json``.
The default results directory is ``results/`` at the root of the kit's repository, found by walking up
from the working directory (the book build, papermill and the tests all run notebooks from different
places); outside a checkout (e.g. in Colab) it is ``./results``. ``$ATTNLAB_RESULTS_DIR`` overrides the
default (the benchmark uses it so that its book build leaves ``results/`` alone).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np

from ._io import atomic_write


def repo_root(start: str | os.PathLike | None = None) -> Path | None:
    """The kit's repository root (the folder holding ``_toc.yml`` and ``attnlab/``), or None."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "_toc.yml").is_file() and (folder / "attnlab").is_dir():
            return folder
    return None


def results_dir(directory: str | os.PathLike | None = None) -> Path:
    """``directory`` if given, else ``$ATTNLAB_RESULTS_DIR`` if set, else ``results/`` at the
    repository root (or ``./results`` outside a checkout)."""
    if directory:
        return Path(directory)
    if os.environ.get("ATTNLAB_RESULTS_DIR"):
        return Path(os.environ["ATTNLAB_RESULTS_DIR"])
    root = repo_root()
    return (root if root else Path.cwd()) / "results"


def save_results(name: str, metrics: dict, directory: str | os.PathLike | None = None) -> Path:
    """Write ``metrics`` (a flat dict of finite numbers) to ``<directory>/<name>.json`` atomically."""
    if not name or "/" in name or name.endswith(".json"):
        raise ValueError(f"name must be a notebook stem such as '01_attention_as_explanation', got {name!r}")
    clean = {}
    for key, value in metrics.items():
        if not isinstance(key, str):
            raise TypeError(f"result keys must be strings, got {key!r}")
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise TypeError(f"result {key!r} must be a number, got {type(value).__name__}: {value!r}")
        if not math.isfinite(float(value)):
            raise ValueError(f"result {key!r} is not finite ({value}); a chapter must not report it")
        clean[key] = int(value) if isinstance(value, (int, np.integer)) else float(value)
    return _write_json(results_dir(directory) / f"{name}.json", clean)


def _write_json(path: Path, data: dict) -> Path:
    """``data`` as sorted, indented JSON at ``path``, written atomically (never half a file)."""
    with atomic_write(path, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, sort_keys=True)
        handle.write("\n")
    return path


def load_results(directory: str | os.PathLike | None = None) -> dict[str, dict]:
    """Every results file of a directory: ``{notebook stem: {key: number}}``."""
    folder = results_dir(directory)
    return {
        p.stem: json.loads(p.read_text(encoding="utf-8"))
        for p in sorted(folder.glob("*.json"))
        if not p.name.endswith((".claims.json", RUN_SUFFIX))
    }


#: Each chapter's run is described next to its numbers, in ``<stem>.run.json``.
RUN_SUFFIX = ".run.json"


def run_provenance(*, seed: int, smoke: bool, dataset: str = "movies") -> dict:
    """What produced a chapter's numbers: the kit's version, the repository commit (``None`` outside a
    checkout, with ``dirty`` when tracked files differ from it), the seed, the mode (``"full"`` or
    ``"smoke"``), the dataset, the versions of Python, PyTorch and transformers, and the start time (UTC)."""
    import datetime
    import platform
    import subprocess
    from importlib import metadata

    from . import __version__

    def version(package: str) -> str | None:
        try:
            return metadata.version(package)
        except metadata.PackageNotFoundError:
            return None

    commit = dirty = None
    root = repo_root(Path(__file__).parent)
    if root is not None and (root / ".git").exists():
        try:
            commit = (
                subprocess.run(
                    ["git", "-C", str(root), "rev-parse", "HEAD"],
                    capture_output=True,
                    text=True,
                    timeout=10,
                    check=True,
                ).stdout.strip()
                or None
            )
            dirty = bool(
                subprocess.run(
                    ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                    capture_output=True,
                    text=True,
                    timeout=10,
                    check=True,
                ).stdout.strip()
            )
        except (OSError, subprocess.SubprocessError):
            commit = dirty = None
    return {
        "attnlab_version": __version__,
        "commit": commit,
        "dirty": dirty,
        "seed": int(seed),
        "mode": "smoke" if smoke else "full",
        "dataset": dataset,
        "python": platform.python_version(),
        "torch": version("torch"),
        "transformers": version("transformers"),
        "started_utc": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }


def save_run(name: str, provenance: dict, directory: str | os.PathLike | None = None) -> Path:
    """Write a chapter's run description (:func:`run_provenance`) to ``<directory>/<name>.run.json``."""
    return _write_json(results_dir(directory) / f"{name}{RUN_SUFFIX}", provenance)


def load_runs(directory: str | os.PathLike | None = None) -> dict[str, dict]:
    """Every run description of a directory: ``{notebook stem: provenance}``."""
    folder = results_dir(directory)
    return {
        p.name[: -len(RUN_SUFFIX)]: json.loads(p.read_text(encoding="utf-8"))
        for p in sorted(folder.glob(f"*{RUN_SUFFIX}"))
    }


def load_claims(directory: str | os.PathLike | None = None) -> dict[str, list[dict]]:
    """Every claims file of a directory: ``{notebook stem: [{"id", "text", "holds", "numbers"}, ...]}``
    (written by :meth:`attnlab.chapter.Chapter.claim`)."""
    folder = results_dir(directory)
    return {
        p.name[: -len(".claims.json")]: json.loads(p.read_text(encoding="utf-8"))
        for p in sorted(folder.glob("*.claims.json"))
    }


def claims_ledger(directory: str | os.PathLike | None = None):
    """A table (pandas DataFrame) of every claim of every chapter, with the numbers it rests on."""
    import pandas as pd

    rows = [
        {
            "chapter": stem,
            "claim": c["id"],
            "text": c["text"],
            "holds": c["holds"],
            "numbers": ", ".join(
                f"{k} = {v:.4g}" if isinstance(v, float) else f"{k} = {v}" for k, v in c["numbers"].items()
            ),
        }
        for stem, claims in load_claims(directory).items()
        for c in claims
    ]
    return pd.DataFrame(rows, columns=["chapter", "claim", "text", "holds", "numbers"])
