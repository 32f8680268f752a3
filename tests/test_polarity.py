"""attnlab.polarity: the model-free judge of whether a token carries a polarity (chapter 1)."""

import math

import pytest

from attnlab.polarity import NEGATIVE, NONE, POSITIVE, UNKNOWN, PolarityJudge


def toy_judge(**options):
    # 400 positive and 400 negative sentences; "great" in 12 positive / 1 negative, "plot" in 100 / 100,
    # "rare" in 2 positive only, "dreary" in 0 / 6 (leans negative, too few to tell), "awful" rated by the
    # lexicon although the corpus never shows it
    token_lists, labels = [], []
    for y in (1, 0):
        for i in range(400):
            tokens = ["the", "film"] + (["plot"] if i < 100 else [])
            tokens += (["great"] if i < (12 if y else 1) else []) + (["rare"] if y and i < 2 else [])
            tokens += ["dreary"] if not y and i < 6 else []
            token_lists.append(tokens)
            labels.append(y)
    return PolarityJudge.from_counts(token_lists, labels, {"awful": -2.5, "meh": 0.0}, **options)


def test_the_four_verdicts():
    judge = toy_judge()
    assert judge("great") == POSITIVE  # 12 vs 1 sentences: clearly signed
    assert judge("plot") == NONE  # as common on both sides, and common enough to tell
    assert judge("the") == NONE  # in every sentence
    assert judge("rare") == UNKNOWN  # 2 sentences < min_count 5: too rare to judge, not "no polarity"
    assert judge("dreary") == UNKNOWN  # 0 vs 6: leans negative, but the corpus cannot tell
    assert judge.explain("dreary")["source"] == "corpus cannot tell"
    assert judge("never-seen") == UNKNOWN
    assert judge("awful") == NEGATIVE  # the lexicon decides first
    assert judge("meh") == UNKNOWN  # a zero rating is no rating
    assert [judge.sign(t) for t in ("great", "awful", "plot", "rare")] == [1, -1, 0, 0]


def test_log_odds_and_its_standard_error_by_hand():
    judge = toy_judge()
    log_odds, se = judge.log_odds("great")
    assert log_odds == pytest.approx(math.log(12.5 / 1.5))  # balanced classes: no correction
    assert se == pytest.approx(math.sqrt(1 / 12.5 + 1 / 1.5))
    explained = judge.explain("great")
    assert explained["source"] == "corpus" and explained["z"] == pytest.approx(log_odds / se)
    assert judge.explain("awful")["source"] == "lexicon" and judge.explain("rare")["source"] == "too rare"
    assert judge.count("great") == 13  # sentences, not occurrences
    # unbalanced classes: a token as common (per sentence) on both sides has log-odds 0
    skewed = PolarityJudge.from_counts([["x"]] * 300 + [["y"]] * 100, [1] * 300 + [0] * 100, {})
    assert skewed.log_odds("x")[0] == pytest.approx(math.log(300.5 / 0.5) - math.log(3))
    both = PolarityJudge.from_counts([["z"]] * 400, [1] * 300 + [0] * 100, {})
    assert both.log_odds("z")[0] == pytest.approx(math.log(300.5 / 100.5 / 3)) and both("z") == NONE


def test_both_conditions_are_needed_for_a_corpus_polarity():
    # a large lean with too little evidence, or strong evidence of a small lean, is not a polarity
    assert toy_judge(min_z=10.0)("great") == UNKNOWN
    assert toy_judge(min_ratio=1000.0)("great") == NONE  # 12 vs 1 is well inside a 1000:1 line
    assert toy_judge(min_count=20)("great") == UNKNOWN
    # "no polarity" needs the corpus to show balance: with a stricter z, "plot" is no longer clearly balanced
    assert toy_judge(min_z=5.0)("plot") == UNKNOWN
    assert toy_judge(min_ratio=1.5)("the") == NONE  # 400 vs 400 pins the lean down to within 1.5:1
    assert toy_judge(min_ratio=1.05)("the") == UNKNOWN  # ... but not to within 5%


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
    for token in ("the", ".", "film", "story", "enough"):
        assert judge(token) == NONE, token
    assert judge("listless") == UNKNOWN  # 0 positive vs 6 negative: leans negative, too few to be sure
