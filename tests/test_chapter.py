"""attnlab.chapter: recorded numbers and checked claims, and the pages built from them."""

import json
from pathlib import Path

import nbformat
import papermill
import pytest

from attnlab import results
from attnlab.chapter import Chapter, ClaimFailed, count_text
from attnlab.papers import LIU2022_DEPTH, SCORECARD_ROWS, Row, liu2022_depth, scorecard


def test_record_writes_each_number_once_under_its_name(tmp_path):
    chapter = Chapter("01_x", results_dir=tmp_path, plot_theme=False)
    chapter.record(x_accuracy=0.75, x_n=3)
    chapter.record(x_loss=1.5)
    assert json.loads((tmp_path / "01_x.json").read_text()) == {"x_accuracy": 0.75, "x_n": 3, "x_loss": 1.5}
    with pytest.raises(ValueError, match="already recorded"):
        chapter.record(x_accuracy=0.8)
    with pytest.raises(TypeError, match="chapter.text"):
        chapter.record(x_word="good")
    with pytest.raises(ValueError, match="not finite"):
        chapter.record(x_nan=float("nan"))
    with pytest.raises(ValueError, match="snake_case"):
        chapter.record(**{"X-bad": 1.0})


def test_a_new_run_clears_the_old_files(tmp_path):
    Chapter("01_x", results_dir=tmp_path, plot_theme=False).record(x_old=1.0)
    Chapter("01_x", results_dir=tmp_path, plot_theme=False)
    assert not (tmp_path / "01_x.json").exists() and not (tmp_path / "01_x.claims.json").exists()


def test_a_true_claim_is_written_with_its_numbers(tmp_path):
    chapter = Chapter("05_x", results_dir=tmp_path, plot_theme=False)
    assert chapter.claim("a_below_b", "A violates less than B", 0.1 < 0.3, a=0.1, b=0.3) is None  # no stray True
    assert chapter.claims[-1]["holds"] is True
    stored = results.load_claims(tmp_path)["05_x"]
    assert stored == [
        {"id": "a_below_b", "text": "A violates less than B", "holds": True, "numbers": {"a": 0.1, "b": 0.3}}
    ]
    assert "05_x" not in results.load_results(tmp_path)  # claims files are not results files
    ledger = results.claims_ledger(tmp_path)
    assert ledger.loc[0, "claim"] == "a_below_b" and ledger.loc[0, "numbers"] == "a = 0.1, b = 0.3"


def test_a_false_claim_stops_a_full_run_and_is_reported_in_smoke_mode(tmp_path, capsys):
    full = Chapter("05_x", results_dir=tmp_path, plot_theme=False)
    with pytest.raises(ClaimFailed, match=r"A violates less than B \(a = 0.5, b = 0.3\)"):
        full.claim("a_below_b", "A violates less than B", 0.5 < 0.3, a=0.5, b=0.3)
    assert results.load_claims(tmp_path)["05_x"][0]["holds"] is False  # on record, too
    smoke = Chapter("05_x", smoke=True, results_dir=tmp_path, plot_theme=False)
    smoke.claim("a_below_b", "A violates less than B", False, a=0.5, b=0.3)
    assert smoke.claims[-1]["holds"] is False
    assert "not checked" in capsys.readouterr().out


@pytest.mark.parametrize(
    "kwargs, error",
    [
        (dict(id="Bad Id", text="t", holds=True, a=1), ValueError),
        (dict(id="ok", text="", holds=True, a=1), ValueError),
        (dict(id="ok", text="t", holds=0.3, a=1), TypeError),  # a number is not a check
        (dict(id="ok", text="t", holds=True), TypeError),  # a claim rests on numbers
        (dict(id="ok", text="t", holds=True, a=float("inf")), ValueError),
    ],
)
def test_claims_reject_bad_values(tmp_path, kwargs, error):
    chapter = Chapter("05_x", results_dir=tmp_path, plot_theme=False)
    with pytest.raises(error):
        chapter.claim(**kwargs)


def test_claim_ids_are_unique(tmp_path):
    chapter = Chapter("05_x", results_dir=tmp_path, plot_theme=False)
    chapter.claim("same", "first", True, a=1)
    with pytest.raises(ValueError, match="already stated"):
        chapter.claim("same", "second", True, a=1)


def test_chapter_rejects_bad_parameters(tmp_path):
    with pytest.raises(ValueError, match="seed"):
        Chapter("01_x", seed=-1, results_dir=tmp_path, plot_theme=False)
    with pytest.raises(ValueError, match="threads"):
        Chapter("01_x", threads=0, results_dir=tmp_path, plot_theme=False)
    with pytest.raises(ValueError, match="stem"):
        Chapter("01_x.ipynb", results_dir=tmp_path, plot_theme=False)
    with pytest.raises(TypeError, match="smoke"):
        Chapter("01_x", smoke="no", results_dir=tmp_path, plot_theme=False)


def test_count_text():
    assert count_text(4, 5) == "4 of 5 seeds"
    assert count_text(5, 5) == "all 5 seeds" and count_text(2, 2) == "both seeds"
    assert count_text(0, 3) == "none of the 3 seeds"


def _notebook(tmp_path, claim_holds: bool):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    params = nbformat.v4.new_code_cell('SMOKE = False\nRESULTS_DIR = ""')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [
        params,
        nbformat.v4.new_code_cell(
            "from attnlab.chapter import Chapter\n"
            "chapter = Chapter('09_toy', smoke=SMOKE, results_dir=RESULTS_DIR, plot_theme=False)\n"
            "chapter.record(toy_ratio=0.4)\n"
            f"chapter.claim('toy_below_half', 'the toy ratio is below one half', {claim_holds}, toy_ratio=0.4)\n"
            "chapter.finish()"
        ),
    ]
    path = tmp_path / "09_toy.ipynb"
    nbformat.write(nb, path)
    return path


@pytest.mark.parametrize("smoke", [False, True])
def test_a_false_claim_fails_a_full_mode_papermill_run(tmp_path, smoke):
    path = _notebook(tmp_path, claim_holds=False)
    run = lambda: papermill.execute_notebook(  # noqa: E731
        str(path),
        str(tmp_path / "out.ipynb"),
        kernel_name="python3",
        progress_bar=False,
        parameters={"SMOKE": smoke, "RESULTS_DIR": str(tmp_path)},
    )
    if smoke:
        run()  # reported, not fatal
    else:
        with pytest.raises(papermill.PapermillExecutionError, match="the toy ratio is below one half"):
            run()
    assert results.load_claims(tmp_path)["09_toy"][0]["holds"] is False


def test_scorecard_rows_name_source_and_setting(tmp_path):
    results.save_results("01_attention_as_explanation", {"chapter1_test_accuracy": 0.8}, tmp_path)
    results.save_run("01_attention_as_explanation", results.run_provenance(seed=0, smoke=False), tmp_path)
    table = scorecard(tmp_path)
    assert len(table) == len(SCORECARD_ROWS)
    assert table.loc[table["key"] == "chapter1_test_accuracy", "kit"].item() == 0.8
    assert table.loc[table["key"] == "uniform_attention_test_accuracy", "kit"].isna().all()
    with_paper = table[table["paper"].notna()]
    assert len(with_paper) >= 10
    assert (with_paper["source"] != "-").all() and (with_paper["paper's setting"] != "-").all()
    with pytest.raises(ValueError, match="source and setting"):
        Row("x", "k", "m", "n", paper=0.5)
    # the signed random baseline is never put beside the paper's non-negative one (the kit's `random` is
    # Liu et al.'s baseline, so its rows may carry the paper's numbers)
    assert table.loc[table["key"].str.contains("random_signed"), "paper"].isna().all()


def test_depth_rows_compare_at_the_kit_depth():
    for row in SCORECARD_ROWS:
        if row.key.startswith("depth_") and row.paper is not None:
            depth = int(row.key.split("_")[1])
            method = row.key.split("violation_")[1]
            assert row.paper == liu2022_depth("SST", method, depth)
            assert f"+ {depth} added" in row.setting
    assert all(len(curve) == 8 for curves in LIU2022_DEPTH.values() for curve in curves.values())
    with pytest.raises(ValueError):
        liu2022_depth("SST", "raw_attention", 9)


def test_every_run_says_what_produced_its_numbers(tmp_path):
    import attnlab

    chapter = Chapter("05_x", smoke=True, seed=7, results_dir=tmp_path, plot_theme=False)
    chapter.record(x=1.0)
    run = results.load_runs(tmp_path)["05_x"]
    assert run["attnlab_version"] == attnlab.__version__ and run["seed"] == 7 and run["mode"] == "smoke"
    assert run["torch"] and run["python"] and run["started_utc"].endswith("+00:00")
    if (Path(attnlab.__file__).parents[1] / ".git").exists():  # in a checkout: the commit it ran from
        assert len(run["commit"]) == 40 and isinstance(run["dirty"], bool)
    assert list(results.load_results(tmp_path)) == ["05_x"]  # the run file is not read as numbers
    Chapter("05_x", seed=1, results_dir=tmp_path, plot_theme=False)  # a new run replaces the description
    assert results.load_runs(tmp_path)["05_x"]["mode"] == "full"


def test_the_scorecard_refuses_smoke_mode_numbers(tmp_path):
    Chapter("01_attention_as_explanation", smoke=True, results_dir=tmp_path, plot_theme=False).record(
        chapter1_test_accuracy=0.6
    )
    with pytest.raises(ValueError, match=r"smoke mode: \['01_attention_as_explanation'\]"):
        scorecard(tmp_path)
    assert scorecard(tmp_path, allow_smoke=True).set_index("key").loc["chapter1_test_accuracy", "kit"] == 0.6
    (tmp_path / "01_attention_as_explanation.run.json").unlink()  # numbers of unknown origin: refused too
    with pytest.raises(ValueError, match="no run description"):
        scorecard(tmp_path)


def test_another_dataset_reports_claims_and_is_kept_out_of_the_scorecard(tmp_path, capsys):
    """The prose describes the movie sentences: on DATASET="sst2" a full run prints a failing claim instead
    of stopping, records the dataset, and the scorecard refuses its numbers."""
    chapter = Chapter("01_attention_as_explanation", results_dir=tmp_path, plot_theme=False, dataset="sst2")
    assert not chapter.checks_claims and Chapter("05_x", results_dir=tmp_path, plot_theme=False).checks_claims
    chapter.claim("a_below_b", "A violates less than B", False, a=0.5, b=0.3)
    assert "dataset 'sst2', not the book's, not checked" in capsys.readouterr().out
    chapter.record(chapter1_test_accuracy=0.8)
    assert results.load_runs(tmp_path)["01_attention_as_explanation"]["dataset"] == "sst2"
    with pytest.raises(ValueError, match=r"another dataset than the book's: \['01_attention_as_explanation'\]"):
        scorecard(tmp_path)
    with pytest.raises(TypeError, match="DATASET"):
        Chapter("05_x", results_dir=tmp_path, plot_theme=False, dataset="")
