"""Token heatmaps (matplotlib and HTML): a sentence as a row of tokens whose background shows each token's
weight, with text that stays readable on every background.

Signed weights use a diverging map (red supports the prediction, blue suppresses it), non-negative weights
a sequential one (darker = larger). The text on each token is black or white, whichever has the larger
contrast ratio with the background as WCAG 2 defines it (:func:`contrast_ratio`); for an opaque background
the better of the two is always at least 4.58:1, above the 4.5:1 of WCAG AA for normal text.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib import colormaps
from matplotlib.colors import Normalize, TwoSlopeNorm, to_rgb

from ._arrays import as_array

#: The colour maps of the heatmaps: signed weights, non-negative weights.
SIGNED_CMAP, NON_NEGATIVE_CMAP = "RdBu_r", "Oranges"
BLACK, WHITE = "#000000", "#ffffff"


def relative_luminance(colour) -> float:
    """The relative luminance of an sRGB colour (WCAG 2.x): 0 for black, 1 for white. ``colour`` is any
    matplotlib colour (a name, ``"#rrggbb"``, or an RGB(A) tuple of floats in [0, 1]; alpha is ignored)."""
    rgb = np.asarray(to_rgb(colour), dtype=float)
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    return float(linear @ np.array([0.2126, 0.7152, 0.0722]))


def contrast_ratio(foreground, background) -> float:
    """The WCAG contrast ratio ``(L1 + 0.05) / (L2 + 0.05)`` of two colours, L1 the lighter: from 1 (same
    luminance) to 21 (black on white). WCAG AA asks at least 4.5 for normal text."""
    a, b = relative_luminance(foreground), relative_luminance(background)
    return (max(a, b) + 0.05) / (min(a, b) + 0.05)


def text_colour(background) -> str:
    """Black or white, whichever contrasts more with ``background`` (WCAG contrast ratio)."""
    return BLACK if contrast_ratio(BLACK, background) >= contrast_ratio(WHITE, background) else WHITE


def _norm(weights: np.ndarray, signed: bool):
    top = float(np.max(np.abs(weights))) if len(weights) else 1.0
    top = top if top > 0 else 1.0
    return TwoSlopeNorm(0.0, -top, top) if signed else Normalize(0.0, top)


def plot_token_heatmaps(
    rows: Sequence[tuple],
    *,
    signed: bool = False,
    cmap: str | None = None,
    figwidth: float = 11.0,
    fontsize: float = 10.0,
):
    """Draw sentences as rows of tokens whose background shows their weight.

    ``rows`` holds ``(tokens, weights, title)`` triples, or ``(tokens, weights, title, signed)`` to
    override ``signed`` for one row. Each sentence is scaled to its own maximum (attention of long
    and short sentences is not comparable in absolute terms). Signed rows use a diverging map: red
    supports the prediction, blue suppresses it. Each token's text is black or white by contrast.
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
    for (_tokens, weights, title, row_signed), lines in zip(rows, layouts):
        norm = _norm(as_array(weights, dtype=float), row_signed)
        row_cmap = colormaps[cmap or (SIGNED_CMAP if row_signed else NON_NEGATIVE_CMAP)]
        ax.text(0, y + 0.55, title, fontsize=fontsize * 0.9, fontweight="bold", va="center")
        y += 1
        for line in lines:
            x = 0.0
            for tok, w in line:
                colour = row_cmap(norm(w))[:3]
                ax.text(
                    x,
                    y + 0.5,
                    tok,
                    fontsize=fontsize,
                    family="monospace",
                    va="center",
                    color=text_colour(colour),
                    bbox=dict(boxstyle="square,pad=0.2", fc=colour, ec="none"),
                )
                x += len(tok) + 1
            y += 1
    return fig


def heatmap_colours(weights: Sequence[float], *, signed: bool = False) -> list[tuple[str, str]]:
    """The ``(background, text)`` colours, as ``"#rrggbb"``, that :func:`token_heatmap_html` gives each
    weight of one sentence (scaled to the sentence's largest |weight|)."""
    weights = as_array(weights, dtype=float)
    norm = _norm(weights, signed)
    cmap = colormaps[SIGNED_CMAP if signed else NON_NEGATIVE_CMAP]
    out = []
    for w in weights:
        r, g, b, _ = cmap(norm(w))
        background = "#{:02x}{:02x}{:02x}".format(*(int(round(c * 255)) for c in (r, g, b)))
        out.append((background, text_colour(background)))  # judged on the colour actually written
    return out


def token_heatmap_html(tokens: Sequence[str], weights: Sequence[float], *, signed: bool = False) -> str:
    """One sentence as HTML spans coloured by weight (for notebooks and widgets); the text colour of each
    token is set explicitly (black or white by contrast), so a dark page theme cannot make it unreadable."""
    weights = as_array(weights, dtype=float)
    if len(tokens) != len(weights):
        raise ValueError(f"{len(tokens)} tokens but {len(weights)} weights")
    spans = []
    for tok, w, (background, colour) in zip(tokens, weights, heatmap_colours(weights, signed=signed)):
        spans.append(
            f'<span title="{w:.3f}" style="background: {background}; color: {colour}; '
            f'padding: 1px 2px; margin: 1px; border-radius: 3px">{html.escape(tok)}</span>'
        )
    return '<div style="line-height: 1.9; font-family: monospace">' + " ".join(spans) + "</div>"
