"""attnlab.explorer: the analysis is consistent with the violation test; the widgets react to changes."""

import pytest
import torch

from attnlab.data import Vocab
from attnlab.explorer import Explorer, analyse, render_html
from attnlab.faithfulness import violation_test
from attnlab.explain import explain
from attnlab.models import AttentionClassifier

WORDS = ["a", "gorgeous", "dull", "film", "and", "witty", "plot", "."]


@pytest.fixture
def model_and_vocab():
    vocab = Vocab.build([WORDS])
    torch.manual_seed(0)
    model = AttentionClassifier(len(vocab), 2, embed_dim=8, hidden_dim=6).eval()
    return model, vocab


def test_analysis_matches_the_batched_violation_test(model_and_vocab):
    model, vocab = model_and_vocab
    a = analyse(model, vocab, "A gorgeous and witty film, dull plot.", "attention_x_gradient")
    assert a.tokens[:2] == ["a", "gorgeous"] and a.unknown == [","]
    ids = torch.tensor([vocab.encode(a.tokens)])
    mask = torch.ones_like(ids, dtype=torch.bool)
    weights = explain("attention_x_gradient", model, ids, mask)
    report = violation_test(model, ids, mask, {"m": weights})
    for op, violated in a.violates.items():
        assert violated == bool(report.violates[("m", op)][0])
        assert a.delta[op] == pytest.approx(float(report.delta[("m", op)][0]), abs=1e-6)
    assert sum(a.probs) == pytest.approx(1.0)
    page = render_html(a)
    assert "gorgeous" in page and "ΔC" in page and "not in the model's vocabulary" in page.lower()


def test_one_token_sentence_and_empty_text(model_and_vocab):
    model, vocab = model_and_vocab
    a = analyse(model, vocab, "gorgeous", "raw_attention")
    assert a.delta == {} and "nothing can be removed" in render_html(a)
    with pytest.raises(ValueError, match="no tokens"):
        analyse(model, vocab, "   ", "raw_attention")


def test_widgets_are_created_and_a_change_of_method_updates_the_panel(model_and_vocab):
    model, vocab = model_and_vocab
    explorer = Explorer({"tiny": (model, vocab), "tiny again": (model, vocab, ("neg", "pos"))},
                        examples=["a gorgeous film .", "a dull plot ."], method="raw_attention")
    assert explorer.method.value == "raw_attention" and "raw_attention" in explorer.panel.value
    assert len(explorer.widget.children) == 3
    before = explorer.panel.value
    explorer.method.value = "attention_x_gradient"
    assert explorer.panel.value != before and "attention_x_gradient" in explorer.panel.value
    explorer.sentence.value = "a dull plot ."
    assert "dull" in explorer.panel.value
    explorer.model.value = "tiny again"
    assert ">neg<" in explorer.panel.value or ">pos<" in explorer.panel.value
    explorer.sentence.value = ""
    assert "Type a sentence" in explorer.panel.value
