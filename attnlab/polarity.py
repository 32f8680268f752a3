"""Does a token carry a polarity? A model-free judge of whether an attended word "looks right".

Chapter 1 asks, for each test sentence, whether the token with the largest attention weight is one a
reader would accept as the reason for a positive or negative prediction. The judge must not depend on
the model, and it must agree with a reader on words such as *riveting* or *moving*, which the VADER
lexicon does not list but which plainly lean positive in movie reviews. (This is a word's *prior
polarity*, its sentiment out of context, which chapter 1 calls its sentiment; it is not the book's
glossary term *polarity*, the sign of a token's effect on a prediction.) It uses two sources:

1. **people:** the VADER lexicon (Hutto & Gilbert, 2014), 7,500 words rated by people; a rated word has
   the sign of its rating;
2. **the training corpus:** otherwise, the token's log-odds: how much more likely a training sentence
   that contains it is to be positive than negative, against the odds of all training sentences,
   ``log((pos + 0.5) / (neg + 0.5)) - log(n_positive / n_negative)`` with ``pos``/``neg`` the positive
   and negative sentences containing it, and its standard error ``se = sqrt(1/(pos + 0.5) + 1/(neg + 0.5))``.
   The token

   * has a polarity when its log-odds are clearly signed: at least ``log(min_ratio)`` in size
     (about twice as common on one side) **and** at least ``min_z`` standard errors away from 0;
   * has **no** polarity when the corpus shows that it is balanced: the whole interval
     ``log_odds ± min_z * se`` lies within ``±log(min_ratio)``;
   * is ``"unknown"`` otherwise: too rare (fewer than ``min_count`` training sentences, or an interval
     too wide to tell) or too close to the line. Unknown is not the same as having no polarity.

Typical use::

    judge = PolarityJudge.fit(splits.train, load_vader_lexicon())
    judge("riveting")        # 'positive' (corpus: 15 positive vs 1 negative training sentences)
    judge("the")             # 'none' (in 4,606 training sentences, as common on both sides)
    judge("listless")        # 'unknown' (0 positive vs 6 negative: leans negative, too rare to be sure)
    judge.explain("moving")  # the numbers behind the verdict
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

POSITIVE, NEGATIVE, NONE, UNKNOWN = "positive", "negative", "none", "unknown"
VERDICTS = (POSITIVE, NEGATIVE, NONE, UNKNOWN)


@dataclass
class PolarityJudge:
    """``judge(token)`` -> ``'positive'``, ``'negative'``, ``'none'`` (no polarity) or ``'unknown'`` (too rare).

    Build it with :meth:`fit` from labelled training sentences (label 1 = positive, 0 = negative) and a
    lexicon ``{word: rating}``. The rule, in order: a word the lexicon rates non-zero has the sign of its
    rating; a token seen in fewer than ``min_count`` training sentences is unknown; otherwise, with
    ``lo, se = self.log_odds(token)`` and ``line = log(min_ratio)``, the token has a polarity when
    ``|lo| >= line`` and ``|lo| >= min_z * se``, none when ``|lo| + min_z * se < line``, and is unknown
    in between (the corpus cannot tell).
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
    def fit(cls, sentences, lexicon: dict[str, float], **options) -> PolarityJudge:
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
    def from_counts(
        cls, token_lists: Sequence[Iterable[str]], labels: Sequence[int], lexicon: dict[str, float], **options
    ) -> PolarityJudge:
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
        """(log-odds, standard error): does a training sentence with ``token`` lean positive or negative?

        ``log((pos + 0.5) / (neg + 0.5)) - log(n_positive / n_negative)``, where ``pos`` and ``neg`` are the
        positive and negative training sentences that contain the token (0.5 smooths a zero count, the
        second term removes the classes' sizes), with standard error ``sqrt(1/(pos + 0.5) + 1/(neg + 0.5))``.
        Positive means the token leans positive; ``log(2)`` means twice as common in positive sentences.
        """
        pos, neg = self.positive_counts[token] + 0.5, self.negative_counts[token] + 0.5
        base = math.log(max(self.n_positive, 1) / max(self.n_negative, 1))
        return math.log(pos / neg) - base, math.sqrt(1 / pos + 1 / neg)

    def explain(self, token: str) -> dict:
        """The verdict for ``token`` with the numbers behind it and which source decided."""
        rating = self.lexicon.get(token, 0.0)
        log_odds, se = self.log_odds(token)
        info = {
            "token": token,
            "lexicon_rating": rating,
            "positive_sentences": self.positive_counts[token],
            "negative_sentences": self.negative_counts[token],
            "log_odds": log_odds,
            "z": log_odds / se,
        }
        if rating != 0:
            return {**info, "verdict": POSITIVE if rating > 0 else NEGATIVE, "source": "lexicon"}
        if self.count(token) < self.min_count:
            return {**info, "verdict": UNKNOWN, "source": "too rare"}
        line = math.log(self.min_ratio)
        if abs(log_odds) >= line and abs(log_odds) >= self.min_z * se:
            verdict = POSITIVE if log_odds > 0 else NEGATIVE
        elif abs(log_odds) + self.min_z * se < line:
            verdict = NONE  # balanced, and the corpus has enough of it to tell
        else:
            return {**info, "verdict": UNKNOWN, "source": "corpus cannot tell"}
        return {**info, "verdict": verdict, "source": "corpus"}

    def __call__(self, token: str) -> str:
        return self.explain(token)["verdict"]

    def sign(self, token: str) -> int:
        """+1 (positive), -1 (negative), 0 (no polarity or unknown)."""
        return {POSITIVE: 1, NEGATIVE: -1}.get(self(token), 0)
