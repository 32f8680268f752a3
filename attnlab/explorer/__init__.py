"""The interactive explorer: type or pick a sentence, choose a model and an explanation method, and see
the token heatmap, the prediction, the top token's polarity and what removing it does.

In Jupyter or Colab::

    from attnlab.explorer import Explorer
    Explorer({"BiLSTM + additive": (model, vocab)}, examples=["a gorgeous, witty film", ...]).widget

Each model is explained with the methods it can run (:func:`attnlab.explain.methods_for`): the
single-attention models with attention, gradient and removal methods, the Transformers (the kit's
``TransformerClassifier`` and a wrapped Hugging Face encoder, ``HFClassifier``) also with rollout,
GenAtt and the relevance-propagation methods. The method menu follows the chosen model, and a newly
registered method appears in it; whether a method has a sign comes from its registration.
A Hugging Face model needs no vocabulary: pass ``(model, None)`` and it tokenizes with its own tokenizer.

The computation (:func:`analyse`) and the rendering (:func:`render_html`) work without widgets, so
the HTML book can show the same panel statically for a few fixed sentences.

==============  ==================================================================================
module          holds
==============  ==================================================================================
``analysis``    :func:`analyse` one sentence and :func:`render_html` its panel
``widget``      :class:`Explorer`, the ipywidgets front end
``gallery``     :func:`find_gallery` / :func:`render_gallery`: sentences found by the run, for the book
``models``      :func:`train_explorer_models`: the explorer page's models
==============  ==================================================================================
"""

from .analysis import DEFAULT_LABELS, Analysis, analyse, delta_text, render_html
from .gallery import ATTGRAD, RAW, GalleryEntry, find_gallery, render_gallery
from .models import EXPLORER_MODELS, train_explorer_models
from .widget import Explorer

__all__ = [
    "ATTGRAD",
    "DEFAULT_LABELS",
    "EXPLORER_MODELS",
    "RAW",
    "Analysis",
    "Explorer",
    "GalleryEntry",
    "analyse",
    "delta_text",
    "find_gallery",
    "render_gallery",
    "render_html",
    "train_explorer_models",
]
