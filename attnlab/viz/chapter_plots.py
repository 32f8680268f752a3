"""The plots of chapters 1 and 2, so that a chapter's figure cell is the one call that says what it shows.

Chapter 1: heatmap rows of chosen test sentences with the model's prediction (:func:`shortest`,
:func:`prediction_rows`, drawn by :func:`~attnlab.viz.plot_token_heatmaps`), the spread of rank agreement
per sentence (:func:`plot_rank_agreement`) and how much each sentence reacts to shuffled attention
(:func:`plot_shuffling_reaction`). Chapter 2: a grid of numbers coloured by value (:func:`plot_value_grid`),
the causal graphs of joint training and of random masks (:func:`causal_graphs`) and what a k-of-n
selection can say (:func:`plot_selection_capacity`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from ._arrays import as_array

# --------------------------------------------------------------------------------------------------
# Chapter 1
# --------------------------------------------------------------------------------------------------


def shortest(flags, token_lists: Sequence[Sequence[str]], n: int = 3, min_len: int = 6) -> list[int]:
    """The indices of the ``n`` shortest sentences (of at least ``min_len`` tokens) among those flagged:
    short sentences make readable heatmaps."""
    flags = as_array(flags, dtype=bool)
    if len(flags) != len(token_lists):
        raise ValueError(f"{len(flags)} flags for {len(token_lists)} sentences")
    candidates = [int(i) for i in np.flatnonzero(flags) if len(token_lists[i]) >= min_len]
    return sorted(candidates, key=lambda i: len(token_lists[i]))[:n]


def prediction_rows(sentences, indices: Sequence[int], weights, probs, what: str, *, signed: bool = False) -> list:
    """Rows for :func:`~attnlab.viz.plot_token_heatmaps`: the tokens of ``sentences`` (with ``tokens``,
    ``labels`` and ``label_names``) at ``indices``, their ``weights`` and a title ``what - predicted ...
    (p=...), true ...``; ``probs`` are the model's class probabilities ``(N, C)``."""
    rows = []
    for i in indices:
        tokens = sentences.tokens[i]
        p = probs[i]
        predicted, true = sentences.label_names[int(p.argmax())], sentences.label_names[int(sentences.labels[i])]
        title = f"{what} - predicted {predicted} (p={float(p.max()):.2f}), true {true}"
        rows.append((tokens, [float(w) for w in weights[i, : len(tokens)]], title, signed))
    return rows


def plot_rank_agreement(taus: pd.DataFrame, *, bins: int = 30):
    """Histograms (step lines, one per column) of a rank correlation per sentence, each scaled to its own
    density so that pairs with different numbers of defined values compare."""
    long = taus.melt(var_name="pair", value_name="Kendall τ").dropna()
    ax = sns.histplot(long, x="Kendall τ", hue="pair", element="step", stat="density", common_norm=False, bins=bins)
    ax.set_title("Rank agreement per test sentence")
    return ax.figure


def plot_shuffling_reaction(peak, change, *, threshold: float = 0.05, figsize=(11, 3.8)):
    """How much each sentence reacts to shuffled attention (``change``, e.g. the median |Δp| over
    permutations). Left: the sentences sorted by their change, to read off the share below ``threshold``
    (dotted). Right: the same change, sentences grouped into fifths by ``peak`` (their largest weight)."""
    frame = pd.DataFrame(
        {
            "max attention weight": as_array(peak, dtype=float),
            "median |Δp| under permutation": as_array(change, dtype=float),
        }
    )
    fig, (left, right) = plt.subplots(1, 2, figsize=figsize, sharey=True)
    sns.ecdfplot(y=frame["median |Δp| under permutation"], ax=left, stat="proportion")
    left.set(xlabel="share of test sentences (sorted by their change)", title="how much each sentence reacts")
    fifths = ["flattest", "2nd", "3rd", "4th", "most peaked"]
    frame["peakedness (fifths of max weight)"] = pd.qcut(
        frame["max attention weight"].rank(method="first"), 5, labels=fifths
    )
    sns.boxplot(
        frame,
        x="peakedness (fifths of max weight)",
        y="median |Δp| under permutation",
        ax=right,
        color="tab:blue",
        fliersize=2,
    )
    right.set(title="the same, grouped by how peaked the attention is")
    for ax in (left, right):
        ax.axhline(threshold, ls=":", color="grey")
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------------------------------
# Chapter 2
# --------------------------------------------------------------------------------------------------


def plot_value_grid(
    table: pd.DataFrame,
    *,
    title: str = "",
    vmin: float = 0.3,
    vmax: float = 1.0,
    figsize=(7.5, 2.6),
    cmap: str = "RdYlGn",
):
    """A table of numbers as a coloured grid with the values written in (rows and columns labelled)."""
    values = table.to_numpy(dtype=float)
    fig, ax = plt.subplots(figsize=figsize)
    ax.imshow(values, cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto")
    for (r, c), value in np.ndenumerate(values):
        ax.text(c, r, f"{value:.3f}", ha="center", va="center", fontsize=11)
    ax.set_xticks(range(values.shape[1]), table.columns)
    ax.set_yticks(range(values.shape[0]), table.index)
    ax.set_title(title, fontsize=10)
    ax.grid(False)
    return fig


_NODES = {"X": (0, 2), "Y": (2.4, 2), "XM": (1.2, 1), "M": (0, 0), "Yhat": (2.4, 0), "coin": (-1.2, 0)}
_LABELS = {"X": "$X$", "Y": "$Y$", "XM": r"$X \odot M$", "M": "$M$", "Yhat": r"$\hat{Y}$", "coin": "coin"}


def _graph(ax, title: str, edges, highlight=(), note: str = "") -> None:
    for a, b in edges:
        red = (a, b) in highlight
        ax.annotate(
            "",
            xy=_NODES[b],
            xytext=_NODES[a],
            arrowprops=dict(
                arrowstyle="-|>",
                color="tab:red" if red else "0.2",
                lw=2.5 if red else 1.5,
                shrinkA=22,
                shrinkB=22,
                mutation_scale=18,
            ),
        )
    for node in [n for n in _NODES if any(n in edge for edge in edges)]:
        x, y = _NODES[node]
        ax.text(
            x,
            y,
            _LABELS[node],
            ha="center",
            va="center",
            fontsize=15,
            zorder=3,
            bbox=dict(boxstyle="round,pad=0.5", fc="white", ec="0.2"),
        )
    ax.set_title(title, fontsize=12)
    ax.text(1.2, -0.65, note, ha="center", va="center", fontsize=10, color="0.25")
    ax.set_xlim(-1.7, 3.0)
    ax.set_ylim(-0.9, 2.5)
    ax.axis("off")


def causal_graphs(figsize=(11, 4.2)):
    """The causal graphs of joint training, ``M = a(X)`` with the back-door path ``M ← X → Y`` in red (left),
    and of masks assigned by a coin, where that path is cut (right)."""
    common = [("X", "Y"), ("X", "XM"), ("M", "XM"), ("XM", "Yhat"), ("M", "Yhat")]
    fig, (left, right) = plt.subplots(1, 2, figsize=figsize)
    _graph(
        left,
        "Joint training: M = a(X)  (observational)",
        common + [("X", "M")],
        highlight={("X", "M"), ("X", "Y")},
        note="red: back-door path  M ← X → Y",
    )
    _graph(
        right,
        "Masks assigned at random  (randomized)",
        common + [("coin", "M")],
        note="no arrow X → M: the coin decides",
    )
    fig.tight_layout()
    return fig


def plot_selection_capacity(
    ks: Sequence[int],
    label_bits: dict[str, float],
    *,
    bits: Callable | None = None,
    n_range: tuple[int, int] = (10, 100),
    figsize=(7, 4),
):
    """What a choice of ``k`` of ``n`` positions can say, ``bits(n, k)`` (default ``log2 C(n, k)``), one curve
    per ``k`` over ``n_range``, against what each label of ``label_bits`` needs (dotted lines)."""
    bits = bits or (lambda n, k: math.log2(math.comb(n, k)))
    fig, ax = plt.subplots(figsize=figsize)
    n_grid = np.arange(n_range[0], n_range[1] + 1)
    for k in ks:
        ax.plot(n_grid, [bits(int(n), k) for n in n_grid], label=f"k = {k}")
    for what, needed in label_bits.items():
        ax.axhline(needed, color="0.3", ls=":", lw=1)
        ax.text(n_range[1] + 1, needed, what, va="top" if needed < 2 else "bottom", fontsize=9, color="0.3")
    ax.set(
        xlabel="n, positions to choose from",
        ylabel="bits the choice can carry",
        ylim=(0, None),
        title="log2 C(n, k): what a k-of-n selection can say by where it points",
    )
    ax.legend(loc="upper left")
    return fig
