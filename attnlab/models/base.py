"""What every kit model shares: its output, the masked softmax, input checks and the removal operators.

A kit model (see :mod:`attnlab.models.protocol`) answers ``model(tokens, mask, inputs_embeds=,
attend_mask=)`` with a :class:`ClassifierOutput`, ``embed(tokens)`` and ``forward_removed`` — the
three removal operators of the faithfulness violation test (Liu et al. 2022), given to every model by
:class:`RemovalMixin`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from .. import validate
from ..data import check_padded

REMOVAL_OPERATORS = ("slice_out", "zeros_mask", "att_mask")

#: A replacement attention: a ``(batch, length)`` tensor, or a function ``(attention, mask) -> tensor``
#: (it may also take the keyword ``tokens``: see :func:`attnlab.interventions.apply_override`).
AttentionOverride = torch.Tensor | Callable[..., torch.Tensor]


@dataclass
class ClassifierOutput:
    """What a forward pass returns."""

    logits: torch.Tensor  # (B, C)
    attention: torch.Tensor  # (B, T), rows sum to 1, zero on padding
    values: torch.Tensor  # (B, T, H) encoder states that the attention pools
    embeddings: torch.Tensor  # (B, T, E) the embeddings the encoder read

    @property
    def probs(self) -> torch.Tensor:
        return self.logits.softmax(-1)


def masked_softmax(scores: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Softmax over the positions where ``mask`` is True; exactly zero elsewhere."""
    if not bool(mask.any(-1).all()):
        raise ValueError("every row needs at least one position that may receive attention")
    scores = scores.masked_fill(~mask, float("-inf"))
    return scores.softmax(-1)


class RemovalMixin:
    """``forward_removed`` for any kit model with ``forward(tokens, mask, inputs_embeds=,
    attend_mask=)`` and ``embed(tokens)``: the three removal operators of the violation test."""

    def forward_removed(
        self, tokens: torch.Tensor, mask: torch.Tensor, remove: torch.Tensor, operator: str
    ) -> ClassifierOutput:
        """Run the model with the tokens marked in ``remove`` (bool ``(B, T)``) taken out.

        ``slice_out`` deletes them (the sentence gets shorter), ``zeros_mask`` replaces their embedding
        by zeros, ``att_mask`` keeps them in the encoder but lets them receive no attention.
        """
        if operator not in REMOVAL_OPERATORS:
            raise ValueError(f"unknown removal operator {operator!r}; choose one of {REMOVAL_OPERATORS}")
        if not isinstance(remove, torch.Tensor) or remove.shape != mask.shape or remove.dtype != torch.bool:
            raise ValueError(f"remove must be a bool tensor of shape {tuple(mask.shape)}")
        keep = mask & ~remove
        if not bool(keep.any(1).all()):
            raise ValueError("cannot remove every token of a sentence: at least one must stay")
        if operator == "slice_out":
            return self(*slice_out(tokens, keep))
        if operator == "zeros_mask":
            embeds = self.embed(tokens).masked_fill(remove[..., None], 0.0)
            return self(tokens, mask, inputs_embeds=embeds)
        return self(tokens, mask, attend_mask=~remove)


def slice_out(tokens: torch.Tensor, keep: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Delete the positions where ``keep`` is False, shifting the rest left; returns tokens and mask."""
    order = torch.argsort((~keep).to(torch.int8), dim=1, stable=True)  # kept positions first, in order
    lengths = keep.sum(1)
    width = int(lengths.max())
    new_tokens = tokens.gather(1, order)[:, :width]
    new_mask = torch.arange(width, device=tokens.device) < lengths[:, None]
    return new_tokens * new_mask, new_mask


def check_inputs(
    model,
    tokens: torch.Tensor,
    mask: torch.Tensor,
    inputs_embeds: torch.Tensor | None = None,
    attend_mask: torch.Tensor | None = None,
) -> None:
    """What every kit model's ``forward`` checks: a padded batch of ids from its vocabulary, finite
    embeddings of the right shape, and a bool ``attend_mask`` that leaves something to attend to."""
    check_padded(tokens, mask)
    _check_same_device(model, tokens=tokens, mask=mask, inputs_embeds=inputs_embeds, attend_mask=attend_mask)
    validate.token_ids("tokens", tokens, model.config["vocab_size"])
    if inputs_embeds is not None:
        validate.tensor("inputs_embeds", inputs_embeds)
        dim = model.embed(tokens[:1, :1]).shape[-1]
        if inputs_embeds.dim() != 3 or inputs_embeds.shape[:2] != tokens.shape or inputs_embeds.shape[2] != dim:
            raise ValueError(
                f"inputs_embeds has shape {tuple(inputs_embeds.shape)}, expected "
                f"({tokens.shape[0]}, {tokens.shape[1]}, {dim})"
            )
        validate.finite("inputs_embeds", inputs_embeds, mask[..., None].expand_as(inputs_embeds))
    if attend_mask is not None:
        validate.tensor("attend_mask", attend_mask)
        if attend_mask.shape != mask.shape or attend_mask.dtype != torch.bool:
            raise ValueError(
                f"attend_mask must be a bool tensor of shape {tuple(mask.shape)}, "
                f"got {attend_mask.dtype} {tuple(attend_mask.shape)}"
            )
        if not bool((mask & attend_mask).any(1).all()):
            raise ValueError("attend_mask excludes every token of some sentence: at least one must receive attention")


def _check_same_device(model, **tensors: torch.Tensor | None) -> None:
    """The inputs of a forward pass must be on the model's device (a model called directly moves
    nothing; the kit's functions move batches with :func:`attnlab.device.to_device`)."""
    param = next(iter(model.parameters()), None) if isinstance(model, torch.nn.Module) else None
    if param is None:
        return
    for name, value in tensors.items():
        if isinstance(value, torch.Tensor) and value.device != param.device:
            raise ValueError(
                f"the {name} tensor is on {value.device} but the model is on {param.device}: move the batch "
                "first, batch.to(device) or attnlab.device.to_device(batch, model)"
            )


def _check_attention(weights: torch.Tensor, receivable: torch.Tensor) -> None:
    validate.tensor("the given attention", weights)
    if weights.shape != receivable.shape:
        raise ValueError(f"attention has shape {tuple(weights.shape)}, expected {tuple(receivable.shape)}")
    if bool((weights.detach()[~receivable].abs() > 1e-6).any()):
        raise ValueError("the given attention puts weight on padding or excluded positions")
    validate.finite("the given attention", weights)
    if bool((weights.detach() < -1e-6).any()):
        raise ValueError("the given attention has negative weights; attention is a distribution (>= 0, sums to 1)")
    if not torch.allclose(weights.detach().sum(-1), torch.ones_like(weights[:, 0]), atol=1e-4):
        raise ValueError("the given attention does not sum to 1 in every row")


def word_embedding(vocab_size: int, embed_dim: int, embeddings: torch.Tensor | None, freeze: bool) -> nn.Embedding:
    """The token embedding of a kit model (id 0 is padding), initialised from ``embeddings`` (e.g. GloVe)
    when given, and kept fixed when ``freeze``."""
    embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=0)
    if embeddings is not None:
        embedding.weight.data.copy_(embeddings)
    embedding.weight.requires_grad_(not freeze)
    return embedding
