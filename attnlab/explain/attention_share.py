"""Where does a Transformer's attention go? The share that lands on [CLS], [SEP], punctuation and words.

Chapter 6 measures it layer by layer (after Clark et al. 2019): a large share on special tokens and
punctuation is one reason raw attention maps are hard to read as explanations.
"""

from __future__ import annotations

import string

import torch

from ..data import check_padded
from ..device import model_device
from ..models import CONTENT_OFFSET


def is_punctuation(token: str) -> bool:
    """True for tokens made only of punctuation characters (``"."``, ``","``, ``"--"``, ``"'"``)."""
    stripped = token.removeprefix("##")
    return bool(stripped) and all(ch in string.punctuation for ch in stripped)


def punctuation_mask(token_strings, mask: torch.Tensor) -> torch.Tensor:
    """Bool ``(B, T)``: which content tokens are punctuation (:func:`is_punctuation`), from each row's token
    strings (e.g. ``HFClassifier.token_strings``), for :func:`attention_share_by_layer`."""
    out = torch.zeros_like(mask)
    for i, row in enumerate(token_strings):
        out[i, : len(row)] = torch.tensor([is_punctuation(t) for t in row], dtype=torch.bool, device=mask.device)
    return out


@torch.no_grad()
def attention_share_by_layer(
    model, tokens: torch.Tensor, mask: torch.Tensor, punctuation: torch.Tensor | None = None, batch_size: int = 128
):
    """Share of attention that lands on ``[CLS]``, ``[SEP]``, punctuation and other content tokens,
    per layer (a pandas DataFrame, rows = layers, columns = categories; rows sum to 1).

    Averaged over heads, over every real query position (``[CLS]``, content, ``[SEP]``) and over
    sentences. ``punctuation`` is a bool ``(B, T)`` mask of punctuation tokens (see
    :func:`is_punctuation`); without it punctuation counts as content.
    """
    import pandas as pd

    check_padded(tokens, mask)
    device = model_device(model, tokens)  # the model's device; the table is plain numbers
    tokens, mask = tokens.to(device), mask.to(device)
    punctuation = torch.zeros_like(mask) if punctuation is None else punctuation.to(device) & mask
    model.eval()
    totals, count = None, 0.0
    for start in range(0, len(tokens), batch_size):
        part = slice(start, start + batch_size)
        width = int(mask[part].sum(1).max())
        t, m, p = tokens[part, :width], mask[part, :width], punctuation[part, :width]
        out = model(t, m)
        if not out.attentions:
            raise RuntimeError("the model returned no attention maps (see HFClassifier.use_attention)")
        layout = model.layout(m)
        punct = torch.zeros_like(layout["content"])
        punct[:, CONTENT_OFFSET : width + 1] = p
        groups = {
            "[CLS]": layout["cls"],
            "[SEP]": layout["sep"],
            "punctuation": punct,
            "other tokens": layout["content"] & ~punct,
        }
        queries = (layout["cls"] | layout["sep"] | layout["content"]).float()  # (B, S)
        rows = []
        for maps in out.attentions:
            per_query = {g: (maps.mean(1) * keys[:, None, :].float()).sum(-1) for g, keys in groups.items()}
            rows.append({g: float((v * queries).sum()) for g, v in per_query.items()})
        sums = pd.DataFrame(rows)
        totals = sums if totals is None else totals + sums
        count += float(queries.sum())
    table = totals / count
    table.index = pd.RangeIndex(1, len(table) + 1, name="layer")
    return table
