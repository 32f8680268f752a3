"""The shortcut lab's runners and measurement tables, shared by chapters 3 and 4.

A lab experiment is always the same few steps: build a mask model from a seed, train it by one
procedure (joint training, or one of the mitigations and their ablations), take the shortcut
measurements on held-out data, and repeat over seeds. :func:`run_lab` does exactly that and returns one
table row per trained model (plus the models and their test masks); :func:`seed_summary` turns a table
into "mean ± standard deviation over seeds".

The measurements (:func:`measure`), for a model's test-time masks:

* ``accuracy``: of the model itself;
* ``neutral mass`` (and, with ``by_case``, ``neutral mass | <case>`` for every case or class);
* ``mask-only probe``: held-out accuracy of a classifier that sees only the masks;
* ``rationale precision@k``: when the task has a planted rationale;
* ``post-hoc accuracy``: with an ``evaluator`` trained on random k-subsets (:func:`train_evaluator`);
* ``post-hoc accuracy (black box)``: L2X's measure, with a ``black_box``.

Two training helpers serve the runners and the chapters: :func:`train_variant` names every training
procedure of the lab, and :func:`train_on_masks` trains a model's predictor on masks computed from the
*tokens* (e.g. the planted rationale). The model's ``attention=`` override only receives the
selector's weights and the positions it may select, not the tokens, so :class:`WithMasks` wraps the
model to hand it such masks; an override that received the tokens would make the wrapper unnecessary.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd
import torch
from torch import nn

from .. import validate
from ..data import Batch
from ..models import MaskClassifier
from ..train import accuracy, fit, set_seed
from .lab import ShortcutTask
from .measures import (
    blackbox_posthoc_accuracy,
    mask_only_probe,
    mean_by_group,
    neutral_mass,
    posthoc_accuracy,
    random_k_override,
    rationale_precision_recall,
)
from .mitigations import explore, instance_weighting, random_attention_pretraining

#: Every training procedure of the lab, by name (:func:`train_variant`).
VARIANTS = ("joint", "random pretraining", "instance weighting", "exploration only", "weights without exploration")


def seeded_mask_model(seed: int, vocab, **config) -> MaskClassifier:
    """A fresh :class:`~attnlab.models.MaskClassifier` for ``vocab`` whose initial weights are fixed by
    ``seed``; ``config`` goes to its constructor (``head``, ``selection``, ``k``, ``embeddings`` ...)."""
    set_seed(validate.integer("seed", seed, minimum=0))
    return MaskClassifier(len(vocab), **config)


def train_variant(
    variant: str,
    model: MaskClassifier,
    train: Batch,
    dev: Batch | None = None,
    *,
    epochs: int,
    joint_epochs: int | None = None,
    pretrain_epochs: int | None = None,
    selector_epochs: int | None = None,
    seed: int = 0,
    **fit_kwargs,
) -> MaskClassifier:
    """Train ``model`` by one of the lab's procedures (:data:`VARIANTS`) and return it in eval mode.

    ``epochs`` is the budget of instance weighting and its ablations; joint training uses
    ``joint_epochs`` and random pretraining ``pretrain_epochs`` for the predictor on random masks and
    ``selector_epochs`` for the selector against it (defaults: ``epochs``, half of ``epochs`` and
    ``epochs``). ``fit_kwargs`` (lr, batch_size, patience, stop_when_perfect ...) go to every
    :func:`~attnlab.train.fit` call.
    """
    if variant not in VARIANTS:
        raise ValueError(f"unknown training variant {variant!r}; choose one of {list(VARIANTS)}")
    epochs = validate.integer("epochs", epochs, minimum=1)
    fit_kwargs = {"progress": False, **fit_kwargs, "seed": seed}
    if variant == "joint":
        fit(model, train, dev, epochs=joint_epochs or epochs, **fit_kwargs)
    elif variant == "random pretraining":
        random_attention_pretraining(
            model,
            train,
            dev,
            pretrain_epochs=pretrain_epochs or max(1, epochs // 2),
            selector_epochs=selector_epochs or epochs,
            **fit_kwargs,
        )
    elif variant == "instance weighting":
        instance_weighting(model, train, dev, epochs=epochs, **fit_kwargs)
    elif variant == "exploration only":  # ablation: random masks, no weights
        fit(model, train, dev, epochs=epochs, forward_kwargs={"attention": explore(model, 0.5)}, **fit_kwargs)
    else:  # "weights without exploration", ablation: no positivity
        instance_weighting(model, train, dev, epochs=epochs, exploration=0.0, **fit_kwargs)
    return model.eval()


class WithMasks(nn.Module):
    """``model`` fed the masks ``mask_fn(tokens, mask)`` instead of its selector's: a model that
    :func:`~attnlab.train.fit` and :func:`~attnlab.train.accuracy` accept like any other.

    Only the predictor is used (a mask given as a tensor bypasses the selector), so training the
    wrapper trains the predictor alone.
    """

    def __init__(self, model: MaskClassifier, mask_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]):
        super().__init__()
        if not isinstance(model, MaskClassifier):
            raise TypeError(f"WithMasks wraps a MaskClassifier, got {type(model).__name__}")
        if not callable(mask_fn):
            raise TypeError("mask_fn must be a function (tokens, mask) -> (B, T) masks")
        self.model, self.mask_fn = model, mask_fn
        self.n_classes = model.config["n_classes"]

    def forward(self, tokens, mask, **kwargs):
        return self.model(tokens, mask, attention=self.mask_fn(tokens, mask), **kwargs)


def train_on_masks(
    model: MaskClassifier, train: Batch, mask_fn, *, epochs: int, seed: int = 0, **fit_kwargs
) -> MaskClassifier:
    """Train the predictor of ``model`` on the masks ``mask_fn(tokens, mask)`` (see :class:`WithMasks`)."""
    fit(WithMasks(model, mask_fn), train, epochs=epochs, seed=seed, **{"progress": False, **fit_kwargs})
    return model.eval()


def train_evaluator(
    model: MaskClassifier, train: Batch, k: int, *, epochs: int, seed: int = 0, **fit_kwargs
) -> MaskClassifier:
    """Train ``model`` as an independent evaluator (EVAL-X): on uniform masks over ``k`` positions drawn at
    random, independently of the input, so it learns what content says and cannot know any code."""
    fit(
        model,
        train,
        epochs=epochs,
        seed=seed,
        forward_kwargs={"attention": random_k_override(k)},
        **{"progress": False, **fit_kwargs},
    )
    return model.eval()


@torch.no_grad()
def model_masks(model: MaskClassifier, data: Batch, batch_size: int = 512) -> torch.Tensor:
    """The selector's test-time masks for every row of ``data``, ``(N, T)``."""
    if not isinstance(model, MaskClassifier):
        raise TypeError(f"model_masks takes a MaskClassifier (selector + predictor), got {type(model).__name__}")
    if not isinstance(data, Batch):
        raise TypeError(f"model_masks takes a Batch, got {type(data).__name__}")
    validate.integer("batch_size", batch_size, minimum=1)
    model.eval()
    width = data.tokens.shape[1]
    parts = []
    for start in range(0, len(data), batch_size):
        part = data[start : start + batch_size]
        masks = model.mask_of(part.tokens, part.mask)
        parts.append(torch.nn.functional.pad(masks, (0, width - masks.shape[1])))
    return torch.cat(parts)


def measure(
    model: MaskClassifier,
    train: ShortcutTask,
    test: ShortcutTask,
    *,
    k: int = 1,
    evaluator=None,
    black_box=None,
    by_case: bool = False,
    probe: bool = True,
    probe_rows: int | None = None,
    probe_seed: int = 0,
    masks: torch.Tensor | None = None,
) -> dict[str, float]:
    """The shortcut measurements of a trained mask model (see the module docstring), as one table row.

    The mask-only probe learns from the masks of ``train`` (its first ``probe_rows`` inputs, if given)
    and is scored on ``test``. ``k`` is how many top positions rationale precision and post-hoc accuracy
    look at. ``masks`` are the model's test masks if already computed.
    """
    for name, task in (("train", train), ("test", test)):
        if not isinstance(task, ShortcutTask):
            raise TypeError(
                f"{name} must be a ShortcutTask (make_shortcut_task or sentence_task), got {type(task).__name__}"
            )
    k = validate.integer("k", k, minimum=1)
    data = test.batch
    masks = model_masks(model, data) if masks is None else masks
    mass = neutral_mass(masks, test.neutral)
    row = {"accuracy": accuracy(model, data), "neutral mass": float(mass.mean())}
    if by_case:
        row.update({f"neutral mass | {case}": float(v) for case, v in mean_by_group(mass, test.case).items()})
    if probe:
        seen = train if probe_rows is None else train[: validate.integer("probe_rows", probe_rows, minimum=1)]
        row["mask-only probe"] = mask_only_probe(
            model_masks(model, seen.batch), seen.batch.labels, masks, data.labels, seed=probe_seed
        )
    if test.rationale is not None:
        row[f"rationale precision@{k}"] = rationale_precision_recall(masks, test.rationale, data.mask, k)[0]
    if evaluator is not None:
        row["post-hoc accuracy"] = posthoc_accuracy(evaluator, data.tokens, data.mask, masks, data.labels, k)
    if black_box is not None:
        row["post-hoc accuracy (black box)"] = blackbox_posthoc_accuracy(black_box, data.tokens, data.mask, masks, k)
    return row


@dataclass
class LabRuns:
    """What :func:`run_lab` trained: one table row per model, the models and their test masks, both by
    ``(variant, seed)``."""

    table: pd.DataFrame
    models: dict = field(default_factory=dict)
    masks: dict = field(default_factory=dict)


def run_lab(
    tasks,
    seeds,
    *,
    variants=("joint",),
    model: dict | None = None,
    label: dict | None = None,
    k: int = 1,
    evaluator=None,
    black_box=None,
    by_case: bool = False,
    probe: bool = True,
    probe_rows: int | None = None,
    probe_seed: int | None = None,
    **training,
) -> LabRuns:
    """Train one model per seed and variant on ``tasks`` = (train, dev, test) or (train, test), and measure it.

    Every model starts from :func:`seeded_mask_model` with the constructor arguments ``model`` and its
    seed, is trained by :func:`train_variant` (``training``: epochs, lr, batch_size ...) and measured by
    :func:`measure` (``k``, ``evaluator``, ``black_box``, ``by_case``, ``probe``, ``probe_rows``;
    the probe's seed is ``probe_seed``, or the run's seed when None). ``label`` adds fixed columns to every
    row (e.g. ``{"setting": "XOR, linear head"}``).
    """
    tasks = list(tasks)
    if (
        len(tasks) not in (2, 3)
        or not all(isinstance(t, ShortcutTask) for t in tasks if t is not None)
        or tasks[0] is None
        or tasks[-1] is None
    ):
        raise ValueError("tasks must be (train, dev, test) or (train, test) ShortcutTasks (dev may be None)")
    train, dev, test = tasks if len(tasks) == 3 else (tasks[0], None, tasks[1])
    seeds = [validate.integer("seed", seed, minimum=0) for seed in seeds]
    if not seeds:
        raise ValueError("run_lab needs at least one seed")
    bad = [v for v in variants if v not in VARIANTS] if not isinstance(variants, str) else [variants]
    if bad or not variants:
        raise ValueError(f"variants must be a non-empty list drawn from {list(VARIANTS)}, got {variants!r}")
    runs = LabRuns(pd.DataFrame())
    rows = []
    for seed in seeds:
        for variant in variants:
            net = seeded_mask_model(seed, train.vocab, **(model or {}))
            train_variant(variant, net, train.batch, None if dev is None else dev.batch, seed=seed, **training)
            masks = model_masks(net, test.batch)
            rows.append(
                {
                    **(label or {}),
                    "variant": variant,
                    "seed": seed,
                    **measure(
                        net,
                        train,
                        test,
                        k=k,
                        evaluator=evaluator,
                        black_box=black_box,
                        by_case=by_case,
                        probe=probe,
                        probe_rows=probe_rows,
                        probe_seed=seed if probe_seed is None else probe_seed,
                        masks=masks,
                    ),
                }
            )
            runs.models[variant, seed], runs.masks[variant, seed] = net, masks
    runs.table = pd.DataFrame(rows)
    return runs


def seed_summary(frame: pd.DataFrame, by="variant", digits: int = 3) -> pd.DataFrame:
    """ "mean ± standard deviation" over the seeds of every measurement, one column per group of ``by``."""
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"seed_summary takes a DataFrame (e.g. run_lab(...).table), got {type(frame).__name__}")
    by = [by] if isinstance(by, str) else list(by)
    missing = [name for name in by if name not in frame.columns]
    if missing:
        raise ValueError(f"the table has no column {missing[0]!r}; its columns: {list(frame.columns)}")
    numbers = [c for c in frame.columns if c not in by and c != "seed" and pd.api.types.is_numeric_dtype(frame[c])]
    groups = frame.groupby(by, sort=False)[numbers]
    mean, std = groups.mean().round(digits), groups.std().round(digits)
    return (mean.astype(str) + " ± " + std.astype(str)).T


def majority_share(labels: torch.Tensor) -> float:
    """The share of the most frequent label: the accuracy of always guessing it (chance for a probe)."""
    labels = torch.as_tensor(labels)
    if labels.numel() == 0:
        raise ValueError("no labels: the majority share is undefined")
    return float(torch.bincount(labels).max()) / labels.numel()


__all__ = [
    "VARIANTS",
    "LabRuns",
    "WithMasks",
    "majority_share",
    "measure",
    "model_masks",
    "run_lab",
    "seed_summary",
    "seeded_mask_model",
    "train_evaluator",
    "train_on_masks",
    "train_variant",
]
