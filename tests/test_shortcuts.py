"""The shortcut lab: generator, mask models and every shortcut measurement on constructed cases."""

import numpy as np
import pytest
import torch

from attnlab.data import TextDataset
from attnlab.models import MaskClassifier
from attnlab.shortcuts import (
    CASES,
    hint_tokens,
    make_shortcut_task,
    mask_only_probe,
    mean_by_group,
    neutral_mass,
    posthoc_accuracy,
    random_k_subsets,
    rationale_precision_recall,
    top_k_mask,
    uniform_over,
    with_answer_hint,
    with_neutral_prefix,
)


def test_generator_plants_keys_and_labels_by_the_rule():
    task = make_shortcut_task(400, "xor", seed=1)
    vocab, tokens = task.vocab, task.batch.tokens
    x_id, y_id = vocab.encode(["X", "Y"])
    has_x, has_y = (tokens == x_id).any(1), (tokens == y_id).any(1)
    assert torch.equal(task.batch.labels.bool(), has_x ^ has_y)
    assert torch.equal(task.rationale, (tokens == x_id) | (tokens == y_id))
    assert torch.all(tokens[:, :4] == torch.tensor(vocab.encode(["A", "B", "C", "D"])))  # neutral prefix
    assert task.neutral[:, :4].all() and not task.neutral[:, 4:].any()
    assert set(task.case) == set(CASES)
    assert np.all(task.case[(has_x & has_y).numpy()] == "both")
    again = make_shortcut_task(400, "xor", seed=1)
    assert torch.equal(again.batch.tokens, tokens)  # seeded


def test_generator_cases_and_rules():
    only_one = make_shortcut_task(200, "keyword", cases=("X only", "Y only"), seed=0)
    assert set(only_one.case) == {"X only", "Y only"}
    assert torch.all(only_one.rationale.sum(1) == 1)
    for rule, expected in [("and", lambda x, y: x & y), ("or", lambda x, y: x | y)]:
        task = make_shortcut_task(200, rule, seed=2)
        x = torch.from_numpy(np.isin(task.case, ["X only", "both"]))
        y = torch.from_numpy(np.isin(task.case, ["Y only", "both"]))
        assert torch.equal(task.batch.labels.bool(), expected(x, y))
    with pytest.raises(ValueError, match="unknown label rule"):
        make_shortcut_task(10, "parity3")
    with pytest.raises(ValueError, match="cases"):
        make_shortcut_task(10, "xor", cases=("sometimes",))
    sub = only_one[torch.arange(5)]
    assert len(sub) == 5 and sub.neutral.shape == sub.batch.tokens.shape


def test_neutral_prefix_on_real_sentences():
    data = TextDataset(["good film"], [["good", "film"]], np.array([1]), ("neg", "pos"))
    prefixed = with_neutral_prefix(data)
    assert prefixed.tokens == [["<a>", "<b>", "<c>", "<d>", "good", "film"]]
    assert prefixed.labels.tolist() == [1]


def test_answer_hint_names_the_label_first():
    data = TextDataset(["good film", "dull"], [["good", "film"], ["dull"]], np.array([1, 0]), ("neg", "pos"))
    hinted = with_answer_hint(data)
    assert hint_tokens(data.label_names) == ["<hint:neg>", "<hint:pos>"]
    assert hinted.tokens == [["<hint:pos>", "good", "film"], ["<hint:neg>", "dull"]]
    assert hinted.texts[1] == "<hint:neg> dull" and hinted.labels.tolist() == [1, 0]


@pytest.mark.parametrize("selection", ["soft", "hard"])
def test_selector_only_tokens_are_read_but_never_selected(selection):
    task = make_shortcut_task(16, "xor", seed=0)
    x_id = task.vocab.encode(["X"])[0]
    torch.manual_seed(0)
    model = MaskClassifier(len(task.vocab), selection=selection, k=1, selector_only_ids=[x_id])
    with torch.no_grad():  # make X the most attractive token: it must still never be selected
        model.selector.score.bias.zero_()
        model.selector.embedding.weight[x_id] = 5.0
    has_x = task.batch.tokens == x_id
    assert has_x.any()
    for mode in (model.train, model.eval):
        mode()
        attention = model(task.batch.tokens, task.batch.mask).attention
        assert torch.all(attention[has_x] == 0)
    # ...but the selector reads it: its scores elsewhere change when X is replaced by a filler
    filler = task.batch.tokens.masked_fill(has_x, task.vocab.encode(["A"])[0])
    with torch.no_grad():
        scores, scores_without = (model.selector(t, task.batch.mask)[~has_x] for t in (task.batch.tokens, filler))
    assert not torch.allclose(scores, scores_without)
    with pytest.raises(ValueError, match="selector_only_ids"):
        MaskClassifier(len(task.vocab), selector_only_ids=[0])


def test_neutral_mass_and_grouping():
    attention = torch.tensor([[0.5, 0.25, 0.25], [0.0, 0.0, 1.0]])
    neutral = torch.tensor([[True, False, False], [True, False, False]])
    mass = neutral_mass(attention, neutral)
    assert mass.tolist() == [0.5, 0.0]
    assert mean_by_group(mass, ["a", "b"]).to_dict() == {"a": 0.5, "b": 0.0}
    with pytest.raises(ValueError, match="shape"):
        neutral_mass(attention, neutral[:, :2])


def test_rationale_precision_and_recall_at_k():
    attention = torch.tensor([[0.1, 0.6, 0.3, 0.0], [0.7, 0.1, 0.1, 0.1], [0.25, 0.25, 0.25, 0.25]])
    rationale = torch.tensor([[False, True, True, False], [False, False, True, False], [False] * 4])
    mask = torch.ones(3, 4, dtype=torch.bool)
    # row 0: top-2 = {1, 2} -> precision 1, recall 1; row 1: top-2 = {0, 1 or 2 or 3}; row 2 has no rationale
    p, r = rationale_precision_recall(attention[:1], rationale[:1], mask[:1], 2)
    assert (p, r) == (1.0, 1.0)
    p, r = rationale_precision_recall(attention[:2], rationale[:2], mask[:2], 1)
    assert (p, r) == (0.5, 0.25)  # row 0 hits one of its two rationale tokens, row 1 misses
    with pytest.raises(ValueError, match="no sequence has a rationale"):
        rationale_precision_recall(attention[2:], rationale[2:], mask[2:], 1)


def test_top_k_and_random_subsets_respect_padding():
    mask = torch.tensor([[True, True, True, False], [True, False, False, False]])
    top = top_k_mask(torch.tensor([[0.1, 0.2, 0.3, 0.9], [0.5, 0.9, 0.9, 0.9]]), mask, 2)
    assert top.tolist() == [[False, True, True, False], [True, False, False, False]]
    rand = random_k_subsets(mask, 2, torch.Generator().manual_seed(0))
    assert torch.allclose(rand.sum(1), torch.ones(2)) and torch.all(rand[~mask] == 0)
    assert torch.allclose(uniform_over(top)[0], torch.tensor([0.0, 0.5, 0.5, 0.0]))


def test_mask_only_probe_detects_a_code_and_not_noise():
    gen = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 2, (600,), generator=gen)
    code = torch.zeros(600, 6)
    code[labels == 1, 0] = 1.0  # label 1: attend position 0
    code[labels == 0, 3] = 1.0  # label 0: attend position 3
    assert mask_only_probe(code[:400], labels[:400], code[400:], labels[400:]) == 1.0
    noise = torch.rand(600, 6, generator=gen).softmax(1)
    assert mask_only_probe(noise[:400], labels[:400], noise[400:], labels[400:]) < 0.65
    with pytest.raises(ValueError, match="10 masks but 9 labels"):
        mask_only_probe(code[:10], labels[:9], code, labels)


@pytest.mark.parametrize("selection", ["soft", "hard"])
def test_mask_classifier_masks_and_external_masks(selection):
    task = make_shortcut_task(8, "xor", seed=0)
    torch.manual_seed(0)
    model = MaskClassifier(len(task.vocab), selection=selection, k=2).eval()
    out = model(task.batch.tokens, task.batch.mask)
    assert out.logits.shape == (8, 2) and torch.allclose(out.attention.sum(1), torch.ones(8))
    if selection == "hard":
        assert torch.all((out.attention == 0) | (out.attention == 0.5))  # k-hot / k at test time
    uniform = task.batch.mask.float() / task.batch.mask.sum(1, keepdim=True)
    given = model(task.batch.tokens, task.batch.mask, attention=uniform)
    pooled = model.embed(task.batch.tokens).mean(1)
    assert torch.allclose(given.logits, model.predictor.head(pooled), atol=1e-6)
    model.train()
    relaxed = model(task.batch.tokens, task.batch.mask).attention
    assert torch.all(relaxed >= 0) and torch.all(relaxed.sum(1) <= 1 + 1e-6)


def test_posthoc_accuracy_uses_only_the_selected_content():
    task = make_shortcut_task(200, "keyword", cases=("X only", "Y only"), seed=3)
    torch.manual_seed(0)
    evaluator = MaskClassifier(len(task.vocab), head="linear").eval()
    x_id = task.vocab.encode(["X"])[0]
    with torch.no_grad():  # make the evaluator read X as class 1 and everything else as class 0
        evaluator.predictor.embedding.weight.zero_()
        evaluator.predictor.embedding.weight[x_id] = torch.tensor([1.0] * 32)
        head = evaluator.predictor.head
        head.weight.zero_(), head.bias.zero_()
        head.weight[1] = 1.0
        head.bias[0] = 0.5
    on_rationale = posthoc_accuracy(
        evaluator, task.batch.tokens, task.batch.mask, task.rationale.float(), task.batch.labels, k=1
    )
    on_neutral = posthoc_accuracy(
        evaluator, task.batch.tokens, task.batch.mask, task.neutral.float(), task.batch.labels, k=1
    )
    assert on_rationale == 1.0
    assert on_neutral == pytest.approx(float((task.batch.labels == 0).float().mean()))
