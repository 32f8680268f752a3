"""Chapter 6 (attention in Transformers): the self-check of attention rollout.

``check_rollout`` checks attention rollout (Abnar & Zuidema 2020) of a list of per-layer attention maps.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..explain import rollout_from
from .framework import Outcome, as_tensor, attempt, compare, run_check

__all__ = ["check_rollout"]


def check_rollout(fn: Callable[[list], torch.Tensor]) -> Outcome:
    """Check ``fn(attentions) -> (B, S, S)``: attention rollout (Abnar & Zuidema 2020) of a list of
    per-layer maps ``(B, H, S, S)``: head mean, ``0.5·Ā + 0.5·I`` with rows renormalised, and the
    product with the last layer on the left."""
    check = "check_rollout"

    def body() -> int:
        gen = torch.Generator().manual_seed(0)
        cases = [
            [torch.rand(3, 2, 5, 5, generator=gen).softmax(-1) for _ in range(3)],
            [torch.rand(2, 4, 4, 4, generator=gen).mul(6).softmax(-1) for _ in range(2)],
            [torch.rand(1, 1, 3, 3, generator=gen).softmax(-1)],
        ]  # one layer, one head
        got = [
            as_tensor(
                check,
                attempt(check, fn, [m.clone() for m in maps]),
                (maps[0].shape[0], maps[0].shape[-1], maps[0].shape[-1]),
                "the rollout",
                "one (S, S) map per sentence, (batch, S, S): the heads averaged, the layers multiplied",
            )
            for maps in cases
        ]
        expected = [rollout_from(maps).double() for maps in cases]
        mistakes = [
            (
                "order: the layers are multiplied the wrong way round; the last layer goes on the left "
                "(result = Â_L ⋯ Â_2 · Â_1)",
                [rollout_from(maps[::-1]).double() for maps in cases],
            ),
            (
                "residual: the identity term is missing; use 0.5 * head mean + 0.5 * identity",
                [rollout_from(maps, residual=False).double() for maps in cases],
            ),
            ("heads: take the mean over heads, not the sum", [_rollout_summed_heads(maps) for maps in cases]),
        ]
        compare(check, got, expected, mistakes, lambda i: f"case {i + 1} ({len(cases[i])} layer(s))")
        return len(cases)

    return run_check(check, body)


def _rollout_summed_heads(maps: list) -> torch.Tensor:
    result = None
    for m in maps:
        a = m.sum(1).double() + torch.eye(m.shape[-1], dtype=torch.float64)
        a = a / a.sum(-1, keepdim=True)
        result = a if result is None else a @ result
    return result
