"""Small drawing primitives shared by the concept figures and the reader's map: rounded boxes and arrows."""

from __future__ import annotations


def _box(ax, x, y, text, *, w=1.6, h=0.6, fc="white", ec="0.25", fontsize=10, lw=1.2, **kwargs):
    from matplotlib.patches import FancyBboxPatch

    ax.add_patch(
        FancyBboxPatch(
            (x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.02,rounding_size=0.08", fc=fc, ec=ec, lw=lw, zorder=2
        )
    )
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize, zorder=3, **kwargs)


def _arrow(
    ax,
    start,
    end,
    *,
    color="0.25",
    lw=1.4,
    style="-|>",
    ls="-",
    text=None,
    text_offset=(0, 0.12),
    fontsize=8.5,
    shrink=4,
):
    ax.annotate(
        "",
        xy=end,
        xytext=start,
        zorder=1,
        arrowprops=dict(arrowstyle=style, color=color, lw=lw, ls=ls, shrinkA=shrink, shrinkB=shrink, mutation_scale=14),
    )
    if text:
        ax.text(
            (start[0] + end[0]) / 2 + text_offset[0],
            (start[1] + end[1]) / 2 + text_offset[1],
            text,
            ha="center",
            va="bottom",
            fontsize=fontsize,
            color=color,
        )
