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
    return [pytest.param(p, marks=pytest.mark.xfail(reason=NOT_YET_CAPTIONED[p.name], strict=True))
            if p.name in NOT_YET_CAPTIONED else p for p in CHAPTERS]


def figure_cells(path):
    return [c for c in json.loads(path.read_text())["cells"]
            if c["cell_type"] == "code" and DRAWS.search("".join(c["source"]))]


@pytest.mark.parametrize("path", chapter_params(), ids=lambda p: p.name)
def test_every_figure_of_a_chapter_has_a_named_caption_and_shows_nothing_else(path):
    cells = figure_cells(path)
    assert cells, f"{path.name} draws no figure"
    for cell in cells:
        figure = cell["metadata"].get("mystnb", {}).get("figure", {})
        source = "".join(cell["source"])
        assert figure.get("name", "").startswith("fig-"), f"{path.name} cell {cell['id']}: no figure name 'fig-...'"
        assert len(figure.get("caption", "")) > 40, f"{path.name} cell {cell['id']}: no caption that says what to see"
        assert source.rstrip().endswith("plt.show()") and "display(" not in source and source.count("plt.show()") == 1, \
            f"{path.name} cell {cell['id']}: a captioned cell must end with its one plt.show() and display nothing else"


@pytest.mark.parametrize("path", chapter_params(), ids=lambda p: p.name)
def test_every_chapter_shows_where_it_sits_on_the_readers_map(path):
    """The small map sits under the title: a {glue:figure} in the first cell (numbered, captioned) of the figure
    that a cell tagged remove-cell glues with attnlab.viz.you_are_here (in Jupyter the map shows there)."""
    cells = json.loads(path.read_text())["cells"]
    header = "".join(cells[0]["source"])
    assert re.search(rf"```{{glue:figure}} reader_map_{path.stem}\n:name: fig-\S+-map\n\n\S.{{40,}}\n```", header), \
        f"{path.name}: the first cell needs a captioned {{glue:figure}} reader_map_{path.stem} with a :name:"
    makers = [c for c in cells if f'you_are_here("{path.stem}")' in "".join(c["source"])]
    assert len(makers) == 1 and "remove-cell" in makers[0]["metadata"].get("tags", []), \
        f"{path.name}: one cell tagged remove-cell calling you_are_here({path.stem!r})"
    first_section = next(i for i, c in enumerate(cells) if "".join(c["source"]).startswith("## ")
                         and not "".join(c["source"]).startswith("## Setup"))
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
    for number, (stem, title) in enumerate(viz.book_chapters(ROOT), 1):
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


@pytest.mark.parametrize("weights, p_full, p_removed, violates", [
    ([0.1, 0.6, 0.3], 0.7, 0.8, True),    # positive top weight, removal raises f: the signs disagree
    ([0.1, 0.6, 0.3], 0.8, 0.7, False),
    ([0.1, -0.6, 0.3], 0.7, 0.8, False),  # a signed method that says "suppresses" and is right
])
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
