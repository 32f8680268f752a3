"""attnlab.checks: every self-check passes on the reference and names the mistake of plausible wrong answers."""

import math

import numpy as np
import pytest
import torch

from attnlab import checks
from attnlab.checks.capstone import _trained_toy_model
from attnlab.checks.ch01_attention import _loo_reference
from attnlab.checks.ch02_combinatorial import _entropy
from attnlab.checks.ch05_faithfulness import _violates_variant
from attnlab.data import Batch
from attnlab.explain import explain
from attnlab.faithfulness import violation_test
from attnlab.models import masked_softmax


def fails_with(check, fn, *fragments):
    with pytest.raises(checks.CheckFailed) as info:
        check(fn)
    for fragment in fragments:
        assert fragment in str(info.value), f"expected {fragment!r} in: {info.value}"


def test_a_stub_is_reported_as_not_attempted_not_as_wrong(capsys):
    for check in (
        checks.check_masked_softmax,
        checks.check_leave_one_out,
        checks.check_capacity_bits,
        checks.check_mutual_information_bits,
        checks.check_violates,
        checks.check_integrated_gradients,
    ):
        assert not check(lambda *args, **kwargs: None)
        assert "not attempted yet" in capsys.readouterr().out

        def raises(*args, **kwargs):
            raise NotImplementedError

        assert not check(raises)


def test_a_crashing_function_is_reported_with_its_error():
    fails_with(checks.check_capacity_bits, lambda n, k, ordered=False: 1 / 0, "ZeroDivisionError")


def test_a_new_check_written_with_the_public_framework_passes_fails_and_reports_a_stub(capsys):
    from attnlab.checks.framework import CheckFailed, attempt, compare, not_attempted_message, run_check

    def check_square(fn):  # what a course author writes for a new exercise
        check = "check_square"

        def body() -> int:
            cases = [0.0, 1.5, -2.0, 3.0]
            got = [float(attempt(check, fn, x)) for x in cases]
            mistakes = [("you doubled x instead of squaring it", [2 * x for x in cases])]
            compare(check, got, [x**2 for x in cases], mistakes, lambda i: f"x = {cases[i]}")
            return len(cases)

        return run_check(check, body)

    outcome = check_square(lambda x: x * x)
    assert outcome and "✓ check_square" in capsys.readouterr().out and "4 cases" in outcome.message
    with pytest.raises(
        CheckFailed, match=r"check_square: you doubled x instead of squaring it \(first wrong case: x = 1.5\)"
    ):
        check_square(lambda x: 2 * x)
    with pytest.raises(CheckFailed, match=r"wrong value on x = 1.5: expected 2.25, got 3.25 \(1 of 4 cases wrong\)"):
        check_square(lambda x: x * x + (x == 1.5))
    with pytest.raises(CheckFailed, match="ZeroDivisionError"):
        check_square(lambda x: 1 / 0)
    assert not check_square(lambda x: None)
    assert capsys.readouterr().out.strip() == not_attempted_message("check_square")
    with pytest.raises(TypeError, match="pass your function itself"):
        check_square(4)
    assert CheckFailed is checks.CheckFailed


# -- chapter 1 -------------------------------------------------------------------------------------


def test_masked_softmax(capsys):
    assert checks.check_masked_softmax(masked_softmax)
    assert "✓ check_masked_softmax" in capsys.readouterr().out
    fails_with(checks.check_masked_softmax, lambda s, m: torch.softmax(s, -1), "padding")
    fails_with(checks.check_masked_softmax, lambda s, m: torch.softmax(s.masked_fill(~m, 0), -1), "padding", "-inf")
    fails_with(checks.check_masked_softmax, lambda s, m: torch.softmax(s, -1) * m, "normalisation", "rows sum")
    fails_with(
        checks.check_masked_softmax,
        lambda s, m: torch.softmax(s.masked_fill(~m, -1e9), 0) * m,
        "normalisation",
        "dim 0",
    )
    fails_with(
        checks.check_masked_softmax,
        lambda s, m: torch.exp(s) * m / (torch.exp(s) * m).sum(-1, keepdim=True),
        "overflow",
    )
    fails_with(checks.check_masked_softmax, lambda s, m: masked_softmax(2 * s, m), "values")


def test_leave_one_out():
    def reference(model, tokens, mask):
        return explain("leave_one_out", model, tokens, mask)

    assert checks.check_leave_one_out(reference)
    fails_with(checks.check_leave_one_out, lambda *a: -reference(*a), "sign")
    fails_with(
        checks.check_leave_one_out,
        lambda m, t, k: explain("leave_one_out", m, t, k, target=torch.ones(len(t), dtype=torch.long)),
        "wrong class",
        "class 1",
    )
    fails_with(
        checks.check_leave_one_out,
        lambda m, t, k: explain("leave_one_out", m, t, k, operator="zeros_mask"),
        "removal",
        "slice_out",
    )
    fails_with(checks.check_leave_one_out, lambda m, t, k: reference(m, t, k) + 0.1 * ~k, "padding")
    fails_with(checks.check_leave_one_out, lambda m, t, k: _loo_reference(m, Batch(t, k), logits=True), "logits")
    fails_with(checks.check_leave_one_out, lambda m, t, k: reference(m, t, k)[:, :-1], "shape")


# -- chapter 2 -------------------------------------------------------------------------------------


def capacity(n, k, ordered=False):
    if not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n, got n={n}, k={k}")
    return math.log2(math.perm(n, k) if ordered else math.comb(n, k))


def test_capacity_bits():
    assert checks.check_capacity_bits(capacity)
    fails_with(checks.check_capacity_bits, lambda n, k, ordered=False: capacity(n, k, ordered) * math.log(2), "nats")
    fails_with(checks.check_capacity_bits, lambda n, k, ordered=False: capacity(n, k, False), "ordering", "n!/(n−k)!")
    fails_with(checks.check_capacity_bits, lambda n, k, ordered=False: k * math.log2(n), "repetition")
    fails_with(
        checks.check_capacity_bits,
        lambda n, k, ordered=False: math.log2(max(math.perm(n, k) if ordered else math.comb(n, k), 1)),
        "edge case",
        "ValueError",
    )


def mutual_information(joint, log=np.log2, normalise=True, skip_zeros=True):
    p = np.asarray(joint, dtype=float)
    p = p / p.sum() if normalise else p
    outer = p.sum(1, keepdims=True) @ p.sum(0, keepdims=True)
    keep = p > 0 if skip_zeros else np.ones_like(p, dtype=bool)
    with np.errstate(divide="ignore", invalid="ignore"):
        return float((p[keep] * log(p[keep] / outer[keep])).sum())


def test_mutual_information_bits():
    assert checks.check_mutual_information_bits(mutual_information)
    fails_with(checks.check_mutual_information_bits, lambda j: mutual_information(j, log=np.log), "nats")
    fails_with(checks.check_mutual_information_bits, lambda j: mutual_information(j, normalise=False), "normalis")
    fails_with(checks.check_mutual_information_bits, lambda j: mutual_information(j, skip_zeros=False), "0 · log 0")
    fails_with(checks.check_mutual_information_bits, lambda j: _entropy(np.asarray(j).sum(0)), "entropy of the label")


# -- chapter 5 -------------------------------------------------------------------------------------


def violates(model, tokens, weights):
    if len(tokens) < 2:
        return False
    mask = torch.ones(1, len(tokens), dtype=torch.bool)
    report = violation_test(model, tokens[None], mask, {"w": weights[None]}, operators=("slice_out",))
    return bool(report.violates[("w", "slice_out")][0])


def test_violates():
    assert checks.check_violates(violates)
    variant = _violates_variant
    fails_with(checks.check_violates, lambda m, t, w: variant(m, t, w, use_abs=False), "largest |weight|")
    fails_with(checks.check_violates, lambda m, t, w: variant(m, t, w, flip=True), "sign")
    fails_with(checks.check_violates, lambda m, t, w: variant(m, t, w, strict=False), "strictness")
    fails_with(checks.check_violates, lambda m, t, w: variant(m, t, w, target=1), "wrong class")
    fails_with(checks.check_violates, lambda m, t, w: variant(m, t, w) if len(t) > 1 else True, "one-token")


def integrated_gradients(model, tokens, mask, steps):
    return explain("integrated_gradients", model, tokens, mask, steps=steps)


def left_riemann_ig(model, tokens, mask, steps, divide=True):
    """A learner's version: left Riemann sum instead of the trapezoid rule."""
    embeds = model.embed(tokens).detach()
    pred = model(tokens, mask).logits.argmax(-1)
    total = torch.zeros_like(embeds)
    for k in range(1, steps + 1):
        x = (k / steps * embeds).requires_grad_(True)
        prob = model(tokens, mask, inputs_embeds=x).probs.gather(1, pred[:, None]).sum()
        total += torch.autograd.grad(prob, x)[0]
    return (embeds * total / (steps if divide else 1)).sum(-1) * mask


def test_integrated_gradients():
    assert checks.check_integrated_gradients(integrated_gradients)
    assert checks.check_integrated_gradients(left_riemann_ig)  # any Riemann rule passes
    fails_with(checks.check_integrated_gradients, lambda *a: left_riemann_ig(*a, divide=False), "missing 1/steps")
    fails_with(checks.check_integrated_gradients, lambda *a: -integrated_gradients(*a), "sign")
    fails_with(
        checks.check_integrated_gradients,
        lambda m, t, k, s: explain(
            "integrated_gradients", m, t, k, steps=s, target=torch.ones(len(t), dtype=torch.long)
        ),
        "wrong class",
    )
    fails_with(
        checks.check_integrated_gradients, lambda m, t, k, s: explain("input_x_gradient", m, t, k), "input × gradient"
    )
    fails_with(checks.check_integrated_gradients, lambda *a: integrated_gradients(*a) + 0.1, "padding")


# -- capstone ----------------------------------------------------------------------------------------


def test_toy_polarity_task_is_balanced_enough_and_deterministic():
    data = checks.toy_polarity_task(500, seed=1)
    assert 0.3 < float(data.labels.float().mean()) < 0.7
    assert torch.equal(data.tokens, checks.toy_polarity_task(500, seed=1).tokens)


def test_explanation_method_check_runs_the_violation_test_and_rejects_bad_interfaces(capsys):
    model, data = _trained_toy_model()
    data = data[torch.arange(150)]

    def attgrad(model, tokens, mask, target):
        return explain("attention_x_gradient", model, tokens, mask, target=target)

    table = checks.check_explanation_method(attgrad, model, data)
    assert "your method" in table.index and "random" in table.index
    assert table.loc["your method", "mean"] == pytest.approx(table.loc["attention_x_gradient", "mean"])
    assert table.loc["your method", "mean"] < table.loc["random", "mean"]
    assert "interface is right" in capsys.readouterr().out

    with pytest.raises(checks.CheckFailed, match="padding"):
        checks.check_explanation_method(lambda m, t, k, y: torch.ones(t.shape), model, data)
    with pytest.raises(checks.CheckFailed, match="shape"):
        checks.check_explanation_method(lambda m, t, k, y: torch.ones(t.shape[0]), model, data)
    with pytest.raises(checks.CheckFailed, match="determinism"):
        checks.check_explanation_method(lambda m, t, k, y: torch.rand(t.shape) * k, model, data)
    with pytest.raises(checks.CheckFailed, match="returns None"):
        checks.check_explanation_method(lambda m, t, k, y: None, model, data)

    def trains(model, tokens, mask, target):
        with torch.no_grad():
            model.output.bias.add_(1.0)
        return attgrad(model, tokens, mask, target)

    with pytest.raises(checks.CheckFailed, match="changed the model's parameter"):
        checks.check_explanation_method(trains, model, data)


def test_rollout():
    from attnlab.multilayer import rollout_from

    assert checks.check_rollout(rollout_from)
    assert not checks.check_rollout(lambda maps: None)
    with pytest.raises(checks.CheckFailed, match="order"):
        checks.check_rollout(lambda maps: rollout_from(maps[::-1]))
    with pytest.raises(checks.CheckFailed, match="residual"):
        checks.check_rollout(lambda maps: rollout_from(maps, residual=False))


def test_rationale_precision():
    from attnlab.shortcuts import rationale_precision_recall, top_k_mask

    assert checks.check_rationale_precision(lambda a, r, m, k: rationale_precision_recall(a, r, m, k)[0])
    assert not checks.check_rationale_precision(lambda a, r, m, k: None)

    def every_sequence(a, r, m, k):
        return float(((top_k_mask(a, m, k) & r).sum(1).float() / k).mean())

    with pytest.raises(checks.CheckFailed, match="sequences without a rationale"):
        checks.check_rationale_precision(every_sequence)
    with pytest.raises(checks.CheckFailed, match="recall@k"):
        checks.check_rationale_precision(lambda a, r, m, k: rationale_precision_recall(a, r, m, k)[1])


def test_instance_weights():
    from attnlab.shortcuts import inverse_propensity_weights

    assert checks.check_instance_weights(inverse_propensity_weights)
    assert not checks.check_instance_weights(lambda prior, p, y, clip: None)

    def normalised(w):
        return w / w.mean()

    with pytest.raises(checks.CheckFailed, match="inverted"):
        checks.check_instance_weights(lambda prior, p, y, clip: normalised(p.clamp_min(clip) / prior[y]))
    with pytest.raises(checks.CheckFailed, match="normalisation"):
        checks.check_instance_weights(lambda prior, p, y, clip: prior[y] / p.clamp_min(clip))
    with pytest.raises(checks.CheckFailed, match="clip"):
        checks.check_instance_weights(lambda prior, p, y, clip: normalised(prior[y] / p))
