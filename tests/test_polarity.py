"""attnlab.polarity: the model-free judge of whether a token carries a polarity (chapter 1)."""

import math

import pytest

from attnlab.polarity import NEGATIVE, NONE, POSITIVE, UNKNOWN, PolarityJudge


def toy_judge(**options):
    # 40 positive and 40 negative sentences; "great" in 12 positive / 1 negative, "plot" in 10 / 10,
    # "rare" in 2 positive only, "awful" rated by the lexicon although the corpus never shows it
    token_lists, labels = [], []
    for i in range(40):
        token_lists.append(["the", "film"] + (["great"] if i < 12 else []) + (["plot"] if i < 10 else [])
                           + (["rare"] if i < 2 else []))
        labels.append(1)
    for i in range(40):
        token_lists.append(["the", "film"] + (["great"] if i < 1 else []) + (["plot"] if i < 10 else []))
        labels.append(0)
    return PolarityJudge.from_counts(token_lists, labels, {"awful": -2.5, "meh": 0.0}, **options)


def test_the_four_verdicts():
    judge = toy_judge()
    assert judge("great") == POSITIVE  # 12 vs 1 sentences: clearly signed
    assert judge("plot") == NONE  # as common on both sides
    assert judge("the") == NONE  # in every sentence
    assert judge("rare") == UNKNOWN  # 2 sentences < min_count 5: too rare to judge, not "no polarity"
    assert judge("never-seen") == UNKNOWN
    assert judge("awful") == NEGATIVE  # the lexicon decides first
    assert judge("meh") == UNKNOWN  # a zero rating is no rating
    assert [judge.sign(t) for t in ("great", "awful", "plot", "rare")] == [1, -1, 0, 0]


def test_log_odds_and_its_standard_error_by_hand():
    judge = toy_judge()
    a, b, c, d = 12.5, 28.5, 1.5, 39.5
    log_odds, se = judge.log_odds("great")
    assert log_odds == pytest.approx(math.log(a / b) - math.log(c / d))
    assert se == pytest.approx(math.sqrt(1 / a + 1 / b + 1 / c + 1 / d))
    explained = judge.explain("great")
    assert explained["source"] == "corpus" and explained["z"] == pytest.approx(log_odds / se)
    assert judge.explain("awful")["source"] == "lexicon" and judge.explain("rare")["source"] == "too rare"
    assert judge.count("great") == 13  # sentences, not occurrences


def test_both_conditions_are_needed_for_a_corpus_polarity():
    # a large ratio with too little evidence is no polarity; a strong z with a small ratio is none too
    assert toy_judge(min_z=10.0)("great") == NONE
    assert toy_judge(min_ratio=1000.0)("great") == NONE
    assert toy_judge(min_count=20)("great") == UNKNOWN


def test_repeated_tokens_count_once_per_sentence():
    judge = PolarityJudge.from_counts([["wow"] * 10, ["wow"], ["meh"]], [1, 0, 0], {})
    assert judge.positive_counts["wow"] == 1 and judge.negative_counts["wow"] == 1


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="labels"):
        PolarityJudge.from_counts([["a"]], [2], {})
    with pytest.raises(ValueError, match="sentences but"):
        PolarityJudge.from_counts([["a"], ["b"]], [1], {})
    with pytest.raises(ValueError, match="min_count"):
        toy_judge(min_count=0)


def test_on_the_movie_sentences_a_reader_agrees():
    from attnlab.data import load_sentiment, load_vader_lexicon

    judge = PolarityJudge.fit(load_sentiment("movies").train, load_vader_lexicon())
    # words the VADER lexicon does not list but which plainly lean one way in movie reviews
    assert "riveting" not in judge.lexicon and judge("riveting") == POSITIVE
    assert "moving" not in judge.lexicon and judge("moving") == POSITIVE
    assert "tedious" not in judge.lexicon and judge("tedious") == NEGATIVE
    for token in ("the", ".", "film", "story"):
        assert judge(token) == NONE, token
