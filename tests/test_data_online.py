"""attnlab.data.load_splits / load_hub_dataset: a chapter's DATASET, with a local stand-in for the hub.

No test needs the network or the `datasets` package: a fake module in ``sys.modules`` answers
``datasets.load_dataset`` with small in-memory splits that have the hub's columns and behaviour
(``len``, ``select``, column access), or fails as the real one does offline.
"""

import json
import re
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch

from attnlab import data
from attnlab.data import (
    HUB_DATASETS,
    Batch,
    DataUnavailableError,
    Vocab,
    encode,
    load_hub_dataset,
    load_sentiment,
    load_splits,
)

ROOT = Path(__file__).resolve().parents[1]


class FakeSplit:
    """The part of a Hugging Face ``Dataset`` the loader uses."""

    def __init__(self, rows):
        self.rows = rows

    def __len__(self):
        return len(self.rows)

    def select(self, indices):
        return FakeSplit([self.rows[i] for i in indices])

    def __getitem__(self, column):
        return [row[column] for row in self.rows]


def fake_hub(n_train=300, n_test=80, classes=2, text="text", test_split="test"):
    """Rows 'text i <label word>' whose label is i % classes; a few test rows have the label -1 (as SST-2's)."""

    def rows(n, prefix, unlabelled=()):
        return [
            {
                text: f"{prefix} {i} word{i % classes} <br /> more words here",
                "label": -1 if i in unlabelled else i % classes,
            }
            for i in range(n)
        ]

    return {"train": FakeSplit(rows(n_train, "train")), test_split: FakeSplit(rows(n_test, "test", {0, 1}))}


@pytest.fixture
def hub(monkeypatch):
    """A fake `datasets` module; ``hub.calls`` lists the repositories asked for."""
    module = types.ModuleType("datasets")
    module.calls = []

    def load_dataset(repo):
        module.calls.append(repo)
        name = next(k for k, v in HUB_DATASETS.items() if v.repo == repo)
        source = HUB_DATASETS[name]
        return fake_hub(classes=len(source.label_names), text=source.text_column, test_split=source.test_split)

    module.load_dataset = load_dataset
    monkeypatch.setitem(sys.modules, "datasets", module)
    return module


def test_the_default_is_the_movie_sentences_unchanged():
    movies, again = load_sentiment("movies"), load_splits()
    for a, b in zip(movies, again):
        assert a.texts == b.texts and np.array_equal(a.labels, b.labels) and np.array_equal(a.ratings, b.ratings)
    assert load_splits("tweets").sizes() == load_sentiment("tweets").sizes()


@pytest.mark.parametrize("name", ["sst2", "imdb", "yelp_polarity"])
def test_binary_hub_datasets_load_as_capped_fixed_splits(hub, name):
    splits = load_hub_dataset(name, max_train=100, max_eval=20, max_tokens=4)
    assert hub.calls == [HUB_DATASETS[name].repo]
    sizes = splits.sizes()
    assert sizes["train"] == 100 and sizes["dev"] == 20 and 18 <= sizes["test"] <= 20  # 2 test rows unlabelled
    assert splits.train.label_names == ("negative", "positive")
    assert not set(splits.train.texts) & set(splits.dev.texts)  # dev is held out of the training split
    assert all(t.startswith("train") for t in splits.train.texts + splits.dev.texts)
    assert all(t.startswith("test") for t in splits.test.texts)
    assert all(0 <= y < 2 for y in splits.test.labels)  # rows without a label (-1) are left out
    assert all(len(toks) <= 4 for part in splits for toks in part.tokens)  # cut to max_tokens
    assert not any("<br" in t for part in splits for t in part.texts)  # IMDB's HTML line breaks
    assert splits.train.ratings is None  # labels only: no human ratings
    again = load_hub_dataset(name, max_train=100, max_eval=20, max_tokens=4)
    assert again.train.texts == splits.train.texts and again.test.texts == splits.test.texts  # a fixed draw


def test_chapter_sized_defaults_and_encoding(hub):
    splits = load_splits("sst2")
    assert splits.sizes() == {"train": 270, "dev": 30, "test": 78}  # fewer than the caps: all of them
    vocab = Vocab.build(splits.train.tokens)
    batch = encode(splits.test, vocab)
    assert isinstance(batch, Batch) and batch.tokens.shape[1] <= data.online.MAX_TOKENS


def test_ag_news_has_four_classes_and_the_violation_test_takes_them(hub):
    from attnlab.faithfulness import violation_test
    from attnlab.models import AttentionClassifier

    splits = load_splits("ag_news")
    assert splits.train.label_names == ("World", "Sports", "Business", "Sci/Tech")
    assert set(splits.train.labels) == {0, 1, 2, 3}
    vocab = Vocab.build(splits.train.tokens)
    test = encode(splits.test, vocab)
    torch.manual_seed(0)
    model = AttentionClassifier(len(vocab), len(splits.train.label_names), hidden_dim=8, embed_dim=8)
    weights = {"random": torch.rand(test.tokens.shape) * test.mask}
    report = violation_test(model, test.tokens, test.mask, weights)
    assert 0 <= report.ratio("random") <= 1


def test_a_two_class_chapter_refuses_ag_news_before_downloading(hub):
    with pytest.raises(
        ValueError,
        match=r"'ag_news' has 4 classes \(World, Sports, Business, Sci/Tech\), "
        r"but chapter 1 reads .*Choose a two-class dataset: 'movies'.*'sst2'",
    ):
        load_splits("ag_news", require_binary="chapter 1 reads predictions as positive or negative")
    assert hub.calls == []
    assert load_splits("sst2", require_binary="two classes").train.label_names == ("negative", "positive")


def test_without_the_datasets_package_the_error_says_what_to_do(monkeypatch):
    monkeypatch.setitem(sys.modules, "datasets", None)  # `import datasets` raises ImportError
    with pytest.raises(DataUnavailableError) as caught:
        load_splits("imdb")
    message = str(caught.value)
    assert "pip install datasets" in message and "DATASET='movies'" in message and "internet" in message


def test_offline_the_error_says_what_to_do(hub, monkeypatch):
    def offline(repo):
        raise ConnectionError(f"Couldn't reach '{repo}' on the Hub (LocalEntryNotFoundError)")

    monkeypatch.setattr(hub, "load_dataset", offline)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    with pytest.raises(
        DataUnavailableError,
        match=r"Could not load fancyzhx/yelp_polarity .*internet access.*"
        r"DATASET='movies'",
    ) as caught:
        load_splits("yelp_polarity")
    assert "HF_HUB_OFFLINE" not in str(caught.value)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(DataUnavailableError, match="HF_HUB_OFFLINE is set, which forbids downloads"):
        load_splits("yelp_polarity")


def test_a_hub_dataset_without_the_expected_split_is_a_clear_error(hub, monkeypatch):
    monkeypatch.setattr(hub, "load_dataset", lambda repo: {"train": FakeSplit([])})
    with pytest.raises(DataUnavailableError, match="has no 'validation' split"):
        load_splits("sst2")


@pytest.mark.parametrize(
    "call, error, phrase",
    [
        (lambda: load_splits("sst-2"), ValueError, "unknown DATASET 'sst-2'; choose one of 'movies'"),
        (lambda: load_splits(None), ValueError, "unknown DATASET None"),
        (lambda: load_splits("movies", require_binary=True), TypeError, "require_binary must be a sentence"),
        (lambda: load_hub_dataset("movies"), ValueError, "unknown hub dataset 'movies'"),
        (lambda: load_hub_dataset("sst2", max_train=0), ValueError, "max_train must be a whole number >= 1, got 0"),
        (lambda: load_hub_dataset("sst2", max_tokens=2.5), TypeError, "max_tokens must be a whole number"),
    ],
)
def test_bad_names_and_caps(call, error, phrase):
    with pytest.raises(error) as caught:
        call()
    assert phrase in str(caught.value)


def test_setting_a_name_on_the_package_reaches_its_home_module(monkeypatch, tmp_path):
    """attnlab.data was one module; code that sets its settings there must still take effect."""
    monkeypatch.setattr(data, "LOCK_TIMEOUT_SECONDS", 0.25)
    assert data.vader.LOCK_TIMEOUT_SECONDS == 0.25
    monkeypatch.setattr(data, "cache_dir", lambda: tmp_path / "elsewhere")
    monkeypatch.setenv("ATTNLAB_VADER_SDIST", str(tmp_path / "missing.tar.gz"))
    with pytest.raises(DataUnavailableError, match="not a file"):
        data.vader_files()  # reads vader.cache_dir: the patched one, so no existing cache is found
    monkeypatch.undo()
    assert data.vader.LOCK_TIMEOUT_SECONDS == data.LOCK_TIMEOUT_SECONDS == 900


CHAPTERS = {
    "01_attention_as_explanation": "74cfad73",
    "05_faithfulness_violation_test": "24eb74b1",
    "06_transformers": "108680f4",
}


@pytest.mark.parametrize("stem", CHAPTERS)
def test_chapters_take_a_dataset_parameter_that_defaults_to_the_movie_sentences(stem):
    cells = json.loads((ROOT / "notebooks" / f"{stem}.ipynb").read_text())["cells"]
    params = next("".join(c["source"]) for c in cells if "parameters" in c["metadata"].get("tags", []))
    assert re.search(r'^DATASET: str = "movies"  # .*"sst2"', params, re.M)
    loading = next("".join(c["source"]) for c in cells if c["id"] == CHAPTERS[stem])
    assert "splits = load_splits(DATASET" in loading
    prose = " ".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    assert "`DATASET`" in prose
