"""Contracts of the repository: clean notebooks, parameters cells, Colab badges, toc, packaging."""

import json
import re
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
    dirty = [i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code"
             and (c.get("outputs") or c.get("execution_count") is not None)]
    assert not dirty, f"{path.name}: cells {dirty} carry outputs; clear them before committing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_has_a_parameters_cell_with_smoke_seed_and_results_dir(path):
    nb = json.loads(path.read_text())
    cells = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(cells) == 1, f"{path.name} needs exactly one cell tagged 'parameters'"
    source = "".join(cells[0]["source"])
    for name in ("SMOKE", "SEED", "RESULTS_DIR"):
        assert re.search(rf"^{name}\b", source, re.M), f"{path.name}: parameters cell lacks {name}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_colab_badge_points_at_this_notebook(path):
    repo = CONFIG["repository"]["url"].rstrip("/").removeprefix("https://github.com/")
    book_path = CONFIG["repository"].get("path_to_book", "").strip("/")
    rel = "/".join(filter(None, [book_path, "notebooks", path.name]))
    expected = f"https://colab.research.google.com/github/{repo}/blob/{CONFIG['repository']['branch']}/{rel}"
    nb = json.loads(path.read_text())
    header = "".join(nb["cells"][0]["source"])
    badges = re.findall(r"\(https://colab\.research\.google\.com/github/[^)]+\)", header)
    assert badges == [f"({expected})"], f"{path.name}: Colab badge should link to {expected}"
    assert CONFIG["launch_buttons"]["colab_url"] == "https://colab.research.google.com"


def test_colab_setup_cell_installs_the_kit_only_in_colab():
    for path in NOTEBOOKS:
        nb = json.loads(path.read_text())
        code = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
        assert "google.colab" in code[0] and "pip" in code[0], f"{path.name}: first code cell must be the Colab setup"
        assert CONFIG["repository"]["url"].removeprefix("https://") in code[0]


def test_package_metadata_is_consistent():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = (ROOT / "requirements.txt").read_text()
    for dep in project["dependencies"]:
        name = re.split(r"[<>=!~ \[]", dep)[0]
        assert re.search(rf"^{re.escape(name)}\b", requirements, re.M | re.I), f"{name} missing from requirements.txt"
    assert re.fullmatch(r"\d+\.\d+\.\d+", attnlab.__version__)
    assert "jupyter-book>=1.0.4,<2" in requirements  # only Jupyter Book 1.x reads _config.yml/_toc.yml
