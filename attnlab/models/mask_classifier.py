"""The selector-predictor mask models of the shortcut lab (Bai et al. 2021).

A selector computes a mask from the whole input; a predictor sees only the masked, non-contextual
content. :class:`MaskClassifier` speaks the kit's model interface (a pooled-attention model: its mask
is the "attention"), so the explanation methods, the removal operators and the violation test run on
it like on any other kit model.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .. import validate
from ..interventions import apply_override
from .base import AttentionOverride, ClassifierOutput, RemovalMixin, _check_attention, check_inputs, masked_softmax


class _Selector(nn.Module):
    """Scores every position from the *whole* input: embedding -> BiLSTM -> linear."""

    def __init__(self, vocab_size: int, embed_dim: int, hidden_dim: int):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=0)
        self.lstm = nn.LSTM(embed_dim, hidden_dim, batch_first=True, bidirectional=True)
        self.score = nn.Linear(2 * hidden_dim, 1)

    def forward(self, tokens, mask):
        # cpu: pack_padded_sequence takes its lengths on the CPU
        packed = nn.utils.rnn.pack_padded_sequence(
            self.embedding(tokens), mask.sum(1).cpu(), batch_first=True, enforce_sorted=False
        )
        states, _ = self.lstm(packed)
        states, _ = nn.utils.rnn.pad_packed_sequence(states, batch_first=True, total_length=mask.shape[1])
        return self.score(states).squeeze(-1)


class _Predictor(nn.Module):
    """Reads the mask-weighted sum of *non-contextual* token embeddings through a linear or MLP head."""

    def __init__(self, vocab_size: int, embed_dim: int, n_classes: int, head: str, mlp_hidden: int):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=0)
        self.head = (
            nn.Linear(embed_dim, n_classes)
            if head == "linear"
            else nn.Sequential(nn.Linear(embed_dim, mlp_hidden), nn.ReLU(), nn.Linear(mlp_hidden, n_classes))
        )

    def forward(self, embeddings, weights):
        return self.head(torch.einsum("bt,bte->be", weights, embeddings))


class MaskClassifier(RemovalMixin, nn.Module):
    """Selector + predictor, the model of the combinatorial-shortcut argument.

    ``selector`` sees the whole sequence (a BiLSTM) and computes a mask over positions; ``predictor``
    sees only ``Σ_t m_t · v(x_t)`` with non-contextual value embeddings ``v``. Two kinds of mask:

    * ``selection="soft"``: m = softmax of the scores (soft attention);
    * ``selection="hard"``: m = k-hot top-k selection, trained with the Gumbel-softmax subset
      relaxation of L2X (Chen et al. 2018: k Gumbel-softmax draws at temperature ``tau``, combined by an
      element-wise maximum); the mask is divided by k so that it sums to 1 like attention.

    ``head="linear"`` cannot compute XOR-like rules from pooled content, ``"mlp"`` can. External masks
    (``attention=``) are how mitigations train the predictor on random masks. ``embeddings`` (e.g.
    GloVe) initialise both the selector's and the predictor's embedding tables.

    ``selector_only_ids`` are token ids the selector reads but the mask may never select, so the
    predictor never sees them: a hint given to the selector alone (chapter 3 tells it the answer, the
    limit case of a selector that knows more than the words it can pass on).

    As a kit model it is a pooled-attention model whose "attention" is the mask. Its embeddings
    (``embed``, ``inputs_embeds``, the ``zeros_mask`` removal operator) are the predictor's value
    embeddings: zeroing one removes what the token can pass on, while the selector still reads the
    token itself.
    """

    attention_kind = "pooled"

    def __init__(
        self,
        vocab_size: int,
        n_classes: int = 2,
        *,
        selection: str = "soft",
        k: int = 1,
        tau: float = 0.5,
        head: str = "linear",
        embed_dim: int = 32,
        hidden_dim: int = 32,
        mlp_hidden: int = 32,
        embeddings: torch.Tensor | None = None,
        selector_only_ids: Sequence[int] = (),
    ):
        super().__init__()
        vocab_size = validate.integer("vocab_size", vocab_size, minimum=3)
        n_classes = validate.integer("n_classes", n_classes, minimum=2)
        k = validate.integer("k", k, minimum=1)
        tau = validate.number("tau", tau, minimum=0.0, strict_minimum=True)
        for name, value in (("embed_dim", embed_dim), ("hidden_dim", hidden_dim), ("mlp_hidden", mlp_hidden)):
            validate.integer(name, value, minimum=1)
        selector_only_ids = [validate.integer("each of selector_only_ids", i) for i in selector_only_ids]
        if any(not 0 < i < vocab_size for i in selector_only_ids):
            raise ValueError(
                f"selector_only_ids must be token ids in 1..{vocab_size - 1} (0 is padding), got {selector_only_ids}"
            )
        if embeddings is not None and tuple(embeddings.shape) != (vocab_size, embed_dim):
            raise ValueError(f"embeddings have shape {tuple(embeddings.shape)}, expected ({vocab_size}, {embed_dim})")
        if selection not in ("soft", "hard"):
            raise ValueError(f"selection must be 'soft' or 'hard', got {selection!r}")
        if head not in ("linear", "mlp"):
            raise ValueError(f"head must be 'linear' or 'mlp', got {head!r}")
        if k < 1 or tau <= 0:
            raise ValueError(f"need k >= 1 and tau > 0, got k={k}, tau={tau}")
        self.config = dict(
            vocab_size=vocab_size,
            n_classes=n_classes,
            selection=selection,
            k=k,
            tau=tau,
            head=head,
            embed_dim=embed_dim,
            hidden_dim=hidden_dim,
            mlp_hidden=mlp_hidden,
            selector_only_ids=tuple(selector_only_ids),
        )
        # cpu: a buffer, moved with the model by .to(device)
        self.register_buffer("selector_only", torch.tensor(selector_only_ids, dtype=torch.long), persistent=False)
        self.selector = _Selector(vocab_size, embed_dim, hidden_dim)
        self.predictor = _Predictor(vocab_size, embed_dim, n_classes, head, mlp_hidden)
        if embeddings is not None:  # e.g. GloVe, as the starting point of both embedding tables
            self.selector.embedding.weight.data.copy_(embeddings)
            self.predictor.embedding.weight.data.copy_(embeddings)

    def embed(self, tokens):
        return self.predictor.embedding(tokens)

    def first_decoder_weight(self) -> torch.Tensor:
        """The first linear layer of the predictor's head, which reads the mask-pooled vector (for AttIN)."""
        head = self.predictor.head
        return (head[0] if isinstance(head, nn.Sequential) else head).weight.detach()

    def receivable(self, tokens, mask, attend_mask=None) -> torch.Tensor:
        """Positions the mask may select: real tokens, minus ``attend_mask`` exclusions and hint tokens."""
        receivable = mask if attend_mask is None else mask & attend_mask
        if len(self.selector_only):
            receivable = receivable & ~torch.isin(tokens, self.selector_only)
        return receivable

    def mask_of(self, tokens, mask, attend_mask=None) -> torch.Tensor:
        """The selector's mask (B, T), summing to 1 over receivable positions."""
        receivable = self.receivable(tokens, mask, attend_mask)
        scores = self.selector(tokens, mask)
        if self.config["selection"] == "soft":
            return masked_softmax(scores, receivable)
        k = self.config["k"]
        if self.training:
            logits = scores.masked_fill(~receivable, float("-inf"))
            gumbel = -torch.log(-torch.log(torch.rand(k, *logits.shape, device=logits.device).clamp(1e-10, 1 - 1e-10)))
            samples = ((logits[None] + gumbel) / self.config["tau"]).softmax(-1)
            return samples.max(0).values / k
        top = scores.masked_fill(~receivable, float("-inf")).topk(min(k, scores.shape[1]), dim=1).indices
        hard = torch.zeros_like(scores).scatter(1, top, 1.0) * receivable
        return hard / hard.sum(1, keepdim=True)

    def forward(
        self, tokens, mask, *, inputs_embeds=None, attention: AttentionOverride | None = None, attend_mask=None
    ) -> ClassifierOutput:
        check_inputs(self, tokens, mask, inputs_embeds, attend_mask)
        embeddings = self.embed(tokens) if inputs_embeds is None else inputs_embeds
        receivable = self.receivable(tokens, mask, attend_mask)
        if attention is None or callable(attention):
            weights = self.mask_of(tokens, mask, attend_mask)
            if callable(attention):
                weights = apply_override(attention, weights, receivable, tokens)
        else:
            weights = attention
        if self.config["selection"] == "soft" or isinstance(attention, torch.Tensor):
            _check_attention(weights, receivable)  # (the training-time Gumbel relaxation sums to about 1 only)
        logits = self.predictor(embeddings, weights)
        return ClassifierOutput(logits, weights, embeddings, embeddings)
