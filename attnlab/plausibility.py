"""Does an explanation *look* right? The most-weighted token of each sentence, judged without the model.

Plausibility (whether an explanation convinces a reader) is not faithfulness (whether it describes what
the model does). Chapter 1 measures the first with a model-free judge of a word's prior sentiment
(``attnlab.polarity.PolarityJudge``, or anything with the same ``__call__``, ``sign`` and ``lexicon``): for
each correct prediction, does the most-attended token have the sentiment of the prediction ("looks
right"), the opposite one, none at all ("looks wrong"), or can the judge not tell?
:func:`top_token_verdicts` answers for every sentence and tabulates the answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

#: The four answers, in the order of chapter 1's table; the first is "looks right", the third "looks wrong".
CATEGORIES = (
    "sentiment of the prediction (looks right)",
    "opposite sentiment",
    "no sentiment (looks wrong)",
    "unknown (the judge cannot tell)",
)
LOOKS_RIGHT, OPPOSITE, LOOKS_WRONG, UNKNOWN = CATEGORIES
#: The results names of the shares (chapter 1 records ``chapter1_top_attention_<name>_share``).
SHARE_NAMES = ("matching_polarity", "opposite_polarity", "no_polarity", "unknown_polarity")


@dataclass
class TopTokens:
    """The most-weighted token of every sentence and the judge's answer; shares are over correct predictions.

    ``position``: ``(N,)`` its index; ``token``: its string; ``category``: one of :data:`CATEGORIES`;
    ``correct``: whether the prediction was right; ``table``: per category, the share of correct predictions
    and the most frequent tokens; ``shares``: the four shares and those of punctuation and of tokens the
    lexicon does not list, keyed by results name (see :data:`SHARE_NAMES`).
    """

    position: torch.Tensor
    token: np.ndarray
    category: np.ndarray
    correct: np.ndarray
    table: pd.DataFrame
    shares: dict[str, float]

    def where(self, category: str) -> np.ndarray:
        """Correct predictions whose top token falls in ``category`` (a bool array over the sentences)."""
        if category not in CATEGORIES:
            raise ValueError(f"unknown category {category!r}; choose one of {CATEGORIES}")
        return self.correct & (self.category == category)

    def most_frequent(self, category: str, n: int = 6) -> list[str]:
        """The ``n`` most frequent top tokens of correct predictions in ``category``."""
        return list(pd.Series(self.token[self.where(category)], dtype=object).value_counts().index[:n])


def top_token_verdicts(
    weights: torch.Tensor, token_lists: Sequence[Sequence[str]], judge, predicted, correct
) -> TopTokens:
    """Judge the most-weighted token of each sentence against its prediction.

    ``weights``: ``(N, T)`` non-negative weights (e.g. attention), zero on padding; ``token_lists``: the
    sentences' tokens; ``judge``: ``judge(token)`` gives ``"positive"``, ``"negative"``, ``"none"`` or
    ``"unknown"`` and ``judge.sign(token)`` +1, -1 or 0; ``predicted``: ``(N,)`` the predicted class
    (1 = positive); ``correct``: ``(N,)`` bool.
    """
    predicted, correct = np.asarray(predicted), np.asarray(correct, dtype=bool)
    if not len(weights) == len(token_lists) == len(predicted) == len(correct):
        raise ValueError(
            f"one row per sentence needed: {len(weights)} weight rows, {len(token_lists)} sentences, "
            f"{len(predicted)} predictions, {len(correct)} correctness flags"
        )
    if not correct.any():
        raise ValueError("no correct prediction: the shares over correct predictions are undefined")
    position = weights.argmax(1)
    token = np.array([token_lists[i][int(position[i])] for i in range(len(token_lists))], dtype=object)
    verdict = np.array([judge(t) for t in token])
    sign = np.array([judge.sign(t) for t in token])
    predicted_sign = np.where(predicted == 1, 1, -1)
    category = np.select(
        [sign == predicted_sign, sign == -predicted_sign, verdict == "none"], CATEGORIES[:3], CATEGORIES[3]
    )
    result = TopTokens(position, token, category, correct, pd.DataFrame(), {})
    share = [float(np.mean(category[correct] == c)) for c in CATEGORIES]
    result.table = pd.DataFrame(
        {
            "share of correct predictions": share,
            "most frequent tokens": [", ".join(result.most_frequent(c)) for c in CATEGORIES],
        },
        index=pd.Index(CATEGORIES, name="the most-attended token has"),
    )
    punctuation = np.array([not any(ch.isalnum() for ch in t) for t in token])
    in_lexicon = np.array([judge.lexicon.get(t, 0.0) != 0 for t in token])
    result.shares = dict(zip(SHARE_NAMES, share)) | {
        "punctuation": float(punctuation[correct].mean()),
        "not_in_lexicon": float((~in_lexicon[correct]).mean()),
    }
    return result
