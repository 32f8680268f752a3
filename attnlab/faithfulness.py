"""Faithfulness measurements: do explanation weights agree with what the model actually does?

All functions are batched: they take ``(B, T)`` weight tensors and the ``(B, T)`` mask of real tokens
and compare every sentence at once, without a Python loop over sentences.

Functions that run a model move their inputs to the model's device (:func:`attnlab.device.model_device`)
and return their tensors on the device of ``tokens``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import torch

from . import validate
from .batching import by_length
from .data import check_padded
from .device import model_device, to_device
from .models import REMOVAL_OPERATORS

#: Bins of the companion metrics, as in Liu et al. (2022) and ERASER (DeYoung et al. 2020).
COMPREHENSIVENESS_FRACTIONS = (0.05, 0.10, 0.20, 0.50)
SUFFICIENCY_FRACTIONS = (0.50, 0.20, 0.10, 0.05)
AUC_TP_FRACTIONS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def rank_correlation(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor,
                     method: str = "kendall") -> torch.Tensor:
    """Per-sentence rank correlation ``(B,)`` between two token weightings, over real tokens only.

    ``method="kendall"`` is Kendall's τ-b (the measure of Jain & Wallace 2019; ties count as neither
    concordant nor discordant), ``"spearman"`` is Spearman's ρ. Sentences with fewer than two tokens,
    or where one weighting is constant, give NaN (no ranking to compare).
    """
    for name, value in (("a", a), ("b", b), ("mask", mask)):
        validate.tensor(name, value)
    if a.shape != b.shape or a.shape != mask.shape:
        raise ValueError(f"shapes differ: a {tuple(a.shape)}, b {tuple(b.shape)}, mask {tuple(mask.shape)}")
    if mask.dtype != torch.bool:
        raise ValueError(f"mask must be a bool tensor (True = real token), got {mask.dtype}")
    validate.choice("method", method, ("kendall", "spearman"))
    validate.finite("a", a, mask)
    validate.finite("b", b, mask)
    if a.device.type == "mps":  # MPS has no float64: computed on the CPU, returned on the inputs' device
        return rank_correlation(a.cpu(), b.cpu(), mask.cpu(), method).to(a.device)
    a, b = a.double(), b.double()
    if method == "kendall":
        pair = mask[:, :, None] & mask[:, None, :]
        pair = pair & torch.ones_like(pair[0]).triu(1)  # each unordered pair once
        sa = torch.sign(a[:, :, None] - a[:, None, :]) * pair
        sb = torch.sign(b[:, :, None] - b[:, None, :]) * pair
        num = (sa * sb).sum((1, 2))
        den = torch.sqrt(sa.abs().sum((1, 2)) * sb.abs().sum((1, 2)))
        return torch.where(den > 0, num / den.clamp_min(1e-12), torch.nan)
    if method == "spearman":
        ra, rb = _ranks(a, mask), _ranks(b, mask)
        n = mask.sum(1).double()
        ra = (ra - (ra * mask).sum(1, keepdim=True) / n[:, None]) * mask
        rb = (rb - (rb * mask).sum(1, keepdim=True) / n[:, None]) * mask
        den = torch.sqrt((ra ** 2).sum(1) * (rb ** 2).sum(1))
        return torch.where(den > 0, (ra * rb).sum(1) / den.clamp_min(1e-12), torch.nan)
    raise ValueError(f"unknown method {method!r}; choose 'kendall' or 'spearman'")


def _ranks(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Average ranks (ties share the mean rank) of the real tokens of every row."""
    x = x.masked_fill(~mask, float("inf"))
    less = (x[:, None, :] < x[:, :, None]) & mask[:, None, :]
    equal = (x[:, None, :] == x[:, :, None]) & mask[:, None, :]
    return less.sum(-1).double() + (equal.sum(-1).double() - 1) / 2


# --------------------------------------------------------------------------------------------------
# Running a model on many perturbed copies of a batch
# --------------------------------------------------------------------------------------------------


@torch.no_grad()
def probs_after_removal(model, tokens: torch.Tensor, mask: torch.Tensor, remove: torch.Tensor,
                        operator: str = "slice_out", chunk_size: int = 512) -> torch.Tensor:
    """Class probabilities ``(N, C)`` of N perturbed sentences, computed in batches.

    Row n is sentence ``tokens[n]`` with the tokens marked in ``remove[n]`` taken out by ``operator``.
    Rows are grouped by length into chunks of ``chunk_size`` and each chunk is trimmed to its longest
    sentence, so little time is spent on padding; the result is in the original row order.
    """
    chunk_size = validate.integer("chunk_size", chunk_size, minimum=1)
    validate.choice("removal operator", operator, REMOVAL_OPERATORS)
    given_on, device = tokens.device, model_device(model, tokens)
    tokens, mask, remove = to_device((tokens, mask, remove), device)
    probs = None
    for idx, width in by_length(mask, chunk_size):
        part = model.forward_removed(tokens[idx, :width], mask[idx, :width], remove[idx, :width],
                                     operator).probs
        if probs is None:
            probs = torch.empty(len(tokens), part.shape[1], device=part.device)
        probs[idx] = part
    return probs.to(given_on)


def _prob_of(probs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return probs.gather(1, target[:, None]).squeeze(1)


def _check_weights(weights: Mapping[str, torch.Tensor], mask: torch.Tensor) -> None:
    if not isinstance(weights, Mapping):
        raise TypeError(f"weights must be a dict {{method name: (B, T) weights}}, got {type(weights).__name__}")
    if not weights:
        raise ValueError("no explanations given: pass {method name: (B, T) weights}")
    for name, w in weights.items():
        if not isinstance(w, torch.Tensor):
            raise TypeError(f"weights of {name!r} must be a torch.Tensor, got {type(w).__name__}")
        if w.shape != mask.shape:
            raise ValueError(f"weights of {name!r} have shape {tuple(w.shape)}, expected {tuple(mask.shape)}")
        if not bool(torch.isfinite(w.detach())[mask.to(w.device)].all()):
            raise ValueError(f"weights of {name!r} hold NaN or infinite values on real tokens; a NaN would count "
                             "as 'no violation' (the best score): fix the method before testing it")


def _check_target(model, target, tokens: torch.Tensor) -> None:
    if target is not None:
        n_classes = validate.n_classes_of(model)
        validate.class_labels("target", target, n_classes if n_classes else int(target.max()) + 1, len(tokens))


def _check_operator_and_chunk(operator: str, chunk_size: int) -> None:
    validate.choice("removal operator", operator, REMOVAL_OPERATORS)
    validate.integer("chunk_size", chunk_size, minimum=1)


def top_feature(weights: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Position of the real token with the largest |weight| in each row (the first one on ties)."""
    return weights.abs().masked_fill(~mask, -1.0).argmax(1)


def top_fraction_mask(weights: torch.Tensor, mask: torch.Tensor, fraction: float,
                      leave_one: bool = False) -> torch.Tensor:
    """Bool ``(B, T)``: the ``ceil(fraction · length)`` real tokens with the largest weight (at least one).

    Tokens are ranked by their weight, largest first, so for signed methods the most *supporting*
    tokens come first. With ``leave_one`` at most ``length − 1`` tokens are marked (something must stay).
    """
    validate.number("fraction", fraction, minimum=0.0, maximum=1.0)
    lengths = mask.sum(1)
    # (k in float64 on the CPU: MPS has none, and float32 would round e.g. ceil(0.1 * 30) differently)
    k = torch.clamp(torch.ceil(fraction * lengths.cpu().double()).long(), min=1).to(lengths.device)
    if leave_one:
        k = torch.minimum(k, lengths - 1)
    order = weights.masked_fill(~mask, float("-inf")).argsort(dim=1, descending=True, stable=True)
    rank = torch.empty_like(order).scatter_(1, order, torch.arange(mask.shape[1], device=mask.device).expand_as(order))
    return (rank < k[:, None]) & mask


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


def violation_test(model, tokens: torch.Tensor, mask: torch.Tensor,
                   weights: Mapping[str, torch.Tensor], *,
                   operators: Sequence[str] = REMOVAL_OPERATORS,
                   target: torch.Tensor | None = None, chunk_size: int = 512) -> ViolationReport:
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
        raise ValueError(f"operators must be a non-empty list of removal operators {REMOVAL_OPERATORS}, got {operators!r}")
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
        p_pairs = _prob_of(probs_after_removal(model, pair_tokens, pair_mask, remove, op, chunk_size),
                           target[pairs[:, 0]])
        p_removed = p_pairs[pair_of_row]
        for m, name in enumerate(methods):
            delta = p_full - p_removed[m * B:(m + 1) * B]
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


# --------------------------------------------------------------------------------------------------
# Companion metrics: comprehensiveness, sufficiency, AUC-TP, decision flips
# --------------------------------------------------------------------------------------------------


def _drops_over_fractions(model, tokens, mask, weights, fractions, keep_only, operator, target, chunk_size):
    """f(x)_ŷ − f(x')_ŷ, shape (len(fractions), B), where x' removes (or keeps only) the top tokens."""
    with torch.no_grad():
        full = model(tokens, mask).probs
    target = full.argmax(-1) if target is None else target
    removes = []
    for f in fractions:
        top = top_fraction_mask(weights, mask, f, leave_one=not keep_only)
        removes.append(mask & ~top if keep_only else top)
    remove = torch.cat(removes)
    F = len(fractions)
    probs = probs_after_removal(model, tokens.repeat(F, 1), mask.repeat(F, 1), remove, operator, chunk_size)
    return _prob_of(full, target)[None] - _prob_of(probs, target.repeat(F)).reshape(F, -1), probs, target


def comprehensiveness(model, tokens, mask, weights: torch.Tensor, *,
                      fractions: Sequence[float] = COMPREHENSIVENESS_FRACTIONS,
                      operator: str = "slice_out", target=None, chunk_size: int = 512) -> torch.Tensor:
    """Per sentence, the mean drop of f_ŷ when the top 5/10/20/50% tokens are removed (higher = the
    explanation found tokens the model needs). At least one token always stays."""
    check_padded(tokens, mask)
    _check_weights({"weights": weights}, mask)
    fractions = validate.fractions("fractions", fractions)
    _check_operator_and_chunk(operator, chunk_size)
    _check_target(model, target, tokens)
    given_on = tokens.device
    tokens, mask, weights, target = to_device((tokens, mask, weights, target), model_device(model, tokens))
    drops, _, _ = _drops_over_fractions(model, tokens, mask, weights, fractions, False, operator, target, chunk_size)
    return drops.mean(0).to(given_on)


def sufficiency(model, tokens, mask, weights: torch.Tensor, *,
                fractions: Sequence[float] = SUFFICIENCY_FRACTIONS,
                operator: str = "slice_out", target=None, chunk_size: int = 512) -> torch.Tensor:
    """Per sentence, the mean drop of f_ŷ when *only* the top 50/20/10/5% tokens are kept (lower = the
    selected tokens suffice on their own)."""
    check_padded(tokens, mask)
    _check_weights({"weights": weights}, mask)
    fractions = validate.fractions("fractions", fractions)
    _check_operator_and_chunk(operator, chunk_size)
    _check_target(model, target, tokens)
    given_on = tokens.device
    tokens, mask, weights, target = to_device((tokens, mask, weights, target), model_device(model, tokens))
    drops, _, _ = _drops_over_fractions(model, tokens, mask, weights, fractions, True, operator, target, chunk_size)
    return drops.mean(0).to(given_on)


def auc_tp(model, tokens, mask, weights: torch.Tensor, labels: torch.Tensor, *,
           fractions: Sequence[float] = AUC_TP_FRACTIONS, operator: str = "slice_out",
           chunk_size: int = 512) -> tuple[float, list[float]]:
    """Area under the accuracy curve as the top k% tokens are removed (k in 0, 5, 10, 20, …, 90),
    normalised by the range of k; also returns the curve. Lower = the removed tokens mattered more."""
    check_padded(tokens, mask)
    _check_weights({"weights": weights}, mask)
    fractions = validate.fractions("fractions", fractions, allow_zero=True)
    if len(fractions) < 2 or list(fractions) != sorted(set(fractions)):
        raise ValueError(f"AUC-TP needs at least two increasing fractions, got {fractions}")
    _check_operator_and_chunk(operator, chunk_size)
    n_classes = validate.n_classes_of(model)
    validate.class_labels("labels", labels, n_classes if n_classes else int(labels.max()) + 1, len(tokens))
    tokens, mask, weights, labels = to_device((tokens, mask, weights, labels), model_device(model, tokens))
    _, probs, _ = _drops_over_fractions(model, tokens, mask, weights, fractions, False, operator, None, chunk_size)
    F = len(fractions)
    zero = torch.tensor([f == 0 for f in fractions], device=probs.device)
    preds = probs.argmax(-1).reshape(F, -1)
    with torch.no_grad():
        preds[zero] = model(tokens, mask).logits.argmax(-1)  # k = 0 removes nothing
    curve = (preds == labels[None]).float().mean(1).tolist()
    xs = list(fractions)
    area = sum((xs[i + 1] - xs[i]) * (curve[i] + curve[i + 1]) / 2 for i in range(F - 1))
    return area / (xs[-1] - xs[0]), curve


def per_sentence_metrics(model, tokens, mask, weights: torch.Tensor, labels: torch.Tensor | None = None, *,
                         operator: str = "slice_out", chunk_size: int = 512) -> dict[str, torch.Tensor]:
    """The companion metrics of one explanation, one value per sentence: ``{"comprehensiveness",
    "sufficiency"}`` and, given ``labels``, ``"auc_tp"`` — each a ``(B,)`` tensor.

    Comprehensiveness and sufficiency are those of :func:`comprehensiveness` and :func:`sufficiency`.
    The per-sentence AUC-TP is the area under the sentence's own curve of "is the prediction still
    right?" (1 or 0) as the top k % of its tokens are deleted (k in 0, 5, 10, 20, …, 90), divided by
    the range of k like :func:`auc_tp`, so its mean over sentences *is* the test set's AUC-TP. The
    deletions of comprehensiveness are a subset of AUC-TP's (both delete the top k %, leaving at least
    one token), so both come from one set of forward passes, as in Liu et al.'s code.
    """
    check_padded(tokens, mask)
    _check_weights({"weights": weights}, mask)
    _check_operator_and_chunk(operator, chunk_size)
    if labels is not None:
        n_classes = validate.n_classes_of(model)
        validate.class_labels("labels", labels, n_classes if n_classes else int(labels.max()) + 1, len(tokens))
    given_on = tokens.device
    tokens, mask, weights, labels = to_device((tokens, mask, weights, labels), model_device(model, tokens))
    deleted = [f for f in AUC_TP_FRACTIONS if f > 0] if labels is not None else list(COMPREHENSIVENESS_FRACTIONS)
    drops, probs, target = _drops_over_fractions(model, tokens, mask, weights, deleted, False, operator, None,
                                                 chunk_size)
    out = {"comprehensiveness": drops[[deleted.index(f) for f in COMPREHENSIVENESS_FRACTIONS]].mean(0)}
    suff, _, _ = _drops_over_fractions(model, tokens, mask, weights, SUFFICIENCY_FRACTIONS, True, operator, target,
                                       chunk_size)
    out["sufficiency"] = suff.mean(0)
    if labels is not None:
        xs = [0.0] + deleted
        right = torch.cat([(target == labels)[None], probs.argmax(-1).reshape(len(deleted), -1) == labels[None]]).float()
        area = sum((xs[i + 1] - xs[i]) * (right[i] + right[i + 1]) / 2 for i in range(len(xs) - 1))
        out["auc_tp"] = (area / (xs[-1] - xs[0])).clamp(0.0, 1.0)  # clamp: float rounding only
    return {name: value.to(given_on) for name, value in out.items()}


def decision_flip_rate(model, tokens, mask, weights: torch.Tensor, *, operator: str = "slice_out",
                       chunk_size: int = 512) -> float:
    """Share of sentences (with at least two tokens) whose predicted class changes when the token with
    the largest |weight| is removed."""
    check_padded(tokens, mask)
    _check_weights({"weights": weights}, mask)
    _check_operator_and_chunk(operator, chunk_size)
    valid = mask.sum(1) > 1
    if not bool(valid.any()):
        raise ValueError("no sentence has two or more tokens: removing the top token would leave nothing")
    tokens, mask, weights, valid = to_device((tokens, mask, weights, valid), model_device(model, tokens))
    remove = torch.zeros_like(mask)
    remove[torch.arange(len(mask), device=mask.device), top_feature(weights, mask)] = True
    remove &= valid[:, None]
    with torch.no_grad():
        before = model(tokens, mask).logits.argmax(-1)
    after = probs_after_removal(model, tokens, mask, remove, operator, chunk_size).argmax(-1)
    return float((before != after)[valid].float().mean())
