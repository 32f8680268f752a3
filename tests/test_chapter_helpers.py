"""The package functions that chapters 1 and 7 and the explorer call instead of writing the plumbing
themselves: top-token verdicts, counterfactual attention, rank agreement, recording a checklist report,
the explorer's models and the chapter plots."""

import matplotlib
import numpy as np
import pandas as pd
import pytest
import torch
from conftest import make_model

from attnlab.checklist import Checklist, Verdict, record_checklist
from attnlab.comparison import rank_agreement
from attnlab.counterfactual import counterfactual_attention
from attnlab.faithfulness import rank_correlation
from attnlab.interventions import permuted_attention, uniform_attention
from attnlab.plausibility import CATEGORIES, LOOKS_RIGHT, LOOKS_WRONG, UNKNOWN, top_token_verdicts
from attnlab.train import accuracy, predict_proba

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

from attnlab.viz import (  # noqa: E402
    causal_graphs,
    plot_rank_agreement,
    plot_selection_capacity,
    plot_shuffling_reaction,
    plot_value_grid,
    prediction_rows,
    shortest,
)


class Judge:
    """A judge of four words: great (+), awful (-), the (none), zzz (unknown); only great is in the lexicon."""

    verdicts = {"great": "positive", "awful": "negative", "the": "none", ",": "none"}
    lexicon = {"great": 3.1}

    def __call__(self, token):
        return self.verdicts.get(token, "unknown")

    def sign(self, token):
        return {"positive": 1, "negative": -1}.get(self(token), 0)


def test_top_token_verdicts_sort_each_correct_prediction_into_one_category():
    tokens = [["the", "great"], ["awful", "the"], ["the", "great"], ["zzz", "the"], [",", "great"]]
    weights = torch.tensor([[0.2, 0.8], [0.9, 0.1], [0.7, 0.3], [0.6, 0.4], [0.6, 0.4]])
    predicted = np.array([1, 1, 1, 0, 0])
    correct = np.array([True, True, True, True, False])
    top = top_token_verdicts(weights, tokens, Judge(), predicted, correct)
    assert list(top.token) == ["great", "awful", "the", "zzz", ","]
    assert list(top.category) == [LOOKS_RIGHT, CATEGORIES[1], LOOKS_WRONG, UNKNOWN, LOOKS_WRONG]
    assert list(top.where(LOOKS_WRONG)) == [False, False, True, False, False]  # the wrong prediction is left out
    assert top.shares == {
        "matching_polarity": 0.25,
        "opposite_polarity": 0.25,
        "no_polarity": 0.25,
        "unknown_polarity": 0.25,
        "punctuation": 0.0,
        "not_in_lexicon": 0.75,
    }
    assert list(top.table.index) == list(CATEGORIES) and top.table.loc[UNKNOWN, "most frequent tokens"] == "zzz"
    assert top.most_frequent(LOOKS_RIGHT) == ["great"]
    with pytest.raises(ValueError, match="one row per sentence"):
        top_token_verdicts(weights, tokens[:2], Judge(), predicted, correct)
    with pytest.raises(ValueError, match="no correct prediction"):
        top_token_verdicts(weights, tokens, Judge(), predicted, np.zeros(5, bool))
    with pytest.raises(ValueError, match="unknown category"):
        top.where("looks fine")


def test_counterfactual_attention_matches_accuracy_and_measures_the_change(batch):
    model = make_model()
    probs = predict_proba(model, batch)
    swapped = counterfactual_attention(
        model,
        batch,
        {
            "identity": lambda attention, mask: attention,
            "uniform": uniform_attention,
            "permuted": [permuted_attention(seed=k) for k in range(3)],
        },
        learned_probs=probs,
    )
    assert swapped.accuracy["identity"] == accuracy(model, batch)
    assert torch.allclose(swapped.changes["identity"], torch.zeros(1, 4))
    assert swapped.accuracy["uniform"] == accuracy(model, batch, attention=uniform_attention)
    runs = [accuracy(model, batch, attention=permuted_attention(seed=k)) for k in range(3)]
    assert swapped.accuracies["permuted"] == runs and swapped.accuracy_std["permuted"] == pytest.approx(np.std(runs))
    assert swapped.changes["permuted"].shape == (3, 4) and swapped.median_change("permuted").shape == (4,)
    # a one-token sentence cannot be shuffled: no change
    assert swapped.changes["permuted"][:, 3].abs().max() < 1e-6
    table = swapped.table(learned_accuracy=0.5)
    assert list(table.index) == ["learned", "identity", "uniform", "permuted (mean of runs)"]
    assert np.isnan(table.loc["uniform", "std over runs"]) and table.loc["learned", "test accuracy"] == 0.5
    # without learned_probs, they are computed
    again = counterfactual_attention(model, batch, {"uniform": uniform_attention})
    assert torch.equal(again.changes["uniform"], swapped.changes["uniform"])
    with pytest.raises(ValueError, match="at least one intervention"):
        counterfactual_attention(model, batch, {})
    with pytest.raises(KeyError, match="no intervention"):
        swapped.median_change("frozen")


def test_rank_agreement_is_rank_correlation_per_pair(batch):
    generator = torch.Generator().manual_seed(0)
    a, b = (torch.rand(batch.mask.shape, generator=generator) * batch.mask for _ in range(2))
    taus = rank_agreement({"a": a, "b": b}, batch.mask, pairs=[("a", "b"), ("b", "a")])
    assert list(taus.columns) == ["a vs b", "b vs a"] and len(taus) == 4
    assert np.allclose(taus["a vs b"], rank_correlation(a, b, batch.mask).numpy(), equal_nan=True)
    assert np.isnan(taus["a vs b"][3])  # one token: no ranking
    with pytest.raises(KeyError, match="no weights named"):
        rank_agreement({"a": a}, batch.mask, pairs=[("a", "c")])


def test_record_checklist_records_numbers_cautions_and_their_list():
    class FakeChapter:
        def __init__(self):
            self.results, self.texts = {}, {}

        def record(self, **values):
            self.results.update(values)

        def text(self, name, value):
            self.texts[name] = value

    report = Checklist(
        [Verdict("signed", "caution", "", ""), Verdict("violation", "ok", "", "")],
        numbers={"accuracy": 0.9, "mask_probe_accuracy": 0.6},
    )
    chapter = FakeChapter()
    record_checklist(chapter, "checklist_x", report)
    assert chapter.results == {
        "checklist_x_accuracy": 0.9,
        "checklist_x_mask_probe_accuracy": 0.6,
        "checklist_x_cautions": 1,
    }
    assert chapter.texts == {"checklist_x_caution_list": "signed"}
    record_checklist(chapter, "checklist_y", Checklist([Verdict("signed", "ok", "", "")]))
    assert chapter.texts["checklist_y_caution_list"] == "none" and chapter.results["checklist_y_cautions"] == 0


def test_train_explorer_models_trains_every_model_on_a_slice():
    from attnlab.data import load_sentiment
    from attnlab.explorer import EXPLORER_MODELS, train_explorer_models

    splits = load_sentiment("movies")
    splits.train, splits.dev, splits.test = (part.sample(n, seed=0) for part, n in zip(splits, (120, 40, 40)))
    models, accuracies, test = train_explorer_models(splits, smoke=True, seed=0)
    assert list(models) == list(accuracies) == list(EXPLORER_MODELS) and len(test) == 40
    for model, vocab, labels in models.values():
        assert labels == splits.test.label_names and len(vocab) == model.config["vocab_size"]
    assert all(0 <= a <= 1 for a in accuracies.values())


def test_heatmap_rows_pick_short_sentences_and_title_them_with_the_prediction():
    class Sentences:
        tokens = [["a"] * 7, ["b"] * 6, ["c"] * 3, ["d"] * 9]
        labels = np.array([1, 0, 1, 0])
        label_names = ("negative", "positive")

    flags = np.array([True, True, True, False])
    assert shortest(flags, Sentences.tokens, n=5) == [1, 0]  # at least six tokens, shortest first
    probs = torch.tensor([[0.1, 0.9], [0.8, 0.2], [0.5, 0.5], [0.3, 0.7]])
    weights = torch.arange(40, dtype=torch.float).reshape(4, 10)
    rows = prediction_rows(Sentences, [1], weights, probs, "looks right", signed=True)
    assert rows == [
        (
            ["b"] * 6,
            [10.0, 11.0, 12.0, 13.0, 14.0, 15.0],
            "looks right - predicted negative (p=0.80), true negative",
            True,
        )
    ]
    with pytest.raises(ValueError, match="flags for"):
        shortest(flags[:2], Sentences.tokens)


def test_chapter_plots_draw():
    generator = torch.Generator().manual_seed(0)
    taus = pd.DataFrame({"x vs y": np.linspace(-1, 1, 50), "y vs z": np.r_[np.linspace(0, 1, 49), np.nan]})
    figures = [
        plot_rank_agreement(taus),
        plot_shuffling_reaction(torch.rand(50, generator=generator), torch.rand(50, generator=generator)),
        plot_value_grid(pd.DataFrame([[0.5, 0.9], [0.7, 0.4]], index=["r1", "r2"], columns=["c1", "c2"]), title="t"),
        causal_graphs(),
        plot_selection_capacity([1, 2], {"binary label": 1.0}),
    ]
    for figure in figures:
        assert figure.axes
    grid = figures[2].axes[0]
    assert [t.get_text() for t in grid.texts] == ["0.500", "0.900", "0.700", "0.400"]
    right = figures[3].axes[1]
    assert "coin" in [t.get_text() for t in right.texts] and "coin" not in [
        t.get_text() for t in figures[3].axes[0].texts
    ]
    plt.close("all")
