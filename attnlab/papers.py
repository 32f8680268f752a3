"""The papers' numbers the kit compares with, each with where it comes from, and the scorecard.

Provenance is part of a number. ``SOURCE_*`` names say where each one was read:

* ``paper table`` / ``paper figure``: Liu et al. (ICML 2022) itself. The gradient-ablation table is the
  paper's ``factor`` table; the depth curves are read off its ``vio_factor`` figure (± 0.01).
* ``authors' notebook``: the public notebooks of Liu et al.'s repository (BierOne/Attention-Faithfulness)
  — not the paper.

Bai et al. (KDD 2021) publish no code, and the kit's source for that paper is its abstract and
introduction only: chapters 2–4 are the kit's reconstruction, and no scorecard row gives a number of theirs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from .results import load_results, load_runs

SOURCE_TABLE = "Liu et al. (2022), paper table (gradient ablation)"
SOURCE_FIGURE = "Liu et al. (2022), paper figure (violation vs depth, read off the plot ± 0.01)"
SOURCE_NOTEBOOK = "Liu et al., authors' public notebook (read from the notebook, not from the paper)"

#: Liu et al.'s gradient-ablation table: violation ratio (mean of the three removal operators).
LIU2022_ABLATION = {
    "Yelp": {"raw_attention": 0.31, "attention_x_gradient": 0.02,
             "attention_x_abs_gradient": 0.15, "attention_x_sign_gradient": 0.16},
    "AgNews": {"raw_attention": 0.28, "attention_x_gradient": 0.03,
               "attention_x_abs_gradient": 0.07, "attention_x_sign_gradient": 0.18},
    "VQA 2.0": {"raw_attention": 0.40, "attention_x_gradient": 0.06,
                "attention_x_abs_gradient": 0.25, "attention_x_sign_gradient": 0.27},
}

#: Liu et al.'s depth figure (``vio_factor.png`` in the authors' repository; panel (a) Yelp, (b) SST):
#: violation ratio against the number of deep layers on top of a single-attention text model (1-8; the
#: decoder's ``--layers`` in the authors' code), not the number of Transformer layers. Every value was
#: read off the plot by the kit's authors (± 0.01), depth by depth. ``random`` there is the authors'
#: non-negative random baseline (uniform in [0, 1)), the kit's ``random`` too. The kit's analogue is
#: chapter 6's ``deep_<L>_violation_<method>`` (:class:`attnlab.models.DeepDecoderClassifier`).
LIU2022_DEPTH = {
    "SST": {
        "random": [.36, .39, .41, .42, .43, .43, .42, .42],
        "raw_attention": [.33, .37, .41, .43, .44, .44, .46, .47],
        "attention_x_value_norm": [.15, .17, .18, .19, .21, .26, .33, .38],
        "input_x_gradient": [.07, .08, .09, .10, .12, .16, .24, .32],
        "integrated_gradients": [.05, .06, .07, .07, .09, .14, .22, .30],
        "attention_x_gradient": [.01, .01, .02, .03, .04, .09, .17, .24],
    },
    "Yelp": {
        "random": [.42, .46, .46, .46, .47, .47, .47, .49],
        "raw_attention": [.33, .38, .38, .36, .37, .38, .40, .42],
        "attention_x_value_norm": [.22, .30, .29, .27, .29, .30, .32, .37],
        "input_x_gradient": [.07, .11, .11, .12, .16, .16, .16, .18],
        "integrated_gradients": [.05, .08, .08, .08, .10, .11, .12, .15],
        "attention_x_gradient": [.02, .07, .06, .06, .08, .08, .10, .13],
    },
}


def liu2022_depth(dataset: str, method: str, depth: int) -> float:
    """The depth figure's reading for ``method`` at ``depth`` (1-8) added layers on ``dataset``."""
    if dataset not in LIU2022_DEPTH:
        raise KeyError(f"no depth curve for {dataset!r}; the figure has {sorted(LIU2022_DEPTH)}")
    curves = LIU2022_DEPTH[dataset]
    if method not in curves:
        raise KeyError(f"no depth curve for {method!r}; the figure has {sorted(curves)}")
    if not isinstance(depth, int) or not 1 <= depth <= 8:
        raise ValueError(f"the figure has depths 1 to 8, got {depth!r}")
    return curves[method][depth - 1]


#: From the authors' notebooks (not the paper): Yelp, LSTM + tanh attention, mean of three operators.
LIU2022_NOTEBOOK_YELP = {"attention_x_gradient": 0.017, "integrated_gradients": 0.015,
                         "raw_attention": 0.263, "random": 0.470, "accuracy": 0.646}
#: From the authors' notebooks (not the paper): VisualBERT on GQA, 10,000 questions.
LIU2022_NOTEBOOK_GQA = {"genatt": 0.196, "transformer_attribution": 0.261, "integrated_gradients": 0.263,
                        "attention_x_gradient": 0.293, "input_x_gradient": 0.409, "rollout": 0.461,
                        "random": 0.50, "partial_lrp": 0.512, "raw_attention": 0.513,
                        "attention_x_value_norm": 0.514}


@dataclass(frozen=True)
class Row:
    """One scorecard row: a kit number (results file + key) and, if one is comparable, a paper's."""

    chapter: str
    key: str
    measure: str
    note: str
    paper: float | None = None
    source: str = ""   # where the paper's number was read (SOURCE_*); empty when there is none
    setting: str = ""  # the paper's dataset and model for that number

    def __post_init__(self):
        if (self.paper is None) != (not self.source) or (self.paper is None) != (not self.setting):
            raise ValueError(f"row {self.key!r}: a paper value needs its source and setting, and only then")


_RANDOM_NOTE = ("Not comparable with the papers' random numbers: the kit's random explanation is signed "
                "(uniform in [-1, 1]) and violates about half the time by construction; Liu et al.'s is "
                "non-negative (uniform in [0, 1)), so it violates exactly when removing a random token raises "
                "the prediction.")
_DEPTH_SETTING = "{dataset}, single-attention text model + {n} deep layer(s) on top (the paper's depth figure)"
_DEPTH_LABELS = {"raw_attention": "raw attention", "attention_x_gradient": "AttGrad",
                 "attention_x_value_norm": "AttIN (α·‖W₁h‖)", "input_x_gradient": "input x gradient",
                 "integrated_gradients": "integrated gradients", "random": "random weights (non-negative, Liu et al.'s)"}
_DEPTH_NOTE = ("The kit: chapter 5's BiLSTM + additive attention with {n} linear layer(s) on top of the attention, "
               "movie sentences, one model.")


def _depth_rows() -> list[Row]:
    """Chapter 6's depth factor beside the paper's depth figure at the same depth: both ends (1 and 8
    layers), both panels, the figure's six methods."""
    return [Row("06_transformers", f"deep_{n}_violation_{method}",
                f"Violation ratio, {label}, {n} layer(s) on top of one attention", _DEPTH_NOTE.format(n=n),
                liu2022_depth(dataset, method, n), SOURCE_FIGURE, _DEPTH_SETTING.format(dataset=dataset, n=n))
            for method, label in _DEPTH_LABELS.items() for n in (1, 8) for dataset in ("SST", "Yelp")]


_MINILM_RANDOM_NOTE = ("Liu et al.'s non-negative baseline (uniform in [0, 1)), as in the authors' notebook: it "
                       "violates when removing a random token raises the prediction.")
_GQA = "VisualBERT on GQA (10,000 questions)"

SCORECARD_ROWS: list[Row] = [
    Row("01_attention_as_explanation", "chapter1_test_accuracy",
        "Test accuracy, BiLSTM + additive attention + GloVe (movie sentences)",
        "No paper uses this corpus; the kit's target is >= 0.78. The authors' notebook reaches 0.646 with the "
        "same architecture on five-class Yelp, a harder task (not comparable in size)."),
    Row("01_attention_as_explanation", "attention_loo_rank_correlation",
        "Kendall τ, attention vs leave-one-out (mean over test sentences)",
        "Jain & Wallace (2019) report weak agreement between attention and leave-one-out / gradient "
        "rankings for BiLSTM models."),
    Row("01_attention_as_explanation", "uniform_attention_test_accuracy",
        "Test accuracy with attention replaced by uniform weights",
        "Wiegreffe & Pinter (2019): on many classification sets uniform attention costs little accuracy."),
    Row("01_attention_as_explanation", "permuted_attention_test_accuracy",
        "Test accuracy with each sentence's attention permuted",
        "Jain & Wallace (2019): permuting attention often changes outputs little."),
    Row("03_shortcut_experiment", "headline_accuracy",
        "Synthetic XOR lab, linear head: accuracy of joint training (content alone: see "
        "headline_content_only_accuracy in the results file)",
        "The kit's reconstruction: Bai et al. (2021) publish neither data nor code for their experiments."),
    Row("03_shortcut_experiment", "headline_neutral_mass",
        "Synthetic XOR lab: attention mass on the neutral tokens A B C D",
        "Bai et al. (2021, abstract and introduction): the mask itself can encode the label, which they "
        "suggest as one cause of attention on uninformative tokens such as [SEP], ',' and '.'."),
    Row("03_shortcut_experiment", "headline_probe_accuracy",
        "Synthetic XOR lab: label predicted from the attention vector alone (held out)",
        "The kit's measurement (in the spirit of Jethani et al. 2021)."),
    Row("03_shortcut_experiment", "real_neutral_mass",
        "Movie sentences with neutral prefix: attention mass on the neutral tokens",
        "No paper number; the chapter's mask-only probe is at the majority rate on these sentences."),
    Row("03_shortcut_experiment", "real_hint_neutral_mass",
        "Same sentences, the selector told the answer by a hint token it alone reads: attention mass on "
        "the neutral tokens",
        "The kit's own setting (no paper number): does a selector that knows more than the words it can "
        "pass on code it?"),
    Row("04_mitigations", "joint_neutral_mass",
        "Which-key lab with a majority class (hard top-1 selector): share of inputs whose selection is a "
        "neutral token, joint training (mean over the seeds where joint training coded; the chapter "
        "measures how often it codes over 20 seeds)",
        "The kit's reconstruction; no paper number."),
    Row("04_mitigations", "random_pretraining_neutral_mass",
        "Same seeds, after random attention pretraining",
        "Bai et al. (2021, abstract) propose random attention pretraining; its form here is the kit's "
        "reconstruction (no paper number)."),
    Row("04_mitigations", "instance_weighting_neutral_mass",
        "Same seeds, after instance weighting (the kit's form: online propensity model + exploration)",
        "Bai et al. (2021, abstract) propose instance weighting; its form here is the kit's reconstruction "
        "(no paper number)."),
    Row("04_mitigations", "random_pretraining_rationale_precision",
        "Same seeds, random attention pretraining: the selected token is the planted key (precision@1)",
        "Joint training: see joint_rationale_precision in the results file."),
    Row("04_mitigations", "joint_posthoc_accuracy_k10",
        "L2X explainer (k = 10) of a word-CNN black box, movie sentences: post-hoc accuracy, joint training",
        "Protocol of Chen et al. (2018); the kit deletes unselected words (L2X pads them in place). No Bai et "
        "al. number is available to the kit."),
    Row("04_mitigations", "random_pretraining_posthoc_accuracy_k10",
        "Same explainer, random attention pretraining", "As above."),
    Row("04_mitigations", "instance_weighting_posthoc_accuracy_k10",
        "Same explainer, instance weighting", "As above."),
    Row("05_faithfulness_violation_test", "violation_raw_attention",
        "Violation ratio, raw attention (BiLSTM + additive, mean of 3 operators)",
        "The authors' notebook gives 0.263 for the same setting; the paper's table is the number to cite.",
        LIU2022_ABLATION["Yelp"]["raw_attention"], SOURCE_TABLE, "Yelp, single-attention text model"),
    Row("05_faithfulness_violation_test", "violation_attention_x_gradient",
        "Violation ratio, attention x gradient (AttGrad)", "The authors' notebook: 0.017.",
        LIU2022_ABLATION["Yelp"]["attention_x_gradient"], SOURCE_TABLE, "Yelp, single-attention text model"),
    Row("05_faithfulness_violation_test", "violation_attention_x_abs_gradient",
        "Violation ratio, ablation α ⊙ |∇α| (magnitude, no sign)", "",
        LIU2022_ABLATION["Yelp"]["attention_x_abs_gradient"], SOURCE_TABLE, "Yelp, single-attention text model"),
    Row("05_faithfulness_violation_test", "violation_attention_x_sign_gradient",
        "Violation ratio, ablation α ⊙ sign(∇α) (sign, no magnitude)", "",
        LIU2022_ABLATION["Yelp"]["attention_x_sign_gradient"], SOURCE_TABLE, "Yelp, single-attention text model"),
    Row("05_faithfulness_violation_test", "violation_integrated_gradients",
        "Violation ratio, integrated gradients", "The paper's table has no IG row for Yelp.",
        LIU2022_NOTEBOOK_YELP["integrated_gradients"], SOURCE_NOTEBOOK, "Yelp, LSTM + tanh attention"),
    Row("05_faithfulness_violation_test", "violation_random",
        "Violation ratio, random weights (Liu et al.'s non-negative baseline, uniform in [0, 1))",
        "The paper's baseline: it violates when removing a random token raises the prediction. The paper's "
        f"depth figure at one layer reads {liu2022_depth('Yelp', 'random', 1):.2f} on Yelp and "
        f"{liu2022_depth('SST', 'random', 1):.2f} on SST (± 0.01).",
        LIU2022_NOTEBOOK_YELP["random"], SOURCE_NOTEBOOK, "Yelp, LSTM + tanh attention"),
    Row("05_faithfulness_violation_test", "violation_random_signed",
        "Violation ratio, signed random weights (uniform in [-1, 1))",
        "A coin flip on the sign: about 0.5 by construction, whatever the model. Not the paper's baseline, so "
        "no paper number."),
    Row("05_faithfulness_violation_test", "violation_attention_x_value_norm",
        "Violation ratio, AttIN α·‖W h‖ (W: the output layer, the first linear layer after the attention, as "
        "in Liu et al.'s code)",
        f"SST reads {liu2022_depth('SST', 'attention_x_value_norm', 1):.2f} at the same point. For two classes "
        "AttIN and α ⊙ |∇α| weigh α by two sizes of the same vector W h (chapter 5).",
        liu2022_depth("Yelp", "attention_x_value_norm", 1), SOURCE_FIGURE,
        "Yelp, single-attention text model, 1 layer (the depth figure's first point)"),
    Row("05_faithfulness_violation_test", "violation_model_test_accuracy",
        "Test accuracy of the BiLSTM + additive model",
        "Five-class Yelp is a harder task than binary movie sentences: not comparable in size.",
        LIU2022_NOTEBOOK_YELP["accuracy"], SOURCE_NOTEBOOK, "Yelp (5 classes), LSTM + tanh attention"),
    *_depth_rows(),
    Row("06_transformers", "minilm_test_accuracy",
        "Test accuracy, MiniLM-L6 fine-tuned one epoch (movie sentences)",
        "No paper uses this model; the kit's target is >= 0.80."),
    Row("06_transformers", "minilm_violation_genatt",
        "Violation ratio, GenAtt, fine-tuned MiniLM",
        "Other model, data and modality (vision and language); compare the ordering. Both differentiate the "
        "class logit (Chefer et al.'s code).",
        LIU2022_NOTEBOOK_GQA["genatt"], SOURCE_NOTEBOOK, _GQA),
    Row("06_transformers", "minilm_violation_attention_x_gradient",
        "Violation ratio, AttGrad (last layer), fine-tuned MiniLM", "Compare the ordering.",
        LIU2022_NOTEBOOK_GQA["attention_x_gradient"], SOURCE_NOTEBOOK, _GQA),
    Row("06_transformers", "minilm_violation_integrated_gradients",
        "Violation ratio, integrated gradients, fine-tuned MiniLM", "Compare the ordering.",
        LIU2022_NOTEBOOK_GQA["integrated_gradients"], SOURCE_NOTEBOOK, _GQA),
    Row("06_transformers", "minilm_violation_rollout",
        "Violation ratio, attention rollout, fine-tuned MiniLM", "Compare the ordering.",
        LIU2022_NOTEBOOK_GQA["rollout"], SOURCE_NOTEBOOK, _GQA),
    Row("06_transformers", "minilm_violation_raw_attention",
        "Violation ratio, raw attention (last layer), fine-tuned MiniLM", "Compare the ordering.",
        LIU2022_NOTEBOOK_GQA["raw_attention"], SOURCE_NOTEBOOK, _GQA),
    Row("06_transformers", "minilm_violation_attention_x_value_norm",
        "Violation ratio, AttIN (last layer, ‖Σ_h A^h v^h W_O^h‖), fine-tuned MiniLM",
        "Compare the ordering. Both follow Kobayashi et al. (2020) as in the authors' code.",
        LIU2022_NOTEBOOK_GQA["attention_x_value_norm"], SOURCE_NOTEBOOK, _GQA),
    Row("06_transformers", "minilm_violation_random",
        "Violation ratio, random weights (non-negative, Liu et al.'s), fine-tuned MiniLM", _MINILM_RANDOM_NOTE,
        LIU2022_NOTEBOOK_GQA["random"], SOURCE_NOTEBOOK, _GQA),
    Row("06_transformers", "minilm_violation_transformer_attribution",
        "Violation ratio, Transformer Attribution (Chefer et al. 2021), fine-tuned MiniLM",
        "Compare the ordering. The kit's relevance of the attention maps uses the conservative LRP-0 rules of "
        "Ali et al. (2022), not Chefer et al.'s LRP-alpha-beta code: a reconstruction.",
        LIU2022_NOTEBOOK_GQA["transformer_attribution"], SOURCE_NOTEBOOK, _GQA),
    Row("06_transformers", "minilm_violation_partial_lrp",
        "Violation ratio, partial LRP (last layer's attention relevance), fine-tuned MiniLM",
        "Compare the ordering. Signed, as in the authors' VisualBERT code; the kit's relevance uses the "
        "conservative LRP-0 rules of Ali et al. (2022), not Chefer et al.'s LRP-alpha-beta: a reconstruction.",
        LIU2022_NOTEBOOK_GQA["partial_lrp"], SOURCE_NOTEBOOK, _GQA),
    Row("06_transformers", "minilm_violation_conservative_lrp",
        "Violation ratio, conservative LRP (Ali et al. 2022), fine-tuned MiniLM",
        "Published after Liu et al.: no paper value. Relevance conserved (it sums to the logit with the biases)."),
    Row("06_transformers", "minilm_special_token_attention_share",
        "Share of MiniLM's attention on [CLS] and [SEP] (mean over layers)",
        "Clark et al. (2019): in BERT large shares of attention go to [SEP], [CLS] and punctuation."),
    Row("06_transformers", "minilm_uniform_attention_accuracy",
        "Test accuracy of MiniLM with uniform attention in every layer",
        "No paper number; compare with chapter 1, where uniform attention costs a single-layer model little."),
]


def scorecard(directory: str | os.PathLike | None = None, *, allow_smoke: bool = False):
    """A table (pandas DataFrame) of every scorecard row: the kit's value beside a paper's, with the
    paper value's source and setting as separate columns.

    The scorecard shows the book's numbers, so it refuses results that a smoke-mode run wrote, or whose
    run description (``<stem>.run.json``) is missing; ``allow_smoke=True`` (tests, quick looks) shows them
    anyway."""
    import pandas as pd

    results = load_results(directory)
    if not allow_smoke:
        runs = load_runs(directory)
        used = sorted({row.chapter for row in SCORECARD_ROWS if row.chapter in results})
        unknown = [stem for stem in used if stem not in runs]
        smoke = [stem for stem in used if runs.get(stem, {}).get("mode") == "smoke"]
        other = [stem for stem in used if runs.get(stem, {}).get("dataset", "movies") != "movies"]
        if unknown or smoke or other:
            raise ValueError(
                "the scorecard shows the book's full-mode numbers, but "
                + "; ".join(filter(None, [f"these chapters ran in smoke mode: {smoke}" if smoke else "",
                                          f"these ran on another dataset than the book's: {other}" if other else "",
                                          f"these have no run description (.run.json): {unknown}" if unknown else ""]))
                + ". Run them in full mode (bash book/build.sh), or pass allow_smoke=True to look anyway.")
    return pd.DataFrame([{
        "chapter": row.chapter, "key": row.key, "measure": row.measure,
        "kit": results.get(row.chapter, {}).get(row.key),
        "paper": row.paper, "source": row.source or "-", "paper's setting": row.setting or "-",
        "note": row.note,
    } for row in SCORECARD_ROWS])
