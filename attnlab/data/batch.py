"""Padded batches: token ids padded on the right, a mask of real tokens, labels; and ``encode``.

Every model, explanation method and the violation test take a :class:`Batch` (or its ``tokens`` and
``mask``); :func:`check_padded` is the one check of that format the whole kit uses.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ._checks import _check_int, _checked_labels, _short
from .sentences import TextDataset
from .text import Vocab


@dataclass
class Batch:
    """Token ids padded on the right, with a mask of real tokens and (optionally) labels.

    A whole split is just a big ``Batch``; ``batch[indices]`` and ``batch.batches(...)`` cut it into
    smaller ones, trimmed to their longest sentence.
    """

    tokens: torch.Tensor  # (B, T) int64 ids; 0 = padding
    mask: torch.Tensor  # (B, T) bool; True on real tokens, a prefix of every row
    labels: torch.Tensor | None = None  # (B,) int64

    def __post_init__(self):
        check_padded(self.tokens, self.mask)
        if self.labels is not None:
            checked = _checked_labels(self.labels, self.tokens.shape[0])
            if not (isinstance(self.labels, torch.Tensor) and self.labels.dtype == torch.long):
                # cpu: checked as NumPy, then put beside the tokens
                self.labels = torch.from_numpy(np.array(checked, dtype=np.int64)).to(self.tokens.device)

    @classmethod
    def from_ids(cls, id_lists: Sequence[Sequence[int]], labels=None, *, num_classes: int | None = None) -> Batch:
        """A padded batch of lists of token ids (ids >= 0); with ``num_classes``, labels must be below it."""
        if isinstance(id_lists, (str, bytes)) or not hasattr(id_lists, "__len__"):
            raise TypeError(f"id_lists must be a list of token-id lists, got {_short(id_lists)}")
        if len(id_lists) == 0:
            raise ValueError("cannot make a batch of zero sentences")
        rows = []
        for i, ids in enumerate(id_lists):
            if isinstance(ids, (str, bytes)) or not hasattr(ids, "__len__"):
                raise TypeError(
                    f"id_lists must be a list of token-id lists; item {i} is {_short(ids)} "
                    f"({type(ids).__name__}). One sentence: Batch.from_ids([[2, 3, 4]]); text: encode it "
                    "first, vocab.encode(tokenize(text))"
                )
            try:
                row = torch.as_tensor(ids)  # cpu: batches are built on the CPU; Batch.to moves them
            except (TypeError, ValueError, RuntimeError) as exc:
                raise TypeError(f"sentence {i}: token ids must be whole numbers, got {_short(ids)}") from exc
            if len(ids) == 0:
                raise ValueError(f"sentence {i} has no tokens; drop empty sentences first")
            if row.dim() != 1:
                raise ValueError(f"sentence {i} must be a flat list of ids, got shape {tuple(row.shape)}")
            if row.dtype == torch.bool or row.is_floating_point() or row.is_complex():
                raise TypeError(f"token ids must be whole numbers; sentence {i} holds {_short(ids)} ({row.dtype})")
            rows.append(row.long())
        lengths = [len(row) for row in rows]
        tokens = torch.zeros(len(rows), max(lengths), dtype=torch.long)  # cpu: built on the CPU (Batch.to)
        for r, row in enumerate(rows):
            tokens[r, : len(row)] = row
        mask = torch.arange(tokens.shape[1]) < torch.as_tensor(lengths)[:, None]  # cpu: built on the CPU (Batch.to)
        if labels is not None:
            if num_classes is not None:
                num_classes = _check_int("num_classes", num_classes, minimum=1)
            # cpu: batches are built on the CPU (Batch.to moves them)
            labels = torch.from_numpy(np.array(_checked_labels(labels, len(rows), num_classes), dtype=np.int64))
        return cls(tokens, mask, labels)

    def __len__(self) -> int:
        return self.tokens.shape[0]

    @property
    def lengths(self) -> torch.Tensor:
        return self.mask.sum(1)

    @property
    def device(self) -> torch.device:
        """The device the batch's tensors are on."""
        return self.tokens.device

    def to(self, device) -> Batch:
        """This batch with its tokens, mask and labels on ``device`` (e.g. ``"cuda"``, or a model's
        device: see :func:`attnlab.device.to_device`); the batch itself if it is there already."""
        tokens = self.tokens.to(device)
        if tokens is self.tokens:  # already there
            return self
        moved = copy.copy(self)  # already checked: no need to check (and synchronise) again
        moved.tokens, moved.mask = tokens, self.mask.to(device)
        moved.labels = None if self.labels is None else self.labels.to(device)
        return moved

    def __getitem__(self, index) -> Batch:
        try:
            tokens, mask = self.tokens[index], self.mask[index]
        except IndexError as exc:
            raise IndexError(
                f"{_short(index)} selects outside this batch of {len(self)} sentences "
                f"(allowed: 0..{len(self) - 1}, negative counts from the end): {exc}"
            ) from exc
        if tokens.dim() == 1:
            tokens, mask = tokens[None], mask[None]
        if tokens.shape[0] == 0:
            raise ValueError(
                f"the selection {_short(index)} picks no sentence of this batch of {len(self)}; select at least one"
            )
        width = int(mask.sum(1).max())
        labels = None if self.labels is None else self.labels[index].reshape(-1)
        return Batch(tokens[:, :width], mask[:, :width], labels)

    def batches(self, batch_size: int, shuffle: bool = False, seed: int | None = None) -> Iterator[Batch]:
        """Mini-batches. With ``shuffle``, sentences of similar length are grouped (less padding,
        faster recurrent encoders) and the order of the groups is random but fixed by ``seed``."""
        batch_size = _check_int("batch_size", batch_size, minimum=1)
        seed = _check_int("seed", seed, allow_none=True)
        n = len(self)
        if not shuffle:
            for start in range(0, n, batch_size):
                yield self[start : start + batch_size]
            return
        gen = torch.Generator().manual_seed(0 if seed is None else int(seed))  # cpu: same order on every device
        order = torch.randperm(n, generator=gen).to(self.tokens.device)  # cpu: drawn on the CPU, then moved
        chunk = batch_size * 50  # sort by length inside chunks of 50 batches
        groups = []
        for start in range(0, n, chunk):
            idx = order[start : start + chunk]
            idx = idx[torch.argsort(self.lengths[idx], stable=True)]
            groups += [idx[i : i + batch_size] for i in range(0, len(idx), batch_size)]
        for g in torch.randperm(len(groups), generator=gen).tolist():  # cpu: the CPU generator, as above
            yield self[groups[g].to(self.tokens.device)]


def check_padded(tokens: torch.Tensor, mask: torch.Tensor) -> None:
    """Raise a clear ``ValueError`` unless ``tokens``/``mask`` form a valid right-padded batch."""
    if not isinstance(tokens, torch.Tensor) or not isinstance(mask, torch.Tensor):
        raise TypeError("tokens and mask must be torch tensors (use Batch.from_ids to build them)")
    if tokens.dim() != 2:
        raise ValueError(f"tokens must have shape (batch, length), got {tuple(tokens.shape)}")
    if mask.shape != tokens.shape:
        raise ValueError(f"mask has shape {tuple(mask.shape)} but tokens have {tuple(tokens.shape)}")
    if mask.dtype != torch.bool:
        raise ValueError(f"mask must be a bool tensor (True = real token), got {mask.dtype}")
    if tokens.dtype == torch.bool or tokens.is_floating_point() or tokens.is_complex():
        raise TypeError(f"tokens must hold whole-number token ids (int64), got {tokens.dtype}")
    if tokens.shape[0] == 0:
        raise ValueError("empty batch: there are no sentences to process")
    if tokens.shape[1] == 0 or not bool(mask[:, 0].all()):
        raise ValueError("every sentence needs at least one real token (found an all-padding row)")
    if bool((mask[:, 1:] & ~mask[:, :-1]).any()):
        raise ValueError("mask must be a prefix in every row: pad on the right, never in the middle")
    if bool((tokens < 0).any()):
        row, col = (tokens < 0).nonzero()[0].tolist()
        raise ValueError(
            f"token ids must be >= 0 (0 = padding, 1 = unknown); sentence {row}, position "
            f"{col} holds {int(tokens[row, col])}"
        )


def encode(dataset: TextDataset, vocab: Vocab, max_length: int | None = None) -> Batch:
    """The whole dataset as one padded ``Batch`` (truncated to ``max_length`` tokens if given)."""
    if not isinstance(dataset, TextDataset):
        raise TypeError(f"encode needs a TextDataset (e.g. load_sentiment().train), got {type(dataset).__name__}")
    if not isinstance(vocab, Vocab):
        raise TypeError(f"encode needs a Vocab (Vocab.build(...)), got {type(vocab).__name__}")
    max_length = _check_int("max_length", max_length, minimum=1, allow_none=True)
    if len(dataset) == 0:
        raise ValueError("cannot encode an empty dataset")
    ids = [
        vocab.encode(toks[:max_length] if max_length is not None else toks) or [vocab.unk_id] for toks in dataset.tokens
    ]
    return Batch.from_ids(ids, dataset.labels, num_classes=len(dataset.label_names))
