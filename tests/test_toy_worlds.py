"""Chapter 2's toy worlds: the exact enumerations agree with the derivations, the sampled world is
reproducible, and a reader trained on shortcut masks learns the code."""

from fractions import Fraction
from itertools import combinations, product

import numpy as np
import pytest
import torch

from attnlab.toy_worlds import (
    SampledWorld,
    best_reader,
    content,
    evaluator,
    mask_information_bits,
    measure_world,
    prob_of_truth,
    reveal,
    train_reader,
    weight_by_label_given_mask,
    world,
)

INPUTS = [("A", "B") + words for words in product(("good", "bad"), repeat=3)]


def majority(x):
    return int(sum(w == "good" for w in x[2:]) > 1)


def shortcut(x):
    return {(0,): Fraction(1)} if majority(x) else {(1,): Fraction(1)}


def honest(x):
    return {(x.index("good" if majority(x) else "bad"),): Fraction(1)}


def random_one(x):
    subsets = list(combinations(range(len(x)), 1))
    return {s: Fraction(1, len(subsets)) for s in subsets}


def noisy(eps):
    return lambda x: {(0,): 1 - eps, (1,): eps} if majority(x) else {(1,): 1 - eps, (0,): eps}


def test_world_is_a_distribution_and_views_see_what_they_should():
    rows = world(random_one, INPUTS, majority)
    assert len(rows) == 8 * 5 and sum(r[-1] for r in rows) == 1
    x = INPUTS[0]
    assert content(x, (2, 4)) == ("good", "good") and reveal(x, (1,)) == ((1,), ("B",))
    with pytest.raises(ValueError, match="at least one input"):
        world(random_one, [], majority)
    with pytest.raises(ValueError, match="no probability"):
        best_reader([])


def test_shortcut_is_a_code_the_evaluator_cannot_read():
    numbers = measure_world(world(shortcut, INPUTS, majority))
    assert numbers["joint_accuracy"] == 1 and numbers["joint_prob_true"] == 1
    assert numbers["evaluator_accuracy"] == 0.5 and numbers["evaluator_prob_true"] == 0.5
    assert abs(numbers["mask_bits"] - 1) < 1e-12
    # with A at both positions, a reader of the content alone cannot read the code; a reader of positions can
    same_token = world(shortcut, [("A", "A") + x[2:] for x in INPUTS], majority)
    assert best_reader(same_token, view=content)[0] == Fraction(1, 2) and best_reader(same_token)[0] == 1


def test_honest_selector_and_random_masks():
    honest_numbers = measure_world(world(honest, INPUTS, majority))
    assert honest_numbers["joint_accuracy"] == 1 and honest_numbers["evaluator_accuracy"] == 1
    assert abs(honest_numbers["mask_bits"]) < 1e-12 and honest_numbers["evaluator_prob_true"] < 0.9
    rows = world(random_one, INPUTS, majority)
    assert best_reader(rows) == evaluator(rows)  # exactly equal under random masks
    assert mask_information_bits(rows) == 0


def test_weighting_removes_a_noisy_code_but_not_a_deterministic_one():
    rows = world(noisy(Fraction(1, 10)), INPUTS, majority)
    weighted = weight_by_label_given_mask(rows)
    assert mask_information_bits(rows) > 0.5 and abs(mask_information_bits(weighted)) < 1e-12
    assert best_reader(weighted)[0] == Fraction(1, 2)
    certain = weight_by_label_given_mask(world(shortcut, INPUTS, majority))
    assert best_reader(certain)[0] == 1 and abs(mask_information_bits(certain) - 1) < 1e-12


def test_sampled_world_is_reproducible_and_its_selectors_do_what_they_say():
    a, b = SampledWorld(10, seed=3), SampledWorld(10, seed=3)
    ids, y = a.sample(500)
    assert np.array_equal(ids, b.sample(500)[0]) and ids.shape == (500, 10)
    assert (ids[:, 0] == 0).all() and (ids[:, 1] == 1).all() and set(np.unique(y)) == {0, 1}
    assert np.array_equal(a.select("shortcut", ids, y), np.where(y == 1, 0, 1))
    honest_positions = a.select("honest", ids, y)
    signs = a.polarity[ids[np.arange(500), honest_positions]]
    decided = a.polarity[ids].sum(1) != 0
    assert (signs[decided] == np.where(y == 1, 1, -1)[decided]).all()
    x = a.features(ids, honest_positions)
    assert x.shape == (500, len(a.vocab) + 10) and torch.equal(x.sum(1), torch.full((500,), 2.0))
    assert len(a.feature_names()) == x.shape[1]
    continued = SampledWorld(6, seed=a.rng)  # shares the generator
    assert continued.rng is a.rng
    with pytest.raises(ValueError, match="unknown selector"):
        a.select("oracle", ids, y)
    with pytest.raises(ValueError, match="n_positions"):
        SampledWorld(2)


def test_a_reader_trained_on_shortcut_masks_learns_the_code():
    toy = SampledWorld(10, seed=0)
    ids, y = toy.sample(2000)
    joint = train_reader(toy.features(ids, toy.select("shortcut", ids, y)), y, steps=100)
    test_ids, test_y = toy.sample(500)
    assert prob_of_truth(joint, toy.features(test_ids, toy.select("shortcut", test_ids, test_y)), test_y) > 0.95
    untrained = train_reader(toy.features(ids, toy.select("shortcut", ids, y)), y, steps=0)
    assert prob_of_truth(untrained, toy.features(test_ids, toy.select("random", test_ids, test_y)), test_y) == 0.5
