"""Shared fixtures: tiny batches and models built by hand, so unit tests run in milliseconds."""

import pytest
import torch

from attnlab.data import Batch
from attnlab.models import AttentionClassifier

# One thread per test process: tests/run.sh runs one process per core, and two threads in a process
# on a busy core are many times slower than one.
torch.set_num_threads(1)

ENCODER_ATTENTION = [("bilstm", "additive"), ("bilstm", "dot"), ("cnn", "additive"), ("cnn", "dot")]


@pytest.fixture
def batch() -> Batch:
    """Four sentences of different lengths over a 20-token vocabulary (ids 2..19)."""
    return Batch.from_ids([[2, 3, 4, 5, 6], [7, 8], [9, 10, 11], [12]], labels=[0, 1, 0, 1])


def make_model(encoder="bilstm", attention="additive", seed=0, **kwargs) -> AttentionClassifier:
    torch.manual_seed(seed)
    model = AttentionClassifier(
        20, 2, encoder=encoder, attention=attention, embed_dim=8, hidden_dim=6, cnn_filters=3, **kwargs
    )
    return model.eval()


@pytest.fixture(params=ENCODER_ATTENTION, ids=lambda p: "-".join(p))
def model(request) -> AttentionClassifier:
    return make_model(*request.param)
