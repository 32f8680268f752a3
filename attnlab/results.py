"""Where chapters write their headline numbers, and the reproduction scorecard built from them.

Each executed chapter writes one flat JSON object of numbers to ``<results dir>/<notebook stem>.json``.
The default results directory is ``results/`` at the root of the kit's repository, found by walking up
from the working directory (the book build, papermill and the tests all run notebooks from different
places); outside a checkout (e.g. in Colab) it is ``./results``. ``$ATTNLAB_RESULTS_DIR`` overrides the
default (the benchmark uses it so that its book build leaves ``results/`` alone).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np

from ._io import atomic_write


def repo_root(start: str | os.PathLike | None = None) -> Path | None:
    """The kit's repository root (the folder holding ``_toc.yml`` and ``attnlab/``), or None."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "_toc.yml").is_file() and (folder / "attnlab").is_dir():
            return folder
    return None


def results_dir(directory: str | os.PathLike | None = None) -> Path:
    """``directory`` if given, else ``$ATTNLAB_RESULTS_DIR`` if set, else ``results/`` at the
    repository root (or ``./results`` outside a checkout)."""
    if directory:
        return Path(directory)
    if os.environ.get("ATTNLAB_RESULTS_DIR"):
        return Path(os.environ["ATTNLAB_RESULTS_DIR"])
    root = repo_root()
    return (root if root else Path.cwd()) / "results"


def save_results(name: str, metrics: dict, directory: str | os.PathLike | None = None) -> Path:
    """Write ``metrics`` (a flat dict of finite numbers) to ``<directory>/<name>.json`` atomically."""
    if not name or "/" in name or name.endswith(".json"):
        raise ValueError(f"name must be a notebook stem such as '01_attention_as_explanation', got {name!r}")
    clean = {}
    for key, value in metrics.items():
        if not isinstance(key, str):
            raise TypeError(f"result keys must be strings, got {key!r}")
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise TypeError(f"result {key!r} must be a number, got {type(value).__name__}: {value!r}")
        if not math.isfinite(float(value)):
            raise ValueError(f"result {key!r} is not finite ({value}); a chapter must not report it")
        clean[key] = int(value) if isinstance(value, (int, np.integer)) else float(value)
    path = results_dir(directory) / f"{name}.json"
    with atomic_write(path, "w", encoding="utf-8") as handle:
        json.dump(clean, handle, indent=2, sort_keys=True)
        handle.write("\n")
    return path


def load_results(directory: str | os.PathLike | None = None) -> dict[str, dict]:
    """Every results file of a directory: ``{notebook stem: {key: number}}``."""
    folder = results_dir(directory)
    return {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.json"))}


# --------------------------------------------------------------------------------------------------
# The reproduction scorecard: the kit's numbers beside the papers'
# --------------------------------------------------------------------------------------------------

#: One row per headline number: (results file, key, what it measures, the papers' number or None,
#: what the papers say). Chapters add their rows here when they land.
SCORECARD_ROWS: list[tuple[str, str, str, float | None, str]] = [
    ("01_attention_as_explanation", "chapter1_test_accuracy",
     "Test accuracy, BiLSTM + additive attention + GloVe (movie sentences)", None,
     "No paper uses this corpus. The kit's target is >= 0.78; Liu et al. (2022) report 0.646 for "
     "the same architecture on five-class Yelp, a harder task."),
    ("01_attention_as_explanation", "attention_loo_rank_correlation",
     "Kendall τ, attention vs leave-one-out (mean over test sentences)", None,
     "Jain & Wallace (2019) report weak agreement between attention and leave-one-out / gradient "
     "rankings for BiLSTM models."),
    ("01_attention_as_explanation", "uniform_attention_test_accuracy",
     "Test accuracy with attention replaced by uniform weights", None,
     "Wiegreffe & Pinter (2019): on many classification sets uniform attention costs little accuracy."),
    ("01_attention_as_explanation", "permuted_attention_test_accuracy",
     "Test accuracy with each sentence's attention permuted", None,
     "Jain & Wallace (2019): permuting attention often changes outputs little."),
    ("03_shortcut_experiment", "headline_accuracy",
     "Synthetic XOR lab, linear head: accuracy of joint training (content alone: about 0.75)", None,
     "Reconstructed experiment: Bai et al. (2021) publish neither the data nor numbers of their "
     "intuitive experiment."),
    ("03_shortcut_experiment", "headline_neutral_mass",
     "Synthetic XOR lab: attention mass on the neutral tokens A B C D", None,
     "Bai et al. (2021): attention lands on uninformative tokens because their position encodes the label."),
    ("03_shortcut_experiment", "headline_probe_accuracy",
     "Synthetic XOR lab: label predicted from the attention vector alone (held out)", None,
     "Reconstructed measurement (in the spirit of Jethani et al. 2021)."),
    ("03_shortcut_experiment", "real_neutral_mass",
     "Movie sentences with neutral prefix: attention mass on the neutral tokens", None,
     "No paper number; the kit's pilots found little on short sentences."),
    ("03_shortcut_experiment", "real_hint_neutral_mass",
     "Same sentences, the selector told the answer by a hint token it alone reads: attention mass on "
     "the neutral tokens", None,
     "The kit's own setting (no paper number): does a selector that knows more than the words it can "
     "pass on code it?"),
    ("04_mitigations", "joint_neutral_mass",
     "Which-key lab with a majority class (hard top-1 selector): share of inputs whose selection is a "
     "neutral token, joint training", None,
     "Reconstructed experiment; Bai et al. (2021) publish no numbers for it."),
    ("04_mitigations", "random_pretraining_neutral_mass",
     "Same, after random attention pretraining", None,
     "Bai et al. (2021): random attention pretraining mitigates combinatorial shortcuts (no comparable number)."),
    ("04_mitigations", "instance_weighting_neutral_mass",
     "Same, after instance weighting (the kit's form: online propensity model + exploration)", None,
     "Bai et al. (2021) propose instance weighting; its exact form here is the kit's reconstruction."),
    ("04_mitigations", "random_pretraining_rationale_precision",
     "Same, random attention pretraining: the selected token is the planted key (precision@1)", None,
     "Joint training: see joint_rationale_precision in the results file."),
    ("04_mitigations", "joint_posthoc_accuracy_k10",
     "L2X explainer (k = 10) of a word-CNN black box, movie sentences: post-hoc accuracy, joint training",
     None, "Protocol of Chen et al. (2018); Bai et al. (2021) report on other (longer) datasets — not comparable."),
    ("04_mitigations", "random_pretraining_posthoc_accuracy_k10",
     "Same explainer, random attention pretraining", None, "As above."),
    ("04_mitigations", "instance_weighting_posthoc_accuracy_k10",
     "Same explainer, instance weighting", None, "As above."),
    ("05_faithfulness_violation_test", "violation_raw_attention",
     "Violation ratio, raw attention (BiLSTM + additive, mean of 3 operators)", 0.263,
     "Liu et al. (2022), Yelp, LSTM + tanh attention, mean of the three operators."),
    ("05_faithfulness_violation_test", "violation_attention_x_gradient",
     "Violation ratio, attention x gradient (AttGrad)", 0.017, "Liu et al. (2022), same setting."),
    ("05_faithfulness_violation_test", "violation_integrated_gradients",
     "Violation ratio, integrated gradients", 0.015, "Liu et al. (2022), same setting."),
    ("05_faithfulness_violation_test", "violation_random",
     "Violation ratio, random weights", 0.470, "Liu et al. (2022), same setting."),
    ("05_faithfulness_violation_test", "violation_attention_x_abs_gradient",
     "Violation ratio, ablation α ⊙ |∇α|", 0.15, "Liu et al. (2022), Yelp (ablation table)."),
    ("05_faithfulness_violation_test", "violation_attention_x_sign_gradient",
     "Violation ratio, ablation α ⊙ sign(∇α)", 0.16, "Liu et al. (2022), Yelp (ablation table)."),
    ("05_faithfulness_violation_test", "violation_model_test_accuracy",
     "Test accuracy of the BiLSTM + additive model", 0.646,
     "Liu et al. (2022), Yelp (five classes, a harder task): not comparable in size."),
    ("06_transformers", "depth_1_violation_attention_x_gradient",
     "Violation ratio, AttGrad (last layer), 1-layer Transformer", 0.01,
     "Liu et al. (2022), SST, depth figure, 1 layer (read off the plot)."),
    ("06_transformers", "depth_6_violation_attention_x_gradient",
     "Violation ratio, AttGrad (last layer), 6-layer Transformer", 0.24,
     "Liu et al. (2022), SST, depth figure, 8 layers (read off the plot): violation rises with depth."),
    ("06_transformers", "depth_1_violation_raw_attention",
     "Violation ratio, raw attention, 1-layer Transformer", 0.33,
     "Liu et al. (2022), SST, depth figure, 1 layer (read off the plot)."),
    ("06_transformers", "depth_6_violation_raw_attention",
     "Violation ratio, raw attention, 6-layer Transformer", 0.47,
     "Liu et al. (2022), SST, depth figure, 8 layers: raw attention no better than random from 3 layers on."),
    ("06_transformers", "depth_6_violation_random",
     "Violation ratio, random weights, 6-layer Transformer", 0.42,
     "Liu et al. (2022), SST, depth figure, 8 layers (read off the plot)."),
    ("06_transformers", "minilm_test_accuracy",
     "Test accuracy, MiniLM-L6 fine-tuned one epoch (movie sentences)", None,
     "No paper uses this model; the kit's target is >= 0.80 (a pilot: 8,000 sentences, 0.829)."),
    ("06_transformers", "minilm_violation_genatt",
     "Violation ratio, GenAtt, fine-tuned MiniLM", 0.196, "Liu et al. (2022), VisualBERT on GQA."),
    ("06_transformers", "minilm_violation_attention_x_gradient",
     "Violation ratio, AttGrad (last layer), fine-tuned MiniLM", 0.293, "Liu et al. (2022), VisualBERT on GQA."),
    ("06_transformers", "minilm_violation_integrated_gradients",
     "Violation ratio, integrated gradients, fine-tuned MiniLM", 0.263, "Liu et al. (2022), VisualBERT on GQA."),
    ("06_transformers", "minilm_violation_rollout",
     "Violation ratio, attention rollout, fine-tuned MiniLM", 0.461, "Liu et al. (2022), VisualBERT on GQA."),
    ("06_transformers", "minilm_violation_raw_attention",
     "Violation ratio, raw attention (last layer), fine-tuned MiniLM", 0.513, "Liu et al. (2022), VisualBERT on GQA."),
    ("06_transformers", "minilm_violation_random",
     "Violation ratio, random weights, fine-tuned MiniLM", 0.50, "Liu et al. (2022), VisualBERT on GQA (about 0.50)."),
    ("06_transformers", "minilm_special_token_attention_share",
     "Share of MiniLM's attention on [CLS] and [SEP] (mean over layers)", None,
     "Clark et al. (2019): in BERT large shares of attention go to [SEP], [CLS] and punctuation."),
    ("06_transformers", "minilm_uniform_attention_accuracy",
     "Test accuracy of MiniLM with uniform attention in every layer", None,
     "No paper number; compare with chapter 1, where uniform attention costs a single-layer model little."),
]


def scorecard(directory: str | os.PathLike | None = None):
    """A table (pandas DataFrame) of every scorecard row: the kit's value beside the papers'."""
    import pandas as pd

    results = load_results(directory)
    rows = []
    for stem, key, what, paper, note in SCORECARD_ROWS:
        value = results.get(stem, {}).get(key)
        rows.append({"chapter": stem, "key": key, "measure": what, "kit": value,
                     "paper": paper, "what the papers say": note})
    return pd.DataFrame(rows)
