"""The kit's models, all behind one declared interface (:mod:`attnlab.models.protocol`).

==========================  ====================================================================
module                      holds
==========================  ====================================================================
``protocol``                the interface (:class:`KitModel`, pooled and layered variants) and
                            :func:`capabilities`, what an explanation method may rely on
``base``                    the output type, masked softmax, input checks, the removal operators
``attention_classifier``    BiLSTM/CNN encoder + additive/dot attention + linear read-out (Jain &
                            Wallace 2019, Liu et al. 2022), and the deep-decoder variant of Liu et
                            al.'s depth figure
``bag_of_words``            a model whose token contributions are known exactly (ground truth)
``mask_classifier``         the selector-predictor mask models of the shortcut lab (Bai et al. 2021)
``transformer``             the kit's small Transformer encoder and its attention function
``huggingface``             a Hugging Face encoder behind the same interface; MiniLM-L6 offline
==========================  ====================================================================
"""

from .attention_classifier import ATTENTIONS, ENCODERS, AttentionClassifier, DeepDecoderClassifier
from .bag_of_words import BagOfWordsClassifier
from .base import (
    REMOVAL_OPERATORS,
    AttentionOverride,
    ClassifierOutput,
    RemovalMixin,
    check_inputs,
    masked_softmax,
    slice_out,
)
from .huggingface import MINILM_HUB_NAME, MINILM_PACKAGE, HFClassifier, minilm_path
from .mask_classifier import MaskClassifier
from .protocol import (
    CAPABILITIES,
    KIND_CAPABILITIES,
    KitModel,
    LayeredAttentionModel,
    PooledAttentionModel,
    attention_kind,
    capabilities,
)
from .transformer import (
    ATTENTION_IMPLEMENTATION,
    CONTENT_OFFSET,
    TransformerClassifier,
    TransformerOutput,
    record_values,
    register_attention_function,
)

__all__ = [
    "ATTENTIONS",
    "ATTENTION_IMPLEMENTATION",
    "AttentionClassifier",
    "AttentionOverride",
    "BagOfWordsClassifier",
    "CAPABILITIES",
    "CONTENT_OFFSET",
    "KIND_CAPABILITIES",
    "ClassifierOutput",
    "DeepDecoderClassifier",
    "ENCODERS",
    "HFClassifier",
    "KitModel",
    "LayeredAttentionModel",
    "MINILM_HUB_NAME",
    "MINILM_PACKAGE",
    "MaskClassifier",
    "PooledAttentionModel",
    "REMOVAL_OPERATORS",
    "RemovalMixin",
    "TransformerClassifier",
    "TransformerOutput",
    "attention_kind",
    "capabilities",
    "check_inputs",
    "masked_softmax",
    "minilm_path",
    "record_values",
    "register_attention_function",
    "slice_out",
]
