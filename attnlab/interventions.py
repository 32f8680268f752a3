"""Replacing a model's attention while it runs: the counterfactual tests of Jain & Wallace (2019) and
Wiegreffe & Pinter (2019), for every kit model.

Two kinds of model, one module:

* **Pooled-attention models** (one attention distribution over the tokens: the BiLSTM/CNN classifiers,
  the shortcut lab's :class:`~attnlab.models.MaskClassifier`) take an *override*
  ``f(attention, mask) -> new_attention`` as ``model(tokens, mask, attention=f)``: the model computes its
  own attention, the function replaces it, and everything downstream uses the replacement. ``mask``
  marks the positions that may receive attention. An override that also declares a ``tokens``
  parameter receives the token ids (so it can, say, move attention to particular words).
  :func:`uniform_attention` and :func:`permuted_attention` are overrides.
* **Layered models** (every Transformer layer has its own ``(B, H, S, S)`` maps: the kit's
  :class:`~attnlab.models.TransformerClassifier` and a wrapped Hugging Face encoder) are changed by an
  *intervention* ``f(layer, weights, allowed) -> weights`` active in a block:
  ``with attention_intervention(uniform()): accuracy(model, test)``. :func:`uniform`, :func:`permuted`
  and :func:`frozen` build interventions; ``layers=`` restricts them to some layers.

Both shuffles (:func:`permuted_attention`, :func:`permuted`) are the same operation,
:func:`shuffle_within`: the weights of a row move among the positions that may receive attention.
"""

from __future__ import annotations

import contextlib
import contextvars
import inspect
from collections.abc import Callable, Sequence

import torch

from . import validate

#: An intervention: ``f(layer, weights, allowed) -> weights`` with ``weights`` of shape
#: ``(B, H, S, S)`` (rows sum to 1) and ``allowed`` the bool mask of keys that may receive attention.
Intervention = Callable[[int | None, torch.Tensor, torch.Tensor], torch.Tensor]
_ACTIVE: contextvars.ContextVar[Intervention | None] = contextvars.ContextVar("attnlab_intervention", default=None)


def shuffle_within(weights: torch.Tensor, allowed: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Each row's weights moved to a random order of its allowed positions (last dimension): the same
    set of weights — so the same peakedness — on other targets. ``allowed`` broadcasts to ``weights``.
    ``generator`` is a CPU generator whatever the device of ``weights`` (the random keys are drawn on the
    CPU and moved)."""
    allowed = allowed.expand_as(weights)
    # cpu: the keys are drawn from the (CPU) generator and moved, so a seed gives the same shuffle on every device
    keys = torch.rand(allowed.shape, generator=generator).to(allowed.device).masked_fill(~allowed, float("inf"))
    shuffled = keys.argsort(-1)  # allowed positions in random order, then the rest
    natural = torch.argsort((~allowed).to(torch.int8), dim=-1, stable=True)  # allowed positions in order
    return torch.zeros_like(weights).scatter(-1, natural, weights.gather(-1, shuffled))


# --------------------------------------------------------------------------------------------------
# Pooled-attention models: overrides
# --------------------------------------------------------------------------------------------------


def apply_override(override, weights: torch.Tensor, receivable: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """What a pooled-attention model does with ``attention=``: a tensor replaces ``weights``; a function
    is called as ``f(weights, receivable)``, or ``f(weights, receivable, tokens=tokens)`` when it has a
    ``tokens`` parameter."""
    if override is None:
        return weights
    if not callable(override):  # a tensor: on the model's device (.to keeps it differentiable)
        return override.to(weights.device) if isinstance(override, torch.Tensor) else override
    try:
        takes_tokens = "tokens" in inspect.signature(override).parameters
    except (TypeError, ValueError):  # a builtin without a signature
        takes_tokens = False
    return override(weights, receivable, tokens=tokens) if takes_tokens else override(weights, receivable)


def uniform_attention(attention: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Every real token gets the same weight, 1/length: the model is reduced to mean pooling."""
    weights = mask.to(attention.dtype)
    return weights / weights.sum(-1, keepdim=True)


def permuted_attention(seed: int = 0) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """An override that shuffles each sentence's attention weights among its own real tokens.

    The set of weights (and so how peaked the distribution is) stays the same; only *which* token gets
    which weight changes. The shuffles are random but fixed by ``seed`` (the same on every device).
    """
    generator = torch.Generator().manual_seed(validate.integer("seed", seed, minimum=0))  # cpu: see shuffle_within

    def permute(attention: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return shuffle_within(attention, mask, generator)

    return permute


# --------------------------------------------------------------------------------------------------
# Layered models: interventions
# --------------------------------------------------------------------------------------------------


class LayerIntervention:
    """An intervention restricted to some layers (``layers=None``: all). It remembers which layers it
    met, so that :func:`attention_intervention` can refuse one aimed at a layer the model does not have
    (which would otherwise silently change nothing)."""

    def __init__(self, apply: Intervention, layers: Sequence[int] | None, name: str):
        if layers is not None:
            if isinstance(layers, (str, bytes)) or not hasattr(layers, "__iter__"):
                raise TypeError(f"layers must be a list of layer indices (0 = first layer), got {layers!r}")
            layers = tuple(validate.integer("each layer index", i, minimum=0) for i in layers)
            if not layers:
                raise ValueError("layers is empty: name at least one layer, or pass None for every layer")
        self.apply, self.layers, self.name, self.seen = apply, layers, name, set()

    def __call__(self, layer, weights, allowed):
        if layer is not None:
            self.seen.add(int(layer))
        if self.layers is not None and (layer is None or layer not in self.layers):
            return weights
        return self.apply(layer, weights, allowed)

    def check_layers(self) -> None:
        if self.layers is not None and self.seen:
            missing = sorted(set(self.layers) - self.seen)
            if missing:
                raise ValueError(
                    f"the {self.name} intervention names layer(s) {missing}, but the model ran "
                    f"layers 0..{max(self.seen)} only: the intervention changed nothing there"
                )


@contextlib.contextmanager
def attention_intervention(intervention: Intervention | None):
    """Run every kit transformer / ``"attnlab"``-attention model in this block with ``intervention``.

    On leaving the block, an intervention from :func:`uniform`, :func:`permuted` or :func:`frozen` that
    names a layer the model never ran is an error (it would have changed nothing).
    """
    if intervention is not None and not callable(intervention):
        raise TypeError(f"an intervention is a function (layer, weights, allowed) -> weights, got {intervention!r}")
    if isinstance(intervention, LayerIntervention):
        intervention.seen.clear()
    token = _ACTIVE.set(intervention)
    try:
        yield
    finally:
        _ACTIVE.reset(token)
    if isinstance(intervention, LayerIntervention):
        intervention.check_layers()


def _apply_intervention(layer: int | None, weights: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
    intervention = _ACTIVE.get()
    if intervention is None:
        return weights
    new = intervention(layer, weights, allowed.expand_as(weights))
    if not isinstance(new, torch.Tensor) or new.shape != weights.shape:
        shape = tuple(new.shape) if isinstance(new, torch.Tensor) else type(new).__name__
        raise ValueError(f"the intervention returned {shape}, expected a tensor of shape {tuple(weights.shape)}")
    if not bool(torch.isfinite(new.detach()).all()):
        raise ValueError(f"the intervention returned NaN or infinite attention weights in layer {layer}")
    return new


def uniform(layers: Sequence[int] | None = None) -> Intervention:
    """Every query attends equally to every key it may attend to (in ``layers``, default all)."""

    def apply(layer, weights, allowed):
        flat = allowed.to(weights.dtype)
        return flat / flat.sum(-1, keepdim=True).clamp_min(1.0)

    return LayerIntervention(apply, layers, "uniform")


def permuted(seed: int = 0, layers: Sequence[int] | None = None) -> Intervention:
    """Each attention row's weights are shuffled among its allowed keys (same peakedness, other
    targets), with a fresh random permutation per row, head and layer, fixed by ``seed``."""
    generator = torch.Generator().manual_seed(validate.integer("seed", seed, minimum=0))  # cpu: see shuffle_within

    def apply(layer, weights, allowed):
        return shuffle_within(weights, allowed, generator)

    return LayerIntervention(apply, layers, "permuted")


def frozen(maps: Sequence[torch.Tensor], layers: Sequence[int] | None = None) -> Intervention:
    """Replay recorded attention maps (one ``(B, H, S, S)`` tensor per layer, e.g. the ``attentions``
    of another model on the *same* batch) instead of the ones the model computes."""
    if isinstance(maps, torch.Tensor) or not len(maps):
        raise ValueError("frozen needs a list of recorded maps, one (B, H, S, S) tensor per layer")
    maps = [validate.finite("a recorded attention map", validate.tensor("a recorded map", m)).detach() for m in maps]

    def apply(layer, weights, allowed):
        if layer is None or layer >= len(maps):
            raise ValueError("frozen attention needs the layer index and one recorded map per layer")
        if maps[layer].shape != weights.shape:
            raise ValueError(
                f"recorded map of layer {layer} has shape {tuple(maps[layer].shape)}, "
                f"the model computes {tuple(weights.shape)}: record it on the same batch"
            )
        return maps[layer].to(weights.device)

    return LayerIntervention(apply, layers, "frozen")
