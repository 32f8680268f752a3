"""Gradient methods: how the predicted class's probability responds to each token's embedding.

``gradient_norm`` (‖∂f/∂e‖), ``input_x_gradient`` (e · ∂f/∂e) and ``integrated_gradients`` work on every
kit model: they need only ``embed`` and ``forward(..., inputs_embeds=)``.
"""

from __future__ import annotations

import torch

from .. import validate
from .registry import _shared_result, register, target_prob


def _embedding_gradient(model, tokens, mask, target):
    """Embeddings (B, T, E) and the gradient of f(x)_target with respect to them."""
    return _shared_result("embedding_gradient", _compute_embedding_gradient, model, tokens, mask, target)


def _compute_embedding_gradient(model, tokens, mask, target):
    embeds = model.embed(tokens).detach().requires_grad_(True)
    prob = target_prob(model(tokens, mask, inputs_embeds=embeds), target)
    (grad,) = torch.autograd.grad(prob.sum(), embeds)
    return embeds.detach(), grad


@register("gradient_norm", signed=False, needs=("embeddings",), label="GradNorm")
def gradient_norm(model, tokens, mask, target):
    """‖∂f_ŷ/∂e_t‖: how sensitive the prediction is to each token's embedding (non-negative)."""
    _, grad = _embedding_gradient(model, tokens, mask, target)
    return grad.norm(dim=-1)


@register("input_x_gradient", signed=True, needs=("embeddings",), label="InputGrad")
def input_x_gradient(model, tokens, mask, target):
    """e_t · ∂f_ŷ/∂e_t, summed over embedding dimensions (signed)."""
    embeds, grad = _embedding_gradient(model, tokens, mask, target)
    return (embeds * grad).sum(-1)


@register("integrated_gradients", signed=True, needs=("embeddings",), label="IG", reference="sundararajan2017axiomatic")
def integrated_gradients(model, tokens, mask, target, steps: int = 20, chunk_size: int = 128):
    """Integrated gradients from the all-zero embedding (Sundararajan et al. 2017), summed over
    embedding dimensions (signed).

    IG_t = e_t · (1/m) Σ_k ∂f_ŷ(k/m · e)/∂e_t with the trapezoid rule over m = ``steps`` intervals,
    so Σ_t IG_t ≈ f(e)_ŷ − f(0)_ŷ (completeness). All B·(m+1) scaled inputs are run as batches of
    ``chunk_size`` rows. (The public code of Liu et al. forgets the 1/m factor; it does not change
    signs or ranks, but it breaks completeness.)
    """
    steps = validate.integer("steps", steps, minimum=1)
    chunk_size = validate.integer("chunk_size", chunk_size, minimum=1)
    B, T = tokens.shape
    embeds = model.embed(tokens).detach()
    alphas = torch.linspace(0.0, 1.0, steps + 1, device=embeds.device)
    trapezoid = torch.ones(steps + 1, device=embeds.device)
    trapezoid[0] = trapezoid[-1] = 0.5
    # rows ordered (step, instance): row k*B + i is instance i scaled by alphas[k]
    scaled = (alphas[:, None, None, None] * embeds[None]).reshape(-1, T, embeds.shape[-1])
    rep_tokens, rep_mask = tokens.repeat(steps + 1, 1), mask.repeat(steps + 1, 1)
    rep_target = target.repeat(steps + 1)
    grads = torch.empty_like(scaled)
    for start in range(0, len(scaled), chunk_size):
        part = slice(start, start + chunk_size)
        x = scaled[part].clone().requires_grad_(True)
        prob = target_prob(model(rep_tokens[part], rep_mask[part], inputs_embeds=x), rep_target[part])
        (grads[part],) = torch.autograd.grad(prob.sum(), x)
    mean_grad = (grads.reshape(steps + 1, B, T, -1) * trapezoid[:, None, None, None]).sum(0) / steps
    return (embeds * mean_grad).sum(-1)
