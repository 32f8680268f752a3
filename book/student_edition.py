"""Make the student edition of the book: the same sources with every solution cell removed.

Exercise solutions live in notebook cells tagged ``solution`` (see book/instructor_guide.md, "Writing
exercises"). The normal build shows them; this script copies the book's sources to a staging folder
without those cells, so that ``bash book/build.sh --student`` can build the student book from there, and
writes the student notebooks (for Colab or a course repository) next to it:

    python book/student_edition.py STAGING_DIR [--notebooks NOTEBOOKS_DIR] [--results RESULTS_DIR]

With ``--results`` (what ``book/build.sh --student`` does) the chapters are not executed again: their
outputs come from the instructor build's execution cache (``book/execute.py``). A self-check cell then
shows what it prints for a stub ("not attempted yet"), the student results folder is a copy of the
instructor's without the numbers and claims stated in solution cells, and the execution-times page lists
the instructor run's times. Without ``--results`` the staged notebooks have no outputs and the student
build executes them.

The student notebooks' "Open in Colab" badges open the student flavour of the published Colab edition
(``book/colab_edition.py``). Set ``ATTNLAB_STUDENT_REPO=owner/name`` to point them, and the setup cell's
install line, at a course repository (a copy of the kit that publishes its own Colab edition).
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import shutil
import sys
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[1]
SOLUTION_TAG = "solution"
COPIED = ("_config.yml", "_toc.yml", "book", "notebooks")
IGNORED = shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints", "*.pyc")


def is_solution(cell: dict) -> bool:
    return SOLUTION_TAG in cell.get("metadata", {}).get("tags", [])


def strip_solutions(notebook: dict) -> tuple[dict, int]:
    """The notebook without its solution cells, and how many were removed."""
    kept = [cell for cell in notebook["cells"] if not is_solution(cell)]
    return {**notebook, "cells": kept}, len(notebook["cells"]) - len(kept)


def _retarget_colab(notebook: dict, name: str, config: dict) -> None:
    """Badges open the student flavour of the Colab edition (of ``ATTNLAB_STUDENT_REPO`` when set); the
    setup cell installs the kit from that repository (book/colab_edition.py)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from colab_edition import pin_install, retarget_badge

    for cell in notebook["cells"]:
        source = "".join(cell["source"])
        if cell["cell_type"] == "markdown":
            cell["source"] = retarget_badge(source, config, "student", name)
        elif cell["cell_type"] == "code" and "google.colab" in source:
            cell["source"] = pin_install(source, config)


CHECK_CALL = re.compile(r"\bchecks\.(check_\w+)\(")


def solution_names(notebook: dict) -> tuple[set[str], set[str]]:
    """The names that solution cells record (``chapter.record(name=...)``) and claim (``chapter.claim("id", ...)``)."""
    recorded, claimed = set(), set()
    for cell in notebook["cells"]:
        if not is_solution(cell) or cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        try:
            tree = ast.parse(
                "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))
            )
        except SyntaxError as error:
            raise SystemExit(f"cannot read solution cell {cell.get('id')}: {error}") from error
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                if node.func.attr == "record":
                    recorded.update(k.arg for k in node.keywords if k.arg)
                elif node.func.attr == "claim" and node.args and isinstance(node.args[0], ast.Constant):
                    claimed.add(node.args[0].value)
    return recorded, claimed


def as_student_ran_it(notebook: dict, name: str) -> dict:
    """The executed instructor notebook as a student's run of the stripped notebook would show it.

    Solution cells are removed with their outputs; every self-check cell shows what the check prints for
    a stub. Any other code cell after the first solution must have no outputs (a stub's ``def``): its
    output could depend on a removed solution, and only executing the student notebook could tell.
    """
    from attnlab.checks import not_attempted_message

    stripped, removed = strip_solutions(notebook)
    if not removed:
        return stripped
    first = next(i for i, cell in enumerate(notebook["cells"]) if is_solution(cell))
    after = {cell.get("id") for cell in notebook["cells"][first:]}
    for cell in stripped["cells"]:
        if cell["cell_type"] != "code" or cell.get("id") not in after:
            continue
        checks = CHECK_CALL.findall("".join(cell["source"]))
        if checks:
            text = "".join(not_attempted_message(check) + "\n" for check in checks)
            cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": text}]
        elif cell.get("outputs"):
            raise SystemExit(
                f"{name}: cell {cell.get('id')} comes after a solution and has outputs that may "
                "depend on it; make it a self-check or move it before the exercises"
            )
    return stripped


def executed_notebooks(root: Path = ROOT) -> dict[str, tuple[dict, float]]:
    """``{path relative to root: (executed notebook, seconds)}`` from the instructor build's cache."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from execute import cache_path, toc_notebooks
    from jupyter_cache import get_cache

    folder = cache_path(root)
    cache = get_cache(str(folder)) if folder.is_dir() else None
    executed = {}
    for path in toc_notebooks(root):
        notebook = nbformat.read(path, as_version=4)
        try:
            record = cache.match_cache_notebook(notebook) if cache else None
        except KeyError:
            record = None
        if record is None:
            raise SystemExit(
                f"{path.relative_to(root)} has no executed copy with its current code in {folder}: "
                "run `python book/execute.py --reuse` (or `bash book/build.sh`) first"
            )
        _, merged = cache.merge_match_into_notebook(notebook)
        executed[str(path.relative_to(root))] = (
            json.loads(nbformat.writes(merged)),
            float(record.data.get("execution_seconds", 0.0)),
        )
    return executed


def timings_page(seconds: dict[str, float]) -> str:
    rows = "\n".join(f"| {name} | {value:.0f} |" for name, value in seconds.items())
    return (
        "# Execution times\n\n"
        "This student edition was made from the notebooks executed for the instructor edition (solution "
        "cells and their outputs removed), so its chapters were not executed again. How long each notebook "
        "took in that run, on the machine that built this copy of the book (several notebooks ran at once, "
        "one per core):\n\n| notebook | seconds |\n|---|---|\n" + rows + "\n"
    )


def student_results(source: Path, dest: Path, hidden: dict[str, tuple[set[str], set[str]]]) -> None:
    """Copy the results files without the numbers and claims that solution cells stated."""
    if not source.is_dir():
        raise SystemExit(f"no results in {source}: run `bash book/build.sh` first")
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for path in sorted(source.glob("*.json")):
        stem = path.name.split(".")[0]
        recorded, claimed = hidden.get(stem, (set(), set()))
        data = json.loads(path.read_text(encoding="utf-8"))
        if path.name.endswith(".claims.json"):
            data = [claim for claim in data if claim["id"] not in claimed]
        else:
            data = {key: value for key, value in data.items() if key not in recorded}
        (dest / path.name).write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def stage(
    dest: Path, notebooks_out: Path | None = None, root: Path = ROOT, results_out: Path | None = None
) -> dict[str, int]:
    """Copy the book sources to ``dest`` without solution cells; return ``{notebook: cells removed}``.

    With ``results_out`` the notebooks carry the instructor build's outputs (see the module docstring).
    """
    dest = Path(dest)
    executed = executed_notebooks(root) if results_out is not None else {}
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for name in COPIED:
        source = root / name
        if source.is_dir():
            shutil.copytree(source, dest / name, ignore=IGNORED)
        else:
            shutil.copy2(source, dest / name)
    config = yaml.safe_load((dest / "_config.yml").read_text())
    config["title"] = f"{config['title']} (student edition)"
    config["execute"].pop("cache", None)
    config["execute"]["execute_notebooks"] = "force"
    if executed:
        config["execute"]["exclude_patterns"] = sorted(executed)  # rendered with their outputs
        (dest / "book" / "execution_times.md").write_text(
            timings_page({Path(name).stem: seconds for name, (_, seconds) in executed.items()}), encoding="utf-8"
        )
    repo = os.environ.get("ATTNLAB_STUDENT_REPO", "").strip().strip("/")
    if repo:
        config["repository"]["url"] = f"https://github.com/{repo}"
    config["colab"]["edition"] = "student"  # the Colab button opens the student flavour (book/_ext)
    (dest / "_config.yml").write_text(
        "# Generated by book/student_edition.py: do not edit.\n"
        + yaml.safe_dump(config, sort_keys=False, allow_unicode=True)
    )
    removed, hidden = {}, {}
    for path in sorted(dest.rglob("*.ipynb")):
        name = str(path.relative_to(dest))
        source = json.loads(path.read_text(encoding="utf-8"))
        hidden[path.stem] = solution_names(source)
        notebook, n = strip_solutions(source)
        if name in executed:
            notebook = as_student_ran_it(executed[name][0], name)
        _retarget_colab(notebook, name, config)
        path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        removed[name] = n
        if notebooks_out is not None and path.parent.name == "notebooks":
            # The student notebooks are handed out to be run: without the build's outputs.
            Path(notebooks_out).mkdir(parents=True, exist_ok=True)
            clean, _ = strip_solutions(source)
            _retarget_colab(clean, name, config)
            (Path(notebooks_out) / path.name).write_text(
                json.dumps(clean, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
            )
    if results_out is not None:
        from attnlab.results import results_dir

        student_results(results_dir(), Path(results_out), hidden)
    return removed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dest", type=Path, help="staging folder for the student book's sources (replaced)")
    parser.add_argument("--notebooks", type=Path, help="also copy the student notebooks here")
    parser.add_argument(
        "--results", type=Path, help="use the instructor build's executed notebooks; write the student results here"
    )
    args = parser.parse_args()
    if args.notebooks and args.notebooks.exists():
        shutil.rmtree(args.notebooks)
    removed = stage(args.dest, args.notebooks, results_out=args.results)
    total = sum(removed.values())
    print(f"Student edition staged in {args.dest}: {total} solution cells removed from {len(removed)} notebooks")
    for name, n in removed.items():
        print(f"  {name}: {n}")


if __name__ == "__main__":
    main()
