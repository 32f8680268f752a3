"""Bad values at every public entry point outside attnlab.data (whose cases are in test_data.py): each
gives a clear error — the right type and a message that names the problem — never an obscure crash or a
silently wrong result. Table-driven: (function, bad value, call, expected error, phrase of the message).

Plus property-based tests (hypothesis) of the batching, removal and violation-test code paths.
"""

from functools import lru_cache

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from attnlab import checks, explain, faithfulness, interventions, models, shortcuts
from attnlab.data import Batch
from attnlab.models import AttentionClassifier, BagOfWordsClassifier, MaskClassifier, slice_out
from attnlab.train import _checked_weights, accuracy, fit, predict_proba

V = 20  # vocabulary of the tiny models


@lru_cache(None)
def batch():
    return Batch.from_ids([[2, 3, 4, 5], [6, 7], [8, 9, 10]], labels=[0, 1, 0])


@lru_cache(None)
def model():
    torch.manual_seed(0)
    return AttentionClassifier(V, 2, embed_dim=8, hidden_dim=6).eval()


@lru_cache(None)
def bow():
    torch.manual_seed(0)
    return BagOfWordsClassifier(V, 2).eval()


@lru_cache(None)
def mask_model():
    torch.manual_seed(0)
    return MaskClassifier(V, 2, embed_dim=8, hidden_dim=6).eval()


@lru_cache(None)
def tiny_transformer():
    torch.manual_seed(0)
    return models.TransformerClassifier(V, 2, n_layers=2, n_heads=2, embed_dim=8, ff_dim=16, max_length=8).eval()


def tokens():
    return batch().tokens


def mask():
    return batch().mask


def with_nan(t: torch.Tensor) -> torch.Tensor:
    t = t.clone().float()
    t[0, 0] = float("nan")
    return t


def weights():
    return explain.explain("raw_attention", model(), batch())


def nan_method(model, tokens, mask, target):
    return torch.full(tokens.shape, float("nan"))


def wrong_shape_method(model, tokens, mask, target):
    return torch.zeros(len(tokens))


def explain_with(name, method):
    """Run explain() with a method registered for the call only (other tests must not see it)."""
    explain.register(name, signed=True, needs=())(method)
    try:
        return explain.explain(name, model(), batch())
    finally:
        explain.unregister(name)


def labelled(labels, ids=((2, 3), (4, 5))):
    b = Batch.from_ids([list(i) for i in ids])
    b.labels = torch.as_tensor(labels)
    return b


def nan_loss_model():
    torch.manual_seed(0)
    m = AttentionClassifier(V, 2, embed_dim=8, hidden_dim=6)
    with torch.no_grad():
        m.output.bias.fill_(float("nan"))
    return m


def run_intervention(layers):
    with interventions.attention_intervention(interventions.uniform(layers)):
        tiny_transformer()(tokens(), mask())


CASES = [
    # --- models ---------------------------------------------------------------------------------------
    (
        "AttentionClassifier",
        "vocab_size=2.5",
        lambda: AttentionClassifier(2.5),
        TypeError,
        "vocab_size must be an integer",
    ),
    ("AttentionClassifier", "vocab_size=2", lambda: AttentionClassifier(2), ValueError, "vocab_size must be >= 3"),
    ("AttentionClassifier", "n_classes=1", lambda: AttentionClassifier(V, 1), ValueError, "n_classes must be >= 2"),
    (
        "AttentionClassifier",
        "n_classes=True",
        lambda: AttentionClassifier(V, True),
        TypeError,
        "n_classes must be an integer",
    ),
    (
        "AttentionClassifier",
        "encoder='gru'",
        lambda: AttentionClassifier(V, encoder="gru"),
        ValueError,
        "unknown encoder",
    ),
    (
        "AttentionClassifier",
        "attention='mlp'",
        lambda: AttentionClassifier(V, attention="mlp"),
        ValueError,
        "unknown attention",
    ),
    (
        "AttentionClassifier",
        "hidden_dim=0",
        lambda: AttentionClassifier(V, hidden_dim=0),
        ValueError,
        "hidden_dim must be >= 1",
    ),
    (
        "AttentionClassifier",
        "embed_dim=-4",
        lambda: AttentionClassifier(V, embed_dim=-4),
        ValueError,
        "embed_dim must be >= 1",
    ),
    (
        "AttentionClassifier",
        "dropout=1.0",
        lambda: AttentionClassifier(V, dropout=1.0),
        ValueError,
        "dropout must be < 1.0",
    ),
    (
        "AttentionClassifier",
        "dropout=-0.1",
        lambda: AttentionClassifier(V, dropout=-0.1),
        ValueError,
        "dropout must be >= 0.0",
    ),
    (
        "AttentionClassifier",
        "dropout=nan",
        lambda: AttentionClassifier(V, dropout=float("nan")),
        ValueError,
        "dropout must be finite",
    ),
    (
        "AttentionClassifier",
        "cnn_kernels=()",
        lambda: AttentionClassifier(V, encoder="cnn", cnn_kernels=()),
        ValueError,
        "non-empty sequence",
    ),
    (
        "AttentionClassifier",
        "cnn_kernels=(2,)",
        lambda: AttentionClassifier(V, encoder="cnn", cnn_kernels=(2,)),
        ValueError,
        "must be odd",
    ),
    (
        "AttentionClassifier",
        "cnn_kernels=(0,)",
        lambda: AttentionClassifier(V, encoder="cnn", cnn_kernels=(0,)),
        ValueError,
        ">= 1",
    ),
    (
        "AttentionClassifier",
        "cnn_filters=0",
        lambda: AttentionClassifier(V, encoder="cnn", cnn_filters=0),
        ValueError,
        "cnn_filters must be >= 1",
    ),
    (
        "AttentionClassifier",
        "embeddings of the wrong shape",
        lambda: AttentionClassifier(V, embed_dim=8, embeddings=torch.zeros(V, 9)),
        ValueError,
        "embeddings have shape",
    ),
    (
        "AttentionClassifier",
        "NaN embeddings",
        lambda: AttentionClassifier(V, embed_dim=8, embeddings=with_nan(torch.zeros(V, 8))),
        ValueError,
        "embeddings holds 1 NaN",
    ),
    (
        "forward",
        "token id = vocab_size",
        lambda: model()(torch.tensor([[2, V]]), torch.ones(1, 2, dtype=torch.bool)),
        ValueError,
        f"holds the id {V}, outside this model's vocabulary",
    ),
    (
        "forward",
        "negative token id",
        lambda: model()(torch.tensor([[2, -3]]), torch.ones(1, 2, dtype=torch.bool)),
        ValueError,
        "token ids must be >= 0",
    ),
    (
        "forward",
        "float token ids",
        lambda: model()(tokens().float(), mask()),
        (TypeError, ValueError),
        "whole-number token ids",
    ),
    ("forward", "int mask", lambda: model()(tokens(), mask().long()), ValueError, "mask must be a bool tensor"),
    (
        "forward",
        "empty batch",
        lambda: model()(torch.zeros(0, 3, dtype=torch.long), torch.zeros(0, 3, dtype=torch.bool)),
        ValueError,
        "empty batch",
    ),
    (
        "forward",
        "all-padding row",
        lambda: model()(torch.tensor([[2, 3], [0, 0]]), torch.tensor([[True, True], [False, False]])),
        ValueError,
        "at least one real token",
    ),
    (
        "forward",
        "padding in the middle",
        lambda: model()(torch.tensor([[2, 0, 3]]), torch.tensor([[True, False, True]])),
        ValueError,
        "pad on the right",
    ),
    (
        "forward",
        "1-d tokens",
        lambda: model()(torch.tensor([2, 3]), torch.tensor([True, True])),
        ValueError,
        "shape (batch, length)",
    ),
    (
        "forward",
        "inputs_embeds wrong dim",
        lambda: model()(tokens(), mask(), inputs_embeds=torch.zeros(3, 4, 7)),
        ValueError,
        "inputs_embeds has shape",
    ),
    (
        "forward",
        "NaN inputs_embeds",
        lambda: model()(
            tokens(), mask(), inputs_embeds=with_nan(model().embed(tokens()).detach().reshape(3, -1)).reshape(3, 4, 8)
        ),
        ValueError,
        "inputs_embeds holds 1 NaN",
    ),
    (
        "forward",
        "attend_mask excludes a whole sentence",
        lambda: model()(tokens(), mask(), attend_mask=torch.zeros_like(mask())),
        ValueError,
        "excludes every token",
    ),
    (
        "forward",
        "attend_mask not bool",
        lambda: model()(tokens(), mask(), attend_mask=mask().long()),
        ValueError,
        "attend_mask must be a bool tensor",
    ),
    (
        "forward",
        "attention with NaN",
        lambda: model()(tokens(), mask(), attention=with_nan(mask().float() / mask().sum(1, keepdim=True))),
        ValueError,
        "the given attention holds 1 NaN",
    ),
    (
        "forward",
        "negative attention",
        lambda: model()(
            torch.tensor([[2, 3]]), torch.ones(1, 2, dtype=torch.bool), attention=torch.tensor([[1.5, -0.5]])
        ),
        ValueError,
        "negative weights",
    ),
    (
        "forward",
        "attention not summing to 1",
        lambda: model()(
            torch.tensor([[2, 3]]), torch.ones(1, 2, dtype=torch.bool), attention=torch.tensor([[0.2, 0.2]])
        ),
        ValueError,
        "does not sum to 1",
    ),
    (
        "forward",
        "attention on padding",
        lambda: model()(tokens(), mask(), attention=torch.ones(tokens().shape) / 4),
        ValueError,
        "padding",
    ),
    (
        "forward",
        "attention of wrong shape",
        lambda: model()(tokens(), mask(), attention=torch.ones(3, 2) / 2),
        ValueError,
        "attention has shape",
    ),
    (
        "forward_removed",
        "operator 'drop'",
        lambda: model().forward_removed(tokens(), mask(), torch.zeros_like(mask()), "drop"),
        ValueError,
        "unknown removal operator",
    ),
    (
        "forward_removed",
        "remove as int",
        lambda: model().forward_removed(tokens(), mask(), torch.zeros_like(tokens()), "slice_out"),
        ValueError,
        "remove must be a bool tensor",
    ),
    (
        "forward_removed",
        "remove everything",
        lambda: model().forward_removed(tokens(), mask(), mask().clone(), "slice_out"),
        ValueError,
        "cannot remove every token",
    ),
    ("BagOfWordsClassifier", "vocab_size=1", lambda: BagOfWordsClassifier(1), ValueError, "vocab_size must be >= 2"),
    ("BagOfWordsClassifier", "n_classes=0", lambda: BagOfWordsClassifier(V, 0), ValueError, "n_classes must be >= 2"),
    (
        "BagOfWordsClassifier.forward",
        "token id out of range",
        lambda: bow()(torch.tensor([[25]]), torch.ones(1, 1, dtype=torch.bool)),
        ValueError,
        "outside this model's vocabulary",
    ),
    (
        "BagOfWordsClassifier.forward",
        "attention override",
        lambda: bow()(tokens(), mask(), attention=mask().float()),
        ValueError,
        "no attention to replace",
    ),
    (
        "exact_contributions",
        "target class 2",
        lambda: bow().exact_contributions(tokens(), mask(), torch.tensor([0, 2, 1])),
        ValueError,
        "holds the class 2",
    ),
    (
        "exact_contributions",
        "float target",
        lambda: bow().exact_contributions(tokens(), mask(), torch.tensor([0.0, 1.0, 1.0])),
        TypeError,
        "integer class labels",
    ),
    ("MaskClassifier", "k=0", lambda: MaskClassifier(V, k=0), ValueError, "k must be >= 1"),
    ("MaskClassifier", "tau=0", lambda: MaskClassifier(V, tau=0.0), ValueError, "tau must be > 0.0"),
    (
        "MaskClassifier",
        "selection='top'",
        lambda: MaskClassifier(V, selection="top"),
        ValueError,
        "selection must be 'soft' or 'hard'",
    ),
    (
        "MaskClassifier",
        "head='cnn'",
        lambda: MaskClassifier(V, head="cnn"),
        ValueError,
        "head must be 'linear' or 'mlp'",
    ),
    (
        "MaskClassifier",
        "selector_only_ids=[0]",
        lambda: MaskClassifier(V, selector_only_ids=[0]),
        ValueError,
        "0 is padding",
    ),
    (
        "MaskClassifier",
        "selector_only_ids=[1.5]",
        lambda: MaskClassifier(V, selector_only_ids=[1.5]),
        TypeError,
        "must be an integer",
    ),
    ("MaskClassifier", "hidden_dim=0", lambda: MaskClassifier(V, hidden_dim=0), ValueError, "hidden_dim must be >= 1"),
    (
        "MaskClassifier.forward",
        "token id out of range",
        lambda: mask_model()(torch.tensor([[2, 99]]), torch.ones(1, 2, dtype=torch.bool)),
        ValueError,
        "outside this model's vocabulary",
    ),
    # --- explain ---------------------------------------------------------------------------------------
    (
        "explain",
        "unknown method",
        lambda: explain.explain("saliency", model(), batch()),
        KeyError,
        "unknown explanation method",
    ),
    ("explain", "method=None", lambda: explain.explain(None, model(), batch()), KeyError, "unknown explanation method"),
    (
        "explain",
        "tokens without mask",
        lambda: explain.explain("raw_attention", model(), tokens()),
        ValueError,
        "tokens together with their mask",
    ),
    (
        "explain",
        "batch_size=0",
        lambda: explain.explain("raw_attention", model(), batch(), batch_size=0),
        ValueError,
        "batch_size must be >= 1",
    ),
    (
        "explain",
        "batch_size=2.5",
        lambda: explain.explain("raw_attention", model(), batch(), batch_size=2.5),
        TypeError,
        "batch_size must be an integer",
    ),
    (
        "explain",
        "target class 5",
        lambda: explain.explain("raw_attention", model(), batch(), target=torch.tensor([0, 5, 1])),
        ValueError,
        "holds the class 5",
    ),
    (
        "explain",
        "target of wrong length",
        lambda: explain.explain("raw_attention", model(), batch(), target=torch.tensor([0, 1])),
        ValueError,
        "target must have shape (3,)",
    ),
    (
        "explain",
        "target as floats",
        lambda: explain.explain("raw_attention", model(), batch(), target=torch.tensor([0.0, 1.0, 0.0])),
        TypeError,
        "integer class labels",
    ),
    (
        "explain",
        "a method returning NaN",
        lambda: explain_with("nan", nan_method),
        ValueError,
        "returned NaN or infinite weights",
    ),
    (
        "explain",
        "a method returning the wrong shape",
        lambda: explain_with("w", wrong_shape_method),
        ValueError,
        "expected a tensor of shape",
    ),
    (
        "explain",
        "integrated_gradients steps=0",
        lambda: explain.explain("integrated_gradients", model(), batch(), steps=0),
        ValueError,
        "steps must be >= 1",
    ),
    (
        "explain",
        "integrated_gradients steps=2.0",
        lambda: explain.explain("integrated_gradients", model(), batch(), steps=2.0),
        TypeError,
        "steps must be an integer",
    ),
    (
        "explain",
        "integrated_gradients chunk_size=0",
        lambda: explain.explain("integrated_gradients", model(), batch(), chunk_size=0),
        ValueError,
        "chunk_size must be >= 1",
    ),
    (
        "explain",
        "leave_one_out operator='cut'",
        lambda: explain.explain("leave_one_out", model(), batch(), operator="cut"),
        ValueError,
        "unknown removal operator",
    ),
    (
        "explain",
        "random seed=-1",
        lambda: explain.explain("random", model(), batch(), seed=-1),
        ValueError,
        "seed must be >= 0",
    ),
    (
        "explain",
        "an unexpected option",
        lambda: explain.explain("raw_attention", model(), batch(), steps=3),
        TypeError,
        "steps",
    ),
    (
        "explain_all",
        "methods='raw_attention'",
        lambda: explain.explain_all(model(), batch(), "raw_attention"),
        TypeError,
        "list of method names",
    ),
    ("explain_all", "methods=[]", lambda: explain.explain_all(model(), batch(), []), ValueError, "methods is empty"),
    (
        "explain_all",
        "unknown method",
        lambda: explain.explain_all(model(), batch(), ["raw", "random"]),
        KeyError,
        "unknown explanation methods ['raw']",
    ),
    (
        "explain_all",
        "tokens instead of a Batch",
        lambda: explain.explain_all(model(), tokens()),
        TypeError,
        "takes a Batch",
    ),
    (
        "explain_all",
        "options for a method not run",
        lambda: explain.explain_all(model(), batch(), ["raw_attention"], options={"integrated_gradient": {"steps": 2}}),
        ValueError,
        "options given for methods that are not run",
    ),
    ("register", "empty name", lambda: explain.register("", signed=True)(nan_method), ValueError, "non-empty name"),
    (
        "register",
        "not a function",
        lambda: explain.register("not_a_function_x", signed=True)(3),
        TypeError,
        "decorates a function",
    ),
    (
        "register",
        "a name taken",
        lambda: explain.register("raw_attention", signed=False, needs=("pooled_attention",))(nan_method),
        ValueError,
        "already registered",
    ),
    # --- faithfulness ------------------------------------------------------------------------------------
    (
        "violation_test",
        "NaN weights",
        lambda: faithfulness.violation_test(model(), tokens(), mask(), {"m": with_nan(weights())}),
        ValueError,
        "weights of 'm' hold NaN",
    ),
    (
        "violation_test",
        "inf weights",
        lambda: faithfulness.violation_test(model(), tokens(), mask(), {"m": weights() / 0}),
        ValueError,
        "NaN or infinite",
    ),
    (
        "violation_test",
        "weights not a dict",
        lambda: faithfulness.violation_test(model(), tokens(), mask(), weights()),
        TypeError,
        "must be a dict",
    ),
    (
        "violation_test",
        "empty dict",
        lambda: faithfulness.violation_test(model(), tokens(), mask(), {}),
        ValueError,
        "no explanations given",
    ),
    (
        "violation_test",
        "weights as a list",
        lambda: faithfulness.violation_test(model(), tokens(), mask(), {"m": weights().tolist()}),
        TypeError,
        "must be a torch.Tensor",
    ),
    (
        "violation_test",
        "weights of wrong shape",
        lambda: faithfulness.violation_test(model(), tokens(), mask(), {"m": weights()[:, :2]}),
        ValueError,
        "have shape",
    ),
    (
        "violation_test",
        "operators='slice_out'",
        lambda: faithfulness.violation_test(model(), tokens(), mask(), {"m": weights()}, operators="slice_out"),
        ValueError,
        "non-empty list",
    ),
    (
        "violation_test",
        "operators=[]",
        lambda: faithfulness.violation_test(model(), tokens(), mask(), {"m": weights()}, operators=[]),
        ValueError,
        "non-empty list",
    ),
    (
        "violation_test",
        "unknown operator",
        lambda: faithfulness.violation_test(model(), tokens(), mask(), {"m": weights()}, operators=["delete"]),
        ValueError,
        "unknown removal operator",
    ),
    (
        "violation_test",
        "an operator twice",
        lambda: faithfulness.violation_test(
            model(), tokens(), mask(), {"m": weights()}, operators=["att_mask", "att_mask"]
        ),
        ValueError,
        "twice",
    ),
    (
        "violation_test",
        "target class 3",
        lambda: faithfulness.violation_test(
            model(), tokens(), mask(), {"m": weights()}, target=torch.tensor([0, 3, 0])
        ),
        ValueError,
        "holds the class 3",
    ),
    (
        "violation_test",
        "chunk_size=0",
        lambda: faithfulness.violation_test(model(), tokens(), mask(), {"m": weights()}, chunk_size=0),
        ValueError,
        "chunk_size must be >= 1",
    ),
    (
        "violation_test",
        "token id out of range",
        lambda: faithfulness.violation_test(
            model(), torch.tensor([[2, 50]]), torch.ones(1, 2, dtype=torch.bool), {"m": torch.ones(1, 2)}
        ),
        ValueError,
        "outside this model's vocabulary",
    ),
    (
        "ViolationReport.ratio",
        "unknown method",
        lambda: faithfulness.violation_test(model(), tokens(), mask(), {"m": weights()}).ratio("n"),
        KeyError,
        "no method 'n' in this report",
    ),
    (
        "ViolationReport.ratio",
        "unknown operator",
        lambda: faithfulness.violation_test(model(), tokens(), mask(), {"m": weights()}, operators=["att_mask"]).ratio(
            "m", "slice_out"
        ),
        KeyError,
        "no operator 'slice_out'",
    ),
    (
        "ViolationReport.ratio",
        "only one-token sentences",
        lambda: faithfulness.violation_test(
            model(), torch.tensor([[2], [3]]), torch.ones(2, 1, dtype=torch.bool), {"m": torch.ones(2, 1)}
        ).ratio("m"),
        ValueError,
        "nothing to count",
    ),
    (
        "comprehensiveness",
        "NaN weights",
        lambda: faithfulness.comprehensiveness(model(), tokens(), mask(), with_nan(weights())),
        ValueError,
        "NaN",
    ),
    (
        "comprehensiveness",
        "fractions=()",
        lambda: faithfulness.comprehensiveness(model(), tokens(), mask(), weights(), fractions=()),
        ValueError,
        "fractions must not be empty",
    ),
    (
        "comprehensiveness",
        "fraction 1.5",
        lambda: faithfulness.comprehensiveness(model(), tokens(), mask(), weights(), fractions=(0.1, 1.5)),
        ValueError,
        "must be <= 1.0",
    ),
    (
        "comprehensiveness",
        "fraction 0",
        lambda: faithfulness.comprehensiveness(model(), tokens(), mask(), weights(), fractions=(0.0,)),
        ValueError,
        "must be > 0.0",
    ),
    (
        "comprehensiveness",
        "fractions=0.2",
        lambda: faithfulness.comprehensiveness(model(), tokens(), mask(), weights(), fractions=0.2),
        TypeError,
        "sequence of fractions",
    ),
    (
        "comprehensiveness",
        "operator='cut'",
        lambda: faithfulness.comprehensiveness(model(), tokens(), mask(), weights(), operator="cut"),
        ValueError,
        "unknown removal operator",
    ),
    (
        "sufficiency",
        "fraction nan",
        lambda: faithfulness.sufficiency(model(), tokens(), mask(), weights(), fractions=(float("nan"),)),
        ValueError,
        "must be finite",
    ),
    (
        "sufficiency",
        "target class 9",
        lambda: faithfulness.sufficiency(model(), tokens(), mask(), weights(), target=torch.tensor([9, 0, 0])),
        ValueError,
        "holds the class 9",
    ),
    (
        "auc_tp",
        "labels class 2",
        lambda: faithfulness.auc_tp(model(), tokens(), mask(), weights(), torch.tensor([0, 2, 1])),
        ValueError,
        "holds the class 2",
    ),
    (
        "auc_tp",
        "labels of wrong length",
        lambda: faithfulness.auc_tp(model(), tokens(), mask(), weights(), torch.tensor([0, 1])),
        ValueError,
        "labels must have shape (3,)",
    ),
    (
        "auc_tp",
        "float labels",
        lambda: faithfulness.auc_tp(model(), tokens(), mask(), weights(), torch.tensor([0.0, 1.0, 0.7])),
        TypeError,
        "integer class labels",
    ),
    (
        "auc_tp",
        "one fraction",
        lambda: faithfulness.auc_tp(model(), tokens(), mask(), weights(), batch().labels, fractions=(0.0,)),
        ValueError,
        "at least two increasing fractions",
    ),
    (
        "auc_tp",
        "decreasing fractions",
        lambda: faithfulness.auc_tp(model(), tokens(), mask(), weights(), batch().labels, fractions=(0.5, 0.1)),
        ValueError,
        "increasing",
    ),
    (
        "decision_flip_rate",
        "only one-token sentences",
        lambda: faithfulness.decision_flip_rate(
            model(), torch.tensor([[2]]), torch.ones(1, 1, dtype=torch.bool), torch.ones(1, 1)
        ),
        ValueError,
        "no sentence has two or more tokens",
    ),
    (
        "decision_flip_rate",
        "NaN weights",
        lambda: faithfulness.decision_flip_rate(model(), tokens(), mask(), with_nan(weights())),
        ValueError,
        "NaN",
    ),
    (
        "rank_correlation",
        "method='pearson'",
        lambda: faithfulness.rank_correlation(weights(), weights(), mask(), "pearson"),
        ValueError,
        "unknown method",
    ),
    (
        "rank_correlation",
        "NaN weights",
        lambda: faithfulness.rank_correlation(with_nan(weights()), weights(), mask()),
        ValueError,
        "a holds 1 NaN",
    ),
    (
        "rank_correlation",
        "int mask",
        lambda: faithfulness.rank_correlation(weights(), weights(), mask().long()),
        ValueError,
        "mask must be a bool tensor",
    ),
    (
        "rank_correlation",
        "a list",
        lambda: faithfulness.rank_correlation([1.0], weights(), mask()),
        TypeError,
        "a must be a torch.Tensor",
    ),
    (
        "top_fraction_mask",
        "fraction 2",
        lambda: faithfulness.top_fraction_mask(weights(), mask(), 2.0),
        ValueError,
        "fraction must be <= 1.0",
    ),
    (
        "probs_after_removal",
        "chunk_size=0",
        lambda: faithfulness.probs_after_removal(model(), tokens(), mask(), torch.zeros_like(mask()), chunk_size=0),
        ValueError,
        "chunk_size must be >= 1",
    ),
    # --- train -------------------------------------------------------------------------------------------
    ("fit", "label 7 in a 2-class model", lambda: fit(model(), labelled([0, 7])), ValueError, "holds the class 7"),
    ("fit", "float labels (0.7)", lambda: fit(model(), labelled([0.0, 0.7])), TypeError, "integer class labels"),
    ("fit", "negative label", lambda: fit(model(), labelled([0, -1])), ValueError, "holds the class -1"),
    ("fit", "no labels", lambda: fit(model(), Batch.from_ids([[2, 3]])), ValueError, "labelled batches"),
    (
        "fit",
        "dev without labels",
        lambda: fit(model(), labelled([0, 1]), Batch.from_ids([[2, 3]])),
        ValueError,
        "labelled batches",
    ),
    ("fit", "epochs=0", lambda: fit(model(), labelled([0, 1]), epochs=0), ValueError, "epochs must be >= 1"),
    ("fit", "epochs=1.5", lambda: fit(model(), labelled([0, 1]), epochs=1.5), TypeError, "epochs must be an integer"),
    (
        "fit",
        "batch_size=0",
        lambda: fit(model(), labelled([0, 1]), batch_size=0),
        ValueError,
        "batch_size must be >= 1",
    ),
    ("fit", "lr=0", lambda: fit(model(), labelled([0, 1]), lr=0.0), ValueError, "lr must be > 0.0"),
    ("fit", "lr=nan", lambda: fit(model(), labelled([0, 1]), lr=float("nan")), ValueError, "lr must be finite"),
    (
        "fit",
        "weight_decay=-1",
        lambda: fit(model(), labelled([0, 1]), weight_decay=-1.0),
        ValueError,
        "weight_decay must be >= 0.0",
    ),
    ("fit", "patience=0", lambda: fit(model(), labelled([0, 1]), patience=0), ValueError, "patience must be >= 1"),
    ("fit", "max_steps=0", lambda: fit(model(), labelled([0, 1]), max_steps=0), ValueError, "max_steps must be >= 1"),
    (
        "fit",
        "seed=-1",
        lambda: fit(model(), labelled([0, 1]), seed=-1),
        ValueError,
        "seed must be a non-negative integer",
    ),
    (
        "fit",
        "loss_weights not callable",
        lambda: fit(model(), labelled([0, 1]), loss_weights=[1.0, 1.0]),
        TypeError,
        "loss_weights must be a function",
    ),
    (
        "fit",
        "a NaN loss",
        lambda: fit(nan_loss_model(), labelled([0, 1])),
        FloatingPointError,
        "the training loss became nan",
    ),
    ("fit", "tokens instead of a Batch", lambda: fit(model(), tokens()), TypeError, "takes Batch objects"),
    ("fit", "loss weights of wrong length", lambda: _checked_weights([1.0], 2), ValueError, "expected (2,)"),
    ("fit", "negative loss weights", lambda: _checked_weights([1.0, -1.0], 2), ValueError, "finite and non-negative"),
    (
        "fit",
        "all-zero loss weights",
        lambda: _checked_weights([0.0, 0.0], 2),
        ValueError,
        "every loss weight of a batch is 0",
    ),
    ("fit", "loss weights as text", lambda: _checked_weights(["a", "b"], 2), TypeError, "must return numbers"),
    (
        "predict_proba",
        "batch_size=0",
        lambda: predict_proba(model(), batch(), batch_size=0),
        ValueError,
        "batch_size must be >= 1",
    ),
    ("accuracy", "tokens instead of a Batch", lambda: accuracy(model(), tokens()), TypeError, "accuracy takes a Batch"),
    # --- synthetic -----------------------------------------------------------------------------------
    ("make_shortcut_task", "n=0", lambda: shortcuts.make_shortcut_task(0), ValueError, "n must be >= 1"),
    ("make_shortcut_task", "n=10.5", lambda: shortcuts.make_shortcut_task(10.5), TypeError, "n must be an integer"),
    (
        "make_shortcut_task",
        "rule='nand'",
        lambda: shortcuts.make_shortcut_task(10, "nand"),
        ValueError,
        "unknown label rule",
    ),
    (
        "make_shortcut_task",
        "n_filler=1",
        lambda: shortcuts.make_shortcut_task(10, n_filler=1),
        ValueError,
        "n_filler must be >= 2",
    ),
    (
        "make_shortcut_task",
        "cases='both'",
        lambda: shortcuts.make_shortcut_task(10, cases="both"),
        ValueError,
        "non-empty selection",
    ),
    (
        "make_shortcut_task",
        "unknown case",
        lambda: shortcuts.make_shortcut_task(10, cases=("X only", "Z only")),
        ValueError,
        "non-empty selection",
    ),
    (
        "make_shortcut_task",
        "key_types=0",
        lambda: shortcuts.make_shortcut_task(10, key_types=0),
        ValueError,
        "key_types must be >= 1",
    ),
    (
        "make_shortcut_task",
        "filler_types=0",
        lambda: shortcuts.make_shortcut_task(10, filler_types=0),
        ValueError,
        "filler_types must be >= 1",
    ),
    (
        "make_shortcut_task",
        "seed=-2",
        lambda: shortcuts.make_shortcut_task(10, seed=-2),
        ValueError,
        "seed must be >= 0",
    ),
    (
        "make_shortcut_task",
        "neutral=''",
        lambda: shortcuts.make_shortcut_task(10, neutral=""),
        ValueError,
        "neutral tokens must be a non-empty list",
    ),
    (
        "with_neutral_prefix",
        "prefix='<a>'",
        lambda: shortcuts.with_neutral_prefix(synthetic_text(), "<a>"),
        ValueError,
        "non-empty list of single tokens",
    ),
    (
        "with_neutral_prefix",
        "a list of strings",
        lambda: shortcuts.with_neutral_prefix(["a film"]),
        TypeError,
        "takes a TextDataset",
    ),
    ("with_answer_hint", "a Batch", lambda: shortcuts.with_answer_hint(batch()), TypeError, "takes a TextDataset"),
    # --- shortcuts ------------------------------------------------------------------------------------
    (
        "neutral_mass",
        "negative attention",
        lambda: shortcuts.neutral_mass(-torch.ones(2, 3), torch.ones(2, 3, dtype=torch.bool)),
        ValueError,
        "negative entries",
    ),
    (
        "neutral_mass",
        "NaN attention",
        lambda: shortcuts.neutral_mass(with_nan(torch.ones(2, 3)), torch.ones(2, 3, dtype=torch.bool)),
        ValueError,
        "NaN",
    ),
    (
        "neutral_mass",
        "shapes differ",
        lambda: shortcuts.neutral_mass(torch.ones(2, 3), torch.ones(2, 4, dtype=torch.bool)),
        ValueError,
        "differ in shape",
    ),
    (
        "neutral_mass",
        "1-d attention",
        lambda: shortcuts.neutral_mass(torch.ones(3), torch.ones(3, dtype=torch.bool)),
        ValueError,
        "shape (N, T)",
    ),
    (
        "top_k_mask",
        "k=0",
        lambda: shortcuts.top_k_mask(torch.ones(2, 3), torch.ones(2, 3, dtype=torch.bool), 0),
        ValueError,
        "k must be >= 1",
    ),
    (
        "top_k_mask",
        "k=1.0",
        lambda: shortcuts.top_k_mask(torch.ones(2, 3), torch.ones(2, 3, dtype=torch.bool), 1.0),
        TypeError,
        "k must be an integer",
    ),
    (
        "top_k_mask",
        "int mask",
        lambda: shortcuts.top_k_mask(torch.ones(2, 3), torch.ones(2, 3), 1),
        ValueError,
        "mask must be a bool tensor",
    ),
    (
        "rationale_precision_recall",
        "no rationale anywhere",
        lambda: shortcuts.rationale_precision_recall(
            torch.ones(2, 3), torch.zeros(2, 3, dtype=torch.bool), torch.ones(2, 3, dtype=torch.bool), 1
        ),
        ValueError,
        "no sequence has a rationale",
    ),
    (
        "rationale_precision_recall",
        "rationale of wrong shape",
        lambda: shortcuts.rationale_precision_recall(
            torch.ones(2, 3), torch.ones(2, 2, dtype=torch.bool), torch.ones(2, 3, dtype=torch.bool), 1
        ),
        ValueError,
        "rationale must be a bool tensor",
    ),
    (
        "mask_only_probe",
        "masks and labels differ in number",
        lambda: shortcuts.mask_only_probe(
            torch.ones(4, 3), torch.zeros(3, dtype=torch.long), torch.ones(2, 3), torch.zeros(2, dtype=torch.long)
        ),
        ValueError,
        "4 masks but 3 labels",
    ),
    (
        "mask_only_probe",
        "float labels",
        lambda: shortcuts.mask_only_probe(
            torch.ones(4, 3), torch.tensor([0.0, 1.0, 0.0, 1.0]), torch.ones(2, 3), torch.zeros(2, dtype=torch.long)
        ),
        TypeError,
        "integer class labels",
    ),
    (
        "mask_only_probe",
        "steps=0",
        lambda: shortcuts.mask_only_probe(
            torch.ones(4, 3), torch.tensor([0, 1, 0, 1]), torch.ones(2, 3), torch.zeros(2, dtype=torch.long), steps=0
        ),
        ValueError,
        "steps must be >= 1",
    ),
    (
        "train_mask_probe",
        "no masks",
        lambda: shortcuts.train_mask_probe(torch.ones(0, 3), torch.zeros(0, dtype=torch.long)),
        ValueError,
        "no masks",
    ),
    (
        "posthoc_accuracy",
        "k=0",
        lambda: shortcuts.posthoc_accuracy(mask_model(), tokens(), mask(), weights().abs(), batch().labels, 0),
        ValueError,
        "k must be >= 1",
    ),
    (
        "posthoc_accuracy",
        "labels class 4",
        lambda: shortcuts.posthoc_accuracy(mask_model(), tokens(), mask(), weights().abs(), torch.tensor([0, 4, 0]), 1),
        ValueError,
        "holds the class 4",
    ),
    (
        "blackbox_posthoc_accuracy",
        "k=-1",
        lambda: shortcuts.blackbox_posthoc_accuracy(model(), tokens(), mask(), weights(), -1),
        ValueError,
        "k must be >= 1",
    ),
    # --- mitigations ------------------------------------------------------------------------------------
    (
        "random_attention",
        "scale=-1",
        lambda: shortcuts.random_attention(mask(), scale=-1.0),
        ValueError,
        "scale must be >= 0.0",
    ),
    (
        "random_attention",
        "scale=inf",
        lambda: shortcuts.random_attention(mask(), scale=float("inf")),
        ValueError,
        "scale must be finite",
    ),
    ("random_attention", "int mask", lambda: shortcuts.random_attention(mask().long()), ValueError, "bool (N, T)"),
    (
        "random_attention",
        "an empty row",
        lambda: shortcuts.random_attention(torch.zeros(1, 3, dtype=torch.bool)),
        ValueError,
        "at least one position",
    ),
    (
        "random_masks_for",
        "an AttentionClassifier",
        lambda: shortcuts.random_masks_for(model()),
        TypeError,
        "apply to a MaskClassifier",
    ),
    (
        "random_attention_pretraining",
        "pretrain_epochs=0",
        lambda: shortcuts.random_attention_pretraining(mask_model(), labelled([0, 1]), pretrain_epochs=0),
        ValueError,
        "pretrain_epochs must be >= 1",
    ),
    (
        "random_attention_pretraining",
        "finetune_epochs=-1",
        lambda: shortcuts.random_attention_pretraining(mask_model(), labelled([0, 1]), finetune_epochs=-1),
        ValueError,
        "finetune_epochs must be >= 0",
    ),
    (
        "random_attention_pretraining",
        "an AttentionClassifier",
        lambda: shortcuts.random_attention_pretraining(model(), labelled([0, 1])),
        TypeError,
        "apply to a MaskClassifier",
    ),
    (
        "instance_weights",
        "clip=0",
        lambda: shortcuts.instance_weights(torch.ones(8, 2) / 2, torch.zeros(8, dtype=torch.long), clip=0.0),
        ValueError,
        "clip must be in (0, 1]",
    ),
    (
        "instance_weights",
        "clip=nan",
        lambda: shortcuts.instance_weights(torch.ones(8, 2) / 2, torch.zeros(8, dtype=torch.long), clip=float("nan")),
        ValueError,
        "clip must be finite",
    ),
    (
        "instance_weights",
        "NaN masks",
        lambda: shortcuts.instance_weights(with_nan(torch.ones(8, 2)), torch.zeros(8, dtype=torch.long)),
        ValueError,
        "masks holds 1 NaN",
    ),
    (
        "instance_weights",
        "float labels",
        lambda: shortcuts.instance_weights(torch.ones(8, 2), torch.zeros(8)),
        TypeError,
        "integer class labels",
    ),
    (
        "instance_weights",
        "three examples",
        lambda: shortcuts.instance_weights(torch.ones(3, 2), torch.zeros(3, dtype=torch.long)),
        ValueError,
        "at least 4 examples",
    ),
    (
        "inverse_propensity_weights",
        "a probability above 1",
        lambda: shortcuts.inverse_propensity_weights(
            torch.tensor([0.5, 0.5]), torch.tensor([1.5]), torch.tensor([0]), 0.05
        ),
        ValueError,
        "outside [0, 1]",
    ),
    (
        "inverse_propensity_weights",
        "label 2 of 2 classes",
        lambda: shortcuts.inverse_propensity_weights(
            torch.tensor([0.5, 0.5]), torch.tensor([0.5]), torch.tensor([2]), 0.05
        ),
        ValueError,
        "holds the class 2",
    ),
    (
        "OnlineMaskPropensity",
        "prior not summing to 1",
        lambda: shortcuts.OnlineMaskPropensity(4, torch.tensor([0.5, 0.7])),
        ValueError,
        "probability vector",
    ),
    (
        "OnlineMaskPropensity",
        "width=0",
        lambda: shortcuts.OnlineMaskPropensity(0, torch.tensor([0.5, 0.5])),
        ValueError,
        "width must be >= 1",
    ),
    ("explore", "rate=1", lambda: shortcuts.explore(mask_model(), 1.0), ValueError, "exploration rate must be < 1.0"),
    (
        "explore",
        "rate=-0.5",
        lambda: shortcuts.explore(mask_model(), -0.5),
        ValueError,
        "exploration rate must be >= 0.0",
    ),
    (
        "model_masks",
        "tokens instead of a Batch",
        lambda: shortcuts.model_masks(mask_model(), tokens()),
        TypeError,
        "takes a Batch",
    ),
    (
        "instance_weighting",
        "epochs=0",
        lambda: shortcuts.instance_weighting(mask_model(), labelled([0, 1]), epochs=0),
        ValueError,
        "epochs must be >= 1",
    ),
    # --- transformer and multilayer ----------------------------------------------------------------------
    (
        "TransformerClassifier",
        "n_heads not dividing embed_dim",
        lambda: models.TransformerClassifier(V, embed_dim=10, n_heads=3),
        ValueError,
        "divisible by n_heads",
    ),
    (
        "TransformerClassifier",
        "n_layers=0",
        lambda: models.TransformerClassifier(V, n_layers=0),
        ValueError,
        "n_layers must be >= 1",
    ),
    (
        "TransformerClassifier",
        "max_length=0",
        lambda: models.TransformerClassifier(V, max_length=0),
        ValueError,
        "max_length must be >= 1",
    ),
    (
        "TransformerClassifier",
        "dropout=2",
        lambda: models.TransformerClassifier(V, dropout=2.0),
        ValueError,
        "dropout must be < 1.0",
    ),
    (
        "TransformerClassifier.forward",
        "token id out of range",
        lambda: tiny_transformer()(torch.tensor([[2, 40]]), torch.ones(1, 2, dtype=torch.bool)),
        ValueError,
        "outside this model's vocabulary",
    ),
    (
        "TransformerClassifier.forward",
        "longer than max_length",
        lambda: tiny_transformer()(torch.full((1, 9), 2), torch.ones(1, 9, dtype=torch.bool)),
        ValueError,
        "exceed max_length=8",
    ),
    (
        "attention_intervention",
        "a layer the model does not have",
        lambda: run_intervention([5]),
        ValueError,
        "names layer(s) [5]",
    ),
    ("uniform", "negative layer", lambda: interventions.uniform([-1]), ValueError, "each layer index must be >= 0"),
    ("uniform", "layers=[]", lambda: interventions.uniform([]), ValueError, "layers is empty"),
    ("uniform", "layers=3", lambda: interventions.uniform(3), TypeError, "list of layer indices"),
    ("permuted", "seed=-1", lambda: interventions.permuted(-1), ValueError, "seed must be >= 0"),
    (
        "attention_intervention",
        "not a function",
        lambda: interventions.attention_intervention(3).__enter__(),
        TypeError,
        "an intervention is a function",
    ),
    (
        "attention_intervention",
        "an intervention returning NaN",
        lambda: nan_intervention(),
        ValueError,
        "NaN or infinite attention",
    ),
    ("frozen", "no maps", lambda: interventions.frozen([]), ValueError, "one (B, H, S, S) tensor per layer"),
    ("frozen", "NaN maps", lambda: interventions.frozen([with_nan(torch.ones(2, 2))]), ValueError, "NaN"),
    (
        "explain (Transformer)",
        "layer=5 of 2",
        lambda: explain.explain("raw_attention", tiny_transformer(), batch(), layer=5),
        ValueError,
        "layer must be <= 1",
    ),
    (
        "explain (Transformer)",
        "layer=-3 of 2",
        lambda: explain.explain("attention_x_gradient", tiny_transformer(), batch(), layer=-3),
        ValueError,
        "layer must be >= -2",
    ),
    ("rollout_from", "no maps", lambda: explain.rollout_from([]), ValueError, "at least one layer"),
    ("rollout_from", "a 3-d map", lambda: explain.rollout_from([torch.ones(2, 3, 3)]), ValueError, "(B, H, S, S)"),
    (
        "genatt_from",
        "gradients of another shape",
        lambda: explain.genatt_from([torch.ones(1, 2, 3, 3)], [torch.ones(1, 2, 4, 4)]),
        ValueError,
        "the shape of its attention map",
    ),
    (
        "genatt_from",
        "NaN gradient",
        lambda: explain.genatt_from([torch.ones(1, 1, 2, 2)], [with_nan(torch.ones(2, 2)).reshape(1, 1, 2, 2)]),
        ValueError,
        "NaN",
    ),
    # --- self-checks -----------------------------------------------------------------------------------
    (
        "check_violates",
        "the result of a call, not the function",
        lambda: checks.check_violates(None),
        TypeError,
        "pass your function itself",
    ),
    (
        "check_integrated_gradients",
        "a number",
        lambda: checks.check_integrated_gradients(3),
        TypeError,
        "pass your function itself",
    ),
    (
        "check_masked_softmax",
        "a string",
        lambda: checks.check_masked_softmax("softmax"),
        TypeError,
        "pass your function itself",
    ),
]


def synthetic_text():
    from attnlab.data import TextDataset

    return TextDataset(
        texts=["a film"], tokens=[["a", "film"]], labels=np.array([1]), label_names=("negative", "positive")
    )


def nan_intervention():
    def bad(layer, weights, allowed):
        return weights * float("nan")

    with interventions.attention_intervention(bad):
        tiny_transformer()(tokens(), mask())


def test_the_suite_is_large_and_covers_every_public_module():
    assert len(CASES) >= 150
    modules = {
        "AttentionClassifier",
        "explain",
        "violation_test",
        "fit",
        "make_shortcut_task",
        "neutral_mass",
        "instance_weights",
        "TransformerClassifier",
        "explain (Transformer)",
        "check_violates",
    }
    assert modules <= {case[0] for case in CASES}


@pytest.mark.parametrize("function, bad, call, error, phrase", CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_bad_values_give_clear_errors(function, bad, call, error, phrase):
    with pytest.raises(error) as caught:
        call()
    assert phrase in str(caught.value), f"{function}({bad}) said: {caught.value}"


def test_an_unknown_ratio_key_is_not_a_bare_tuple_key_error():
    report = faithfulness.violation_test(model(), tokens(), mask(), {"m": weights()})
    with pytest.raises(KeyError, match="it has"):
        report.ratio("raw_attention")


# --------------------------------------------------------------------------------------------------
# Properties (hypothesis): batching, removal and the violation test on random sentences
# --------------------------------------------------------------------------------------------------

sentences = st.lists(st.lists(st.integers(2, V - 1), min_size=1, max_size=7), min_size=1, max_size=6)


@settings(max_examples=40, deadline=None)
@given(sentences)
def test_batching_round_trip(ids):
    b = Batch.from_ids(ids)
    assert b.tokens.shape == (len(ids), max(map(len, ids)))
    assert [b.tokens[i, :n].tolist() for i, n in enumerate(b.lengths.tolist())] == ids
    assert not bool(b.tokens[~b.mask].any())  # padding is 0
    seen = sorted(
        tuple(row[m].tolist()) for part in b.batches(2, shuffle=True, seed=1) for row, m in zip(part.tokens, part.mask)
    )
    assert seen == sorted(map(tuple, ids))  # batching loses and duplicates nothing


@settings(max_examples=40, deadline=None)
@given(sentences, st.integers(0, 10_000))
def test_slice_out_keeps_the_order_of_what_stays(ids, seed):
    b = Batch.from_ids(ids)
    gen = torch.Generator().manual_seed(seed)
    keep = (torch.rand(b.mask.shape, generator=gen) < 0.6) & b.mask
    keep[:, 0] = True  # something stays
    new_tokens, new_mask = slice_out(b.tokens, keep)
    for i in range(len(ids)):
        assert new_tokens[i][new_mask[i]].tolist() == b.tokens[i][keep[i]].tolist()


@settings(max_examples=25, deadline=None)
@given(sentences, st.integers(0, 10_000))
def test_negating_an_explanation_flips_exactly_the_decided_sentences(ids, seed):
    b = Batch.from_ids(ids)
    gen = torch.Generator().manual_seed(seed)
    w = (torch.rand(b.mask.shape, generator=gen) - 0.5) * b.mask
    report = faithfulness.violation_test(bow(), b.tokens, b.mask, {"w": w, "-w": -w})
    for op in report.operators:
        decided = (report.delta[("w", op)] != 0) & (report.top_weight["w"] != 0) & report.valid
        assert torch.equal(report.violates[("w", op)] ^ report.violates[("-w", op)], decided)


@settings(max_examples=25, deadline=None)
@given(sentences)
def test_exact_contributions_never_violate(ids):
    b = Batch.from_ids(ids)
    with torch.no_grad():
        target = bow()(b.tokens, b.mask).logits.argmax(-1)
    exact = bow().exact_contributions(b.tokens, b.mask, target)
    report = faithfulness.violation_test(bow(), b.tokens, b.mask, {"exact": exact})
    assert not any(bool(v.any()) for v in report.violates.values())
