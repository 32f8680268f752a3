"""attnlab.explain: the registry, padding, leave-one-out against a loop, and gradients against captum."""

import pytest
import torch
from captum.attr import InputXGradient, Saliency

from attnlab.explain import METHODS, explain, register
from conftest import make_model


def test_registry_knows_its_methods_and_rejects_unknown_names(batch):
    assert {"raw_attention", "gradient_norm", "input_x_gradient", "leave_one_out", "random"} <= set(METHODS)
    with pytest.raises(KeyError, match="unknown explanation method 'shap'"):
        explain("shap", make_model(), batch)
    with pytest.raises(ValueError, match="already registered"):
        register("random")(lambda *a: None)


@pytest.mark.parametrize("method", sorted(METHODS))
def test_every_method_gives_zero_on_padding_and_is_deterministic(model, batch, method):
    weights = explain(method, model, batch)
    assert weights.shape == batch.tokens.shape
    assert torch.all(weights[~batch.mask] == 0)
    assert torch.equal(weights, explain(method, model, batch))


def _target_prob(model, tokens, mask, target):
    return model(tokens, mask).probs[0, target]


@torch.no_grad()
def test_leave_one_out_matches_a_loop_over_tokens(model, batch):
    weights = explain("leave_one_out", model, batch)
    pred = model(batch.tokens, batch.mask).logits.argmax(-1)
    for i in range(len(batch)):
        ids = batch.tokens[i, : int(batch.lengths[i])].tolist()
        if len(ids) == 1:
            assert weights[i, 0] == 0  # the only token cannot be removed
            continue
        full = model(torch.tensor([ids]), torch.ones(1, len(ids), dtype=torch.bool)).probs[0, pred[i]]
        for t in range(len(ids)):
            rest = ids[:t] + ids[t + 1:]
            p = model(torch.tensor([rest]), torch.ones(1, len(rest), dtype=torch.bool)).probs[0, pred[i]]
            assert weights[i, t] == pytest.approx((full - p).item(), abs=1e-5)


class _ProbOfEmbeddings(torch.nn.Module):
    """captum-facing wrapper: embeddings -> class probabilities of a kit model."""

    def __init__(self, model, tokens, mask):
        super().__init__()
        self.model, self.tokens, self.mask = model, tokens, mask

    def forward(self, embeds):
        return self.model(self.tokens, self.mask, inputs_embeds=embeds).probs


def test_gradient_methods_agree_with_captum(model, batch):
    pred = model(batch.tokens, batch.mask).logits.argmax(-1)
    embeds = model.embed(batch.tokens).detach()
    wrapped = _ProbOfEmbeddings(model, batch.tokens, batch.mask)
    ixg = InputXGradient(wrapped).attribute(embeds, target=pred).sum(-1) * batch.mask
    assert torch.allclose(explain("input_x_gradient", model, batch), ixg, atol=1e-6)
    sal = Saliency(wrapped).attribute(embeds, target=pred, abs=True).norm(dim=-1) * batch.mask
    assert torch.allclose(explain("gradient_norm", model, batch), sal, atol=1e-6)


def test_explaining_another_target_class(batch):
    model = make_model()
    pred = model(batch.tokens, batch.mask).logits.argmax(-1)
    other = 1 - pred
    # the two class probabilities sum to one, so their leave-one-out effects are opposite
    assert torch.allclose(explain("leave_one_out", model, batch, target=other),
                          -explain("leave_one_out", model, batch), atol=1e-6)
