"""One training loop for every model in the kit, evaluation, seeds, and safe saving/loading.

``fit`` trains with Adam and cross-entropy, shows a progress bar (set ``TQDM_DISABLE=1`` to hide it),
evaluates on the dev split after every epoch, stops early when dev accuracy has not improved for
``patience`` epochs and restores the best weights. The same seed gives the same model.

Training and prediction run on the model's device (move the model there first, e.g.
``attnlab.device.to_device(model)``); batches are moved to it, and predictions come back on the batch's
device.

Weights are stored with ``safetensors`` (a plain tensor format: loading it cannot run code, unlike
unpickling) together with the model's constructor arguments.
"""

from __future__ import annotations

import copy
import json
import os
import random
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from . import validate
from ._io import atomic_write
from .data import Batch
from .device import check_device, model_device
from .models import AttentionClassifier, BagOfWordsClassifier


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and PyTorch so that a run can be repeated exactly."""
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    random.seed(int(seed))
    np.random.seed(int(seed))
    torch.manual_seed(int(seed))


@dataclass
class History:
    """Per-epoch record of a training run."""

    epochs: list[dict] = field(default_factory=list)
    best_epoch: int = 0
    best_dev_accuracy: float = float("nan")

    def table(self):
        import pandas as pd

        return pd.DataFrame(self.epochs).set_index("epoch")


def fit(
    model: nn.Module,
    train: Batch,
    dev: Batch | None = None,
    *,
    epochs: int = 10,
    batch_size: int = 32,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    patience: int = 2,
    seed: int = 0,
    max_steps: int | None = None,
    progress: bool = True,
    forward_kwargs: dict | None = None,
    loss_weights=None,
    stop_when_perfect: bool = False,
) -> History:
    """Train ``model`` on ``train``; early-stop on ``dev`` accuracy and restore the best weights.

    ``seed`` fixes the batch order and dropout; the initial weights are fixed by the random state when
    the model is built, so call :func:`set_seed` before building it.

    ``forward_kwargs`` are passed to every forward call (e.g. ``attention=`` for a model trained
    with a fixed or random attention). ``max_steps`` caps the number of updates (smoke runs).

    ``loss_weights``, if given, is called as ``loss_weights(batch, output)`` on every training mini-batch
    (``output`` is the model's :class:`~attnlab.models.ClassifierOutput`) and returns one non-negative
    weight per example; the loss is then the weighted mean (instance weighting, see
    :mod:`attnlab.shortcuts.mitigations`).

    ``stop_when_perfect`` stops as soon as the dev accuracy is 1.0. No later epoch could then be restored
    (only a strictly better dev accuracy replaces the best weights), so the returned model is exactly the
    one the full run would return, without training the remaining epochs for nothing. Off by default:
    the history is shorter and the random state after ``fit`` differs from a full run.

    Training runs on the model's device: ``train`` is moved there once (``dev`` batch by batch, see
    :func:`accuracy`).
    """
    if not isinstance(train, Batch) or (dev is not None and not isinstance(dev, Batch)):
        raise TypeError("fit takes Batch objects for train and dev (see attnlab.data.encode)")
    if train.labels is None or (dev is not None and dev.labels is None):
        raise ValueError("fit needs labelled batches (Batch.labels is None)")
    epochs = validate.integer("epochs", epochs, minimum=1)
    batch_size = validate.integer("batch_size", batch_size, minimum=1)
    lr = validate.number("lr", lr, minimum=0.0, strict_minimum=True)
    weight_decay = validate.number("weight_decay", weight_decay, minimum=0.0)
    patience = validate.integer("patience", patience, minimum=1)
    max_steps = validate.optional_integer("max_steps", max_steps, minimum=1)
    if not isinstance(stop_when_perfect, bool):
        raise TypeError(f"stop_when_perfect must be True or False, got {stop_when_perfect!r}")
    if stop_when_perfect and dev is None:
        raise ValueError("stop_when_perfect needs a dev split: it stops when the dev accuracy is 1.0")
    if loss_weights is not None and not callable(loss_weights):
        raise TypeError("loss_weights must be a function (batch, output) -> one weight per example")
    n_classes = validate.n_classes_of(model)
    if n_classes:
        validate.class_labels("train labels", train.labels, n_classes, len(train))
        if dev is not None:
            validate.class_labels("dev labels", dev.labels, n_classes, len(dev))
    set_seed(seed)
    train = train.to(model_device(model, train.tokens))
    forward_kwargs = forward_kwargs or {}
    params = [p for p in model.parameters() if p.requires_grad]
    optimiser = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    loss_fn = nn.CrossEntropyLoss(reduction="none")
    history = History()
    best_state, best_acc, stale, step = None, -1.0, 0, 0
    for epoch in range(1, epochs + 1):
        model.train()
        total_loss, seen = 0.0, 0
        batches = list(train.batches(batch_size, shuffle=True, seed=seed * 1000 + epoch))
        for batch in tqdm(batches, desc=f"epoch {epoch}/{epochs}", leave=False, disable=not progress):
            optimiser.zero_grad()
            output = model(batch.tokens, batch.mask, **forward_kwargs)
            losses = loss_fn(output.logits, batch.labels)
            if loss_weights is None:
                loss = losses.mean()
            else:
                weights = _checked_weights(loss_weights(batch, output), len(batch), losses.device)
                loss = (weights * losses).sum() / weights.sum().clamp_min(1e-12)
            if not bool(torch.isfinite(loss)):
                raise FloatingPointError(
                    f"the training loss became {loss.item()} at epoch {epoch}, step {step + 1}; training stopped "
                    f"(lr = {lr}: try a smaller learning rate, and check the inputs and loss weights)"
                )
            loss.backward()
            optimiser.step()
            total_loss += loss.item() * len(batch)
            seen += len(batch)
            step += 1
            if max_steps is not None and step >= max_steps:
                break
        record = {"epoch": epoch, "train_loss": total_loss / max(seen, 1)}
        if dev is not None:
            record["dev_accuracy"] = accuracy(model, dev, **forward_kwargs)
            if record["dev_accuracy"] > best_acc:
                best_acc, best_state, stale = record["dev_accuracy"], copy.deepcopy(model.state_dict()), 0
                history.best_epoch = epoch
            else:
                stale += 1
        history.epochs.append(record)
        if (dev is not None and stale >= patience) or (max_steps is not None and step >= max_steps):
            break
        if stop_when_perfect and best_acc >= 1.0:  # nothing left to improve: later epochs would be discarded
            break
    if best_state is not None:
        model.load_state_dict(best_state)
        history.best_dev_accuracy = best_acc
    model.eval()
    return history


def _checked_weights(weights, n: int, device: torch.device | None = None) -> torch.Tensor:
    try:
        weights = torch.as_tensor(weights, dtype=torch.float32, device=device).detach()
    except (TypeError, ValueError) as exc:
        raise TypeError(f"loss_weights must return numbers, one per example ({exc})") from exc
    if weights.shape != (n,):
        raise ValueError(
            f"loss_weights returned shape {tuple(weights.shape)}, expected ({n},): one weight per example of the batch"
        )
    if not bool(torch.isfinite(weights).all()) or bool((weights < 0).any()):
        raise ValueError("loss weights must be finite and non-negative")
    if not bool((weights > 0).any()):
        raise ValueError("every loss weight of a batch is 0: the batch would teach nothing")
    return weights


@torch.no_grad()
def predict_proba(model: nn.Module, data: Batch, batch_size: int = 256, **forward_kwargs) -> torch.Tensor:
    """Class probabilities ``(N, C)`` for every sentence of ``data``, in order (computed on the model's
    device, returned on ``data``'s)."""
    if not isinstance(data, Batch):
        raise TypeError(f"predict_proba takes a Batch (see attnlab.data.encode), got {type(data).__name__}")
    batch_size = validate.integer("batch_size", batch_size, minimum=1)
    model.eval()
    device = model_device(model, data.tokens)
    probs = []
    for batch in data.batches(batch_size):
        batch = batch.to(device)
        probs.append(model(batch.tokens, batch.mask, **forward_kwargs).probs)
    return torch.cat(probs).to(data.device)


def accuracy(model: nn.Module, data: Batch, batch_size: int = 256, **forward_kwargs) -> float:
    """Share of sentences whose predicted class equals the label."""
    if not isinstance(data, Batch):
        raise TypeError(f"accuracy takes a Batch (see attnlab.data.encode), got {type(data).__name__}")
    if data.labels is None:
        raise ValueError("accuracy needs a labelled batch (Batch.labels is None)")
    preds = predict_proba(model, data, batch_size, **forward_kwargs).argmax(-1)
    return float((preds == data.labels).float().mean())


# --------------------------------------------------------------------------------------------------
# Saving and loading
# --------------------------------------------------------------------------------------------------

_MODEL_CLASSES = {"AttentionClassifier": AttentionClassifier, "BagOfWordsClassifier": BagOfWordsClassifier}


def _digest(class_name: str, config_json: str, state: dict[str, torch.Tensor]) -> str:
    """SHA-256 over the class name, the config and every tensor (name, dtype, shape, bytes)."""
    import hashlib

    digest = hashlib.sha256(f"{class_name}\n{config_json}\n".encode())
    for name in sorted(state):
        tensor = state[name].detach().contiguous().cpu()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}\n".encode())
        digest.update(tensor.view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")  # cpu: .cpu() above
    return digest.hexdigest()


def save_model(model: nn.Module, path: str | os.PathLike) -> Path:
    """Write the weights (safetensors), constructor arguments and a SHA-256 of both to ``path``.

    :func:`load_model` recomputes the hash, so a file changed after saving (a flipped bit, an edited
    config) is refused instead of loading as a silently different model.
    """
    from safetensors.torch import save

    name = type(model).__name__
    if name not in _MODEL_CLASSES or not hasattr(model, "config"):
        raise TypeError(f"save_model saves the kit's models ({sorted(_MODEL_CLASSES)}), not {name}")
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    config = json.dumps(model.config, sort_keys=True)
    meta = {"class": name, "config": config, "sha256": _digest(name, config, state)}
    path = Path(path)
    with atomic_write(path, "wb") as handle:
        handle.write(save(state, metadata=meta))
    return path


def _checked_config(cls, config) -> dict:
    """The saved constructor arguments, checked against ``cls``'s signature."""
    import inspect

    if not isinstance(config, dict):
        raise ValueError(f"the saved config is not a dict of constructor arguments: {config!r}")
    params = inspect.signature(cls.__init__).parameters
    unknown = sorted(set(config) - set(params) - {"self"})
    if unknown:
        raise ValueError(f"the saved config has arguments {unknown} that {cls.__name__} does not take")
    missing = sorted(
        n
        for n, p in params.items()
        if n != "self"
        and p.default is inspect.Parameter.empty
        and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        and n not in config
    )
    if missing:
        raise ValueError(f"the saved config lacks the required arguments {missing} of {cls.__name__}")
    config = dict(config)
    for key in ("cnn_kernels", "selector_only_ids"):
        if key in config:
            config[key] = tuple(config[key])
    return config


def load_model(path: str | os.PathLike, device: str | torch.device | None = None) -> nn.Module:
    """Rebuild a model written by :func:`save_model`; no pickled code is ever executed. The model is on
    the CPU, or on ``device`` if given (e.g. :func:`attnlab.device.pick_device()`).

    The file's SHA-256 of class, config and weights must match the one written at save time, and the
    config must fit the model class: anything else is refused with a message.
    """
    from safetensors import safe_open
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no saved model at {path}")
    try:
        with safe_open(str(path), framework="pt") as handle:
            meta = handle.metadata() or {}
        state = load_file(str(path))
    except Exception as exc:
        raise ValueError(f"{path} is not a safetensors file written by attnlab.save_model ({exc})") from exc
    if meta.get("class") not in _MODEL_CLASSES:
        raise ValueError(f"{path} does not say which kit model it holds (metadata: {meta})")
    if "sha256" not in meta or "config" not in meta:
        raise ValueError(
            f"{path} has no checksum (saved by an older attnlab, or not by save_model): "
            "re-save the model with attnlab.train.save_model"
        )
    if _digest(meta["class"], meta["config"], state) != meta["sha256"]:
        raise ValueError(
            f"{path} is corrupted or was changed after saving: its weights or config do not match "
            "the checksum written by save_model. Re-train or re-save the model."
        )
    try:
        config = json.loads(meta["config"])
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: the saved config is not valid JSON ({exc})") from exc
    cls = _MODEL_CLASSES[meta["class"]]
    model = cls(**_checked_config(cls, config))
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise ValueError(
            f"{path}: the weights do not fit a {cls.__name__} built from the saved config ({exc})"
        ) from exc
    return model.eval() if device is None else model.to(check_device(device)).eval()
