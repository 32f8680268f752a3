"""attnlab.faithfulness: rank correlations on hand-computed cases."""

import math

import pytest
import torch

from attnlab.faithfulness import rank_correlation


def _mask(lengths, width):
    return torch.arange(width) < torch.tensor(lengths)[:, None]


def test_kendall_on_hand_computed_cases():
    a = torch.tensor([[1.0, 2.0, 3.0, 0.0], [1.0, 2.0, 3.0, 4.0], [3.0, 2.0, 1.0, 0.0]])
    b = torch.tensor([[1.0, 3.0, 2.0, 9.0], [1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0, 0.0]])
    tau = rank_correlation(a, b, _mask([3, 4, 3], 4))
    # row 0: pairs (0,1)+ (0,2)+ (1,2)- -> (2-1)/3; the padded 9.0 must be ignored
    assert tau.tolist() == pytest.approx([1 / 3, 1.0, -1.0])


def test_kendall_tau_b_handles_ties():
    a = torch.tensor([[1.0, 1.0, 2.0]])
    b = torch.tensor([[1.0, 2.0, 3.0]])
    # concordant: (0,2), (1,2); tied in a: (0,1) -> tau_b = 2 / sqrt(2 * 3)
    assert rank_correlation(a, b, _mask([3], 3)).item() == pytest.approx(2 / math.sqrt(6))


def test_spearman_matches_pearson_of_ranks():
    a = torch.tensor([[0.1, 0.5, 0.2, 0.9, 0.0]])
    b = torch.tensor([[1.0, 3.0, 2.0, 5.0, 7.0]])
    # ranks: a -> 1 3 2 4 (4 tokens), b -> 1 3 2 4: perfect
    assert rank_correlation(a, b, _mask([4], 5), "spearman").item() == pytest.approx(1.0)
    b2 = torch.tensor([[4.0, 2.0, 3.0, 1.0, 0.0]])
    assert rank_correlation(a, b2, _mask([4], 5), "spearman").item() == pytest.approx(-1.0)


def test_undefined_cases_are_nan_and_bad_input_is_rejected():
    a = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    b = torch.tensor([[2.0, 0.0], [1.0, 2.0]])
    tau = rank_correlation(a, b, _mask([1, 2], 2))
    assert torch.isnan(tau).all()  # one token; constant weighting
    with pytest.raises(ValueError, match="shapes differ"):
        rank_correlation(a, b[:1], _mask([1, 2], 2))
    with pytest.raises(ValueError, match="unknown method"):
        rank_correlation(a, b, _mask([1, 2], 2), "pearson")
