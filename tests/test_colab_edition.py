"""The Colab edition (book/colab_edition.py): MyST -> plain Markdown, the two flavours, badges and installs.

The converter is tested on small strings; the tests at the end read the edition that `bash book/build.sh`
wrote to _build/colab (and the built books' Colab buttons). Those run when ATTNLAB_CHECK_BUILD=1
(.ci/run sets it after building; a missing build then fails) and otherwise skip, saying why.
"""

import base64
import importlib.util
import json
import os
import re
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def _load(name):
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "book" / f"{name}.py")
        module = sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return sys.modules[name]


ce = _load("colab_edition")
student_edition = _load("student_edition")
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
BASE = CONFIG["html"]["baseurl"].rstrip("/") + "/"
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\nfake").decode()


@pytest.fixture(scope="module")
def book():
    return ce.load_book(ROOT, config=CONFIG)


@pytest.fixture(autouse=True)
def no_course_repository(monkeypatch):
    monkeypatch.delenv("ATTNLAB_STUDENT_REPO", raising=False)


def convert(book, text, glue=None, docname="notebooks/02_combinatorial_shortcuts"):
    markdown = ce.myst_to_markdown(text, book, docname, glue)
    assert not ce.leftovers(markdown), ce.leftovers(markdown)
    return markdown


# -- MyST -> Markdown on small strings ----------------------------------------------------------------


def test_glued_values_are_substituted_as_myst_nb_formats_them(book):
    glue = {"acc": {"text/plain": "0.87654"}, "claim_x": {"text/plain": "'[checked ✓]'"}, "n": {"text/plain": "12"}}
    assert (
        convert(book, "accuracy {glue:text}`acc:.2f`, {glue:text}`n` runs {glue:text}`claim_x`", glue)
        == "accuracy 0.88, 12 runs [checked ✓]"
    )
    assert convert(book, "{glue:text}`acc:.1%`", glue) == "87.7%"
    with pytest.raises(ce.ConversionError, match="nothing glued"):
        ce.myst_to_markdown("{glue:text}`missing`", book, "notebooks/x")


def test_citations_become_author_year_linked_to_the_references_page(book):
    refs = f"{BASE}book/references.html"
    assert convert(book, "{cite:t}`jain2019attention` showed") == f"[Jain and Wallace (2019)]({refs}) showed"
    assert (
        convert(book, "as shown {cite:p}`bai2021why,jain2019attention`.")
        == f"as shown ([Bai et al., 2021]({refs}); [Jain and Wallace, 2019]({refs}))."
    )
    with pytest.raises(ce.ConversionError, match="unknown citation"):
        ce.myst_to_markdown("{cite:t}`nobody2000`", book, "notebooks/x")


def test_parse_bib_names_authors_as_cited():
    bib = (
        "@article{a1,\n  author = {Smith, Ann},\n  year = {2001}\n}\n"
        "@article{b2,\n  author = {Ann Smith and Bo Jones},\n  year = {2002}\n}\n"
        "@article{c3,\n  author = {Smith, A. and Jones, B. and {van Dyk}, C.},\n  year = {2003}\n}\n"
    )
    assert ce.parse_bib(bib) == {
        "a1": ("Smith", "2001"),
        "b2": ("Smith and Jones", "2002"),
        "c3": ("Smith et al.", "2003"),
    }


def test_glossary_terms_link_to_the_online_glossary(book):
    assert convert(book, "its {term}`polarity`") == f"its [polarity]({BASE}book/glossary.html#term-polarity)"
    assert (
        convert(book, "{term}`shortcuts <combinatorial shortcut>`")
        == f"[shortcuts]({BASE}book/glossary.html#term-combinatorial-shortcut)"
    )


def test_relative_links_and_doc_roles_become_absolute_urls(book):
    assert (
        convert(book, "[chapter 1](01_attention_as_explanation)")
        == f"[chapter 1]({BASE}notebooks/01_attention_as_explanation.html)"
    )
    assert (
        convert(book, "[refs](../book/references) and [here](#setup)")
        == f"[refs]({BASE}book/references.html) and [here]({BASE}notebooks/02_combinatorial_shortcuts.html#setup)"
    )
    assert convert(book, "{doc}`the capstone <../book/capstone>`") == f"[the capstone]({BASE}book/capstone.html)"
    title = book.docs["book/capstone"]
    assert convert(book, "{doc}`../book/capstone`") == f"[{title}]({BASE}book/capstone.html)"
    assert convert(book, "[code](../attnlab/chapter.py)").startswith("[code](https://github.com/")
    assert convert(book, "[web](https://example.org/a)") == "[web](https://example.org/a)"


def test_code_is_left_alone(book):
    text = 'Write `{term}` or `[a](b)` literally.\n\n```python\nx = "{cite:t}`k`"  # [a](b)\n```'
    assert ce.myst_to_markdown(text, book, "notebooks/x") == text


def test_admonitions_become_details_blocks_and_dropdowns_start_closed(book):
    text = (
        "::::{admonition} Why it matters\n:class: note\nOuter {term}`polarity`.\n"
        ":::{note}\nInner.\n:::\n::::\n\n:::{admonition} Solution\n:class: dropdown solution\nHidden.\n:::"
    )
    markdown = convert(book, text)
    assert markdown.startswith("<details open>\n<summary><b>Why it matters</b></summary>\n\nOuter [polarity](")
    assert "<details open>\n<summary><b>Note</b></summary>\n\nInner.\n\n</details>" in markdown
    assert markdown.endswith("<details>\n<summary><b>Solution</b></summary>\n\nHidden.\n\n</details>")


def test_figures_are_embedded_images_with_captions(book, tmp_path):
    glue = {"fig_x": {"image/png": PNG, "text/plain": "<Figure>"}}
    markdown = convert(
        book,
        ":::{glue:figure} fig_x\n:name: fig-x\nThe caption, {glue:text}`n`.\n:::",
        {**glue, "n": {"text/plain": "3"}},
    )
    assert markdown == f"![The caption, 3.](data:image/png;base64,{PNG})\n\n*The caption, 3.*"
    assert convert(book, "{glue}`fig_x`", glue) == f"![fig_x](data:image/png;base64,{PNG})"
    image = ROOT / "book" / "_test_colab_image.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\nfake")
    try:
        markdown = convert(book, "```{figure} ../book/_test_colab_image.png\n:alt: a map\nWhere we are.\n```")
        assert markdown == f"![a map](data:image/png;base64,{PNG})\n\n*Where we are.*"
        assert convert(book, "![x](../book/_test_colab_image.png)") == f"![x](data:image/png;base64,{PNG})"
    finally:
        image.unlink()


def test_any_other_role_or_directive_is_reduced_to_its_text(book):
    assert (
        convert(book, "{sub}`2` {math}`x^2` {abbr}`LRP (layer-wise relevance propagation)` {xyz}`plain`")
        == "<sub>2</sub> $x^2$ LRP plain"
    )
    assert convert(book, "```{math}\na = b\n```") == "$$\na = b\n$$"
    assert convert(book, ":::{unknown-thing} Title\n:opt: 1\nBody.\n:::") == "> **Title**\n>\n> Body."
    assert convert(book, "(my-label)=\n## Heading\n% a comment\ntext") == "## Heading\ntext"


def test_leftovers_finds_what_colab_would_show_raw():
    found = ce.leftovers('{term}`x` `{term}` [a](b) [c](https://c)\n:::{note}\nx\n:::\n<img src="a.png">')
    assert "role {term}`x`" in found and "directive :::{note}" in found
    assert "relative link 'b'" in found and "relative link 'a.png'" in found
    assert not [f for f in found if "https://c" in f or f == "role {term}`"]


# -- one notebook, both flavours -------------------------------------------------------------------


def toy_executed():
    def code(source, outputs=(), tags=()):
        return {
            "cell_type": "code",
            "id": source[:8].replace(" ", "_"),
            "source": source,
            "metadata": {"tags": list(tags)},
            "outputs": list(outputs),
            "execution_count": 1,
        }

    glued = {
        "output_type": "display_data",
        "data": {ce.GLUE_PREFIX + "text/plain": "0.5"},
        "metadata": {"scrapbook": {"name": "acc", "mime_prefix": ce.GLUE_PREFIX}},
    }
    figure = {"output_type": "display_data", "data": {"image/png": PNG, "text/plain": "<Figure>"}, "metadata": {}}
    badge = (
        "[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
        "(https://colab.research.google.com/github/attnlab/attnlab/blob/main/notebooks/toy.ipynb)"
    )
    cells = [
        {"cell_type": "markdown", "id": "head", "metadata": {}, "source": f"# Toy\n\n{badge}\n\nText."},
        code(
            'import sys\nif "google.colab" in sys.modules:\n    pip("attnlab @ git+https://github.com/attnlab/attnlab")'
        ),
        code("plot()", [figure, glued]),
        code("# Draw the map\nmap()", [figure], tags=["remove-cell"]),
        code("table()", [figure], tags=["remove-input"]),
        {"cell_type": "markdown", "id": "prose", "metadata": {}, "source": "Accuracy {glue:text}`acc:.2f`."},
        code("def f(): ..."),
        code("def f(): return 1", tags=["solution", "hide-input"]),
        code("checks.check_capacity_bits(f)", [{"output_type": "stream", "name": "stdout", "text": "✓\n"}]),
    ]
    return {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


@pytest.mark.parametrize("flavour", ce.FLAVOURS)
def test_colab_notebook_flavours(book, flavour):
    notebook = ce.colab_notebook(toy_executed(), "notebooks/toy.ipynb", flavour, book, CONFIG)
    ids = [c["id"] for c in notebook["cells"]]
    sources = {c["id"]: c["source"] for c in notebook["cells"]}
    assert f"({ce.colab_url(CONFIG, flavour, 'notebooks/toy.ipynb')})" in sources["head"]
    assert f"{BASE}notebooks/toy.html" in sources["head"]  # the note: this is the Colab edition of ...
    assert sources["prose"] == "Accuracy 0.50."
    setup = notebook["cells"][1]["source"]
    assert f'git+https://github.com/attnlab/attnlab@{CONFIG["colab"]["kit_ref"]}")' in setup
    plot = next(c for c in notebook["cells"] if c["source"] == "plot()")
    assert [list(o["data"]) for o in plot["outputs"]] == [["image/png", "text/plain"]]  # glue output dropped
    hidden = {c["source"].split("\n", 1)[0]: c for c in notebook["cells"] if c["metadata"].get("cellView") == "form"}
    assert hidden["# @title Draw the map"]["outputs"] == [] and hidden["# @title Draw the map"]["source"].endswith(
        "\nmap()"
    )
    assert hidden["# @title Code (the book shows only its output)"]["outputs"]  # remove-input: output kept
    if flavour == "student":
        assert "def_f():" in ids and not any(student_edition.is_solution(c) for c in notebook["cells"])
        assert "not attempted yet" in notebook["cells"][-1]["outputs"][0]["text"]
    else:
        solution = next(c for c in notebook["cells"] if student_edition.is_solution(c))
        assert solution["metadata"]["cellView"] == "form" and solution["source"].startswith("# @title Solution\n")
        assert solution["metadata"]["jupyter"]["source_hidden"] is True


def test_course_repository_repoints_badges_and_install_line(book, monkeypatch):
    monkeypatch.setenv("ATTNLAB_STUDENT_REPO", "myuni/course")
    notebook = ce.colab_notebook(toy_executed(), "notebooks/toy.ipynb", "student", book, CONFIG)
    assert (
        f"https://colab.research.google.com/github/myuni/course/blob/{CONFIG['colab']['branch']}/student/"
        "notebooks/toy.ipynb"
    ) in notebook["cells"][0]["source"]
    assert f"git+https://github.com/myuni/course@{CONFIG['colab']['kit_ref']}" in notebook["cells"][1]["source"]


# -- the built edition ------------------------------------------------------------------------------


def built(path: Path) -> Path:
    if not os.environ.get("ATTNLAB_CHECK_BUILD"):
        pytest.skip(
            "reads the built Colab edition: set ATTNLAB_CHECK_BUILD=1 after `bash book/build.sh` (.ci/run does)"
        )
    if not path.is_dir():
        pytest.fail(f"{path.relative_to(ROOT)} is not built: run `bash book/build.sh` first")
    return path


def toc_notebooks():
    return [str(p.relative_to(ROOT)) for p in _load("execute").toc_notebooks(ROOT)]


@pytest.fixture(scope="module")
def executed():
    if not os.environ.get("ATTNLAB_CHECK_BUILD"):
        pytest.skip("reads the built Colab edition: set ATTNLAB_CHECK_BUILD=1 after `bash book/build.sh`")
    return {name: notebook for name, (notebook, _) in student_edition.executed_notebooks(ROOT).items()}


@pytest.mark.parametrize("flavour", ce.FLAVOURS)
def test_built_colab_edition_is_plain_markdown_with_the_builds_outputs(flavour, executed):
    folder = built(ROOT / "_build" / "colab" / flavour)
    names = toc_notebooks()
    assert sorted(str(p.relative_to(folder)) for p in folder.rglob("*.ipynb")) == sorted(names)
    images = 0
    for name in names:
        notebook = json.loads((folder / name).read_text())
        source = json.loads((ROOT / name).read_text())
        markdown = [c["source"] for c in notebook["cells"] if c["cell_type"] == "markdown"]
        left = [item for text in markdown for item in ce.leftovers(text)]
        assert not left, f"{flavour}/{name}: {left[:5]}"
        # The claim marks of the prose are there as text, one per {glue:text}`claim_...` of the source
        # (the student flavour lacks those of removed solution cells).
        kept = {c["id"] for c in notebook["cells"]}
        marks = sum(
            len(re.findall(r"\{glue:text\}`claim_", "".join(c["source"])))
            for c in source["cells"]
            if c["cell_type"] == "markdown" and c["id"] in kept
        )
        assert sum(t.count("[checked ✓]") for t in markdown) == marks, f"{flavour}/{name}: claim marks"
        # Outputs kept: every code cell shows what the build's run showed (less the glue-only outputs).
        run = {c["id"]: c for c in executed[name]["cells"]}
        for cell in notebook["cells"]:
            if cell["cell_type"] != "code" or cell["id"] not in run:
                continue
            expected = [
                o
                for o in run[cell["id"]].get("outputs", [])
                if not o.get("metadata", {}).get("scrapbook", {}).get("mime_prefix")
            ]
            if ce.REMOVED_OUTPUT.intersection(cell["metadata"].get("tags", [])):
                expected = []  # the book does not show them either
            if flavour == "student" and student_edition.CHECK_CALL.search("".join(cell["source"])):
                continue  # a self-check shows what it prints for a stub
            assert cell["outputs"] == expected, (
                f"{flavour}/{name}: outputs of cell {cell['id']} differ from the build's"
            )
            images += sum("image/png" in o.get("data", {}) for o in cell["outputs"])
        # The badge and the install line.
        header = notebook["cells"][0]["source"]
        badges = re.findall(r"\((https://colab\.research\.google\.com/github/[^)]+)\)", header)
        assert badges == [ce.colab_url(CONFIG, flavour, name)], f"{flavour}/{name}: badge {badges}"
        setup = next(c["source"] for c in notebook["cells"] if c["cell_type"] == "code")
        assert re.findall(r"git\+https://[^\"'\s]+", setup) == [ce.install_spec(CONFIG)]
        solutions = [c for c in notebook["cells"] if student_edition.is_solution(c)]
        if flavour == "student":
            assert not solutions and "solution" not in json.dumps([c["metadata"] for c in notebook["cells"]])
        else:
            assert all(c["metadata"].get("cellView") == "form" for c in solutions if c["cell_type"] == "code")
    assert images >= 10, f"{flavour}: only {images} figures among the outputs"


@pytest.mark.parametrize("html, flavour", [("html", "instructor"), ("student/html", "student")])
def test_built_books_colab_buttons_open_the_colab_edition_of_their_page(html, flavour):
    folder = built(ROOT / "_build" / html)
    for name in toc_notebooks():
        page = (folder / name).with_suffix(".html").read_text(encoding="utf-8")
        urls = set(re.findall(r"https://colab\.research\.google\.com/github/[^\"'\s<>]+", page))
        assert urls == {ce.colab_url(CONFIG, flavour, name)}, f"{html}/{name}: {urls}"
    scorecard = (folder / "book" / "scorecard.html").read_text(encoding="utf-8")
    assert "colab.research.google.com/github" not in scorecard  # not in the Colab edition: no button
