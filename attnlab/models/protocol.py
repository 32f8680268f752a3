"""The model interface every part of the kit relies on, declared once.

Explanation methods, the removal operators, the violation test, the companion metrics, the explorer
and the checklist never ask *which* model they hold; they ask what it can do. Every kit model — and a
model a reader writes — speaks :class:`KitModel`; on top of that it is one of two kinds:

* a **pooled-attention model** (:class:`PooledAttentionModel`): one attention distribution over the
  tokens pools their states, and ``attention=`` replaces it (the BiLSTM/CNN classifiers, the shortcut
  lab's selector-predictor masks);
* a **layered-attention model** (:class:`LayeredAttentionModel`): every layer has its own
  ``(B, H, S, S)`` maps over ``[CLS] + content (+ [SEP])`` (the kit's Transformer, a Hugging Face
  encoder).

A model says which kind it is with the class attribute ``attention_kind`` (``"pooled"``, ``"layered"``
or ``"none"``, e.g. the bag-of-words model); :func:`capabilities` turns that into what an explanation
method may need (the ``needs`` of :func:`attnlab.explain.register`).
"""

from __future__ import annotations

import inspect
from typing import Literal, Protocol, runtime_checkable

import torch

from .base import ClassifierOutput

AttentionKind = Literal["pooled", "layered", "none"]


@runtime_checkable
class KitModel(Protocol):
    """What every kit model offers (``torch.nn.Module`` subclasses; ``config["n_classes"]`` is read by
    input checks)."""

    config: dict

    def __call__(
        self,
        tokens: torch.Tensor,
        mask: torch.Tensor,
        *,
        inputs_embeds: torch.Tensor | None = None,
        attend_mask: torch.Tensor | None = None,
    ) -> ClassifierOutput:
        """Logits (and ``probs``) for a padded batch; ``inputs_embeds`` replaces the token embeddings
        (gradient methods), ``attend_mask`` keeps tokens in the input but lets them receive no attention."""

    def embed(self, tokens: torch.Tensor) -> torch.Tensor:
        """The embeddings ``(B, T, E)`` that ``inputs_embeds`` replaces."""

    def forward_removed(
        self, tokens: torch.Tensor, mask: torch.Tensor, remove: torch.Tensor, operator: str
    ) -> ClassifierOutput:
        """The output with the tokens marked in ``remove`` taken out by a removal operator
        (``slice_out``, ``zeros_mask``, ``att_mask``); :class:`~attnlab.models.RemovalMixin` gives it."""


@runtime_checkable
class PooledAttentionModel(KitModel, Protocol):
    """One attention distribution ``output.attention`` ``(B, T)`` (rows sum to 1, 0 on padding) pools the
    states ``output.values``; ``model(tokens, mask, attention=a)`` runs with ``a`` (a tensor, or an
    override function, see :mod:`attnlab.interventions`) in its place."""

    attention_kind: Literal["pooled"]


@runtime_checkable
class LayeredAttentionModel(KitModel, Protocol):
    """Every layer's attention ``output.attentions[l]`` ``(B, H, S, S)``, position 0 the classification
    token and ``1 … T`` the content tokens."""

    attention_kind: Literal["layered"]

    def layout(self, mask: torch.Tensor) -> dict[str, torch.Tensor]:
        """Bool masks ``(B, S)`` over the full sequence: ``cls``, ``sep``, ``content``."""

    def value_output_weight(self, layer: int) -> torch.Tensor:
        """Weight of layer ``layer``'s attention output projection ``W_O`` (for AttIN)."""


#: Everything an explanation method may need (its ``needs``), and what provides it.
CAPABILITIES = {
    "embeddings": "embed(tokens) and forward(..., inputs_embeds=): gradients with respect to the input",
    "removal": "forward_removed: the removal operators",
    "pooled_attention": "one attention distribution that forward(..., attention=) can replace",
    "readout_weight": "the linear layer that reads the attention-pooled vector (AttIN)",
    "layer_attentions": "every layer's attention maps, [CLS] at position 0",
}


#: What a kit model of each kind offers (a model's own :func:`capabilities` may offer less, e.g. a
#: pooled model without a linear read-out has no ``readout_weight``).
KIND_CAPABILITIES = {
    "pooled": frozenset({"embeddings", "removal", "pooled_attention", "readout_weight"}),
    "layered": frozenset({"embeddings", "removal", "layer_attentions"}),
    "none": frozenset({"embeddings", "removal"}),
}


def attention_kind(model) -> AttentionKind:
    """``"pooled"``, ``"layered"`` or ``"none"``: the model's declared ``attention_kind``; for a model
    that declares none, ``"layered"`` if it has ``layout``, ``"pooled"`` if its forward takes
    ``attention=``, else ``"none"``."""
    declared = getattr(model, "attention_kind", None)
    if declared is not None:
        if declared not in ("pooled", "layered", "none"):
            raise ValueError(
                f"{type(model).__name__}.attention_kind must be 'pooled', 'layered' or 'none', got {declared!r}"
            )
        return declared
    if callable(getattr(model, "layout", None)):
        return "layered"
    try:
        takes_attention = "attention" in inspect.signature(model.forward).parameters
    except (AttributeError, TypeError, ValueError):
        takes_attention = False
    return "pooled" if takes_attention else "none"


def capabilities(model) -> frozenset[str]:
    """What ``model`` can do, in the vocabulary of :data:`CAPABILITIES`. ``model`` may also be a kind
    (``"pooled"``, ``"layered"``, ``"none"``): what a kit model of that kind offers."""
    if isinstance(model, str):
        if model not in KIND_CAPABILITIES:
            raise ValueError(f"unknown kind of model {model!r}; choose one of {sorted(KIND_CAPABILITIES)}")
        return KIND_CAPABILITIES[model]
    found = set()
    if callable(getattr(model, "embed", None)):
        found.add("embeddings")
    if callable(getattr(model, "forward_removed", None)):
        found.add("removal")
    kind = attention_kind(model)
    if kind == "layered":
        found.add("layer_attentions")
    elif kind == "pooled":
        found.add("pooled_attention")
        head = getattr(model, "output", None)
        if isinstance(head, torch.nn.Sequential) and len(head):
            head = head[0]
        if callable(getattr(model, "first_decoder_weight", None)) or isinstance(head, torch.nn.Linear):
            found.add("readout_weight")
    return frozenset(found)
