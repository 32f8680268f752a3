"""Toy worlds in which a mask can carry the label: chapter 2's exact enumerations and its sampled world.

Chapter 2 (the kit's reconstruction of Bai et al., 2021) compares two quantities that are easily confused:
what a downstream model trained together with a selector estimates, ``P(Y | X ⊙ M, M)``, and what an
importance score needs, ``P(Y | X_S = x_S)``. In a world small enough to enumerate, both are computed
exactly here, with :class:`fractions.Fraction`, so "the same" means equal, not close:

- :func:`world` lists every ``(x, y, S, probability)`` of a world and a selector;
- :func:`best_reader` is the best predictor that sees ``view(x, S)`` (by default :func:`reveal`: where the
  selection is and what is there), the ceiling of any jointly trained reader;
- :func:`evaluator` predicts with ``P(Y | X_S = x_S)``, the data distribution with the selector left out;
- :func:`mask_information_bits` is ``I(Y; M)``, what the selected positions alone say about the label;
- :func:`weight_by_label_given_mask` reweights the rows by ``P(y) / P(y | m)`` (instance weighting).

A selector is a function ``x -> {positions (a tuple): probability}``. :class:`SampledWorld` is the slightly
bigger world of the section "From exact to learned", where readers are trained by gradient descent
(:func:`train_reader`, scored by :func:`prob_of_truth`).
"""

import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from fractions import Fraction

import numpy as np
import torch

Selector = Callable[[tuple], dict]


def world(selector: Selector, inputs: Sequence[tuple], label: Callable[[tuple], int]) -> list[tuple]:
    """Every ``(x, y, S, probability)``: the joint distribution of input (uniform over ``inputs``), label
    ``label(x)`` and the positions ``S`` that ``selector`` picks."""
    if not inputs:
        raise ValueError("world needs at least one input")
    p_x = Fraction(1, len(inputs))
    return [(x, label(x), s, p_x * p) for x in inputs for s, p in selector(x).items()]


def content(x: tuple, s: tuple) -> tuple:
    """``x_S``: what is written at the selected positions."""
    return tuple(x[t] for t in s)


def reveal(x: tuple, s: tuple) -> tuple:
    """What a downstream model reading ``(x ⊙ m, m)`` sees: where the selection is, and what is there."""
    return s, content(x, s)


def _total(rows) -> Fraction:
    total = sum(r[-1] for r in rows)
    if total <= 0:
        raise ValueError("the rows carry no probability: build them with world(selector, inputs, label)")
    return total


def best_reader(rows, view: Callable[[tuple, tuple], object] = reveal) -> tuple[Fraction, Fraction]:
    """The best predictor that sees ``view(x, S)``, ``P(Y | view)``: (accuracy, mean probability of the
    true label)."""
    table = defaultdict(lambda: defaultdict(Fraction))
    for x, y, s, p in rows:
        table[view(x, s)][y] += p
    total = _total(rows)
    accuracy = sum(max(by_label.values()) for by_label in table.values()) / total
    prob_true = sum(q * q / sum(by_label.values()) for by_label in table.values() for q in by_label.values())
    return accuracy, prob_true / total


def evaluator(rows) -> tuple[Fraction, Fraction]:
    """Predict with ``P(Y | X_S = x_S)``, the data distribution with the selector left out: (accuracy, mean
    probability of the true label). When labels tie, the predictor guesses: a fraction of a hit."""
    p_xy = defaultdict(Fraction)
    for x, y, _, p in rows:  # marginalise the selector out: P(x, y)
        p_xy[x, y] += p
    hits, prob_true = Fraction(0), Fraction(0)
    for x, y, s, p in rows:
        posterior = defaultdict(Fraction)
        for (x2, y2), q in p_xy.items():
            if content(x2, s) == content(x, s):
                posterior[y2] += q
        best = max(posterior.values())
        winners = [label for label, q in posterior.items() if q == best]
        hits += p * Fraction(int(y in winners), len(winners))
        prob_true += p * posterior[y] / sum(posterior.values())
    total = _total(rows)
    return hits / total, prob_true / total


def _marginals(rows):
    p_y, p_s, p_sy = defaultdict(Fraction), defaultdict(Fraction), defaultdict(Fraction)
    for _, y, s, p in rows:
        p_y[y] += p
        p_s[s] += p
        p_sy[s, y] += p
    return p_y, p_s, p_sy


def mask_information_bits(rows) -> float:
    """``I(Y; M)`` in bits: what the selected positions alone say about the label."""
    total = _total(rows)
    p_y, p_s, p_sy = _marginals(rows)
    return sum(float(p / total) * math.log2(p * total / (p_s[s] * p_y[y])) for (s, y), p in p_sy.items() if p > 0)


def weight_by_label_given_mask(rows) -> list[tuple]:
    """The rows, each probability multiplied by ``P(y) / P(y | m) = P(y) P(m) / P(y, m)``: under these
    weights the label and the selected positions are independent (where both occur together)."""
    p_y, p_s, p_sy = _marginals(rows)
    return [(x, y, s, p * p_y[y] * p_s[s] / p_sy[s, y]) for x, y, s, p in rows]


def measure_world(rows) -> dict[str, float]:
    """The five numbers of chapter 2's exact table, keyed as its results: the best joint reader's accuracy
    and probability of the true label, the evaluator's, and ``I(Y; M)`` in bits."""
    (joint_accuracy, joint_prob), (eval_accuracy, eval_prob) = best_reader(rows), evaluator(rows)
    return {
        "joint_accuracy": float(joint_accuracy),
        "joint_prob_true": float(joint_prob),
        "evaluator_accuracy": float(eval_accuracy),
        "evaluator_prob_true": float(eval_prob),
        "mask_bits": mask_information_bits(rows),
    }


# --------------------------------------------------------------------------------------------------
# A sampled world and readers trained by gradient descent
# --------------------------------------------------------------------------------------------------

POSITIVE = ("good", "great", "fun", "moving")
NEGATIVE = ("bad", "dull", "awful", "messy")
NO_SENTIMENT = ("movie", "plot", "the", "actor")


class SampledWorld:
    """Inputs of ``n_positions`` tokens: ``A`` and ``B`` at positions 0 and 1, then words drawn uniformly
    from twelve (four positive, four negative, four without sentiment); the label says whether there are
    more positive or more negative words (a coin decides ties).

    ``seed``: an int, or a :class:`numpy.random.Generator` to continue (every draw — inputs, ties, random
    masks — comes from this one generator, in the order of the calls). Token ids index :attr:`vocab`;
    a selection is one position per input.
    """

    SELECTORS = ("shortcut", "honest", "random")

    def __init__(self, n_positions: int = 10, seed: int | np.random.Generator = 0):
        if n_positions < 3:
            raise ValueError(f"n_positions must be >= 3 (A, B and at least one word), got {n_positions}")
        self.n_positions = n_positions
        self.rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        self.vocab = ["A", "B", *POSITIVE, *NEGATIVE, *NO_SENTIMENT]
        self.polarity = np.array([0, 0] + [1] * len(POSITIVE) + [-1] * len(NEGATIVE) + [0] * len(NO_SENTIMENT))

    def sample(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """``n`` inputs (token ids ``(n, n_positions)``) and their labels ``(n,)``."""
        words = self.rng.integers(2, len(self.vocab), size=(n, self.n_positions - 2))
        ids = np.concatenate([np.zeros((n, 1), int), np.ones((n, 1), int), words], axis=1)
        score = self.polarity[words].sum(1)
        return ids, np.where(score > 0, 1, np.where(score < 0, 0, self.rng.integers(0, 2, n)))

    def select(self, selector: str, ids: np.ndarray, y: np.ndarray) -> np.ndarray:
        """The position each input's selection picks: ``"shortcut"`` (0 for label 1, 1 for label 0),
        ``"honest"`` (the first word whose polarity agrees with the label; position 2 in the rare ties
        without one) or ``"random"`` (uniform, whatever the input)."""
        if selector == "shortcut":
            return np.where(y == 1, 0, 1)
        if selector == "honest":
            agree = self.polarity[ids] == np.where(y == 1, 1, -1)[:, None]
            return np.where(agree.any(1), agree.argmax(1), 2)
        if selector == "random":
            return self.rng.integers(0, self.n_positions, len(y))
        raise ValueError(f"unknown selector {selector!r}; choose one of {self.SELECTORS}")

    def features(self, ids: np.ndarray, position: np.ndarray) -> torch.Tensor:
        """One-hot of the selected token, then one-hot of its position: all a reader of ``(x ⊙ m, m)`` sees."""
        rows = np.arange(len(ids))
        out = np.zeros((len(ids), len(self.vocab) + self.n_positions), np.float32)
        out[rows, ids[rows, position]] = 1.0
        out[rows, len(self.vocab) + position] = 1.0
        return torch.from_numpy(out)

    def feature_names(self) -> list[str]:
        """The names of the columns of :meth:`features`."""
        return [f"token {t}" for t in self.vocab] + [f"position {p}" for p in range(self.n_positions)]


def train_reader(x: torch.Tensor, y, *, steps: int = 400, lr: float = 0.1) -> torch.nn.Linear:
    """Logistic regression of ``y`` on the features ``x`` by full-batch Adam from zero weights (so the
    result does not depend on an initialisation)."""
    reader = torch.nn.Linear(x.shape[1], 1)
    torch.nn.init.zeros_(reader.weight)
    torch.nn.init.zeros_(reader.bias)
    optimiser = torch.optim.Adam(reader.parameters(), lr=lr)
    target = torch.as_tensor(y, dtype=torch.float32)
    for _ in range(steps):
        optimiser.zero_grad()
        torch.nn.functional.binary_cross_entropy_with_logits(reader(x).squeeze(1), target).backward()
        optimiser.step()
    return reader


def prob_of_truth(reader: torch.nn.Module, x: torch.Tensor, y) -> float:
    """The mean probability the reader gives the true label (a reader at p = 0.5 scores 0.5, whatever the
    sign of its tiny errors)."""
    with torch.no_grad():
        p1 = torch.sigmoid(reader(x).squeeze(1)).numpy()
    return float(np.where(np.asarray(y) == 1, p1, 1 - p1).mean())
