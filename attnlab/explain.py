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

from . import validate
from .data import Batch, check_padded

ExplanationMethod = Callable[..., torch.Tensor]
METHODS: dict[str, ExplanationMethod] = {}

#: While :func:`explain_all` runs: gradients its methods share, per chunk of sentences (AttGrad and its
#: three ablations need the same ∂f/∂α, InputGrad and the gradient norm the same ∂f/∂e).
_shared: dict | None = None


def _shared_result(name: str, compute, model, tokens, mask, target):
    """``compute(model, tokens, mask, target)``, computed once per chunk while :func:`explain_all` runs."""
    if _shared is None:
        return compute(model, tokens, mask, target)
    key = (name, id(model), tuple(tokens.shape), tokens.numpy().tobytes(), mask.numpy().tobytes(),
           target.numpy().tobytes())
    if key not in _shared:
        _shared[key] = compute(model, tokens, mask, target)
    return _shared[key]


def register(name: str) -> Callable[[ExplanationMethod], ExplanationMethod]:
    """Add an explanation method ``f(model, tokens, mask, target) -> (B, T) weights`` to the registry."""

    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"an explanation method needs a non-empty name, got {name!r}")

    def add(fn: ExplanationMethod) -> ExplanationMethod:
        if not callable(fn):
            raise TypeError(f"register({name!r}) decorates a function f(model, tokens, mask, target), got {fn!r}")
        if name in METHODS:
            raise ValueError(f"an explanation method named {name!r} is already registered")
        METHODS[name] = fn
        return fn

    return add


def explain(method: str, model, batch: Batch | torch.Tensor, mask: torch.Tensor | None = None,
            target: torch.Tensor | None = None, batch_size: int = 64,
            registry: dict[str, ExplanationMethod] | None = None, **options) -> torch.Tensor:
    """Token weights ``(B, T)`` of one registered method; padding positions get exactly 0.

    Sentences are processed in chunks of ``batch_size`` sentences of similar length: backpropagating
    through a recurrent encoder is several times faster on small, tightly padded batches than on one
    huge batch. ``options`` go to the method (e.g. ``steps=`` for integrated gradients).
    ``registry`` looks the method up elsewhere than in ``METHODS`` (e.g. the multi-layer methods of
    :mod:`attnlab.multilayer`).
    """
    registry = METHODS if registry is None else registry
    if not isinstance(method, str) or method not in registry:
        raise KeyError(f"unknown explanation method {method!r}; registered: {sorted(registry)}")
    tokens, mask = (batch.tokens, batch.mask) if isinstance(batch, Batch) else (batch, mask)
    if mask is None:
        raise ValueError("pass a Batch, or tokens together with their mask")
    check_padded(tokens, mask)
    batch_size = validate.integer("batch_size", batch_size, minimum=1)
    model.eval()
    if target is None:
        target = predicted_class(model, tokens, mask)
    else:
        n_classes = validate.n_classes_of(model)
        validate.class_labels("target", target, n_classes if n_classes else int(target.max()) + 1, len(tokens))
    weights = torch.zeros(tokens.shape)
    order = torch.argsort(mask.sum(1), stable=True)
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        width = int(mask[idx].sum(1).max())
        chunk = registry[method](model, tokens[idx, :width], mask[idx, :width], target[idx], **options)
        if not isinstance(chunk, torch.Tensor) or tuple(chunk.shape) != (len(idx), width):
            raise ValueError(f"explanation method {method!r} returned "
                             f"{tuple(chunk.shape) if isinstance(chunk, torch.Tensor) else type(chunk).__name__}"
                             f", expected a tensor of shape ({len(idx)}, {width}): one weight per token")
        weights[idx, :width] = chunk.detach().float()
    weights = weights.masked_fill(~mask, 0.0)
    if not bool(torch.isfinite(weights).all()):
        bad = int((~torch.isfinite(weights)).any(1).sum())
        raise ValueError(f"explanation method {method!r} returned NaN or infinite weights for {bad} sentence(s); "
                         "an explanation must be finite (a NaN would pass the violation test as 'no violation')")
    return weights


@torch.no_grad()
def predicted_class(model, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return model(tokens, mask).logits.argmax(-1)


def _target_prob(output, target: torch.Tensor) -> torch.Tensor:
    return output.probs.gather(1, target[:, None]).squeeze(1)


def _embedding_gradient(model, tokens, mask, target):
    """Embeddings (B, T, E) and the gradient of f(x)_target with respect to them."""
    return _shared_result("embedding_gradient", _compute_embedding_gradient, model, tokens, mask, target)


def _compute_embedding_gradient(model, tokens, mask, target):
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
def leave_one_out(model, tokens, mask, target, operator: str = "slice_out", chunk_size: int = 512):
    """f(x)_ŷ − f(x without token t)_ŷ for every token t (signed; positive = the token supports ŷ).

    All "sentence minus one token" variants are run together in batches of ``chunk_size`` rows. A
    sentence of a single token cannot lose it: its weight is 0.
    """
    from .faithfulness import probs_after_removal

    validate.choice("removal operator", operator, ("slice_out", "zeros_mask", "att_mask"))
    chunk_size = validate.integer("chunk_size", chunk_size, minimum=1)
    B, T = tokens.shape
    rows, cols = torch.nonzero(mask & (mask.sum(1, keepdim=True) > 1), as_tuple=True)
    drops = torch.zeros(B, T)
    if len(rows) == 0:  # only one-token sentences: nothing can be removed
        return drops
    remove = torch.zeros(len(rows), T, dtype=torch.bool)
    remove[torch.arange(len(rows)), cols] = True
    with torch.no_grad():
        full = _target_prob(model(tokens, mask), target)
    removed = probs_after_removal(model, tokens[rows], mask[rows], remove, operator, chunk_size)
    drops[rows, cols] = full[rows] - removed.gather(1, target[rows, None]).squeeze(1)
    return drops


def _uniform_hash(tokens: torch.Tensor, seed: int) -> torch.Tensor:
    """Pseudo-random numbers in [0, 1), one per position: a hash of (seed, the sentence, the position).

    They do not depend on how the sentences are batched, and a rerun gives the same numbers.
    """
    seed = validate.integer("seed", seed, minimum=0)
    ids = tokens.double()
    sentence = (ids * torch.arange(1, tokens.shape[1] + 1)).sum(1, keepdim=True)
    position = torch.arange(tokens.shape[1], dtype=torch.float64)
    h = torch.sin(ids * 12.9898 + position * 78.233 + sentence * 0.618034 + seed * 37.719) * 43758.5453
    # clamped below 1 so that rounding the float64 fraction to float32 cannot give exactly 1.0
    return (h - torch.floor(h)).clamp(max=1 - 2 ** -24).float()


@register("random")
def random_weights(model, tokens, mask, target, seed: int = 0):
    """Liu et al.'s (2022) random baseline: non-negative weights, uniform in [0, 1).

    The authors' code draws ``torch.rand_like(attn)``; here each weight is a hash of (seed, the
    sentence, the position) mapped to [0, 1), so it does not depend on how the sentences are batched
    and a rerun gives the same weights.

    What its violation ratio measures: a non-negative weight says "supports ŷ" for every token, so the
    test's top token (here a token drawn at random) violates exactly when removing it *raises* f_ŷ. The
    ratio is the share of tokens whose removal raises the predicted class's probability — about the
    fraction of "suppressing" tokens. It is the chance level of a method without a sign, and the
    paper's "Random" row. For a sign-aware chance level see ``random_signed``.
    """
    return _uniform_hash(tokens, seed)


@register("random_signed")
def random_signed_weights(model, tokens, mask, target, seed: int = 0):
    """A signed random baseline, uniform in [-1, 1): the same hash as ``random``, mapped to 2u − 1.

    What its violation ratio measures: the sign of the top weight is a coin flip independent of the
    token, so it violates about half the time whatever the model does (≈ 0.5 by construction) — the
    chance level of a method that claims a sign. It is not the paper's baseline (that is ``random``).
    """
    return _uniform_hash(tokens, seed) * 2 - 1


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
    prob = _target_prob(model(tokens, mask, attention=alpha), target)
    (grad,) = torch.autograd.grad(prob.sum(), alpha)
    return alpha.detach(), grad


@register("attention_x_gradient")
def attention_x_gradient(model, tokens, mask, target):
    """AttGrad: α ⊙ ∂f_ŷ/∂α (signed). A token with large attention whose weight *lowers* the
    probability of ŷ gets a negative score."""
    alpha, grad = _attention_and_gradient(model, tokens, mask, target)
    return alpha * grad


@register("attention_x_abs_gradient")
def attention_x_abs_gradient(model, tokens, mask, target):
    """Ablation of AttGrad without the sign: α ⊙ |∂f_ŷ/∂α| (non-negative)."""
    alpha, grad = _attention_and_gradient(model, tokens, mask, target)
    return alpha * grad.abs()


@register("attention_x_sign_gradient")
def attention_x_sign_gradient(model, tokens, mask, target):
    """Ablation of AttGrad without the gradient's size: α ⊙ sign(∂f_ŷ/∂α)."""
    alpha, grad = _attention_and_gradient(model, tokens, mask, target)
    return alpha * grad.sign()


@register("attention_gradient")
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
        raise TypeError(f"AttIN needs the linear layer that reads the attention-pooled vector (model.output), "
                        f"and {type(model).__name__} has none")
    return head.weight.detach()


@register("attention_x_value_norm")
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


@register("integrated_gradients")
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
    alphas = torch.linspace(0.0, 1.0, steps + 1)
    trapezoid = torch.ones(steps + 1)
    trapezoid[0] = trapezoid[-1] = 0.5
    # rows ordered (step, instance): row k*B + i is instance i scaled by alphas[k]
    scaled = (alphas[:, None, None, None] * embeds[None]).reshape(-1, T, embeds.shape[-1])
    rep_tokens, rep_mask = tokens.repeat(steps + 1, 1), mask.repeat(steps + 1, 1)
    rep_target = target.repeat(steps + 1)
    grads = torch.empty_like(scaled)
    for start in range(0, len(scaled), chunk_size):
        part = slice(start, start + chunk_size)
        x = scaled[part].clone().requires_grad_(True)
        prob = _target_prob(model(rep_tokens[part], rep_mask[part], inputs_embeds=x), rep_target[part])
        (grads[part],) = torch.autograd.grad(prob.sum(), x)
    mean_grad = (grads.reshape(steps + 1, B, T, -1) * trapezoid[:, None, None, None]).sum(0) / steps
    return (embeds * mean_grad).sum(-1)


def explain_all(model, batch: Batch, methods=None, *, registry: dict[str, ExplanationMethod] | None = None,
                options: dict[str, dict] | None = None) -> dict[str, torch.Tensor]:
    """Weights of several methods (default: every registered one) for the same batch: ``{name: (B, T)}``.

    The predicted class is computed once and shared, so every method explains the same ŷ.
    ``options`` maps a method name to keyword options for it (e.g. ``{"integrated_gradients":
    {"steps": 10}}``); ``registry`` as in :func:`explain`.
    """
    registry = METHODS if registry is None else registry
    if isinstance(methods, str):
        raise TypeError(f"methods must be a list of method names, got the string {methods!r}; write [{methods!r}]")
    if not isinstance(batch, Batch):
        raise TypeError(f"explain_all takes a Batch (see attnlab.data.encode), got {type(batch).__name__}")
    methods = list(registry) if methods is None else list(methods)
    if not methods:
        raise ValueError("methods is empty: name at least one explanation method")
    unknown = [m for m in methods if m not in registry]
    if unknown:
        raise KeyError(f"unknown explanation methods {unknown}; registered: {sorted(registry)}")
    options = options or {}
    stray = [name for name in options if name not in methods]
    if stray:
        raise ValueError(f"options given for methods that are not run: {stray}; methods: {methods}")
    target = predicted_class(model, batch.tokens, batch.mask)
    global _shared
    outer, _shared = _shared, ({} if _shared is None else _shared)
    try:  # the methods share gradients they all need (computed once per chunk of sentences)
        return {name: explain(name, model, batch, target=target, registry=registry, **options.get(name, {}))
                for name in methods}
    finally:
        _shared = outer
