"""The plumbing every chapter shares: parameters, seeds, threads, numbers for the prose, checked claims.

A chapter creates one :class:`Chapter` right after its parameters cell::

    chapter = Chapter("05_faithfulness_violation_test", smoke=SMOKE, seed=SEED, results_dir=RESULTS_DIR)

and then

* ``chapter.record(violation_raw_attention=0.31)`` records a headline number **once**: it is glued under
  that name for the prose (``{glue:text}`violation_raw_attention:.3f```) and written under the same name
  to ``results/<stem>.json`` (keys unique across chapters, so all results files can be merged);
* ``chapter.claim("attgrad_below_raw", "AttGrad violates less than raw attention in every seed", holds,
  attgrad=..., raw=...)`` states a sentence the prose makes, next to the numbers it rests on. It is
  written to ``results/<stem>.claims.json`` and glued as ``claim_<id>`` (a short mark the prose puts
  after the sentence). In full mode a claim that does not hold **stops the chapter** with its text and
  numbers (so the book build fails instead of printing a false sentence); in smoke mode (tiny data, few
  steps) it is reported and the run goes on.

Words that compare, order or count are claims; numbers quoted in prose are records. The claims ledger
page of the book lists every claim of every chapter.
"""

from __future__ import annotations

import json
import math
import os
import re
import time
from pathlib import Path
from typing import Any

import numpy as np

from ._io import atomic_write
from .book import glue
from .results import RUN_SUFFIX, results_dir, run_provenance, save_results, save_run

_ID = re.compile(r"^[a-z][a-z0-9_]*$")
#: The dataset the book's prose and claims describe (a chapter's ``DATASET`` default).
BOOK_DATASET = "movies"


class ClaimFailed(AssertionError):
    """A sentence of the book does not hold for the numbers of this (full-mode) run."""


def _number(name: str, value: Any) -> float | int:
    """``value`` as a plain finite Python number, or a clear error naming ``name``."""
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        value = value.item()  # numpy / torch scalars
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(
            f"{name} must be a number, got {type(value).__name__}: {value!r} "
            "(record words with chapter.text, not chapter.record)"
        )
    if not math.isfinite(float(value)):
        raise ValueError(f"{name} is not finite ({value}): a chapter must not report it; find where it came from")
    return int(value) if isinstance(value, (int, np.integer)) else float(value)


def _id(kind: str, name: str) -> str:
    if not isinstance(name, str) or not _ID.match(name):
        raise ValueError(f"{kind} must be lower_snake_case (letters, digits, '_'), got {name!r}")
    return name


class Chapter:
    """A chapter's run: its parameters, its recorded numbers and its checked claims.

    Creating it seeds Python, NumPy and PyTorch with ``seed``, sets PyTorch's thread count (one by
    default: on a shared or busy CPU, as in Colab or a parallel build, two threads in one process are
    many times slower), sets the plot theme, starts the clock, clears this chapter's old results and
    claims files (a run that stops half-way leaves no stale numbers behind) and writes what produces the
    new ones — kit version, commit, seed, mode, dataset — to ``<stem>.run.json`` beside them.

    ``dataset`` is the chapter's ``DATASET`` parameter: the book's prose describes the offline movie
    sentences (:data:`BOOK_DATASET`), so on another dataset — like in smoke mode — a claim that does not
    hold is printed, not raised, and the scorecard will not show the run's numbers as the book's.

    ``chapter.device`` is where the chapter computes (:func:`attnlab.device.pick_device`: a CUDA GPU, else
    Apple's MPS, else the CPU; ``ATTNLAB_DEVICE`` overrides, and an unknown or absent device stops the
    chapter here, before any work). Chapters move models and batches there with
    :func:`attnlab.device.to_device`.
    """

    def __init__(
        self,
        stem: str,
        *,
        smoke: bool = False,
        seed: int = 0,
        results_dir: str | os.PathLike = "",
        threads: int | None = None,
        plot_theme: bool = True,
        dataset: str = "movies",
    ) -> None:
        from .device import pick_device
        from .train import set_seed

        if not isinstance(stem, str) or not re.match(r"^[0-9A-Za-z_]+$", stem):
            raise ValueError(f"stem must be the notebook's file name without .ipynb, got {stem!r}")
        if not isinstance(smoke, (bool, np.bool_)):
            raise TypeError(f"smoke must be True or False, got {smoke!r}")
        if threads is None:
            threads = int(os.environ.get("ATTNLAB_THREADS", "1"))
        if not isinstance(threads, (int, np.integer)) or threads < 1:
            raise ValueError(f"threads must be a positive integer, got {threads!r}")
        if not isinstance(dataset, str) or not dataset:
            raise TypeError(f"dataset must be the chapter's DATASET name, e.g. {BOOK_DATASET!r}, got {dataset!r}")
        self.stem, self.smoke, self.seed, self.threads = stem, bool(smoke), seed, int(threads)
        self.dataset = dataset
        self.folder = results_dir_of(results_dir)
        self.device = pick_device()  # checks ATTNLAB_DEVICE before any work
        set_seed(seed)  # checks seed too
        import torch

        torch.set_num_threads(self.threads)
        if plot_theme:
            import seaborn as sns

            sns.set_theme(style="whitegrid")
        self.results: dict[str, float | int] = {}
        self.claims: list[dict] = []
        self._start = time.perf_counter()
        for path in (self.results_path, self.claims_path, self.run_path):
            path.unlink(missing_ok=True)
        save_run(self.stem, run_provenance(seed=seed, smoke=self.smoke, dataset=dataset), self.folder)

    @property
    def checks_claims(self) -> bool:
        """True when a claim that does not hold stops the run: full mode on the book's dataset."""
        return not self.smoke and self.dataset == BOOK_DATASET

    # -- where things go ---------------------------------------------------------------------------
    @property
    def results_path(self) -> Path:
        return self.folder / f"{self.stem}.json"

    @property
    def claims_path(self) -> Path:
        return self.folder / f"{self.stem}.claims.json"

    @property
    def run_path(self) -> Path:
        """What produced this run's numbers: version, commit, seed, mode (:func:`attnlab.results.run_provenance`)."""
        return self.folder / f"{self.stem}{RUN_SUFFIX}"

    # -- numbers -----------------------------------------------------------------------------------
    def record(self, **values: Any) -> None:
        """Record headline numbers: glue each under its name and write it to the results file.

        Each name is recorded once per run (a second value under the same name is an error: one name,
        one number). Names must be unique across chapters: prefix them with the chapter's topic.
        """
        if not values:
            raise TypeError("record needs at least one name=value pair")
        clean = {}
        for name, value in values.items():
            _id("a recorded name", name)
            if name in self.results or name in clean:
                raise ValueError(
                    f"{name!r} was already recorded in this run (value {self.results.get(name)}); "
                    "give the new number its own name"
                )
            clean[name] = _number(name, value)
        self.results.update(clean)
        save_results(self.stem, self.results, self.folder)
        for name, value in clean.items():
            glue(name, value)

    def text(self, name: str, value: str) -> None:
        """Glue a piece of text (a word, a list of tokens) for the prose; it is not a result."""
        if not isinstance(value, str):
            raise TypeError(f"text {name!r} must be a string; record numbers with chapter.record")
        glue(_id("a text name", name), value)

    # -- claims ------------------------------------------------------------------------------------
    def claim(self, id: str, text: str, holds: Any, **numbers: Any) -> None:
        """State a sentence of the prose and whether it holds for this run's ``numbers``.

        ``holds`` is the check (a bool computed from the numbers); ``numbers`` are the values it rests
        on, stored with the claim. In full mode on the book's dataset a claim that does not hold raises
        :class:`ClaimFailed`; in smoke mode or on another dataset it is printed and marked in the claims file. Returns nothing,
        so a cell that ends with a claim shows no stray ``True`` in the book (``chapter.claims[-1]["holds"]``
        has the outcome).
        """
        _id("a claim id", id)
        if any(c["id"] == id for c in self.claims):
            raise ValueError(f"claim {id!r} was already stated in this run; claim ids are unique per chapter")
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"claim {id!r} needs the sentence it checks as text")
        if hasattr(holds, "item") and getattr(holds, "ndim", None) == 0:
            holds = holds.item()
        if not isinstance(holds, (bool, np.bool_)):
            raise TypeError(f"claim {id!r}: holds must be True or False (the check), got {holds!r}")
        if not numbers:
            raise TypeError(f"claim {id!r}: give the numbers it rests on, e.g. claim(..., attgrad=0.02, raw=0.31)")
        clean = {name: _number(f"claim {id!r}: number {name!r}", v) for name, v in numbers.items()}
        entry = {"id": id, "text": text.strip(), "holds": bool(holds), "numbers": clean}
        self.claims.append(entry)
        with atomic_write(self.claims_path, "w", encoding="utf-8") as handle:
            json.dump(self.claims, handle, indent=2, ensure_ascii=False)
            handle.write("\n")
        glue(f"claim_{id}", "[checked ✓]" if holds else "[does NOT hold in this run]")
        if not holds:
            shown = ", ".join(f"{k} = {_fmt(v)}" for k, v in clean.items())
            message = f"claim {id!r} does not hold: {text.strip()} ({shown})"
            if self.checks_claims:
                raise ClaimFailed(message + ". Rewrite the sentence to match the numbers, or find what changed.")
            why = "smoke mode" if self.smoke else f"dataset {self.dataset!r}, not the book's"
            print(f"[{why}, not checked] {message}")

    # -- the end -----------------------------------------------------------------------------------
    def seconds(self) -> float:
        """Seconds since the chapter started."""
        return time.perf_counter() - self._start

    def finish(self) -> None:
        """Say where the results went, how many claims hold, and how long the chapter ran."""
        failed = [c["id"] for c in self.claims if not c["holds"]]
        print(f"results: {self.results_path} ({len(self.results)} numbers)")
        print(
            f"claims: {self.claims_path} ({len(self.claims)} claims, "
            f"{len(self.claims) - len(failed)} hold{'; not holding: ' + ', '.join(failed) if failed else ''})"
        )
        print(f"chapter ran in {self.seconds():.0f} s")


def results_dir_of(directory: str | os.PathLike | None) -> Path:
    """The folder a chapter writes to (its ``RESULTS_DIR`` parameter; empty means the default)."""
    return results_dir(directory or None)


def _fmt(value: float | int) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def count_text(k: int, n: int, unit: str = "seeds") -> str:
    """'4 of 5 seeds', 'all 3 seeds', 'none of the 5 seeds' — for claims that count over a run."""
    if n <= 0:
        raise ValueError(f"n must be positive, got {n}")
    if k == n:
        return f"all {n} {unit}" if n > 2 else (f"both {unit}" if n == 2 else f"the one {unit.rstrip('s')}")
    if k == 0:
        return f"none of the {n} {unit}"
    return f"{k} of {n} {unit}"
