"""Chapter 2 (combinatorial shortcuts): the self-checks of a selection's capacity and of I(M; Y).

``check_capacity_bits`` checks the number of bits a k-of-n selection can send; ``check_mutual_information_bits``
checks the mutual information between masks and labels of a table, in bits.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from .framework import Outcome, attempt, compare, fail, run_check

__all__ = ["check_capacity_bits", "check_mutual_information_bits"]


def _capacity(n: int, k: int, ordered: bool) -> float:
    if ordered:
        return math.log2(math.perm(n, k)) if k <= n else float("nan")
    return math.log2(math.comb(n, k))


def check_capacity_bits(fn: Callable[..., float]) -> Outcome:
    """Check ``fn(n, k, ordered=False) -> bits``: log2 of the number of messages a k-of-n selection
    can send (subsets, or ordered selections when ``ordered``); ValueError unless 0 <= k <= n."""
    check = "check_capacity_bits"

    def body() -> int:
        cases = [
            (10, 1, False),
            (50, 2, False),
            (100, 10, False),
            (5, 0, False),
            (7, 7, False),
            (2000, 1000, False),
            (10, 2, True),
            (20, 5, True),
            (6, 6, True),
        ]
        got = [float(attempt(check, fn, n, k, ordered=o)) for n, k, o in cases]
        expected = [_capacity(n, k, o) for n, k, o in cases]
        describe = lambda i: "n={}, k={}, ordered={}".format(*cases[i])  # noqa: E731
        mistakes = [
            ("units: your answer is in nats (natural log); bits need log base 2", [e * math.log(2) for e in expected]),
            ("units: your answer uses log base 10; bits need log base 2", [e * math.log10(2) for e in expected]),
            (
                "counting: you counted k-tuples with repetition (n**k); a selection picks k DIFFERENT "
                "positions: C(n, k) subsets, or n!/(n−k)! ordered selections",
                [k * math.log2(n) if n else 0.0 for n, k, _ in cases],
            ),
            (
                "ordering: with ordered=True the order of the selected positions counts: n!/(n−k)! messages, "
                "not C(n, k)",
                [_capacity(n, k, False) for n, k, _ in cases],
            ),
            (
                "ordering: with ordered=False the order does not count: C(n, k) subsets, not n!/(n−k)!",
                [_capacity(n, k, True) for n, k, _ in cases],
            ),
        ]
        compare(check, got, expected, mistakes, describe, atol=1e-9, rtol=1e-9)
        for n, k in [(3, 4), (5, -1)]:
            try:
                fn(n, k)
            except ValueError:
                continue
            except Exception as error:
                raise fail(
                    check,
                    f"edge case: n={n}, k={k} raised {type(error).__name__}, expected ValueError",
                    "check the arguments first: raise ValueError unless 0 <= k <= n",
                ) from error
            raise fail(
                check,
                f"edge case: n={n}, k={k} is impossible but your function returned a value",
                "raise ValueError unless 0 <= k <= n",
            )
        return len(cases) + 2

    return run_check(check, body)


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
            (
                "random probabilities with a zero row",
                np.vstack([rng.dirichlet(np.ones(3), 1)[0] * 0.7, np.zeros(3), [0.1, 0.1, 0.1]]),
            ),
        ]
        got = []
        for name, joint in cases:
            value = attempt(check, fn, joint.copy())
            value = float(value)
            if not math.isfinite(value):
                raise fail(
                    check,
                    f"your result is {value} on the {name}",
                    "skip cells with probability 0: 0 · log 0 counts as 0",
                )
            got.append(value)
        expected = [_mutual_information(j) for _, j in cases]
        describe = lambda i: cases[i][0]  # noqa: E731
        mistakes = [
            (
                "units: your answer is in nats (natural log); bits need log base 2",
                [_mutual_information(j, base=math.e) for _, j in cases],
            ),
            (
                "normalisation: normalise the table to probabilities (divide by its sum) before using it",
                [
                    _mutual_information(j, normalise=False) if np.all(j > 0) or j.sum() == 1 else float("nan")
                    for _, j in cases
                ],
            ),
            (
                "that is the entropy of the label, H(Y), not the mutual information (an independent table must give 0)",
                [_entropy(j.sum(0)) for _, j in cases],
            ),
            (
                "that is the entropy of the mask, H(M), not the mutual information (an independent table must give 0)",
                [_entropy(j.sum(1)) for _, j in cases],
            ),
        ]
        compare(check, got, expected, mistakes, describe, atol=1e-9, rtol=1e-6)
        return len(cases)

    return run_check(check, body)
