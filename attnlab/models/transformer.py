"""The kit's own small Transformer encoder, and the attention function it shares with Hugging Face models.

Both classifiers speak the kit's model interface (``forward(tokens, mask, inputs_embeds=,
attend_mask=)``, ``embed``, ``forward_removed``), so ``attnlab.train.fit``, every gradient method of
``attnlab.explain`` and every measurement of ``attnlab.faithfulness`` work on them unchanged. In
addition every forward pass returns the attention maps of **all layers and heads**, which the
layered explanation methods of :mod:`attnlab.explain` read.

The classification token is *not* part of the sentence: both models prepend it internally (the kit's
model a learned ``[CLS]`` vector; the Hugging Face wrapper the tokenizer's ``[CLS]`` and, after the
last real token, ``[SEP]``). ``tokens`` therefore hold only the sentence's own (word-piece) tokens.
So the removal operators can never delete ``[CLS]``/``[SEP]``, explanations give weights to content
tokens only, and the attention that lands on the special tokens is measured separately
(:func:`attention_share_by_layer`). In the full attention maps position 0 is the classification token
and positions ``1 … T`` are the content tokens (``CONTENT_OFFSET``).

Interventions (:mod:`attnlab.interventions`: uniform, permuted, frozen attention) replace the attention
weights inside every layer while the model runs. For Hugging Face models
(:class:`~attnlab.models.HFClassifier`) this goes through ``transformers.AttentionInterface``: the kit
registers an eager attention function named ``"attnlab"`` (defined here) that computes ordinary softmax
attention, records the value vectors when asked (:func:`record_values`) and applies the active
intervention, so no model code is forked.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
from dataclasses import dataclass

import torch
from torch import nn

from .. import validate
from ..interventions import _apply_intervention
from .base import ClassifierOutput, RemovalMixin, check_inputs, word_embedding

#: Index of the first content token in the full attention maps (position 0 is the classification token).
CONTENT_OFFSET = 1
#: Name under which the kit's attention function is registered with ``transformers.AttentionInterface``.
ATTENTION_IMPLEMENTATION = "attnlab"
_VALUES: contextvars.ContextVar[dict | None] = contextvars.ContextVar("attnlab_values", default=None)


@dataclass
class TransformerOutput(ClassifierOutput):
    """A kit ``ClassifierOutput`` plus the attention maps of every layer.

    ``attention`` is the last layer's attention from the classification token to the content tokens,
    averaged over heads (``(B, T)``; it does not sum to 1 — the rest goes to the special tokens).
    ``attentions[l]`` is layer ``l``'s full map ``(B, H, S, S)`` over ``[CLS] + content (+ [SEP])``.
    """

    attentions: tuple[torch.Tensor, ...] = ()


@contextlib.contextmanager
def record_values():
    """Collect the value vectors ``(B, H, S, d)`` of every attention layer run in this block, as a dict
    ``{layer index: values}`` (the kit's encoder and ``"attnlab"``-attention Hugging Face models).
    AttIN needs them (:func:`attnlab.explain.layered.attention_x_value_norm`)."""
    recorded: dict[int, torch.Tensor] = {}
    token = _VALUES.set(recorded)
    try:
        yield recorded
    finally:
        _VALUES.reset(token)


def _record_values(layer: int | None, values: torch.Tensor) -> None:
    recorded = _VALUES.get()
    if recorded is not None and layer is not None:
        recorded[int(layer)] = values.detach()


def _attnlab_attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kwargs):
    """Eager softmax attention with the kit's intervention hook (registered as ``"attnlab"``)."""
    scaling = query.size(-1) ** -0.5 if scaling is None else scaling
    scores = torch.matmul(query, key.transpose(2, 3)) * scaling
    if attention_mask is None:
        allowed = torch.ones(scores.shape[0], 1, 1, scores.shape[-1], dtype=torch.bool, device=scores.device)
    elif attention_mask.dtype == torch.bool:
        allowed = attention_mask[..., : key.shape[-2]]
        scores = scores.masked_fill(~allowed, torch.finfo(scores.dtype).min)
    else:
        additive = attention_mask[..., : key.shape[-2]]
        allowed = additive > torch.finfo(additive.dtype).min / 2
        scores = scores + additive
    weights = scores.softmax(-1)
    _record_values(getattr(module, "layer_idx", None), value)
    weights = _apply_intervention(getattr(module, "layer_idx", None), weights, allowed)
    weights = nn.functional.dropout(weights, p=dropout, training=module.training)
    output = torch.matmul(weights, value).transpose(1, 2).contiguous()
    return output, weights


def register_attention_function() -> None:
    """Register the kit's eager attention with ``transformers.AttentionInterface`` (idempotent).

    The padding mask needs registering too (``AttentionMaskInterface``): for an attention name it does
    not know, transformers silently passes *no* mask, and padding then changes the predictions.
    """
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    AttentionInterface.register(ATTENTION_IMPLEMENTATION, _attnlab_attention)
    AttentionMaskInterface.register(ATTENTION_IMPLEMENTATION, sdpa_mask)  # a bool mask (True = may attend)


# --------------------------------------------------------------------------------------------------
# The kit's own small Transformer encoder
# --------------------------------------------------------------------------------------------------


class _EncoderLayer(nn.Module):
    """Pre-LayerNorm encoder layer: x + MHA(LN(x)), then x + FF(LN(x))."""

    def __init__(self, dim: int, n_heads: int, ff_dim: int, dropout: float, index: int):
        super().__init__()
        self.n_heads, self.index = n_heads, index
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)
        self.ff = nn.Sequential(nn.Linear(dim, ff_dim), nn.GELU(), nn.Linear(ff_dim, dim))
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, allowed: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        B, S, D = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(B, S, 3, self.n_heads, D // self.n_heads).permute(2, 0, 3, 1, 4)
        scores = q @ k.transpose(-1, -2) / math.sqrt(D // self.n_heads)
        weights = scores.masked_fill(~allowed, float("-inf")).softmax(-1)
        _record_values(self.index, v)
        weights = _apply_intervention(self.index, weights, allowed)
        mixed = (weights @ v).transpose(1, 2).reshape(B, S, D)
        x = x + self.dropout(self.out(mixed))
        x = x + self.dropout(self.ff(self.norm2(x)))
        return x, weights


class TransformerClassifier(RemovalMixin, nn.Module):
    """A small Transformer encoder classifier that returns its attention maps for every layer.

    A learned ``[CLS]`` vector is prepended inside the model; learned position embeddings;
    ``n_layers`` pre-LayerNorm layers with ``n_heads`` heads of softmax attention; the final state of
    ``[CLS]`` goes through a LayerNorm and a linear read-out. The model width is ``embed_dim`` (e.g. 50
    for GloVe vectors), so ``embed_dim`` must be divisible by ``n_heads``.
    """

    attention_kind = "layered"

    def __init__(
        self,
        vocab_size: int,
        n_classes: int = 2,
        *,
        n_layers: int = 2,
        n_heads: int = 2,
        embed_dim: int = 50,
        ff_dim: int = 128,
        max_length: int = 128,
        dropout: float = 0.1,
        embeddings: torch.Tensor | None = None,
        freeze_embeddings: bool = False,
    ):
        super().__init__()
        for name, value in (
            ("vocab_size", vocab_size),
            ("n_classes", n_classes),
            ("n_layers", n_layers),
            ("n_heads", n_heads),
            ("embed_dim", embed_dim),
            ("ff_dim", ff_dim),
            ("max_length", max_length),
        ):
            validate.integer(name, value, minimum=1)
        validate.number("dropout", dropout, minimum=0.0, maximum=1.0, strict_maximum=True)
        if embeddings is not None:
            validate.finite("embeddings", validate.tensor("embeddings", embeddings))
        if n_layers < 1 or n_heads < 1 or embed_dim % n_heads:
            raise ValueError(
                f"need n_layers >= 1 and embed_dim divisible by n_heads, got n_layers="
                f"{n_layers}, n_heads={n_heads}, embed_dim={embed_dim}"
            )
        if vocab_size < 3 or n_classes < 2:
            raise ValueError(f"need vocab_size >= 3 and n_classes >= 2, got {vocab_size}, {n_classes}")
        if embeddings is not None and tuple(embeddings.shape) != (vocab_size, embed_dim):
            raise ValueError(f"embeddings have shape {tuple(embeddings.shape)}, expected ({vocab_size}, {embed_dim})")
        self.config = dict(
            vocab_size=vocab_size,
            n_classes=n_classes,
            n_layers=n_layers,
            n_heads=n_heads,
            embed_dim=embed_dim,
            ff_dim=ff_dim,
            max_length=max_length,
            dropout=dropout,
            freeze_embeddings=freeze_embeddings,
        )
        self.embedding = word_embedding(vocab_size, embed_dim, embeddings, freeze_embeddings)
        self.cls = nn.Parameter(torch.randn(embed_dim) * 0.1)  # cpu: initial weights; the model moves with .to(device)
        self.position = nn.Embedding(max_length + 1, embed_dim)
        nn.init.normal_(self.position.weight, std=0.1)
        self.layers = nn.ModuleList(_EncoderLayer(embed_dim, n_heads, ff_dim, dropout, i) for i in range(n_layers))
        self.norm = nn.LayerNorm(embed_dim)
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Linear(embed_dim, n_classes)

    def embed(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.embedding(tokens)

    def forward(
        self,
        tokens: torch.Tensor,
        mask: torch.Tensor,
        *,
        inputs_embeds: torch.Tensor | None = None,
        attend_mask: torch.Tensor | None = None,
    ) -> TransformerOutput:
        """Classify a padded batch of content tokens (``[CLS]`` is added here).

        ``attend_mask`` (bool ``(B, T)``): False positions receive no attention in any layer (the
        softmax renormalises over the rest) — the ``att_mask`` removal operator.
        """
        check_inputs(self, tokens, mask, inputs_embeds, attend_mask)
        B, T = tokens.shape
        if T > self.config["max_length"]:
            raise ValueError(
                f"sentences of {T} tokens exceed max_length={self.config['max_length']}; "
                "truncate them (encode(..., max_length=)) or build the model with a larger max_length"
            )
        embeddings = self.embed(tokens) if inputs_embeds is None else inputs_embeds
        x = torch.cat([self.cls.expand(B, 1, -1), embeddings * mask[..., None]], 1)
        x = self.dropout(x + self.position.weight[: T + 1])
        receivable = mask if attend_mask is None else mask & attend_mask
        allowed = torch.cat([torch.ones(B, 1, dtype=torch.bool, device=mask.device), receivable], 1)[:, None, None, :]
        maps = []
        for layer in self.layers:
            x, weights = layer(x, allowed)
            maps.append(weights)
        logits = self.output(self.dropout(self.norm(x[:, 0])))
        cls_row = maps[-1][:, :, 0, CONTENT_OFFSET:].mean(1)
        return TransformerOutput(logits, cls_row, x[:, CONTENT_OFFSET:], embeddings, tuple(maps))

    def layout(self, mask: torch.Tensor) -> dict[str, torch.Tensor]:
        """Bool masks ``(B, S)`` over the full sequence: ``cls``, ``sep`` (none here), ``content``."""
        return _layout(mask, sep=False)

    def value_output_weight(self, layer: int) -> torch.Tensor:
        """Weight ``(D, D)`` of layer ``layer``'s attention output projection ``W_O`` (for AttIN)."""
        layer = validate.integer("layer", layer, minimum=0, maximum=len(self.layers) - 1)
        return self.layers[layer].out.weight.detach()


def _layout(mask: torch.Tensor, sep: bool) -> dict[str, torch.Tensor]:
    B, T = mask.shape
    S = T + 1 + int(sep)
    cls = torch.zeros(B, S, dtype=torch.bool, device=mask.device)
    cls[:, 0] = True
    content = torch.zeros(B, S, dtype=torch.bool, device=mask.device)
    content[:, CONTENT_OFFSET : T + 1] = mask
    sep_mask = torch.zeros(B, S, dtype=torch.bool, device=mask.device)
    if sep:
        sep_mask[torch.arange(B, device=mask.device), mask.sum(1) + 1] = True
    return {"cls": cls, "sep": sep_mask, "content": content}
