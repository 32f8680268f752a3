"""Faithfulness measurements: do explanation weights agree with what the model actually does?

All functions are batched: they take ``(B, T)`` weight tensors and the ``(B, T)`` mask of real tokens
and compare every sentence at once, without a Python loop over sentences. Functions that run a model
move their inputs to the model's device (:func:`attnlab.device.model_device`) and return their tensors
on the device of ``tokens``.

==============  ======================================================================================
module          holds
==============  ======================================================================================
``removal``     the top token, the top fraction, and a model run on many perturbed copies of a batch
``violation``   the faithfulness violation test of Liu et al. (2022) and its report
``metrics``     comprehensiveness, sufficiency, AUC-TP, their per-sentence values, decision flips
``ranks``       rank correlation of two weightings, sentence by sentence
==============  ======================================================================================
"""

from .metrics import (
    AUC_TP_FRACTIONS,
    COMPREHENSIVENESS_FRACTIONS,
    SUFFICIENCY_FRACTIONS,
    auc_tp,
    comprehensiveness,
    decision_flip_rate,
    per_sentence_metrics,
    sufficiency,
)
from .ranks import rank_correlation
from .removal import probs_after_removal, top_feature, top_fraction_mask
from .violation import ViolationReport, violation_test

__all__ = [
    "AUC_TP_FRACTIONS",
    "COMPREHENSIVENESS_FRACTIONS",
    "SUFFICIENCY_FRACTIONS",
    "ViolationReport",
    "auc_tp",
    "comprehensiveness",
    "decision_flip_rate",
    "per_sentence_metrics",
    "probs_after_removal",
    "rank_correlation",
    "sufficiency",
    "top_feature",
    "top_fraction_mask",
    "violation_test",
]
