"""Moved: relevance propagation is :mod:`attnlab.explain.relevance`.

This alias keeps ``attnlab.relevance`` imports of kit 0.1 working; it goes in 0.3.
"""

import sys
import warnings

from .explain import relevance as _moved

warnings.warn(
    "attnlab.relevance moved to attnlab.explain.relevance; the alias goes in attnlab 0.3",
    DeprecationWarning,
    stacklevel=2,
)
sys.modules[__name__] = _moved
