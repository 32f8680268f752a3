"""attnlab.explain: the registry, padding, leave-one-out against a loop, and gradients against captum."""

import pytest
import torch
from captum.attr import InputXGradient, Saliency
from conftest import make_model

from attnlab import explain as explain_module
from attnlab.explain import METHODS, explain, explain_all, methods_for, register


def test_registry_knows_its_methods_and_rejects_unknown_names(batch):
    assert {"raw_attention", "gradient_norm", "input_x_gradient", "leave_one_out", "random"} <= set(METHODS)
    with pytest.raises(KeyError, match="unknown explanation method 'shap'"):
        explain("shap", make_model(), batch)
    with pytest.raises(ValueError, match="already registered"):
        register("random", signed=False, needs=())(lambda *a: None)


@pytest.mark.parametrize("method", methods_for(make_model()))
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
            rest = ids[:t] + ids[t + 1 :]
            p = model(torch.tensor([rest]), torch.ones(1, len(rest), dtype=torch.bool)).probs[0, pred[i]]
            assert weights[i, t] == pytest.approx((full - p).item(), abs=1e-5)


class _ProbOfEmbeddings(torch.nn.Module):
    """captum-facing wrapper: embeddings -> class probabilities of a kit model."""

    def __init__(self, model, tokens, mask):
        super().__init__()
        self.model, self.tokens, self.mask = model, tokens, mask

    def forward(self, embeds):
        reps = embeds.shape[0] // self.tokens.shape[0]  # captum stacks IG's steps along the batch
        return self.model(self.tokens.repeat(reps, 1), self.mask.repeat(reps, 1), inputs_embeds=embeds).probs


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
    assert torch.allclose(
        explain("leave_one_out", model, batch, target=other), -explain("leave_one_out", model, batch), atol=1e-6
    )


def test_attention_gradient_family_is_consistent(model, batch):
    grad = explain("attention_gradient", model, batch)
    alpha = explain("raw_attention", model, batch)
    assert torch.allclose(explain("attention_x_gradient", model, batch), alpha * grad, atol=1e-7)
    assert torch.allclose(explain("attention_x_abs_gradient", model, batch), alpha * grad.abs(), atol=1e-7)
    assert torch.allclose(explain("attention_x_sign_gradient", model, batch), alpha * grad.sign(), atol=1e-7)


def test_attention_gradient_matches_a_finite_difference(batch):
    model = make_model().double()
    pred = model(batch.tokens, batch.mask).logits.argmax(-1)
    alpha = model(batch.tokens, batch.mask).attention.detach()
    grad = explain("attention_gradient", model, batch)
    eps = 1e-6
    bumped = alpha.clone()
    bumped[0, 1] += eps  # the gradient is taken with the other weights held fixed
    p0 = model(batch.tokens, batch.mask, attention=lambda a, m: alpha).probs[0, pred[0]]
    p1 = model.output(torch.einsum("bt,bth->bh", bumped, model(batch.tokens, batch.mask).values)).softmax(-1)[
        0, pred[0]
    ]
    assert grad[0, 1].item() == pytest.approx(((p1 - p0) / eps).item(), rel=1e-4)


def test_integrated_gradients_is_complete_and_matches_captum(model, batch):
    from captum.attr import IntegratedGradients

    pred = model(batch.tokens, batch.mask).logits.argmax(-1)
    ig = explain("integrated_gradients", model, batch, steps=200)
    embeds = model.embed(batch.tokens).detach()
    p_full = model(batch.tokens, batch.mask, inputs_embeds=embeds).probs.gather(1, pred[:, None]).squeeze(1)
    p_zero = (
        model(batch.tokens, batch.mask, inputs_embeds=torch.zeros_like(embeds))
        .probs.gather(1, pred[:, None])
        .squeeze(1)
    )
    # completeness: the attributions add up to the change from the baseline
    assert torch.allclose(ig.sum(1), (p_full - p_zero).detach(), atol=2e-3)
    wrapped = _ProbOfEmbeddings(model, batch.tokens, batch.mask)
    theirs = IntegratedGradients(wrapped).attribute(embeds, target=pred, n_steps=200).sum(-1) * batch.mask
    assert torch.allclose(ig, theirs.float(), atol=2e-3)
    with pytest.raises(ValueError, match="steps"):
        explain("integrated_gradients", model, batch, steps=0)


def test_attin_is_attention_times_the_norm_of_the_read_out_of_each_state(model, batch):
    """AttIN as in Liu et al.'s code: α_t · ‖W h_t‖ with W the output layer's weight (no bias)."""
    out = model(batch.tokens, batch.mask)
    per_token = torch.stack([out.values[:, t] @ model.output.weight.T for t in range(out.values.shape[1])], 1)
    expected = (out.attention * per_token.norm(dim=-1)).detach()
    assert torch.allclose(explain("attention_x_value_norm", model, batch), expected, atol=1e-6)
    # the pieces add up to the logits: W c = Σ_t α_t W h_t
    logits = (out.attention[..., None] * per_token).sum(1) + model.output.bias
    assert torch.allclose(logits, out.logits, atol=1e-5)
    assert not torch.allclose(expected, (out.attention * out.values.norm(dim=-1)).detach())  # not α · ‖h‖


@pytest.mark.parametrize("method", ["random", "random_signed"])
def test_random_baselines_do_not_depend_on_batching(batch, method):
    model = make_model()
    together = explain(method, model, batch)
    for i in range(len(batch)):
        n = int(batch.lengths[i])
        assert torch.equal(explain(method, model, batch[i])[0, :n], together[i, :n])
    assert torch.equal(together, explain(method, model, batch, batch_size=2))
    assert together[batch.mask].std() > 0.2


def test_random_is_liu_et_al_non_negative_baseline_and_random_signed_takes_both_signs(batch):
    """`random` is the paper's baseline (torch.rand_like: uniform in [0, 1)); `random_signed` is 2u − 1."""
    model = make_model()
    liu, signed = explain("random", model, batch), explain("random_signed", model, batch)
    assert bool((liu[batch.mask] >= 0).all()) and bool((liu[batch.mask] < 1).all())
    assert bool((signed[batch.mask] < 0).any()) and bool((signed[batch.mask] > 0).any())
    assert bool((signed[batch.mask] >= -1).all()) and bool((signed[batch.mask] < 1).all())
    assert torch.allclose(signed, (liu * 2 - 1).masked_fill(~batch.mask, 0.0))
    assert not torch.equal(liu, explain("random", model, batch, seed=1))


def test_leave_one_out_of_one_token_sentences_is_zero():
    """Regression: a batch in which no sentence can lose a token gave an AttributeError."""
    from attnlab.data import Batch
    from attnlab.models import AttentionClassifier

    torch.manual_seed(0)
    model = AttentionClassifier(20, 2, embed_dim=8, hidden_dim=6).eval()
    batch = Batch.from_ids([[3], [5], [7]])
    assert torch.equal(explain("leave_one_out", model, batch), torch.zeros(3, 1))


def test_explain_all_equals_one_method_at_a_time_and_leaves_no_shared_gradients(model, batch):
    """explain_all computes the gradients AttGrad and its ablations (and InputGrad and the gradient norm)
    share once per chunk; the weights are exactly those of separate calls."""
    together = explain_all(model, batch, options={"integrated_gradients": {"steps": 4}})
    assert explain_module.registry._shared is None
    for name, weights in together.items():
        alone = explain(name, model, batch, **({"steps": 4} if name == "integrated_gradients" else {}))
        assert torch.equal(weights, alone), name
