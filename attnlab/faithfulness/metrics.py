"""The companion metrics: comprehensiveness, sufficiency, AUC-TP (DeYoung et al. 2020; Liu et al. 2022),
per-sentence values of all three, and the decision flip rate."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .. import validate
from ..data import check_padded
from ..device import model_device, to_device
from .removal import (
    _check_operator_and_chunk,
    _check_target,
    _check_weights,
    _prob_of,
    probs_after_removal,
    top_feature,
    top_fraction_mask,
)

COMPREHENSIVENESS_FRACTIONS = (0.05, 0.10, 0.20, 0.50)
SUFFICIENCY_FRACTIONS = (0.50, 0.20, 0.10, 0.05)
AUC_TP_FRACTIONS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


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


def _mean_drop(model, tokens, mask, weights, fractions, keep_only, operator, target, chunk_size):
    """Comprehensiveness (``keep_only=False``: the top tokens removed) or sufficiency (``True``: only they
    kept): the drop of f(x)_ŷ averaged over ``fractions``, checked, on the model's device, returned on the
    device of ``tokens``."""
    check_padded(tokens, mask)
    _check_weights({"weights": weights}, mask)
    fractions = validate.fractions("fractions", fractions)
    _check_operator_and_chunk(operator, chunk_size)
    _check_target(model, target, tokens)
    given_on = tokens.device
    tokens, mask, weights, target = to_device((tokens, mask, weights, target), model_device(model, tokens))
    drops, _, _ = _drops_over_fractions(
        model, tokens, mask, weights, fractions, keep_only, operator, target, chunk_size
    )
    return drops.mean(0).to(given_on)


def comprehensiveness(
    model,
    tokens,
    mask,
    weights: torch.Tensor,
    *,
    fractions: Sequence[float] = COMPREHENSIVENESS_FRACTIONS,
    operator: str = "slice_out",
    target=None,
    chunk_size: int = 512,
) -> torch.Tensor:
    """Per sentence, the mean drop of f_ŷ when the top 5/10/20/50% tokens are removed (higher = the
    explanation found tokens the model needs). At least one token always stays."""
    return _mean_drop(model, tokens, mask, weights, fractions, False, operator, target, chunk_size)


def sufficiency(
    model,
    tokens,
    mask,
    weights: torch.Tensor,
    *,
    fractions: Sequence[float] = SUFFICIENCY_FRACTIONS,
    operator: str = "slice_out",
    target=None,
    chunk_size: int = 512,
) -> torch.Tensor:
    """Per sentence, the mean drop of f_ŷ when *only* the top 50/20/10/5% tokens are kept (lower = the
    selected tokens suffice on their own)."""
    return _mean_drop(model, tokens, mask, weights, fractions, True, operator, target, chunk_size)


def auc_tp(
    model,
    tokens,
    mask,
    weights: torch.Tensor,
    labels: torch.Tensor,
    *,
    fractions: Sequence[float] = AUC_TP_FRACTIONS,
    operator: str = "slice_out",
    chunk_size: int = 512,
) -> tuple[float, list[float]]:
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


def per_sentence_metrics(
    model,
    tokens,
    mask,
    weights: torch.Tensor,
    labels: torch.Tensor | None = None,
    *,
    operator: str = "slice_out",
    chunk_size: int = 512,
) -> dict[str, torch.Tensor]:
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
    drops, probs, target = _drops_over_fractions(
        model, tokens, mask, weights, deleted, False, operator, None, chunk_size
    )
    out = {"comprehensiveness": drops[[deleted.index(f) for f in COMPREHENSIVENESS_FRACTIONS]].mean(0)}
    suff, _, _ = _drops_over_fractions(
        model, tokens, mask, weights, SUFFICIENCY_FRACTIONS, True, operator, target, chunk_size
    )
    out["sufficiency"] = suff.mean(0)
    if labels is not None:
        xs = [0.0] + deleted
        right = torch.cat(
            [(target == labels)[None], probs.argmax(-1).reshape(len(deleted), -1) == labels[None]]
        ).float()
        area = sum((xs[i + 1] - xs[i]) * (right[i] + right[i + 1]) / 2 for i in range(len(xs) - 1))
        out["auc_tp"] = (area / (xs[-1] - xs[0])).clamp(0.0, 1.0)  # clamp: float rounding only
    return {name: value.to(given_on) for name, value in out.items()}


def decision_flip_rate(
    model, tokens, mask, weights: torch.Tensor, *, operator: str = "slice_out", chunk_size: int = 512
) -> float:
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
