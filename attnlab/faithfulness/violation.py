"""The faithfulness violation test of Liu et al. (2022): does the sign of the top token's weight agree with
what removing it does to the prediction?
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import torch

from .. import validate
from ..data import check_padded
from ..device import model_device, to_device
from ..models import REMOVAL_OPERATORS
from .removal import _check_target, _check_weights, _prob_of, probs_after_removal, top_feature

# --------------------------------------------------------------------------------------------------
# The faithfulness violation test (Liu et al. 2022)
# --------------------------------------------------------------------------------------------------


@dataclass
class ViolationReport:
    """Per-instance outcome of the violation test for several methods and removal operators.

    ``delta[(method, operator)]`` is ΔC = f(x)_ŷ − f(x without x*)_ŷ for every sentence,
    ``violates[(method, operator)]`` is ``w(x*) · ΔC < 0``; ``valid`` marks the sentences the test can be
    run on (at least two tokens: removing the only token leaves nothing to classify).
    """

    methods: list[str]
    operators: list[str]
    valid: torch.Tensor
    top_weight: dict[str, torch.Tensor] = field(default_factory=dict)
    delta: dict[tuple[str, str], torch.Tensor] = field(default_factory=dict)
    violates: dict[tuple[str, str], torch.Tensor] = field(default_factory=dict)

    def ratio(self, method: str, operator: str | None = None) -> float:
        """Violation ratio of one method: for one operator, or averaged over the operators."""
        if method not in self.methods:
            raise KeyError(f"no method {method!r} in this report; it has {self.methods}")
        if operator is not None and operator not in self.operators:
            raise KeyError(f"no operator {operator!r} in this report; it has {self.operators}")
        if not bool(self.valid.any()):
            raise ValueError("no sentence in this report has two or more tokens: the test has nothing to count")
        ops = [operator] if operator else self.operators
        return float(sum(self.violates[(method, op)][self.valid].float().mean() for op in ops) / len(ops))

    def table(self):
        """Violation ratio of every method (rows) under every operator, and their mean (columns)."""
        import pandas as pd

        frame = pd.DataFrame({op: {m: self.ratio(m, op) for m in self.methods} for op in self.operators})
        frame["mean"] = frame.mean(axis=1)
        frame.index.name = "method"
        return frame


def violation_test(
    model,
    tokens: torch.Tensor,
    mask: torch.Tensor,
    weights: Mapping[str, torch.Tensor],
    *,
    operators: Sequence[str] = REMOVAL_OPERATORS,
    target: torch.Tensor | None = None,
    chunk_size: int = 512,
) -> ViolationReport:
    """Run the faithfulness violation test for every explanation in ``weights`` at once.

    For each sentence and method: ŷ is the predicted class (or ``target``), x* the token with the
    largest |w|, ΔC = f(x)_ŷ − f(x without x*)_ŷ with "without" done by each removal operator, and the
    sentence violates when w(x*) · ΔC < 0 (strictly: a zero on either side is no violation).
    All methods' perturbed sentences for one operator are run together in batches, and a sentence
    whose x* several methods share is perturbed and run only once.
    """
    check_padded(tokens, mask)
    _check_weights(weights, mask)
    if isinstance(operators, str) or not len(operators):
        raise ValueError(
            f"operators must be a non-empty list of removal operators {REMOVAL_OPERATORS}, got {operators!r}"
        )
    for op in operators:
        if op not in REMOVAL_OPERATORS:
            raise ValueError(f"unknown removal operator {op!r}; choose from {REMOVAL_OPERATORS}")
    if len(set(operators)) != len(operators):
        raise ValueError(f"operators lists one operator twice: {list(operators)}")
    validate.integer("chunk_size", chunk_size, minimum=1)
    _check_target(model, target, tokens)
    model.eval()
    given_on, device = tokens.device, model_device(model, tokens)
    tokens, mask, target = to_device((tokens, mask, target), device)
    weights = {name: w.to(device) for name, w in weights.items()}
    with torch.no_grad():
        full = model(tokens, mask).probs
    target = full.argmax(-1) if target is None else target
    methods = list(weights)
    B, T = tokens.shape
    valid = mask.sum(1) > 1
    top_w, top_pos = {}, []
    for name in methods:
        pos = top_feature(weights[name], mask)
        top_w[name] = weights[name].gather(1, pos[:, None]).squeeze(1)
        top_pos.append(torch.where(valid, pos, -1))  # single-token sentences: nothing is removed
    # Methods often agree on x*: each distinct (sentence, x*) pair is run once and shared.
    sentence = torch.arange(B, device=device).repeat(len(methods))
    pairs, pair_of_row = torch.unique(torch.stack([sentence, torch.cat(top_pos)], 1), dim=0, return_inverse=True)
    remove = torch.zeros(len(pairs), T, dtype=torch.bool, device=device)
    removes_one = pairs[:, 1] >= 0
    remove[torch.nonzero(removes_one).squeeze(1), pairs[removes_one, 1]] = True
    report = ViolationReport(methods, list(operators), valid, top_w)
    pair_tokens, pair_mask = tokens[pairs[:, 0]], mask[pairs[:, 0]]
    p_full = _prob_of(full, target)
    for op in operators:
        p_pairs = _prob_of(
            probs_after_removal(model, pair_tokens, pair_mask, remove, op, chunk_size), target[pairs[:, 0]]
        )
        p_removed = p_pairs[pair_of_row]
        for m, name in enumerate(methods):
            delta = p_full - p_removed[m * B : (m + 1) * B]
            report.delta[(name, op)] = delta
            report.violates[(name, op)] = (top_w[name] * delta < 0) & valid
    return _report_on(report, given_on)


def _report_on(report: ViolationReport, device: torch.device) -> ViolationReport:
    """The report with every tensor on ``device`` (the device the tokens came on)."""
    report.valid = report.valid.to(device)
    report.top_weight = {k: v.to(device) for k, v in report.top_weight.items()}
    report.delta = {k: v.to(device) for k, v in report.delta.items()}
    report.violates = {k: v.to(device) for k, v in report.violates.items()}
    return report
