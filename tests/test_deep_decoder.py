"""Liu et al.'s depth factor: a single-attention classifier with L layers on top of the attention."""

import pytest
import torch
from torch import nn

from attnlab.data import Batch
from attnlab.explain import DEPTH_FIGURE_METHODS, explain, explain_all
from attnlab.faithfulness import violation_test
from attnlab.models import AttentionClassifier, DeepDecoderClassifier


@pytest.fixture
def batch():
    return Batch.from_ids([[3, 4, 5, 6, 7], [8, 9], [10, 11, 12]], labels=[1, 0, 1])


@pytest.mark.parametrize("layers", [1, 2, 5])
def test_the_decoder_has_l_linear_layers_after_the_attention(layers, batch):
    torch.manual_seed(0)
    model = DeepDecoderClassifier(30, decoder_layers=layers, hidden_dim=8, embed_dim=6).eval()
    linears = [m for m in model.output if isinstance(m, nn.Linear)]
    assert len(linears) == layers
    assert linears[0].in_features == model.value_dim and linears[-1].out_features == 2
    assert sum(isinstance(m, nn.ReLU) for m in model.output) == layers - 1
    assert model.config["decoder_layers"] == layers
    # the attention is the pooled model's: the layers sit between the pooled vector and the logits
    out = model(batch.tokens, batch.mask)
    context = torch.einsum("bt,bth->bh", out.attention, out.values)
    assert torch.allclose(out.logits, model.output(context), atol=1e-6)


def test_one_decoder_layer_is_the_plain_attention_classifier(batch):
    torch.manual_seed(0)
    deep = DeepDecoderClassifier(30, decoder_layers=1, hidden_dim=8, embed_dim=6).eval()
    plain = AttentionClassifier(30, hidden_dim=8, embed_dim=6).eval()
    state = {k.replace("output.0.", "output."): v for k, v in deep.state_dict().items()}
    plain.load_state_dict(state)
    assert torch.allclose(deep(batch.tokens, batch.mask).logits, plain(batch.tokens, batch.mask).logits)


def test_attin_of_the_deep_model_follows_the_authors_code(batch):
    """α_t · ‖W_1 h_t‖ with W_1 the first layer after the attention (AttnDecoder.get_att_norm)."""
    torch.manual_seed(0)
    model = DeepDecoderClassifier(30, decoder_layers=3, hidden_dim=8, embed_dim=6).eval()
    weights = explain("attention_x_value_norm", model, batch)
    with torch.no_grad():
        out = model(batch.tokens, batch.mask)
        expected = out.attention * (out.values @ model.output[0].weight.T).norm(dim=-1)
    assert torch.allclose(weights, expected * batch.mask, atol=1e-6)
    assert (weights >= 0).all()
    with torch.no_grad():  # the first layer's weight, not the output layer's, nor ‖h‖
        model.output[-1].weight.mul_(5.0)
    assert torch.allclose(explain("attention_x_value_norm", model, batch), weights)


def test_the_depth_figure_methods_run_and_the_violation_test_takes_them(batch):
    torch.manual_seed(0)
    model = DeepDecoderClassifier(30, decoder_layers=4, hidden_dim=8, embed_dim=6, decoder_activation="tanh").eval()
    assert sum(isinstance(m, nn.Tanh) for m in model.output) == 3
    weights = explain_all(model, batch, DEPTH_FIGURE_METHODS, options={"integrated_gradients": {"steps": 4}})
    assert list(weights) == [
        "raw_attention",
        "attention_x_gradient",
        "attention_x_value_norm",
        "input_x_gradient",
        "integrated_gradients",
        "random",
    ]
    assert (weights["random"][batch.mask] >= 0).all(), "the paper's random baseline is non-negative"
    report = violation_test(model, batch.tokens, batch.mask, weights)
    for name in weights:
        assert 0 <= report.ratio(name) <= 1


def test_bad_decoder_options_are_refused():
    with pytest.raises(ValueError):
        DeepDecoderClassifier(30, decoder_layers=0)
    with pytest.raises(ValueError):
        DeepDecoderClassifier(30, decoder_layers=2, decoder_activation="gelu")


def test_depth_scorecard_rows_compare_at_the_same_depth():
    """Every deep_<L> row sits beside the paper's figure at the same number of layers, on the panel its
    setting names (never a Transformer depth, never another panel)."""
    from attnlab.papers import SCORECARD_ROWS, SOURCE_FIGURE, liu2022_depth

    rows = [r for r in SCORECARD_ROWS if r.key.startswith("deep_") and r.paper is not None]
    assert rows, "chapter 6 should compare its depth factor with the paper's figure"
    for row in rows:
        depth = int(row.key.split("_")[1])
        method = row.key.split("_violation_")[1]
        dataset = row.setting.split(",")[0]
        assert dataset in ("SST", "Yelp") and f"+ {depth} deep layer" in row.setting
        assert row.source == SOURCE_FIGURE and row.paper == liu2022_depth(dataset, method, depth)
        assert method in DEPTH_FIGURE_METHODS
    assert not [
        r
        for r in SCORECARD_ROWS
        if r.chapter == "06_transformers" and r.key.startswith("transformer_depth_") and r.paper is not None
    ], "the Transformer-layer sweep has no paper curve to sit beside"
