"""The exercise framework: call a learner's function, compare it with a reference, say what is wrong.

Every self-check in :mod:`attnlab.checks` is built from the few names here, and a course author writing a
check for a new exercise needs only these. A check has three possible endings:

* **right**: :func:`run_check` prints ``✓ ...`` and returns a true :class:`Outcome`;
* **not attempted yet**: the learner's function still returns ``None`` (the stub's ``...`` body) or
  raises ``NotImplementedError``. :func:`attempt` notices, :func:`run_check` prints
  :func:`not_attempted_message` and returns a false :class:`Outcome`. This keeps the student edition of
  the book (solutions removed) executable;
* **wrong**: the check raises :class:`CheckFailed` (an ``AssertionError``, built by :func:`fail`) whose
  message says *what* is wrong and how to fix it. :func:`compare` finds the message for you when the
  answers match a known mistake.

A check is a function taking the learner's function. Its ``body`` calls the learner's function through
:func:`attempt`, checks the answers, and returns the number of cases it verified::

    from attnlab.checks.framework import attempt, compare, run_check

    def check_square(fn):
        \"\"\"Check ``fn(x) -> x ** 2``.\"\"\"
        check = "check_square"

        def body() -> int:
            cases = [0.0, 1.5, -2.0]
            got = [float(attempt(check, fn, x)) for x in cases]
            mistakes = [("you doubled x instead of squaring it", [2 * x for x in cases])]
            compare(check, got, [x**2 for x in cases], mistakes, lambda i: f"x = {cases[i]}")
            return len(cases)

        return run_check(check, body)

Good checks compute the reference on fixed cases *and* edge cases (one-token sentences, padding, ties,
zeros, huge values), and list the answers of the plausible mistakes so that the message names the
mistake. Small models and batches to run a learner's function on are in :mod:`attnlab.checks.fixtures`.
Put the check in the module of its chapter, re-export it from ``attnlab/checks/__init__.py``, and add a
test to ``tests/test_checks.py``: it passes on the reference and fails, with its specific message, on at
least two plausible wrong answers.

This module depends on torch and numpy only, not on the rest of the kit.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

__all__ = [
    "CheckFailed",
    "Outcome",
    "as_tensor",
    "attempt",
    "close",
    "compare",
    "fail",
    "not_attempted_message",
    "require_zero",
    "run_check",
    "show",
]


class CheckFailed(AssertionError):
    """The learner's function gives a wrong answer; the message says what is wrong and how to fix it."""


class _NotAttempted(Exception):
    """Raised by :func:`attempt` for a stub; :func:`run_check` turns it into a false :class:`Outcome`."""


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


def fail(check: str, what: str, hint: str = "") -> CheckFailed:
    """The error to raise when a check finds a mistake: ``raise fail(check, "sign: ...", "use f(x) − ...")``.

    ``what`` names what is wrong (start with the aspect: "shape: ...", "padding: ...", "sign: ..."),
    ``hint`` says how to fix it.
    """
    return CheckFailed(f"{check}: {what}" + (f"\n  Hint: {hint}" if hint else ""))


def not_attempted_message(check: str) -> str:
    """What ``check`` prints for a stub that still returns ``None`` (also written into the student edition)."""
    return (
        f"… {check}: not attempted yet (your function returns None). Replace the `...` with "
        "your code and run this cell again."
    )


def attempt(check: str, fn: Callable, *args, **kwargs) -> Any:
    """Call the learner's function ``fn(*args, **kwargs)`` and return its result.

    ``None`` or ``NotImplementedError`` means "not attempted yet": the check stops there and
    :func:`run_check` reports it. Any other error becomes a :class:`CheckFailed` naming the error; passing
    something that is not a function is a ``TypeError`` that says to pass the function itself.
    """
    if not callable(fn):
        raise TypeError(
            f"{check}: pass your function itself, e.g. {check}(my_function) without "
            f"parentheses after its name; got {type(fn).__name__} {fn!r:.60}"
        )
    try:
        result = fn(*args, **kwargs)
    except NotImplementedError:
        raise _NotAttempted from None
    except Exception as error:  # any other error is a finding: say which call caused it
        raise fail(
            check,
            f"your function raised {type(error).__name__}: {error}",
            "run it by hand on the inputs described in the exercise and read the traceback",
        ) from error
    if result is None:
        raise _NotAttempted
    return result


def run_check(check: str, body: Callable[[], int]) -> Outcome:
    """Run a check's ``body`` (which returns the number of cases it verified) and print the outcome.

    Returns a true :class:`Outcome` when ``body`` returns, a false one when the learner's function was not
    attempted yet; a :class:`CheckFailed` raised by ``body`` propagates to the learner.
    """
    try:
        n_cases = body()
    except _NotAttempted:
        message = not_attempted_message(check)
        print(message)
        return Outcome(False, message)
    message = f"✓ {check}: your function agrees with the reference on {n_cases} cases, edge cases included."
    print(message)
    return Outcome(True, message)


def as_tensor(
    check: str,
    value,
    shape: Sequence[int],
    what: str = "the result",
    hint: str = "one weight per token position, (batch, length), padding included",
) -> torch.Tensor:
    """The learner's answer as a float64 tensor of ``shape``, or :class:`CheckFailed` saying why not.

    Accepts a tensor or a NumPy array; refuses another type, another shape (``hint`` says which shape is
    expected and why) and NaN or infinite values.
    """
    if isinstance(value, np.ndarray):
        value = torch.from_numpy(value)
    if not isinstance(value, torch.Tensor):
        raise fail(check, f"{what} should be a torch tensor of shape {tuple(shape)}, got {type(value).__name__}")
    if tuple(value.shape) != tuple(shape):
        raise fail(check, f"shape: {what} has shape {tuple(value.shape)}, expected {tuple(shape)}", hint)
    value = value.detach().double()
    if not bool(torch.isfinite(value).all()):
        raise fail(check, f"{what} contains NaN or infinite values", "look for log(0), 0/0, or exp of a large number")
    return value


def require_zero(check: str, values: torch.Tensor, where: torch.Tensor, what: str, hint: str = "") -> None:
    """Raise ``fail(check, what, hint)`` unless ``values`` is (about) 0 wherever ``where`` is true.

    For example padding: ``require_zero(check, got, ~mask, "padding: padding positions get weight", ...)``.
    """
    if bool((values[where].abs() > 1e-6).any()):
        raise fail(check, what, hint)


def close(a, b, atol: float = 1e-5, rtol: float = 1e-4) -> bool:
    """Whether two answers agree: tensors elementwise, booleans exactly, numbers within the tolerances."""
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return bool(torch.allclose(torch.as_tensor(a).double(), torch.as_tensor(b).double(), atol=atol, rtol=rtol))
    if isinstance(a, (bool, np.bool_)) or isinstance(b, (bool, np.bool_)):
        return bool(a) == bool(b)
    return math.isclose(float(a), float(b), abs_tol=atol, rel_tol=rtol)


def compare(
    check: str,
    got: list,
    expected: list,
    mistakes: list[tuple[str, list]],
    describe: Callable[[int], str],
    atol: float = 1e-5,
    rtol: float = 1e-4,
) -> None:
    """Raise :class:`CheckFailed` unless ``got`` matches ``expected`` case by case.

    ``mistakes`` lists ``(message, the answers that mistake would give)``, one answer per case. If the
    learner's answers match one mistake on every case, or on every case where they are wrong, its message
    is used; otherwise the message shows the first wrong case. ``describe(i)`` names case ``i``.
    """
    bad = [i for i, (g, e) in enumerate(zip(got, expected)) if not close(g, e, atol, rtol)]
    if not bad:
        return
    for message, answers in mistakes:  # a mistake that explains every answer, right and wrong ones
        if all(close(g, a, atol, rtol) for g, a in zip(got, answers)):
            raise fail(check, message + f" (first wrong case: {describe(bad[0])})")
    for message, answers in mistakes:  # a mistake that explains every wrong answer
        if all(close(got[i], answers[i], atol, rtol) and not close(answers[i], expected[i], atol, rtol) for i in bad):
            raise fail(check, message + f" (first wrong case: {describe(bad[0])})")
    i = bad[0]
    raise fail(
        check,
        f"wrong value on {describe(i)}: expected {show(expected[i])}, got {show(got[i])} "
        f"({len(bad)} of {len(got)} cases wrong)",
    )


def show(value) -> str:
    """A short printable form of an answer for a message (tensors to 4 decimals, floats to 6 digits)."""
    if isinstance(value, torch.Tensor):
        return np.array2string(value.detach().cpu().double().numpy(), precision=4, suppress_small=True)
    if isinstance(value, float):
        return f"{value:.6g}"
    return repr(value)
