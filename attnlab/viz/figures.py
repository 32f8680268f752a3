"""Concept figures: the book's mechanisms drawn before they are coded (each chapter shows its own).

Attention as a mask (chapter 2), the combinatorial shortcut as a code in *where* the mask points (chapter 2),
joint training against random attention pretraining (chapter 4), the violation test in one picture
(chapter 5), and raw attention against attention rollout across layers (chapter 6).
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np

from ._arrays import as_array
from ._shapes import _arrow, _box
from .heatmaps import text_colour


def attention_as_mask(tokens: Sequence[str], mask, values, *, k: int = 2):
    """Attention as Mask(Q, K) ⊙ V (chapter 2), drawn for one input.

    Four panels: the values V (one row per token), the soft mask m (one weight per position), the rows of
    m ⊙ V with their sum c (classic attention), and the hard mask that keeps the ``k`` largest weights: a
    downstream network reads the whole array x ⊙ m, so it sees *which* rows are blank.
    """
    values = as_array(values, dtype=float)
    mask = as_array(mask, dtype=float)
    n, d = values.shape
    if len(tokens) != n or len(mask) != n:
        raise ValueError(f"{len(tokens)} tokens, {len(mask)} mask weights and {n} value rows must agree")
    hard = np.zeros(n)
    hard[np.argsort(-mask)[:k]] = 1.0
    top = float(np.abs(values).max()) or 1.0
    fig, axes = plt.subplots(1, 4, figsize=(11, 0.42 * n + 1.9), gridspec_kw=dict(width_ratios=[d, 1.6, d, d]))
    panels = [
        (values, "values $V$"),
        (None, "mask $m$ (soft)"),
        (mask[:, None] * values, r"$m \odot V$"),
        (hard[:, None] * values, rf"hard mask, $k={k}$: $x \odot m$"),
    ]
    for i, (ax, (grid, title)) in enumerate(zip(axes, panels)):
        if grid is None:
            ax.barh(np.arange(n), mask, color="tab:orange", height=0.7)
            for t, m in enumerate(mask):
                ax.text(m + 0.02, t, f"{m:.2f}", va="center", fontsize=8.5)
            ax.set_xlim(0, max(1.0, mask.max() * 1.5))
            ax.set_ylim(n - 0.5, -0.5)
            ax.set_xticks([])
            ax.grid(False)
        else:
            ax.imshow(grid, cmap="RdBu_r", vmin=-top, vmax=top, aspect="auto")
            ax.set_xticks([])
            ax.grid(False)
            if i == 3:
                for t in range(n):
                    if not hard[t]:
                        ax.add_patch(plt.Rectangle((-0.5, t - 0.5), d, 1, fc="0.93", ec="0.6", hatch="///", lw=0.5))
                        ax.text((d - 1) / 2, t, "blank (visible)", ha="center", va="center", fontsize=8, color="0.3")
        ax.set_yticks(np.arange(n))
        ax.set_yticklabels(tokens if i == 0 else [])
        ax.set_title(title, fontsize=10.5)
    pooled = (mask[:, None] * values).sum(0)
    axes[2].set_xlabel(
        r"sum over rows: $c = \sum_t m_t v_t$" + "\n[" + ", ".join(f"{v:+.2f}" for v in pooled) + "]", fontsize=9
    )
    axes[3].set_xlabel("the reader sees the kept rows\nand where the blanks are", fontsize=9)
    axes[0].set_xlabel(f"{d} numbers per token", fontsize=9)
    fig.tight_layout(w_pad=2.5)
    for left, right, sign in ((axes[0], axes[1], "⊙"), (axes[1], axes[2], "=")):  # V ⊙ m = m ⊙ V
        x = (left.get_position().x1 + right.get_position().x0) / 2
        fig.text(x, 0.5, sign, fontsize=20, ha="center", va="center")
    return fig


def violation_test_picture(
    tokens: Sequence[str],
    weights,
    p_full: float,
    p_removed: float,
    *,
    method: str = "raw attention",
    predicted: str = "positive",
):
    """The faithfulness violation test in one picture (chapter 5).

    Left: the explanation's weights; x* = argmax |w| is framed. Right: the probability of the predicted
    class with and without x*, the change ΔC = f(x)_ŷ − f(x∖x*)_ŷ, and the verdict: a violation when the
    sign of w(x*) and the sign of ΔC disagree.
    """
    weights = as_array(weights, dtype=float)
    if len(tokens) != len(weights):
        raise ValueError(f"{len(tokens)} tokens but {len(weights)} weights")
    star = int(np.argmax(np.abs(weights)))
    delta = float(p_full) - float(p_removed)
    w_sign, d_sign = np.sign(weights[star]), np.sign(delta)
    violates = bool(weights[star] * delta < 0)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.6), gridspec_kw=dict(width_ratios=[1.7, 1]))
    colours = ["tab:red" if w > 0 else "tab:blue" for w in weights]
    left.bar(np.arange(len(tokens)), weights, color=colours, alpha=0.8)
    left.bar([star], [weights[star]], color="none", ec="black", lw=2.2)
    left.axhline(0, color="0.3", lw=0.8)
    left.set_xticks(np.arange(len(tokens)))
    left.set_xticklabels(tokens, fontsize=10)
    left.get_xticklabels()[star].set_fontweight("bold")
    left.set_ylabel(f"weight w ({method})")
    left.set_title(f"1. x* = the token with the largest |w|: '{tokens[star]}'", fontsize=10.5, loc="left")
    top = max(np.abs(weights).max(), 1e-9)
    left.annotate(
        "x*",
        xy=(star, weights[star]),
        xytext=(star, weights[star] + 0.25 * top * (1 if weights[star] >= 0 else -1)),
        ha="center",
        fontsize=11,
        fontweight="bold",
        arrowprops=dict(arrowstyle="-|>", color="black"),
    )
    left.set_ylim(min(0, weights.min()) - 0.35 * top, max(0, weights.max()) + 0.45 * top)
    left.grid(False, axis="x")
    right.bar([0, 1], [p_full, p_removed], color=["0.55", "0.8"], width=0.55)
    right.set_xticks([0, 1])
    right.set_xticklabels(["$f(x)_{\\hat y}$\nall tokens", "$f(x \\setminus x^*)_{\\hat y}$\nx* removed"])
    right.set_ylim(0, 1.18)
    right.set_ylabel(f"P({predicted})")
    right.annotate(
        "",
        xy=(1, p_removed),
        xytext=(0, p_full),
        arrowprops=dict(arrowstyle="-|>", color="black", lw=1.5, connectionstyle="arc3,rad=-0.25"),
    )
    right.text(
        0.5,
        max(p_full, p_removed) + 0.13,
        f"ΔC = {p_full:.2f} − {p_removed:.2f} = {delta:+.2f}",
        ha="center",
        fontsize=10,
    )
    sign = lambda s: {1.0: "+", -1.0: "−", 0.0: "0"}[float(s)]  # noqa: E731
    verdict = f"sign w(x*) = {sign(w_sign)}, sign ΔC = {sign(d_sign)}:  " + (
        "VIOLATION (the signs disagree)" if violates else "no violation (the signs agree)"
    )
    right.set_title("2. remove x*, 3. compare the signs", fontsize=10.5, loc="left")
    fig.text(
        0.5, 0.01, verdict, ha="center", fontsize=11, fontweight="bold", color="tab:red" if violates else "tab:green"
    )
    right.grid(False, axis="x")
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return fig


def shortcut_code_picture(
    inputs: Sequence[Sequence[str]],
    labels: Sequence[int],
    selectors: dict[str, Sequence[int]],
    *,
    reader_note: bool = True,
):
    """The combinatorial shortcut (chapter 2): a code written in *where* the mask points.

    One panel per selector; rows are inputs, columns positions; the selected cell is filled and the label
    is written on the right. A shortcut selector picks a position by the label, whatever is written there.
    """
    n_rows, n_pos = len(inputs), len(inputs[0])
    fig, axes = plt.subplots(1, len(selectors), figsize=(5.2 * len(selectors), 0.36 * n_rows + 1.6))
    axes = np.atleast_1d(axes)
    palette = {0: "tab:blue", 1: "tab:red"}
    for ax, (name, chosen) in zip(axes, selectors.items()):
        for r, (x, y, s) in enumerate(zip(inputs, labels, chosen)):
            for c, token in enumerate(x):
                selected = c == s
                ax.add_patch(
                    plt.Rectangle(
                        (c, r),
                        1,
                        1,
                        fc=palette[int(y)] if selected else "white",
                        alpha=0.75 if selected else 1,
                        ec="0.7",
                        lw=0.6,
                    )
                )
                ax.text(
                    c + 0.5,
                    r + 0.5,
                    token,
                    ha="center",
                    va="center",
                    fontsize=8.5,
                    color="white" if selected else "0.2",
                    fontweight="bold" if selected else "normal",
                )
            ax.text(n_pos + 0.5, r + 0.5, f"y = {y}", ha="center", va="center", fontsize=8.5, color=palette[int(y)])
        ax.set_xlim(0, n_pos + 1)
        ax.set_ylim(n_rows, -0.9)
        for c in range(n_pos):
            ax.text(c + 0.5, -0.45, str(c), ha="center", va="center", fontsize=8, color="0.4")
        ax.axis("off")
        ax.set_title(name, fontsize=10.5)
    if reader_note:
        fig.text(
            0.5,
            0.01,
            "filled cell: the one selected position (colour = label). The reader sees what is in it "
            "AND which position it is.",
            ha="center",
            fontsize=9,
            color="0.3",
        )
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return fig


def pretraining_vs_joint():
    """Joint training against random attention pretraining (chapter 4), as two pipelines.

    Top: selector and predictor learn together, so the predictor can learn to read where the mask points
    (the code). Bottom: stage 1 trains the predictor on random masks (it can only learn what content says),
    stage 2 trains the selector against the frozen predictor, which reads no code.
    """
    fig, ax = plt.subplots(figsize=(11, 4.6))
    ax.set_xlim(0, 11)
    ax.set_ylim(0, 5.2)
    ax.axis("off")
    # joint training
    ax.text(0.1, 4.9, "Joint training", fontsize=11.5, fontweight="bold", va="center")
    _box(ax, 1.0, 3.9, "input $X$", w=1.2)
    _box(ax, 3.0, 3.9, "selector\n$M = a(X)$", w=1.6, h=0.8, fc="#fde2c8")
    _box(ax, 5.4, 3.9, r"$X \odot M$" + "\nand $M$", w=1.5, h=0.8)
    _box(ax, 7.7, 3.9, "predictor", w=1.5, h=0.8, fc="#fde2c8")
    _box(ax, 9.8, 3.9, r"$\hat Y$ vs $Y$", w=1.3)
    for a, b in ((1.6, 2.2), (3.8, 4.65), (6.15, 6.95), (8.45, 9.15)):
        _arrow(ax, (a, 3.9), (b, 3.9))
    _arrow(
        ax,
        (9.8, 3.45),
        (3.0, 3.45),
        color="tab:red",
        ls="--",
        style="-|>",
        text="one loss, one gradient: both parts change together",
        text_offset=(0, -0.42),
    )
    ax.text(5.4, 4.55, "can carry the label by WHERE it points", ha="center", fontsize=8.5, color="tab:red")
    # random attention pretraining
    ax.text(0.1, 2.25, "Random attention pretraining", fontsize=11.5, fontweight="bold", va="center")
    ax.text(0.3, 1.55, "stage 1", fontsize=9.5, color="0.35", va="center")
    _box(ax, 3.0, 1.55, "coin: random $M$\n(ignores $X$)", w=1.8, h=0.75, fc="#e6e6e6")
    _box(ax, 5.4, 1.55, r"$X \odot M$", w=1.5, h=0.6)
    _box(ax, 7.7, 1.55, "predictor\nlearns content", w=1.6, h=0.75, fc="#cfe3f7")
    _arrow(ax, (3.9, 1.55), (4.65, 1.55))
    _arrow(ax, (6.15, 1.55), (6.9, 1.55))
    ax.text(9.9, 1.55, r"estimates $E[Y \mid X_S = x_S]$", ha="center", va="center", fontsize=9, color="tab:blue")
    ax.text(0.3, 0.5, "stage 2", fontsize=9.5, color="0.35", va="center")
    _box(ax, 3.0, 0.5, "selector\n$M = a(X)$", w=1.6, h=0.75, fc="#fde2c8")
    _box(ax, 5.4, 0.5, r"$X \odot M$", w=1.5, h=0.6)
    _box(ax, 7.7, 0.5, "predictor\n(frozen)", w=1.6, h=0.75, fc="#cfe3f7")
    _arrow(ax, (3.8, 0.5), (4.65, 0.5))
    _arrow(ax, (6.15, 0.5), (6.9, 0.5))
    ax.text(
        9.9,
        0.5,
        "reads no code: the selector\nis paid only for content",
        ha="center",
        va="center",
        fontsize=9,
        color="tab:blue",
    )
    _arrow(ax, (7.7, 1.15), (7.7, 0.9), color="tab:blue")
    return fig


def attention_rollout(attentions, residual: float = 0.5) -> np.ndarray:
    """Attention rollout (Abnar & Zuidema 2020) after every layer: ``(L, n, n)``.

    ``attentions``: ``(L, n, n)`` head-averaged attention of one sentence (row = query, column = key; rows
    sum to 1). Each layer's map is mixed with the identity for the residual connection,
    ``Ã = residual·I + (1 − residual)·A`` (rows renormalised), and the rollout after layer l is
    ``Ã_l · … · Ã_1``: how much each input position flows into each position at depth l.
    """
    maps = as_array(attentions, dtype=float)
    if maps.ndim != 3 or maps.shape[1] != maps.shape[2]:
        raise ValueError(f"attentions must have shape (layers, n, n), got {maps.shape}")
    if not 0 <= residual < 1:
        raise ValueError(f"residual must be in [0, 1), got {residual}")
    eye = np.eye(maps.shape[1])
    out, rolled = [], eye
    for layer in maps:
        mixed = residual * eye + (1 - residual) * layer
        mixed = mixed / mixed.sum(-1, keepdims=True)
        rolled = mixed @ rolled
        out.append(rolled)
    return np.stack(out)


def rollout_vs_raw(attentions, tokens: Sequence[str], *, query: int = 0, residual: float = 0.5):
    """Raw attention against attention rollout across layers (chapter 6), for one query position.

    Left: row ``query`` of each layer's own (head-averaged) attention map; right: the same row of the
    rollout after that layer. Raw attention says where one layer reads from, in terms of that layer's
    mixed positions; rollout follows the mixing back to the input tokens.
    """
    maps = as_array(attentions, dtype=float)
    rolled = attention_rollout(maps, residual)
    if len(tokens) != maps.shape[1]:
        raise ValueError(f"{len(tokens)} tokens for maps of {maps.shape[1]} positions")
    n_layers = len(maps)
    fig, axes = plt.subplots(1, 2, figsize=(min(13, 3 + 0.75 * len(tokens)), 0.5 * n_layers + 1.9), sharey=True)
    for ax, grid, title in (
        (axes[0], maps[:, query, :], f"raw attention of '{tokens[query]}' in each layer"),
        (axes[1], rolled[:, query, :], f"rollout of '{tokens[query]}' up to each layer"),
    ):
        image = ax.imshow(grid, cmap="Oranges", vmin=0, vmax=max(grid.max(), 1e-9), aspect="auto")
        for l in range(n_layers):
            for t in range(len(tokens)):  # black or white text, whichever contrasts more with the cell
                ax.text(
                    t,
                    l,
                    f"{grid[l, t]:.2f}",
                    ha="center",
                    va="center",
                    fontsize=7.5,
                    color=text_colour(image.cmap(image.norm(grid[l, t]))),
                )
        ax.set_xticks(np.arange(len(tokens)))
        ax.set_xticklabels(tokens, rotation=40, ha="right", fontsize=9)
        ax.set_title(title, fontsize=10)
        ax.grid(False)
    axes[0].set_yticks(np.arange(n_layers))
    axes[0].set_yticklabels([f"layer {l + 1}" for l in range(n_layers)])
    fig.tight_layout()
    return fig
