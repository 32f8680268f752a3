"""attnlab.models: shapes, padding, external attention and the three removal operators."""

import pytest
import torch
from conftest import make_model

from attnlab.data import Batch
from attnlab.interventions import permuted_attention, uniform_attention
from attnlab.models import AttentionClassifier, slice_out


def test_output_shapes_and_attention_is_a_distribution_over_real_tokens(model, batch):
    out = model(batch.tokens, batch.mask)
    B, T = batch.tokens.shape
    assert out.logits.shape == (B, 2)
    assert out.attention.shape == (B, T)
    assert torch.all(out.attention[~batch.mask] == 0)  # padding never receives attention
    assert torch.allclose(out.attention.sum(1), torch.ones(B))
    assert out.values.shape == (B, T, model.value_dim)


def test_padding_does_not_change_the_result(model, batch):
    out = model(batch.tokens, batch.mask)
    for i in range(len(batch)):
        alone = batch[i]  # the same sentence without any padding
        single = model(alone.tokens, alone.mask)
        assert torch.allclose(single.logits[0], out.logits[i], atol=1e-5)
        n = int(alone.lengths[0])
        assert torch.allclose(single.attention[0], out.attention[i, :n], atol=1e-5)


def test_external_attention_replaces_the_model_s_own(model, batch):
    out = model(batch.tokens, batch.mask, attention=uniform_attention)
    assert torch.allclose(out.attention[0], torch.full((5,), 0.2))
    # a uniform attention makes the model a mean-pooling model
    mean = (out.values * batch.mask[..., None]).sum(1) / batch.lengths[:, None]
    assert torch.allclose(out.logits, model.output(mean), atol=1e-5)
    given = model(batch.tokens, batch.mask, attention=out.attention)
    assert torch.allclose(given.logits, out.logits)


def test_bad_external_attention_is_rejected(batch):
    model = make_model()
    wrong = torch.ones(batch.tokens.shape)
    with pytest.raises(ValueError, match="padding"):
        model(batch.tokens, batch.mask, attention=wrong)
    with pytest.raises(ValueError, match="sum to 1"):
        model(batch.tokens, batch.mask, attention=batch.mask.float())
    with pytest.raises(ValueError, match="shape"):
        model(batch.tokens, batch.mask, attention=torch.ones(2, 2))


def test_permuted_attention_keeps_the_weights_and_moves_them(batch):
    model = make_model()
    own = model(batch.tokens, batch.mask).attention
    shuffled = permuted_attention(seed=1)(own, batch.mask)
    for i in range(len(batch)):
        n = int(batch.lengths[i])
        assert torch.allclose(shuffled[i, :n].sort().values, own[i, :n].sort().values)
        assert torch.all(shuffled[i, n:] == 0)
    assert torch.equal(shuffled, permuted_attention(seed=1)(own, batch.mask))  # seeded
    assert not torch.equal(shuffled[0], own[0])


def test_slice_out_deletes_tokens(model, batch):
    remove = torch.zeros_like(batch.mask)
    remove[0, 1] = True  # delete token 3 from [2, 3, 4, 5, 6]
    tokens, mask = slice_out(batch.tokens, batch.mask & ~remove)
    assert tokens[0, :4].tolist() == [2, 4, 5, 6] and mask[0].sum() == 4
    out = model.forward_removed(batch.tokens, batch.mask, remove, "slice_out")
    shorter = Batch.from_ids([[2, 4, 5, 6]])
    assert torch.allclose(out.logits[0], model(shorter.tokens, shorter.mask).logits[0], atol=1e-5)
    assert torch.allclose(out.logits[1:], model(batch.tokens, batch.mask).logits[1:], atol=1e-5)


def test_zeros_mask_zeroes_the_embedding(model, batch):
    remove = torch.zeros_like(batch.mask)
    remove[2, 0] = True
    out = model.forward_removed(batch.tokens, batch.mask, remove, "zeros_mask")
    embeds = model.embed(batch.tokens)
    embeds[2, 0] = 0
    assert torch.allclose(out.logits, model(batch.tokens, batch.mask, inputs_embeds=embeds).logits)
    assert out.attention[2, 0] > 0  # the token is still there and may be attended


def test_att_mask_excludes_the_token_from_attention(model, batch):
    remove = torch.zeros_like(batch.mask)
    remove[0, 2] = True
    full = model(batch.tokens, batch.mask)
    out = model.forward_removed(batch.tokens, batch.mask, remove, "att_mask")
    assert out.attention[0, 2] == 0
    expected = full.attention[0].clone()
    expected[2] = 0
    assert torch.allclose(out.attention[0], expected / expected.sum(), atol=1e-6)  # renormalised
    assert torch.allclose(out.values, full.values)  # the encoder still reads the token


def test_removal_rejects_bad_requests(batch):
    model = make_model()
    everything = batch.mask.clone()
    with pytest.raises(ValueError, match="at least one must stay"):
        model.forward_removed(batch.tokens, batch.mask, everything, "slice_out")
    with pytest.raises(ValueError, match="unknown removal operator"):
        model.forward_removed(batch.tokens, batch.mask, torch.zeros_like(batch.mask), "drop")
    with pytest.raises(ValueError, match="bool tensor"):
        model.forward_removed(batch.tokens, batch.mask, torch.zeros(batch.mask.shape), "att_mask")


def test_constructor_rejects_bad_arguments():
    with pytest.raises(ValueError, match="unknown encoder"):
        AttentionClassifier(20, encoder="gru")
    with pytest.raises(ValueError, match="unknown attention"):
        AttentionClassifier(20, attention="multiplicative")
    with pytest.raises(ValueError, match="embeddings have shape"):
        AttentionClassifier(20, embed_dim=8, embeddings=torch.zeros(10, 8))
    with pytest.raises(ValueError, match="odd"):
        AttentionClassifier(20, encoder="cnn", cnn_kernels=(2,))
