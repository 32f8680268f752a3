"""Small deterministic models and batches to run a learner's function on inside a check.

They are tiny on purpose (a check must take well under a second) and untrained: a check compares the
learner's answer with the kit's reference on the *same* model, so the model needs to be deterministic and
to predict different classes on different sentences, not to be good.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ..data import Batch
from ..models import AttentionClassifier

__all__ = ["model_with_mixed_predictions", "random_batch", "tiny_model"]


def tiny_model(seed: int = 0, n_classes: int = 2, vocab_size: int = 20) -> AttentionClassifier:
    """A small untrained BiLSTM + additive attention classifier (fast, deterministic)."""
    torch.manual_seed(seed)
    model = AttentionClassifier(
        vocab_size, n_classes, encoder="bilstm", attention="additive", embed_dim=8, hidden_dim=6
    )
    with torch.no_grad():  # larger output weights: predictions differ between sentences
        model.output.weight.mul_(4.0)
    return model.eval()


def random_batch(seed: int, lengths: Sequence[int], vocab_size: int = 20) -> Batch:
    """A padded batch of random token ids (2 .. vocab_size − 1) with the given sentence lengths."""
    gen = torch.Generator().manual_seed(seed)
    return Batch.from_ids([torch.randint(2, vocab_size, (n,), generator=gen).tolist() for n in lengths])


def model_with_mixed_predictions(batch: Batch, n_classes: int = 2) -> AttentionClassifier:
    """The first :func:`tiny_model` that predicts every class somewhere in ``batch`` (so 'wrong class' shows)."""
    for seed in range(100):
        model = tiny_model(seed, n_classes)
        with torch.no_grad():
            pred = model(batch.tokens, batch.mask).logits.argmax(-1)
        if len(set(pred.tolist())) == n_classes:
            return model
    return model
