"""The habits that keep the kit readable: ruff's lint and format (notebooks included), short modules, and a
README whose layout table matches the tree."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAX_MODULE_LINES = 400
#: Kit 0.1 module paths kept as aliases for one release (they go in 0.3).
ALIASES = {"multilayer", "transformer", "relevance", "synthetic", "mitigations", "head_view"}


def ruff() -> str:
    found = Path(sys.executable).with_name("ruff")
    found = str(found) if found.exists() else shutil.which("ruff")
    if not found:
        pytest.fail("ruff is missing: install the test extras (pip install -e '.[test]', as requirements.txt does)")
    return found


@pytest.mark.parametrize("command", [["check"], ["format", "--check"]], ids=["lint", "format"])
def test_ruff_is_happy_with_the_package_the_tests_the_book_and_the_notebooks(command):
    run = subprocess.run(
        [ruff(), *command, "attnlab", "tests", "book", "notebooks"], cwd=ROOT, capture_output=True, text=True
    )
    assert run.returncode == 0, (
        f"`ruff {' '.join(command)}` found problems (fix them, or run `ruff format` / "
        f"`ruff check --fix`):\n{run.stdout[-4000:]}{run.stderr[-2000:]}"
    )


def test_the_chapters_code_stays_within_the_line_length():
    """The chapters are linted, not reformatted (pyproject.toml says why): their code lines are kept
    hand-wrapped within 120 characters."""
    run = subprocess.run([ruff(), "check", "--select", "E501", "notebooks"], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, f"chapter code lines over 120 characters:\n{run.stdout[-4000:]}"


def test_no_module_of_the_package_is_over_400_lines():
    long = {
        str(p.relative_to(ROOT)): n
        for p in (ROOT / "attnlab").rglob("*.py")
        if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert not long, f"modules over {MAX_MODULE_LINES} lines (split them by concept): {long}"


def _layout_table() -> dict[str, str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Layout", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 2 and cells[0] not in ("path", "---"):
            rows[cells[0]] = cells[1]
    return rows


def test_the_readme_layout_table_matches_the_tree():
    rows = _layout_table()
    named = {p.strip("`/ ") for key in rows for p in key.split(",")}
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    top = {path.split("/")[0] for path in tracked if not path.startswith(".")}
    assert top <= named, f"top-level entries missing from the README's layout table: {sorted(top - named)}"
    assert named <= top, f"the README's layout table names what the repository does not have: {sorted(named - top)}"
    package = {
        p.stem if p.is_file() else p.name
        for p in (ROOT / "attnlab").iterdir()
        if (p.suffix == ".py" or (p / "__init__.py").exists()) and not p.name.startswith("_")
    }
    listed = set(re.findall(r"`(\w+)`", rows["`attnlab/`"]))
    assert package - ALIASES <= listed, (
        f"modules missing from the README's attnlab row: {sorted(package - ALIASES - listed)}"
    )
    assert listed <= package, f"the README's attnlab row names modules that do not exist: {sorted(listed - package)}"
    assert not listed & ALIASES, "the README's attnlab row names a kit 0.1 alias; name the new home instead"
