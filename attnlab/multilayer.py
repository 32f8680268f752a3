"""Moved: the multi-layer explanation methods are in :mod:`attnlab.explain` (one registry for every
model; :func:`attnlab.explain.methods_for`), :class:`DeepDecoderClassifier` in :mod:`attnlab.models`.

This alias keeps ``attnlab.multilayer`` imports of kit 0.1 working; it goes in 0.3.
"""

import warnings

from .explain import DEPTH_FIGURE_METHODS, METHODS, explain, explain_all
from .explain.layered import (  # noqa: F401
    _content,
    _maps_of,
    attention_x_gradient,
    attention_x_value_norm,
    attentions_and_gradients,
    genatt,
    genatt_from,
    raw_attention,
    rollout,
    rollout_from,
    value_norms_from,
)
from .models import DeepDecoderClassifier  # noqa: F401

warnings.warn(
    "attnlab.multilayer moved to attnlab.explain (and attnlab.models for DeepDecoderClassifier); "
    "the alias goes in attnlab 0.3",
    DeprecationWarning,
    stacklevel=2,
)

#: The methods of kit 0.1's multi-layer registry.
MULTILAYER_METHODS = {
    name: METHODS[name]
    for name in (
        "raw_attention",
        "attention_x_gradient",
        "rollout",
        "genatt",
        "attention_x_value_norm",
        "input_x_gradient",
        "integrated_gradients",
        "random",
        "random_signed",
        "conservative_lrp",
        "partial_lrp",
        "transformer_attribution",
    )
}
DEEP_DECODER_METHODS = {name: METHODS[name] for name in DEPTH_FIGURE_METHODS}


def explain_multilayer(method, model, batch, mask=None, target=None, batch_size=32, **options):
    """Kit 0.1's name for :func:`attnlab.explain.explain`."""
    return explain(method, model, batch, mask, target, batch_size, **options)


def explain_all_multilayer(model, batch, methods=None, **per_method_options):
    """Kit 0.1's name for :func:`attnlab.explain.explain_all` over the multi-layer methods."""
    return explain_all(
        model, batch, list(MULTILAYER_METHODS) if methods is None else methods, options=per_method_options
    )


def explain_all_deep(model, batch, methods=None, **per_method_options):
    """Kit 0.1's name for :func:`attnlab.explain.explain_all` over ``DEPTH_FIGURE_METHODS``."""
    return explain_all(
        model, batch, list(DEPTH_FIGURE_METHODS) if methods is None else methods, options=per_method_options
    )
