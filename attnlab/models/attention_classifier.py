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

import torch
from torch import nn

from .. import validate
from ..interventions import apply_override
from .base import (
    AttentionOverride,
    ClassifierOutput,
    RemovalMixin,
    _check_attention,
    check_inputs,
    masked_softmax,
    word_embedding,
)

ENCODERS = ("bilstm", "cnn")
ATTENTIONS = ("additive", "dot")


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

    attention_kind = "pooled"

    def __init__(
        self,
        vocab_size: int,
        n_classes: int = 2,
        *,
        encoder: str = "bilstm",
        attention: str = "additive",
        embed_dim: int = 50,
        hidden_dim: int = 128,
        cnn_kernels: tuple[int, ...] = (1, 3, 5, 7),
        cnn_filters: int = 32,
        dropout: float = 0.0,
        embeddings: torch.Tensor | None = None,
        freeze_embeddings: bool = False,
    ):
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
        self.config = dict(
            vocab_size=vocab_size,
            n_classes=n_classes,
            encoder=encoder,
            attention=attention,
            embed_dim=embed_dim,
            hidden_dim=hidden_dim,
            cnn_kernels=tuple(cnn_kernels),
            cnn_filters=cnn_filters,
            dropout=dropout,
            freeze_embeddings=freeze_embeddings,
        )
        self.embedding = word_embedding(vocab_size, embed_dim, embeddings, freeze_embeddings)
        if encoder == "bilstm":
            self.lstm = nn.LSTM(embed_dim, hidden_dim, batch_first=True, bidirectional=True)
            self.value_dim = 2 * hidden_dim
        else:
            self.convs = nn.ModuleList(nn.Conv1d(embed_dim, cnn_filters, k, padding=k // 2) for k in cnn_kernels)
            self.value_dim = cnn_filters * len(cnn_kernels)
        if attention == "additive":
            self.att_proj = nn.Linear(self.value_dim, hidden_dim)
            self.att_vector = nn.Linear(hidden_dim, 1, bias=False)
        else:
            # cpu: initial weights (on the CPU's random stream); the model moves with .to(device)
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
            lengths = mask.sum(1).cpu()  # cpu: pack_padded_sequence takes its lengths on the CPU
            packed = nn.utils.rnn.pack_padded_sequence(embeddings, lengths, batch_first=True, enforce_sorted=False)
            states, _ = self.lstm(packed)
            states, _ = nn.utils.rnn.pad_packed_sequence(states, batch_first=True, total_length=mask.shape[1])
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

    def forward(
        self,
        tokens: torch.Tensor,
        mask: torch.Tensor,
        *,
        inputs_embeds: torch.Tensor | None = None,
        attention: AttentionOverride | None = None,
        attend_mask: torch.Tensor | None = None,
    ) -> ClassifierOutput:
        """Classify a padded batch.

        Args:
            tokens, mask: ``(B, T)`` token ids and the bool mask of real tokens (see ``data.Batch``).
            inputs_embeds: ``(B, T, E)`` embeddings to use instead of looking ``tokens`` up.
            attention: replaces the model's attention: a ``(B, T)`` distribution (zero on padding,
                rows summing to 1), or a function ``f(attention, mask)`` returning one
                (see :func:`attnlab.interventions.apply_override`).
            attend_mask: ``(B, T)`` bool; False positions are excluded from attention (the softmax
                renormalises over the rest) while the encoder still reads them.
        """
        check_inputs(self, tokens, mask, inputs_embeds, attend_mask)
        embeddings = self.embed(tokens) if inputs_embeds is None else inputs_embeds
        values = self.encode(self.dropout(embeddings), mask)
        receivable = mask if attend_mask is None else mask & attend_mask
        weights = masked_softmax(self.attention_scores(values), receivable)
        if attention is not None:
            weights = apply_override(attention, weights, receivable, tokens)
            _check_attention(weights, receivable)
        context = torch.einsum("bt,bth->bh", weights, values)
        return ClassifierOutput(self.output(self.dropout(context)), weights, values, embeddings)


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

    def __init__(
        self,
        vocab_size: int,
        n_classes: int = 2,
        *,
        decoder_layers: int = 1,
        decoder_dim: int | None = None,
        decoder_activation: str = "relu",
        **options,
    ):
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
        self.config.update(
            decoder_layers=decoder_layers, decoder_dim=decoder_dim, decoder_activation=decoder_activation
        )

    def first_decoder_weight(self) -> torch.Tensor:
        """``W_1``, the weight of the first layer after the attention (the output layer when L = 1):
        the ``W`` of AttIN, ``α_t · ‖W_1 h_t‖`` (:func:`attnlab.explain.attention_x_value_norm`)."""
        return self.output[0].weight.detach()
