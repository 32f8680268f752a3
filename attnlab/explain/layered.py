"""Explanation methods for layered-attention models (Transformer encoders).

The methods work on any model whose forward pass returns ``attentions`` — one ``(B, H, S, S)`` map
per layer over ``[CLS] + content (+ [SEP])`` — with the classification token at position 0 and the
content tokens at positions ``1 … T``: the kit's :class:`~attnlab.models.TransformerClassifier`
and a wrapped Hugging Face encoder (:class:`~attnlab.models.HFClassifier`). Each returns one
weight per *content* token, read from the row of the classification token, so the special tokens
are never explained as if they were part of the sentence::

    weights = explain("genatt", model, batch)        # (B, T), 0 on padding

=========================  ======================================================================
registry name              method
=========================  ======================================================================
``raw_attention``          last layer's attention from ``[CLS]``, mean over heads (RawAtt)
``attention_x_gradient``   ``A ⊙ ∂f_ŷ/∂A`` of the ``[CLS]`` row, mean over heads, in one layer
                           (default: the last; ``layer=`` chooses) (AttGrad)
``rollout``                attention rollout (Abnar & Zuidema 2020): product over layers of
                           ``0.5·Ā + 0.5·I`` (rows renormalised), ``Ā`` the head mean
``genatt``                 Chefer et al. (ICCV 2021): ``R ← R + Ē·R`` from ``R = I``, with
                           ``Ē = mean_h (∇A ⊙ A)⁺`` layer by layer; ``∇`` of the predicted class's
                           *logit*, as in Chefer et al.'s code
``attention_x_value_norm`` AttIN (Kobayashi et al. 2020, as in Liu et al.'s code): in the last layer,
                           ``‖Σ_h A^h_{[CLS],j} · v^h_j W_O^h‖``, the size of what token ``j`` adds
                           to ``[CLS]`` through the attention (value *and* output projection)
=========================  ======================================================================

The methods that need only embeddings or the removal operators (``input_x_gradient``,
``integrated_gradients``, ``gradient_norm``, ``leave_one_out``, the random baselines) run on these
models unchanged (:func:`attnlab.explain.methods_for`).

Three more propagate relevance (LRP) by the conservative rules of Ali et al. (2022); they live in
:mod:`attnlab.explain.relevance`, which says what they simplify:

=============================  ==================================================================
registry name                  method
=============================  ==================================================================
``conservative_lrp``           Ali et al. (2022): gradient × input with the attention
                               probabilities and the LayerNorm scale constant in the backward
                               pass (relevance conserved: it sums to the logit)
``partial_lrp``                LRP relevance of the last layer's attention map (Voita et al.
                               2019, as Chefer et al.'s and Liu et al.'s code compute it)
``transformer_attribution``    Chefer et al. (CVPR 2021): ``R ← R + mean_h (∇A ⊙ R^A)⁺ · R``
                               with ``R^A`` the LRP relevance of each layer's attention map
=============================  ==================================================================

Gradients are of the predicted class's softmax probability, as everywhere in the kit — except GenAtt,
which follows Chefer et al. and differentiates the logit, and the three relevance methods, which
explain the logit as LRP does. The measurements of
:mod:`attnlab.faithfulness` run on these weights unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .. import validate
from ..models import CONTENT_OFFSET, record_values
from .registry import _shared_result, register

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
            a = 0.5 * a + 0.5 * torch.eye(a.shape[-1], dtype=a.dtype, device=a.device)
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
    relevance = torch.eye(S, dtype=attentions[0].dtype, device=attentions[0].device).expand(B, S, S)
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
    return matrix[:, 0, CONTENT_OFFSET : CONTENT_OFFSET + T] * mask


def _layer(maps, layer) -> int:
    """``layer`` checked against the number of layers (negative counts from the last)."""
    n = len(maps)
    return validate.integer("layer", layer, minimum=-n, maximum=n - 1)


def _check_maps(attentions, what: str) -> None:
    for i, a in enumerate(attentions):
        if not isinstance(a, torch.Tensor) or a.dim() != 4 or a.shape[-1] != a.shape[-2]:
            raise ValueError(
                f"{what} {i} must be a (B, H, S, S) tensor, got "
                f"{tuple(a.shape) if isinstance(a, torch.Tensor) else type(a).__name__}"
            )
        validate.finite(f"{what} {i}", a)


def _maps_of(out):
    if not out.attentions:
        raise RuntimeError(
            "the model returned no attention maps; a Hugging Face model needs the "
            "'attnlab' attention implementation (HFClassifier.use_attention('attnlab'))"
        )
    return out.attentions


def attentions_and_gradients(model, tokens, mask, target, of: str = "probability"):
    """The attention maps of every layer and the gradient of the target class's output with respect
    to each of them (the total derivative, as in Chefer et al.'s code: a change of an early map also
    acts through the later maps).

    ``of="probability"`` differentiates the softmax probability ``f(x)_target`` (the kit's convention,
    and Liu et al.'s for AttGrad); ``of="logit"`` the class logit (Chefer et al.'s code for GenAtt).
    """
    validate.choice("what to differentiate", of, ("probability", "logit"))

    def compute(model, tokens, mask, target):
        out = model(tokens, mask)
        _maps_of(out)
        scores = out.probs if of == "probability" else out.logits
        grads = torch.autograd.grad(scores.gather(1, target[:, None]).sum(), out.attentions)
        return [a.detach() for a in out.attentions], list(grads)

    # computed once per chunk while explain_all runs (GenAtt and Transformer Attribution share the logit's)
    return _shared_result(f"layer_attention_gradients_of_{of}", compute, model, tokens, mask, target)


@register("raw_attention", signed=False, needs=("layer_attentions",), label="RawAtt", reference="jain2019attention")
def raw_attention(model, tokens, mask, target, layer: int = -1):
    """Attention from the classification token in one layer (default: the last), mean over heads."""
    with torch.no_grad():
        maps = _maps_of(model(tokens, mask))
    return _content(maps[_layer(maps, layer)].mean(1), mask)


@register(
    "attention_x_gradient", signed=True, needs=("layer_attentions",), label="AttGrad", reference="liu2022rethinking"
)
def attention_x_gradient(model, tokens, mask, target, layer: int = -1):
    """AttGrad in one layer: ``mean_h A ⊙ ∂f_ŷ/∂A`` of the classification token's row (signed)."""
    maps, grads = attentions_and_gradients(model, tokens, mask, target)
    layer = _layer(maps, layer)
    return _content((maps[layer] * grads[layer]).mean(1), mask)


@register("rollout", signed=False, needs=("layer_attentions",), label="Rollout", reference="abnar2020quantifying")
def rollout(model, tokens, mask, target):
    """Attention rollout (non-negative): how much the final ``[CLS]`` state traces back to each token."""
    with torch.no_grad():
        maps = _maps_of(model(tokens, mask))
    return _content(rollout_from(maps), mask)


@register("genatt", signed=False, needs=("layer_attentions",), label="GenAtt", reference="chefer2021generic")
def genatt(model, tokens, mask, target):
    """GenAtt, Chefer et al. (ICCV 2021), rule for self-attention encoders (non-negative).

    ``R = I``; for each layer ``R ← R + mean_h (∇A ⊙ A)⁺ · R``; the weights are the ``[CLS]`` row of
    ``R`` over the content tokens. ``∇A`` is the gradient of the predicted class's **logit**, as in
    Chefer et al.'s code (``one_hot · output`` of the model's scores before the softmax; the same in
    Liu et al.'s copy of it, ``generate_ours``). The probability would also count entries that raise
    another class's logit, so the two can keep different entries.
    """
    maps, grads = attentions_and_gradients(model, tokens, mask, target, of="logit")
    return _content(genatt_from(maps, grads), mask)


def value_norms_from(attention: torch.Tensor, values: torch.Tensor, output_weight: torch.Tensor) -> torch.Tensor:
    """Kobayashi et al.'s (2020) norm ``‖Σ_h A^h_{ij} · v^h_j W_O^h‖`` for every pair ``(i, j)``: ``(B, S, S)``.

    ``attention`` ``(B, H, S, S)`` one layer's maps; ``values`` ``(B, H, S, d)`` its value vectors
    (bias included); ``output_weight`` ``(D, H·d)`` the weight of the layer's output projection
    (``torch.nn.Linear(H·d, D).weight``), whose column block ``h`` maps head ``h`` to the model width.
    The heads' weighted, transformed vectors are summed before the norm, as in the authors' code
    (``BertNormOutput``, the "||Σαf(x)||" output).
    """
    B, H, S, d = values.shape
    if attention.shape != (B, H, S, S):
        raise ValueError(f"attention {tuple(attention.shape)} does not fit values {tuple(values.shape)}")
    if output_weight.dim() != 2 or output_weight.shape[1] != H * d:
        raise ValueError(f"output_weight must be (D, {H * d}), got {tuple(output_weight.shape)}")
    per_head = output_weight.reshape(output_weight.shape[0], H, d)  # (D, H, d)
    transformed = torch.einsum("bhsd,Dhd->bhsD", values, per_head)  # f_h(x_j) = v^h_j W_O^h
    return torch.einsum("bhij,bhjD->bijD", attention, transformed).norm(dim=-1)


@register(
    "attention_x_value_norm",
    signed=False,
    needs=("layer_attentions",),
    label="AttIN",
    reference="kobayashi2020attention",
)
def attention_x_value_norm(model, tokens, mask, target):
    """AttIN as Liu et al. compute it for Transformers (non-negative): the norm-based analysis of
    Kobayashi et al. (2020) in the **last** layer, the ``[CLS]`` row of ``‖Σ_h A^h · v^h W_O^h‖``.

    Not ``α · ‖h‖``: the vector that attention weighs is the token's value transformed by ``W_V``
    (inside ``v``) and the output projection ``W_O``, as in the authors' ``BertNormOutput`` (copied
    from Kobayashi et al.'s code) and ``generate_attn_norm`` (last layer, ``[CLS]`` row).
    """
    with torch.no_grad(), record_values() as recorded:
        maps = _maps_of(model(tokens, mask))
    last = len(maps) - 1
    if last not in recorded:
        raise RuntimeError(
            "the model recorded no value vectors for its last layer (record_values needs the "
            "kit's TransformerClassifier or an HFClassifier running the 'attnlab' attention)"
        )
    norms = value_norms_from(maps[last], recorded[last], model.value_output_weight(last))
    return _content(norms, mask)
