"""Two ways to take the label out of the mask (Bai et al. 2021), for :class:`~attnlab.models.MaskClassifier`.

A jointly trained selector + predictor fits E[Y | X⊙M, M]: the predictor may read the label from *where*
the mask points (a combinatorial shortcut). Importance needs E[Y | X_S = x_S] — what the selected content
says when the selection carries no information of its own, as if it had been drawn at random.

**Random attention pretraining** (:func:`random_attention_pretraining`). Train the predictor first on masks
drawn *independently of the input* (random attention distributions for soft attention, random k-subsets
for a hard selector). A mask that is independent of X is independent of Y, so the only thing the
predictor can learn is what content says about the label: it estimates E[Y | X_S = x_S]. Then freeze it
and train the selector against it. A selector can no longer be rewarded for a code the predictor
never learned to read; it is rewarded for pointing at content that the predictor finds informative.
Optionally the predictor is fine-tuned afterwards (a few epochs let a code creep back in).

**Instance weighting** (:func:`instance_weighting`). Keep joint training but re-weight the examples so
that, in the weighted data, the mask carries no information about the label. With weights

    w(m, y) = P(y) / P(y | m)

the weighted joint distribution of (M, Y) is p(m, y) · P(y) / P(y | m) = p(m) · P(y): mask and label
are independent, exactly as if masks had been assigned at random (inverse propensity weighting, with the
mask as the treatment). The predictor then gains nothing, on the weighted data, from reading the mask's
position pattern. P(y | m) is unknown; :func:`instance_weights` estimates it with a small classifier
that sees only the mask (:func:`attnlab.shortcuts.train_mask_probe`), *cross-fitted* (each half of the
data is weighted by a probe trained on the other half, so the probe's own over-fitting does not make
every example look perfectly predicted), clips it from below (a few examples with tiny P̂(y | m) would
otherwise dominate the loss) and normalises the weights to mean 1. The masks change during training, so
the weights are recomputed at the start of every epoch.

Both mitigations need an *honest route*: content that, once selected, predicts the label. Where there
is none (e.g. XOR with a linear head) the frozen predictor or the re-weighted loss leaves the selector
nothing honest to find, and the chapter "Fixing the shortcut" shows what happens then.
"""

from __future__ import annotations

import torch

from .. import validate
from ..data import Batch
from ..models import MaskClassifier
from ..train import History, fit
from .measures import random_k_override, train_mask_probe


def random_attention(
    mask: torch.Tensor, *, scale: float = 2.0, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Random attention distributions over the real tokens, drawn independently of the input.

    ``softmax(scale · z)`` with z ~ N(0, 1) per position: ``scale`` sets how peaked they are (0 gives
    uniform attention; 2 gives a few dominant tokens, like trained attention).
    """
    validate.number("scale", scale, minimum=0.0)
    validate.tensor("mask", mask)
    if mask.dtype != torch.bool or mask.dim() != 2:
        raise ValueError(f"mask must be a bool (N, T) tensor, got {mask.dtype} {tuple(mask.shape)}")
    if not bool(mask.any(1).all()):
        raise ValueError("every row of mask needs at least one position that may receive attention")
    z = torch.randn(mask.shape, generator=generator).to(mask.device) * scale  # cpu: drawn there, same on every device
    return z.masked_fill(~mask, float("-inf")).softmax(-1)


def random_masks_for(model: MaskClassifier, *, scale: float = 2.0):
    """An ``attention=`` override for ``model`` that ignores the selector and draws random masks of the
    model's own kind: random attention (soft) or uniform masks over random k-subsets (hard)."""
    _require_mask_classifier(model)
    validate.number("scale", scale, minimum=0.0)
    if model.config["selection"] == "soft":
        return lambda weights, receivable: random_attention(receivable, scale=scale)
    return random_k_override(model.config["k"])


def _check_clip(clip) -> None:
    validate.number("clip", clip)
    if not 0 < clip <= 1:
        raise ValueError(f"clip must be in (0, 1], got {clip}")


def _require_mask_classifier(model) -> None:
    if not isinstance(model, MaskClassifier):
        raise TypeError(f"the mitigations apply to a MaskClassifier (selector + predictor), got {type(model).__name__}")


def _set_trainable(module: torch.nn.Module, trainable: bool) -> None:
    for parameter in module.parameters():
        parameter.requires_grad_(trainable)


def random_attention_pretraining(
    model: MaskClassifier,
    train: Batch,
    dev: Batch | None = None,
    *,
    pretrain_epochs: int = 10,
    selector_epochs: int = 10,
    finetune_epochs: int = 0,
    scale: float = 2.0,
    **fit_kwargs,
) -> dict[str, History]:
    """Train ``model`` in the order of the mitigation: predictor on random masks → selector against the
    frozen predictor → (optionally) both together for ``finetune_epochs``.

    ``fit_kwargs`` (lr, batch_size, seed, patience, ...) are passed to every :func:`~attnlab.train.fit`
    call. Returns the three training histories.
    """
    _require_mask_classifier(model)
    validate.integer("pretrain_epochs", pretrain_epochs, minimum=1)
    validate.integer("selector_epochs", selector_epochs, minimum=1)
    validate.integer("finetune_epochs", finetune_epochs, minimum=0)
    validate.number("scale", scale, minimum=0.0)
    histories = {}
    _set_trainable(model.selector, False)
    try:
        histories["predictor on random masks"] = fit(
            model,
            train,
            dev,
            epochs=pretrain_epochs,
            forward_kwargs={"attention": random_masks_for(model, scale=scale)},
            **fit_kwargs,
        )
    finally:
        _set_trainable(model.selector, True)
    _set_trainable(model.predictor, False)
    try:
        histories["selector against the frozen predictor"] = fit(
            model, train, dev, epochs=selector_epochs, **fit_kwargs
        )
    finally:
        _set_trainable(model.predictor, True)
    if finetune_epochs:
        histories["joint fine-tuning"] = fit(model, train, dev, epochs=finetune_epochs, **fit_kwargs)
    return histories


def instance_weights(
    masks: torch.Tensor, labels: torch.Tensor, *, clip: float = 0.05, seed: int = 0, probe_steps: int = 200
) -> torch.Tensor:
    """Weights w_i = P(y_i) / P̂(y_i | m_i), cross-fitted, clipped and normalised to mean 1.

    In the weighted data the masks carry no information about the labels (see the module docstring for
    the derivation). ``clip`` is the smallest estimated P̂(y | m) used (so the largest weight is
    P(y) / clip).
    """
    validate.tensor("masks", masks)
    validate.tensor("labels", labels)
    if masks.dim() != 2 or labels.shape != masks.shape[:1]:
        raise ValueError(f"need masks (N, T) and labels (N,), got {tuple(masks.shape)} and {tuple(labels.shape)}")
    validate.finite("masks", masks)
    validate.class_labels("labels", labels, int(labels.max()) + 1 if labels.numel() else 1, len(masks))
    _check_clip(clip)
    validate.integer("probe_steps", probe_steps, minimum=1)
    given_on = masks.device
    masks, labels = masks.detach().cpu(), labels.cpu()  # cpu: the probe that estimates P(y | m) is bookkeeping
    n = len(labels)
    if n < 4:
        raise ValueError(f"need at least 4 examples to cross-fit the mask-only model, got {n}")
    n_classes = int(labels.max()) + 1
    prior = torch.bincount(labels, minlength=n_classes).float() / n
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    folds = (order[: n // 2], order[n // 2 :])
    p_label_given_mask = torch.empty(n)
    for fit_on, score in (folds, folds[::-1]):
        probs = train_mask_probe(masks[fit_on], labels[fit_on], width=masks.shape[1], steps=probe_steps, seed=seed)
        scored = probs(masks[score])
        if scored.shape[1] < n_classes:  # a class absent from the fitting half: the probe never predicts it
            scored = torch.nn.functional.pad(scored, (0, n_classes - scored.shape[1]))
        p_label_given_mask[score] = scored.gather(1, labels[score, None]).squeeze(1)
    return inverse_propensity_weights(prior, p_label_given_mask, labels, clip).to(given_on)


class OnlineMaskPropensity:
    """P(y | m) estimated *while* the selector trains, and the instance weights that follow from it.

    The masks change with every update of the selector, so a propensity model fitted once would be out
    of date at once. This one is a small MLP on the mask (zero-padded to ``width`` positions) that, for
    every mini-batch, first *predicts* P̂(y | m) for the batch (so each weight comes from a model that
    has not seen that example: no over-fitting) and then takes ``updates`` gradient steps on it.
    Called as ``loss_weights(batch, output)`` by :func:`~attnlab.train.fit`.
    """

    def __init__(
        self,
        width: int,
        prior: torch.Tensor,
        *,
        clip: float = 0.05,
        hidden: int = 32,
        lr: float = 1e-2,
        updates: int = 1,
        seed: int = 0,
    ):
        validate.integer("width", width, minimum=1)
        _check_clip(clip)
        validate.integer("hidden", hidden, minimum=1)
        validate.number("lr", lr, minimum=0.0, strict_minimum=True)
        validate.integer("updates", updates, minimum=0)
        validate.tensor("prior", prior)
        if (
            prior.dim() != 1
            or len(prior) < 2
            or not bool(torch.isfinite(prior).all())
            or bool((prior < 0).any())
            or abs(float(prior.sum()) - 1) > 1e-4
        ):
            raise ValueError(f"prior must be a probability vector over >= 2 classes, got {prior.tolist()}")
        self.width, self.prior, self.clip, self.updates = width, prior.float(), clip, updates
        generator_state = torch.random.get_rng_state()
        torch.manual_seed(seed)  # the probe's initial weights, without disturbing the training RNG
        self.probe = torch.nn.Sequential(
            torch.nn.Linear(width, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, len(prior))
        )
        torch.random.set_rng_state(generator_state)
        self.optimiser = torch.optim.Adam(self.probe.parameters(), lr=lr)

    def __call__(self, batch: Batch, output) -> torch.Tensor:
        masks = output.attention.detach()
        if masks.shape[1] > self.width:
            raise ValueError(f"masks are {masks.shape[1]} positions wide; the propensity model has {self.width}")
        x = torch.nn.functional.pad(masks, (0, self.width - masks.shape[1]))
        with torch.no_grad():
            p_label = self.probe(x).softmax(-1).gather(1, batch.labels[:, None]).squeeze(1)
        for _ in range(self.updates):
            self.optimiser.zero_grad()
            torch.nn.functional.cross_entropy(self.probe(x), batch.labels).backward()
            self.optimiser.step()
        return inverse_propensity_weights(self.prior, p_label, batch.labels, self.clip)


def inverse_propensity_weights(
    prior: torch.Tensor, p_label_given_mask: torch.Tensor, labels: torch.Tensor, clip: float
) -> torch.Tensor:
    """w_i = P(y_i) / max(P̂(y_i | m_i), clip), normalised to mean 1."""
    _check_clip(clip)
    validate.finite("p_label_given_mask", p_label_given_mask)
    if bool(((p_label_given_mask < 0) | (p_label_given_mask > 1)).any()):
        raise ValueError("p_label_given_mask holds values outside [0, 1]: they are probabilities")
    validate.class_labels("labels", labels, len(prior), len(p_label_given_mask))
    weights = prior[labels] / p_label_given_mask.clamp_min(clip)
    return weights / weights.mean()


def explore(model: MaskClassifier, rate: float, *, scale: float = 10.0):
    """An ``attention=`` override that, during training only, replaces each example's mask with a random
    one (of the model's own kind, see :func:`random_masks_for`) with probability ``rate``.

    Inverse propensity weights need *positivity*: every mask must have some chance under every label. A
    selector that has learned a deterministic code never shows the label-1 inputs with the label-0
    mask, so P(y | m) is 0 or 1 and no weighting can balance it. Exploration guarantees positivity.
    Random soft masks are drawn peaked (``scale=10``: nearly one-hot) so that they resemble the masks a
    trained selector produces.
    """
    _require_mask_classifier(model)
    rate = validate.number("exploration rate", rate, minimum=0.0, maximum=1.0, strict_maximum=True)
    validate.number("scale", scale, minimum=0.0)
    draw = random_masks_for(model, scale=scale)

    def override(weights: torch.Tensor, receivable: torch.Tensor) -> torch.Tensor:
        if not model.training or rate == 0:
            return weights
        swap = (torch.rand(weights.shape[0]) < rate).to(weights.device)  # cpu: drawn there, then moved
        return torch.where(swap[:, None], draw(weights, receivable), weights)

    return override


def instance_weighting(
    model: MaskClassifier,
    train: Batch,
    dev: Batch | None = None,
    *,
    epochs: int = 10,
    clip: float = 0.02,
    exploration: float = 0.5,
    propensity_updates: int = 3,
    **fit_kwargs,
) -> History:
    """Joint training with every mini-batch re-weighted so that, in the weighted data, masks and labels
    are independent (weights from an :class:`OnlineMaskPropensity` that follows the changing masks),
    with a share ``exploration`` of random masks to keep every mask possible under every label
    (see :func:`explore`)."""
    _require_mask_classifier(model)
    if not isinstance(train, Batch) or train.labels is None:
        raise ValueError("instance_weighting needs a labelled training Batch")
    validate.integer("epochs", epochs, minimum=1)
    validate.integer("propensity_updates", propensity_updates, minimum=0)
    n_classes = int(train.labels.max()) + 1
    prior = torch.bincount(train.labels, minlength=n_classes).float() / len(train)
    propensity = OnlineMaskPropensity(
        train.tokens.shape[1], prior, clip=clip, updates=propensity_updates, seed=fit_kwargs.get("seed", 0)
    )
    return fit(
        model,
        train,
        dev,
        epochs=epochs,
        loss_weights=propensity,
        forward_kwargs={"attention": explore(model, exploration)},
        **fit_kwargs,
    )
