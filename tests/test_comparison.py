"""attnlab.comparison: the tables of chapters 5 and 6 agree with the pieces they are made of."""

import pandas as pd
import torch
from conftest import make_model

from attnlab.comparison import companion_means, compare_methods, level_shifts, violation_level
from attnlab.data import Batch
from attnlab.explain import explain_all, methods_for
from attnlab.faithfulness import violation_test


def _data():
    gen = torch.Generator().manual_seed(0)
    ids = [torch.randint(2, 20, (int(n),), generator=gen).tolist() for n in torch.randint(2, 9, (24,), generator=gen)]
    return Batch.from_ids(ids, labels=torch.randint(0, 2, (24,), generator=gen).tolist())


def test_compare_methods_is_the_violation_test_of_explain_all():
    model, data = make_model(), _data()
    options = {"integrated_gradients": {"steps": 4}}
    result = compare_methods(model, data, options=options, companions=True, per_instance=["raw_attention"])
    weights = explain_all(model, data, options=options)
    report = violation_test(model, data.tokens, data.mask, weights)
    assert set(result.weights) == set(methods_for(model))
    assert result.ratios() == {m: report.ratio(m) for m in weights}
    row = result.table.set_index(["method", "operator"])["violation"]
    assert row[("raw_attention", "att_mask")] == report.ratio("raw_attention", "att_mask")
    assert list(result.companions["method"]) == list(weights)
    level = violation_level(report, "raw_attention")[report.valid].numpy()
    assert (result.instances["violation level"].to_numpy() == level).all()
    assert set((result.instances["violation level"] * 3).round().astype(int)) <= {0, 1, 2, 3}


def test_level_shifts_compares_violating_with_never_violating_sentences():
    instances = pd.DataFrame(
        {
            "method": "m",
            "seed": 0,
            "violation level": [0, 0, 0, 0, 1 / 3, 1],
            "comprehensiveness": [0.1, 0.2, 0.3, 0.4, 0.0, 0.05],
        }
    )
    table = level_shifts(instances, ["comprehensiveness"]).iloc[0]
    assert table["n violating"] == 2
    assert table["median, non-violating"] == 0.25 and table["median, violating"] == 0.025
    assert abs(table["shift"] - (0.025 - 0.25)) < 1e-12


def test_companions_need_leave_one_out():
    import pytest

    with pytest.raises(ValueError, match="leave_one_out"):
        compare_methods(make_model(), _data(), ["raw_attention"], companions=True)


def test_companion_means_are_the_companion_metrics_of_the_first_sentences():
    from attnlab.faithfulness import comprehensiveness, sufficiency

    model, data = make_model(), _data()
    weights = explain_all(model, data, ["raw_attention", "random"])
    first = data[:5]
    table = companion_means(model, first, weights)
    w = weights["raw_attention"][:5, : first.tokens.shape[1]]
    assert table.loc["raw_attention", "comprehensiveness"] == float(
        comprehensiveness(model, first.tokens, first.mask, w).mean()
    )
    assert table.loc["raw_attention", "sufficiency"] == float(sufficiency(model, first.tokens, first.mask, w).mean())
    assert list(table.index) == ["raw_attention", "random"]


def test_punctuation_mask_marks_punctuation_word_pieces():
    from attnlab.explain import punctuation_mask

    mask = torch.tensor([[True, True, True], [True, True, False]])
    marked = punctuation_mask([["good", ",", "film"], ["...", "##!"]], mask)
    assert marked.tolist() == [[False, True, False], [True, True, False]]
