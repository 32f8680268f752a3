"""Counterfactual attention: does the model need *this* attention?

If the attention weights are the reason for a prediction, other weights should lead to other predictions
(Jain & Wallace, 2019; Wiegreffe & Pinter, 2019). :func:`counterfactual_attention` runs a trained
pooled-attention model once per replacement (an override for ``model(tokens, mask, attention=...)``, e.g.
``attnlab.interventions.uniform_attention`` or ``permuted_attention(seed)``) and measures both things chapter
1 reports from that one run: the test accuracy, and per sentence how far the probability of the class the
learned attention predicts moves. Several overrides under one name (e.g. five permutations) are repeated
runs of one intervention: their accuracies are averaged and their changes summarised by the median.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from .data import Batch
from .train import predict_proba


@dataclass
class Counterfactuals:
    """The outcome of :func:`counterfactual_attention`, by intervention name.

    ``accuracies``: the test accuracy of each run; ``changes``: ``(runs, N)`` the absolute change
    ``|p'(ŷ) − p(ŷ)|`` per run and sentence, ``ŷ`` the class the learned attention predicts.
    """

    accuracies: dict[str, list[float]]
    changes: dict[str, torch.Tensor]

    @property
    def accuracy(self) -> dict[str, float]:
        """Mean test accuracy over the runs of each intervention."""
        return {name: float(np.mean(runs)) for name, runs in self.accuracies.items()}

    @property
    def accuracy_std(self) -> dict[str, float]:
        """Standard deviation of the test accuracy over the runs (0 for a single run)."""
        return {name: float(np.std(runs)) for name, runs in self.accuracies.items()}

    def median_change(self, name: str) -> torch.Tensor:
        """``(N,)`` the median over the runs of ``name`` of each sentence's change."""
        if name not in self.changes:
            raise KeyError(f"no intervention {name!r}; the runs are {list(self.changes)}")
        return self.changes[name].median(0).values

    def table(self, learned_accuracy: float) -> pd.DataFrame:
        """Test accuracy with the learned attention and under each intervention (mean of its runs, and the
        standard deviation over runs where there are several)."""
        rows = {"learned": (learned_accuracy, np.nan)}
        for name, runs in self.accuracies.items():
            label = f"{name} (mean of runs)" if len(runs) > 1 else name
            rows[label] = (self.accuracy[name], self.accuracy_std[name] if len(runs) > 1 else np.nan)
        return pd.DataFrame(rows, index=["test accuracy", "std over runs"]).T.rename_axis("attention")


def counterfactual_attention(
    model,
    data: Batch,
    interventions: Mapping[str, Callable | Sequence[Callable]],
    *,
    learned_probs: torch.Tensor | None = None,
    batch_size: int = 256,
) -> Counterfactuals:
    """Replace ``model``'s attention by each intervention and measure accuracy and per-sentence change.

    ``interventions``: name -> an override for ``attention=`` or a list of them (repeated runs, e.g.
    permutations with different seeds). ``learned_probs``: the model's own ``predict_proba`` on ``data``
    if already computed (otherwise computed here). One forward pass over ``data`` per override.
    """
    if data.labels is None:
        raise ValueError("counterfactual_attention needs a labelled batch (Batch.labels is None)")
    if not interventions:
        raise ValueError("give at least one intervention, e.g. {'uniform': uniform_attention}")
    if learned_probs is None:
        learned_probs = predict_proba(model, data, batch_size)
    predicted = learned_probs.argmax(-1, keepdim=True)
    p_hat = learned_probs.gather(1, predicted).squeeze(1)
    accuracies, changes = {}, {}
    for name, runs in interventions.items():
        runs = [runs] if callable(runs) else list(runs)
        if not runs:
            raise ValueError(f"intervention {name!r} has no runs")
        probs = [predict_proba(model, data, batch_size, attention=override) for override in runs]
        accuracies[name] = [float((p.argmax(-1) == data.labels).float().mean()) for p in probs]
        changes[name] = torch.stack([(p.gather(1, predicted).squeeze(1) - p_hat).abs() for p in probs])
    return Counterfactuals(accuracies, changes)
