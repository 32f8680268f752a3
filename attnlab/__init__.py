"""attnlab: the helper package of the teaching kit *Can attention weights be read as explanations?*

The chapters of the book import these modules; a researcher can use them directly. The package is
organised by concept — data, models, explanations, the shortcut lab, measurements — and every model
speaks one declared interface (:mod:`attnlab.models.protocol`), so every explanation method and
measurement works on every model that offers what it needs.

==================  ==================================================================
module / package    holds
==================  ==================================================================
``data``            the human-rated sentences (VADER corpora) and their cache, tokenizer,
                    vocabulary, GloVe vectors, padded batches, optional online datasets
``models``          the model interface; attention classifiers (BiLSTM / CNN x additive / dot,
                    deep-decoder variant), bag of words, the shortcut lab's mask models, the
                    kit's Transformer and a wrapped Hugging Face encoder (MiniLM offline)
``train``           the training loop, evaluation, seeds, safe saving and loading
``batching``        running a model over many sentences in length-sorted chunks
``device``          where the kit computes: a CUDA GPU, Apple's MPS or the CPU (``ATTNLAB_DEVICE``)
``interventions``   replacing a model's attention (uniform, permuted, frozen; pooled and per layer)
``explain``         one registry of explanation methods with their metadata, ``methods_for(model)``,
                    ``explain`` / ``explain_all``; attention, gradient, removal, rollout, GenAtt
                    and relevance-propagation methods
``faithfulness``    the faithfulness violation test, comprehensiveness, sufficiency, AUC-TP,
                    decision flips, rank correlation
``plausibility``    does an explanation look right? the top token judged without the model
``counterfactual``  does the model need *this* attention? accuracy and per-sentence change
                    under uniform, permuted or any other replacement attention
``toy_worlds``      masks that carry the label: exact toy worlds (joint reader, evaluator,
                    I(Y; M), instance weighting) and a sampled world with learned readers
``shortcuts``       the shortcut lab: synthetic tasks with planted rationales, shortcut
                    measurements, the two mitigations, the lab runners of chapters 3 and 4
``checks``          the exercise framework (run a learner's function against the reference, say
                    what is wrong) and the self-checks of each chapter
``checklist``       the closing chapter's practitioner's checklist
``viz``             token heatmaps, result plots, concept figures, the reader's map, head view
``explorer``        the interactive explorer (ipywidgets) and its static gallery
``chapter``         a chapter's plumbing: parameters, seeds, threads, recorded numbers (glued and
                    written to results) and checked claims (a false one fails the full build)
``results``         where chapters write their numbers and claims (with what produced them)
``papers``          the papers' numbers with their source and setting, and the scorecard
``book``            glue that also works outside the book
``validate``        argument checks with messages that say what is wrong and what to do
==================  ==================================================================

Kit 0.1's module paths ``attnlab.transformer``, ``attnlab.multilayer``, ``attnlab.relevance``,
``attnlab.synthetic``, ``attnlab.mitigations`` and ``attnlab.head_view`` still
import (with a ``DeprecationWarning``); they go in 0.3.
"""

__version__ = "0.1.0"
