"""Attention classifiers: a token encoder, one attention layer, and a linear read-out.

The model is the one studied by Jain & Wallace (2019) and Liu et al. (2022)::

    e_t = embedding(x_t)                              (T x E)
    h_t = encoder(e)_t          BiLSTM or CNN         (T x H)   the "values"
    s_t = v . tanh(W h_t)       additive attention, or
    s_t = q . h_t / sqrt(H)     scaled dot attention with a learned query q
    a   = softmax(s) over real tokens                 padding never receives attention
    y   = W_out (sum_t a_t h_t)                       logits

Three things make it a laboratory rather than just a classifier:

* ``forward(..., attention=...)`` replaces the computed attention with a given distribution (or a
  function of it): the hook for interventions (uniform, permuted attention) and mitigations.
* ``forward(..., inputs_embeds=...)`` runs from embeddings, so gradient methods can differentiate
  with respect to them.
* ``forward_removed`` runs the model with some tokens removed by one of the three removal operators
  of the faithfulness violation test (Liu et al. 2022): ``slice_out`` deletes the token,
  ``zeros_mask`` zeroes its embedding, ``att_mask`` excludes it from attention.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence, Union

import torch
from torch import nn

from . import validate
from .data import check_padded

ENCODERS = ("bilstm", "cnn")
ATTENTIONS = ("additive", "dot")
REMOVAL_OPERATORS = ("slice_out", "zeros_mask", "att_mask")

#: A replacement attention: a ``(batch, length)`` tensor, or a function ``(attention, mask) -> tensor``.
AttentionOverride = Union[torch.Tensor, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]]


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

    def forward_removed(self, tokens: torch.Tensor, mask: torch.Tensor, remove: torch.Tensor,
                        operator: str) -> ClassifierOutput:
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


class AttentionClassifier(RemovalMixin, nn.Module):
    """BiLSTM or CNN encoder, additive or scaled-dot attention, linear output.

    Args:
        vocab_size: number of token ids (id 0 is padding).
        n_classes: number of output classes.
        encoder: ``"bilstm"`` (``hidden_dim`` units per direction) or ``"cnn"`` (one convolution per
            kernel size in ``cnn_kernels``, ``cnn_filters`` filters each, ReLU, same-length output).
        attention: ``"additive"`` (tanh) or ``"dot"`` (scaled dot product with a learned query).
        embeddings: optional pretrained matrix (``vocab_size x embed_dim``), e.g. GloVe.
        freeze_embeddings: keep the pretrained embeddings fixed.
        dropout: dropout on embeddings and on the pooled representation (training only).
    """

    def __init__(self, vocab_size: int, n_classes: int = 2, *, encoder: str = "bilstm",
                 attention: str = "additive", embed_dim: int = 50, hidden_dim: int = 128,
                 cnn_kernels: tuple[int, ...] = (1, 3, 5, 7), cnn_filters: int = 32,
                 dropout: float = 0.0, embeddings: torch.Tensor | None = None,
                 freeze_embeddings: bool = False):
        super().__init__()
        if encoder not in ENCODERS:
            raise ValueError(f"unknown encoder {encoder!r}; choose one of {ENCODERS}")
        if attention not in ATTENTIONS:
            raise ValueError(f"unknown attention {attention!r}; choose one of {ATTENTIONS}")
        vocab_size = validate.integer("vocab_size", vocab_size, minimum=3)
        n_classes = validate.integer("n_classes", n_classes, minimum=2)
        embed_dim = validate.integer("embed_dim", embed_dim, minimum=1)
        hidden_dim = validate.integer("hidden_dim", hidden_dim, minimum=1)
        cnn_filters = validate.integer("cnn_filters", cnn_filters, minimum=1)
        dropout = validate.number("dropout", dropout, minimum=0.0, maximum=1.0, strict_maximum=True)
        if isinstance(cnn_kernels, (str, bytes)) or not hasattr(cnn_kernels, "__iter__") or not len(cnn_kernels):
            raise ValueError(f"cnn_kernels must be a non-empty sequence of odd kernel sizes, got {cnn_kernels!r}")
        cnn_kernels = tuple(validate.integer("each CNN kernel size", k, minimum=1) for k in cnn_kernels)
        if embeddings is not None:
            if tuple(embeddings.shape) != (vocab_size, embed_dim):
                raise ValueError(
                    f"embeddings have shape {tuple(embeddings.shape)}, expected ({vocab_size}, {embed_dim})"
                )
            validate.finite("embeddings", embeddings)
        if any(k % 2 == 0 for k in cnn_kernels):
            raise ValueError(f"CNN kernel sizes must be odd (same-length output), got {cnn_kernels}")
        self.config = dict(vocab_size=vocab_size, n_classes=n_classes, encoder=encoder,
                           attention=attention, embed_dim=embed_dim, hidden_dim=hidden_dim,
                           cnn_kernels=tuple(cnn_kernels), cnn_filters=cnn_filters, dropout=dropout,
                           freeze_embeddings=freeze_embeddings)
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=0)
        if embeddings is not None:
            self.embedding.weight.data.copy_(embeddings)
        self.embedding.weight.requires_grad_(not freeze_embeddings)
        if encoder == "bilstm":
            self.lstm = nn.LSTM(embed_dim, hidden_dim, batch_first=True, bidirectional=True)
            self.value_dim = 2 * hidden_dim
        else:
            self.convs = nn.ModuleList(nn.Conv1d(embed_dim, cnn_filters, k, padding=k // 2)
                                       for k in cnn_kernels)
            self.value_dim = cnn_filters * len(cnn_kernels)
        if attention == "additive":
            self.att_proj = nn.Linear(self.value_dim, hidden_dim)
            self.att_vector = nn.Linear(hidden_dim, 1, bias=False)
        else:
            self.att_query = nn.Parameter(torch.randn(self.value_dim) / math.sqrt(self.value_dim))
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Linear(self.value_dim, n_classes)

    # -- pieces -------------------------------------------------------------------------------------

    def embed(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.embedding(tokens)

    def encode(self, embeddings: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Encoder states (B, T, H); padding positions are zero and never leak into real ones."""
        embeddings = embeddings * mask[..., None]
        if self.config["encoder"] == "bilstm":
            lengths = mask.sum(1).cpu()
            packed = nn.utils.rnn.pack_padded_sequence(embeddings, lengths, batch_first=True,
                                                       enforce_sorted=False)
            states, _ = self.lstm(packed)
            states, _ = nn.utils.rnn.pad_packed_sequence(states, batch_first=True,
                                                         total_length=mask.shape[1])
            return states
        x = embeddings.transpose(1, 2)
        states = torch.cat([torch.relu(conv(x)) for conv in self.convs], dim=1).transpose(1, 2)
        return states * mask[..., None]

    def attention_scores(self, values: torch.Tensor) -> torch.Tensor:
        """Unnormalised attention scores (B, T)."""
        if self.config["attention"] == "additive":
            return self.att_vector(torch.tanh(self.att_proj(values))).squeeze(-1)
        return values @ self.att_query / math.sqrt(self.value_dim)

    # -- forward ------------------------------------------------------------------------------------

    def forward(self, tokens: torch.Tensor, mask: torch.Tensor, *,
                inputs_embeds: torch.Tensor | None = None,
                attention: AttentionOverride | None = None,
                attend_mask: torch.Tensor | None = None) -> ClassifierOutput:
        """Classify a padded batch.

        Args:
            tokens, mask: ``(B, T)`` token ids and the bool mask of real tokens (see ``data.Batch``).
            inputs_embeds: ``(B, T, E)`` embeddings to use instead of looking ``tokens`` up.
            attention: replaces the model's attention: a ``(B, T)`` distribution (zero on padding,
                rows summing to 1), or a function ``f(attention, mask)`` returning one.
            attend_mask: ``(B, T)`` bool; False positions are excluded from attention (the softmax
                renormalises over the rest) while the encoder still reads them.
        """
        check_inputs(self, tokens, mask, inputs_embeds, attend_mask)
        embeddings = self.embed(tokens) if inputs_embeds is None else inputs_embeds
        values = self.encode(self.dropout(embeddings), mask)
        receivable = mask if attend_mask is None else mask & attend_mask
        weights = masked_softmax(self.attention_scores(values), receivable)
        if attention is not None:
            weights = attention(weights, receivable) if callable(attention) else attention
            _check_attention(weights, receivable)
        context = torch.einsum("bt,bth->bh", weights, values)
        return ClassifierOutput(self.output(self.dropout(context)), weights, values, embeddings)


def slice_out(tokens: torch.Tensor, keep: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Delete the positions where ``keep`` is False, shifting the rest left; returns tokens and mask."""
    order = torch.argsort((~keep).to(torch.int8), dim=1, stable=True)  # kept positions first, in order
    lengths = keep.sum(1)
    width = int(lengths.max())
    new_tokens = tokens.gather(1, order)[:, :width]
    new_mask = torch.arange(width) < lengths[:, None]
    return new_tokens * new_mask, new_mask


def check_inputs(model, tokens: torch.Tensor, mask: torch.Tensor, inputs_embeds: torch.Tensor | None = None,
                 attend_mask: torch.Tensor | None = None) -> None:
    """What every kit model's ``forward`` checks: a padded batch of ids from its vocabulary, finite
    embeddings of the right shape, and a bool ``attend_mask`` that leaves something to attend to."""
    check_padded(tokens, mask)
    validate.token_ids("tokens", tokens, model.config["vocab_size"])
    if inputs_embeds is not None:
        validate.tensor("inputs_embeds", inputs_embeds)
        dim = model.embed(tokens[:1, :1]).shape[-1]
        if inputs_embeds.dim() != 3 or inputs_embeds.shape[:2] != tokens.shape or inputs_embeds.shape[2] != dim:
            raise ValueError(f"inputs_embeds has shape {tuple(inputs_embeds.shape)}, expected "
                             f"({tokens.shape[0]}, {tokens.shape[1]}, {dim})")
        validate.finite("inputs_embeds", inputs_embeds, mask[..., None].expand_as(inputs_embeds))
    if attend_mask is not None:
        validate.tensor("attend_mask", attend_mask)
        if attend_mask.shape != mask.shape or attend_mask.dtype != torch.bool:
            raise ValueError(f"attend_mask must be a bool tensor of shape {tuple(mask.shape)}, "
                             f"got {attend_mask.dtype} {tuple(attend_mask.shape)}")
        if not bool((mask & attend_mask).any(1).all()):
            raise ValueError("attend_mask excludes every token of some sentence: at least one must receive attention")


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


class BagOfWordsClassifier(RemovalMixin, nn.Module):
    """A model whose token contributions are known exactly: ``logits = b + Σ_t U[x_t]``.

    Every token adds its own fixed vector to the logits, whatever its context, so for two classes the
    exact signed contribution of token t to the predicted class is ``U[x_t, ŷ] − U[x_t, other]``
    (see :meth:`exact_contributions`). Deleting a token, zeroing its embedding, or excluding it from the
    (uniform, summing) pooling all remove exactly that contribution. It is the ground truth against
    which the faithfulness measurements are tested, and a worked example in the book.
    """

    def __init__(self, vocab_size: int, n_classes: int = 2):
        super().__init__()
        vocab_size = validate.integer("vocab_size", vocab_size, minimum=2)
        n_classes = validate.integer("n_classes", n_classes, minimum=2)
        self.config = dict(vocab_size=vocab_size, n_classes=n_classes)
        self.embedding = nn.Embedding(vocab_size, n_classes, padding_idx=0)
        self.bias = nn.Parameter(torch.zeros(n_classes))

    def embed(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.embedding(tokens)

    def forward(self, tokens, mask, *, inputs_embeds=None, attention=None, attend_mask=None):
        check_inputs(self, tokens, mask, inputs_embeds, attend_mask)
        if attention is not None:
            raise ValueError("a bag-of-words model has no attention to replace")
        embeddings = self.embed(tokens) if inputs_embeds is None else inputs_embeds
        counted = mask if attend_mask is None else mask & attend_mask
        logits = self.bias + (embeddings * counted[..., None]).sum(1)
        weights = counted.float() / counted.sum(1, keepdim=True)
        return ClassifierOutput(logits, weights, embeddings, embeddings)

    def exact_contributions(self, tokens: torch.Tensor, mask: torch.Tensor,
                            target: torch.Tensor) -> torch.Tensor:
        """Signed contribution of every token to the logit margin of ``target`` (two classes)."""
        if self.config["n_classes"] != 2:
            raise ValueError("exact contributions to a probability are additive only for two classes")
        check_inputs(self, tokens, mask)
        validate.class_labels("target", target, 2, len(tokens))
        with torch.no_grad():
            e = self.embed(tokens)
            own = e.gather(2, target[:, None, None].expand(-1, tokens.shape[1], 1)).squeeze(2)
            return ((2 * own - e.sum(2)) * mask).detach()


# --------------------------------------------------------------------------------------------------
# Mask models of the shortcut lab (Bai et al. 2021): a selector computes a mask from the whole input;
# a predictor sees only the masked, non-contextual content.
# --------------------------------------------------------------------------------------------------


class _Selector(nn.Module):
    """Scores every position from the *whole* input: embedding -> BiLSTM -> linear."""

    def __init__(self, vocab_size: int, embed_dim: int, hidden_dim: int):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=0)
        self.lstm = nn.LSTM(embed_dim, hidden_dim, batch_first=True, bidirectional=True)
        self.score = nn.Linear(2 * hidden_dim, 1)

    def forward(self, tokens, mask):
        packed = nn.utils.rnn.pack_padded_sequence(self.embedding(tokens), mask.sum(1).cpu(),
                                                   batch_first=True, enforce_sorted=False)
        states, _ = self.lstm(packed)
        states, _ = nn.utils.rnn.pad_packed_sequence(states, batch_first=True, total_length=mask.shape[1])
        return self.score(states).squeeze(-1)


class _Predictor(nn.Module):
    """Reads the mask-weighted sum of *non-contextual* token embeddings through a linear or MLP head."""

    def __init__(self, vocab_size: int, embed_dim: int, n_classes: int, head: str, mlp_hidden: int):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=0)
        self.head = (nn.Linear(embed_dim, n_classes) if head == "linear" else
                     nn.Sequential(nn.Linear(embed_dim, mlp_hidden), nn.ReLU(), nn.Linear(mlp_hidden, n_classes)))

    def forward(self, embeddings, weights):
        return self.head(torch.einsum("bt,bte->be", weights, embeddings))


class MaskClassifier(nn.Module):
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
    """

    def __init__(self, vocab_size: int, n_classes: int = 2, *, selection: str = "soft", k: int = 1,
                 tau: float = 0.5, head: str = "linear", embed_dim: int = 32, hidden_dim: int = 32,
                 mlp_hidden: int = 32, embeddings: torch.Tensor | None = None,
                 selector_only_ids: Sequence[int] = ()):
        super().__init__()
        vocab_size = validate.integer("vocab_size", vocab_size, minimum=3)
        n_classes = validate.integer("n_classes", n_classes, minimum=2)
        k = validate.integer("k", k, minimum=1)
        tau = validate.number("tau", tau, minimum=0.0, strict_minimum=True)
        for name, value in (("embed_dim", embed_dim), ("hidden_dim", hidden_dim), ("mlp_hidden", mlp_hidden)):
            validate.integer(name, value, minimum=1)
        selector_only_ids = [validate.integer("each of selector_only_ids", i) for i in selector_only_ids]
        if any(not 0 < i < vocab_size for i in selector_only_ids):
            raise ValueError(f"selector_only_ids must be token ids in 1..{vocab_size - 1} (0 is padding), "
                             f"got {selector_only_ids}")
        if embeddings is not None and tuple(embeddings.shape) != (vocab_size, embed_dim):
            raise ValueError(f"embeddings have shape {tuple(embeddings.shape)}, expected ({vocab_size}, {embed_dim})")
        if selection not in ("soft", "hard"):
            raise ValueError(f"selection must be 'soft' or 'hard', got {selection!r}")
        if head not in ("linear", "mlp"):
            raise ValueError(f"head must be 'linear' or 'mlp', got {head!r}")
        if k < 1 or tau <= 0:
            raise ValueError(f"need k >= 1 and tau > 0, got k={k}, tau={tau}")
        self.config = dict(vocab_size=vocab_size, n_classes=n_classes, selection=selection, k=k, tau=tau,
                           head=head, embed_dim=embed_dim, hidden_dim=hidden_dim, mlp_hidden=mlp_hidden,
                           selector_only_ids=tuple(selector_only_ids))
        self.register_buffer("selector_only", torch.tensor(selector_only_ids, dtype=torch.long), persistent=False)
        self.selector = _Selector(vocab_size, embed_dim, hidden_dim)
        self.predictor = _Predictor(vocab_size, embed_dim, n_classes, head, mlp_hidden)
        if embeddings is not None:  # e.g. GloVe, as the starting point of both embedding tables
            self.selector.embedding.weight.data.copy_(embeddings)
            self.predictor.embedding.weight.data.copy_(embeddings)

    def embed(self, tokens):
        return self.predictor.embedding(tokens)

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
            gumbel = -torch.log(-torch.log(torch.rand(k, *logits.shape).clamp(1e-10, 1 - 1e-10)))
            samples = ((logits[None] + gumbel) / self.config["tau"]).softmax(-1)
            return samples.max(0).values / k
        top = scores.masked_fill(~receivable, float("-inf")).topk(min(k, scores.shape[1]), dim=1).indices
        hard = torch.zeros_like(scores).scatter(1, top, 1.0) * receivable
        return hard / hard.sum(1, keepdim=True)

    def forward(self, tokens, mask, *, inputs_embeds=None, attention: AttentionOverride | None = None,
                attend_mask=None) -> ClassifierOutput:
        check_inputs(self, tokens, mask, inputs_embeds, attend_mask)
        embeddings = self.embed(tokens) if inputs_embeds is None else inputs_embeds
        receivable = self.receivable(tokens, mask, attend_mask)
        if attention is None or callable(attention):
            weights = self.mask_of(tokens, mask, attend_mask)
            if callable(attention):
                weights = attention(weights, receivable)
        else:
            weights = attention
        if self.config["selection"] == "soft" or isinstance(attention, torch.Tensor):
            _check_attention(weights, receivable)  # (the training-time Gumbel relaxation sums to about 1 only)
        logits = self.predictor(embeddings, weights)
        return ClassifierOutput(logits, weights, embeddings, embeddings)
