"""The synthetic shortcut lab: token sequences with a planted rationale and label-independent neutral tokens.

Every sequence starts with the same *neutral* tokens (``A B C D``): they are identical in every input,
so they carry no information about the label. Then come ``n_filler`` filler tokens (drawn from
``filler_types`` meaningless types) into which *key* tokens ``X`` and ``Y`` are planted, each present
in the combinations listed by ``cases``. A label rule decides the label from the keys; the planted keys are the
ground-truth rationale.

Label rules, chosen so a learner can see when a shortcut pays and when it does not:

==========  ===========================  ===================================================
rule        label is 1 when              honest route for a linear head on pooled content?
==========  ===========================  ===================================================
keyword     X is present                 yes: attend to X
or          X or Y is present            yes: attend to the keys
and         X and Y are both present     no: (e_X + e_Y)/2 lies between e_X and e_Y
xor         exactly one of X, Y          no: XOR is not linearly separable
==========  ===========================  ===================================================

With an MLP head every rule has an honest route (attend to the keys and let the MLP combine them).

The module also puts neutral tokens in front of real sentences (:func:`with_neutral_prefix`), can
give a selector the answer as a hint token that only the selector reads (:func:`with_answer_hint`), and
wraps encoded sentences as a :class:`ShortcutTask` without a planted rationale (:func:`sentence_task`),
so that the lab's runners and measurements (:mod:`attnlab.shortcuts.runs`) treat both alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch

from .. import validate
from ..data import Batch, TextDataset, Vocab, encode, glove_embeddings

NEUTRAL_TOKENS = ("A", "B", "C", "D")
NEUTRAL_PREFIX = ("<a>", "<b>", "<c>", "<d>")  # the neutral tokens put in front of real sentences
LABEL_RULES = {
    "keyword": lambda x, y: x,
    "or": lambda x, y: x | y,
    "and": lambda x, y: x & y,
    "xor": lambda x, y: x ^ y,
}
CASES = ("none", "X only", "Y only", "both")


@dataclass
class ShortcutTask:
    """A dataset of the lab: a padded batch plus where the neutral tokens and the rationale are.

    Generated tasks (:func:`make_shortcut_task`) know their planted rationale and which keys each input
    holds; real sentences (:func:`sentence_task`) have no rationale (``None``), and their ``case`` is the
    name of their label.
    """

    batch: Batch  # tokens, mask, labels
    vocab: Vocab
    neutral: torch.Tensor  # (N, T) bool: positions of neutral tokens
    rationale: torch.Tensor | None  # (N, T) bool: positions of the planted keys (None: not known)
    case: np.ndarray  # (N,) which keys are present ("none", "X only", "Y only", "both"), or the label name
    rule: str | None  # the label rule (None for real sentences)

    def __len__(self) -> int:
        return len(self.batch)

    def __getitem__(self, index) -> ShortcutTask:
        idx = torch.arange(len(self))[index] if isinstance(index, slice) else torch.as_tensor(index)
        sub = self.batch[idx]
        width = sub.tokens.shape[1]
        rationale = None if self.rationale is None else self.rationale[idx, :width]
        return ShortcutTask(sub, self.vocab, self.neutral[idx, :width], rationale, self.case[idx.numpy()], self.rule)

    def examples(self, n: int = 8):
        """The first ``n`` inputs as a table: the sequence, its case (keys present, or class) and its label."""
        import pandas as pd

        first = self[torch.arange(min(validate.integer("n", n, minimum=1), len(self)))]
        return pd.DataFrame(
            {
                "sequence": [" ".join(self.vocab.decode(t)) for t in first.batch.tokens],
                "keys present" if self.rule else "class": first.case,
                f"label ({self.rule})" if self.rule else "label": first.batch.labels.numpy(),
            }
        )

    def with_labels(self, labels: torch.Tensor) -> ShortcutTask:
        """The same inputs with other labels (e.g. a black box's predictions, which an explainer must reproduce);
        ``case`` still describes the inputs as before."""
        labels = torch.as_tensor(labels)
        if labels.shape != (len(self),):
            raise ValueError(f"need one label per input ({len(self)}), got shape {tuple(labels.shape)}")
        batch = Batch(self.batch.tokens, self.batch.mask, labels)
        return ShortcutTask(batch, self.vocab, self.neutral, self.rationale, self.case, self.rule)


def key_names(key_types: int = 1) -> tuple[list[str], list[str]]:
    """The spellings of the X keys and the Y keys: ``X``/``Y``, or ``X0..X{n-1}``/``Y0..`` for several types."""
    key_types = validate.integer("key_types", key_types, minimum=1)
    if key_types == 1:
        return ["X"], ["Y"]
    return [f"X{i}" for i in range(key_types)], [f"Y{i}" for i in range(key_types)]


def shortcut_vocab(filler_types: int = 50, neutral=NEUTRAL_TOKENS, key_types: int = 1) -> Vocab:
    validate.integer("filler_types", filler_types, minimum=1)
    _check_neutral(neutral)
    x_names, y_names = key_names(key_types)
    return Vocab.build([], extra=[*neutral, *x_names, *y_names, *(f"f{i}" for i in range(filler_types))])


def make_shortcut_task(
    n: int,
    rule: str = "xor",
    *,
    cases=CASES,
    n_filler: int = 12,
    filler_types: int = 50,
    neutral=NEUTRAL_TOKENS,
    key_types: int = 1,
    seed: int = 0,
) -> ShortcutTask:
    """Generate ``n`` sequences ``neutral + filler`` with keys planted, labelled by ``rule``.

    ``cases`` lists which key combinations occur ("none", "X only", "Y only", "both"), each equally
    often; e.g. ``cases=("X only", "Y only")`` makes every sequence hold exactly one key. Each key that
    is present replaces one filler token at a random position, so all sequences have the same length;
    the neutral tokens always sit at the first positions. With ``key_types > 1`` each planted X is one of
    ``X0 … X{key_types-1}`` (and each Y one of ``Y0 …``), drawn uniformly: more, rarer keys make the
    honest route slower to learn.
    """
    if rule not in LABEL_RULES:
        raise ValueError(f"unknown label rule {rule!r}; choose one of {sorted(LABEL_RULES)}")
    validate.integer("n", n, minimum=1)
    validate.integer("n_filler", n_filler, minimum=2)  # room for both keys
    validate.integer("filler_types", filler_types, minimum=1)
    validate.integer("seed", seed, minimum=0)
    if isinstance(cases, str) or not cases or any(c not in CASES for c in cases):
        raise ValueError(f"cases must be a non-empty selection of {CASES}, got {cases!r}")
    vocab = shortcut_vocab(filler_types, neutral, key_types)
    rng = np.random.default_rng(seed)
    n_neutral = len(neutral)
    length = n_neutral + n_filler
    filler_ids = np.array(vocab.encode([f"f{i}" for i in range(filler_types)]))
    tokens = np.empty((n, length), dtype=np.int64)
    tokens[:, :n_neutral] = vocab.encode(list(neutral))
    tokens[:, n_neutral:] = rng.choice(filler_ids, size=(n, n_filler))
    case = np.asarray(cases)[rng.integers(len(cases), size=n)]
    has_x = (case == "X only") | (case == "both")
    has_y = (case == "Y only") | (case == "both")
    rationale = np.zeros((n, length), dtype=bool)
    x_names, y_names = key_names(key_types)
    x_ids, y_ids = np.array(vocab.encode(x_names)), np.array(vocab.encode(y_names))
    for i in range(n):  # generation only: two positions per sequence
        slots = n_neutral + rng.choice(n_filler, size=2, replace=False)
        if has_x[i]:
            tokens[i, slots[0]], rationale[i, slots[0]] = (
                x_ids[rng.integers(key_types)] if key_types > 1 else x_ids[0],
                True,
            )
        if has_y[i]:
            tokens[i, slots[1]], rationale[i, slots[1]] = (
                y_ids[rng.integers(key_types)] if key_types > 1 else y_ids[0],
                True,
            )
    labels = LABEL_RULES[rule](has_x, has_y).astype(np.int64)
    neutral_pos = np.zeros((n, length), dtype=bool)
    neutral_pos[:, :n_neutral] = True
    batch = Batch(torch.from_numpy(tokens), torch.ones(n, length, dtype=torch.bool), torch.from_numpy(labels))
    return ShortcutTask(batch, vocab, torch.from_numpy(neutral_pos), torch.from_numpy(rationale), case, rule)


def task_splits(rule: str, sizes, *, first_seed: int = 0, **options) -> list[ShortcutTask]:
    """One task per size (e.g. train, dev, test), each generated with its own seed ``first_seed + i``,
    so the splits hold different sequences. ``options`` go to :func:`make_shortcut_task` (``cases`` ...)."""
    sizes = list(sizes)
    if not sizes:
        raise ValueError("sizes must list at least one split size, e.g. (4000, 1000, 2000)")
    return [make_shortcut_task(n, rule, seed=first_seed + i, **options) for i, n in enumerate(sizes)]


def sentence_task(batch: Batch, vocab: Vocab, label_names, neutral=NEUTRAL_PREFIX) -> ShortcutTask:
    """Encoded real sentences as a lab task: the ``neutral`` tokens are found by id, there is no planted
    rationale, and the ``case`` of a sentence is the name of its label (so measurements by case are by class)."""
    if not isinstance(batch, Batch) or batch.labels is None:
        raise TypeError(f"sentence_task takes a labelled Batch (see attnlab.data.encode), got {type(batch).__name__}")
    _check_neutral(neutral)
    label_names = list(label_names)
    if int(batch.labels.max()) >= len(label_names):
        raise ValueError(f"label {int(batch.labels.max())} has no name: got the names {label_names}")
    missing = [token for token in neutral if token not in vocab]
    if missing:
        raise ValueError(
            f"the neutral tokens {missing} are not in the vocabulary: build it from sentences that "
            "carry them (see with_neutral_prefix)"
        )
    on_neutral = torch.isin(batch.tokens, torch.tensor(vocab.encode(list(neutral)))) & batch.mask
    case = np.asarray(label_names, dtype=object)[batch.labels.numpy()]
    return ShortcutTask(batch, vocab, on_neutral, None, case, None)


class SentenceLab(NamedTuple):
    """Real sentences as lab tasks: the splits, their shared vocabulary and GloVe embeddings for it."""

    train: ShortcutTask
    dev: ShortcutTask
    test: ShortcutTask
    vocab: Vocab
    embeddings: torch.Tensor


def sentence_lab(parts, *, seed: int = 0, neutral=NEUTRAL_PREFIX) -> SentenceLab:
    """Train, dev and test sentences (``TextDataset`` s that carry the ``neutral`` tokens, see
    :func:`with_neutral_prefix`) encoded with a vocabulary built from the training split, with GloVe
    vectors for it (unknown words get vectors seeded by ``seed``)."""
    parts = list(parts)
    if len(parts) != 3 or not all(isinstance(part, TextDataset) for part in parts):
        raise TypeError("sentence_lab takes three TextDatasets: train, dev and test (e.g. load_sentiment())")
    vocab = Vocab.build(parts[0].tokens)
    embeddings, _ = glove_embeddings(vocab, seed=seed)
    train, dev, test = (sentence_task(encode(part, vocab), vocab, part.label_names, neutral) for part in parts)
    return SentenceLab(train, dev, test, vocab, embeddings)


def _check_neutral(tokens) -> None:
    if isinstance(tokens, str) or not tokens or not all(isinstance(t, str) and t and " " not in t for t in tokens):
        raise ValueError(
            f"neutral tokens must be a non-empty list of single tokens (strings without spaces), got {tokens!r}"
        )


def with_neutral_prefix(dataset: TextDataset, prefix=NEUTRAL_PREFIX) -> TextDataset:
    """The same sentences with the same neutral tokens put in front of every one of them.

    The prefix tokens are not words, and being identical everywhere they carry no label information.
    """
    if not isinstance(dataset, TextDataset):
        raise TypeError(f"with_neutral_prefix takes a TextDataset, got {type(dataset).__name__}")
    _check_neutral(prefix)
    return TextDataset(
        texts=[" ".join(prefix) + " " + t for t in dataset.texts],
        tokens=[list(prefix) + toks for toks in dataset.tokens],
        labels=dataset.labels,
        label_names=dataset.label_names,
        ratings=dataset.ratings,
    )


def hint_tokens(label_names) -> list[str]:
    """The hint token of every class, in label order (``<hint:positive>`` for class "positive")."""
    return [f"<hint:{name}>" for name in label_names]


def with_answer_hint(dataset: TextDataset) -> TextDataset:
    """The same sentences with a first token that names their label (e.g. ``<hint:positive>``).

    Meant for a :class:`~attnlab.models.MaskClassifier` built with ``selector_only_ids`` set to the
    hint tokens' ids: the selector then *knows* the answer, but the predictor can only learn it from
    what the mask selects among the real tokens. This is the limit case of a selector that understands
    the input better than any few words can show.
    """
    if not isinstance(dataset, TextDataset):
        raise TypeError(f"with_answer_hint takes a TextDataset, got {type(dataset).__name__}")
    hints = hint_tokens(dataset.label_names)
    bad = [label for label in dataset.labels if not 0 <= int(label) < len(hints)]
    if bad:
        raise ValueError(
            f"label {bad[0]} has no name: the dataset names {len(hints)} classes {list(dataset.label_names)}"
        )
    return TextDataset(
        texts=[f"{hints[label]} {text}" for label, text in zip(dataset.labels, dataset.texts)],
        tokens=[[hints[label]] + toks for label, toks in zip(dataset.labels, dataset.tokens)],
        labels=dataset.labels,
        label_names=dataset.label_names,
        ratings=dataset.ratings,
    )
