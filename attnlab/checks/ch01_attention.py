"""Chapter 1 (attention as explanation): the self-checks of the masked softmax and of leave-one-out.

``check_masked_softmax`` checks a learner's attention weights (a softmax over the real tokens, 0 on
padding); ``check_leave_one_out`` checks the leave-one-out scores f(x)_ŷ − f(x without t)_ŷ that the
chapter compares attention with.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..data import Batch
from ..explain import explain
from ..models import masked_softmax
from .fixtures import model_with_mixed_predictions, random_batch
from .framework import Outcome, as_tensor, attempt, close, compare, fail, require_zero, run_check, show

__all__ = ["check_leave_one_out", "check_masked_softmax"]


def check_masked_softmax(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> Outcome:
    """Check ``fn(scores, mask) -> weights``: a softmax over the real tokens of each row, 0 on padding.

    Cases: random scores with padding, one-token rows, equal scores, and huge scores (overflow).
    """
    check = "check_masked_softmax"

    def body() -> int:
        gen = torch.Generator().manual_seed(0)
        lengths = torch.tensor([5, 1, 3, 7, 2, 7])
        mask = torch.arange(7) < lengths[:, None]
        cases = [
            ("random scores", torch.randn(6, 7, generator=gen) * 2),
            ("equal scores", torch.zeros(6, 7)),
            ("scores around 1000 (overflow)", 1000 + torch.randn(6, 7, generator=gen)),
        ]
        for name, scores in cases:
            given = scores.clone()
            got = attempt(check, fn, given, mask.clone())
            if isinstance(got, torch.Tensor) and got.shape == mask.shape and not bool(torch.isfinite(got).all()):
                raise fail(
                    check,
                    f"overflow: NaN or inf weights (case: {name})",
                    "exp of a large score overflows: subtract each row's maximum score first "
                    "(torch.softmax does this for you)",
                )
            got = as_tensor(check, got, mask.shape, "the weights")
            if not torch.equal(given, scores):
                raise fail(
                    check,
                    "your function changed the scores tensor in place",
                    "work on a copy (e.g. scores.masked_fill(...) returns a new tensor)",
                )
            expected = masked_softmax(scores.double(), mask)
            require_zero(
                check,
                got,
                ~mask,
                f"padding: padding positions get weight (case: {name})",
                "set the scores of padding to -inf before the softmax (masking with 0 is not "
                "enough: exp(0) = 1), so padding gets exactly 0",
            )
            if bool((got < -1e-9).any()):
                raise fail(
                    check,
                    f"sign: some weights are negative (case: {name})",
                    "attention weights are a probability distribution: exp(...) / sum",
                )
            row_sums = got.sum(1)
            if not close(row_sums, torch.ones(6)):
                col_sums = (got * mask).sum(0)
                if close(col_sums[mask.any(0)], torch.ones(int(mask.any(0).sum()))):
                    raise fail(
                        check,
                        "normalisation: your weights sum to 1 over the batch (dim 0), not "
                        "over the tokens of each sentence",
                        "use softmax(..., dim=-1)",
                    )
                raise fail(
                    check,
                    f"normalisation: rows sum to {show(row_sums)} instead of 1 (case: {name})",
                    "normalise over the real tokens only; if you zero padding after a softmax over "
                    "all positions, divide by the new row sum (or mask with -inf before)",
                )
            if not close(got, expected, atol=1e-6):
                raise fail(
                    check,
                    f"values: the weights are normalised but are not softmax(scores) over the "
                    f"real tokens (case: {name}): expected {show(expected[0])}, got {show(got[0])}",
                    "weights_t = exp(s_t) / sum over real tokens u of exp(s_u); do not rescale the scores",
                )
        return len(cases) * len(lengths)

    return run_check(check, body)


def _loo_reference(model, batch: Batch, target=None, operator="slice_out", logits=False) -> torch.Tensor:
    """f(x)_y − f(x without t)_y for every token (probabilities, or logits for the mistake variant)."""
    if not logits:
        return explain("leave_one_out", model, batch, target=target, operator=operator).double()
    with torch.no_grad():
        full = model(batch.tokens, batch.mask).logits
        target = full.argmax(-1) if target is None else target
        out = torch.zeros(batch.tokens.shape, dtype=torch.float64)
        for i in range(len(batch)):
            n = int(batch.lengths[i])
            if n < 2:
                continue
            rows = batch.tokens[i : i + 1, :n].repeat(n, 1)
            remove = torch.eye(n, dtype=torch.bool)
            removed = model.forward_removed(rows, torch.ones(n, n, dtype=torch.bool), remove, operator).logits
            out[i, :n] = (full[i, target[i]] - removed[:, target[i]]).double()
    return out


def check_leave_one_out(fn: Callable) -> Outcome:
    """Check ``fn(model, tokens, mask) -> (B, T)``: f(x)_ŷ − f(x without token t)_ŷ for each token t.

    ŷ is the predicted class, f the softmax probability, "without" deletes the token; padding and the
    only token of a one-token sentence get 0.
    """
    check = "check_leave_one_out"

    def body() -> int:
        batch = random_batch(1, [6, 1, 4, 8, 3, 5, 2, 7])
        model = model_with_mixed_predictions(batch)
        got = as_tensor(
            check,
            attempt(check, fn, model, batch.tokens.clone(), batch.mask.clone()),
            batch.tokens.shape,
            "the leave-one-out scores",
        )
        require_zero(
            check,
            got,
            ~batch.mask,
            "padding: padding positions have non-zero scores",
            "only real tokens can be left out: return 0 where mask is False",
        )
        require_zero(
            check,
            got[:, 0],
            batch.lengths == 1,
            "edge case: a one-token sentence got a non-zero score",
            "a sentence cannot lose its only token; give it 0",
        )
        expected = _loo_reference(model, batch)
        ones, zeros = torch.ones(len(batch), dtype=torch.long), torch.zeros(len(batch), dtype=torch.long)
        mistakes = [
            (
                "sign: your scores have the opposite sign: positive must mean that removing the token LOWERS "
                "the probability of the prediction (the token supports it): f(x) − f(x without t), not the "
                "reverse",
                (-expected),
            ),
            (
                "wrong class: you explain class 1 on every sentence, not the predicted class ŷ = argmax f(x)",
                _loo_reference(model, batch, target=ones),
            ),
            (
                "wrong class: you explain class 0 on every sentence, not the predicted class ŷ = argmax f(x)",
                _loo_reference(model, batch, target=zeros),
            ),
            (
                "logits instead of probabilities: compare softmax probabilities f(x)_ŷ, not raw logits",
                _loo_reference(model, batch, logits=True),
            ),
            (
                "removal: you zeroed the token's embedding; leave-one-out here deletes the token (the "
                "sentence gets shorter: model.forward_removed(..., 'slice_out'))",
                _loo_reference(model, batch, operator="zeros_mask"),
            ),
            (
                "removal: you only hid the token from attention; leave-one-out here deletes the token "
                "(model.forward_removed(..., 'slice_out'))",
                _loo_reference(model, batch, operator="att_mask"),
            ),
        ]
        rows = list(range(len(batch)))
        compare(
            check,
            [got[i] for i in rows],
            [expected[i] for i in rows],
            [(m, [a[i] for i in rows]) for m, a in mistakes],
            lambda i: f"sentence {i} with {int(batch.lengths[i])} tokens",
            atol=1e-5,
        )
        return len(batch)

    return run_check(check, body)
