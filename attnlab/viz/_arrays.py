"""Values to plot as NumPy arrays, wherever they were computed: a tensor on a GPU is copied to the CPU."""

from __future__ import annotations

import numpy as np


def as_array(values, dtype=float) -> np.ndarray:
    """``values`` (a tensor on any device, an array, a list) as a NumPy array of ``dtype``."""
    if hasattr(values, "detach"):
        values = values.detach().cpu()
    elif isinstance(values, (list, tuple)) and values and hasattr(values[0], "detach"):
        values = [v.detach().cpu() for v in values]
    return np.asarray(values, dtype=dtype)
