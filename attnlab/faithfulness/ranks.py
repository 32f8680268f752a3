"""Rank correlation of two weightings, sentence by sentence (Kendall or Spearman), without a loop."""

from __future__ import annotations

import torch

from .. import validate


def rank_correlation(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor, method: str = "kendall") -> torch.Tensor:
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
        den = torch.sqrt((ra**2).sum(1) * (rb**2).sum(1))
        return torch.where(den > 0, (ra * rb).sum(1) / den.clamp_min(1e-12), torch.nan)
    raise ValueError(f"unknown method {method!r}; choose 'kendall' or 'spearman'")


def _ranks(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Average ranks (ties share the mean rank) of the real tokens of every row."""
    x = x.masked_fill(~mask, float("inf"))
    less = (x[:, None, :] < x[:, :, None]) & mask[:, None, :]
    equal = (x[:, None, :] == x[:, :, None]) & mask[:, None, :]
    return less.sum(-1).double() + (equal.sum(-1).double() - 1) / 2
