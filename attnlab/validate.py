"""Checks of argument *values* shared by the kit's public functions.

Every check raises an error that names the argument, shows the offending value and says what is
allowed, so that a slip in a learner's code ("label 7 in a 2-class batch", "a NaN weight") stops at the
call that received it instead of surfacing later as an obscure ``IndexError`` or a silently wrong number.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import torch


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def integer(name: str, value: Any, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """``value`` as an int (bools are refused), within ``[minimum, maximum]``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {_show(value)}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}")
    return value


def optional_integer(name: str, value: Any, *, minimum: int | None = None) -> int | None:
    return None if value is None else integer(name, value, minimum=minimum)


def number(
    name: str,
    value: Any,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    strict_minimum: bool = False,
    strict_maximum: bool = False,
) -> float:
    """``value`` as a finite float within the given bounds (``strict_*``: the bound itself is excluded)."""
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        value = value.item()
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} {_show(value)}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if minimum is not None and (value <= minimum if strict_minimum else value < minimum):
        raise ValueError(f"{name} must be {'>' if strict_minimum else '>='} {minimum}, got {value}")
    if maximum is not None and (value >= maximum if strict_maximum else value > maximum):
        raise ValueError(f"{name} must be {'<' if strict_maximum else '<='} {maximum}, got {value}")
    return value


def choice(name: str, value: Any, options: Iterable[str]) -> str:
    options = tuple(options)
    if value not in options:
        raise ValueError(f"unknown {name} {_show(value)}; choose one of {options}")
    return value


def fractions(name: str, values: Any, *, allow_zero: bool = False) -> tuple[float, ...]:
    """A non-empty sequence of fractions in (0, 1] (or [0, 1) with ``allow_zero``, as for AUC-TP)."""
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise TypeError(f"{name} must be a sequence of fractions, got {_show(values)}")
    values = tuple(values)
    if not values:
        raise ValueError(f"{name} must not be empty")
    out = []
    for v in values:
        if allow_zero:
            out.append(number(f"each of {name}", v, minimum=0.0, maximum=1.0, strict_maximum=True))
        else:
            out.append(number(f"each of {name}", v, minimum=0.0, maximum=1.0, strict_minimum=True))
    return tuple(out)


def tensor(name: str, value: Any) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    return value


def finite(name: str, values: torch.Tensor, where: torch.Tensor | None = None) -> torch.Tensor:
    """Refuse NaN or infinite entries (only at positions ``where`` is True, if given)."""
    tensor(name, values)
    bad = ~torch.isfinite(values.detach())
    if where is not None:
        bad = bad & where
    if bool(bad.any()):
        rows = torch.nonzero(bad.reshape(bad.shape[0], -1).any(1) if bad.dim() > 1 else bad).flatten()
        raise ValueError(
            f"{name} holds {int(bad.sum())} NaN or infinite value(s) (rows {rows[:5].tolist()}"
            f"{'...' if len(rows) > 5 else ''}); find where they come from before going on"
        )
    return values


def token_ids(name: str, tokens: torch.Tensor, vocab_size: int) -> torch.Tensor:
    """Integer token ids in ``[0, vocab_size)`` (0 is padding)."""
    tensor(name, tokens)
    if tokens.dtype in (torch.bool,) or tokens.is_floating_point() or tokens.is_complex():
        raise TypeError(f"{name} must hold integer token ids (torch.long), got dtype {tokens.dtype}")
    if tokens.numel():
        low, high = int(tokens.min()), int(tokens.max())
        if low < 0 or high >= vocab_size:
            bad = high if high >= vocab_size else low
            raise ValueError(
                f"{name} holds the id {bad}, outside this model's vocabulary 0..{vocab_size - 1}; "
                "encode sentences with the Vocab the model was built with"
            )
    return tokens


def class_labels(name: str, labels: Any, n_classes: int, length: int | None = None) -> torch.Tensor:
    """Integer class labels in ``[0, n_classes)``, one per sentence if ``length`` is given."""
    tensor(name, labels)
    if labels.dtype == torch.bool or labels.is_floating_point() or labels.is_complex():
        raise TypeError(f"{name} must hold integer class labels (torch.long), got dtype {labels.dtype}")
    if labels.dim() != 1 or (length is not None and len(labels) != length):
        raise ValueError(
            f"{name} must have shape ({length if length is not None else 'B'},), got {tuple(labels.shape)}"
        )
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= n_classes):
        bad = int(labels.max()) if int(labels.max()) >= n_classes else int(labels.min())
        raise ValueError(f"{name} holds the class {bad}; this model has classes 0..{n_classes - 1}")
    return labels


def n_classes_of(model) -> int | None:
    """The number of output classes of a kit model (from its config), or None if it does not say."""
    config = getattr(model, "config", None)
    if isinstance(config, dict) and "n_classes" in config:
        return int(config["n_classes"])
    return getattr(model, "n_classes", None)
