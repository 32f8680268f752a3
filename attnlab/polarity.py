"""Does a token carry a polarity? A model-free judge of whether an attended word "looks right".

Chapter 1 asks, for each test sentence, whether the token with the largest attention weight is one a
reader would accept as the reason for a positive or negative prediction. The judge must not depend on
the model, and it must agree with a reader on words such as *riveting* or *moving*, which the VADER
lexicon does not list but which plainly lean positive in movie reviews. It uses two sources:

1. **people:** the VADER lexicon (Hutto & Gilbert, 2014), 7,500 words rated by people; a rated word has
   the sign of its rating;
2. **the training corpus:** otherwise, the smoothed log odds ratio of the token occurring in a positive
   vs a negative training sentence. The token has a polarity when that log odds ratio is clearly signed:
   at least ``log(min_ratio)`` (about twice as common on one side) **and** at least ``min_z`` standard
   errors away from 0.

A token that is not in the lexicon and occurs in fewer than ``min_count`` training sentences is
``"unknown"``: too rare to judge, which is not the same as having no polarity.

Typical use::

    judge = PolarityJudge.fit(splits.train, load_vader_lexicon())
    judge("riveting")        # 'positive' (corpus: 15 positive vs 1 negative training sentences)
    judge("the")             # 'none'
    judge.explain("moving")  # the numbers behind the verdict
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable, Sequence

POSITIVE, NEGATIVE, NONE, UNKNOWN = "positive", "negative", "none", "unknown"
VERDICTS = (POSITIVE, NEGATIVE, NONE, UNKNOWN)


@dataclass
class PolarityJudge:
    """``judge(token)`` -> ``'positive'``, ``'negative'``, ``'none'`` (no polarity) or ``'unknown'`` (too rare).

    Build it with :meth:`fit` from labelled training sentences (label 1 = positive, 0 = negative) and a
    lexicon ``{word: rating}``. The rule, in order: a word the lexicon rates non-zero has the sign of its
    rating; a token seen in fewer than ``min_count`` training sentences is unknown; otherwise the token
    has a polarity when its log odds ratio (positive vs negative sentences, +0.5 in every cell) is at
    least ``log(min_ratio)`` in size and at least ``min_z`` standard errors from 0, and none when not.
    """

    lexicon: dict[str, float]
    positive_counts: Counter = field(default_factory=Counter)  # token -> positive sentences containing it
    negative_counts: Counter = field(default_factory=Counter)
    n_positive: int = 0  # positive training sentences
    n_negative: int = 0
    min_count: int = 5
    min_ratio: float = 2.0
    min_z: float = 2.0

    def __post_init__(self):
        if self.min_count < 1:
            raise ValueError(f"min_count must be at least 1, got {self.min_count}")
        if self.min_ratio < 1:
            raise ValueError(f"min_ratio must be at least 1, got {self.min_ratio}")
        if self.min_z < 0:
            raise ValueError(f"min_z must be >= 0, got {self.min_z}")

    @classmethod
    def fit(cls, sentences, lexicon: dict[str, float], **options) -> "PolarityJudge":
        """Count, per token, the positive and negative training sentences that contain it.

        ``sentences`` is a :class:`attnlab.data.TextDataset` with binary labels (1 = positive) or a
        pair ``(token_lists, labels)``.
        """
        if hasattr(sentences, "tokens") and hasattr(sentences, "labels"):
            token_lists, labels = sentences.tokens, sentences.labels
        else:
            token_lists, labels = sentences
        return cls.from_counts(token_lists, labels, lexicon, **options)

    @classmethod
    def from_counts(cls, token_lists: Sequence[Iterable[str]], labels: Sequence[int], lexicon: dict[str, float],
                    **options) -> "PolarityJudge":
        labels = [int(y) for y in labels]
        if len(token_lists) != len(labels):
            raise ValueError(f"{len(token_lists)} sentences but {len(labels)} labels")
        if any(y not in (0, 1) for y in labels):
            raise ValueError("labels must be 0 (negative) or 1 (positive)")
        positive, negative = Counter(), Counter()
        for tokens, y in zip(token_lists, labels):
            (positive if y == 1 else negative).update(set(tokens))  # sentences, not occurrences
        n_positive = sum(labels)
        return cls(dict(lexicon), positive, negative, n_positive, len(labels) - n_positive, **options)

    def count(self, token: str) -> int:
        """Training sentences that contain ``token``."""
        return self.positive_counts[token] + self.negative_counts[token]

    def log_odds(self, token: str) -> tuple[float, float]:
        """(log odds ratio, its standard error) of ``token`` occurring in positive vs negative sentences.

        With a, b = positive sentences with / without the token and c, d = the same for negative ones,
        each +0.5: log((a/b) / (c/d)), standard error sqrt(1/a + 1/b + 1/c + 1/d). Positive means the
        token leans positive.
        """
        a = self.positive_counts[token] + 0.5
        b = self.n_positive - self.positive_counts[token] + 0.5
        c = self.negative_counts[token] + 0.5
        d = self.n_negative - self.negative_counts[token] + 0.5
        return math.log(a / b) - math.log(c / d), math.sqrt(1 / a + 1 / b + 1 / c + 1 / d)

    def explain(self, token: str) -> dict:
        """The verdict for ``token`` with the numbers behind it and which source decided."""
        rating = self.lexicon.get(token, 0.0)
        log_odds, se = self.log_odds(token)
        info = {"token": token, "lexicon_rating": rating, "positive_sentences": self.positive_counts[token],
                "negative_sentences": self.negative_counts[token], "log_odds": log_odds, "z": log_odds / se}
        if rating != 0:
            return {**info, "verdict": POSITIVE if rating > 0 else NEGATIVE, "source": "lexicon"}
        if self.count(token) < self.min_count:
            return {**info, "verdict": UNKNOWN, "source": "too rare"}
        signed = abs(log_odds) >= math.log(self.min_ratio) and abs(log_odds) >= self.min_z * se
        verdict = (POSITIVE if log_odds > 0 else NEGATIVE) if signed else NONE
        return {**info, "verdict": verdict, "source": "corpus"}

    def __call__(self, token: str) -> str:
        return self.explain(token)["verdict"]

    def sign(self, token: str) -> int:
        """+1 (positive), -1 (negative), 0 (no polarity or unknown)."""
        return {POSITIVE: 1, NEGATIVE: -1}.get(self(token), 0)
