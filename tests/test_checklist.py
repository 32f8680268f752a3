"""The practitioner's checklist (attnlab.checklist): one call on two kit models, its verdicts, its links."""

import json
import math
import re
from pathlib import Path

import matplotlib
import pytest
import torch

matplotlib.use("Agg")

from attnlab.checklist import ITEMS, claim_anchor, items_html, run_checklist, verdict_grid  # noqa: E402
from attnlab.data import Batch  # noqa: E402
from attnlab.models import AttentionClassifier, MaskClassifier  # noqa: E402
from attnlab.shortcuts import make_shortcut_task  # noqa: E402
from attnlab.train import fit, set_seed  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
STATUSES = {"caution", "ok", "unknown"}


@pytest.fixture(scope="module")
def lab():
    """A selector-predictor model trained jointly on a small XOR lab (chapter 3's setting)."""
    tasks = [make_shortcut_task(n, "xor", seed=k) for k, n in enumerate((1500, 300, 400))]
    set_seed(0)
    model = MaskClassifier(len(tasks[0].vocab), head="linear")
    fit(
        model,
        tasks[0].batch,
        tasks[1].batch,
        epochs=6,
        batch_size=64,
        lr=3e-3,
        patience=6,
        seed=0,
        progress=False,
        stop_when_perfect=True,
    )
    return model, tasks


@pytest.fixture(scope="module")
def sentiment():
    """A BiLSTM with additive attention on toy sentences: token 2 makes them positive, token 3 negative."""
    gen = torch.Generator().manual_seed(0)
    ids, labels = [], []
    for _ in range(900):
        n = int(torch.randint(4, 12, (1,), generator=gen))
        sentence = torch.randint(4, 30, (n,), generator=gen).tolist()
        label = int(torch.randint(0, 2, (1,), generator=gen))
        sentence[int(torch.randint(0, n, (1,), generator=gen))] = 2 if label else 3
        ids.append(sentence)
        labels.append(label)
    data = Batch.from_ids(ids, labels)
    set_seed(0)
    model = AttentionClassifier(30, encoder="bilstm", attention="additive", embed_dim=16, hidden_dim=16)
    fit(model, data[:600], data[600:700], epochs=4, batch_size=32, seed=0, progress=False)
    return model, data[:600], data[700:]


def check_report(report, keys):
    assert [v.key for v in report.verdicts] == keys
    assert all(v.status in STATUSES and v.measured and v.verdict for v in report.verdicts)
    assert all(isinstance(x, (int, float)) and math.isfinite(x) for x in report.numbers.values())
    for name in (
        "violation_raw_attention",
        "violation_attention_x_gradient",
        "violation_random",
        "accuracy",
        "uniform_attention_accuracy",
        "permuted_attention_accuracy",
        "mask_probe_accuracy",
        "majority_share",
        "length_only_probe_accuracy",
        "top_attention_suppresses_share",
    ):
        assert 0 <= report.numbers[name] <= 1, name
    # attention is never negative: the first item always calls for caution
    assert report["signed"].status == "caution" and report.numbers["min_attention_weight"] >= 0
    table = report.table()
    assert list(table.index) == keys and set(table.columns) == {"question", "measured", "verdict"}


def test_checklist_on_a_shortcut_lab_model(lab, capsys):
    model, (train, _, test) = lab
    report = run_checklist(model, test.batch, train=train.batch, trained_jointly=True, neutral=test.neutral, n=200)
    check_report(report, ["signed", "violation", "counterfactual", "mask_code", "joint", "neutral"])
    assert report.numbers["n_sentences"] == 200
    assert 0 <= report.numbers["neutral_mass"] <= 1
    printed = capsys.readouterr().out
    assert "Is the weight signed" in printed and "items call for caution" in printed
    # the jointly trained XOR model needs its attention and its mask carries the label (chapter 3)
    if report.numbers["accuracy"] > 0.9:
        assert report["counterfactual"].status == "ok"
        assert report["mask_code"].status == "caution" and report["joint"].status == "caution"


def test_checklist_on_an_attention_classifier(sentiment):
    model, train, test = sentiment
    report = run_checklist(model, test, train=train, n=150, verbose=False)
    check_report(report, ["signed", "violation", "counterfactual", "mask_code", "joint"])
    assert report["joint"].status == "unknown"  # trained_jointly was not said
    assert report.numbers["accuracy"] > 0.7, "the toy classifier did not learn"
    # without train, the probe splits the test sentences in two; the same seed gives the same numbers
    again = run_checklist(model, test, n=150, verbose=False, seed=3)
    assert again.numbers == run_checklist(model, test, n=150, verbose=False, seed=3).numbers
    fig = verdict_grid({"toy": report, "again": again})
    assert len(fig.axes) == 1


def test_checklist_rejects_bad_inputs(sentiment):
    model, _, test = sentiment
    with pytest.raises(TypeError, match="labelled"):
        run_checklist(model, Batch(test.tokens, test.mask), verbose=False)
    with pytest.raises(ValueError, match="neutral"):
        run_checklist(model, test, neutral=torch.zeros(3, 4, dtype=torch.bool), verbose=False)
    with pytest.raises(TypeError, match="trained_jointly"):
        run_checklist(model, test, trained_jointly="yes", verbose=False)


def stated_claims(stem):
    """Claim ids stated by the code of a chapter outside its solution cells (those are in the student edition too)."""
    cells = json.loads((ROOT / "notebooks" / f"{stem}.ipynb").read_text())["cells"]
    code = "\n".join(
        "".join(c["source"])
        for c in cells
        if c["cell_type"] == "code" and "solution" not in c["metadata"].get("tags", [])
    )
    return set(re.findall(r"claim\(\s*f?[\"']([a-z0-9_]+)[\"']", code))


def test_every_checklist_item_links_claims_that_its_chapters_state():
    for item in ITEMS:
        assert (ROOT / "notebooks" / f"{item.chapter}.ipynb").is_file(), item.chapter
        assert item.claims, f"item {item.key} links no claim"
        for stem, claim in item.claims:
            assert claim in stated_claims(stem), f"item {item.key}: {stem} states no claim {claim!r} outside solutions"


def test_items_html_links_the_claims_ledger_rows():
    page = items_html(base="../")
    for item in ITEMS:
        for stem, claim in item.claims:
            assert f'href="../book/claims.html#{claim_anchor(stem, claim)}"' in page
        assert f'href="../notebooks/{item.chapter}.html"' in page
    assert (
        claim_anchor("05_faithfulness_violation_test", "signed_below_raw")
        == "claim-05-faithfulness-violation-test-signed-below-raw"
    )
    assert "claim_anchor" in (ROOT / "book" / "claims.md").read_text()  # the ledger uses the same anchors
