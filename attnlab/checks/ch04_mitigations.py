"""Chapter 4 (mitigations): the self-check of the instance weights that reweight the training data.

``check_instance_weights`` checks w = P(y) / max(P̂(y | m), clip), normalised to mean 1.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..shortcuts import inverse_propensity_weights
from .framework import Outcome, as_tensor, attempt, compare, run_check

__all__ = ["check_instance_weights"]


def check_instance_weights(fn: Callable) -> Outcome:
    """Check ``fn(prior, p_label_given_mask, labels, clip) -> (N,)``: w = P(y) / max(P̂(y | m), clip),
    normalised to mean 1 (the instance weights of chapter 4)."""
    check = "check_instance_weights"

    def case(seed: int, n: int, prior):
        gen = torch.Generator().manual_seed(seed)
        labels = torch.multinomial(torch.tensor(prior), n, replacement=True, generator=gen)
        p = torch.rand(n, generator=gen) * 0.98 + 0.01
        p[0] = 0.001  # below any sensible clip
        return torch.tensor(prior), p, labels, 0.05

    def unnormalised(prior, p, labels, clip):
        return prior[labels] / p.clamp_min(clip)

    def body() -> int:
        cases = [case(1, 12, [0.5, 0.5]), case(2, 20, [0.75, 0.25]), case(3, 15, [0.2, 0.3, 0.5])]
        got = []
        for c in cases:
            value = attempt(check, fn, c[0].clone(), c[1].clone(), c[2].clone(), c[3])
            got.append(as_tensor(check, value, c[2].shape, "the weights"))
        expected = [inverse_propensity_weights(*c) for c in cases]
        norm = lambda w: w / w.mean()  # noqa: E731
        mistakes = [
            (
                "inverted: you computed P(y | m) / P(y); examples whose mask makes their label *likely* must get "
                "*small* weights: w = P(y) / P(y | m)",
                [norm(c[1].clamp_min(c[3]) / c[0][c[2]]) for c in cases],
            ),
            (
                "normalisation: your weights do not average to 1; divide by their mean",
                [unnormalised(*c) for c in cases],
            ),
            (
                "clip: a tiny P̂(y | m) gives a huge weight; clip the probability from below "
                "(p.clamp_min(clip)) before dividing",
                [norm(c[0][c[2]] / c[1]) for c in cases],
            ),
            (
                "prior: you used a uniform prior; use the label shares P(y) of the training data",
                [norm(torch.full_like(c[1], 1 / len(c[0])) / c[1].clamp_min(c[3])) for c in cases],
            ),
        ]
        compare(check, got, expected, mistakes, lambda i: f"case {i} ({len(cases[i][0])} classes)", atol=1e-5)
        return len(cases)

    return run_check(check, body)
