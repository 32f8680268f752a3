"""Explanations read off a pooled-attention model's attention: raw attention, AttGrad and its ablations, AttIN.

A pooled-attention model (:class:`attnlab.models.PooledAttentionModel`: one attention distribution α
over the tokens) is explained here; the same names for Transformers live in :mod:`attnlab.explain.layered`.
"""

from __future__ import annotations

import torch

from .registry import _shared_result, register, target_prob


@register("raw_attention", signed=False, needs=("pooled_attention",), label="RawAtt", reference="jain2019attention")
def raw_attention(model, tokens, mask, target):
    """The attention weights themselves (non-negative: no polarity)."""
    with torch.no_grad():
        return model(tokens, mask).attention


# --------------------------------------------------------------------------------------------------
# Attention-gradient family (Liu et al. 2022): gradients with respect to the attention weights
# --------------------------------------------------------------------------------------------------


def _attention_and_gradient(model, tokens, mask, target):
    """The model's attention α (B, T) and ∂f(x)_target / ∂α, holding everything else fixed."""
    return _shared_result("attention_gradient", _compute_attention_and_gradient, model, tokens, mask, target)


def _compute_attention_and_gradient(model, tokens, mask, target):
    with torch.no_grad():
        alpha = model(tokens, mask).attention
    alpha = alpha.clone().requires_grad_(True)
    prob = target_prob(model(tokens, mask, attention=alpha), target)
    (grad,) = torch.autograd.grad(prob.sum(), alpha)
    return alpha.detach(), grad


@register(
    "attention_x_gradient", signed=True, needs=("pooled_attention",), label="AttGrad", reference="liu2022rethinking"
)
def attention_x_gradient(model, tokens, mask, target):
    """AttGrad: α ⊙ ∂f_ŷ/∂α (signed). A token with large attention whose weight *lowers* the
    probability of ŷ gets a negative score."""
    alpha, grad = _attention_and_gradient(model, tokens, mask, target)
    return alpha * grad


@register("attention_x_abs_gradient", signed=False, needs=("pooled_attention",), label="AttGrad (no sign)")
def attention_x_abs_gradient(model, tokens, mask, target):
    """Ablation of AttGrad without the sign: α ⊙ |∂f_ŷ/∂α| (non-negative)."""
    alpha, grad = _attention_and_gradient(model, tokens, mask, target)
    return alpha * grad.abs()


@register("attention_x_sign_gradient", signed=True, needs=("pooled_attention",), label="AttGrad (sign only)")
def attention_x_sign_gradient(model, tokens, mask, target):
    """Ablation of AttGrad without the gradient's size: α ⊙ sign(∂f_ŷ/∂α)."""
    alpha, grad = _attention_and_gradient(model, tokens, mask, target)
    return alpha * grad.sign()


@register("attention_gradient", signed=True, needs=("pooled_attention",), label="∂f/∂α")
def attention_gradient(model, tokens, mask, target):
    """Ablation of AttGrad without the attention: ∂f_ŷ/∂α alone."""
    return _attention_and_gradient(model, tokens, mask, target)[1]


def first_readout_weight(model) -> torch.Tensor:
    """``W``: the weight of the first linear layer applied to the attention-pooled vector.

    For :class:`attnlab.models.AttentionClassifier` that is the output layer; a model with layers
    after its attention says which is first through a ``first_decoder_weight()`` method, or has an
    ``output`` that is an ``nn.Sequential`` starting with a linear layer.
    """
    if hasattr(model, "first_decoder_weight"):
        return model.first_decoder_weight().detach()
    head = getattr(model, "output", None)
    if isinstance(head, torch.nn.Sequential) and len(head):
        head = head[0]
    if not isinstance(head, torch.nn.Linear):
        raise TypeError(
            f"AttIN needs the linear layer that reads the attention-pooled vector (model.output), "
            f"and {type(model).__name__} has none"
        )
    return head.weight.detach()


@register(
    "attention_x_value_norm",
    signed=False,
    needs=("pooled_attention", "readout_weight"),
    label="AttIN",
    reference="kobayashi2020attention",
)
def attention_x_value_norm(model, tokens, mask, target):
    """AttIN (non-negative): α_t · ‖W h_t‖, as in Liu et al.'s (2022) code, after Kobayashi et al. (2020).

    Kobayashi et al. measure the size of the *transformed* vector that attention weighs — ‖α f(x)‖, with
    f the value transform of an attention layer — rather than α alone. The kit's pooled classifiers
    have no value transform: the attention pools the encoder states themselves, c = Σ_t α_t h_t, and
    the logits are W c + b. Liu et al.'s code for these single-attention models
    (``AttnDecoder.get_att_norm``: ``attn * norm(hidden @ main[0].weight.T)``) takes for W the weight
    of the first linear layer after the attention, without its bias; the kit does the same
    (:func:`first_readout_weight`; here the output layer). This is the honest analogue: with a linear
    read-out, W c = Σ_t α_t (W h_t), so α_t W h_t is exactly what token t adds to the logits. Taking W
    as the identity (α_t · ‖h_t‖) would also count directions of h_t that the read-out ignores.
    """
    weight = first_readout_weight(model)
    with torch.no_grad():
        out = model(tokens, mask)
        return out.attention * (out.values @ weight.T).norm(dim=-1)
