"""attnlab: the helper package of the teaching kit *Can attention weights be read as explanations?*

The chapters of the book import these modules; a researcher can use them directly.

=================  ==================================================================
module             holds
=================  ==================================================================
``data``           the human-rated sentences (VADER corpora), tokenizer, vocabulary,
                   GloVe vectors, padded batches
``models``         attention classifiers (BiLSTM / CNN encoders x additive / dot attention)
``train``          the training loop, evaluation, seeds, safe saving and loading
``interventions``  replacing a model's attention (uniform, permuted)
``explain``        explanation methods behind one signature, and their registry by name
``faithfulness``   rank correlation and other faithfulness measurements
``viz``            token heatmaps and result plots
``results``        where chapters write their headline numbers, and the scorecard
``book``           small helpers for notebooks (glue that also works outside the book)
=================  ==================================================================
"""

__version__ = "0.1.0"
