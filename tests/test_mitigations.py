"""The two mitigations of Bai et al. (2021): random attention pretraining and instance weighting."""

import pytest
import torch

import attnlab.shortcuts.mitigations as mitigations
from attnlab.data import Batch
from attnlab.models import AttentionClassifier, ClassifierOutput, MaskClassifier
from attnlab.shortcuts import (
    OnlineMaskPropensity,
    explore,
    instance_weighting,
    instance_weights,
    inverse_propensity_weights,
    make_shortcut_task,
    model_masks,
    random_attention,
    random_attention_pretraining,
    random_masks_for,
)
from attnlab.train import fit


def coded_masks(n=2000, agreement=0.8, seed=0):
    """Masks that point 'left' (position 0) or 'right' (position 1); the label agrees with the side
    in a share ``agreement`` of the rows, so the mask carries label information but both sides occur
    under both labels (positivity holds)."""
    gen = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 2, (n,), generator=gen)
    agree = torch.rand(n, generator=gen) < agreement
    side = torch.where(agree, labels, 1 - labels)
    masks = torch.zeros(n, 4)
    masks[torch.arange(n), side] = 1.0
    return masks, labels, side


def weighted_label_rate(weights, labels, selected):
    return float((weights[selected] * labels[selected]).sum() / weights[selected].sum())


def test_instance_weights_make_mask_and_label_independent_in_the_weighted_data():
    masks, labels, side = coded_masks()
    # unweighted, the side says the label: P(y=1 | left) is about 0.2, P(y=1 | right) about 0.8
    assert float(labels[side == 0].float().mean()) < 0.3 and float(labels[side == 1].float().mean()) > 0.7
    weights = instance_weights(masks, labels, seed=0)
    assert weights.shape == labels.shape and torch.isclose(weights.mean(), torch.tensor(1.0))
    prior = float(labels.float().mean())
    for s in (0, 1):  # weighted, both sides show the prior label rate
        assert abs(weighted_label_rate(weights, labels.float(), side == s) - prior) < 0.05
    # the rare (side, label) combinations carry the large weights
    assert float(weights[side != labels].mean()) > 3 * float(weights[side == labels].mean())


def test_without_positivity_the_weights_are_constant():
    masks, labels, side = coded_masks(agreement=1.0)  # a clean code: the side *is* the label
    weights = instance_weights(masks, labels, seed=0)
    assert float(weights.max() / weights.min()) < 1.2  # nothing to re-weight: every example looks alike


def test_inverse_propensity_weights_formula_and_clip():
    prior = torch.tensor([0.75, 0.25])
    labels = torch.tensor([0, 1, 1])
    p = torch.tensor([0.75, 0.5, 0.001])
    weights = inverse_propensity_weights(prior, p, labels, clip=0.05)
    raw = torch.tensor([0.75 / 0.75, 0.25 / 0.5, 0.25 / 0.05])  # the last one clipped
    assert torch.allclose(weights, raw / raw.mean())
    with pytest.raises(ValueError, match="clip must be in"):
        instance_weights(torch.ones(8, 2) / 2, torch.zeros(8, dtype=torch.long), clip=0.0)
    with pytest.raises(ValueError, match="need masks"):
        instance_weights(torch.ones(8, 2) / 2, torch.zeros(7, dtype=torch.long))


def test_random_attention_ignores_the_input_and_respects_padding():
    mask = torch.tensor([[True, True, True, False], [True, True, False, False]])
    a = random_attention(mask, generator=torch.Generator().manual_seed(0))
    b = random_attention(mask, generator=torch.Generator().manual_seed(0))
    assert torch.equal(a, b)  # only the random state decides
    assert torch.allclose(a.sum(1), torch.ones(2)) and bool((a[~mask] == 0).all())
    assert torch.allclose(random_attention(mask, scale=0.0), mask.float() / mask.sum(1, keepdim=True))
    with pytest.raises(ValueError, match="scale must be"):
        random_attention(mask, scale=-1.0)


def test_random_masks_follow_the_kind_of_selector():
    task = make_shortcut_task(6, "xor", seed=0)
    receivable = task.batch.mask
    hard = MaskClassifier(len(task.vocab), selection="hard", k=3)
    masks = random_masks_for(hard)(None, receivable)
    assert torch.all((masks == 0) | torch.isclose(masks, torch.tensor(1 / 3)))
    assert torch.equal((masks > 0).sum(1), torch.full((6,), 3))
    soft = MaskClassifier(len(task.vocab), selection="soft")
    masks = random_masks_for(soft)(None, receivable)
    assert torch.allclose(masks.sum(1), torch.ones(6)) and bool((masks > 0).all())


def test_random_attention_pretraining_freezes_each_part_in_turn(monkeypatch):
    task = make_shortcut_task(64, "keyword", cases=("X only", "Y only"), seed=0)
    torch.manual_seed(0)
    model = MaskClassifier(len(task.vocab), selection="hard", k=1)
    stages = []

    def recording_fit(m, train, dev=None, **kwargs):
        stages.append(
            {
                "selector": any(p.requires_grad for p in m.selector.parameters()),
                "predictor": any(p.requires_grad for p in m.predictor.parameters()),
                "random masks": "attention" in (kwargs.get("forward_kwargs") or {}),
            }
        )
        return fit(m, train, dev, **kwargs)

    monkeypatch.setattr(mitigations, "fit", recording_fit)
    histories = random_attention_pretraining(
        model, task.batch, None, pretrain_epochs=1, selector_epochs=1, finetune_epochs=1, progress=False
    )
    assert list(histories) == [
        "predictor on random masks",
        "selector against the frozen predictor",
        "joint fine-tuning",
    ]
    assert stages == [
        {"selector": False, "predictor": True, "random masks": True},
        {"selector": True, "predictor": False, "random masks": False},
        {"selector": True, "predictor": True, "random masks": False},
    ]
    assert all(p.requires_grad for p in model.parameters())  # nothing left frozen afterwards


def test_random_pretraining_removes_a_code_that_joint_training_learns():
    """The chapter's headline setting, one seed in which joint training codes (slow-ish: ~10 s)."""
    cases = ("X only", "Y only", "Y only", "Y only")
    train, test = (make_shortcut_task(n, "keyword", cases=cases, seed=700 + k) for k, n in enumerate((1500, 500)))
    results = {}
    for variant in ("joint", "random pretraining"):
        torch.manual_seed(1)
        model = MaskClassifier(len(train.vocab), selection="hard", k=1)
        kwargs = dict(batch_size=64, lr=3e-3, seed=1, progress=False)
        if variant == "joint":
            fit(model, train.batch, None, epochs=6, **kwargs)
        else:
            random_attention_pretraining(model, train.batch, None, pretrain_epochs=3, selector_epochs=6, **kwargs)
        selected = model_masks(model, test.batch) > 0
        results[variant] = (
            float((selected & test.neutral).any(1).float().mean()),
            float((selected & test.rationale).any(1).float().mean()),
        )
    assert results["joint"][0] > 0.5, "joint training was expected to park the majority class on A B C D"
    assert results["random pretraining"][0] < 0.05 and results["random pretraining"][1] > 0.95


def test_online_propensity_predicts_before_it_learns_and_weights_rare_combinations_up():
    masks, labels, side = coded_masks(n=4096, agreement=0.8, seed=1)
    propensity = OnlineMaskPropensity(width=4, prior=torch.tensor([0.5, 0.5]), seed=0)
    first = propensity(
        Batch(torch.ones(64, 4, dtype=torch.long), torch.ones(64, 4, dtype=torch.bool), labels[:64]),
        ClassifierOutput(None, masks[:64], None, None),
    )
    assert float(first.max() / first.min()) < 1.5  # an untrained propensity model: nearly equal weights
    for start in range(64, 4096, 64):
        idx = slice(start, start + 64)
        weights = propensity(
            Batch(torch.ones(64, 4, dtype=torch.long), torch.ones(64, 4, dtype=torch.bool), labels[idx]),
            ClassifierOutput(None, masks[idx], None, None),
        )
    rare = side[4032:] != labels[4032:]
    assert float(weights[rare].mean()) > 2.5 * float(weights[~rare].mean())


def test_exploration_only_while_training():
    task = make_shortcut_task(200, "xor", seed=0)
    model = MaskClassifier(len(task.vocab), selection="hard", k=1)
    override = explore(model, 0.5)
    own = torch.zeros_like(task.batch.mask, dtype=torch.float)
    own[:, 0] = 1.0
    model.eval()
    assert torch.equal(override(own, task.batch.mask), own)
    model.train()
    torch.manual_seed(0)
    swapped = (override(own, task.batch.mask)[:, 0] != 1.0).float().mean()
    assert 0.35 < float(swapped) < 0.6  # about half replaced (a random 1-subset can also hit position 0)
    with pytest.raises(ValueError, match="exploration rate"):
        explore(model, 1.0)


def test_mitigations_need_a_selector_predictor_model():
    task = make_shortcut_task(16, "xor", seed=0)
    with pytest.raises(TypeError, match="MaskClassifier"):
        instance_weighting(AttentionClassifier(len(task.vocab), 2), task.batch, epochs=1)


def test_fit_rejects_bad_loss_weights():
    task = make_shortcut_task(32, "xor", seed=0)
    model = MaskClassifier(len(task.vocab))
    with pytest.raises(ValueError, match="one weight per example"):
        fit(model, task.batch, epochs=1, progress=False, loss_weights=lambda batch, out: torch.ones(3))
    with pytest.raises(ValueError, match="finite and non-negative"):
        fit(model, task.batch, epochs=1, progress=False, loss_weights=lambda batch, out: -torch.ones(len(batch)))
