"""Combinatorial shortcuts, measured and mitigated: the lab of chapters 3 and 4.

=================  ==================================================================================
module             holds
=================  ==================================================================================
``lab``            the synthetic lab: token sequences with a planted rationale and label-independent
                   neutral tokens under four label rules; real sentences with a neutral prefix or an
                   answer hint for the selector, as lab tasks
``measures``       the shortcut measurements: neutral mass, mask-only probe, rationale precision,
                   post-hoc accuracy (independent evaluator, or a black box as in L2X)
``mitigations``    the two mitigations of Bai et al. (2021): random attention pretraining and instance
                   weighting (with exploration), and the inverse propensity weights
``runs``           the shared runners: a seeded model trained by any procedure of the lab, measured,
                   over seeds and variants, into one table; an evaluator trained on random masks
=================  ==================================================================================

Every public name is available here, e.g. ``attnlab.shortcuts.neutral_mass`` or
``attnlab.shortcuts.run_lab``.
"""

from .lab import (
    CASES,
    LABEL_RULES,
    NEUTRAL_PREFIX,
    NEUTRAL_TOKENS,
    SentenceLab,
    ShortcutTask,
    hint_tokens,
    key_names,
    make_shortcut_task,
    sentence_lab,
    sentence_task,
    shortcut_vocab,
    task_splits,
    with_answer_hint,
    with_neutral_prefix,
)
from .measures import (
    best_single_token_accuracy,
    blackbox_posthoc_accuracy,
    mask_only_probe,
    mean_by_group,
    neutral_mass,
    one_token_probs,
    posthoc_accuracy,
    random_k_override,
    random_k_subsets,
    rationale_precision_recall,
    top_k_mask,
    top_tokens,
    train_mask_probe,
    uniform_over,
)
from .mitigations import (
    OnlineMaskPropensity,
    explore,
    instance_weighting,
    instance_weights,
    inverse_propensity_weights,
    random_attention,
    random_attention_pretraining,
    random_masks_for,
)
from .runs import (
    VARIANTS,
    LabRuns,
    WithMasks,
    majority_share,
    measure,
    model_masks,
    run_lab,
    seed_summary,
    seeded_mask_model,
    train_evaluator,
    train_on_masks,
    train_variant,
)

__all__ = [
    # the lab
    "CASES",
    "LABEL_RULES",
    "NEUTRAL_PREFIX",
    "NEUTRAL_TOKENS",
    "SentenceLab",
    "ShortcutTask",
    "hint_tokens",
    "key_names",
    "make_shortcut_task",
    "sentence_lab",
    "sentence_task",
    "shortcut_vocab",
    "task_splits",
    "with_answer_hint",
    "with_neutral_prefix",
    # the measurements
    "best_single_token_accuracy",
    "blackbox_posthoc_accuracy",
    "mask_only_probe",
    "mean_by_group",
    "neutral_mass",
    "one_token_probs",
    "posthoc_accuracy",
    "random_k_override",
    "random_k_subsets",
    "rationale_precision_recall",
    "top_k_mask",
    "top_tokens",
    "train_mask_probe",
    "uniform_over",
    # the mitigations
    "OnlineMaskPropensity",
    "explore",
    "instance_weighting",
    "instance_weights",
    "inverse_propensity_weights",
    "random_attention",
    "random_attention_pretraining",
    "random_masks_for",
    # the runners and tables
    "VARIANTS",
    "LabRuns",
    "WithMasks",
    "majority_share",
    "measure",
    "model_masks",
    "run_lab",
    "seed_summary",
    "seeded_mask_model",
    "train_evaluator",
    "train_on_masks",
    "train_variant",
]
