"""Explanation methods behind one signature, in one registry (:mod:`attnlab.explain.registry`).

==========================  ====================================================================
module                      holds
==========================  ====================================================================
``registry``                :func:`register`, :func:`methods_for`, :func:`explain`,
                            :func:`explain_all`; each method's metadata (sign, needs, reference)
``gradients``               gradient norm, input × gradient, integrated gradients (every model)
``removal``                 leave-one-out (every model with the removal operators)
``baselines``               the random baselines (unsigned: Liu et al.'s; signed)
``attention``               pooled-attention models: raw attention, AttGrad and its ablations, AttIN
``layered``                 Transformers: raw attention, AttGrad, rollout, GenAtt, AttIN per layer
``relevance``               Transformers: conservative LRP, partial LRP, Transformer Attribution
``attention_share``         where a Transformer's attention goes ([CLS], [SEP], punctuation)
==========================  ====================================================================

Importing the package registers every method; ``methods_for(model)`` lists those a model can run.
"""

# the method modules register themselves on import (the order is the order of methods_for)
from .attention import attention_x_gradient, attention_x_value_norm, first_readout_weight, raw_attention
from .attention_share import attention_share_by_layer, is_punctuation, punctuation_mask
from .baselines import random_signed_weights, random_weights
from .gradients import gradient_norm, input_x_gradient, integrated_gradients
from .layered import attentions_and_gradients, genatt_from, rollout_from, value_norms_from
from .registry import (
    METHODS,
    ExplanationMethod,
    Method,
    explain,
    explain_all,
    is_signed,
    methods_for,
    predicted_class,
    register,
    target_prob,
    unregister,
)
from .relevance import conservative_relevance, logit_budget
from .removal import leave_one_out

#: The methods of Liu et al.'s depth figure ("Num. of deep layers"), for
#: :class:`~attnlab.models.DeepDecoderClassifier`: RawAtt, AttGrad, AttIN, InputGrad, IG and Random.
#: AttIN there is the authors' ``α_t · ‖W_1 h_t‖`` with ``W_1`` the first layer after the attention
#: (``AttnDecoder.get_att_norm``): these models have no value transform of their own, so the first
#: linear map that reads the pooled vector plays that role. Random is the authors' non-negative baseline.
DEPTH_FIGURE_METHODS = (
    "raw_attention",
    "attention_x_gradient",
    "attention_x_value_norm",
    "input_x_gradient",
    "integrated_gradients",
    "random",
)

__all__ = [
    "DEPTH_FIGURE_METHODS",
    "METHODS",
    "ExplanationMethod",
    "Method",
    "attention_share_by_layer",
    "attention_x_gradient",
    "attention_x_value_norm",
    "attentions_and_gradients",
    "conservative_relevance",
    "explain",
    "explain_all",
    "first_readout_weight",
    "genatt_from",
    "gradient_norm",
    "input_x_gradient",
    "integrated_gradients",
    "is_punctuation",
    "punctuation_mask",
    "is_signed",
    "leave_one_out",
    "logit_budget",
    "methods_for",
    "predicted_class",
    "random_signed_weights",
    "random_weights",
    "raw_attention",
    "register",
    "rollout_from",
    "target_prob",
    "unregister",
    "value_norms_from",
]
