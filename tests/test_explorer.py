"""attnlab.explorer: the analysis is consistent with the violation test; the widgets react to changes."""

import pytest
import torch

from attnlab.data import Vocab
from attnlab.explain import explain
from attnlab.explorer import Explorer, analyse, render_html
from attnlab.faithfulness import violation_test
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
    explorer = Explorer(
        {"tiny": (model, vocab), "tiny again": (model, vocab, ("neg", "pos"))},
        examples=["a gorgeous film .", "a dull plot ."],
        method="raw_attention",
    )
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


def test_transformers_get_their_methods_and_the_menu_follows_the_model(model_and_vocab):
    from attnlab.explain import is_signed, methods_for
    from attnlab.models import TransformerClassifier

    model, vocab = model_and_vocab
    torch.manual_seed(0)
    transformer = TransformerClassifier(len(vocab), n_layers=2, n_heads=2, embed_dim=8, ff_dim=16, dropout=0.0).eval()
    pooled, layered = methods_for(model), methods_for(transformer)
    assert {"rollout", "genatt", "conservative_lrp"} <= set(layered) - set(pooled)
    assert {"attention_x_abs_gradient", "attention_gradient"} <= set(pooled) - set(layered)
    for name in ("conservative_lrp", "partial_lrp", "transformer_attribution"):
        a = analyse(transformer, vocab, "a gorgeous and witty film .", name)
        assert a.method == name and len(a.weights) == 6 and set(a.delta) == {"slice_out", "zeros_mask", "att_mask"}
    # Transformer Attribution, rollout and GenAtt have no sign: the panel says so instead of "supports"
    assert not any(is_signed(m) for m in ("transformer_attribution", "rollout", "genatt"))
    assert is_signed("partial_lrp") and is_signed("conservative_lrp")
    a = analyse(transformer, vocab, "a gorgeous and witty film .", "transformer_attribution")
    assert a.claimed_polarity == "matters (this method has no sign)"

    explorer = Explorer(
        {"BiLSTM": (model, vocab), "Transformer": (transformer, vocab)},
        examples=["a gorgeous film ."],
        method="raw_attention",
    )
    assert list(explorer.method.options) == pooled
    explorer.method.value = "attention_x_abs_gradient"  # a method the Transformer does not have
    explorer.model.value = "Transformer"
    assert list(explorer.method.options) == layered
    assert explorer.method.value == layered[0] and "color: #b00" not in explorer.panel.value
    explorer.method.value = "transformer_attribution"
    assert "transformer_attribution" in explorer.panel.value
    explorer.model.value = "BiLSTM"  # back: the method is not offered there, the menu falls back
    assert explorer.method.value == pooled[0] and "color: #b00" not in explorer.panel.value
    # methods= restricts every model's menu to the methods it can run
    restricted = Explorer(
        {"BiLSTM": (model, vocab), "Transformer": (transformer, vocab)},
        examples=["a film"],
        methods=["raw_attention", "partial_lrp"],
        method="raw_attention",
    )
    assert list(restricted.method.options) == ["raw_attention"]
    restricted.model.value = "Transformer"
    assert list(restricted.method.options) == ["raw_attention", "partial_lrp"]


def test_a_hugging_face_model_tokenizes_by_itself(tmp_path):
    transformers = pytest.importorskip("transformers")
    from attnlab.models import HFClassifier

    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "great", "movie", "."]
    (tmp_path / "vocab.txt").write_text("\n".join(words) + "\n")
    tokenizer = transformers.BertTokenizerFast(str(tmp_path / "vocab.txt"))
    torch.manual_seed(0)
    config = transformers.BertConfig(
        vocab_size=len(words),
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=32,
    )
    model = HFClassifier(transformers.BertForSequenceClassification(config), tokenizer).eval()
    a = analyse(model, None, "a great film .", "conservative_lrp")
    assert a.tokens == ["a", "great", "[UNK]", "."] and a.unknown == ["[UNK]"]
    assert len(a.weights) == 4 and a.delta
    assert "great" in render_html(a)
    with pytest.raises(ValueError, match="vocabulary"):
        analyse(AttentionClassifier(5, 2, embed_dim=4, hidden_dim=3), None, "a film", "raw_attention")


def test_the_sign_comes_from_the_method_never_from_the_sentence(model_and_vocab):
    """A signed method whose weights are all positive on a sentence is still drawn and read as signed."""
    from attnlab.explorer import Analysis, delta_text, render_html

    all_positive = Analysis(
        ["a", "fine", "film"],
        [0.1, 0.7, 0.2],
        "attention_x_gradient",
        ["negative", "positive"],
        [0.2, 0.8],
        1,
        1,
        delta={"slice_out": -2.4e-8, "att_mask": 0.031},
    )
    assert all_positive.signed and all_positive.claimed_polarity == "supports the prediction"
    panel = render_html(all_positive)
    assert "red supports the prediction, blue suppresses it" in panel and "no sign" not in panel
    assert "-2.4e-08" in panel and "+0.0310" in panel and "strict" in panel  # the digits that decide the test
    assert all_positive.violates == {"slice_out": True, "att_mask": False}
    unsigned = Analysis(["a", "film"], [0.3, 0.7], "raw_attention", ["negative", "positive"], [0.4, 0.6], 1, 1)
    assert not unsigned.signed and unsigned.claimed_polarity == "matters (this method has no sign)"
    assert "this method gives no sign" in render_html(unsigned)
    assert delta_text(0.0) == "0 (exactly)" and delta_text(-0.01234) == "-0.0123"


# -- the gallery of the online book --------------------------------------------------------------------


def _random_sentences(vocab, n=300, seed=1):
    from attnlab.data import Batch

    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(5, 12, (n,), generator=g).tolist()
    return Batch.from_ids([torch.randint(2, len(vocab), (k,), generator=g).tolist() for k in lengths])


def test_the_gallery_sentences_really_violate(model_and_vocab):
    """Re-check every gallery sentence on its own with the violation test: raw attention's top token
    suppresses the prediction under every operator, and the AttGrad example gets the sign right."""
    from attnlab.data import Batch
    from attnlab.explorer import find_gallery, render_gallery
    from attnlab.models import REMOVAL_OPERATORS

    model, vocab = model_and_vocab
    batch = _random_sentences(vocab)
    gallery = find_gallery(model, batch, vocab, n_suppress=2, min_effect=0.005)
    kinds = [e.kind for e in gallery]
    assert kinds == ["attention_suppresses", "attention_suppresses", "attgrad_sign"], kinds
    assert gallery[0].index != gallery[1].index  # (the AttGrad example may repeat one if it is the only one)
    for e in gallery:
        ids = vocab.encode(e.raw.tokens)
        assert ids == batch.tokens[e.index, : len(ids)].tolist()  # the tokens shown are the sentence found
        one = Batch.from_ids([ids])
        weights = {m: explain(m, model, one) for m in ("raw_attention", "attention_x_gradient")}
        report = violation_test(model, one.tokens, one.mask, weights)
        for op in REMOVAL_OPERATORS:
            assert bool(report.violates[("raw_attention", op)][0]), (e.index, op)  # raw attention violates
            delta = float(report.delta[("raw_attention", op)][0])
            assert delta <= -0.005 and e.raw.delta[op] == pytest.approx(delta, abs=1e-5)
            assert e.raw.violates[op]  # and the panel says so
            if e.kind == "attgrad_sign":
                assert not bool(report.violates[("attention_x_gradient", op)][0]) and not e.attgrad.violates[op]
                # the sign of AttGrad's top weight agrees with what removing the token does
                w = float(report.top_weight["attention_x_gradient"][0])
                assert w * float(report.delta[("attention_x_gradient", op)][0]) > 0
        assert e.raw.weights == pytest.approx(weights["raw_attention"][0].tolist(), abs=1e-5)
    page = render_gallery(gallery)
    assert page.count("this method gives no sign") == 3  # raw attention: legend from the method's declaration
    assert page.count("red supports the prediction, blue suppresses it") == 3  # attention x gradient
    assert page.count("<b>violation</b>") >= 6 and "attnlab-gallery" in page
    assert "raises" in page and "gets the sign right" in page


def test_the_gallery_takes_token_strings_and_says_when_it_found_nothing(model_and_vocab):
    from attnlab.explorer import find_gallery, render_gallery

    model, vocab = model_and_vocab
    batch = _random_sentences(vocab, n=40, seed=3)
    strings = [vocab.decode(row[m].tolist()) for row, m in zip(batch.tokens, batch.mask)]
    by_vocab, by_strings = (
        find_gallery(model, batch, vocab, min_effect=0.0),
        find_gallery(model, batch, strings, min_effect=0.0),
    )
    assert [(e.index, e.raw.tokens) for e in by_vocab] == [(e.index, e.raw.tokens) for e in by_strings]
    assert find_gallery(model, batch, vocab, min_effect=1.0) == []  # no removal changes p by 1
    assert "found no sentence" in render_gallery([])
    with pytest.raises(ValueError, match="min_effect"):
        find_gallery(model, batch, vocab, min_effect=-1)
