"""The capstone: the auto-checked part of a new explanation method, and its toy task.

``check_explanation_method`` validates the interface of a learner's explanation method (one finite weight
per token, 0 on padding, deterministic, leaves the model alone, copes with one-token sentences) and runs it
through the violation test next to baselines, on a small model trained on ``toy_polarity_task``, a
synthetic sentiment task with a known answer. Used by book/capstone.md and the explorer notebook.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from .. import faithfulness
from ..data import Batch
from ..explain import explain
from ..models import AttentionClassifier
from ..train import fit, set_seed
from .framework import as_tensor, close, fail, require_zero

__all__ = ["check_explanation_method", "toy_polarity_task"]


def toy_polarity_task(n: int = 2000, seed: int = 0, vocab_size: int = 40, max_length: int = 12) -> Batch:
    """A synthetic sentiment task with a known answer: each token id has a fixed polarity
    (ids 2-13 positive, 14-25 negative, the rest neutral); the label is 1 when positive tokens
    outnumber negative ones (ties resolved by the first polar token)."""
    gen = torch.Generator().manual_seed(seed)
    lengths = torch.randint(2, max_length + 1, (n,), generator=gen)
    ids, labels = [], []
    polarity = torch.zeros(vocab_size)
    polarity[2:14], polarity[14:26] = 1.0, -1.0
    for length in lengths.tolist():
        sentence = torch.randint(2, vocab_size, (length,), generator=gen)
        score = float(polarity[sentence].sum())
        if score == 0:
            polar = polarity[sentence][polarity[sentence] != 0]
            score = float(polar[0]) if len(polar) else 1.0
        ids.append(sentence.tolist())
        labels.append(int(score > 0))
    return Batch.from_ids(ids, labels)


def _trained_toy_model(seed: int = 0):
    data = toy_polarity_task(2400, seed=seed)
    train, test = data[torch.arange(2000)], data[torch.arange(2000, 2400)]
    set_seed(seed)
    model = AttentionClassifier(40, 2, encoder="bilstm", attention="additive", embed_dim=16, hidden_dim=16)
    fit(model, train, epochs=3, batch_size=32, lr=5e-3, seed=seed, progress=False)
    return model, test


def check_explanation_method(
    method: Callable,
    model=None,
    data: Batch | None = None,
    *,
    baselines: Sequence[str] = ("random", "random_signed", "raw_attention", "attention_x_gradient"),
    verbose: bool = True,
):
    """The capstone's auto-checked part: validate a new explanation method and run the violation test.

    ``method(model, tokens, mask, target) -> (B, T) weights`` (the signature of the methods in
    :mod:`attnlab.explain`; ``target`` is the class to explain). Checks that it returns one finite weight
    per token, 0 on padding, the same weights twice, does not change the model's parameters, and copes
    with one-token sentences; then runs :func:`attnlab.faithfulness.violation_test` for the method and
    ``baselines`` on ``model``/``data`` (default: a small BiLSTM trained in a few seconds on
    :func:`toy_polarity_task`). Raises :class:`CheckFailed` on an interface problem; returns the
    violation table (a DataFrame: rows = methods, columns = removal operators and their mean).
    """
    check = "check_explanation_method"
    if model is None:
        model, data = _trained_toy_model()
    if data is None:
        raise fail(check, "pass the data (a Batch) together with your model")
    model.eval()
    sentences = [data.tokens[i, : int(n)].tolist() for i, n in enumerate(data.lengths[:6])]
    sentences[1] = sentences[1][:1]  # a one-token sentence among longer ones
    probe = Batch.from_ids(sentences)
    probe_tokens, probe_mask = probe.tokens, probe.mask
    with torch.no_grad():
        target = model(probe_tokens, probe_mask).logits.argmax(-1)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    try:
        w = method(model, probe_tokens, probe_mask, target)
    except Exception as error:
        raise fail(
            check,
            f"your method raised {type(error).__name__}: {error}",
            "signature: method(model, tokens, mask, target) -> (B, T) tensor",
        ) from error
    if w is None:
        raise fail(check, "your method returns None", "return a (batch, length) tensor of weights")
    w = as_tensor(check, w, probe_tokens.shape, "the weights")
    require_zero(
        check,
        w,
        ~probe_mask,
        "padding: padding positions get non-zero weights",
        "multiply the weights by the mask (or masked_fill(~mask, 0))",
    )
    again = as_tensor(check, method(model, probe_tokens, probe_mask, target), probe_tokens.shape)
    if not close(w, again, atol=1e-6):
        raise fail(
            check,
            "determinism: two calls on the same input give different weights",
            "fix any randomness with a seed derived from the input, as attnlab.explain.random_weights does",
        )
    for name, value in model.state_dict().items():
        if not torch.equal(value, before[name]):
            raise fail(
                check,
                f"your method changed the model's parameter {name!r}",
                "never call optimiser.step() or modify weights in place; use torch.no_grad() or torch.autograd.grad",
            )
    with torch.no_grad():
        targets = model(data.tokens, data.mask).logits.argmax(-1)
    weights = {
        "your method": method(model, data.tokens, data.mask, targets).detach().float().masked_fill(~data.mask, 0.0)
    }
    weights |= {name: explain(name, model, data, target=targets) for name in baselines}
    table = faithfulness.violation_test(model, data.tokens, data.mask, weights).table()
    if verbose:
        accuracy = float((targets == data.labels).float().mean()) if data.labels is not None else float("nan")
        print(
            f"✓ {check}: the interface is right. Violation ratios on {len(data)} sentences "
            f"(model accuracy {accuracy:.3f}; lower is better; random_signed is about 0.5 by construction, "
            "random — Liu et al.'s non-negative baseline — is the share of tokens whose removal raises "
            "the prediction):"
        )
        print(table.round(3).to_string())
    return table
