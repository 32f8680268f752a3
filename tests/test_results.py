"""attnlab.results: results files and the scorecard."""

import json

import pytest

from attnlab import results


def test_save_and_load_results(tmp_path):
    path = results.save_results("01_x", {"a_accuracy": 0.5, "n": 3}, tmp_path)
    assert path == tmp_path / "01_x.json"
    assert json.loads(path.read_text()) == {"a_accuracy": 0.5, "n": 3}
    assert results.load_results(tmp_path) == {"01_x": {"a_accuracy": 0.5, "n": 3}}


@pytest.mark.parametrize(
    "bad, error",
    [
        ({"a": "high"}, TypeError),
        ({"a": float("nan")}, ValueError),
        ({"a": True}, TypeError),
        ({"a": {"nested": 1}}, TypeError),
    ],
)
def test_results_must_be_flat_finite_numbers(tmp_path, bad, error):
    with pytest.raises(error):
        results.save_results("01_x", bad, tmp_path)
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_default_results_dir_is_at_the_repository_root(monkeypatch, tmp_path):
    monkeypatch.delenv("ATTNLAB_RESULTS_DIR", raising=False)
    root = results.repo_root()
    assert root is not None and (root / "_toc.yml").is_file()
    monkeypatch.chdir(root / "notebooks")
    assert results.results_dir() == root / "results"
    monkeypatch.setenv("ATTNLAB_RESULTS_DIR", str(tmp_path))
    assert results.results_dir() == tmp_path
    assert results.results_dir("elsewhere") == results.Path("elsewhere")  # an explicit folder wins
