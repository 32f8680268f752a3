"""Relevance propagation for Transformer encoders: conservative LRP, partial LRP, Transformer Attribution.

Three methods of the registry (:data:`attnlab.explain.METHODS`, for layered-attention models) rest on
*layer-wise relevance propagation* (LRP, Bach et al. 2015): the explained output — here the predicted
class's **logit** — is passed backwards through the network layer by layer and split, at each layer,
among the layer's inputs, ideally so that the total is *conserved*. They work on the kit's
:class:`~attnlab.models.TransformerClassifier` and on Hugging Face BERT-style encoders behind
:class:`~attnlab.models.HFClassifier`, with temporary module hooks and the kit's attention
function; no model code is forked::

    weights = explain("conservative_lrp", model, batch)     # (B, T), 0 on padding

=============================  ====================================================================
registry name                  method
=============================  ====================================================================
``conservative_lrp``           Ali et al. (2022): gradient × input of the network in which the
                               attention probabilities and the LayerNorm scale are constants of the
                               backward pass (AH- and LN-rules); sums to the logit (with the biases)
``partial_lrp``                Partial LRP (Voita et al. 2019, as Chefer et al. and Liu et al.
                               compute it): the LRP relevance of the last layer's attention map,
                               mean over heads, row of ``[CLS]`` (signed)
``transformer_attribution``    Chefer et al. (CVPR 2021): per layer ``Ē = mean_h (∇A ⊙ R^A)⁺``,
                               accumulated ``R ← R + Ē·R`` from ``R = I`` (non-negative)
=============================  ====================================================================

**How the kit propagates relevance.** Chefer et al.'s code (used by Liu et al.) gives every layer of
BERT its own ``relprop`` (LRP-αβ with α = 1, β = 0 for linear layers, relevance passed unchanged
through LayerNorm, GELU and softmax, a renormalised split at residual additions, and half of the
relevance of ``A·V`` to each factor). The kit does not rebuild the model out of such layers. It uses
the *conservative* route of Ali et al. (2022): with LRP-0 (the ε-rule with ε = 0) on every linear
layer, LRP equals gradient × input of a modified network, in which

* the attention probabilities ``A`` are constants (AH-rule: no relevance flows into queries and keys;
  the values carry all of it),
* each LayerNorm divides by a constant standard deviation (LN-rule; the centring ``x − mean(x)`` is
  linear and stays),
* each element-wise activation with ``σ(0) = 0`` (GELU, ReLU, tanh of BERT's pooler) passes relevance
  unchanged (identity rule: the backward pass uses ``σ(x)/x`` as its derivative).

Under these rules the relevance of any tensor ``h`` inside the network is ``h ⊙ ∂f̃/∂h`` (``f̃`` the
modified network, whose *forward* values are exactly the model's), and it is conserved: the input
relevances plus the share absorbed by the biases add up to the logit (tested). The relevance of a
layer's attention map, the ``R^A`` of Chefer et al., is then ``½ · A ⊙ ∂f̃/∂A``: Chefer et al.'s rule
for the product ``A·V`` (each factor gets ``x ⊙ ∂(R/Z · Z)/∂x``, halved) applied to the relevance that
the conservative rules bring to the layer's output.

**What differs from Chefer et al.'s LRP, plainly.** LRP-0 instead of LRP-αβ (α = 1, β = 0) on the
linear layers (so negative contributions keep their sign); no relevance through the query/key branch
(Chefer's code sends a share into queries and keys through the softmax); LayerNorm by the LN-rule
instead of passing relevance through unchanged; residual sums split by LRP-0 (in proportion to each
branch's contribution) instead of Chefer's renormalised split. GELU/tanh are treated as in Chefer's
code (identity). So ``partial_lrp`` and ``transformer_attribution`` are the papers' definitions with
the kit's conservative relevance in place of Chefer's relprop; ``conservative_lrp`` is Ali et al.'s
method as their code computes it (LRP-0, γ = 0), with the identity rule added for the feed-forward
activations their attention-only models do not have.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch
from torch import nn

from .. import interventions as _interventions
from ..models import CONTENT_OFFSET
from .layered import _content, _maps_of, attentions_and_gradients, genatt_from
from .registry import _shared_result, register

#: Share of a product's relevance that Chefer et al.'s rule gives to each of its two factors
#: (``A·V``: half to the attention map, half to the values).
PRODUCT_SHARE = 0.5


# --------------------------------------------------------------------------------------------------
# The conservative rules, as temporary hooks
# --------------------------------------------------------------------------------------------------


def _layer_norm_rule(module: nn.LayerNorm, args, output):
    """LN-rule: the same output, but the backward pass sees ``γ ⊙ (x − mean x) / σ + β`` with σ constant."""
    x = args[0]
    dims = tuple(range(-len(module.normalized_shape), 0))
    centred = x - x.mean(dims, keepdim=True)
    scale = (x.var(dims, unbiased=False, keepdim=True) + module.eps).sqrt().detach()
    linear = centred / scale
    if module.weight is not None:
        linear = linear * module.weight
    if module.bias is not None:
        linear = linear + module.bias
    return output.detach() + (linear - linear.detach())


def _identity_rule(module: nn.Module, args, output):
    """Identity rule for ``y = σ(x)`` with ``σ(0) = 0``: the backward pass uses ``σ(x)/x``, so that
    ``x · ∂y/∂x = y`` — the relevance passes through unchanged (Chefer et al.'s code does the same)."""
    x = args[0]
    safe = x.abs() > 1e-12
    ratio = torch.where(safe, output / torch.where(safe, x, torch.ones_like(x)), torch.zeros_like(x)).detach()
    return output.detach() + (x - x.detach()) * ratio


#: Element-wise activations that pass through 0 (σ(0) = 0), for which the identity rule conserves.
_ZERO_ACTIVATIONS = (nn.GELU, nn.ReLU, nn.Tanh, nn.SiLU, nn.LeakyReLU, nn.ELU, nn.Identity)


def _is_zero_activation(module: nn.Module) -> bool:
    if isinstance(module, _ZERO_ACTIVATIONS):
        return True
    # Hugging Face's activation modules (GELUActivation, NewGELUActivation, QuickGELUActivation, ...)
    cls = type(module)
    return cls.__module__ == "transformers.activations" and "gelu" in cls.__name__.lower()


@contextlib.contextmanager
def conservative_rules(model: nn.Module):
    """Run ``model`` in this block with Ali et al.'s (2022) conservative backward pass.

    The forward values are unchanged (the logits are the model's), but the backward pass treats every
    attention probability and every LayerNorm's standard deviation as constants, and element-wise
    activations by the identity rule (see the module docstring). Each layer's attention map comes back
    in ``output.attentions`` as a *leaf* that requires grad, so ``∂f̃/∂A`` is one ``autograd.grad`` away.
    An intervention already active (``attention_intervention``) is applied first.

    The rules reach the modules of the model: every ``nn.LayerNorm`` and every activation *module*
    (the kit's GELU; BERT's and MiniLM's ``GELUActivation`` and pooler ``Tanh``). An activation a model
    calls as a plain function is not seen — harmless for ReLU (``x · relu'(x) = relu(x)``, as in
    DistilBERT's head), but e.g. RoBERTa's classification head calls ``torch.tanh`` and would lose exact
    conservation there.
    """
    handles = []
    for module in model.modules():
        if isinstance(module, nn.LayerNorm):
            handles.append(module.register_forward_hook(_layer_norm_rule))
        elif _is_zero_activation(module):
            handles.append(module.register_forward_hook(_identity_rule))
    previous = _interventions._ACTIVE.get()

    def constant_attention(layer, weights, allowed):
        if previous is not None:
            weights = previous(layer, weights, allowed)
        return weights.detach().requires_grad_(True)

    try:
        with _interventions.attention_intervention(constant_attention):
            yield
    finally:
        for handle in handles:
            handle.remove()


def encoder_blocks(model: nn.Module):
    """The encoder's layers in order: the kit's ``model.layers``; a Hugging Face model's
    ``encoder.layer`` (BERT, RoBERTa, MiniLM, ...) or ``transformer.layer`` (DistilBERT)."""
    if isinstance(getattr(model, "layers", None), nn.ModuleList):
        return model.layers
    base = getattr(getattr(model, "model", None), "base_model", None)
    for path in (("encoder", "layer"), ("transformer", "layer")):
        blocks = base
        for name in path:
            blocks = getattr(blocks, name, None)
        if isinstance(blocks, nn.ModuleList) and len(blocks):
            return blocks
    raise TypeError(
        f"relevance propagation needs the kit's TransformerClassifier or an HFClassifier around a "
        f"BERT-style encoder; cannot find the encoder layers of {type(model).__name__}"
    )


@dataclass
class Relevance:
    """One conservative backward pass (all tensors detached).

    ``logits`` ``(B,)`` the explained output (the target class's logit); ``positions`` ``(B, S)`` the
    relevance of each position's input vector to the first encoder layer (``[CLS]`` at 0, the content
    tokens at ``1 … T``, ``[SEP]`` after them in a Hugging Face model; word *and* position/segment
    embeddings, as the encoder sees them); ``attention`` one ``(B, H, S, S)`` tensor per layer,
    ``A ⊙ ∂f̃/∂A`` — summed over heads and keys it is the relevance of the layer's attention output at
    each query position. ``positions.sum(1) + bias_share == logits``: what the biases absorb.
    """

    logits: torch.Tensor
    positions: torch.Tensor
    attention: list[torch.Tensor]

    @property
    def bias_share(self) -> torch.Tensor:
        """``(B,)``: the part of the logit that the conservative rules give to the biases, not to the input."""
        return self.logits - self.positions.sum(1)


def conservative_relevance(model, tokens: torch.Tensor, mask: torch.Tensor, target: torch.Tensor) -> Relevance:
    """Relevances of the target class's logit under the conservative rules (one forward and one
    backward pass): per input position, and per attention map of every layer."""
    captured = []

    def keep_input(module, args, kwargs):
        captured.append(args[0] if args else kwargs["hidden_states"])

    handle = encoder_blocks(model)[0].register_forward_pre_hook(keep_input, with_kwargs=True)
    try:
        with conservative_rules(model):
            out = model(tokens, mask)
    finally:
        handle.remove()
    maps = _maps_of(out)
    if len(captured) != 1:
        raise RuntimeError(f"expected one input to the first encoder layer, saw {len(captured)}")
    hidden = captured[0]
    logits = out.logits.gather(1, target[:, None]).squeeze(1)
    grads = torch.autograd.grad(logits.sum(), [hidden, *maps])
    positions = (hidden * grads[0]).sum(-1)
    attention = [(a * g).detach() for a, g in zip(maps, grads[1:])]
    return Relevance(logits.detach(), positions.detach(), attention)


def _shared_relevance(model, tokens, mask, target) -> Relevance:
    """:func:`conservative_relevance`, computed once per chunk of sentences while ``explain_all`` runs
    (the three relevance methods all start from the same backward pass)."""
    return _shared_result("conservative_relevance", conservative_relevance, model, tokens, mask, target)


def _biases_after_the_embeddings(model: nn.Module) -> list[nn.Parameter]:
    """Every bias the encoder layers and the head add (not the embeddings', which are part of the input)."""
    return [p for name, p in model.named_parameters() if name.endswith("bias") and "embedding" not in name]


def logit_budget(
    model, tokens: torch.Tensor, mask: torch.Tensor, target: torch.Tensor | None = None, *, rules: bool = True
):
    """Where the explained logit goes, sentence by sentence: a pandas DataFrame with one row per sentence
    and the columns ``logit`` (the target class's logit; default target: the predicted class),
    ``content`` (the relevance of the content tokens' input vectors, summed), ``special`` (of ``[CLS]``
    and ``[SEP]``), ``biases`` (``Σ b ⊙ ∂f̃/∂b`` over every bias after the embeddings) and ``residual``
    (``logit − content − special − biases``).

    With ``rules=True`` (the conservative rules of Ali et al. 2022) the network is linear in its inputs and
    biases along the backward pass, so the residual is zero up to rounding: that is what *conservation*
    means. With ``rules=False`` the same sum is taken with the model's ordinary gradients (plain
    gradient × input), which has no reason to add up. One forward and one backward pass per sentence.
    """
    import pandas as pd

    model.eval()
    if target is None:
        with torch.no_grad():
            target = model(tokens, mask).logits.argmax(-1)
    biases = _biases_after_the_embeddings(model)
    rows = []
    for i in range(len(tokens)):
        n = int(mask[i].sum())
        captured = []
        hook = encoder_blocks(model)[0].register_forward_pre_hook(
            lambda module, args, kwargs, captured=captured: captured.append(
                args[0] if args else kwargs["hidden_states"]
            ),
            with_kwargs=True,
        )
        try:
            with conservative_rules(model) if rules else contextlib.nullcontext():
                out = model(tokens[i : i + 1, :n], mask[i : i + 1, :n])
        finally:
            hook.remove()
        logit = out.logits[0, target[i]]
        grads = torch.autograd.grad(logit, [captured[0], *biases], allow_unused=True)
        per_position = (captured[0] * grads[0]).sum(-1)[0].detach()
        content = float(per_position[CONTENT_OFFSET : CONTENT_OFFSET + n].sum())
        special = float(per_position.sum()) - content
        bias = float(sum(float((b.detach() * g).sum()) for b, g in zip(biases, grads[1:]) if g is not None))
        value = float(logit.detach())
        rows.append(
            {
                "logit": value,
                "content": content,
                "special": special,
                "biases": bias,
                "residual": value - content - special - bias,
            }
        )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------------
# The registered methods
# --------------------------------------------------------------------------------------------------


@register(
    "conservative_lrp", signed=True, needs=("layer_attentions",), label="Conservative LRP", reference="ali2022xai"
)
def conservative_lrp(model, tokens, mask, target):
    """Conservative LRP, Ali et al. (ICML 2022), "XAI for Transformers: Better Explanations through
    Conservative Propagation" (signed).

    The paper: the gradient of a Transformer reflects the function only locally, because the attention
    heads and LayerNorm are not locally linear in the way LRP needs; treat the attention probabilities
    (AH-rule) and the LayerNorm normalisation (LN-rule) as constants in the backward pass, and LRP with
    the plain rule (LRP-0) on the rest becomes gradient × input of that modified network — and
    *conserves* relevance. Their code (``xai_transformer.py``) detaches the softmax and the LayerNorm's
    statistics, explains the class logit and reads the relevance at the first layer's input.

    The kit: the relevance of content token ``t`` is ``Σ_d h_{t,d} · ∂f̃_ŷ/∂h_{t,d}``, with ``h`` the
    input of the first encoder layer (word + position (+ segment) embeddings, after BERT's embedding
    LayerNorm) and ``f̃_ŷ`` the predicted class's logit under :func:`conservative_rules` (LN-rule on the
    standard deviation only — the centring is linear; identity rule on GELU/tanh; LRP-0, i.e. γ = 0,
    everywhere else). What is conserved: the relevances of every position (content, ``[CLS]``,
    ``[SEP]``) plus the biases' share equal the logit exactly (:func:`conservative_relevance`); the
    content tokens alone need not sum to it.
    """
    return _content(_shared_relevance(model, tokens, mask, target).positions[:, None, :], mask)


def lrp_attention_relevance(model, tokens, mask, target) -> list[torch.Tensor]:
    """``R^A`` of every layer, ``(B, H, S, S)``: the LRP relevance of the attention probabilities
    (Chefer et al.'s ``attn_cam``) under the kit's conservative rules — ``½ · A ⊙ ∂f̃_ŷ/∂A``."""
    return [PRODUCT_SHARE * r for r in _shared_relevance(model, tokens, mask, target).attention]


@register("partial_lrp", signed=True, needs=("layer_attentions",), label="Partial LRP", reference="voita2019analyzing")
def partial_lrp(model, tokens, mask, target):
    """Partial LRP (signed): the LRP relevance of the **last** layer's attention map, mean over heads,
    the ``[CLS]`` row over the content tokens.

    Voita et al. (2019) used LRP to measure how relevant each attention *head* is (and pruned the
    others); Chefer et al. (2021, CVPR) turned this into a token explanation, "partial LRP": propagate
    LRP relevance down to the last layer's attention probabilities and read that map. In Chefer et al.'s
    and Liu et al.'s code (``generate_partial_lrp``: ``get_attn_cam()`` of the last layer, mean over
    heads, the classification token's row; Liu et al.'s copy for VisualBERT leaves it signed, Chefer
    et al.'s BERT copy keeps the positive part) the map is ``R^A``, the relevance the ``A·V`` rule gives
    to ``A``. The kit's ``R^A`` is ``½ · A ⊙ ∂f̃_ŷ/∂A`` with the conservative rules of the module
    docstring (LRP-0 rather than Chefer's LRP-αβ): in the last layer only the layers above it — the
    feed-forward block, the LayerNorms and the classifier — shape it, so it differs from AttGrad on the
    logit only through the LN- and identity rules.
    """
    last = lrp_attention_relevance(model, tokens, mask, target)[-1]
    return _content(last.mean(1), mask)


def transformer_attribution_from(relevances, gradients) -> torch.Tensor:
    """Chefer et al.'s (CVPR 2021) rollout of gradient-weighted relevance maps ``(B, S, S)``: from
    ``R = I``, for each layer first to last, ``R ← R + mean_h (∇A ⊙ R^A)⁺ · R`` — the product
    ``Π_l (I + Ē_l)`` of Liu et al.'s VisualBERT code (``compute_rollout_attention`` without row
    normalisation, from the first layer). The same accumulation as GenAtt with ``R^A`` in place of ``A``."""
    return genatt_from(relevances, gradients)


@register(
    "transformer_attribution",
    signed=False,
    needs=("layer_attentions",),
    label="TransAtt",
    reference="chefer2021transformer",
)
def transformer_attribution(model, tokens, mask, target):
    """Transformer Attribution, Chefer et al. (CVPR 2021), "Transformer Interpretability Beyond
    Attention Visualization" (non-negative).

    The paper: for each self-attention layer, ``Ē = E_h (∇A ⊙ R^A)⁺`` — the LRP relevance of the
    attention map ``R^A``, weighted by the gradient of the attention ``∇A`` (of the class's output),
    positive part, mean over heads — then the layers are combined as in rollout: the product over the
    layers of ``I + Ē_l`` (the identity for the residual connection). Liu et al.'s code
    (VisualBERT's ``generate_transformer_att``) uses ``Π_l (I + Ē_l)`` without renormalising rows,
    from the first layer, and reads the classification token's row; Chefer et al.'s BERT code
    renormalises rows and by default keeps only the last layer.

    The kit: ``∇A`` is the gradient of the predicted class's **logit** (Chefer et al.'s ``one_hot ·
    output``) in the ordinary model, all layers, as for GenAtt; ``R^A = ½ · A ⊙ ∂f̃_ŷ/∂A`` from the
    conservative rules (module docstring — LRP-0, AH/LN/identity rules, in place of Chefer's relprop);
    ``Π_l (I + Ē_l)`` as in Liu et al.'s code, the ``[CLS]`` row over the content tokens. Two forward
    and two backward passes.
    """
    relevances = lrp_attention_relevance(model, tokens, mask, target)
    _, gradients = attentions_and_gradients(model, tokens, mask, target, of="logit")
    return _content(transformer_attribution_from(relevances, gradients), mask)
