"""Removing tokens: the top token, the top fraction, and a model run on many perturbed copies of a batch.

Functions that run a model move their inputs to the model's device and return on the device of ``tokens``.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from .. import validate
from ..batching import by_length
from ..device import model_device, to_device
from ..models import REMOVAL_OPERATORS

# --------------------------------------------------------------------------------------------------
# Running a model on many perturbed copies of a batch
# --------------------------------------------------------------------------------------------------


@torch.no_grad()
def probs_after_removal(
    model,
    tokens: torch.Tensor,
    mask: torch.Tensor,
    remove: torch.Tensor,
    operator: str = "slice_out",
    chunk_size: int = 512,
) -> torch.Tensor:
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
        part = model.forward_removed(tokens[idx, :width], mask[idx, :width], remove[idx, :width], operator).probs
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
            raise ValueError(
                f"weights of {name!r} hold NaN or infinite values on real tokens; a NaN would count "
                "as 'no violation' (the best score): fix the method before testing it"
            )


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


def top_fraction_mask(
    weights: torch.Tensor, mask: torch.Tensor, fraction: float, leave_one: bool = False
) -> torch.Tensor:
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
