"""Chapter 5 (the faithfulness violation test): the self-checks of the test on one sentence and of IG.

``check_violates`` checks the violation test on one sentence (x* = the token with the largest |weight|;
a violation when w(x*) · ΔC < 0); ``check_integrated_gradients`` checks integrated gradients from the
all-zero embedding.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from .. import faithfulness
from ..data import Batch
from ..explain import explain
from .fixtures import model_with_mixed_predictions, random_batch
from .framework import Outcome, as_tensor, attempt, compare, fail, require_zero, run_check, show

__all__ = ["check_integrated_gradients", "check_violates"]


@torch.no_grad()
def _violates_variant(
    model, tokens: torch.Tensor, weights: torch.Tensor, *, use_abs=True, flip=False, strict=True, target=None
) -> bool:
    """The violation test on one unpadded sentence, with the knobs of the usual mistakes."""
    n = len(tokens)
    if n < 2:
        return False
    full = model(tokens[None], torch.ones(1, n, dtype=torch.bool)).probs[0]
    y = int(full.argmax()) if target is None else target
    top = int((weights.abs() if use_abs else weights).argmax())
    rest = torch.cat([tokens[:top], tokens[top + 1 :]])
    removed = model(rest[None], torch.ones(1, n - 1, dtype=torch.bool)).probs[0]
    delta = float(full[y] - removed[y]) * (-1 if flip else 1)
    product = float(weights[top]) * delta
    return product < 0 if strict else product <= 0


def check_violates(fn: Callable) -> Outcome:
    """Check ``fn(model, tokens, weights) -> bool``: the violation test on ONE sentence.

    ``tokens`` (T,) are the ids of one unpadded sentence, ``weights`` (T,) an explanation. x* is the token
    with the largest |weight|; ΔC = f(x)_ŷ − f(x without x*)_ŷ (deleting x*); the sentence violates when
    w(x*) · ΔC < 0, strictly. A one-token sentence cannot be tested: False.
    """
    check = "check_violates"

    def body() -> int:
        lengths = [5, 8, 3, 6, 4, 7, 9, 2, 5, 6, 8, 4]
        batch = random_batch(2, lengths)
        model = model_with_mixed_predictions(batch)
        gen = torch.Generator().manual_seed(3)
        cases = []
        for i, n in enumerate(lengths):
            ids = batch.tokens[i, :n]
            cases.append((f"sentence {i} ({n} tokens), random signed weights", ids, torch.randn(n, generator=gen)))
            w = torch.rand(n, generator=gen) * 0.5
            w[i % n] = -1.0  # the most important token by |w| has a negative weight
            cases.append((f"sentence {i} ({n} tokens), largest |w| is negative", ids, w))
            cases.append(
                (f"sentence {i} ({n} tokens), non-negative weights (like attention)", ids, torch.rand(n, generator=gen))
            )
        cases.append(("a sentence whose weights are all 0", batch.tokens[0, :5], torch.zeros(5)))
        single = ("a one-token sentence", batch.tokens[0, :1], torch.ones(1))
        got = []
        for _, ids, w in cases:
            answer = attempt(check, fn, model, ids.clone(), w.clone())
            got.append(bool(answer))
        try:
            single_answer = fn(model, single[1].clone(), single[2].clone())
        except Exception as error:
            raise fail(
                check,
                f"edge case: on a one-token sentence your function raised {type(error).__name__}: {error}",
                "the only token cannot be removed, so the test does not apply: return False",
            ) from error
        if single_answer is None or bool(single_answer):
            raise fail(
                check,
                "edge case: a one-token sentence must give False (the only token cannot be "
                "removed, so there is nothing to violate)",
            )
        ref = [
            bool(
                faithfulness.violation_test(
                    model,
                    ids[None],
                    torch.ones(1, len(ids), dtype=torch.bool),
                    {"w": w[None]},
                    operators=("slice_out",),
                ).violates[("w", "slice_out")][0]
            )
            for _, ids, w in cases
        ]
        variant = lambda **kw: [_violates_variant(model, ids, w, **kw) for _, ids, w in cases]  # noqa: E731
        mistakes = [
            (
                "x*: you picked the token with the largest weight; the test picks the largest |weight| "
                "(a strongly negative weight is important too)",
                variant(use_abs=False),
            ),
            (
                "sign: your ΔC has the wrong sign: ΔC = f(x)_ŷ − f(x without x*)_ŷ, positive when x* "
                "supported the prediction",
                variant(flip=True),
            ),
            ("strictness: a zero on either side is no violation: use w(x*) · ΔC < 0, not <= 0", variant(strict=False)),
            (
                "wrong class: you measure the probability of class 1 on every sentence; use the predicted "
                "class ŷ = argmax f(x)",
                variant(target=1),
            ),
            (
                "wrong class: you measure the probability of class 0 on every sentence; use the predicted "
                "class ŷ = argmax f(x)",
                variant(target=0),
            ),
        ]
        compare(check, got, ref, mistakes, lambda i: cases[i][0])
        return len(cases) + 1

    return run_check(check, body)


def _integrated_gradients_variant(model, batch: Batch, steps: int, target=None) -> torch.Tensor:
    return explain("integrated_gradients", model, batch, target=target, steps=steps).double()


def check_integrated_gradients(fn: Callable) -> Outcome:
    """Check ``fn(model, tokens, mask, steps) -> (B, T)``: integrated gradients from the all-zero
    embedding for the predicted class's probability, summed over embedding dimensions, 0 on padding.

    Any Riemann rule with ``steps`` intervals passes (the reference uses the trapezoid rule); the check
    also tests completeness, Σ_t IG_t ≈ f(x)_ŷ − f(0)_ŷ.
    """
    check = "check_integrated_gradients"

    def body() -> int:
        steps = 20
        batch = random_batch(4, [6, 1, 4, 8, 3, 5, 7, 2])
        model = model_with_mixed_predictions(batch)
        got = as_tensor(
            check,
            attempt(check, fn, model, batch.tokens.clone(), batch.mask.clone(), steps),
            batch.tokens.shape,
            "the attributions",
        )
        require_zero(
            check,
            got,
            ~batch.mask,
            "padding: padding positions have non-zero attributions",
            "multiply by the mask (or set padding to 0) at the end",
        )
        expected = _integrated_gradients_variant(model, batch, steps)
        scale = float(expected.abs().max())
        tol = 0.05 * scale + 1e-6  # left/right/midpoint Riemann sums differ from the trapezoid by O(1/steps)
        if float((got - expected).abs().max()) <= tol:
            with torch.no_grad():
                pred = model(batch.tokens, batch.mask).logits.argmax(-1)
                f_x = model(batch.tokens, batch.mask).probs.gather(1, pred[:, None]).squeeze(1)
                zero = torch.zeros_like(model.embed(batch.tokens))
                f_0 = model(batch.tokens, batch.mask, inputs_embeds=zero).probs.gather(1, pred[:, None]).squeeze(1)
            gap = (got.sum(1) - (f_x - f_0).double()).abs().max()
            if float(gap) > 0.05 * float((f_x - f_0).abs().max()) + 1e-4:
                raise fail(
                    check,
                    f"completeness: Σ_t IG_t differs from f(x)_ŷ − f(0)_ŷ by up to {float(gap):.3g}",
                    "average the gradients over the path (divide the sum by steps)",
                )
            return len(batch)
        ones = torch.ones(len(batch), dtype=torch.long)
        mistakes = [  # (message, the answer that mistake gives), computed only when needed
            (
                f"missing 1/steps: your attributions are about {steps} times too large — the integral is "
                f"the MEAN of the gradients along the path: divide their sum by steps",
                lambda: expected * steps,
            ),
            (
                f"missing 1/steps: your attributions are about {steps + 1} times too large — divide the sum "
                f"of the gradients by the number of steps",
                lambda: expected * (steps + 1),
            ),
            (
                "sign: your attributions have the opposite sign; IG_t = e_t · mean gradient of f(x)_ŷ, "
                "positive when token t supports ŷ",
                lambda: -expected,
            ),
            (
                "wrong class: you attribute the probability of class 1 on every sentence; use the predicted "
                "class ŷ = argmax f(x)",
                lambda: _integrated_gradients_variant(model, batch, steps, target=ones),
            ),
            (
                "wrong class: you attribute the probability of class 0 on every sentence; use the predicted "
                "class ŷ = argmax f(x)",
                lambda: _integrated_gradients_variant(model, batch, steps, target=0 * ones),
            ),
        ]
        for message, make_answer in mistakes:
            answer = make_answer()
            if float((got - answer).abs().max()) <= 0.05 * float(answer.abs().max()) + 1e-6:
                raise fail(check, message)
        ixg = explain("input_x_gradient", model, batch).double()
        if float((got - ixg).abs().max()) <= 1e-5 + 1e-3 * float(ixg.abs().max()):
            raise fail(
                check,
                "that is input × gradient at x only; IG averages the gradient over the "
                "scaled inputs k/steps · e, k = 0..steps, then multiplies by e",
            )
        worst = int((got - expected).abs().max(1).values.argmax())
        raise fail(
            check,
            f"wrong values, e.g. on sentence {worst} ({int(batch.lengths[worst])} tokens): "
            f"expected {show(expected[worst, : int(batch.lengths[worst])])}, got "
            f"{show(got[worst, : int(batch.lengths[worst])])}",
            "baseline = zero embeddings; gradients of the softmax probability of ŷ (not the logit) "
            "with respect to the embeddings; sum e · mean gradient over the embedding dimension",
        )

    return run_check(check, body)
