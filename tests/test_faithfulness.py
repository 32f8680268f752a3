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


# --- the violation test and companion metrics ------------------------------------------------------

from attnlab.data import Batch  # noqa: E402
from attnlab.faithfulness import (  # noqa: E402
    auc_tp,
    comprehensiveness,
    decision_flip_rate,
    per_sentence_metrics,
    probs_after_removal,
    sufficiency,
    top_fraction_mask,
    violation_test,
)
from attnlab.models import REMOVAL_OPERATORS, BagOfWordsClassifier  # noqa: E402


def bag_of_words(seed=0):
    """A bag-of-words model with random signed token vectors, and 200 random sentences."""
    torch.manual_seed(seed)
    model = BagOfWordsClassifier(30, 2).eval()
    gen = torch.Generator().manual_seed(seed)
    rows = [
        torch.randint(2, 30, (int(torch.randint(1, 12, (1,), generator=gen)),), generator=gen).tolist()
        for _ in range(200)
    ]
    return model, Batch.from_ids(rows)


def test_exact_contributions_never_violate_and_their_negation_always_does():
    model, batch = bag_of_words()
    pred = model(batch.tokens, batch.mask).logits.argmax(-1)
    exact = model.exact_contributions(batch.tokens, batch.mask, pred)
    report = violation_test(model, batch.tokens, batch.mask, {"exact": exact, "negated": -exact})
    assert (~report.valid).any()  # single-token sentences are left out, not counted
    for op in REMOVAL_OPERATORS:
        assert report.ratio("exact", op) == 0.0
        nonzero = report.valid & (report.delta[("negated", op)] != 0)
        assert torch.equal(report.violates[("negated", op)], nonzero)
        # in a bag-of-words model all three operators remove exactly the token's contribution
        assert torch.allclose(report.delta[("exact", op)], report.delta[("exact", "slice_out")], atol=1e-6)
    assert report.ratio("negated") == pytest.approx(1.0)
    assert list(report.table().columns) == [*REMOVAL_OPERATORS, "mean"]


def test_violation_is_strict_about_zeros():
    model, batch = bag_of_words(1)
    zeros = torch.zeros(batch.tokens.shape)
    report = violation_test(model, batch.tokens, batch.mask, {"zero": zeros})
    assert report.ratio("zero") == 0.0  # w(x*) = 0: no violation, whatever ΔC


def test_non_negative_methods_violate_exactly_when_removal_raises_the_probability():
    model, batch = bag_of_words(2)
    weights = torch.rand(batch.tokens.shape) * batch.mask
    report = violation_test(model, batch.tokens, batch.mask, {"attention-like": weights}, operators=["att_mask"])
    delta = report.delta[("attention-like", "att_mask")]
    assert torch.equal(report.violates[("attention-like", "att_mask")], (delta < 0) & report.valid)


def test_batched_engine_equals_a_loop_over_sentences():
    from conftest import make_model

    model = make_model("bilstm", "dot")
    batch = Batch.from_ids([[2, 3, 4, 5], [6, 7], [8, 9, 10], [11, 12, 13, 14, 15]])
    weights = torch.randn(batch.tokens.shape) * batch.mask
    report = violation_test(model, batch.tokens, batch.mask, {"w": weights})
    for op in REMOVAL_OPERATORS:
        for i in range(len(batch)):
            one = batch[i]
            n = one.tokens.shape[1]
            p = model(one.tokens, one.mask).probs[0]
            y = p.argmax()
            star = int(weights[i, :n].abs().argmax())
            remove = torch.zeros(1, n, dtype=torch.bool)
            remove[0, star] = True
            q = model.forward_removed(one.tokens, one.mask, remove, op).probs[0, y]
            assert report.delta[("w", op)][i].item() == pytest.approx((p[y] - q).item(), abs=1e-6)


def test_methods_tested_together_equal_each_method_alone():
    """The engine runs a (sentence, x*) pair that several methods share only once; the outcome of each
    method must not depend on which other methods are tested beside it."""
    from conftest import make_model

    model = make_model("bilstm", "additive")
    batch = Batch.from_ids([[2, 3, 4, 5], [6, 7], [8], [9, 10, 11], [12, 13, 14, 15, 16, 17]])
    torch.manual_seed(0)
    a = torch.randn(batch.tokens.shape) * batch.mask
    weights = {"a": a, "same_top_as_a": 2 * a, "negated": -a, "other": torch.randn(batch.tokens.shape) * batch.mask}
    together = violation_test(model, batch.tokens, batch.mask, weights)
    for name, w in weights.items():
        alone = violation_test(model, batch.tokens, batch.mask, {name: w})
        for op in REMOVAL_OPERATORS:
            assert torch.equal(together.violates[(name, op)], alone.violates[(name, op)])
            assert torch.allclose(together.delta[(name, op)], alone.delta[(name, op)], atol=1e-6)
    for op in REMOVAL_OPERATORS:  # a shared x* gives the very same ΔC, and the opposite sign flips the verdict
        assert torch.equal(together.delta[("a", op)], together.delta[("same_top_as_a", op)])
        nonzero = together.valid & (together.delta[("a", op)] != 0)
        assert torch.equal(together.violates[("a", op)] ^ together.violates[("negated", op)], nonzero)


def test_top_fraction_mask_counts_and_order():
    mask = _mask([4, 10], 10)
    weights = torch.arange(10.0).repeat(2, 1)
    top = top_fraction_mask(weights, mask, 0.2)
    assert top[0].tolist() == [False, False, False, True] + [False] * 6  # ceil(0.8) = 1: the largest
    assert top[1].sum() == 2 and top[1, 8] and top[1, 9]
    assert top_fraction_mask(weights, mask, 1.0, leave_one=True).sum(1).tolist() == [3, 9]


def test_companion_metrics_on_a_bag_of_words_model():
    model, batch = bag_of_words(3)
    pred = model(batch.tokens, batch.mask).logits.argmax(-1)
    exact = model.exact_contributions(batch.tokens, batch.mask, pred)
    good_c = comprehensiveness(model, batch.tokens, batch.mask, exact).mean()
    bad_c = comprehensiveness(model, batch.tokens, batch.mask, -exact).mean()
    assert good_c > 0 > bad_c  # removing supporting tokens lowers f_ŷ; removing suppressors raises it
    good_s = sufficiency(model, batch.tokens, batch.mask, exact).mean()
    bad_s = sufficiency(model, batch.tokens, batch.mask, -exact).mean()
    assert good_s < bad_s
    labels = pred.clone()
    area_good, curve = auc_tp(model, batch.tokens, batch.mask, exact, labels)
    area_bad, _ = auc_tp(model, batch.tokens, batch.mask, -exact, labels)
    assert curve[0] == 1.0 and area_good < area_bad
    assert 0 <= decision_flip_rate(model, batch.tokens, batch.mask, exact) <= 1


@pytest.mark.parametrize("operator", REMOVAL_OPERATORS)
def test_per_sentence_metrics_match_the_separate_metrics(operator):
    """One set of deletions gives the same comprehensiveness and sufficiency, and per-sentence AUC-TP
    values whose mean is the test set's AUC-TP."""
    model, batch = bag_of_words(5)
    pred = model(batch.tokens, batch.mask).logits.argmax(-1)
    weights = model.exact_contributions(batch.tokens, batch.mask, pred) + 0.3 * torch.randn(batch.tokens.shape)
    weights = weights.masked_fill(~batch.mask, 0.0)
    labels = torch.randint(0, 2, (len(batch),), generator=torch.Generator().manual_seed(0))
    got = per_sentence_metrics(model, batch.tokens, batch.mask, weights, labels, operator=operator)
    assert torch.allclose(
        got["comprehensiveness"], comprehensiveness(model, batch.tokens, batch.mask, weights, operator=operator)
    )
    assert torch.allclose(got["sufficiency"], sufficiency(model, batch.tokens, batch.mask, weights, operator=operator))
    area, _ = auc_tp(model, batch.tokens, batch.mask, weights, labels, operator=operator)
    assert float(got["auc_tp"].mean()) == pytest.approx(area, abs=1e-6)
    assert bool(((got["auc_tp"] >= 0) & (got["auc_tp"] <= 1)).all())
    assert set(per_sentence_metrics(model, batch.tokens, batch.mask, weights)) == {"comprehensiveness", "sufficiency"}


def test_probs_after_removal_chunks_give_the_same_answer():
    model, batch = bag_of_words(4)
    keep_two = batch.mask.sum(1) > 1
    tokens, mask = batch.tokens[keep_two], batch.mask[keep_two]
    remove = torch.zeros_like(mask)
    remove[:, 0] = True
    a = probs_after_removal(model, tokens, mask, remove, "slice_out", chunk_size=7)
    b = probs_after_removal(model, tokens, mask, remove, "slice_out", chunk_size=4096)
    assert torch.allclose(a, b)


def test_bad_weights_are_rejected():
    model, batch = bag_of_words()
    with pytest.raises(ValueError, match="no explanations"):
        violation_test(model, batch.tokens, batch.mask, {})
    with pytest.raises(ValueError, match="shape"):
        violation_test(model, batch.tokens, batch.mask, {"w": torch.zeros(3, 3)})
    with pytest.raises(ValueError, match="unknown removal operator"):
        violation_test(model, batch.tokens, batch.mask, {"w": torch.zeros(batch.tokens.shape)}, operators=["cut"])
