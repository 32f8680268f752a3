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


#: The fifteen-word vocabulary and four sentences of the tiny BERTs of the tests (no download).
BERT_WORDS = [
    "[PAD]",
    "[UNK]",
    "[CLS]",
    "[SEP]",
    "[MASK]",
    "a",
    "great",
    "movie",
    "terrible",
    "awful",
    "acting",
    "fine",
    ".",
    ",",
    "!",
]
BERT_SENTENCES = ["a great movie .", "terrible , awful acting !", "fine", "a terrible , terrible movie"]


def tiny_bert_classifier(folder, prepare=lambda model: model):
    """A two-layer BERT of width 16 built from a config (seed 0), behind the kit's HFClassifier, with a
    tokenizer of :data:`BERT_WORDS` written to ``folder``; ``prepare`` may change the model's weights first."""
    transformers = pytest.importorskip("transformers")
    from attnlab.models import HFClassifier

    (folder / "vocab.txt").write_text("\n".join(BERT_WORDS) + "\n")
    tokenizer = transformers.BertTokenizerFast(str(folder / "vocab.txt"))
    torch.manual_seed(0)
    config = transformers.BertConfig(
        vocab_size=len(BERT_WORDS),
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=32,
        num_labels=2,
    )
    return HFClassifier(prepare(transformers.BertForSequenceClassification(config)), tokenizer).eval()
