"""One registry for every model: metadata, methods_for, harmless re-registration, the declared interface."""

import pytest
import torch

from attnlab.data import Batch, Vocab
from attnlab.explain import METHODS, explain, explain_all, is_signed, methods_for, register, unregister
from attnlab.explorer import Explorer, analyse
from attnlab.faithfulness import violation_test
from attnlab.models import (
    AttentionClassifier,
    BagOfWordsClassifier,
    DeepDecoderClassifier,
    KitModel,
    LayeredAttentionModel,
    MaskClassifier,
    PooledAttentionModel,
    TransformerClassifier,
    capabilities,
)

V = 20


def kit_models():
    torch.manual_seed(0)
    return {
        "bilstm": AttentionClassifier(V, 2, embed_dim=8, hidden_dim=6),
        "deep": DeepDecoderClassifier(V, 2, embed_dim=8, hidden_dim=6, decoder_layers=2),
        "mask": MaskClassifier(V, 2, embed_dim=8, hidden_dim=6),
        "bow": BagOfWordsClassifier(V, 2),
        "transformer": TransformerClassifier(V, 2, n_layers=2, n_heads=2, embed_dim=8, ff_dim=16, dropout=0.0),
    }


@pytest.fixture
def batch():
    return Batch.from_ids([[2, 3, 4, 5, 6], [7, 8], [9, 10, 11]], labels=[0, 1, 0])


@pytest.fixture
def toy_method():
    """A toy method registered by a test module: the embedding's first coordinate, signed."""

    def first_coordinate(model, tokens, mask, target):
        """The first coordinate of each token's embedding (a toy)."""
        return model.embed(tokens)[..., 0].detach()

    register("toy_first_coordinate", signed=True, needs=("embeddings",), label="Toy")(first_coordinate)
    yield first_coordinate
    unregister("toy_first_coordinate")


def test_every_kit_model_speaks_the_declared_interface():
    for name, model in kit_models().items():
        assert isinstance(model, KitModel), name
    models = kit_models()
    assert isinstance(models["transformer"], LayeredAttentionModel)
    for name in ("bilstm", "deep", "mask"):
        assert isinstance(models[name], PooledAttentionModel) and "pooled_attention" in capabilities(models[name])
    assert "pooled_attention" not in capabilities(models["bow"]) and "layer_attentions" not in capabilities(
        models["bow"]
    )


def test_a_registered_method_appears_for_every_applicable_model(toy_method, batch):
    for name, model in kit_models().items():
        model.eval()
        assert "toy_first_coordinate" in methods_for(model), name
        weights = explain_all(model, batch)
        assert "toy_first_coordinate" in weights, name
        assert torch.equal(weights["toy_first_coordinate"], explain("toy_first_coordinate", model, batch))
    model = kit_models()["bilstm"].eval()
    kit_vocab = Vocab.build([["a", "gorgeous", "film", "."]])
    explorer = Explorer({"BiLSTM": (model, kit_vocab)}, examples=["a gorgeous film ."], method="toy_first_coordinate")
    assert "toy_first_coordinate" in explorer.method.options and explorer.method.value == "toy_first_coordinate"
    assert analyse(model, kit_vocab, "a gorgeous film .", "toy_first_coordinate").signed


def test_registering_the_same_function_again_is_harmless_and_another_is_refused(toy_method):
    register("toy_first_coordinate", signed=True, needs=("embeddings",))(toy_method)  # a re-run cell
    assert len(METHODS["toy_first_coordinate"].implementations) == 1

    def first_coordinate(model, tokens, mask, target):  # the same cell re-run: a new object, same name
        return model.embed(tokens)[..., 0].detach()

    first_coordinate.__qualname__ = toy_method.__qualname__
    register("toy_first_coordinate", signed=True, needs=("embeddings",))(first_coordinate)
    assert METHODS["toy_first_coordinate"].implementations[0][1] is first_coordinate
    with pytest.raises(ValueError, match="already registered"):
        register("toy_first_coordinate", signed=True, needs=("embeddings",))(lambda m, t, k, y: t.float())
    with pytest.raises(ValueError, match="signed=True"):
        register("toy_first_coordinate", signed=False, needs=("layer_attentions",))(toy_method)
    with pytest.raises(ValueError, match="unknown needs"):
        register("toy_other", signed=True, needs=("gpu",))


def test_one_name_one_meaning_with_an_implementation_per_kind(batch):
    models = kit_models()
    for name in ("raw_attention", "attention_x_gradient", "attention_x_value_norm"):
        assert len(METHODS[name].implementations) == 2
        for kind in ("bilstm", "transformer", "mask"):
            weights = explain(name, models[kind].eval(), batch)
            assert weights.shape == batch.tokens.shape and (weights[~batch.mask] == 0).all()
    assert not is_signed("raw_attention") and is_signed("attention_x_gradient")
    with pytest.raises(TypeError, match="needs \\{layer_attentions\\}.*does not offer"):
        explain("rollout", models["bilstm"], batch)
    with pytest.raises(TypeError, match="cannot run"):
        explain_all(models["bow"], batch, ["raw_attention"])


def test_the_violation_test_runs_on_the_shortcut_lab_mask_model(batch):
    for selection in ("soft", "hard"):
        torch.manual_seed(0)
        model = MaskClassifier(V, 2, selection=selection, k=2, embed_dim=8, hidden_dim=6).eval()
        weights = explain_all(model, batch, ["raw_attention", "attention_x_gradient", "leave_one_out"])
        report = violation_test(model, batch.tokens, batch.mask, weights)
        for method in weights:
            assert 0.0 <= report.ratio(method) <= 1.0
        # leave-one-out under slice_out is the removal effect itself: it never violates
        assert report.ratio("leave_one_out", "slice_out") == 0.0
