"""Explanation methods side by side on one model: the violation test per removal operator, each sentence's
violation level, and the companion metrics — the tables of chapters 5 and 6 in one call.

::

    result = compare_methods(model, test, options={"integrated_gradients": {"steps": 20}})
    result.table        # one row per method x operator: the violation ratio
    result.ratios()     # {method: violation ratio, mean over the operators}

``companions=True`` adds, per method, the companion metrics of the paper (comprehensiveness, sufficiency,
AUC-TP), the rank correlation of |weights| with |leave-one-out| and the decision flip rate;
``per_instance=[...]`` keeps each sentence's violation level and companion metrics for those methods
(the paper's box plots), and :func:`level_shifts` summarises them. :func:`rank_agreement` compares the
rankings of named weightings sentence by sentence (chapter 1).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from .data import Batch
from .explain import explain_all
from .faithfulness import (
    ViolationReport,
    comprehensiveness,
    decision_flip_rate,
    per_sentence_metrics,
    rank_correlation,
    sufficiency,
    violation_test,
)
from .models import REMOVAL_OPERATORS

#: Per-sentence metrics and their display names (the paper's box plots, and the rank correlation with LOO).
PER_SENTENCE_METRICS = {
    "comprehensiveness": "comprehensiveness",
    "sufficiency": "sufficiency",
    "auc_tp": "AUC-TP",
    "rank_correlation": "rank correlation",
}


@dataclass
class Comparison:
    """What :func:`compare_methods` measured on one model and one set of sentences."""

    weights: dict[str, torch.Tensor]
    report: ViolationReport
    table: pd.DataFrame  # method, operator, violation
    companions: pd.DataFrame  # per method (empty unless companions=True)
    instances: pd.DataFrame | None  # per method and sentence (None unless per_instance)

    def ratios(self) -> dict[str, float]:
        """Each method's violation ratio, the mean over the removal operators."""
        return {m: self.report.ratio(m) for m in self.weights}


def violation_level(report: ViolationReport, method: str) -> torch.Tensor:
    """Per sentence: the share of the removal operators under which ``method`` violates (0, 1/3, 2/3, 1)."""
    return torch.stack([report.violates[(method, op)] for op in report.operators]).float().mean(0)


def sentence_metrics(model, data: Batch, weights: torch.Tensor, reference: torch.Tensor) -> dict[str, torch.Tensor]:
    """One value per sentence of each companion metric, plus the Spearman rank correlation of |weights| with
    ``reference`` (e.g. |leave-one-out|)."""
    metrics = per_sentence_metrics(model, data.tokens, data.mask, weights, data.labels)
    metrics["rank_correlation"] = rank_correlation(weights.abs(), reference, data.mask, "spearman")
    return metrics


def compare_methods(
    model,
    data: Batch,
    methods: Sequence[str] | None = None,
    *,
    options: dict | None = None,
    companions: bool = False,
    per_instance: Sequence[str] = (),
) -> Comparison:
    """Explain ``data`` with every method (default: :func:`attnlab.explain.methods_for` the model), run the
    violation test under the three removal operators, and collect the tables (see the module docstring).
    The companion metrics need ``leave_one_out`` among the methods (the rank correlation's reference) and
    ``data.labels`` (AUC-TP). The model runs on its own device; the weights and the report's tensors are on
    ``data``'s device."""
    weights = explain_all(model, data, methods, options=options)
    report = violation_test(model, data.tokens, data.mask, weights)
    table = pd.DataFrame(
        [{"method": m, "operator": op, "violation": report.ratio(m, op)} for m in weights for op in REMOVAL_OPERATORS]
    )
    measured = list(weights) if companions else list(per_instance)
    if measured and "leave_one_out" not in weights:
        raise ValueError("the companion metrics compare with leave-one-out: include 'leave_one_out' in methods")
    per_sentence = {m: sentence_metrics(model, data, weights[m], weights["leave_one_out"].abs()) for m in measured}
    instances = None
    if per_instance:
        valid = report.valid.cpu().numpy()
        instances = pd.concat(
            [
                pd.DataFrame(
                    {
                        "method": m,
                        "violation level": violation_level(report, m).cpu().numpy(),
                        **{k: v.cpu().numpy() for k, v in per_sentence[m].items()},
                    }
                )[valid]
                for m in per_instance
            ],
            ignore_index=True,
        )
    extra = [
        {
            "method": m,
            "violation": report.ratio(m),
            "comprehensiveness": float(per_sentence[m]["comprehensiveness"].mean()),
            "sufficiency": float(per_sentence[m]["sufficiency"].mean()),
            "AUC-TP": float(per_sentence[m]["auc_tp"].mean()),  # = the test set's AUC-TP
            "rank correlation with LOO": float(np.nanmean(per_sentence[m]["rank_correlation"].cpu().numpy())),
            "decision flip rate": decision_flip_rate(model, data.tokens, data.mask, weights[m]),
        }
        for m in (measured if companions else [])
    ]
    return Comparison(weights, report, table, pd.DataFrame(extra), instances)


def level_shifts(instances: pd.DataFrame, metrics: Sequence[str] = tuple(PER_SENTENCE_METRICS)) -> pd.DataFrame:
    """Per method, seed and metric: the quartiles of the sentences that never violate, the median of those
    that violate under at least one operator, and the shift between the medians (``instances`` as
    :func:`compare_methods` returns them, with a ``seed`` column). NaN values (a rank correlation of
    constant weights) are skipped."""
    rows = []
    for (method, seed), group in instances.groupby(["method", "seed"]):
        violating = group["violation level"] > 0
        never, some = group[~violating], group[violating]
        for metric in metrics:
            q1, q2, q3 = never[metric].quantile([0.25, 0.5, 0.75])
            rows.append(
                {
                    "method": method,
                    "seed": seed,
                    "metric": metric,
                    "n violating": len(some),
                    "lower quartile, non-violating": q1,
                    "median, non-violating": q2,
                    "upper quartile, non-violating": q3,
                    "median, violating": some[metric].median(),
                }
            )
    table = pd.DataFrame(rows)
    table["shift"] = table["median, violating"] - table["median, non-violating"]
    return table


def rank_agreement(
    weights: Mapping[str, torch.Tensor], mask: torch.Tensor, pairs: Sequence[tuple[str, str]], method: str = "kendall"
):
    """Per-sentence :func:`rank_correlation` for each pair of named weightings: a DataFrame with one row per
    sentence and one column ``"a vs b"`` per pair (NaN where a sentence has no ranking to compare)."""
    missing = sorted({name for pair in pairs for name in pair} - set(weights))
    if missing:
        raise KeyError(f"no weights named {missing}; the weightings given are {list(weights)}")
    return pd.DataFrame(
        {f"{a} vs {b}": rank_correlation(weights[a], weights[b], mask, method).cpu().numpy() for a, b in pairs}
    )


def companion_means(model, data: Batch, weights: Mapping[str, torch.Tensor]) -> pd.DataFrame:
    """Mean comprehensiveness and sufficiency of each method on ``data`` (one row per method). ``weights``
    may cover more sentences than ``data`` — e.g. all explained sentences when the companion metrics, which
    cost many forward passes, are computed on the first few: they are cut to ``data``'s rows and width."""
    rows, width = len(data), data.tokens.shape[1]
    table = {}
    for method, w in weights.items():
        w = w[:rows, :width]
        table[method] = {
            "comprehensiveness": float(comprehensiveness(model, data.tokens, data.mask, w).mean()),
            "sufficiency": float(sufficiency(model, data.tokens, data.mask, w).mean()),
        }
    return pd.DataFrame(table).T
