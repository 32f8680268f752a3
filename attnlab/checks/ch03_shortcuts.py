"""Chapter 3 (the shortcut experiment): the self-check of rationale precision@k.

``check_rationale_precision`` checks precision@k of an attention map against the planted rationale of
the shortcut lab, the chapter's measure of whether attention finds the tokens that carry the label.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from ..models import masked_softmax
from ..shortcuts import rationale_precision_recall, top_k_mask
from .fixtures import random_batch
from .framework import Outcome, attempt, compare, run_check

__all__ = ["check_rationale_precision"]


def check_rationale_precision(fn: Callable) -> Outcome:
    """Check ``fn(attention, rationale, mask, k) -> float``: precision@k of the mask against the planted
    rationale, averaged over the sequences that have a rationale."""
    check = "check_rationale_precision"

    def case(seed: int, lengths: Sequence[int], k: int):
        gen = torch.Generator().manual_seed(seed)
        batch = random_batch(seed, lengths)
        scores = torch.randn(batch.tokens.shape, generator=gen) * 3
        attention = masked_softmax(scores, batch.mask)
        rationale = (torch.rand(batch.tokens.shape, generator=gen) < 0.3) & batch.mask
        rationale[0] = False  # a sequence without rationale: it must not count
        attention[1, batch.mask[1]] = 0.0  # padding-like trap: make padding the largest "score" below
        attention[1, 0] = 1.0
        return attention, rationale, batch.mask, k

    def reference(attention, rationale, mask, k):
        return rationale_precision_recall(attention, rationale, mask, k)[0]

    def all_rows(attention, rationale, mask, k):  # mistake: sequences without a rationale count as 0
        top = top_k_mask(attention, mask, k)
        return float(((top & rationale).sum(1).float() / top.sum(1).clamp_min(1)).mean())

    def recall(attention, rationale, mask, k):  # mistake: divides by the rationale size
        return rationale_precision_recall(attention, rationale, mask, k)[1]

    def with_padding(attention, rationale, mask, k):  # mistake: top-k taken over padding too
        top = torch.zeros_like(mask).scatter(1, attention.topk(min(k, attention.shape[1]), dim=1).indices, True)
        has = rationale.any(1)
        return float(((top & rationale).sum(1).float() / k)[has].mean())

    def body() -> int:
        cases = [case(1, [6, 5, 8, 3, 7, 2], 2), case(2, [9, 4, 6, 6, 3, 8, 5], 3), case(3, [4, 4, 4, 4], 1)]
        got = [float(attempt(check, fn, *(c[0].clone(), c[1].clone(), c[2].clone(), c[3]))) for c in cases]
        expected = [reference(*c) for c in cases]
        mistakes = [
            (
                "sequences without a rationale: you averaged over every sequence; average only over those that "
                "have a planted rationale (there is nothing to find in the others)",
                [all_rows(*c) for c in cases],
            ),
            (
                "normalisation: you divided the hits by the size of the rationale — that is recall@k; "
                "precision@k divides by the k selected positions",
                [recall(*c) for c in cases],
            ),
            (
                "padding: your top k includes padding positions; rank only the real tokens (set padding to "
                "-inf before topk)",
                [with_padding(*c) for c in cases],
            ),
        ]
        compare(check, got, expected, mistakes, lambda i: f"case {i} (k = {cases[i][3]})", atol=1e-6)
        return len(cases)

    return run_check(check, body)
