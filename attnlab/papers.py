"""The papers' numbers the kit compares with, each with where it comes from, and the scorecard.

Provenance is part of a number. ``SOURCE_*`` names say where each one was read:

* ``paper table`` / ``paper figure``: Liu et al. (ICML 2022) itself. The gradient-ablation table is the
  paper's ``factor`` table; the depth curves are read off its ``vio_factor`` figure (± 0.01).
* ``authors' notebook``: the public notebooks of Liu et al.'s repository (BierOne/Attention-Faithfulness)
  — not the paper.

Bai et al. (KDD 2021) publish no code, and the kit's source for that paper is its abstract and
introduction only: chapters 2–4 are the kit's reconstruction, and no scorecard row gives a number of theirs.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from .results import load_results, load_runs

SOURCE_TABLE = "Liu et al. (2022), paper table (gradient ablation)"
SOURCE_FIGURE = "Liu et al. (2022), paper figure (violation vs depth, read off the plot ± 0.01)"
SOURCE_NOTEBOOK = "Liu et al., authors' public notebook (read from the notebook, not from the paper)"

#: Liu et al.'s gradient-ablation table: violation ratio (mean of the three removal operators).
LIU2022_ABLATION = {
    "Yelp": {
        "raw_attention": 0.31,
        "attention_x_gradient": 0.02,
        "attention_x_abs_gradient": 0.15,
        "attention_x_sign_gradient": 0.16,
    },
    "AgNews": {
        "raw_attention": 0.28,
        "attention_x_gradient": 0.03,
        "attention_x_abs_gradient": 0.07,
        "attention_x_sign_gradient": 0.18,
    },
    "VQA 2.0": {
        "raw_attention": 0.40,
        "attention_x_gradient": 0.06,
        "attention_x_abs_gradient": 0.25,
        "attention_x_sign_gradient": 0.27,
    },
}

#: Liu et al.'s depth figure (``vio_factor.png`` in the authors' repository; panel (a) Yelp, (b) SST):
#: violation ratio against the number of deep layers on top of a single-attention text model (1-8; the
#: decoder's ``--layers`` in the authors' code), not the number of Transformer layers. Every value was
#: read off the plot by the kit's authors (± 0.01), depth by depth. ``random`` there is the authors'
#: non-negative random baseline (uniform in [0, 1)), the kit's ``random`` too. The kit's analogue is
#: chapter 6's ``deep_<L>_violation_<method>`` (:class:`attnlab.models.DeepDecoderClassifier`).
LIU2022_DEPTH = {
    "SST": {
        "random": [0.36, 0.39, 0.41, 0.42, 0.43, 0.43, 0.42, 0.42],
        "raw_attention": [0.33, 0.37, 0.41, 0.43, 0.44, 0.44, 0.46, 0.47],
        "attention_x_value_norm": [0.15, 0.17, 0.18, 0.19, 0.21, 0.26, 0.33, 0.38],
        "input_x_gradient": [0.07, 0.08, 0.09, 0.10, 0.12, 0.16, 0.24, 0.32],
        "integrated_gradients": [0.05, 0.06, 0.07, 0.07, 0.09, 0.14, 0.22, 0.30],
        "attention_x_gradient": [0.01, 0.01, 0.02, 0.03, 0.04, 0.09, 0.17, 0.24],
    },
    "Yelp": {
        "random": [0.42, 0.46, 0.46, 0.46, 0.47, 0.47, 0.47, 0.49],
        "raw_attention": [0.33, 0.38, 0.38, 0.36, 0.37, 0.38, 0.40, 0.42],
        "attention_x_value_norm": [0.22, 0.30, 0.29, 0.27, 0.29, 0.30, 0.32, 0.37],
        "input_x_gradient": [0.07, 0.11, 0.11, 0.12, 0.16, 0.16, 0.16, 0.18],
        "integrated_gradients": [0.05, 0.08, 0.08, 0.08, 0.10, 0.11, 0.12, 0.15],
        "attention_x_gradient": [0.02, 0.07, 0.06, 0.06, 0.08, 0.08, 0.10, 0.13],
    },
}


def liu2022_depth(dataset: str, method: str, depth: int) -> float:
    """The depth figure's reading for ``method`` at ``depth`` (1-8) added layers on ``dataset``."""
    if dataset not in LIU2022_DEPTH:
        raise KeyError(f"no depth curve for {dataset!r}; the figure has {sorted(LIU2022_DEPTH)}")
    curves = LIU2022_DEPTH[dataset]
    if method not in curves:
        raise KeyError(f"no depth curve for {method!r}; the figure has {sorted(curves)}")
    if not isinstance(depth, int) or not 1 <= depth <= 8:
        raise ValueError(f"the figure has depths 1 to 8, got {depth!r}")
    return curves[method][depth - 1]


#: From the authors' notebooks (not the paper): Yelp, LSTM + tanh attention, mean of three operators.
LIU2022_NOTEBOOK_YELP = {
    "attention_x_gradient": 0.017,
    "integrated_gradients": 0.015,
    "raw_attention": 0.263,
    "random": 0.470,
    "accuracy": 0.646,
}
#: From the authors' notebooks (not the paper): VisualBERT on GQA, 10,000 questions.
LIU2022_NOTEBOOK_GQA = {
    "genatt": 0.196,
    "transformer_attribution": 0.261,
    "integrated_gradients": 0.263,
    "attention_x_gradient": 0.293,
    "input_x_gradient": 0.409,
    "rollout": 0.461,
    "random": 0.50,
    "partial_lrp": 0.512,
    "raw_attention": 0.513,
    "attention_x_value_norm": 0.514,
}


@dataclass(frozen=True)
class Row:
    """One scorecard row: a kit number (results file + key) and, if one is comparable, a paper's."""

    chapter: str
    key: str
    measure: str
    note: str
    paper: float | None = None
    source: str = ""  # where the paper's number was read (SOURCE_*); empty when there is none
    setting: str = ""  # the paper's dataset and model for that number

    def __post_init__(self):
        if (self.paper is None) != (not self.source) or (self.paper is None) != (not self.setting):
            raise ValueError(f"row {self.key!r}: a paper value needs its source and setting, and only then")


_DEPTH_SETTING = "{dataset}, single-attention text model + {n} deep layer(s) on top (the paper's depth figure)"
_DEPTH_LABELS = {
    "raw_attention": "raw attention",
    "attention_x_gradient": "AttGrad",
    "attention_x_value_norm": "AttIN (α·‖W₁h‖)",
    "input_x_gradient": "input x gradient",
    "integrated_gradients": "integrated gradients",
    "random": "random weights (non-negative, Liu et al.'s)",
}
_DEPTH_NOTE = (
    "The kit: chapter 5's BiLSTM + additive attention with {n} linear layer(s) on top of the attention, "
    "movie sentences, one model."
)


def _depth_rows() -> list[Row]:
    """Chapter 6's depth factor beside the paper's depth figure at the same depth: both ends (1 and 8
    layers), both panels, the figure's six methods."""
    return [
        Row(
            "06_transformers",
            f"deep_{n}_violation_{method}",
            f"Violation ratio, {label}, {n} layer(s) on top of one attention",
            _DEPTH_NOTE.format(n=n),
            liu2022_depth(dataset, method, n),
            SOURCE_FIGURE,
            _DEPTH_SETTING.format(dataset=dataset, n=n),
        )
        for method, label in _DEPTH_LABELS.items()
        for n in (1, 8)
        for dataset in ("SST", "Yelp")
    ]


_REF = re.compile(r"\{([a-z_]+(?:/[^{}:/]+)+)(?::([^{}]+))?\}")


def paper_number(reference: str) -> float:
    """A paper number by reference: ``ablation/<dataset>/<method>`` (the paper's table),
    ``depth/<dataset>/<method>/<layers>`` (its depth figure), ``notebook_yelp/<key>`` or
    ``notebook_gqa/<key>`` (the authors' notebooks)."""
    table, *path = reference.split("/")
    if table == "depth":
        dataset, method, depth = path
        return liu2022_depth(dataset, method, int(depth))
    tables = {
        "ablation": LIU2022_ABLATION,
        "notebook_yelp": LIU2022_NOTEBOOK_YELP,
        "notebook_gqa": LIU2022_NOTEBOOK_GQA,
    }
    if table not in tables:
        raise KeyError(
            f"unknown paper-number table {table!r} in {reference!r}; choose from {sorted(tables) + ['depth']}"
        )
    value = tables[table]
    for part in path:
        value = value[part]
    return float(value)


def _load_rows() -> list[Row]:
    """The scorecard's rows from ``scorecard_rows.json`` (data, beside this module), paper numbers resolved."""
    data = json.loads((Path(__file__).with_name("scorecard_rows.json")).read_text(encoding="utf-8"))
    sources = {"table": SOURCE_TABLE, "figure": SOURCE_FIGURE, "notebook": SOURCE_NOTEBOOK}
    rows = []
    for entry in data["rows"]:
        if entry.get("generated") == "depth_figure":
            rows += _depth_rows()
            continue
        note = _REF.sub(lambda m: format(paper_number(m[1]), m[2] or ""), entry["note"])
        paper = entry.get("paper")
        rows.append(
            Row(
                entry["chapter"],
                entry["key"],
                entry["measure"],
                note,
                None if paper is None else paper_number(paper),
                sources[entry["source"]] if paper is not None else "",
                entry.get("setting", ""),
            )
        )
    return rows


#: Every row of the scorecard, in the order it is shown (the data: ``attnlab/scorecard_rows.json``).
SCORECARD_ROWS: list[Row] = _load_rows()


def scorecard(directory: str | os.PathLike | None = None, *, allow_smoke: bool = False):
    """A table (pandas DataFrame) of every scorecard row: the kit's value beside a paper's, with the
    paper value's source and setting as separate columns.

    The scorecard shows the book's numbers, so it refuses results that a smoke-mode run wrote, or whose
    run description (``<stem>.run.json``) is missing; ``allow_smoke=True`` (tests, quick looks) shows them
    anyway."""
    import pandas as pd

    results = load_results(directory)
    if not allow_smoke:
        runs = load_runs(directory)
        used = sorted({row.chapter for row in SCORECARD_ROWS if row.chapter in results})
        unknown = [stem for stem in used if stem not in runs]
        smoke = [stem for stem in used if runs.get(stem, {}).get("mode") == "smoke"]
        other = [stem for stem in used if runs.get(stem, {}).get("dataset", "movies") != "movies"]
        if unknown or smoke or other:
            raise ValueError(
                "the scorecard shows the book's full-mode numbers, but "
                + "; ".join(
                    filter(
                        None,
                        [
                            f"these chapters ran in smoke mode: {smoke}" if smoke else "",
                            f"these ran on another dataset than the book's: {other}" if other else "",
                            f"these have no run description (.run.json): {unknown}" if unknown else "",
                        ],
                    )
                )
                + ". Run them in full mode (bash book/build.sh), or pass allow_smoke=True to look anyway."
            )
    return pd.DataFrame(
        [
            {
                "chapter": row.chapter,
                "key": row.key,
                "measure": row.measure,
                "kit": results.get(row.chapter, {}).get(row.key),
                "paper": row.paper,
                "source": row.source or "-",
                "paper's setting": row.setting or "-",
                "note": row.note,
            }
            for row in SCORECARD_ROWS
        ]
    )
