"""Token heatmaps (matplotlib and HTML) and small plotting helpers used across the chapters."""

from __future__ import annotations

import html
from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib import colormaps
from matplotlib.colors import Normalize, TwoSlopeNorm


def _norm(weights: np.ndarray, signed: bool):
    top = float(np.max(np.abs(weights))) if len(weights) else 1.0
    top = top if top > 0 else 1.0
    return TwoSlopeNorm(0.0, -top, top) if signed else Normalize(0.0, top)


def plot_token_heatmaps(rows: Sequence[tuple], *, signed: bool = False, cmap: str | None = None,
                        figwidth: float = 11.0, fontsize: float = 10.0):
    """Draw sentences as rows of tokens whose background shows their weight.

    ``rows`` holds ``(tokens, weights, title)`` triples, or ``(tokens, weights, title, signed)`` to
    override ``signed`` for one row. Each sentence is scaled to its own maximum (attention of long
    and short sentences is not comparable in absolute terms). Signed rows use a diverging map: red
    supports the prediction, blue suppresses it.
    """
    if not rows:
        raise ValueError("plot_token_heatmaps needs at least one sentence")
    rows = [(*r[:3], r[3] if len(r) > 3 else signed) for r in rows]
    char_width = 0.6 * fontsize / 72  # inches per character of a monospace font
    chars_per_line = int((figwidth - 0.3) / char_width)
    line_height = 2.2 * fontsize / 72  # inches
    layouts, n_lines = [], 0
    for tokens, weights, _, _ in rows:
        if len(tokens) != len(weights):
            raise ValueError(f"{len(tokens)} tokens but {len(weights)} weights")
        lines, line, width = [], [], 0
        for tok, w in zip(tokens, weights):
            if width + len(tok) + 1 > chars_per_line and line:
                lines.append(line)
                line, width = [], 0
            line.append((tok, float(w)))
            width += len(tok) + 1
        lines.append(line)
        layouts.append(lines)
        n_lines += len(lines) + 1
    fig = plt.figure(figsize=(figwidth, line_height * n_lines + 0.1))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(-0.5, figwidth / char_width - 0.5)
    ax.set_ylim(n_lines + 0.1, 0)
    ax.axis("off")
    y = 0.0
    for (tokens, weights, title, row_signed), lines in zip(rows, layouts):
        norm = _norm(np.asarray(weights, dtype=float), row_signed)
        row_cmap = colormaps[cmap or ("RdBu_r" if row_signed else "Oranges")]
        ax.text(0, y + 0.55, title, fontsize=fontsize * 0.9, fontweight="bold", va="center")
        y += 1
        for line in lines:
            x = 0.0
            for tok, w in line:
                colour = row_cmap(norm(w))
                dark = 0.299 * colour[0] + 0.587 * colour[1] + 0.114 * colour[2] < 0.5
                ax.text(x, y + 0.5, tok, fontsize=fontsize, family="monospace", va="center",
                        color="white" if dark else "black",
                        bbox=dict(boxstyle="square,pad=0.2", fc=colour, ec="none"))
                x += len(tok) + 1
            y += 1
    return fig


def token_heatmap_html(tokens: Sequence[str], weights: Sequence[float], *, signed: bool = False) -> str:
    """One sentence as HTML spans coloured by weight (for notebooks and widgets)."""
    weights = np.asarray(weights, dtype=float)
    if len(tokens) != len(weights):
        raise ValueError(f"{len(tokens)} tokens but {len(weights)} weights")
    norm = _norm(weights, signed)
    cmap = colormaps["RdBu_r" if signed else "Oranges"]
    spans = []
    for tok, w in zip(tokens, weights):
        r, g, b, _ = cmap(norm(w))
        spans.append(
            f'<span title="{w:.3f}" style="background: rgb({r*255:.0f},{g*255:.0f},{b*255:.0f}); '
            f'padding: 1px 2px; margin: 1px; border-radius: 3px">{html.escape(tok)}</span>'
        )
    return '<div style="line-height: 1.9; font-family: monospace">' + " ".join(spans) + "</div>"
