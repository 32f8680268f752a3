"""Figures of the book: every chapter figure has a numbered caption, the reader's map follows _toc.yml, and
the concept figures of attnlab.viz draw what they say.

Captions live in the cell metadata of the code cell that draws the figure (``mystnb.figure``: ``name`` and
``caption``); the book numbers them (Jupyter Book's numfig) and wraps every display output of that cell, so
such a cell must show the figure and nothing else (tables go to a cell of their own).
"""

import json
import re
from pathlib import Path

import matplotlib
import numpy as np
import pytest
import yaml

matplotlib.use("Agg")

from attnlab import viz  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TOC = yaml.safe_load((ROOT / "_toc.yml").read_text())
CHAPTERS = [ROOT / f"{c['file']}.ipynb" for part in TOC["parts"] if part.get("numbered") for c in part["chapters"]]
DRAWS = re.compile(r"plt\.show\(\)")

# Chapters whose figures are not captioned yet (their authors add the captions): remove the entry when done;
# the strict xfail fails as soon as a listed chapter passes, so the list cannot go stale.
NOT_YET_CAPTIONED: dict[str, str] = {}


def chapter_params():
    return [
        pytest.param(p, marks=pytest.mark.xfail(reason=NOT_YET_CAPTIONED[p.name], strict=True))
        if p.name in NOT_YET_CAPTIONED
        else p
        for p in CHAPTERS
    ]


def figure_cells(path):
    return [
        c
        for c in json.loads(path.read_text())["cells"]
        if c["cell_type"] == "code" and DRAWS.search("".join(c["source"]))
    ]


@pytest.mark.parametrize("path", chapter_params(), ids=lambda p: p.name)
def test_every_figure_of_a_chapter_has_a_named_caption_and_shows_nothing_else(path):
    cells = figure_cells(path)
    assert cells, f"{path.name} draws no figure"
    for cell in cells:
        figure = cell["metadata"].get("mystnb", {}).get("figure", {})
        source = "".join(cell["source"])
        assert figure.get("name", "").startswith("fig-"), f"{path.name} cell {cell['id']}: no figure name 'fig-...'"
        assert len(figure.get("caption", "")) > 40, f"{path.name} cell {cell['id']}: no caption that says what to see"
        assert (
            source.rstrip().endswith("plt.show()") and "display(" not in source and source.count("plt.show()") == 1
        ), f"{path.name} cell {cell['id']}: a captioned cell must end with its one plt.show() and display nothing else"


@pytest.mark.parametrize("path", chapter_params(), ids=lambda p: p.name)
def test_every_chapter_shows_where_it_sits_on_the_readers_map(path):
    """The small map sits under the title: a {glue:figure} in the first cell (numbered, captioned) of the figure
    that a cell tagged remove-cell glues with attnlab.viz.you_are_here (in Jupyter the map shows there)."""
    cells = json.loads(path.read_text())["cells"]
    header = "".join(cells[0]["source"])
    assert re.search(rf"```{{glue:figure}} reader_map_{path.stem}\n:name: fig-\S+-map\n\n\S.{{40,}}\n```", header), (
        f"{path.name}: the first cell needs a captioned {{glue:figure}} reader_map_{path.stem} with a :name:"
    )
    makers = [c for c in cells if f'you_are_here("{path.stem}")' in "".join(c["source"])]
    assert len(makers) == 1 and "remove-cell" in makers[0]["metadata"].get("tags", []), (
        f"{path.name}: one cell tagged remove-cell calling you_are_here({path.stem!r})"
    )
    first_section = next(
        i
        for i, c in enumerate(cells)
        if "".join(c["source"]).startswith("## ") and not "".join(c["source"]).startswith("## Setup")
    )
    assert cells.index(makers[0]) < first_section, f"{path.name}: glue the map before the first section"


def test_figure_names_are_unique_across_the_book():
    names = []
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        for c in json.loads(path.read_text())["cells"]:
            if c["metadata"].get("mystnb", {}).get("figure"):
                names.append(c["metadata"]["mystnb"]["figure"]["name"])
            if c["cell_type"] == "markdown":
                names += re.findall(r"```\{glue:figure\}[^\n]*\n:name: (\S+)", "".join(c["source"]))
    assert len(names) == len(set(names)), f"duplicate figure names: {sorted(n for n in names if names.count(n) > 1)}"


# -- the reader's map ------------------------------------------------------------------------------


def test_the_map_knows_every_numbered_chapter_and_its_fallback_matches_the_toc():
    chapters = viz.book_chapters(ROOT)
    assert [stem for stem, _ in chapters] == [p.stem for p in CHAPTERS]
    tracked = {stem for _, _, stems in viz.TRACKS.values() for stem in stems}
    assert not {p.stem for p in CHAPTERS} - tracked, "add the new chapter to attnlab.viz.TRACKS"
    assert list(viz.CHAPTERS_FALLBACK) == chapters, "update attnlab.viz.CHAPTERS_FALLBACK (used in Colab) to _toc.yml"


def test_reader_map_draws_every_chapter_and_marks_the_one_you_are_in():
    fig = viz.reader_map(root=ROOT)
    texts = [t.get_text() for t in fig.axes[0].texts]
    for number, _chapter in enumerate(viz.book_chapters(ROOT), 1):
        assert any(t.startswith(f"{number}. ") for t in texts), f"chapter {number} missing from the map"
    assert "you are here" not in texts
    small = viz.reader_map("03_shortcut_experiment", small=True, root=ROOT)
    assert [t.get_text() for t in small.axes[0].texts].count("you are here") == 1
    with pytest.raises(ValueError, match="not a numbered chapter"):
        viz.reader_map("explorer", root=ROOT)


def test_reader_map_outside_a_checkout_uses_the_fallback(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert viz.book_chapters() == list(viz.CHAPTERS_FALLBACK)
    assert viz.reader_map("07_can_i_read_this_map", small=True)
    viz.you_are_here("07_can_i_read_this_map")  # shows and glues (outside the book: shows only)


# -- the concept figures ------------------------------------------------------------------------------


def test_concept_figures_draw():
    rng = np.random.default_rng(0)
    tokens = ["A", "B", "the", "plot", "was", "great"]
    mask = rng.dirichlet(np.ones(6))
    assert viz.attention_as_mask(tokens, mask, rng.normal(size=(6, 4)), k=2)
    with pytest.raises(ValueError):
        viz.attention_as_mask(tokens[:5], mask, rng.normal(size=(6, 4)))
    assert viz.shortcut_code_picture([("A", "B", "good"), ("A", "B", "bad")], [1, 0], {"shortcut": [0, 1]})
    assert viz.pretraining_vs_joint()


@pytest.mark.parametrize(
    "weights, p_full, p_removed, violates",
    [
        ([0.1, 0.6, 0.3], 0.7, 0.8, True),  # positive top weight, removal raises f: the signs disagree
        ([0.1, 0.6, 0.3], 0.8, 0.7, False),
        ([0.1, -0.6, 0.3], 0.7, 0.8, False),  # a signed method that says "suppresses" and is right
    ],
)
def test_violation_picture_states_the_verdict_of_the_test(weights, p_full, p_removed, violates):
    fig = viz.violation_test_picture(["a", "b", "c"], weights, p_full, p_removed)
    verdict = [t.get_text() for t in fig.texts if "violation" in t.get_text().lower()]
    assert verdict and ("VIOLATION" in verdict[0]) == violates


def test_attention_rollout():
    rng = np.random.default_rng(1)
    maps = rng.random((3, 5, 5))
    maps /= maps.sum(-1, keepdims=True)
    rolled = viz.attention_rollout(maps)
    assert rolled.shape == (3, 5, 5) and np.allclose(rolled.sum(-1), 1)
    assert np.allclose(rolled[0], 0.5 * (maps[0] + np.eye(5)))
    assert np.allclose(rolled[2], (0.5 * (maps[2] + np.eye(5))) @ rolled[1])
    identity = np.broadcast_to(np.eye(4), (2, 4, 4))
    assert np.allclose(viz.attention_rollout(identity), identity)  # attention to oneself: nothing mixes
    assert viz.rollout_vs_raw(maps, ["[CLS]", "a", "b", "c", "d"], query=0)
    with pytest.raises(ValueError):
        viz.attention_rollout(maps[0])


# -- readable heatmap text (WCAG contrast) ------------------------------------------------------------


def test_contrast_ratio_follows_wcag():
    assert viz.contrast_ratio("black", "white") == pytest.approx(21.0)
    assert viz.contrast_ratio("#777777", "#777777") == pytest.approx(1.0)
    assert viz.contrast_ratio("white", "black") == viz.contrast_ratio("black", "white")  # order does not matter
    assert viz.contrast_ratio("#767676", "white") == pytest.approx(4.54, abs=0.01)  # the classic AA grey
    assert viz.relative_luminance((1.0, 0.0, 0.0)) == pytest.approx(0.2126)
    assert viz.text_colour("#7f2704") == "#ffffff" and viz.text_colour("#fff5eb") == "#000000"


def _span_colours(page):
    import re

    return re.findall(r"background: (#[0-9a-f]{6}); color: (#[0-9a-f]{6})", page)


@pytest.mark.parametrize("signed", [True, False], ids=["signed", "non-negative"])
def test_every_colour_of_the_html_heatmap_gets_text_with_contrast_of_at_least_4_5(signed):
    """Sample the colour map densely through the heatmap itself: every background it can write gets text
    (black or white) that WCAG AA accepts for normal text (4.5:1)."""
    weights = np.linspace(-1, 1, 2001) if signed else np.linspace(0, 1, 2001)
    page = viz.token_heatmap_html([f"t{i}" for i in range(len(weights))], weights, signed=signed)
    pairs = _span_colours(page)
    assert len(pairs) == len(weights) and len({b for b, _ in pairs}) > 100  # the whole map was sampled
    worst = min(viz.contrast_ratio(text, background) for background, text in pairs)
    assert worst >= 4.5, worst
    # the dark ends get white text, the light middle (signed) or start (non-negative) black text
    assert pairs[-1][1] == "#ffffff" and pairs[len(pairs) // 2 if signed else 0][1] == "#000000"


@pytest.mark.parametrize("signed", [True, False], ids=["signed", "non-negative"])
def test_matplotlib_heatmap_text_contrasts_with_its_box(signed):
    weights = np.linspace(-1, 1, 301) if signed else np.linspace(0, 1, 301)
    fig = viz.plot_token_heatmaps([([f"t{i}" for i in range(len(weights))], weights, "all colours")], signed=signed)
    tokens = [t for t in fig.axes[0].texts if t.get_bbox_patch() is not None]
    assert len(tokens) == len(weights)
    worst = min(viz.contrast_ratio(t.get_color(), t.get_bbox_patch().get_facecolor()) for t in tokens)
    assert worst >= 4.5, worst


def test_rollout_figure_numbers_are_readable_on_their_cells():
    maps = np.random.default_rng(2).random((2, 4, 4))
    maps /= maps.sum(-1, keepdims=True)
    fig = viz.rollout_vs_raw(maps, ["[CLS]", "a", "b", "c"])
    for ax in fig.axes:
        image = ax.get_images()[0]
        for text in ax.texts:
            x, y = map(int, text.get_position())
            cell = image.cmap(image.norm(image.get_array()[y, x]))
            assert viz.contrast_ratio(text.get_color(), cell) >= 4.5


# -- seed spreads ---------------------------------------------------------------------------------------


def _per_seed():
    import pandas as pd

    rows = []
    for variant, base in (("joint", 0.98), ("pretrained", 0.74)):
        for k in (1, 2):
            for seed, noise in zip(range(3), (-0.01, 0.0, 0.02)):
                rows.append(
                    dict(
                        variant=variant,
                        k=k,
                        seed=seed,
                        accuracy=base + noise + 0.01 * k,
                        probe=0.5 + noise + (0.4 if variant == "joint" else 0),
                    )
                )
    return pd.DataFrame(rows)


def test_seed_spread_is_mean_and_sd_over_seeds():
    data = _per_seed()
    table = viz.seed_spread(data, "variant", "accuracy", hue="k")
    row = table[(table["variant"] == "joint") & (table["k"] == 1)].iloc[0]
    assert row["n"] == 3 and row["mean"] == pytest.approx(0.99 + 0.01 / 3)
    assert row["sd"] == pytest.approx(np.std([0.98, 0.99, 1.01], ddof=1))
    with pytest.raises(ValueError, match="not in the data"):
        viz.seed_spread(data, "variant", "nope")


def test_seed_spread_plot_shares_one_axis_from_zero_with_labelled_references_and_an_outside_legend():
    data = _per_seed()
    fig = viz.plot_seed_spread(
        data,
        "variant",
        ["accuracy", "probe"],
        hue="k",
        references={"accuracy": {"chance": 0.5, "content-only ceiling": 0.743}, "probe": {"chance": 0.5}},
    )
    acc, probe = fig.axes
    assert acc.get_ylim() == probe.get_ylim() and acc.get_ylim()[0] == 0  # shared, from zero: no autoscaling
    assert acc.get_ylim()[1] >= data["accuracy"].max()
    assert [t.get_text() for t in acc.get_xticklabels()] == ["joint", "pretrained"]
    # the reference lines are drawn where they belong, in their panels only
    levels = lambda ax: sorted(
        l.get_ydata()[0]
        for l in ax.lines
        if len(set(l.get_xdata())) == 2  # noqa: E731
        and l.get_xdata()[0] == 0
        and l.get_xdata()[1] == 1
    )
    assert levels(acc) == [0.5, 0.743] and levels(probe) == [0.5]
    # one interval line per (variant, k): from mean - sd to mean + sd
    stats = viz.seed_spread(data, "variant", "accuracy", hue="k")
    intervals = sorted(
        tuple(np.round(l.get_ydata(), 6))
        for l in acc.lines
        if len(l.get_xdata()) == 2 and l.get_xdata()[0] == l.get_xdata()[1]
    )
    expected = sorted((round(m - s, 6), round(m + s, 6)) for m, s in zip(stats["mean"], stats["sd"]))
    assert intervals == expected
    legend = fig.legends[0]
    labels = [t.get_text() for t in legend.get_texts()]
    assert {"k = 1", "k = 2", "chance (0.5)", "content-only ceiling (0.743)", "mean ± 1 sd over seeds"} <= set(labels)
    fig.canvas.draw()  # the legend sits right of every panel, outside the data
    right_of_panels = max(ax.get_window_extent().x1 for ax in fig.axes)
    assert legend.get_window_extent().x0 >= right_of_panels


def test_seed_spread_plot_horizontal_given_range_and_bad_input():
    data = _per_seed()
    fig = viz.plot_seed_spread(data, "variant", "accuracy", limits=(0, 1), horizontal=True, references={"chance": 0.5})
    ax = fig.axes[0]
    assert ax.get_xlim() == (0, 1) and [t.get_text() for t in ax.get_yticklabels()] == ["joint", "pretrained"]
    with pytest.raises(ValueError, match="low < high"):
        viz.plot_seed_spread(data, "variant", "accuracy", limits=(1, 0))
    with pytest.raises(ValueError, match="not among the plotted columns"):
        viz.plot_seed_spread(data, "variant", "accuracy", references={"probe": {"chance": 0.5}})
    with pytest.raises(ValueError, match="not values of the column"):
        viz.plot_seed_spread(data, "variant", "accuracy", order=["joint", "other"])


def test_the_viz_package_re_exports_every_name_the_book_uses():
    """Notebooks, the book and the kit import from attnlab.viz, whichever module a name lives in."""
    used = set()
    sources = [*(ROOT / "notebooks").glob("*.ipynb"), *(ROOT / "book").glob("*.md"), *(ROOT / "attnlab").rglob("*.py")]
    for path in sources:
        if path.parent.name == "viz":
            continue  # the package itself (its docstrings show the pattern)
        text = path.read_text(encoding="utf-8")
        for names in re.findall(r"from (?:attnlab|\.)\.?viz import ([\w, ]+)", text):
            used |= {n.strip() for n in names.split(",") if n.strip()}
        used |= set(re.findall(r"\bviz\.([A-Za-z]\w*)\b", text)) - {
            "py",
            "head_view",
            "heatmaps",
            "figures",
            "book_map",
            "spread",
        }
    missing = sorted(n for n in used if not hasattr(viz, n))
    assert not missing, f"attnlab.viz does not export {missing}"
    assert set(viz.__all__) <= set(dir(viz))
    for module in (ROOT / "attnlab" / "viz").glob("*.py"):
        assert len(module.read_text().splitlines()) <= 400, f"{module.name} is over 400 lines: split it"
