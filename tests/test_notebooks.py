"""Every chapter listed in _toc.yml, executed by papermill in smoke mode, checked through its results file.

Each notebook needs an entry in CHECKS: assertions on values that would be wrong if the chapter were
broken (not just "the file exists").
"""

import json
import math
from pathlib import Path

import papermill
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def toc_notebooks():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [c["file"] for part in toc.get("parts", []) for c in part["chapters"]]
    return [ROOT / f"{f}.ipynb" for f in files if (ROOT / f"{f}.ipynb").is_file()]


def run_notebook(path: Path, out_dir: Path, seed: int = 0) -> dict:
    """Execute ``path`` in smoke mode; return the results file it wrote."""
    out_dir.mkdir(parents=True, exist_ok=True)
    papermill.execute_notebook(
        str(path),
        str(out_dir / path.name),
        cwd=str(path.parent),
        kernel_name="python3",
        parameters={"SMOKE": True, "SEED": seed, "RESULTS_DIR": str(out_dir)},
        progress_bar=False,
        execution_timeout=600,  # seconds per cell: a stalled cell fails the test instead of holding up CI
    )
    return json.loads((out_dir / f"{path.stem}.json").read_text())


def run_claims(path: Path, out_dir: Path) -> list[dict]:
    """The claims a smoke run of ``path`` wrote (next to its results file)."""
    return json.loads((out_dir / f"{path.stem}.claims.json").read_text())


def check_chapter1(r):
    assert r["chapter1_n_test"] == 300  # the smoke slice
    assert r["chapter1_test_accuracy"] >= 0.6, "the classifier did not learn"
    for key in ("uniform_attention_test_accuracy", "permuted_attention_test_accuracy"):
        assert 0.4 <= r[key] <= 1.0
    for key in (
        "attention_loo_rank_correlation",
        "chapter1_attention_gradient_rank_correlation",
        "chapter1_gradient_loo_rank_correlation",
    ):
        assert -1.0 <= r[key] <= 1.0
    assert r["chapter1_attention_gradient_rank_correlation"] > 0, "attention and gradients should agree somewhat"
    # where the most-attended token of a correct prediction falls, by the polarity judge: four shares that add up
    shares = [
        r[f"chapter1_top_attention_{c}_share"]
        for c in ("matching_polarity", "opposite_polarity", "no_polarity", "unknown_polarity")
    ]
    assert all(0 <= s <= 1 for s in shares) and abs(sum(shares) - 1) < 1e-9
    assert 0 < r["chapter1_top_attention_matching_polarity_share"] < 1
    assert 0 <= r["chapter1_top_attention_punctuation_share"] < 0.5
    assert 0 < r["chapter1_top_attention_not_in_lexicon_share"] < 1
    assert 0 < r["chapter1_top_attention_suppresses_share"] < 1
    assert (
        abs(
            r["chapter1_gradient_minus_attention_loo_tau"]
            - (r["chapter1_gradient_loo_rank_correlation"] - r["attention_loo_rank_correlation"])
        )
        < 0.05
    )


def check_violation_chapter(r):
    from attnlab.explain import methods_for
    from attnlab.models import REMOVAL_OPERATORS, AttentionClassifier

    METHODS = methods_for(AttentionClassifier(10))  # every method the chapter's models can run

    assert r["violation_model_test_accuracy"] >= 0.6, "the BiLSTM did not learn"
    for name in METHODS:
        assert 0 <= r[f"violation_{name}"] <= 1
        ops = [r[f"violation_{name}_{op}"] for op in REMOVAL_OPERATORS]
        assert abs(sum(ops) / 3 - r[f"violation_{name}"]) < 1e-9  # the mean is the mean of the operators
        assert f"comprehensiveness_{name}" in r and f"sufficiency_{name}" in r
    # leave-one-out with slice_out *is* the test's delta: it can never violate there
    assert r["violation_leave_one_out_slice_out"] == 0
    # signed methods beat raw attention even for the small smoke models (raw attention vs random needs
    # the full-size models of the book build)
    assert r["violation_attention_x_gradient"] < r["violation_raw_attention"]
    assert r["violation_integrated_gradients"] < r["violation_raw_attention"]
    # Liu et al.'s random baseline is non-negative: it violates when removing a random token raises f_ŷ
    assert r["violation_random"] > 0.2
    assert 0.35 < r["violation_random_signed"] < 0.65  # a coin flip on the sign
    assert r["violation_domains_test_accuracy"] > 0.3  # four classes: chance is 0.25
    # binary model, linear read-out: under att_mask the gradient alone cannot violate (chapter 5's argument)
    assert r["violation_attention_gradient_att_mask"] <= 0.01
    # the per-sentence analysis of the paper's box plots ran
    assert 0 < r["violation_share_top5_is_one_token"] <= 1 and r["violation_test_median_length"] > 1
    for method in ("raw_attention", "attention_x_gradient"):
        assert 0 < r[f"per_instance_n_violating_{method}"] < r["per_instance_n_sentences"]
        for metric in ("comprehensiveness", "sufficiency", "auc_tp", "rank_correlation"):
            assert abs(r[f"per_instance_{metric}_gap_{method}"]) <= 2
    assert 0 <= r["violation_attin_same_top_as_abs_gradient"] <= 1


def check_theory_chapter(r):
    # the exact toy (fractions, no sampling): the shortcut is a perfect code with chance-level content
    assert r["theory_shortcut_joint_accuracy"] == 1.0
    assert abs(r["theory_shortcut_evaluator_accuracy"] - 0.5) < 1e-12
    assert abs(r["theory_shortcut_mask_bits"] - 1.0) < 1e-12
    # the honest selector: same joint accuracy, the content really predicts, positions carry nothing
    assert r["theory_honest_joint_accuracy"] == 1.0 and r["theory_honest_evaluator_accuracy"] == 1.0
    assert abs(r["theory_honest_mask_bits"]) < 1e-12
    # random masks: the joint reader and the evaluator coincide
    assert abs(r["theory_random_joint_accuracy"] - r["theory_random_evaluator_accuracy"]) < 1e-12
    # weighting removes a noisy code and cannot touch a deterministic one (no overlap)
    assert r["theory_noisy_mask_bits"] > 0.5 and abs(r["theory_noisy_weighted_mask_bits"]) < 1e-12
    assert r["theory_deterministic_weighted_joint_accuracy"] == 1.0
    # learned readers (sampled)
    assert r["theory_learned_joint_on_shortcut"] > 0.95, "the joint reader did not learn the code"
    assert abs(r["theory_learned_random_on_shortcut"] - 0.5) < 0.1, "a random-mask reader cannot know the code"
    assert r["theory_learned_random_on_honest"] > 0.6, "the random-mask reader did not learn word content"
    assert abs(r["theory_bits_n10_k1"] - math.log2(10)) < 1e-12
    assert abs(r["theory_bits_n100_k10"] - math.log2(math.comb(100, 10))) < 1e-9


def check_shortcut_experiment(r):
    assert r["headline_n_seeds"] == 2  # smoke mode
    # XOR with a linear head: content alone cannot exceed ~0.75, the jointly trained model must
    assert 0.65 < r["headline_content_only_accuracy"] <= 0.8
    assert r["headline_accuracy"] > r["headline_content_only_accuracy"] + 0.1, "no shortcut learned"
    assert r["headline_neutral_mass"] >= 0.3 and r["headline_probe_accuracy"] >= 0.9
    assert r["headline_seeds_with_shortcut"] >= 1
    # with an MLP head (an honest route) far less attention sits on the neutral tokens
    assert r["control_neutral_mass"] < r["headline_neutral_mass"] - 0.15
    assert r["control_accuracy"] > 0.9
    assert 0 <= r["real_neutral_mass"] <= 1 and r["real_accuracy"] > 0.6
    assert 0.4 <= r["real_probe_accuracy"] <= 1
    # told the answer (a hint only the selector reads), the model codes it on real text
    assert r["real_hint_n_seeds"] == 1
    assert r["real_hint_accuracy"] > r["real_accuracy"] + 0.1, "the hint did not reach the predictor"
    assert r["real_hint_seeds_coding"] == 1 and r["real_hint_probe_accuracy"] >= 0.9


def check_mitigations_chapter(r):
    # smoke mode: joint training alone on 4 seeds, the mitigations on (at most) 2 of its coding seeds
    assert r["joint_code_rate_seeds"] == 4 and 1 <= r["n_seeds"] <= 2 and r["explainer_n_seeds"] == 1
    assert r["joint_accuracy"] >= 0.95 and r["random_pretraining_accuracy"] >= 0.95
    assert r["joint_seeds_coding"] >= 1, "joint training was expected to code in some seeds of the majority-class lab"
    # random pretraining removes the code in every coding seed it is compared on
    assert r["random_pretraining_neutral_mass"] < 0.05 and r["random_pretraining_rationale_precision"] > 0.95
    assert r["random_pretraining_probe_accuracy"] <= r["majority_share"] + 0.02
    assert r["random_pretraining_seeds_improved"] == r["n_seeds"]
    # on a code, inverse propensity weights without exploration up-weight the majority class
    assert r["mitigations_weight_label0"] > 1 > r["mitigations_weight_label1"]
    assert r["weights_without_exploration_rationale_precision"] < 0.5, "the weights alone should not find the key"
    # no honest route (XOR, linear head): taking the code away costs accuracy
    assert r["xor_random_pretraining_accuracy"] < 0.8
    assert r["black_box_accuracy"] > 0.6
    for variant in ("joint", "random_pretraining", "instance_weighting"):
        for k in (5, 10):
            assert 0.5 <= r[f"{variant}_posthoc_accuracy_k{k}"] <= 1
        assert 0 <= r[f"{variant}_neutral_mass"] <= 1 and 0 <= r[f"{variant}_probe_accuracy"] <= 1


def check_explorer(r):
    from attnlab.explain import methods_for
    from attnlab.models import AttentionClassifier

    assert r["explorer_bilstm_test_accuracy"] >= 0.55 and r["explorer_cnn_test_accuracy"] >= 0.55
    # the method menu offers every method the BiLSTM can run
    assert r["explorer_n_methods"] == len(methods_for(AttentionClassifier(10)))
    assert r["explorer_static_panels"] == 6  # 3 sentences x 2 methods rendered for the HTML book
    assert 0 <= r["explorer_raw_attention_examples_violating"] <= 3
    # the gallery shows sentences the run found (the claim gallery_found checks there is at least one)
    assert r["explorer_gallery_attention_suppresses"] >= 0 and r["explorer_gallery_attgrad_sign"] in (0, 1)


def check_transformer_chapter(r):
    # Liu et al.'s depth factor: layers on top of one attention (smoke mode: depths 1 and 8)
    for depth in (1, 8):
        assert 0.4 <= r[f"deep_{depth}_test_accuracy"] <= 1
        for name in (
            "raw_attention",
            "attention_x_gradient",
            "attention_x_value_norm",
            "input_x_gradient",
            "integrated_gradients",
            "random",
        ):
            assert 0 <= r[f"deep_{depth}_violation_{name}"] <= 1
    # the kit's own extension: Transformer layers
    methods = (
        "raw_attention",
        "attention_x_gradient",
        "rollout",
        "genatt",
        "attention_x_value_norm",
        "input_x_gradient",
        "integrated_gradients",
        "random",
        "partial_lrp",
        "transformer_attribution",
        "conservative_lrp",
    )  # the last three: relevance propagation
    assert r["transformer_depth_n_seeds"] == 1  # smoke mode
    for depth in (1, 2, 6):
        assert 0.3 <= r[f"transformer_depth_{depth}_test_accuracy"] <= 1
        for name in methods:
            assert 0 <= r[f"transformer_depth_{depth}_violation_{name}"] <= 1
    # with one layer, AttGrad differentiates the attention that pools the sentence: far below random
    assert r["transformer_depth_1_violation_attention_x_gradient"] < r["transformer_depth_1_violation_random"] - 0.1
    for name in methods:
        assert 0 <= r[f"minilm_violation_{name}"] <= 1
        assert f"minilm_comprehensiveness_{name}" in r and f"minilm_sufficiency_{name}" in r
    assert r["minilm_violation_attention_x_gradient"] < r["minilm_violation_random"]
    # the pretrained encoder sends much of its attention to [CLS]/[SEP] (empty or misplaced maps fail here)
    assert 0.2 < r["minilm_special_token_attention_share"] < 1
    assert 0 < r["minilm_punctuation_attention_share"] < 0.5
    assert r["minilm_uniform_intervention_max_deviation"] < 1e-5, "the intervention did not reach every layer"
    # conservative LRP's budget adds up (to rounding) on the real encoder; plain gradient x input's does not
    assert r["minilm_budget_max_residual"] < 1e-4 and r["minilm_budget_n"] > 0
    assert r["minilm_budget_plain_median_residual"] > 100 * r["minilm_budget_max_residual"]
    assert 0 <= r["minilm_test_accuracy"] <= 1 and r["minilm_n_train"] > 0


def check_closing_chapter(r):
    for model in ("sentiment", "lab"):
        assert r[f"checklist_{model}_n_sentences"] == 300
        assert r[f"checklist_{model}_min_attention_weight"] >= 0  # attention is never negative
        for key in (
            "violation_raw_attention",
            "violation_attention_x_gradient",
            "violation_random",
            "accuracy",
            "uniform_attention_accuracy",
            "permuted_attention_accuracy",
            "mask_probe_accuracy",
            "majority_share",
            "length_only_probe_accuracy",
        ):
            assert 0 <= r[f"checklist_{model}_{key}"] <= 1, key
        assert 1 <= r[f"checklist_{model}_cautions"] <= 6  # the unsigned weights always call for caution
    assert 0 <= r["checklist_lab_neutral_mass"] <= 1 and "checklist_sentiment_neutral_mass" not in r


CHECKS = {
    "explorer": check_explorer,
    "07_can_i_read_this_map": check_closing_chapter,
    "01_attention_as_explanation": check_chapter1,
    "03_shortcut_experiment": check_shortcut_experiment,
    "04_mitigations": check_mitigations_chapter,
    "02_combinatorial_shortcuts": check_theory_chapter,
    "05_faithfulness_violation_test": check_violation_chapter,
    "06_transformers": check_transformer_chapter,
}


@pytest.fixture(scope="session")
def smoke_results(tmp_path_factory):
    cache = {}

    def get(path):
        if path.stem not in cache:
            out = tmp_path_factory.mktemp(path.stem)
            cache[path.stem] = run_notebook(path, out)
            cache[path.stem, "claims"] = run_claims(path, out) if path.stem in CLAIMS_REQUIRED else []
        return cache[path.stem]

    get.claims = lambda path: (get(path), cache[path.stem, "claims"])[1]

    return get


CLAIMS_REQUIRED = [p.stem for p in toc_notebooks() if p.stem[:2].isdigit()]


# One test per notebook (its results, and for a chapter its claims): tests/run.sh spreads the tests
# over the cores, and a notebook's checks in one test run on one worker, so each smoke run happens once.
@pytest.mark.parametrize("path", toc_notebooks(), ids=lambda p: p.stem)
def test_notebook_runs_in_smoke_mode_and_its_results_and_claims_make_sense(path, smoke_results):
    assert path.stem in CHECKS, f"add result checks for {path.stem} to tests/test_notebooks.py"
    results = smoke_results(path)
    assert all(isinstance(v, (int, float)) and math.isfinite(v) for v in results.values())
    CHECKS[path.stem](results)
    if path.stem in CLAIMS_REQUIRED:  # each chapter states its claims (checked in full mode, recorded in smoke)
        claims = smoke_results.claims(path)
        assert len(claims) >= 3, f"{path.stem}: expected >= 3 claims, got {len(claims)}"
        for claim in claims:
            assert set(claim) == {"id", "text", "holds", "numbers"} and claim["numbers"]


def test_same_seed_gives_identical_results(smoke_results, tmp_path):
    path = ROOT / "notebooks" / "01_attention_as_explanation.ipynb"
    assert run_notebook(path, tmp_path / "again") == smoke_results(path)
