"""Showing a checklist: the items as HTML with links to the book's claims, a grid of verdicts, recorded numbers."""

from __future__ import annotations

import numpy as np

from .items import ITEMS, Checklist


def claim_anchor(stem: str, claim_id: str) -> str:
    """The anchor of a claim's row on the claims ledger page (book/claims.md)."""
    return f"claim-{stem}-{claim_id}".replace("_", "-")


def items_html(base: str = "") -> str:
    """The checklist as an HTML table: question, chapter, and links to the supporting claims' rows of the
    claims ledger (``base`` is the path from the page to the book's root, e.g. ``"../"``)."""
    import html

    rows = []
    for number, item in enumerate(ITEMS, 1):
        claims = ", ".join(
            f'<a href="{base}book/claims.html#{claim_anchor(stem, cid)}">{html.escape(cid)}</a>'
            f" (ch.&nbsp;{int(stem[:2])})"
            for stem, cid in item.claims
        )
        chapter = f'<a href="{base}notebooks/{item.chapter}.html">chapter {int(item.chapter[:2])}</a>'
        question = html.escape(item.question).replace("*", "")
        measured = "measured" if item.measured else "you answer it"
        rows.append(
            f"<tr><td>{number}</td><td>{question}</td><td>{measured}</td><td>{chapter}</td><td>{claims}</td></tr>"
        )
    return (
        '<table class="table"><thead><tr><th>#</th><th>question</th><th>how</th><th>taught in</th>'
        "<th>checked claims</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
    )


def verdict_grid(reports: dict[str, Checklist]):
    """The verdicts of several models as a coloured grid (rows: models; columns: checklist items): ok, caution,
    open (left to the user's judgement, e.g. joint training without a code found) or not asked."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap

    if not reports:
        raise ValueError("verdict_grid needs at least one checklist report")
    keys = [item.key for item in ITEMS]
    code = {"ok": 0, "caution": 1, "unknown": 2}
    grid = np.full((len(reports), len(keys)), 3)
    for r, report in enumerate(reports.values()):
        for v in report.verdicts:
            grid[r, keys.index(v.key)] = code[v.status]
    cmap = ListedColormap(["#7fbf7f", "#e06c6c", "#d9d9d9", "#f4f4f4"])
    fig, ax = plt.subplots(figsize=(1.35 * len(keys) + 2.6, 0.65 * len(reports) + 1.3))
    ax.imshow(grid, cmap=cmap, vmin=0, vmax=3, aspect="auto")
    words = {0: "ok", 1: "caution", 2: "open", 3: "not asked"}
    for r in range(grid.shape[0]):
        for c in range(grid.shape[1]):
            ax.text(c, r, words[int(grid[r, c])], ha="center", va="center", fontsize=9)
    ax.set_xticks(np.arange(len(keys)))
    ax.set_xticklabels([f"{i}. {k.replace('_', ' ')}" for i, k in enumerate(keys, 1)], fontsize=9)
    ax.set_yticks(np.arange(len(reports)))
    ax.set_yticklabels(list(reports), fontsize=9.5)
    ax.tick_params(length=0)
    ax.set_xticks(np.arange(-0.5, len(keys)), minor=True)
    ax.set_yticks(np.arange(-0.5, len(reports)), minor=True)
    ax.grid(False)
    ax.grid(which="minor", color="white", lw=3)
    fig.tight_layout()
    return fig


def record_checklist(chapter, prefix: str, report: Checklist) -> None:
    """Record a report in a chapter: every number as ``<prefix>_<name>``, the number of cautions as
    ``<prefix>_cautions`` and, as glued text, the list of cautions as ``<prefix>_caution_list``."""
    chapter.record(
        **{f"{prefix}_{name}": value for name, value in report.numbers.items()},
        **{f"{prefix}_cautions": len(report.cautions)},
    )
    chapter.text(f"{prefix}_caution_list", ", ".join(report.cautions) or "none")
