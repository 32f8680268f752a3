"""The reader's map: the two tracks of the book (the direction of a token's effect, and shortcuts), drawn
from ``_toc.yml`` so it follows the table of contents; every chapter shows it small, "you are here"."""

from __future__ import annotations

import matplotlib.pyplot as plt

from ._shapes import _arrow, _box

#: Which track each chapter (notebook stem) belongs to. The order, numbers and titles come from _toc.yml
#: and the notebooks; a repository test checks that every numbered chapter is listed here.
TRACKS = {
    "direction": (
        "Direction of a token's effect",
        "tab:blue",
        ("01_attention_as_explanation", "05_faithfulness_violation_test"),
    ),
    "shortcuts": (
        "Shortcuts: where attention points",
        "tab:orange",
        ("02_combinatorial_shortcuts", "03_shortcut_experiment", "04_mitigations"),
    ),
    "meeting": ("Both tracks meet", "tab:purple", ("06_transformers", "07_can_i_read_this_map")),
}

#: Used where no _toc.yml is found (e.g. in Colab, where only the package is installed); a repository test
#: checks that it equals what _toc.yml and the notebooks say.
CHAPTERS_FALLBACK = (
    ("01_attention_as_explanation", "Is attention an explanation?"),
    ("02_combinatorial_shortcuts", "Combinatorial shortcuts: when *where* attention points is the message"),
    ("03_shortcut_experiment", "The synthetic shortcut experiment"),
    ("04_mitigations", "Fixing the shortcut"),
    ("05_faithfulness_violation_test", "The faithfulness violation test"),
    ("06_transformers", "Attention in Transformers"),
    ("07_can_i_read_this_map", "So, can I read this attention map?"),
)


def _find_toc(start=None):
    from pathlib import Path

    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "_toc.yml").is_file():
            return folder
    return None


def book_chapters(root=None) -> list[tuple[str, str]]:
    """The numbered chapters as ``(stem, title)``, in the order of ``_toc.yml`` (the "Chapters" part with
    ``numbered: true``); titles are each notebook's first heading. Without a _toc.yml nearby (Colab), the
    package's copy :data:`CHAPTERS_FALLBACK`."""
    import json
    import re
    from pathlib import Path

    import yaml

    folder = Path(root) if root is not None else _find_toc()
    if folder is None or not (folder / "_toc.yml").is_file():
        return list(CHAPTERS_FALLBACK)
    toc = yaml.safe_load((folder / "_toc.yml").read_text(encoding="utf-8"))
    chapters = []
    for part in toc.get("parts", []):
        if not part.get("numbered"):
            continue
        for entry in part["chapters"]:
            path = folder / f"{entry['file']}.ipynb"
            stem = Path(entry["file"]).name
            title = stem
            if path.is_file():
                first = "".join(json.loads(path.read_text(encoding="utf-8"))["cells"][0]["source"])
                match = re.match(r"#\s+(.+)", first)
                title = match[1].strip() if match else stem
            chapters.append((stem, title))
    return chapters


def _short_title(title: str, width: int = 26) -> str:
    import textwrap

    title = title.replace("*", "").split(":")[0]
    return "\n".join(textwrap.wrap(title, width))


def reader_map(here: str | None = None, *, small: bool = False, root=None):
    """The book's two tracks as a map: the direction of a token's effect (top) and shortcuts (bottom),
    meeting in the last chapters. Chapter numbers and titles are read from ``_toc.yml`` and the notebooks,
    so the map follows the table of contents. ``here`` (a notebook stem) is highlighted, "you are here";
    ``small`` draws the compact version shown at the top of each chapter."""
    chapters = book_chapters(root)
    number = {stem: i + 1 for i, (stem, _) in enumerate(chapters)}
    titles = dict(chapters)
    track_of = {stem: key for key, (_, _, stems) in TRACKS.items() for stem in stems}
    unknown = [stem for stem in number if stem not in track_of]
    if unknown:
        raise ValueError(f"chapters {unknown} belong to no track: add them to attnlab.viz.TRACKS")
    if here is not None and here not in number:
        raise ValueError(f"{here!r} is not a numbered chapter of the book ({list(number)})")
    direction = [s for s in TRACKS["direction"][2] if s in number]
    shortcuts = [s for s in TRACKS["shortcuts"][2] if s in number]
    meeting = [s for s in TRACKS["meeting"][2] if s in number]
    pos = {}
    for i, stem in enumerate(shortcuts):
        pos[stem] = (1.0 + 2.4 * i, 0.0)
    span = pos[shortcuts[-1]][0] if shortcuts else 5.8
    for i, stem in enumerate(direction):
        pos[stem] = (1.0 + (span - 1.0) * i / max(1, len(direction) - 1), 2.2)
    for i, stem in enumerate(meeting):
        pos[stem] = (span + 2.6 + 2.4 * i, 1.1)
    width = max(x for x, _ in pos.values()) + 1.4
    scale = 0.62 if small else 1.0
    fig, ax = plt.subplots(figsize=(width * 0.95 * scale + 0.4, 3.5 * scale + (0.15 if small else 0.4)))
    ax.set_xlim(-0.4, width)
    ax.set_ylim(-0.75, 3.05)
    ax.axis("off")
    box_w, box_h = 2.05, 0.9
    for key, (label, colour, _) in TRACKS.items():
        members = [pos[s] for s in TRACKS[key][2] if s in pos]
        if not members or key == "meeting":
            continue
        y = members[0][1]
        above = y > 1  # the top track's name above it, the bottom track's below it
        ax.text(
            -0.3,
            y + (box_h / 2 + 0.22) * (1 if above else -1),
            label,
            fontsize=10 if not small else 8.5,
            color=colour,
            fontweight="bold",
            va="center",
        )
    edges = list(zip(direction, direction[1:])) + list(zip(shortcuts, shortcuts[1:]))
    if meeting:
        if direction:
            edges.append((direction[-1], meeting[0]))
        if shortcuts:
            edges.append((shortcuts[-1], meeting[0]))
        edges += list(zip(meeting, meeting[1:]))
    for a, b in edges:
        colour = TRACKS[track_of[a]][1]
        _arrow(ax, (pos[a][0] + box_w / 2, pos[a][1]), (pos[b][0] - box_w / 2, pos[b][1]), color=colour, lw=2)
    if direction and shortcuts:  # everyone starts with chapter 1
        a, b = direction[0], shortcuts[0]
        x0 = pos[a][0] - box_w / 2 + 0.25
        _arrow(ax, (x0, pos[a][1] - box_h / 2), (x0, pos[b][1] + box_h / 2), color="0.55", lw=1.2, ls="--")
        ax.text(
            x0 + 0.12,
            (pos[a][1] + pos[b][1]) / 2,
            "start here,\nthen either track",
            fontsize=6.5 if small else 8.5,
            color="0.4",
            va="center",
        )
    for stem, (x, y) in pos.items():
        colour = TRACKS[track_of[stem]][1]
        is_here = stem == here
        faded = here is not None and not is_here
        _box(
            ax,
            x,
            y,
            f"{number[stem]}. {_short_title(titles[stem], 20 if small else 26)}",
            w=box_w,
            h=box_h,
            fc=colour if is_here else "white",
            ec=colour,
            lw=3 if is_here else 1.5,
            fontsize=(6.3 if small else 8.8),
            color="white" if is_here else ("0.45" if faded else "black"),
            fontweight="bold" if is_here else "normal",
        )
        if is_here:  # between the tracks, where there is room
            offset = (box_h / 2 + 0.22) * (-1 if y > 1.5 else 1)
            ax.text(
                x,
                y + offset,
                "you are here",
                ha="center",
                va="center",
                fontsize=8 if small else 10,
                color=colour,
                fontweight="bold",
            )
    fig.tight_layout(pad=0.2)
    return fig


def you_are_here(stem: str, *, root=None) -> None:
    """Show the small reader's map with chapter ``stem`` marked, and glue it as ``reader_map_<stem>``.

    A chapter calls it in a cell tagged ``remove-cell`` and places the figure at the very top of its page,
    under the title, with a ``{glue:figure}`` directive (numbered and captioned there); in Jupyter or Colab
    the map shows where the cell is.
    """
    from ..book import glue

    fig = reader_map(stem, small=True, root=root)
    glue(f"reader_map_{stem}", fig, display=True)
    plt.close(fig)
