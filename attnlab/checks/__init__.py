"""Self-checks for the exercises: run a learner's function against the kit's reference and say what is wrong.

Every implementation exercise in the book ends with a cell such as::

    from attnlab import checks
    checks.check_leave_one_out(leave_one_out_scores)

A check runs the learner's function on random inputs *and* edge cases (one-token sentences, padding,
ties, all-zero weights, huge scores) and compares it with the reference implementation in ``attnlab``.
It then does one of three things:

* **right**: prints ``✓ ...`` and returns a true :class:`Outcome`;
* **not attempted yet**: the function still returns ``None`` (the stub's ``...`` body) or raises
  ``NotImplementedError``: prints a reminder and returns a false :class:`Outcome`. This keeps the student
  edition of the book (solutions removed) executable;
* **wrong**: raises :class:`CheckFailed` (an ``AssertionError``) whose message names *what* is wrong
  (shape, sign, normalisation, padding, the class that is explained, a missing factor) and how to fix
  it, not just "wrong". Where the answer matches a known mistake exactly, the message says so.

The package has one module per chapter, all re-exported here:

======================  ==========================  ==============================================
module                  used by                     checks
======================  ==========================  ==============================================
``ch01_attention``      chapter 1                   ``check_masked_softmax``, ``check_leave_one_out``
``ch02_combinatorial``  chapter 2                   ``check_capacity_bits``,
                                                    ``check_mutual_information_bits``
``ch03_shortcuts``      chapter 3                   ``check_rationale_precision``
``ch04_mitigations``    chapter 4                   ``check_instance_weights``
``ch05_faithfulness``   chapter 5                   ``check_violates``, ``check_integrated_gradients``
``ch06_transformers``   chapter 6                   ``check_rollout``
``capstone``            the capstone, the explorer  ``check_explanation_method``, ``toy_polarity_task``
======================  ==========================  ==============================================

and two modules for whoever writes a new check: :mod:`attnlab.checks.framework` (calling the learner's
function, "not attempted", comparing with a reference and naming the mistake; its docstring shows a whole
check) and :mod:`attnlab.checks.fixtures` (tiny deterministic models and batches to run it on).

The capstone's auto-checked part is :func:`check_explanation_method`: it validates the interface of a
new explanation method and runs it through the violation test on a small trained model.
"""

from .capstone import check_explanation_method, toy_polarity_task
from .ch01_attention import check_leave_one_out, check_masked_softmax
from .ch02_combinatorial import check_capacity_bits, check_mutual_information_bits
from .ch03_shortcuts import check_rationale_precision
from .ch04_mitigations import check_instance_weights
from .ch05_faithfulness import check_integrated_gradients, check_violates
from .ch06_transformers import check_rollout
from .framework import CheckFailed, Outcome, not_attempted_message

__all__ = [
    "CheckFailed",
    "Outcome",
    "check_capacity_bits",
    "check_explanation_method",
    "check_instance_weights",
    "check_integrated_gradients",
    "check_leave_one_out",
    "check_masked_softmax",
    "check_mutual_information_bits",
    "check_rationale_precision",
    "check_rollout",
    "check_violates",
    "not_attempted_message",
    "toy_polarity_task",
]
