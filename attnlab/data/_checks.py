"""Checks of argument values for the data package: each error names the argument, the offending value
and what is allowed (issue 17). Private: the rest of the kit checks its arguments with
:mod:`attnlab.validate`, whose messages are worded for models and explanations.
"""

from __future__ import annotations

import numbers

import numpy as np
import torch


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def _check_int(name: str, value, minimum: int | None = None, allow_none: bool = False) -> int | None:
    """``value`` as an int, or a clear TypeError / ValueError naming ``name``."""
    if value is None and allow_none:
        return None
    allowed = f"a whole number >= {minimum}" if minimum is not None else "a whole number"
    if allow_none:
        allowed += " or None"
    if not _is_int(value):
        raise TypeError(f"{name} must be {allowed}, got {value!r} ({type(value).__name__})")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be {allowed}, got {value}")
    return int(value)


def _short(value, width: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def _num(value) -> str:
    """A number as a student wrote it: 0.7, not float32's 0.699999988079071."""
    return f"{value:.6g}" if isinstance(value, (float, np.floating)) else str(value)


def _checked_labels(labels, count: int, num_classes: int | None = None) -> np.ndarray:
    """Labels as an int64 array after checking that they are ``count`` class ids (0..num_classes-1).

    Whole floats (1.0) are accepted; fractions, NaN, negative ids and ids beyond the classes are not.
    """
    allowed = f"class ids 0..{num_classes - 1}" if num_classes else "class ids 0, 1, 2, ..."
    try:
        arr = labels.detach().cpu().numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise TypeError(f"labels must be {allowed}, got {_short(labels)}") from exc
    if arr.shape != (count,):
        raise ValueError(f"labels have shape {arr.shape}, expected ({count},): one label per sentence")
    if arr.dtype.kind not in "biuf":
        first = next((v for v in arr.tolist() if not _is_int(v)), arr.flat[0] if arr.size else None)
        raise TypeError(f"labels must be {allowed}; got {_short(first)} ({arr.dtype} values)")
    if arr.dtype.kind == "f":
        bad = np.flatnonzero(~np.isfinite(arr))
        if bad.size:
            raise ValueError(f"labels must be {allowed}; label {bad[0]} is {_num(arr[bad[0]])}")
        bad = np.flatnonzero(arr != np.round(arr))
        if bad.size:
            raise ValueError(
                f"labels must be whole numbers ({allowed}); label {bad[0]} is {_num(arr[bad[0]])}, "
                "which is not a class id"
            )
    if arr.size:
        low = int(np.argmin(arr))
        if arr[low] < 0:
            raise ValueError(f"labels must be {allowed}; label {low} is {_num(arr[low])}")
        high = int(np.argmax(arr))
        if num_classes is not None and arr[high] >= num_classes:
            raise ValueError(f"labels must be {allowed} ({num_classes} classes); label {high} is {_num(arr[high])}")
    return arr.astype(np.int64, copy=False)
