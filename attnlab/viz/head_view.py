"""A head view of a Transformer's attention: who attends to whom, layer by layer and head by head.

Each panel lists the sentence's tokens twice — queries on the left, keys on the right — and draws a line
from query ``i`` to key ``j`` as dark as ``A[i, j]``, the attention ``i`` pays to ``j`` (in the spirit of
Vig's bertviz head view). Beside each key stands the share of the layer's attention it receives, so the
columns that draw attention — often ``[CLS]``, ``[SEP]`` and punctuation — can be read off directly;
those tokens are coloured. :func:`plot_head_view` draws a static figure (what the book shows);
:func:`head_view` wraps it in two controls, layer and head, for Jupyter and Colab::

    maps = [a[0] for a in model(tokens[:1], mask[:1]).attentions]   # one (H, S, S) map per layer
    plot_head_view(maps, ["[CLS]", *words, "[SEP]"], layers=[0, 5])
    head_view(maps, ["[CLS]", *words, "[SEP]"])                      # interactive
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np

#: Colours of the tokens that often draw attention without carrying content.
SPECIAL_COLOUR, PUNCTUATION_COLOUR, WORD_COLOUR = "tab:red", "tab:orange", "0.15"


def _as_maps(maps) -> list[np.ndarray]:
    """One ``(H, S, S)`` array per layer, rows summing to 1 (checked)."""
    arrays = []
    for layer, m in enumerate(maps):
        a = np.asarray(m.detach().cpu() if hasattr(m, "detach") else m, dtype=float)
        if a.ndim == 2:
            a = a[None]
        if a.ndim != 3 or a.shape[1] != a.shape[2]:
            raise ValueError(
                f"layer {layer}: expected an (H, S, S) attention map of one sentence, got shape "
                f"{a.shape}; take one sentence of the batch, e.g. [a[0] for a in output.attentions]"
            )
        arrays.append(a)
    if not arrays:
        raise ValueError("no attention maps: pass one (H, S, S) map per layer")
    if len({a.shape for a in arrays}) != 1:
        raise ValueError(f"every layer needs the same (H, S, S) shape, got {sorted({a.shape for a in arrays})}")
    return arrays


def _colour(token: str) -> str:
    if token.startswith("[") and token.endswith("]") or token in ("<s>", "</s>", "<cls>", "<sep>"):
        return SPECIAL_COLOUR
    if token and all(not ch.isalnum() for ch in token):
        return PUNCTUATION_COLOUR
    return WORD_COLOUR


def _check_tokens(tokens: Sequence[str], S: int) -> None:
    if len(tokens) != S:
        raise ValueError(
            f"{len(tokens)} tokens for attention maps over {S} positions: pass every position's "
            "token, special tokens included (e.g. ['[CLS]', *words, '[SEP]'])"
        )


def _check_choice(name: str, value: int, n: int) -> int:
    if not isinstance(value, (int, np.integer)) or not -n <= value < n:
        raise ValueError(f"{name} must be an integer from 0 to {n - 1} (or negative, from the end), got {value!r}")
    return int(value) % n


def _panel(ax, attention: np.ndarray, tokens: Sequence[str], title: str) -> None:
    """One head (or the mean over heads): queries left, keys right, a line per (query, key) pair."""
    S = len(tokens)
    received = attention.sum(0) / attention.sum()  # share of this map's attention each key receives
    y = -np.arange(S, dtype=float)
    for i in range(S):
        for j in range(S):
            if attention[i, j] > 0.02:
                ax.plot(
                    [0, 1],
                    [y[i], y[j]],
                    color="tab:blue",
                    alpha=float(min(1.0, attention[i, j])),
                    lw=0.4 + 2.6 * float(attention[i, j]),
                    solid_capstyle="round",
                )
    for k, token in enumerate(tokens):
        colour = _colour(token)
        ax.text(-0.04, y[k], token, ha="right", va="center", fontsize=8, color=colour)
        ax.text(
            1.04,
            y[k],
            f"{token}  {received[k]:.0%}",
            ha="left",
            va="center",
            fontsize=8,
            color=colour,
            fontweight="bold" if received[k] >= 2 / S else "normal",
        )
    ax.set(xlim=(-0.9, 1.9), ylim=(y[-1] - 0.8, 0.8), title=title)
    ax.title.set_fontsize(9)
    ax.axis("off")


def plot_head_view(
    maps, tokens: Sequence[str], *, layers: Sequence[int] | None = None, head: int | str = "mean", figwidth: float = 3.3
):
    """A static head view: one panel per layer in ``layers`` (default: every layer), for one ``head`` or
    the mean over heads. ``maps``: one ``(H, S, S)`` attention map per layer (tensor or array) of a single
    sentence; ``tokens``: its ``S`` token strings, special tokens included. Returns the figure."""
    arrays = _as_maps(maps)
    H, S, _ = arrays[0].shape
    _check_tokens(tokens, S)
    layers = list(range(len(arrays))) if layers is None else [_check_choice("layer", l, len(arrays)) for l in layers]
    if head != "mean":
        head = _check_choice("head", head, H)
    fig, axes = plt.subplots(1, len(layers), figsize=(figwidth * len(layers), 0.28 * S + 0.9), squeeze=False)
    for ax, layer in zip(axes[0], layers):
        attention = arrays[layer].mean(0) if head == "mean" else arrays[layer][head]
        which = f"mean of {H} heads" if head == "mean" else f"head {head + 1} of {H}"
        _panel(ax, attention, tokens, f"layer {layer + 1}, {which}")
    fig.tight_layout()
    return fig


def head_view(maps, tokens: Sequence[str]):
    """The head view with a layer slider and a head menu (ipywidgets), for Jupyter and Colab: returns the
    widget. In a static page (the online book) use :func:`plot_head_view`, which draws the same panels."""
    import io

    import ipywidgets as widgets

    arrays = _as_maps(maps)
    H, S, _ = arrays[0].shape
    _check_tokens(tokens, S)
    layer = widgets.IntSlider(value=len(arrays), min=1, max=len(arrays), description="layer")
    head = widgets.Dropdown(
        options=[("mean of heads", "mean")] + [(f"head {h + 1}", h) for h in range(H)], value="mean", description="head"
    )
    image = widgets.Image(format="png")

    def draw(*_):
        # the panel as a PNG in an Image widget: no Output-widget context, which can stall a kernel that
        # runs without a front end (papermill, the book build)
        fig = plot_head_view(arrays, tokens, layers=[layer.value - 1], head=head.value, figwidth=4.2)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
        plt.close(fig)
        image.value = buffer.getvalue()

    layer.observe(draw, names="value")
    head.observe(draw, names="value")
    draw()
    return widgets.VBox([widgets.HBox([layer, head]), image])
