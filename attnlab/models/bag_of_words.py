"""A bag-of-words classifier whose token contributions are known exactly: the kit's ground truth."""

from __future__ import annotations

import torch
from torch import nn

from .. import validate
from .base import ClassifierOutput, RemovalMixin, check_inputs


class BagOfWordsClassifier(RemovalMixin, nn.Module):
    """A model whose token contributions are known exactly: ``logits = b + Σ_t U[x_t]``.

    Every token adds its own fixed vector to the logits, whatever its context, so for two classes the
    exact signed contribution of token t to the predicted class is ``U[x_t, ŷ] − U[x_t, other]``
    (see :meth:`exact_contributions`). Deleting a token, zeroing its embedding, or excluding it from the
    (uniform, summing) pooling all remove exactly that contribution. It is the ground truth against
    which the faithfulness measurements are tested, and a worked example in the book.
    """

    attention_kind = "none"  # its uniform "attention" is counting, not something to explain or replace

    def __init__(self, vocab_size: int, n_classes: int = 2):
        super().__init__()
        vocab_size = validate.integer("vocab_size", vocab_size, minimum=2)
        n_classes = validate.integer("n_classes", n_classes, minimum=2)
        self.config = dict(vocab_size=vocab_size, n_classes=n_classes)
        self.embedding = nn.Embedding(vocab_size, n_classes, padding_idx=0)
        self.bias = nn.Parameter(torch.zeros(n_classes))  # cpu: initial weights; the model moves with .to(device)

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

    def exact_contributions(self, tokens: torch.Tensor, mask: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Signed contribution of every token to the logit margin of ``target`` (two classes)."""
        if self.config["n_classes"] != 2:
            raise ValueError("exact contributions to a probability are additive only for two classes")
        check_inputs(self, tokens, mask)
        validate.class_labels("target", target, 2, len(tokens))
        with torch.no_grad():
            e = self.embed(tokens)
            own = e.gather(2, target[:, None, None].expand(-1, tokens.shape[1], 1)).squeeze(2)
            return ((2 * own - e.sum(2)) * mask).detach()
