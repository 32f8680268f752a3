"""The shortcut lab's shared runners and measurement tables (attnlab.shortcuts.runs), on tiny tasks."""

import numpy as np
import pandas as pd
import pytest
import torch

import attnlab.mitigations
import attnlab.shortcuts as shortcuts
import attnlab.shortcuts.lab as lab
import attnlab.synthetic
from attnlab.data import Batch, TextDataset, Vocab, encode
from attnlab.models import AttentionClassifier, MaskClassifier
from attnlab.shortcuts import (
    VARIANTS,
    WithMasks,
    best_single_token_accuracy,
    majority_share,
    make_shortcut_task,
    mask_only_probe,
    measure,
    model_masks,
    neutral_mass,
    one_token_probs,
    run_lab,
    seed_summary,
    seeded_mask_model,
    sentence_lab,
    sentence_task,
    task_splits,
    top_tokens,
    train_evaluator,
    train_on_masks,
    train_variant,
    with_neutral_prefix,
)
from attnlab.train import accuracy, fit

TINY = dict(batch_size=32, lr=3e-3)


@pytest.fixture(scope="module")
def tasks():
    return task_splits("keyword", (120, 40, 80), cases=("X only", "Y only"), n_filler=4, filler_types=5)


def state(module):
    return {name: value.clone() for name, value in module.state_dict().items()}


def same(a, b):
    return all(torch.equal(a[name], b[name]) for name in a)


def test_old_import_paths_are_aliases_of_the_new_homes():
    assert attnlab.synthetic.make_shortcut_task is shortcuts.make_shortcut_task
    assert attnlab.mitigations.instance_weighting is shortcuts.instance_weighting
    assert attnlab.mitigations.model_masks is shortcuts.model_masks
    for alias in (attnlab.synthetic, attnlab.mitigations):
        assert "Moved to" in alias.__doc__ and "0.3" in alias.__doc__


def test_task_splits_draw_each_split_from_its_own_seed():
    train, test = task_splits("xor", (30, 20), first_seed=7)
    reference = make_shortcut_task(20, "xor", seed=8)
    assert len(train) == 30 and torch.equal(test.batch.tokens, reference.batch.tokens)
    assert not torch.equal(train.batch.tokens[:20], test.batch.tokens)
    with pytest.raises(ValueError, match="at least one split"):
        task_splits("xor", ())


def sentences():
    texts = ["a fine film", "dull", "a dull and long film", "fine fine"]
    return TextDataset(
        texts=texts,
        tokens=[t.split() for t in texts],
        labels=[1, 0, 0, 1],
        label_names=("negative", "positive"),
        ratings=[1.0, -1.0, -1.0, 1.0],
    )


def test_sentence_task_finds_the_neutral_prefix_and_names_cases_by_class():
    prefixed = with_neutral_prefix(sentences())
    vocab = Vocab.build(prefixed.tokens)
    task = sentence_task(encode(prefixed, vocab), vocab, prefixed.label_names)
    assert task.rationale is None and task.rule is None
    assert list(task.case) == ["positive", "negative", "negative", "positive"]
    assert torch.equal(task.neutral.sum(1), torch.full((4,), 4)) and bool(task.neutral[:, :4].all())
    head = task[:2]  # slices keep the positions aligned
    assert len(head) == 2 and head.neutral.shape == head.batch.tokens.shape and head.rationale is None
    relabelled = task.with_labels(torch.tensor([0, 0, 1, 1]))
    assert relabelled.batch.labels.tolist() == [0, 0, 1, 1] and relabelled.neutral is task.neutral
    with pytest.raises(ValueError, match="not in the vocabulary"):
        sentence_task(
            encode(sentences(), Vocab.build(sentences().tokens)),
            Vocab.build(sentences().tokens),
            ("negative", "positive"),
        )
    with pytest.raises(ValueError, match="one label per input"):
        task.with_labels(torch.tensor([0, 1]))


def test_sentence_lab_builds_one_vocabulary_from_the_training_split(monkeypatch):
    monkeypatch.setattr(lab, "glove_embeddings", lambda vocab, seed=0: (torch.zeros(len(vocab), 50), 1.0))
    parts = [with_neutral_prefix(sentences())] * 3
    built = sentence_lab(parts, seed=3)
    assert built.embeddings.shape == (len(built.vocab), 50) and "<a>" in built.vocab
    assert len(built.train) == len(built.test) == 4 and built.test.neutral.any()
    with pytest.raises(TypeError, match="three TextDatasets"):
        sentence_lab(parts[:2])


def test_seeded_mask_model_is_fixed_by_its_seed(tasks):
    a, b = (seeded_mask_model(3, tasks[0].vocab, head="mlp") for _ in range(2))
    assert same(state(a), state(b)) and a.config["head"] == "mlp"
    assert not same(state(a), state(seeded_mask_model(4, tasks[0].vocab, head="mlp")))


def test_train_variant_joint_is_plain_fit_and_every_variant_runs(tasks):
    train = tasks[0].batch
    model = train_variant("joint", seeded_mask_model(0, tasks[0].vocab), train, epochs=2, seed=5, **TINY)
    reference = seeded_mask_model(0, tasks[0].vocab)
    fit(reference, train, epochs=2, seed=5, progress=False, **TINY)
    assert same(state(model), state(reference)) and not model.training
    for variant in VARIANTS[1:]:
        trained = train_variant(
            variant, seeded_mask_model(0, tasks[0].vocab, selection="hard"), train, epochs=2, seed=0, **TINY
        )
        assert not trained.training
    with pytest.raises(ValueError, match="unknown training variant"):
        train_variant("joint training", reference, train, epochs=1)


def test_train_on_masks_trains_only_the_predictor_on_the_masks_it_is_given(tasks):
    seen = []

    def first_token(tokens, mask):
        seen.append(tokens.shape)
        masks = torch.zeros(tokens.shape)
        masks[:, 0] = 1.0
        return masks

    model = seeded_mask_model(0, tasks[0].vocab)
    selector, predictor = state(model.selector), state(model.predictor)
    train_on_masks(model, tasks[0].batch, first_token, epochs=1, **TINY)
    assert seen and same(state(model.selector), selector) and not same(state(model.predictor), predictor)
    # the first token is always the neutral A: the predictor can only learn the prior
    assert accuracy(WithMasks(model, first_token), tasks[2].batch) == pytest.approx(
        majority_share(tasks[2].batch.labels), abs=0.15
    )
    with pytest.raises(TypeError, match="wraps a MaskClassifier"):
        WithMasks(AttentionClassifier(10, 2), first_token)


def test_train_evaluator_leaves_the_selector_alone(tasks):
    model = seeded_mask_model(0, tasks[0].vocab, selection="hard", k=1, head="mlp")
    selector = state(model.selector)
    evaluator = train_evaluator(model, tasks[0].batch, k=1, epochs=3, **TINY)
    assert evaluator is model and not model.training and same(state(model.selector), selector)


def test_measure_agrees_with_the_single_measurements(tasks):
    train, _, test = tasks
    model = train_variant("joint", seeded_mask_model(0, train.vocab), train.batch, epochs=2, **TINY)
    masks = model_masks(model, test.batch)
    row = measure(model, train, test, k=1, by_case=True, probe_seed=2)
    assert list(row) == [
        "accuracy",
        "neutral mass",
        "neutral mass | X only",
        "neutral mass | Y only",
        "mask-only probe",
        "rationale precision@1",
    ]
    assert row["accuracy"] == accuracy(model, test.batch)
    assert row["neutral mass"] == pytest.approx(float(neutral_mass(masks, test.neutral).mean()))
    assert row["mask-only probe"] == mask_only_probe(
        model_masks(model, train.batch), train.batch.labels, masks, test.batch.labels, seed=2
    )
    evaluator = train_evaluator(seeded_mask_model(1, train.vocab, head="mlp"), train.batch, k=1, epochs=1, **TINY)
    black_box = AttentionClassifier(len(train.vocab), 2).eval()
    full = measure(model, train, test, evaluator=evaluator, black_box=black_box, probe=False)
    assert "mask-only probe" not in full and {"post-hoc accuracy", "post-hoc accuracy (black box)"} <= set(full)
    with pytest.raises(TypeError, match="must be a ShortcutTask"):
        measure(model, train.batch, test)


def test_run_lab_makes_one_reproducible_row_per_seed_and_variant(tasks):
    options = dict(
        variants=["joint", "random pretraining"],
        model={"selection": "hard"},
        label={"setting": "tiny"},
        epochs=2,
        **TINY,
    )
    runs = run_lab(tasks, [0, 1], **options)
    table = runs.table
    assert list(table[["setting", "variant", "seed"]].itertuples(index=False, name=None)) == [
        ("tiny", "joint", 0),
        ("tiny", "random pretraining", 0),
        ("tiny", "joint", 1),
        ("tiny", "random pretraining", 1),
    ]
    assert (
        set(runs.models)
        == set(runs.masks)
        == {("joint", 0), ("random pretraining", 0), ("joint", 1), ("random pretraining", 1)}
    )
    assert runs.masks["joint", 1].shape == tasks[2].batch.tokens.shape
    # the row of a model is what measure says of it (probe seeded by the run's seed)
    assert table.iloc[2, 3:].to_dict() == measure(runs.models["joint", 1], tasks[0], tasks[2], probe_seed=1)
    pd.testing.assert_frame_equal(table, run_lab(tasks, [0, 1], **options).table)
    without_dev = run_lab((tasks[0], tasks[2]), [0], epochs=1, **TINY).table
    assert len(without_dev) == 1
    with pytest.raises(ValueError, match="variants must be"):
        run_lab(tasks, [0], variants=["joint", "fine-tuning"], epochs=1)
    with pytest.raises(ValueError, match="tasks must be"):
        run_lab(tasks[:1], [0], epochs=1)
    with pytest.raises(ValueError, match="at least one seed"):
        run_lab(tasks, [], epochs=1)


def test_seed_summary_reports_mean_and_spread_of_numeric_columns():
    frame = pd.DataFrame(
        {"variant": ["a", "a", "b", "b"], "seed": [0, 1, 0, 1], "note": list("wxyz"), "accuracy": [0.5, 0.7, 1.0, 1.0]}
    )
    summary = seed_summary(frame)
    assert list(summary.columns) == ["a", "b"] and list(summary.index) == ["accuracy"]
    assert summary.loc["accuracy", "a"] == "0.6 ± 0.141" and summary.loc["accuracy", "b"] == "1.0 ± 0.0"
    with pytest.raises(ValueError, match="no column 'setting'"):
        seed_summary(frame, by="setting")


def test_majority_share():
    assert majority_share(torch.tensor([0, 0, 0, 1])) == 0.75 and majority_share(torch.tensor([1, 1])) == 1.0
    with pytest.raises(ValueError, match="undefined"):
        majority_share(torch.tensor([], dtype=torch.long))


def test_one_token_probs_and_the_best_single_token():
    torch.manual_seed(0)
    model = MaskClassifier(6, head="linear", embed_dim=4).eval()
    with torch.no_grad():
        model.predictor.embedding.weight.zero_()
        model.predictor.embedding.weight[2, 0] = 5.0  # token 2 says "class 1", token 3 "class 0"
        model.predictor.embedding.weight[3, 0] = -5.0
        model.predictor.head.weight.zero_()
        model.predictor.head.bias.zero_()
        model.predictor.head.weight[1, 0] = 1.0
    ids = torch.tensor([2, 3, 4])
    probs = one_token_probs(model, ids)
    one_hot = Batch.from_ids([[2], [3], [4]])
    direct = model(one_hot.tokens, one_hot.mask, attention=torch.ones(3, 1)).probs
    assert torch.allclose(probs, direct) and probs[0, 1] > 0.9 and probs[1, 0] > 0.9
    data = Batch.from_ids([[4, 2, 5], [3, 4], [5, 4]], labels=[1, 0, 1])
    # the most telling token decides: right, right, and a coin flip read as class 0 (argmax of a tie)
    assert best_single_token_accuracy(model, data.tokens, data.mask, data.labels) == pytest.approx(2 / 3)
    attention = torch.tensor([[0.1, 0.8, 0.1], [0.3, 0.7, 0.0], [1.0, 0.0, 0.0]])
    assert top_tokens(data.tokens, attention).tolist() == [2, 4, 5]
    with pytest.raises(TypeError, match="selector-predictor"):
        one_token_probs(AttentionClassifier(6, 2), ids)


def test_measure_columns_by_case_follow_the_task_cases():
    task = make_shortcut_task(60, "xor", n_filler=4, filler_types=5, seed=1)
    model = seeded_mask_model(0, task.vocab)
    row = measure(model, task, task, by_case=True, probe=False)
    assert [key for key in row if key.startswith("neutral mass |")] == [
        f"neutral mass | {case}" for case in sorted(np.unique(task.case))
    ]


def test_examples_show_sequences_cases_and_labels():
    task = make_shortcut_task(10, "xor", n_filler=4, filler_types=5, seed=2)
    table = task.examples(3)
    assert list(table.columns) == ["sequence", "keys present", "label (xor)"] and len(table) == 3
    assert table["sequence"][0].startswith("A B C D ") and list(table["keys present"]) == list(task.case[:3])
    assert len(task.examples(50)) == 10
