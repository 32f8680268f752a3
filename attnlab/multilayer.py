"""Explanation methods for multi-layer Transformer encoders, and their registry by name.

The methods work on any model whose forward pass returns ``attentions`` — one ``(B, H, S, S)`` map
per layer over ``[CLS] + content (+ [SEP])`` — with the classification token at position 0 and the
content tokens at positions ``1 … T``: the kit's :class:`~attnlab.transformer.TransformerClassifier`
and a wrapped Hugging Face encoder (:class:`~attnlab.transformer.HFClassifier`). Each returns one
weight per *content* token, read from the row of the classification token, so the special tokens
are never explained as if they were part of the sentence::

    weights = explain_multilayer("genatt", model, batch)        # (B, T), 0 on padding

=========================  ======================================================================
registry name              method
=========================  ======================================================================
``raw_attention``          last layer's attention from ``[CLS]``, mean over heads (RawAtt)
``attention_x_gradient``   ``A ⊙ ∂f_ŷ/∂A`` of the ``[CLS]`` row, mean over heads, in one layer
                           (default: the last; ``layer=`` chooses) (AttGrad)
``rollout``                attention rollout (Abnar & Zuidema 2020): product over layers of
                           ``0.5·Ā + 0.5·I`` (rows renormalised), ``Ā`` the head mean
``genatt``                 Chefer et al. (ICCV 2021): ``R ← R + Ē·R`` from ``R = I``, with
                           ``Ē = mean_h (∇A ⊙ A)⁺`` layer by layer
``input_x_gradient``       ``e · ∂f_ŷ/∂e`` on the content tokens' word embeddings
``integrated_gradients``   IG from the all-zero embedding, divided by the number of steps
``random``                 the kit's random baseline
=========================  ======================================================================

Gradients are of the predicted class's softmax probability, as everywhere in the kit. The
measurements of :mod:`attnlab.faithfulness` run on these weights unchanged.
"""

from __future__ import annotations

from typing import Sequence

import torch

from . import explain as _explain
from . import validate
from .data import Batch
from .transformer import CONTENT_OFFSET

MULTILAYER_METHODS: dict[str, _explain.ExplanationMethod] = {}


def _register(name: str):
    def add(fn):
        MULTILAYER_METHODS[name] = fn
        return fn

    return add


def explain_multilayer(method: str, model, batch: Batch | torch.Tensor, mask: torch.Tensor | None = None,
                       target: torch.Tensor | None = None, batch_size: int = 32, **options) -> torch.Tensor:
    """Token weights ``(B, T)`` of one multi-layer method (see the module docstring for the names);
    the same batching and conventions as :func:`attnlab.explain.explain`."""
    return _explain.explain(method, model, batch, mask, target, batch_size, registry=MULTILAYER_METHODS,
                            **options)


def explain_all_multilayer(model, batch: Batch, methods: Sequence[str] | None = None,
                           **per_method_options) -> dict[str, torch.Tensor]:
    """Weights of several multi-layer methods for one batch, all explaining the same predicted class.

    ``per_method_options`` maps a method name to its options, e.g. ``integrated_gradients={"steps": 10}``.
    """
    return _explain.explain_all(model, batch, methods if methods is not None else list(MULTILAYER_METHODS),
                                registry=MULTILAYER_METHODS, options=per_method_options)


# --------------------------------------------------------------------------------------------------
# The pure computations (tested on hand-computable matrices)
# --------------------------------------------------------------------------------------------------


def rollout_from(attentions: Sequence[torch.Tensor], residual: bool = True) -> torch.Tensor:
    """Attention rollout ``(B, S, S)`` of per-layer maps ``(B, H, S, S)`` (Abnar & Zuidema 2020).

    Each layer's head-mean ``Ā`` becomes ``Â = 0.5·Ā + 0.5·I`` (the residual connection carries half
    of the information), rows renormalised; the rollout is ``Â_L ⋯ Â_2 · Â_1``. Row ``i`` says how
    much of position ``i``'s final state traces back to each input position.
    """
    if not attentions:
        raise ValueError("rollout needs the attention maps of at least one layer")
    _check_maps(attentions, "attention map of layer")
    result = None
    for maps in attentions:
        a = maps.mean(1)
        if residual:
            a = 0.5 * a + 0.5 * torch.eye(a.shape[-1], dtype=a.dtype)
            a = a / a.sum(-1, keepdim=True)
        result = a if result is None else a @ result
    return result


def genatt_from(attentions: Sequence[torch.Tensor], gradients: Sequence[torch.Tensor]) -> torch.Tensor:
    """Relevance ``(B, S, S)`` of Chefer et al. (2021, ICCV), rule for self-attention encoders.

    Start from ``R = I``; for each layer from the first to the last, ``Ē = mean_h (∇A ⊙ A)⁺`` (only
    positive gradient-weighted attention counts) and ``R ← R + Ē · R``.
    """
    if len(attentions) != len(gradients) or not attentions:
        raise ValueError("genatt needs one gradient per attention map, for at least one layer")
    _check_maps(attentions, "attention map of layer")
    _check_maps(gradients, "gradient of layer")
    if any(a.shape != g.shape for a, g in zip(attentions, gradients)):
        raise ValueError("each gradient must have the shape of its attention map")
    B, _, S, _ = attentions[0].shape
    relevance = torch.eye(S, dtype=attentions[0].dtype).expand(B, S, S)
    for a, g in zip(attentions, gradients):
        e = (g * a).clamp_min(0).mean(1)
        relevance = relevance + e @ relevance
    return relevance


# --------------------------------------------------------------------------------------------------
# The registered methods: f(model, tokens, mask, target) -> (B, T)
# --------------------------------------------------------------------------------------------------


def _content(matrix: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The ``[CLS]`` row of a full ``(B, S, S)`` matrix, restricted to the content tokens: ``(B, T)``."""
    T = mask.shape[1]
    return matrix[:, 0, CONTENT_OFFSET:CONTENT_OFFSET + T] * mask


def _layer(maps, layer) -> int:
    """``layer`` checked against the number of layers (negative counts from the last)."""
    n = len(maps)
    return validate.integer("layer", layer, minimum=-n, maximum=n - 1)


def _check_maps(attentions, what: str) -> None:
    for i, a in enumerate(attentions):
        if not isinstance(a, torch.Tensor) or a.dim() != 4 or a.shape[-1] != a.shape[-2]:
            raise ValueError(f"{what} {i} must be a (B, H, S, S) tensor, got "
                             f"{tuple(a.shape) if isinstance(a, torch.Tensor) else type(a).__name__}")
        validate.finite(f"{what} {i}", a)


def _maps_of(out):
    if not out.attentions:
        raise RuntimeError("the model returned no attention maps; a Hugging Face model needs the "
                           "'attnlab' attention implementation (HFClassifier.use_attention('attnlab'))")
    return out.attentions


def attentions_and_gradients(model, tokens, mask, target):
    """The attention maps of every layer and ``∂f(x)_target / ∂A`` for each of them (the total
    derivative, as in Chefer et al.'s code: a change of an early map also acts through later maps)."""
    out = model(tokens, mask)
    _maps_of(out)
    prob = out.probs.gather(1, target[:, None]).sum()
    grads = torch.autograd.grad(prob, out.attentions)
    return [a.detach() for a in out.attentions], list(grads)


@_register("raw_attention")
def raw_attention(model, tokens, mask, target, layer: int = -1):
    """Attention from the classification token in one layer (default: the last), mean over heads."""
    with torch.no_grad():
        maps = _maps_of(model(tokens, mask))
    return _content(maps[_layer(maps, layer)].mean(1), mask)


@_register("attention_x_gradient")
def attention_x_gradient(model, tokens, mask, target, layer: int = -1):
    """AttGrad in one layer: ``mean_h A ⊙ ∂f_ŷ/∂A`` of the classification token's row (signed)."""
    maps, grads = attentions_and_gradients(model, tokens, mask, target)
    layer = _layer(maps, layer)
    return _content((maps[layer] * grads[layer]).mean(1), mask)


@_register("rollout")
def rollout(model, tokens, mask, target):
    """Attention rollout (non-negative): how much the final ``[CLS]`` state traces back to each token."""
    with torch.no_grad():
        maps = _maps_of(model(tokens, mask))
    return _content(rollout_from(maps), mask)


@_register("genatt")
def genatt(model, tokens, mask, target):
    """Chefer et al. (2021): gradient-weighted attention accumulated over layers (non-negative)."""
    maps, grads = attentions_and_gradients(model, tokens, mask, target)
    return _content(genatt_from(maps, grads), mask)


for _name in ("input_x_gradient", "integrated_gradients", "random"):
    MULTILAYER_METHODS[_name] = _explain.METHODS[_name]
