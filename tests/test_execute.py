"""book/execute.py: the book's notebooks executed in parallel into the cache that the book build reads."""

import importlib.util
import json
import sys
from pathlib import Path

import nbformat
import pytest
from jupyter_cache import get_cache

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("execute", ROOT / "book" / "execute.py")
execute = importlib.util.module_from_spec(spec)
sys.modules["execute"] = execute
spec.loader.exec_module(execute)


def toy_book(root: Path, cells: dict[str, str]) -> list[Path]:
    """A book of one-cell notebooks: {name: code}."""
    (root / "notebooks").mkdir(parents=True)
    (root / "_config.yml").write_text(
        "execute:\n  execute_notebooks: cache\n  cache: _build/.jupyter_cache\n  timeout: 60\n"
    )
    chapters = "".join(f"      - file: notebooks/{name}\n" for name in cells)
    (root / "_toc.yml").write_text(f"format: jb-book\nroot: intro\nparts:\n  - caption: C\n    chapters:\n{chapters}")
    paths = []
    for name, code in cells.items():
        notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
        notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        path = root / "notebooks" / f"{name}.ipynb"
        nbformat.write(notebook, path)
        paths.append(path)
    return paths


def test_the_longest_notebooks_are_handed_out_first():
    paths = [Path(f"{n}.ipynb") for n in ("short", "new", "long")]
    order = execute.longest_first(paths, {"short.ipynb": 5.0, "long.ipynb": 300.0})
    assert [p.stem for p in order] == ["new", "long", "short"]
    chapters = execute.toc_notebooks()  # a fresh clone has measured nothing: the typical times decide
    order = [p.stem for p in execute.longest_first(chapters, {})]
    assert order[0] == "06_transformers" and set(order) == {p.stem for p in chapters}


def test_notebooks_run_in_parallel_into_the_cache_that_the_build_reads(tmp_path):
    paths = toy_book(tmp_path, {"a": "import os\nprint('a', os.getpid())", "b": "import os\nprint('b', os.getpid())"})
    seconds = execute.execute(root=tmp_path, jobs=2)
    assert set(seconds) == {"a.ipynb", "b.ipynb"}
    cache = get_cache(str(tmp_path / "_build" / ".jupyter_cache"))
    for path in paths:  # myst-nb finds each notebook's outputs by its code, as the book build does
        _, merged = cache.merge_match_into_notebook(nbformat.read(path, as_version=4))
        assert merged.cells[0].outputs[0]["text"].startswith(path.stem)
    assert json.loads((tmp_path / "_build" / execute.TIMES_FILE).read_text()).keys() == seconds.keys()
    assert execute.execute(root=tmp_path, jobs=2, reuse=True) == {}  # nothing changed: nothing runs again


def test_a_failing_notebook_fails_the_run_and_leaves_no_cache_entry(tmp_path, capsys):
    paths = toy_book(tmp_path, {"good": "print('fine')", "bad": "raise ValueError('broken on purpose')"})
    with pytest.raises(SystemExit, match="bad.ipynb"):
        execute.execute(root=tmp_path, jobs=2)
    assert "broken on purpose" in capsys.readouterr().err
    cache = get_cache(str(tmp_path / "_build" / ".jupyter_cache"))
    with pytest.raises(KeyError):
        cache.match_cache_notebook(nbformat.read(paths[1], as_version=4))


def test_the_book_config_must_use_the_cache(tmp_path):
    (tmp_path / "_config.yml").write_text("execute:\n  execute_notebooks: force\n")
    with pytest.raises(SystemExit, match="execute_notebooks: cache"):
        execute.cache_path(tmp_path)
