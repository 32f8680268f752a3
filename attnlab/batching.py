"""One way to run a model over many sentences: in chunks of similar length, trimmed to the longest.

Backpropagating through a recurrent encoder, or running a Transformer, is several times faster on small,
tightly padded batches than on one huge batch padded to the longest sentence of all. Every loop of the
kit that runs a model (or an explanation method) over a padded batch goes through :func:`by_length`.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from . import validate


def by_length(mask: torch.Tensor, chunk_size: int) -> Iterator[tuple[torch.Tensor, int]]:
    """Yield ``(rows, width)``: the indices of up to ``chunk_size`` sentences of similar length (shortest
    first; ties in their original order) and the length of the longest of them, so that
    ``tokens[rows, :width]`` is a tightly padded chunk. Write each chunk's result back to ``rows``."""
    chunk_size = validate.integer("chunk_size", chunk_size, minimum=1)
    if not isinstance(mask, torch.Tensor) or mask.dim() != 2 or mask.dtype != torch.bool:
        raise ValueError("mask must be the (B, T) bool mask of real tokens")
    order = torch.argsort(mask.sum(1), stable=True)
    for start in range(0, len(order), chunk_size):
        rows = order[start : start + chunk_size]
        yield rows, max(int(mask[rows].sum(1).max()), 1)
