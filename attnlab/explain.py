"""Explanation methods behind one signature, and a registry by name.

Every method answers the same question, "how much does each token matter for this prediction?", with
the same call::

    weights = explain("leave_one_out", model, batch)      # (B, T); exactly 0 on padding

``batch`` is a :class:`attnlab.data.Batch` (or pass ``tokens, mask``). Unless ``target`` is given,
each method explains the model's *predicted* class ``ŷ``, and gradients are taken of its softmax
probability ``f(x)_ŷ`` (as in Liu et al. 2022). Positive weights mean "supports ŷ", negative weights
mean "suppresses ŷ"; non-negative methods such as raw attention cannot say which.

Add a method with the ``@register("name")`` decorator; ``METHODS`` lists what is registered.
"""

from __future__ import annotations

from typing import Callable

import torch

from .data import Batch, check_padded

ExplanationMethod = Callable[..., torch.Tensor]
METHODS: dict[str, ExplanationMethod] = {}


def register(name: str) -> Callable[[ExplanationMethod], ExplanationMethod]:
    """Add an explanation method ``f(model, tokens, mask, target) -> (B, T) weights`` to the registry."""

    def add(fn: ExplanationMethod) -> ExplanationMethod:
        if name in METHODS:
            raise ValueError(f"an explanation method named {name!r} is already registered")
        METHODS[name] = fn
        return fn

    return add


def explain(method: str, model, batch: Batch | torch.Tensor, mask: torch.Tensor | None = None,
            target: torch.Tensor | None = None, **options) -> torch.Tensor:
    """Token weights ``(B, T)`` of one registered method; padding positions get exactly 0."""
    if method not in METHODS:
        raise KeyError(f"unknown explanation method {method!r}; registered: {sorted(METHODS)}")
    tokens, mask = (batch.tokens, batch.mask) if isinstance(batch, Batch) else (batch, mask)
    if mask is None:
        raise ValueError("pass a Batch, or tokens together with their mask")
    check_padded(tokens, mask)
    model.eval()
    if target is None:
        target = predicted_class(model, tokens, mask)
    weights = METHODS[method](model, tokens, mask, target, **options)
    return weights.detach().masked_fill(~mask, 0.0)


@torch.no_grad()
def predicted_class(model, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return model(tokens, mask).logits.argmax(-1)


def _target_prob(output, target: torch.Tensor) -> torch.Tensor:
    return output.probs.gather(1, target[:, None]).squeeze(1)


def _embedding_gradient(model, tokens, mask, target):
    """Embeddings (B, T, E) and the gradient of f(x)_target with respect to them."""
    embeds = model.embed(tokens).detach().requires_grad_(True)
    prob = _target_prob(model(tokens, mask, inputs_embeds=embeds), target)
    (grad,) = torch.autograd.grad(prob.sum(), embeds)
    return embeds.detach(), grad


@register("raw_attention")
def raw_attention(model, tokens, mask, target):
    """The attention weights themselves (non-negative: no polarity)."""
    with torch.no_grad():
        return model(tokens, mask).attention


@register("gradient_norm")
def gradient_norm(model, tokens, mask, target):
    """‖∂f_ŷ/∂e_t‖: how sensitive the prediction is to each token's embedding (non-negative)."""
    _, grad = _embedding_gradient(model, tokens, mask, target)
    return grad.norm(dim=-1)


@register("input_x_gradient")
def input_x_gradient(model, tokens, mask, target):
    """e_t · ∂f_ŷ/∂e_t, summed over embedding dimensions (signed)."""
    embeds, grad = _embedding_gradient(model, tokens, mask, target)
    return (embeds * grad).sum(-1)


@register("leave_one_out")
def leave_one_out(model, tokens, mask, target, operator: str = "slice_out", chunk_size: int = 4096):
    """f(x)_ŷ − f(x without token t)_ŷ for every token t (signed; positive = the token supports ŷ).

    All B·T "sentence minus one token" variants are run as batches of ``chunk_size`` rows. A sentence
    of a single token cannot lose it: its weight is 0.
    """
    B, T = tokens.shape
    with torch.no_grad():
        full = _target_prob(model(tokens, mask), target)
        rows, cols = torch.nonzero(mask & (mask.sum(1, keepdim=True) > 1), as_tuple=True)
        drops = torch.zeros(B, T)
        for start in range(0, len(rows), chunk_size):
            r, c = rows[start:start + chunk_size], cols[start:start + chunk_size]
            remove = torch.zeros(len(r), T, dtype=torch.bool)
            remove[torch.arange(len(r)), c] = True
            sub_tokens, sub_mask = tokens[r], mask[r]
            width = int(sub_mask.sum(1).max())
            out = model.forward_removed(sub_tokens[:, :width], sub_mask[:, :width],
                                        remove[:, :width], operator)
            drops[r, c] = full[r] - _target_prob(out, target[r])
    return drops


@register("random")
def random_weights(model, tokens, mask, target, seed: int = 0):
    """Uniform random weights in [-1, 1] (fixed by ``seed``): the baseline every method must beat."""
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(tokens.shape, generator=generator) * 2 - 1
