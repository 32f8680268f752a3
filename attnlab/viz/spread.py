"""Seed spreads drawn the same way in every chapter: one dot per seed, the mean with a ±1 standard deviation
interval line, on a value axis that starts at 0 (or a range given once for every panel), with labelled
reference lines (chance, a ceiling) and the legend outside the data.

Bars cut at 0.5 and panels that each autoscale make differences inside the seed spread look large; a dot
plot on a shared axis from 0 shows them at their true size::

    per_seed = pd.DataFrame({"variant": [...], "seed": [...], "accuracy": [...], "probe": [...]})
    plot_seed_spread(per_seed, "variant", ["accuracy", "probe"], references={"chance": 0.5})
    plot_seed_spread(per_seed, "variant", "accuracy", hue="k", references={"chance": 0.5, "ceiling": 0.743})
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

REFERENCE_STYLES = (":", "--", "-.", (0, (1, 3)))


def seed_spread(data, x: str, y: str, *, hue: str | None = None):
    """Mean, standard deviation (ddof 1; NaN for a single seed) and number of seeds of ``y`` per ``x``
    (and ``hue``): the numbers :func:`plot_seed_spread` draws, as a DataFrame."""
    keys = [x] + ([hue] if hue else [])
    missing = [c for c in keys + [y] if c not in data.columns]
    if missing:
        raise ValueError(f"columns {missing} are not in the data (it has {list(data.columns)})")
    return data.groupby(keys, sort=False)[y].agg(mean="mean", sd="std", n="count").reset_index()


def _order(values, given):
    seen = list(dict.fromkeys(values))
    if given is None:
        return seen
    unknown = [v for v in given if v not in seen]
    if unknown:
        raise ValueError(f"{unknown} are not values of the column (it has {seen})")
    return list(given)


def plot_seed_spread(
    data,
    x: str,
    y: str | Sequence[str],
    *,
    hue: str | None = None,
    references: Mapping | None = None,
    limits: tuple[float, float] | None = None,
    horizontal: bool = False,
    order: Sequence | None = None,
    hue_order: Sequence | None = None,
    titles: Mapping[str, str] | None = None,
    value_label: str | None = None,
    panel_size: tuple[float, float] = (3.6, 3.2),
    show_seeds: bool = True,
):
    """Mean ± sd over seeds as dots with interval lines, one panel per column in ``y``, sharing one value axis.

    ``data``: a DataFrame with one row per seed (and per ``x`` / ``hue`` value). ``y``: a column, or several
    (one panel each, same scale). ``limits``: the value range of every panel; by default from 0 (or the
    smallest value, if negative) to a little above the largest mean + sd or reference line, so no panel
    autoscales on its own. ``references``: ``{label: value}`` drawn in every panel, or ``{column: {label:
    value}}`` per panel; each line gets its own style and an entry in the legend, which sits right of the
    panels, outside the data. ``horizontal`` puts the categories on the vertical axis (long method names).
    Returns the figure."""
    columns = [y] if isinstance(y, str) else list(y)
    if not columns:
        raise ValueError("pass at least one column to plot as y")
    stats = {c: seed_spread(data, x, c, hue=hue) for c in columns}
    categories = _order(data[x], order)
    groups = _order(data[hue], hue_order) if hue else [None]
    references = dict(references or {})
    per_panel = bool(references) and all(isinstance(v, Mapping) for v in references.values())
    unknown = [c for c in references if c not in columns] if per_panel else []
    if unknown:
        raise ValueError(f"references for {unknown}, which are not among the plotted columns {columns}")
    ref_of = {c: (references.get(c, {}) if per_panel else references) for c in columns}
    if limits is None:
        tops = [float(np.nanmax(s["mean"] + s["sd"].fillna(0))) for s in stats.values()]
        lows = [float(np.nanmin(s["mean"] - s["sd"].fillna(0))) for s in stats.values()]
        tops += [float(v) for refs in ref_of.values() for v in refs.values()]
        if show_seeds:
            tops += [float(data[c].max()) for c in columns]
            lows += [float(data[c].min()) for c in columns]
        high, low = max(tops), min(0.0, min(lows))
        limits = (low, high + 0.05 * (high - low or 1.0))
    low, high = map(float, limits)
    if not low < high:
        raise ValueError(f"limits must be (low, high) with low < high, got {limits}")

    width, height = panel_size
    fig, axes = plt.subplots(1, len(columns), figsize=(width * len(columns) + 1.6, height), squeeze=False)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    step = 0.6 / max(1, len(groups))
    handles = {}
    for ax, column in zip(axes[0], columns):
        table = stats[column]
        for g, group in enumerate(groups):
            colour = colours[g % len(colours)] if hue else "0.2"
            offset = (g - (len(groups) - 1) / 2) * step
            for i, category in enumerate(categories):
                row = table[(table[x] == category) & ((table[hue] == group) if hue else True)]
                if row.empty:
                    continue
                mean, sd = float(row["mean"].iloc[0]), float(row["sd"].iloc[0])
                pos = i + offset
                if show_seeds:
                    seeds = data[(data[x] == category) & ((data[hue] == group) if hue else True)][column]
                    jitter = np.linspace(-0.25, 0.25, len(seeds)) * step if len(seeds) > 1 else np.zeros(1)
                    a, b = (seeds.to_numpy(), pos + jitter) if horizontal else (pos + jitter, seeds.to_numpy())
                    ax.scatter(a, b, s=12, color=colour, alpha=0.35, lw=0, zorder=2)
                if np.isfinite(sd):
                    ends, at = [mean - sd, mean + sd], [pos, pos]
                    line = (ends, at) if horizontal else (at, ends)
                    ax.plot(*line, color=colour, lw=1.6, zorder=3)
                point = (mean, pos) if horizontal else (pos, mean)
                handle = ax.plot(*point, "o", color=colour, ms=6.5, mec="white", mew=0.8, zorder=4)[0]
                if hue:
                    handles.setdefault(f"{hue} = {group}", handle)
        for r, (label, value) in enumerate(ref_of[column].items()):
            draw = ax.axvline if horizontal else ax.axhline
            style = REFERENCE_STYLES[r % len(REFERENCE_STYLES)]
            handles.setdefault(f"{label} ({value:.3g})", draw(float(value), color="0.4", lw=1.1, ls=style, zorder=1))
        ticks, lim = (ax.set_yticks, ax.set_xlim) if horizontal else (ax.set_xticks, ax.set_ylim)
        ticks(range(len(categories)), [str(c) for c in categories])
        lim(low, high)
        (ax.set_ylim if horizontal else ax.set_xlim)(-0.6, len(categories) - 0.4)
        if horizontal:
            ax.invert_yaxis()
        else:
            plt.setp(
                ax.get_xticklabels(),
                rotation=25 if len(categories) > 2 else 0,
                ha="right" if len(categories) > 2 else "center",
            )
        ax.set_title((titles or {}).get(column, column), fontsize=10)
        ax.grid(True, axis="x" if horizontal else "y", alpha=0.3)
        ax.grid(False, axis="y" if horizontal else "x")
        # the value axis is named once (the panels share it): value_label, or the column of a single panel
        name = value_label or (column if len(columns) == 1 else "")
        ax.set_xlabel(name if horizontal else "")
        ax.set_ylabel("" if horizontal or ax is not axes[0, 0] else name)
    handles.setdefault("mean ± 1 sd over seeds", plt.Line2D([], [], color="0.2", marker="o", lw=1.6))
    fig.legend(
        list(handles.values()), list(handles), loc="upper left", bbox_to_anchor=(1.0, 0.95), fontsize=8, frameon=False
    )
    fig.tight_layout()
    return fig
