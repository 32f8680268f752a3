"""Moved: the Transformer classifiers are in :mod:`attnlab.models`, the interventions (uniform, permuted,
frozen) in :mod:`attnlab.interventions`, :func:`attention_share_by_layer` in :mod:`attnlab.explain`.

This alias keeps ``attnlab.transformer`` imports of kit 0.1 working; it goes in 0.3.
"""

import warnings

from .explain import attention_share_by_layer, is_punctuation  # noqa: F401
from .interventions import Intervention, LayerIntervention, attention_intervention, frozen, permuted, uniform  # noqa: F401
from .models import (  # noqa: F401
    ATTENTION_IMPLEMENTATION,
    CONTENT_OFFSET,
    MINILM_HUB_NAME,
    MINILM_PACKAGE,
    HFClassifier,
    TransformerClassifier,
    TransformerOutput,
    minilm_path,
    record_values,
    register_attention_function,
)

warnings.warn(
    "attnlab.transformer moved to attnlab.models / attnlab.interventions / attnlab.explain; "
    "the alias goes in attnlab 0.3",
    DeprecationWarning,
    stacklevel=2,
)
