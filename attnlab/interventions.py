"""Replacing a model's attention: the counterfactual tests of Jain & Wallace (2019) and Wiegreffe & Pinter (2019).

Each function here has the signature ``f(attention, mask) -> new_attention`` and can be handed to a
kit model as ``model(tokens, mask, attention=f)``: the model computes its own attention, the
function replaces it, and everything downstream (pooling, output) uses the replacement. ``mask``
marks the positions that may receive attention.
"""

from __future__ import annotations

from typing import Callable

import torch


def uniform_attention(attention: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Every real token gets the same weight, 1/length: the model is reduced to mean pooling."""
    weights = mask.to(attention.dtype)
    return weights / weights.sum(-1, keepdim=True)


def permuted_attention(seed: int = 0) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """A function that shuffles each sentence's attention weights among its own real tokens.

    The set of weights (and so how peaked the distribution is) stays the same; only *which* token gets
    which weight changes. The shuffles are random but fixed by ``seed``.
    """
    generator = torch.Generator().manual_seed(seed)

    def permute(attention: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        keys = torch.rand(mask.shape, generator=generator).masked_fill(~mask, float("inf"))
        shuffled = keys.argsort(dim=1)  # real positions in random order, then the rest
        natural = torch.argsort((~mask).to(torch.int8), dim=1, stable=True)  # real positions in order
        return torch.zeros_like(attention).scatter(1, natural, attention.gather(1, shuffled))

    return permute
