"""Leave-one-out: what the prediction loses when one token is taken out (needs the removal operators)."""

from __future__ import annotations

import torch

from .. import validate
from ..models import REMOVAL_OPERATORS
from .registry import register, target_prob


@register("leave_one_out", signed=True, needs=("removal",), label="LOO")
def leave_one_out(model, tokens, mask, target, operator: str = "slice_out", chunk_size: int = 512):
    """f(x)_ŷ − f(x without token t)_ŷ for every token t (signed; positive = the token supports ŷ).

    All "sentence minus one token" variants are run together in batches of ``chunk_size`` rows. A
    sentence of a single token cannot lose it: its weight is 0.
    """
    from ..faithfulness import probs_after_removal

    validate.choice("removal operator", operator, REMOVAL_OPERATORS)
    chunk_size = validate.integer("chunk_size", chunk_size, minimum=1)
    B, T = tokens.shape
    rows, cols = torch.nonzero(mask & (mask.sum(1, keepdim=True) > 1), as_tuple=True)
    drops = torch.zeros(B, T, device=tokens.device)
    if len(rows) == 0:  # only one-token sentences: nothing can be removed
        return drops
    remove = torch.zeros(len(rows), T, dtype=torch.bool, device=tokens.device)
    remove[torch.arange(len(rows), device=tokens.device), cols] = True
    with torch.no_grad():
        full = target_prob(model(tokens, mask), target)
    removed = probs_after_removal(model, tokens[rows], mask[rows], remove, operator, chunk_size)
    drops[rows, cols] = full[rows] - removed.gather(1, target[rows, None]).squeeze(1)
    return drops
