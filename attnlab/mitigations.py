"""Moved to :mod:`attnlab.shortcuts.mitigations` (import from :mod:`attnlab.shortcuts`); this alias goes in 0.3.

``model_masks`` moved to :mod:`attnlab.shortcuts.runs`; it is re-exported here as before.
"""

from .shortcuts.mitigations import (
    OnlineMaskPropensity,
    explore,
    instance_weighting,  # noqa: F401
    instance_weights,
    inverse_propensity_weights,
    random_attention,
    random_attention_pretraining,
    random_masks_for,
)
from .shortcuts.runs import model_masks  # noqa: F401
