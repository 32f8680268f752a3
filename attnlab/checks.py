"""Self-checks for the exercises: run a learner's function against the kit's reference and say what is wrong.

Every implementation exercise in the book ends with a cell such as::

    from attnlab import checks
    checks.check_leave_one_out(leave_one_out_scores)

A check runs the learner's function on random inputs *and* edge cases (one-token sentences, padding,
ties, all-zero weights, huge scores) and compares it with the reference implementation in ``attnlab``.
It then does one of three things:

* **right** — prints ``✓ ...`` and returns a true :class:`Outcome`;
* **not attempted yet** — the function still returns ``None`` (the stub's ``...`` body) or raises
  ``NotImplementedError``: prints a reminder and returns a false :class:`Outcome`. This keeps the student edition of
  the book (solutions removed) executable;
* **wrong** — raises :class:`CheckFailed` (an ``AssertionError``) whose message names *what* is wrong
  — shape, sign, normalisation, padding, the class that is explained, a missing factor — and how to
  fix it, not just "wrong". Where the answer matches a known mistake exactly, the message says so.

Writing a new check (for a new chapter): compute the reference on a few fixed cases, compute the
answers of the plausible mistakes, and call :func:`_compare` (or raise :func:`_fail` after your own
tests). Add a test to ``tests/test_checks.py``: the check passes on the reference and fails, with its
specific message, on at least two plausible wrong answers.

The capstone's auto-checked part is :func:`check_explanation_method`: it validates the interface of a
new explanation method and runs it through the violation test on a small trained model.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import numpy as np
import torch

from .data import Batch
from .explain import explain
from .faithfulness import violation_test
from .models import AttentionClassifier, masked_softmax


class CheckFailed(AssertionError):
    """The learner's function gives a wrong answer; the message says what is wrong and how to fix it."""


class _NotAttempted(Exception):
    pass


def _fail(check: str, what: str, hint: str = "") -> CheckFailed:
    return CheckFailed(f"{check}: {what}" + (f"\n  Hint: {hint}" if hint else ""))


def _attempt(check: str, fn: Callable, *args, **kwargs) -> Any:
    """Call the learner's function; ``None`` or ``NotImplementedError`` means "not attempted yet"."""
    if not callable(fn):
        raise TypeError(f"{check}: pass your function itself, e.g. {check}(my_function) without "
                        f"parentheses after its name; got {type(fn).__name__} {fn!r:.60}")
    try:
        result = fn(*args, **kwargs)
    except NotImplementedError:
        raise _NotAttempted
    except Exception as error:  # any other error is a finding: say which call caused it
        raise _fail(check, f"your function raised {type(error).__name__}: {error}",
                    "run it by hand on the inputs described in the exercise and read the traceback") from error
    if result is None:
        raise _NotAttempted
    return result


class Outcome:
    """What a check returns: true when the function passed, false when it was not attempted yet.

    The message has already been printed, so a notebook shows nothing more for it.
    """

    def __init__(self, passed: bool, message: str):
        self.passed, self.message = passed, message

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        return self.message

    def _ipython_display_(self) -> None:  # printed already: show nothing more in a notebook
        pass


def not_attempted_message(check: str) -> str:
    """What ``check`` prints for a stub that still returns ``None`` (also written into the student edition)."""
    return (f"… {check}: not attempted yet (your function returns None). Replace the `...` with "
            "your code and run this cell again.")


def _run(check: str, body: Callable[[], int]) -> Outcome:
    """Run a check body that returns the number of cases it verified."""
    try:
        n_cases = body()
    except _NotAttempted:
        message = not_attempted_message(check)
        print(message)
        return Outcome(False, message)
    message = f"✓ {check}: your function agrees with the reference on {n_cases} cases, edge cases included."
    print(message)
    return Outcome(True, message)


def _as_tensor(check: str, value, shape: Sequence[int], what: str = "the result") -> torch.Tensor:
    if isinstance(value, np.ndarray):
        value = torch.from_numpy(value)
    if not isinstance(value, torch.Tensor):
        raise _fail(check, f"{what} should be a torch tensor of shape {tuple(shape)}, got {type(value).__name__}")
    if tuple(value.shape) != tuple(shape):
        raise _fail(check, f"shape: {what} has shape {tuple(value.shape)}, expected {tuple(shape)}",
                    "one weight per token position, (batch, length), padding included")
    value = value.detach().double()
    if not bool(torch.isfinite(value).all()):
        raise _fail(check, f"{what} contains NaN or infinite values",
                    "look for log(0), 0/0, or exp of a large number")
    return value


def _close(a, b, atol: float = 1e-5, rtol: float = 1e-4) -> bool:
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return bool(torch.allclose(torch.as_tensor(a).double(), torch.as_tensor(b).double(), atol=atol, rtol=rtol))
    if isinstance(a, (bool, np.bool_)) or isinstance(b, (bool, np.bool_)):
        return bool(a) == bool(b)
    return math.isclose(float(a), float(b), abs_tol=atol, rel_tol=rtol)


def _compare(check: str, got: list, expected: list, mistakes: list[tuple[str, list]],
             describe: Callable[[int], str], atol: float = 1e-5, rtol: float = 1e-4) -> None:
    """Raise CheckFailed unless ``got`` matches ``expected`` case by case.

    ``mistakes`` lists ``(message, answers that mistake would give)``. If the learner's answers match one
    mistake on every case where they differ from the reference, its message is used.
    """
    bad = [i for i, (g, e) in enumerate(zip(got, expected)) if not _close(g, e, atol, rtol)]
    if not bad:
        return
    for message, answers in mistakes:  # a mistake that explains every answer, right and wrong ones
        if all(_close(g, a, atol, rtol) for g, a in zip(got, answers)):
            raise _fail(check, message + f" (first wrong case: {describe(bad[0])})")
    for message, answers in mistakes:  # a mistake that explains every wrong answer
        if all(_close(got[i], answers[i], atol, rtol) and not _close(answers[i], expected[i], atol, rtol)
               for i in bad):
            raise _fail(check, message + f" (first wrong case: {describe(bad[0])})")
    i = bad[0]
    raise _fail(check, f"wrong value on {describe(i)}: expected {_show(expected[i])}, got {_show(got[i])} "
                       f"({len(bad)} of {len(got)} cases wrong)")


def _show(value) -> str:
    if isinstance(value, torch.Tensor):
        return np.array2string(value.double().numpy(), precision=4, suppress_small=True)
    if isinstance(value, float):
        return f"{value:.6g}"
    return repr(value)


def _tiny_model(seed: int = 0, n_classes: int = 2, vocab_size: int = 20) -> AttentionClassifier:
    """A small untrained BiLSTM + additive attention classifier (fast, deterministic)."""
    torch.manual_seed(seed)
    model = AttentionClassifier(vocab_size, n_classes, encoder="bilstm", attention="additive",
                                embed_dim=8, hidden_dim=6)
    with torch.no_grad():  # larger output weights: predictions differ between sentences
        model.output.weight.mul_(4.0)
    return model.eval()


def _random_batch(seed: int, lengths: Sequence[int], vocab_size: int = 20) -> Batch:
    gen = torch.Generator().manual_seed(seed)
    return Batch.from_ids([torch.randint(2, vocab_size, (n,), generator=gen).tolist() for n in lengths])


def _model_with_mixed_predictions(batch: Batch, n_classes: int = 2) -> AttentionClassifier:
    """The first tiny model that predicts every class somewhere in ``batch`` (so 'wrong class' shows)."""
    for seed in range(100):
        model = _tiny_model(seed, n_classes)
        with torch.no_grad():
            pred = model(batch.tokens, batch.mask).logits.argmax(-1)
        if len(set(pred.tolist())) == n_classes:
            return model
    return model


# --------------------------------------------------------------------------------------------------
# Chapter 1: attention as explanation
# --------------------------------------------------------------------------------------------------


def check_masked_softmax(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> Outcome:
    """Check ``fn(scores, mask) -> weights``: a softmax over the real tokens of each row, 0 on padding.

    Cases: random scores with padding, one-token rows, equal scores, and huge scores (overflow).
    """
    check = "check_masked_softmax"

    def body() -> int:
        gen = torch.Generator().manual_seed(0)
        lengths = torch.tensor([5, 1, 3, 7, 2, 7])
        mask = torch.arange(7) < lengths[:, None]
        cases = [("random scores", torch.randn(6, 7, generator=gen) * 2),
                 ("equal scores", torch.zeros(6, 7)),
                 ("scores around 1000 (overflow)", 1000 + torch.randn(6, 7, generator=gen))]
        for name, scores in cases:
            given = scores.clone()
            got = _attempt(check, fn, given, mask.clone())
            if isinstance(got, torch.Tensor) and got.shape == mask.shape and not bool(torch.isfinite(got).all()):
                raise _fail(check, f"overflow: NaN or inf weights (case: {name})",
                            "exp of a large score overflows: subtract each row's maximum score first "
                            "(torch.softmax does this for you)")
            got = _as_tensor(check, got, mask.shape, "the weights")
            if not torch.equal(given, scores):
                raise _fail(check, "your function changed the scores tensor in place",
                            "work on a copy (e.g. scores.masked_fill(...) returns a new tensor)")
            expected = masked_softmax(scores.double(), mask)
            if bool((got[~mask].abs() > 1e-6).any()):
                raise _fail(check, f"padding: padding positions get weight (case: {name})",
                            "set the scores of padding to -inf before the softmax (masking with 0 is not "
                            "enough: exp(0) = 1), so padding gets exactly 0")
            if bool((got < -1e-9).any()):
                raise _fail(check, f"sign: some weights are negative (case: {name})",
                            "attention weights are a probability distribution: exp(...) / sum")
            row_sums = got.sum(1)
            if not _close(row_sums, torch.ones(6)):
                col_sums = (got * mask).sum(0)
                if _close(col_sums[mask.any(0)], torch.ones(int(mask.any(0).sum()))):
                    raise _fail(check, "normalisation: your weights sum to 1 over the batch (dim 0), not "
                                       "over the tokens of each sentence", "use softmax(..., dim=-1)")
                raise _fail(check, f"normalisation: rows sum to {_show(row_sums)} instead of 1 (case: {name})",
                            "normalise over the real tokens only; if you zero padding after a softmax over "
                            "all positions, divide by the new row sum (or mask with -inf before)")
            if not _close(got, expected, atol=1e-6):
                raise _fail(check, f"values: the weights are normalised but are not softmax(scores) over the "
                                   f"real tokens (case: {name}): expected {_show(expected[0])}, got {_show(got[0])}",
                            "weights_t = exp(s_t) / sum over real tokens u of exp(s_u); do not rescale the scores")
        return len(cases) * len(lengths)

    return _run(check, body)


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
            rows = batch.tokens[i:i + 1, :n].repeat(n, 1)
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
        batch = _random_batch(1, [6, 1, 4, 8, 3, 5, 2, 7])
        model = _model_with_mixed_predictions(batch)
        got = _as_tensor(check, _attempt(check, fn, model, batch.tokens.clone(), batch.mask.clone()),
                         batch.tokens.shape, "the leave-one-out scores")
        if bool((got[~batch.mask].abs() > 1e-6).any()):
            raise _fail(check, "padding: padding positions have non-zero scores",
                        "only real tokens can be left out: return 0 where mask is False")
        single = batch.lengths == 1
        if bool((got[single, 0].abs() > 1e-6).any()):
            raise _fail(check, "edge case: a one-token sentence got a non-zero score",
                        "a sentence cannot lose its only token; give it 0")
        expected = _loo_reference(model, batch)
        ones, zeros = torch.ones(len(batch), dtype=torch.long), torch.zeros(len(batch), dtype=torch.long)
        mistakes = [
            ("sign: your scores have the opposite sign: positive must mean that removing the token LOWERS "
             "the probability of the prediction (the token supports it): f(x) − f(x without t), not the "
             "reverse", (-expected)),
            ("wrong class: you explain class 1 on every sentence, not the predicted class ŷ = "
             "argmax f(x)", _loo_reference(model, batch, target=ones)),
            ("wrong class: you explain class 0 on every sentence, not the predicted class ŷ = "
             "argmax f(x)", _loo_reference(model, batch, target=zeros)),
            ("logits instead of probabilities: compare softmax probabilities f(x)_ŷ, not raw logits",
             _loo_reference(model, batch, logits=True)),
            ("removal: you zeroed the token's embedding; leave-one-out here deletes the token (the "
             "sentence gets shorter: model.forward_removed(..., 'slice_out'))",
             _loo_reference(model, batch, operator="zeros_mask")),
            ("removal: you only hid the token from attention; leave-one-out here deletes the token "
             "(model.forward_removed(..., 'slice_out'))", _loo_reference(model, batch, operator="att_mask")),
        ]
        rows = list(range(len(batch)))
        _compare(check, [got[i] for i in rows], [expected[i] for i in rows],
                 [(m, [a[i] for i in rows]) for m, a in mistakes],
                 lambda i: f"sentence {i} with {int(batch.lengths[i])} tokens", atol=1e-5)
        return len(batch)

    return _run(check, body)


# --------------------------------------------------------------------------------------------------
# Chapter 2: combinatorial shortcuts
# --------------------------------------------------------------------------------------------------


def _capacity(n: int, k: int, ordered: bool) -> float:
    if ordered:
        return math.log2(math.perm(n, k)) if k <= n else float("nan")
    return math.log2(math.comb(n, k))


def check_capacity_bits(fn: Callable[..., float]) -> Outcome:
    """Check ``fn(n, k, ordered=False) -> bits``: log2 of the number of messages a k-of-n selection
    can send (subsets, or ordered selections when ``ordered``); ValueError unless 0 <= k <= n."""
    check = "check_capacity_bits"

    def body() -> int:
        cases = [(10, 1, False), (50, 2, False), (100, 10, False), (5, 0, False), (7, 7, False),
                 (2000, 1000, False), (10, 2, True), (20, 5, True), (6, 6, True)]
        got = [float(_attempt(check, fn, n, k, ordered=o)) for n, k, o in cases]
        expected = [_capacity(n, k, o) for n, k, o in cases]
        describe = lambda i: "n={}, k={}, ordered={}".format(*cases[i])  # noqa: E731
        mistakes = [
            ("units: your answer is in nats (natural log); bits need log base 2",
             [e * math.log(2) for e in expected]),
            ("units: your answer uses log base 10; bits need log base 2",
             [e * math.log10(2) for e in expected]),
            ("counting: you counted k-tuples with repetition (n**k); a selection picks k DIFFERENT "
             "positions: C(n, k) subsets, or n!/(n−k)! ordered selections",
             [k * math.log2(n) if n else 0.0 for n, k, _ in cases]),
            ("ordering: with ordered=True the order of the selected positions counts: n!/(n−k)! messages, "
             "not C(n, k)", [_capacity(n, k, False) for n, k, _ in cases]),
            ("ordering: with ordered=False the order does not count: C(n, k) subsets, not n!/(n−k)!",
             [_capacity(n, k, True) for n, k, _ in cases]),
        ]
        _compare(check, got, expected, mistakes, describe, atol=1e-9, rtol=1e-9)
        for n, k in [(3, 4), (5, -1)]:
            try:
                fn(n, k)
            except ValueError:
                continue
            except Exception as error:
                raise _fail(check, f"edge case: n={n}, k={k} raised {type(error).__name__}, expected ValueError",
                            "check the arguments first: raise ValueError unless 0 <= k <= n")
            raise _fail(check, f"edge case: n={n}, k={k} is impossible but your function returned a value",
                        "raise ValueError unless 0 <= k <= n")
        return len(cases) + 2

    return _run(check, body)


def _mutual_information(joint: np.ndarray, base: float = 2.0, normalise: bool = True) -> float:
    p = np.asarray(joint, dtype=float)
    p = p / p.sum() if normalise else p
    pm, py = p.sum(1, keepdims=True), p.sum(0, keepdims=True)
    nz = p > 0
    return float((p[nz] * np.log(p[nz] / (pm @ py)[nz])).sum() / np.log(base))


def _entropy(p: np.ndarray) -> float:
    p = np.asarray(p, dtype=float)
    p = p[p > 0] / p.sum()
    return float(-(p * np.log2(p)).sum())


def check_mutual_information_bits(fn: Callable[[np.ndarray], float]) -> Outcome:
    """Check ``fn(joint) -> I(M; Y)`` in bits, for a table of counts or probabilities
    (rows: masks m, columns: labels y), with 0·log 0 = 0."""
    check = "check_mutual_information_bits"

    def body() -> int:
        rng = np.random.default_rng(0)
        cases = [
            ("independent table", np.outer([0.2, 0.3, 0.5], [0.4, 0.6])),
            ("perfect code (deterministic, with zeros)", np.array([[0.5, 0.0], [0.0, 0.5]])),
            ("noisy code, counts", np.array([[45.0, 5.0], [5.0, 45.0]])),
            ("random counts", rng.integers(1, 20, size=(4, 3)).astype(float)),
            ("random probabilities with a zero row", np.vstack([rng.dirichlet(np.ones(3), 1)[0] * 0.7,
                                                               np.zeros(3), [0.1, 0.1, 0.1]])),
        ]
        got = []
        for name, joint in cases:
            value = _attempt(check, fn, joint.copy())
            value = float(value)
            if not math.isfinite(value):
                raise _fail(check, f"your result is {value} on the {name}",
                            "skip cells with probability 0: 0 · log 0 counts as 0")
            got.append(value)
        expected = [_mutual_information(j) for _, j in cases]
        describe = lambda i: cases[i][0]  # noqa: E731
        mistakes = [
            ("units: your answer is in nats (natural log); bits need log base 2",
             [_mutual_information(j, base=math.e) for _, j in cases]),
            ("normalisation: normalise the table to probabilities (divide by its sum) before using it",
             [_mutual_information(j, normalise=False) if np.all(j > 0) or j.sum() == 1 else float("nan")
              for _, j in cases]),
            ("that is the entropy of the label, H(Y), not the mutual information (an independent table "
             "must give 0)", [_entropy(j.sum(0)) for _, j in cases]),
            ("that is the entropy of the mask, H(M), not the mutual information (an independent table "
             "must give 0)", [_entropy(j.sum(1)) for _, j in cases]),
        ]
        _compare(check, got, expected, mistakes, describe, atol=1e-9, rtol=1e-6)
        return len(cases)

    return _run(check, body)


# --------------------------------------------------------------------------------------------------
# Chapter 5: the faithfulness violation test
# --------------------------------------------------------------------------------------------------


@torch.no_grad()
def _violates_variant(model, tokens: torch.Tensor, weights: torch.Tensor, *, use_abs=True, flip=False,
                      strict=True, target=None) -> bool:
    """The violation test on one unpadded sentence, with the knobs of the usual mistakes."""
    n = len(tokens)
    if n < 2:
        return False
    full = model(tokens[None], torch.ones(1, n, dtype=torch.bool)).probs[0]
    y = int(full.argmax()) if target is None else target
    top = int((weights.abs() if use_abs else weights).argmax())
    rest = torch.cat([tokens[:top], tokens[top + 1:]])
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
        batch = _random_batch(2, lengths)
        model = _model_with_mixed_predictions(batch)
        gen = torch.Generator().manual_seed(3)
        cases = []
        for i, n in enumerate(lengths):
            ids = batch.tokens[i, :n]
            cases.append((f"sentence {i} ({n} tokens), random signed weights", ids, torch.randn(n, generator=gen)))
            w = torch.rand(n, generator=gen) * 0.5
            w[i % n] = -1.0  # the most important token by |w| has a negative weight
            cases.append((f"sentence {i} ({n} tokens), largest |w| is negative", ids, w))
            cases.append((f"sentence {i} ({n} tokens), non-negative weights (like attention)", ids,
                          torch.rand(n, generator=gen)))
        cases.append(("a sentence whose weights are all 0", batch.tokens[0, :5], torch.zeros(5)))
        single = ("a one-token sentence", batch.tokens[0, :1], torch.ones(1))
        got = []
        for _, ids, w in cases:
            answer = _attempt(check, fn, model, ids.clone(), w.clone())
            got.append(bool(answer))
        try:
            single_answer = fn(model, single[1].clone(), single[2].clone())
        except Exception as error:
            raise _fail(check, f"edge case: on a one-token sentence your function raised "
                               f"{type(error).__name__}: {error}",
                        "the only token cannot be removed, so the test does not apply: return False")
        if single_answer is None or bool(single_answer):
            raise _fail(check, "edge case: a one-token sentence must give False (the only token cannot be "
                               "removed, so there is nothing to violate)")
        ref = [bool(violation_test(model, ids[None], torch.ones(1, len(ids), dtype=torch.bool), {"w": w[None]},
                                   operators=("slice_out",)).violates[("w", "slice_out")][0])
               for _, ids, w in cases]
        variant = lambda **kw: [_violates_variant(model, ids, w, **kw) for _, ids, w in cases]  # noqa: E731
        mistakes = [
            ("x*: you picked the token with the largest weight; the test picks the largest |weight| "
             "(a strongly negative weight is important too)", variant(use_abs=False)),
            ("sign: your ΔC has the wrong sign: ΔC = f(x)_ŷ − f(x without x*)_ŷ, positive when x* "
             "supported the prediction", variant(flip=True)),
            ("strictness: a zero on either side is no violation: use w(x*) · ΔC < 0, not <= 0",
             variant(strict=False)),
            ("wrong class: you measure the probability of class 1 on every sentence; use the predicted "
             "class ŷ = argmax f(x)", variant(target=1)),
            ("wrong class: you measure the probability of class 0 on every sentence; use the predicted "
             "class ŷ = argmax f(x)", variant(target=0)),
        ]
        _compare(check, got, ref, mistakes, lambda i: cases[i][0])
        return len(cases) + 1

    return _run(check, body)


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
        batch = _random_batch(4, [6, 1, 4, 8, 3, 5, 7, 2])
        model = _model_with_mixed_predictions(batch)
        got = _as_tensor(check, _attempt(check, fn, model, batch.tokens.clone(), batch.mask.clone(), steps),
                         batch.tokens.shape, "the attributions")
        if bool((got[~batch.mask].abs() > 1e-6).any()):
            raise _fail(check, "padding: padding positions have non-zero attributions",
                        "multiply by the mask (or set padding to 0) at the end")
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
                raise _fail(check, f"completeness: Σ_t IG_t differs from f(x)_ŷ − f(0)_ŷ by up to {float(gap):.3g}",
                            "average the gradients over the path (divide the sum by steps)")
            return len(batch)
        ones = torch.ones(len(batch), dtype=torch.long)
        mistakes = [  # (message, the answer that mistake gives), computed only when needed
            (f"missing 1/steps: your attributions are about {steps} times too large — the integral is "
             f"the MEAN of the gradients along the path: divide their sum by steps", lambda: expected * steps),
            (f"missing 1/steps: your attributions are about {steps + 1} times too large — divide the sum "
             f"of the gradients by the number of steps", lambda: expected * (steps + 1)),
            ("sign: your attributions have the opposite sign; IG_t = e_t · mean gradient of f(x)_ŷ, "
             "positive when token t supports ŷ", lambda: -expected),
            ("wrong class: you attribute the probability of class 1 on every sentence; use the predicted "
             "class ŷ = argmax f(x)", lambda: _integrated_gradients_variant(model, batch, steps, target=ones)),
            ("wrong class: you attribute the probability of class 0 on every sentence; use the predicted "
             "class ŷ = argmax f(x)", lambda: _integrated_gradients_variant(model, batch, steps, target=0 * ones)),
        ]
        for message, make_answer in mistakes:
            answer = make_answer()
            if float((got - answer).abs().max()) <= 0.05 * float(answer.abs().max()) + 1e-6:
                raise _fail(check, message)
        ixg = explain("input_x_gradient", model, batch).double()
        if float((got - ixg).abs().max()) <= 1e-5 + 1e-3 * float(ixg.abs().max()):
            raise _fail(check, "that is input × gradient at x only; IG averages the gradient over the "
                               "scaled inputs k/steps · e, k = 0..steps, then multiplies by e")
        worst = int((got - expected).abs().max(1).values.argmax())
        raise _fail(check, f"wrong values, e.g. on sentence {worst} ({int(batch.lengths[worst])} tokens): "
                           f"expected {_show(expected[worst, :int(batch.lengths[worst])])}, got "
                           f"{_show(got[worst, :int(batch.lengths[worst])])}",
                    "baseline = zero embeddings; gradients of the softmax probability of ŷ (not the logit) "
                    "with respect to the embeddings; sum e · mean gradient over the embedding dimension")

    return _run(check, body)


# --------------------------------------------------------------------------------------------------
# Capstone: a new explanation method, auto-checked
# --------------------------------------------------------------------------------------------------


def toy_polarity_task(n: int = 2000, seed: int = 0, vocab_size: int = 40, max_length: int = 12) -> Batch:
    """A synthetic sentiment task with a known answer: each token id has a fixed polarity
    (ids 2-13 positive, 14-25 negative, the rest neutral); the label is 1 when positive tokens
    outnumber negative ones (ties resolved by the first polar token)."""
    gen = torch.Generator().manual_seed(seed)
    lengths = torch.randint(2, max_length + 1, (n,), generator=gen)
    ids, labels = [], []
    polarity = torch.zeros(vocab_size)
    polarity[2:14], polarity[14:26] = 1.0, -1.0
    for length in lengths.tolist():
        sentence = torch.randint(2, vocab_size, (length,), generator=gen)
        score = float(polarity[sentence].sum())
        if score == 0:
            polar = polarity[sentence][polarity[sentence] != 0]
            score = float(polar[0]) if len(polar) else 1.0
        ids.append(sentence.tolist())
        labels.append(int(score > 0))
    return Batch.from_ids(ids, labels)


def _trained_toy_model(seed: int = 0):
    from .train import fit, set_seed

    data = toy_polarity_task(2400, seed=seed)
    train, test = data[torch.arange(2000)], data[torch.arange(2000, 2400)]
    set_seed(seed)
    model = AttentionClassifier(40, 2, encoder="bilstm", attention="additive", embed_dim=16, hidden_dim=16)
    fit(model, train, epochs=3, batch_size=32, lr=5e-3, seed=seed, progress=False)
    return model, test


def check_explanation_method(method: Callable, model=None, data: Batch | None = None, *,
                             baselines: Sequence[str] = ("random", "random_signed", "raw_attention",
                                                          "attention_x_gradient"),
                             verbose: bool = True):
    """The capstone's auto-checked part: validate a new explanation method and run the violation test.

    ``method(model, tokens, mask, target) -> (B, T) weights`` (the signature of the methods in
    :mod:`attnlab.explain`; ``target`` is the class to explain). Checks that it returns one finite weight
    per token, 0 on padding, the same weights twice, does not change the model's parameters, and copes
    with one-token sentences; then runs :func:`attnlab.faithfulness.violation_test` for the method and
    ``baselines`` on ``model``/``data`` (default: a small BiLSTM trained in a few seconds on
    :func:`toy_polarity_task`). Raises :class:`CheckFailed` on an interface problem; returns the
    violation table (a DataFrame: rows = methods, columns = removal operators and their mean).
    """
    check = "check_explanation_method"
    if model is None:
        model, data = _trained_toy_model()
    if data is None:
        raise _fail(check, "pass the data (a Batch) together with your model")
    model.eval()
    sentences = [data.tokens[i, :int(n)].tolist() for i, n in enumerate(data.lengths[:6])]
    sentences[1] = sentences[1][:1]  # a one-token sentence among longer ones
    probe = Batch.from_ids(sentences)
    probe_tokens, probe_mask = probe.tokens, probe.mask
    with torch.no_grad():
        target = model(probe_tokens, probe_mask).logits.argmax(-1)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    try:
        w = method(model, probe_tokens, probe_mask, target)
    except Exception as error:
        raise _fail(check, f"your method raised {type(error).__name__}: {error}",
                    "signature: method(model, tokens, mask, target) -> (B, T) tensor") from error
    if w is None:
        raise _fail(check, "your method returns None", "return a (batch, length) tensor of weights")
    w = _as_tensor(check, w, probe_tokens.shape, "the weights")
    if bool((w[~probe_mask].abs() > 1e-6).any()):
        raise _fail(check, "padding: padding positions get non-zero weights",
                    "multiply the weights by the mask (or masked_fill(~mask, 0))")
    again = _as_tensor(check, method(model, probe_tokens, probe_mask, target), probe_tokens.shape)
    if not _close(w, again, atol=1e-6):
        raise _fail(check, "determinism: two calls on the same input give different weights",
                    "fix any randomness with a seed derived from the input, as attnlab.explain.random_weights does")
    for name, value in model.state_dict().items():
        if not torch.equal(value, before[name]):
            raise _fail(check, f"your method changed the model's parameter {name!r}",
                        "never call optimiser.step() or modify weights in place; use torch.no_grad() or "
                        "torch.autograd.grad")
    with torch.no_grad():
        targets = model(data.tokens, data.mask).logits.argmax(-1)
    weights = {"your method": method(model, data.tokens, data.mask, targets).detach().float()
               .masked_fill(~data.mask, 0.0)}
    weights |= {name: explain(name, model, data, target=targets) for name in baselines}
    table = violation_test(model, data.tokens, data.mask, weights).table()
    if verbose:
        accuracy = float((targets == data.labels).float().mean()) if data.labels is not None else float("nan")
        print(f"✓ {check}: the interface is right. Violation ratios on {len(data)} sentences "
              f"(model accuracy {accuracy:.3f}; lower is better; random_signed is about 0.5 by construction, "
              "random — Liu et al.'s non-negative baseline — is the share of tokens whose removal raises "
              "the prediction):")
        print(table.round(3).to_string())
    return table


# --------------------------------------------------------------------------------------------------
# Chapter 6: attention in Transformers
# --------------------------------------------------------------------------------------------------


def check_rollout(fn: Callable[[list], torch.Tensor]) -> Outcome:
    """Check ``fn(attentions) -> (B, S, S)``: attention rollout (Abnar & Zuidema 2020) of a list of
    per-layer maps ``(B, H, S, S)``: head mean, ``0.5·Ā + 0.5·I`` with rows renormalised, and the
    product with the last layer on the left."""
    from .multilayer import rollout_from

    check = "check_rollout"

    def body() -> int:
        gen = torch.Generator().manual_seed(0)
        cases = [[torch.rand(3, 2, 5, 5, generator=gen).softmax(-1) for _ in range(3)],
                 [torch.rand(2, 4, 4, 4, generator=gen).mul(6).softmax(-1) for _ in range(2)],
                 [torch.rand(1, 1, 3, 3, generator=gen).softmax(-1)]]  # one layer, one head
        got = [_as_tensor(check, _attempt(check, fn, [m.clone() for m in maps]),
                          (maps[0].shape[0], maps[0].shape[-1], maps[0].shape[-1]), "the rollout")
               for maps in cases]
        expected = [rollout_from(maps).double() for maps in cases]
        mistakes = [
            ("order: the layers are multiplied the wrong way round; the last layer goes on the left "
             "(result = Â_L ⋯ Â_2 · Â_1)", [rollout_from(maps[::-1]).double() for maps in cases]),
            ("residual: the identity term is missing; use 0.5 * head mean + 0.5 * identity",
             [rollout_from(maps, residual=False).double() for maps in cases]),
            ("heads: take the mean over heads, not the sum",
             [_rollout_summed_heads(maps) for maps in cases]),
        ]
        _compare(check, got, expected, mistakes, lambda i: f"case {i + 1} ({len(cases[i])} layer(s))")
        return len(cases)

    return _run(check, body)


def _rollout_summed_heads(maps: list) -> torch.Tensor:
    result = None
    for m in maps:
        a = m.sum(1).double() + torch.eye(m.shape[-1], dtype=torch.float64)
        a = a / a.sum(-1, keepdim=True)
        result = a if result is None else a @ result
    return result


# --------------------------------------------------------------------------------------------------
# Chapters 3 and 4: measuring a shortcut, instance weights
# --------------------------------------------------------------------------------------------------


def check_rationale_precision(fn: Callable) -> Outcome:
    """Check ``fn(attention, rationale, mask, k) -> float``: precision@k of the mask against the planted
    rationale, averaged over the sequences that have a rationale."""
    from .shortcuts import rationale_precision_recall

    check = "check_rationale_precision"

    def case(seed: int, lengths: Sequence[int], k: int):
        gen = torch.Generator().manual_seed(seed)
        batch = _random_batch(seed, lengths)
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
        from .shortcuts import top_k_mask
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
        got = [float(_attempt(check, fn, *(c[0].clone(), c[1].clone(), c[2].clone(), c[3]))) for c in cases]
        expected = [reference(*c) for c in cases]
        mistakes = [
            ("sequences without a rationale: you averaged over every sequence; average only over those that "
             "have a planted rationale (there is nothing to find in the others)", [all_rows(*c) for c in cases]),
            ("normalisation: you divided the hits by the size of the rationale — that is recall@k; "
             "precision@k divides by the k selected positions", [recall(*c) for c in cases]),
            ("padding: your top k includes padding positions; rank only the real tokens (set padding to "
             "-inf before topk)", [with_padding(*c) for c in cases]),
        ]
        _compare(check, got, expected, mistakes, lambda i: f"case {i} (k = {cases[i][3]})", atol=1e-6)
        return len(cases)

    return _run(check, body)


def check_instance_weights(fn: Callable) -> Outcome:
    """Check ``fn(prior, p_label_given_mask, labels, clip) -> (N,)``: w = P(y) / max(P̂(y | m), clip),
    normalised to mean 1 (the instance weights of chapter 4)."""
    from .mitigations import inverse_propensity_weights

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
            value = _attempt(check, fn, c[0].clone(), c[1].clone(), c[2].clone(), c[3])
            got.append(_as_tensor(check, value, c[2].shape, "the weights"))
        expected = [inverse_propensity_weights(*c) for c in cases]
        norm = lambda w: w / w.mean()  # noqa: E731
        mistakes = [
            ("inverted: you computed P(y | m) / P(y); examples whose mask makes their label *likely* must get "
             "*small* weights: w = P(y) / P(y | m)", [norm(c[1].clamp_min(c[3]) / c[0][c[2]]) for c in cases]),
            ("normalisation: your weights do not average to 1; divide by their mean",
             [unnormalised(*c) for c in cases]),
            ("clip: a tiny P̂(y | m) gives a huge weight; clip the probability from below "
             "(p.clamp_min(clip)) before dividing", [norm(c[0][c[2]] / c[1]) for c in cases]),
            ("prior: you used a uniform prior; use the label shares P(y) of the training data",
             [norm(torch.full_like(c[1], 1 / len(c[0])) / c[1].clamp_min(c[3])) for c in cases]),
        ]
        _compare(check, got, expected, mistakes, lambda i: f"case {i} ({len(cases[i][0])} classes)", atol=1e-5)
        return len(cases)

    return _run(check, body)
