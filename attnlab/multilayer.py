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
                           ``Ē = mean_h (∇A ⊙ A)⁺`` layer by layer; ``∇`` of the predicted class's
                           *logit*, as in Chefer et al.'s code
``attention_x_value_norm`` AttIN (Kobayashi et al. 2020, as in Liu et al.'s code): in the last layer,
                           ``‖Σ_h A^h_{[CLS],j} · v^h_j W_O^h‖``, the size of what token ``j`` adds
                           to ``[CLS]`` through the attention (value *and* output projection)
``input_x_gradient``       ``e · ∂f_ŷ/∂e`` on the content tokens' word embeddings
``integrated_gradients``   IG from the all-zero embedding, divided by the number of steps
``random``                 Liu et al.'s random baseline, uniform in [0, 1) (non-negative)
``random_signed``          a signed random baseline, uniform in [−1, 1) (when the kit has it)
=========================  ======================================================================

Three more propagate relevance (LRP) by the conservative rules of Ali et al. (2022); they live in
:mod:`attnlab.relevance`, which says what they simplify:

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

The module also holds the model of **Liu et al.'s depth factor** (:class:`DeepDecoderClassifier`: a
single-attention BiLSTM/CNN classifier with ``L`` layers on top of the attention-pooled vector) and
its methods (``DEEP_DECODER_METHODS``); see the end of the module.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from . import explain as _explain
from . import validate
from .data import Batch
from .models import AttentionClassifier
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
    return _explain._shared_result(f"layer_attention_gradients_of_{of}", compute, model, tokens, mask, target)


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


@_register("attention_x_value_norm")
def attention_x_value_norm(model, tokens, mask, target):
    """AttIN as Liu et al. compute it for Transformers (non-negative): the norm-based analysis of
    Kobayashi et al. (2020) in the **last** layer, the ``[CLS]`` row of ``‖Σ_h A^h · v^h W_O^h‖``.

    Not ``α · ‖h‖``: the vector that attention weighs is the token's value transformed by ``W_V``
    (inside ``v``) and the output projection ``W_O``, as in the authors' ``BertNormOutput`` (copied
    from Kobayashi et al.'s code) and ``generate_attn_norm`` (last layer, ``[CLS]`` row).
    """
    from .transformer import record_values

    with torch.no_grad(), record_values() as recorded:
        maps = _maps_of(model(tokens, mask))
    last = len(maps) - 1
    if last not in recorded:
        raise RuntimeError("the model recorded no value vectors for its last layer (record_values needs the "
                           "kit's TransformerClassifier or an HFClassifier running the 'attnlab' attention)")
    norms = value_norms_from(maps[last], recorded[last], model.value_output_weight(last))
    return _content(norms, mask)


for _name in ("input_x_gradient", "integrated_gradients", "random", "random_signed"):
    if _name in _explain.METHODS:  # random_signed: once attnlab.explain registers it
        MULTILAYER_METHODS[_name] = _explain.METHODS[_name]


# --------------------------------------------------------------------------------------------------
# Liu et al.'s depth factor: deep layers on top of a single-attention text model
# --------------------------------------------------------------------------------------------------
#
# Liu et al.'s depth figure ("Num. of deep layers", 1-8, SST and Yelp) varies the decoder of their
# single-attention text classifiers: in the authors' code (BierOne/Attention-Faithfulness,
# Transparency/) the option is ``--layers`` ("decoder layers", default 1; DatasetBC.py: "hidden layers
# in the decoder, default is 1"), passed to the ``AttnDecoder`` that reads the attention-pooled vector.
# The released ``AttnDecoder`` accepts ``layers`` but builds a single ``nn.Linear`` named ``main``,
# while its ``get_att_norm`` reads ``self.main[0].weight``: the code that produced the figure had a
# stack ``main = Sequential(...)`` whose first element is a linear layer. The released code does not
# say what sits between the layers; depth 1 is the paper's ordinary model (the figure's depth-1 values
# agree with its main tables: Yelp RawAtt .33 vs .31, AttGrad .02 vs .02). The encoder-side option
# ``--e_layers`` ("hidden layers in the encoder, default is 0") is unused by the released encoders.


class DeepDecoderClassifier(AttentionClassifier):
    """A single-attention classifier (BiLSTM or CNN encoder, additive or dot attention) with ``L =
    decoder_layers`` linear layers on top of the attention-pooled vector: the kit's analogue of the
    model of Liu et al.'s depth figure.

    ``y = W_L σ(… σ(W_1 c) …)`` with ``c = Σ_t α_t h_t``: ``L − 1`` hidden layers of width
    ``decoder_dim`` (default: ``hidden_dim``), each followed by ``decoder_activation`` (``"relu"`` or
    ``"tanh"``; the authors' code does not say which they used — the kit's choice is ReLU), then the
    output layer. ``decoder_layers=1`` is the plain :class:`~attnlab.models.AttentionClassifier`.
    The attention, the encoder and every method of :mod:`attnlab.explain` are unchanged: the layers
    sit *after* the attention, between the pooled vector and the logits.
    """

    def __init__(self, vocab_size: int, n_classes: int = 2, *, decoder_layers: int = 1,
                 decoder_dim: int | None = None, decoder_activation: str = "relu", **options):
        super().__init__(vocab_size, n_classes, **options)
        decoder_layers = validate.integer("decoder_layers", decoder_layers, minimum=1)
        decoder_dim = self.config["hidden_dim"] if decoder_dim is None else decoder_dim
        decoder_dim = validate.integer("decoder_dim", decoder_dim, minimum=1)
        validate.choice("decoder_activation", decoder_activation, ("relu", "tanh"))
        activation = nn.ReLU if decoder_activation == "relu" else nn.Tanh
        layers, width = [], self.value_dim
        for _ in range(decoder_layers - 1):
            layers += [nn.Linear(width, decoder_dim), activation()]
            width = decoder_dim
        layers.append(nn.Linear(width, self.config["n_classes"]))
        self.output = nn.Sequential(*layers)
        self.config.update(decoder_layers=decoder_layers, decoder_dim=decoder_dim,
                           decoder_activation=decoder_activation)

    def first_decoder_weight(self) -> torch.Tensor:
        """``W_1``, the weight of the first layer after the attention (the output layer when L = 1):
        the ``W`` of AttIN, ``α_t · ‖W_1 h_t‖`` (:func:`attnlab.explain.attention_x_value_norm`)."""
        return self.output[0].weight.detach()


#: The methods of Liu et al.'s depth figure, for :class:`DeepDecoderClassifier`: RawAtt, AttGrad,
#: AttIN, InputGrad, IG and Random — those of :mod:`attnlab.explain`. AttIN there is the authors'
#: ``α_t · ‖W_1 h_t‖`` with ``W_1`` the first layer after the attention (``AttnDecoder.get_att_norm``,
#: ``attn * norm(hidden @ main[0].weight.T)``): these models have no value transform of their own, so
#: the first linear map that reads the pooled vector plays that role (``first_decoder_weight``).
#: Random is the authors' non-negative baseline.
DEEP_DECODER_METHODS: dict[str, _explain.ExplanationMethod] = {
    name: _explain.METHODS[name] for name in ("raw_attention", "attention_x_gradient", "attention_x_value_norm",
                                              "input_x_gradient", "integrated_gradients", "random")}


def explain_all_deep(model, batch: Batch, methods: Sequence[str] | None = None,
                     **per_method_options) -> dict[str, torch.Tensor]:
    """Weights of the depth figure's methods (``DEEP_DECODER_METHODS``) for one batch, all explaining
    the same predicted class; ``per_method_options`` as in :func:`explain_all_multilayer`."""
    return _explain.explain_all(model, batch, methods if methods is not None else list(DEEP_DECODER_METHODS),
                                registry=DEEP_DECODER_METHODS, options=per_method_options)


# The relevance-propagation methods (conservative LRP, partial LRP, Transformer Attribution) register
# themselves here; imported last because they build on the functions above.
from . import relevance as _relevance  # noqa: E402,F401
