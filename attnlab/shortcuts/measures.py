"""Measuring combinatorial shortcuts: does a mask carry the label by *where* it points?

Four measurements, each answering one question about a model's masks (attention weights or hard
selections, ``(N, T)`` tensors summing to 1 over real tokens):

* :func:`neutral_mass` — how much of the mask sits on tokens that carry no label information?
  (:func:`mean_by_group` splits it by label or by input case.)
* :func:`mask_only_probe` — can a small classifier predict the label from the mask *alone*, on held-out
  data? If so, the mask itself is a code for the label (:func:`train_mask_probe` gives the classifier).
* :func:`rationale_precision_recall` — does the top of the mask hit the planted rationale?
* :func:`posthoc_accuracy` — does the *content* the mask selects determine the label for an independent
  evaluator that was trained on random masks (and so cannot have learned the code)? Compared with the
  jointly trained model's accuracy, the gap is what the shortcut adds.

:func:`one_token_probs` says what a mask model's predictor answers when shown a single token alone, and
:func:`best_single_token_accuracy` how far the most telling single token of each input gets it.
:mod:`attnlab.shortcuts.runs` takes all of them on a trained model at once (``measure``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from torch import nn

from .. import validate


def _masks(name: str, attention: torch.Tensor) -> torch.Tensor:
    """A finite, non-negative ``(N, T)`` mask."""
    validate.tensor(name, attention)
    if attention.dim() != 2:
        raise ValueError(f"{name} must have shape (N, T), got {tuple(attention.shape)}")
    validate.finite(name, attention)
    if bool((attention.detach() < 0).any()):
        raise ValueError(f"{name} has negative entries; a mask or attention vector is non-negative")
    return attention


def _bool_like(name: str, value: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    validate.tensor(name, value)
    if value.shape != like.shape or value.dtype != torch.bool:
        raise ValueError(
            f"{name} must be a bool tensor of shape {tuple(like.shape)}, got {value.dtype} {tuple(value.shape)}"
        )
    return value


def neutral_mass(attention: torch.Tensor, neutral: torch.Tensor) -> torch.Tensor:
    """Per sequence, the share of the mask on neutral positions ``(N,)``."""
    _masks("attention", attention)
    validate.tensor("neutral", neutral)
    if attention.shape != neutral.shape:
        raise ValueError(f"attention {tuple(attention.shape)} and neutral {tuple(neutral.shape)} differ in shape")
    return (attention * neutral).sum(1)


def mean_by_group(values: torch.Tensor, groups) -> pd.Series:
    """Mean of a per-sequence measurement within each group (e.g. label, or which keys are present)."""
    values, groups = np.asarray(values, dtype=float), np.asarray(groups)
    if values.ndim != 1 or values.shape != groups.shape:
        raise ValueError(f"need one group per value, got {values.shape} values and {groups.shape} groups")
    frame = pd.DataFrame({"value": values, "group": groups})
    return frame.groupby("group")["value"].mean()


def top_k_mask(attention: torch.Tensor, mask: torch.Tensor, k: int) -> torch.Tensor:
    """Bool ``(N, T)``: the ``k`` real positions with the largest mask value in each row."""
    k = validate.integer("k", k, minimum=1)
    _masks("attention", attention)
    _bool_like("mask", mask, attention)
    k = min(k, attention.shape[1])
    top = attention.masked_fill(~mask, float("-inf")).topk(k, dim=1).indices
    return torch.zeros_like(mask).scatter(1, top, True) & mask


def rationale_precision_recall(
    attention: torch.Tensor, rationale: torch.Tensor, mask: torch.Tensor, k: int
) -> tuple[float, float]:
    """Precision@k and recall@k of the mask's top k positions against the planted rationale.

    Averaged over the sequences that have a rationale (sequences without one have nothing to find).
    """
    top = top_k_mask(attention, mask, k)
    _bool_like("rationale", rationale, attention)
    has = rationale.any(1)
    if not bool(has.any()):
        raise ValueError("no sequence has a rationale: precision and recall are undefined")
    hits = (top & rationale).sum(1).float()
    precision = hits / top.sum(1).clamp_min(1)
    recall = hits / rationale.sum(1).clamp_min(1)
    return float(precision[has].mean()), float(recall[has].mean())


def train_mask_probe(
    masks: torch.Tensor,
    labels: torch.Tensor,
    *,
    width: int | None = None,
    hidden: int = 64,
    steps: int = 300,
    seed: int = 0,
):
    """Train a small MLP that predicts the label from a mask alone; returns ``probs(masks) -> (N, C)``.

    The probe sees the mask as a vector over positions (zero-padded to ``width``) and nothing about the
    tokens. Used by :func:`mask_only_probe` (is the mask a code?) and by instance weighting
    (:mod:`attnlab.shortcuts.mitigations`, which needs P(y | m)).
    """
    _masks("masks", masks)
    if len(masks) != len(labels):
        raise ValueError(f"{len(masks)} masks but {len(labels)} labels")
    if len(masks) == 0:
        raise ValueError("no masks to train the probe on")
    validate.class_labels("labels", labels, int(labels.max()) + 1 if labels.numel() else 1, len(masks))
    validate.integer("hidden", hidden, minimum=1)
    validate.integer("steps", steps, minimum=1)
    width = masks.shape[1] if width is None else validate.integer("width", width, minimum=1)
    if masks.shape[1] > width:
        raise ValueError(f"masks are {masks.shape[1]} positions wide, more than width={width}")
    # the probe is a small CPU model: masks from any device are read on the CPU
    pad = lambda m: nn.functional.pad(m.detach().float().cpu(), (0, width - m.shape[1]))  # noqa: E731
    x, labels = pad(masks), labels.cpu()
    n_classes = int(labels.max()) + 1
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    probe = nn.Sequential(nn.Linear(width, hidden), nn.ReLU(), nn.Linear(hidden, n_classes))
    optimiser = torch.optim.Adam(probe.parameters(), lr=1e-2)
    for _ in range(steps):
        idx = torch.randint(len(x), (min(512, len(x)),), generator=gen)
        optimiser.zero_grad()
        nn.functional.cross_entropy(probe(x[idx]), labels[idx]).backward()
        optimiser.step()

    @torch.no_grad()
    def probs(new_masks: torch.Tensor) -> torch.Tensor:
        if new_masks.shape[1] > width:
            raise ValueError(f"masks are {new_masks.shape[1]} positions wide; the probe was trained on {width}")
        return probe(pad(new_masks)).softmax(-1).to(new_masks.device)

    return probs


def mask_only_probe(
    train_masks: torch.Tensor,
    train_labels: torch.Tensor,
    test_masks: torch.Tensor,
    test_labels: torch.Tensor,
    *,
    hidden: int = 64,
    steps: int = 300,
    seed: int = 0,
) -> float:
    """Held-out accuracy of a small MLP that predicts the label from the mask alone.

    Chance level is the majority-class share; a probe far above it means the mask encodes the label
    by where it points.
    """
    if len(test_masks) != len(test_labels):
        raise ValueError(f"{len(test_masks)} test masks but {len(test_labels)} test labels")
    _masks("test_masks", test_masks)
    width = max(train_masks.shape[1], test_masks.shape[1])
    probs = train_mask_probe(train_masks, train_labels, width=width, hidden=hidden, steps=steps, seed=seed)
    return float((probs(test_masks).argmax(-1) == test_labels).float().mean())


def uniform_over(selected: torch.Tensor) -> torch.Tensor:
    """A mask that spreads weight 1 evenly over the ``selected`` positions of each row."""
    weights = selected.float()
    return weights / weights.sum(1, keepdim=True).clamp_min(1)


def random_k_subsets(mask: torch.Tensor, k: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Uniform masks over ``k`` positions drawn at random, independently of the input (EVAL-X style)."""
    validate.tensor("mask", mask)
    if mask.dtype != torch.bool:
        raise ValueError(f"mask must be a bool tensor (True = real token), got {mask.dtype}")
    # drawn on the CPU (the same on every device), then moved; padding never wins
    keys = torch.rand(mask.shape, generator=generator).to(mask.device).masked_fill(~mask, 0.0)
    return uniform_over(top_k_mask(keys, mask, k))


def random_k_override(k: int):
    """An ``attention=`` override that ignores the model's own mask and hands it a uniform mask over ``k``
    positions drawn at random among those it may select (how an EVAL-X evaluator is trained)."""
    k = validate.integer("k", k, minimum=1)
    return lambda weights, receivable: random_k_subsets(receivable, k)


@torch.no_grad()
def one_token_probs(model, tokens: torch.Tensor) -> torch.Tensor:
    """Class probabilities ``(..., C)`` that a mask model's predictor gives each token shown *alone*
    (a one-hot mask on it): what that token says on its own, to this predictor."""
    validate.tensor("tokens", tokens)
    if not hasattr(model, "predictor") or not hasattr(model, "embed"):
        raise TypeError(
            f"one_token_probs takes a selector-predictor model (MaskClassifier), got {type(model).__name__}"
        )
    model.eval()
    return model.predictor.head(model.embed(tokens)).softmax(-1)


def top_tokens(tokens: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
    """``(N,)``: the token id on which each row's mask puts the most weight."""
    validate.tensor("tokens", tokens)
    _masks("attention", attention)
    if tokens.shape != attention.shape:
        raise ValueError(f"tokens {tuple(tokens.shape)} and attention {tuple(attention.shape)} differ in shape")
    return tokens.gather(1, attention.argmax(1, keepdim=True)).squeeze(1)


@torch.no_grad()
def best_single_token_accuracy(evaluator, tokens: torch.Tensor, mask: torch.Tensor, labels: torch.Tensor) -> float:
    """Accuracy of ``evaluator`` shown, in every input, the one token it is most confident about (among the
    tokens its mask may select): roughly what an honest one-token explanation can pass on."""
    validate.class_labels("labels", labels, validate.n_classes_of(evaluator) or int(labels.max()) + 1, len(tokens))
    probs = one_token_probs(evaluator, tokens)  # (N, T, C)
    confidence = probs.max(-1).values.masked_fill(~evaluator.receivable(tokens, mask), -1)
    chosen = probs[torch.arange(len(tokens), device=probs.device), confidence.argmax(1)].argmax(-1)
    return float((chosen == labels).float().mean())


@torch.no_grad()
def posthoc_accuracy(
    evaluator, tokens: torch.Tensor, mask: torch.Tensor, attention: torch.Tensor, labels: torch.Tensor, k: int
) -> float:
    """Accuracy of an independent ``evaluator`` that sees only the top-k positions of ``attention``.

    The evaluator is a mask model whose predictor was trained on random k-subsets (see
    :func:`random_k_subsets`); it is handed the selected positions as a uniform mask.
    """
    validate.integer("k", k, minimum=1)
    n_classes = validate.n_classes_of(evaluator)
    validate.class_labels("labels", labels, n_classes if n_classes else int(labels.max()) + 1, len(tokens))
    evaluator.eval()
    selected = uniform_over(top_k_mask(attention, mask, k))
    logits = evaluator(tokens, mask, attention=selected).logits
    return float((logits.argmax(-1) == labels).float().mean())


@torch.no_grad()
def blackbox_posthoc_accuracy(
    black_box, tokens: torch.Tensor, mask: torch.Tensor, attention: torch.Tensor, k: int
) -> float:
    """L2X's post-hoc accuracy: how often the ``black_box``, fed only the top-k positions of ``attention``,
    predicts the same class as on the full input.

    The other tokens are deleted (order kept) rather than replaced by padding, which for the kit's
    models is the same as never having seen them.
    """
    from ..models import slice_out

    validate.integer("k", k, minimum=1)
    _bool_like("mask", mask, attention)
    black_box.eval()
    full = black_box(tokens, mask).logits.argmax(-1)
    reduced = black_box(*slice_out(tokens, top_k_mask(attention, mask, k))).logits.argmax(-1)
    return float((full == reduced).float().mean())
