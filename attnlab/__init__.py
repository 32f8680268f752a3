"""attnlab: the helper package of the teaching kit *Can attention weights be read as explanations?*

The chapters of the book import these modules; a researcher can use them directly.

=================  ==================================================================
module             holds
=================  ==================================================================
``data``           the human-rated sentences (VADER corpora), tokenizer, vocabulary,
                   GloVe vectors, padded batches
``models``         attention classifiers (BiLSTM / CNN encoders x additive / dot attention), the
                   selector-predictor mask models of the shortcut lab, a bag-of-words model
``train``          the training loop, evaluation, seeds, safe saving and loading
``interventions``  replacing a model's attention (uniform, permuted)
``explain``        explanation methods behind one signature, and their registry by name
``faithfulness``   the faithfulness violation test, comprehensiveness, sufficiency, AUC-TP,
                   decision flips, rank correlation
``transformer``    Transformer encoders: the kit's own small one and a wrapped Hugging Face
                   encoder (MiniLM offline), both returning every layer's attention;
                   interventions (uniform, permuted, frozen) via AttentionInterface
``multilayer``     multi-layer explanation methods: raw attention, AttGrad per layer,
                   rollout, GenAtt (plus input x gradient, IG, random), and their registry
``relevance``      relevance propagation for Transformers (conservative LRP, partial LRP,
                   Transformer Attribution), registered with the multi-layer methods
``synthetic``      the shortcut lab: sequences with planted rationales and neutral tokens
``shortcuts``      shortcut measurements: neutral mass, mask-only probe, rationale precision,
                   post-hoc accuracy under an independent evaluator
``viz``            token heatmaps and result plots
``chapter``        a chapter's plumbing: parameters, seeds, threads, recorded numbers (glued and
                   written to results) and checked claims (a false one fails the full build)
``results``        where chapters write their numbers and claims, and reading them back (the ledger)
``papers``         the papers' numbers with their source (paper table / figure / authors'
                   notebook) and setting, and the reproduction scorecard
``book``           glue that also works outside the book
``checks``         self-checks of the exercises: run a learner's function against the reference
                   and say what is wrong; the capstone's check of a new explanation method
``explorer``       the interactive explorer (ipywidgets): sentence, model, method -> heatmap,
                   prediction, top token's polarity, removal effect
=================  ==================================================================
"""

__version__ = "0.1.0"
