"""Where the kit computes: one helper picks the device — a CUDA GPU, Apple's MPS, or the CPU.

::

    from attnlab.device import pick_device, to_device

    device = pick_device()             # cuda when present, else mps, else cpu; ATTNLAB_DEVICE overrides
    model = to_device(model)           # the model's parameters on that device
    test = to_device(test)             # a Batch (or a tensor, or a dict/list of them)
    weights = explain_all(model, test) # computed on the model's device, returned on the batch's

**The rule of the kit.** A kit function never creates a tensor on a fixed device: new tensors take the
device of the inputs (tokens, mask, weights) or of the model's parameters. Training, prediction and the
measurements (:func:`attnlab.train.fit`, :func:`~attnlab.train.predict_proba`,
:func:`attnlab.explain.explain`, :func:`attnlab.faithfulness.violation_test`, ...) move the batch to the
model's device to compute, and return their tensors on the device the inputs came on — so a batch kept on
the CPU gives results on the CPU, whatever the model runs on. A model called directly (``model(tokens,
mask)``) does not move anything: its inputs must be on its device (a clear error says so otherwise).

**Deliberately on the CPU.** Random permutations and the random-baseline hash are drawn on the CPU and
moved (the same seed gives the same shuffle on every device); ``pack_padded_sequence`` takes its lengths
on the CPU; anything turned into NumPy goes through ``.cpu()`` first. Such lines carry a ``# cpu:``
comment (``tests/test_device.py`` checks that every other tensor constructor names its device).

**Choosing.** ``ATTNLAB_DEVICE`` (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``) overrides the automatic
choice; a device that is unknown or not present is an error that lists the ones that are. Apple's MPS
has no float64: the few float64 computations (rank correlations, the random baseline) run on the CPU.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import torch

#: The environment variable that overrides the automatic choice of :func:`pick_device`.
DEVICE_ENV = "ATTNLAB_DEVICE"

DeviceLike = str | torch.device


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def available_devices() -> list[str]:
    """The devices present on this machine, in the order :func:`pick_device` prefers them last to first:
    always ``"cpu"``, then ``"cuda:0"``, ``"cuda:1"``, … for each CUDA GPU, then ``"mps"`` on Apple
    silicon."""
    found = ["cpu"]
    if torch.cuda.is_available():
        found += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if _mps_available():
        found.append("mps")
    return found


def check_device(device: DeviceLike) -> torch.device:
    """``device`` as a ``torch.device``, or a clear ``ValueError`` if it is unknown or not present here
    (saying which devices are). ``"cuda"`` means the current CUDA GPU (usually ``cuda:0``)."""
    available = available_devices()
    if not isinstance(device, (str, torch.device)):
        raise TypeError(f"a device is a name such as 'cpu', 'cuda', 'cuda:1' or 'mps', got {device!r}")
    try:
        parsed = torch.device(device.strip().lower() if isinstance(device, str) else device)
    except (RuntimeError, ValueError) as exc:
        raise ValueError(
            f"unknown device {device!r}; devices on this machine: {available} "
            f"(names look like 'cpu', 'cuda', 'cuda:1', 'mps')"
        ) from exc
    if parsed.type == "cpu":
        return torch.device("cpu")
    if parsed.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"device {device!r} asked for, but no CUDA GPU is available here; devices on this "
                f"machine: {available}. (In Colab: Runtime → Change runtime type → GPU.)"
            )
        index = torch.cuda.current_device() if parsed.index is None else parsed.index
        if index >= torch.cuda.device_count():
            raise ValueError(
                f"device {device!r} asked for, but this machine has {torch.cuda.device_count()} CUDA "
                f"GPU(s); devices on this machine: {available}"
            )
        return torch.device("cuda", index)
    if parsed.type == "mps":
        if not _mps_available():
            raise ValueError(
                f"device {device!r} asked for, but Apple's MPS is not available here; devices on "
                f"this machine: {available}"
            )
        return torch.device("mps")
    raise ValueError(f"the kit runs on 'cpu', 'cuda' or 'mps', not {device!r}; devices on this machine: {available}")


def pick_device(device: DeviceLike | None = None) -> torch.device:
    """The device the kit should compute on.

    ``device`` if given; otherwise the environment variable ``ATTNLAB_DEVICE`` if set (``"cpu"``,
    ``"cuda"``, ``"cuda:1"``, ``"mps"``); otherwise a CUDA GPU when available, else Apple's MPS when
    available, else the CPU. A named device that is unknown or not present is a ``ValueError`` that lists
    the devices present (:func:`available_devices`).
    """
    if device is not None:
        return check_device(device)
    named = os.environ.get(DEVICE_ENV, "").strip()
    if named:
        try:
            return check_device(named)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{DEVICE_ENV}={named!r}: {exc}. Unset {DEVICE_ENV} to choose automatically.") from exc
    if torch.cuda.is_available():
        return torch.device("cuda", torch.cuda.current_device())
    if _mps_available():
        return torch.device("mps")
    return torch.device("cpu")


def device_of(obj) -> torch.device:
    """The device of a tensor, a :class:`~attnlab.data.Batch` (its tokens), a model (its first parameter,
    else its first buffer; the CPU for a model without either), or a device name."""
    if isinstance(obj, torch.device):
        return obj
    if isinstance(obj, str):
        return torch.device(obj)
    if isinstance(obj, torch.Tensor):
        return obj.device
    tokens = getattr(obj, "tokens", None)
    if isinstance(tokens, torch.Tensor):
        return tokens.device
    if isinstance(obj, torch.nn.Module):
        for tensor in obj.parameters():
            return tensor.device
        for tensor in obj.buffers():
            return tensor.device
        return torch.device("cpu")
    raise TypeError(
        f"cannot tell the device of a {type(obj).__name__}: pass a tensor, a Batch, a model or a device name"
    )


def model_device(model, fallback: torch.Tensor | None = None) -> torch.device:
    """Where ``model`` computes: the device of its first parameter (or buffer); for a model without
    either, the device of ``fallback`` (e.g. the tokens), else the CPU. The kit's functions move their
    inputs there and their results back."""
    if isinstance(model, torch.nn.Module):
        for tensor in model.parameters():
            return tensor.device
        for tensor in model.buffers():
            return tensor.device
    return fallback.device if isinstance(fallback, torch.Tensor) else torch.device("cpu")


def to_device(obj, device: DeviceLike | torch.Tensor | torch.nn.Module | None = None):
    """``obj`` on ``device`` (default :func:`pick_device`): a model (moved in place and returned), a
    :class:`~attnlab.data.Batch`, a tensor, or a dict / list / tuple of them (other values are returned
    unchanged). ``device`` may also be a tensor, a Batch or a model: then ``obj`` goes where that one is
    (``to_device(batch, model)``). A device *name* is checked (:func:`check_device`); a ``torch.device``
    is used as it is."""
    if device is None:
        target = pick_device()
    elif isinstance(device, str):
        target = check_device(device)
    else:
        target = device_of(device)
    return _move(obj, target)


def _move(obj, target: torch.device):
    if isinstance(obj, (torch.Tensor, torch.nn.Module)):
        return obj.to(target)
    if callable(getattr(obj, "to", None)) and isinstance(getattr(obj, "tokens", None), torch.Tensor):
        return obj.to(target)  # a Batch
    if isinstance(obj, Mapping):
        return type(obj)((k, _move(v, target)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)) and not hasattr(obj, "_fields"):
        return type(obj)(_move(v, target) for v in obj)
    return obj


def describe(device: DeviceLike | None = None) -> str:
    """A short human-readable name of ``device`` (default :func:`pick_device`), e.g. ``"cuda:0 (Tesla T4)"``
    or ``"cpu"``: for a chapter to say where it ran."""
    device = pick_device(device)
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    if device.type == "mps":
        return "mps (Apple silicon)"
    return "cpu"
