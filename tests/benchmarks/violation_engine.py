"""Benchmark (not a test): the violation test with every single-layer explanation method on 1,000 test
sentences, timed three ways in one run, and the ratios between them.

    .venv/bin/python tests/benchmarks/violation_engine.py                 # 1,000 sentences, loop on all
    .venv/bin/python tests/benchmarks/violation_engine.py --loop 200      # loop on 200, scaled up

1. **The kit's batched engine**, as the violation chapter runs it: ``explain_all`` (every method of
   ``attnlab.explain.METHODS`` over the whole batch), then one batched ``violation_test``.
2. **A straightforward per-sentence loop** doing the same work (integrated gradients one step at a
   time, leave-one-out one deletion at a time, the violation test one forward pass per removal).
3. **The floor**: the bare model calls the engine cannot avoid, timed as plain batched calls of the
   same model on the same sentences (length-sorted chunks, as the engine batches them):

   * the violation test (``attnlab.faithfulness.violation_test``): one forward pass of the N sentences
     (f(x) and ŷ), then, for each of the 3 removal operators, one forward pass of the N·M perturbed
     sentences (M methods): **N·(1 + 3·M)** forward rows, timed as one batched pass over all of them;
   * the gradients the methods need: one forward + backward pass of the N sentences per distinct
     gradient (∂f/∂e for InputGrad and the gradient norm, ∂f/∂α for AttGrad and its ablations),
     ``steps + 1`` for integrated gradients;
   * the forward rows the other methods need (ŷ, the attention read-outs, and leave-one-out's one row
     per "sentence minus one token"), reported separately: the issue's floor is the violation test's
     rows plus the gradients; the complete floor adds these.

Threads: one torch thread (``$ATTNLAB_THREADS`` overrides), as every chapter runs. Times are CPU seconds of
this process (``time.process_time``): with one thread that is the wall time on an idle core, and it is
much less affected than wall time by other processes on a shared machine. The model is the violation
chapter's BiLSTM (64 units per direction) + additive attention, trained for two epochs on the movie
sentences. The engine and the loop compute the same numbers; the script checks that they agree.
"""

from __future__ import annotations

import argparse
import os
import time

import torch

from attnlab.data import Vocab, encode, glove_embeddings, load_sentiment
from attnlab.explain import METHODS, explain, explain_all
from attnlab.faithfulness import violation_test
from attnlab.models import REMOVAL_OPERATORS, AttentionClassifier
from attnlab.train import accuracy, fit, set_seed

IG_STEPS = 20  # integrated_gradients' default number of intervals (steps + 1 gradient evaluations)

#: What each registered method needs beyond the violation test, in bare model calls per sentence:
#: ("gradient", key, g): g forward + backward passes, shared by the methods with the same key (AttGrad
#: and its three ablations need the same ∂f/∂α, InputGrad and the gradient norm the same ∂f/∂e);
#: ("forward", key, f): f forward passes, shared likewise; ("loo", key, 0): one forward pass of every
#: "sentence minus one token"; ("none", None, 0): no model call.
METHOD_NEEDS = {
    "raw_attention": ("forward", "attention", 1),
    "attention_x_value_norm": ("forward", "attention", 1),
    "gradient_norm": ("gradient", "df/de", 1),
    "input_x_gradient": ("gradient", "df/de", 1),
    "attention_x_gradient": ("gradient", "df/dalpha", 1),
    "attention_x_abs_gradient": ("gradient", "df/dalpha", 1),
    "attention_x_sign_gradient": ("gradient", "df/dalpha", 1),
    "attention_gradient": ("gradient", "df/dalpha", 1),
    "integrated_gradients": ("gradient", "integrated gradients", IG_STEPS + 1),
    "leave_one_out": ("loo", "leave-one-out", 0),
    "random": ("none", None, 0),
    "random_signed": ("none", None, 0),
}


def passes_needed(kind: str) -> int:
    """Distinct passes of one kind over the N sentences that the registered methods need together."""
    needs = {key: n for m in METHODS for k, key, n in [METHOD_NEEDS[m]] if k == kind}
    return sum(needs.values())


# --------------------------------------------------------------------------------------------------
# 1. the kit's batched engine
# --------------------------------------------------------------------------------------------------


def batched(model, data, timings: dict | None = None):
    """The kit's way (as the violation chapter runs it): every method over the whole batch with
    ``explain_all``, then one batched violation test."""
    timings = {} if timings is None else timings
    start = time.process_time()
    weights = explain_all(model, data)
    timings["explanations"] = time.process_time() - start
    start = time.process_time()
    report = violation_test(model, data.tokens, data.mask, weights)
    timings["violation test"] = time.process_time() - start
    return report


# --------------------------------------------------------------------------------------------------
# 2. the per-sentence loop
# --------------------------------------------------------------------------------------------------


def _prob(model, tokens, mask, y, **kwargs):
    return model(tokens, mask, **kwargs).probs[0, y]


def naive_integrated_gradients(model, one, y, steps):
    """IG the textbook way: one gradient computation per integration step (trapezoid rule)."""
    embeds = model.embed(one.tokens).detach()
    total = torch.zeros_like(embeds)
    for k in range(steps + 1):
        x = (k / steps * embeds).requires_grad_(True)
        (grad,) = torch.autograd.grad(_prob(model, one.tokens, one.mask, y, inputs_embeds=x), x)
        total += grad * (0.5 if k in (0, steps) else 1.0)
    return (embeds * total / steps).sum(-1)[0]


def naive_leave_one_out(model, one, y):
    """Leave-one-out the textbook way: one forward pass per deleted token."""
    ids = one.tokens[0].tolist()
    with torch.no_grad():
        full = _prob(model, one.tokens, one.mask, y)
        out = []
        for t in range(len(ids)):
            rest = torch.tensor([ids[:t] + ids[t + 1 :]])
            out.append(float(full - _prob(model, rest, torch.ones_like(rest, dtype=torch.bool), y)))
    return torch.tensor(out)


def per_sentence(model, data, ig_steps=IG_STEPS):
    """The straightforward way: one sentence at a time; integrated gradients one step at a time,
    leave-one-out one deletion at a time, the violation test one forward pass per removal. The other
    methods (one gradient or one forward pass each) use the kit's functions on the single sentence."""
    violations = {(m, op): 0 for m in METHODS for op in REMOVAL_OPERATORS}
    counted = 0
    for i in range(len(data)):
        one = data[i]
        if one.tokens.shape[1] < 2:
            continue
        counted += 1
        with torch.no_grad():
            probs = model(one.tokens, one.mask).probs[0]
        y = int(probs.argmax())
        for m in METHODS:
            if m == "integrated_gradients":
                w = naive_integrated_gradients(model, one, y, ig_steps)
            elif m == "leave_one_out":
                w = naive_leave_one_out(model, one, y)
            else:
                w = explain(m, model, one, target=torch.tensor([y]))[0]
            star = int(w.abs().argmax())
            remove = torch.zeros_like(one.mask)
            remove[0, star] = True
            for op in REMOVAL_OPERATORS:
                with torch.no_grad():
                    p = model.forward_removed(one.tokens, one.mask, remove, op).probs[0, y]
                violations[(m, op)] += int(float(w[star]) * float(probs[y] - p) < 0)
    return {k: v / counted for k, v in violations.items()}


# --------------------------------------------------------------------------------------------------
# 3. the floor: bare batched model calls
# --------------------------------------------------------------------------------------------------


def _length_chunks(mask, chunk_size):
    """Row indices grouped by length into chunks, with each chunk's width (as the engine batches)."""
    order = torch.argsort(mask.sum(1), stable=True)
    for start in range(0, len(order), chunk_size):
        idx = order[start : start + chunk_size]
        yield idx, int(mask[idx].sum(1).max())


def bare_forward(model, tokens, mask, chunk_size=512) -> float:
    """Seconds for one plain forward pass over every row (no checks beyond the model's own)."""
    start = time.process_time()
    with torch.no_grad():
        for idx, width in _length_chunks(mask, chunk_size):
            _ = model(tokens[idx, :width], mask[idx, :width]).probs
    return time.process_time() - start


def bare_gradient(model, tokens, mask, target, chunk_size=64) -> float:
    """Seconds for one plain forward + backward pass over every row: the gradient of f(x)_ŷ with
    respect to the embeddings, as a gradient method needs."""
    start = time.process_time()
    for idx, width in _length_chunks(mask, chunk_size):
        embeds = model.embed(tokens[idx, :width]).detach().requires_grad_(True)
        prob = model(tokens[idx, :width], mask[idx, :width], inputs_embeds=embeds).probs
        torch.autograd.grad(prob.gather(1, target[idx, None]).sum(), embeds)
    return time.process_time() - start


FORWARD_CHUNKS = (256, 512, 1024)  # rows per forward call tried for the floor (the engine uses 512)
GRADIENT_CHUNKS = (64, 128, 256)  # rows per forward + backward call tried (the engine: 64 sentences, IG 128 rows)


def floor_times(model, data) -> dict:
    """The bare cost of every model call the engine needs.

    All forward rows of a part are timed as ONE plain batched pass over all of them, and all gradient
    rows likewise, in length-sorted chunks; each is timed with every chunk size of FORWARD_CHUNKS or
    GRADIENT_CHUNKS and the fastest is kept, so the floor gets every economy of batching the engine
    could have."""
    unknown = sorted(set(METHODS) - set(METHOD_NEEDS))
    if unknown:
        raise SystemExit(f"METHOD_NEEDS does not say what {unknown} need: add them to the benchmark")
    tokens, mask = data.tokens, data.mask
    with torch.no_grad():
        target = model(tokens, mask).logits.argmax(-1)
    M = len(METHODS)
    n_grad, n_fwd = passes_needed("gradient"), 1 + passes_needed("forward")  # + f(x) once for ŷ

    def forward_floor(t, m):
        return min(bare_forward(model, t, m, chunk) for chunk in FORWARD_CHUNKS)

    # the violation test: N·(1 + 3·M) forward rows (the sentences, then each one minus its top token,
    # for every method and operator; one token shorter makes no measurable difference)
    violation = forward_floor(tokens.repeat(1 + 3 * M, 1), mask.repeat(1 + 3 * M, 1))
    # the gradients: n_grad·N rows (integrated gradients' rows are the sentences' scaled embeddings: same shapes)
    gradients = (
        min(
            bare_gradient(model, tokens.repeat(n_grad, 1), mask.repeat(n_grad, 1), target.repeat(n_grad), chunk)
            for chunk in GRADIENT_CHUNKS
        )
        if n_grad
        else 0.0
    )
    grad = bare_gradient(model, tokens, mask, target)
    # the methods' forward rows: ŷ and the attention read-outs (n_fwd passes of N), and leave-one-out's one row
    # per (sentence with >= 2 tokens, token), each one token shorter
    from attnlab.models import slice_out

    rows = torch.empty(0, dtype=torch.long)
    if any(METHOD_NEEDS[m][0] == "loo" for m in METHODS):
        rows, cols = torch.nonzero(mask & (mask.sum(1, keepdim=True) > 1), as_tuple=True)
    keep = mask[rows].clone()
    keep[torch.arange(len(rows)), cols] = False
    loo_tokens, loo_mask = slice_out(tokens[rows], keep) if len(rows) else (tokens[:0], mask[:0])
    width = max(tokens.shape[1], loo_tokens.shape[1])
    pad = lambda t: torch.nn.functional.pad(t, (0, width - t.shape[1]))  # noqa: E731
    forward_tokens = torch.cat([pad(tokens.repeat(n_fwd, 1)), pad(loo_tokens)])
    forward_mask = torch.cat([pad(mask.repeat(n_fwd, 1)), pad(loo_mask)])
    method_forwards = forward_floor(forward_tokens, forward_mask)
    one_forward = bare_forward(model, tokens, mask)
    return {
        "forward pass of N": one_forward,
        "gradient pass of N": grad,
        "violation test": violation,
        "gradients": gradients,
        "n_gradient_passes": n_grad,
        "method forwards": method_forwards,
        "n_forward_passes": n_fwd,
        "n_loo_rows": len(rows),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=1000, help="test sentences for the batched engine")
    parser.add_argument("--loop", type=int, default=1000, help="sentences for the per-sentence loop (0: skip it)")
    args = parser.parse_args()
    threads = int(os.environ.get("ATTNLAB_THREADS", "1"))
    torch.set_num_threads(threads)
    splits = load_sentiment("movies")
    vocab = Vocab.build(splits.train.tokens)
    glove, _ = glove_embeddings(vocab)
    train, dev, test = (encode(part, vocab) for part in splits)
    set_seed(0)
    model = AttentionClassifier(
        len(vocab), encoder="bilstm", attention="additive", hidden_dim=64, embeddings=glove, dropout=0.3
    )
    fit(model, train, dev, epochs=2, batch_size=64, seed=0, progress=False)
    model.eval()
    data = test[: args.sentences]
    N, M = len(data), len(METHODS)
    print(
        f"model test accuracy {accuracy(model, test):.3f}; {M} methods x {len(REMOVAL_OPERATORS)} operators on "
        f"{N} sentences (mean length {float(data.mask.sum(1).float().mean()):.1f}); {threads} torch thread(s)"
    )

    timings: dict[str, float] = {}
    bare_forward(model, data.tokens, data.mask)  # warm-up (allocator, first-call overheads)
    start = time.process_time()
    report = batched(model, data, timings)
    t_batched = time.process_time() - start
    floor = floor_times(model, data)
    issue_floor = floor["violation test"] + floor["gradients"]
    full_floor = issue_floor + floor["method forwards"]

    print()
    print("Where the engine's time goes, against the bare model calls each part needs (CPU seconds):")
    print(f"  {'part':68s} {'engine':>8s} {'floor':>8s} {'ratio':>7s}")
    parts = [
        (f"violation test ({1 + 3 * M} forward passes of N)", timings["violation test"], floor["violation test"]),
        (
            f"explanations ({floor['n_gradient_passes']} gradient + {floor['n_forward_passes']} forward passes of N"
            f"{' + leave-one-out' if floor['n_loo_rows'] else ''})",
            timings["explanations"],
            floor["gradients"] + floor["method forwards"],
        ),
    ]
    for name, engine, bare in parts:
        print(f"  {name:68s} {engine:8.1f} {bare:8.1f} {engine / bare:6.2f}x")
    print(
        f"  (one bare forward pass of the {N} sentences alone: {floor['forward pass of N']:.2f} s; one forward + "
        f"backward: {floor['gradient pass of N']:.2f} s; leave-one-out needs {floor['n_loo_rows']} rows)"
    )

    loop_data = data[: args.loop] if args.loop else None
    if loop_data is not None:
        start = time.process_time()
        looped = per_sentence(model, loop_data)
        t_loop = time.process_time() - start
        scale = len(data) / len(loop_data)

    print()
    print("Summary (one run):")
    print(f"  batched engine:                              {t_batched:8.1f} s")
    print(
        f"  floor N·(1 + 3·M) forward + gradients:        {issue_floor:8.1f} s"
        f"   (N = {N}, M = {M}: {N * (1 + 3 * M)} forward rows; {floor['n_gradient_passes']}·N gradient rows)"
    )
    print(f"  complete floor (+ the methods' forwards):     {full_floor:8.1f} s")
    if loop_data is not None:
        print(
            f"  per-sentence loop:                           {t_loop * scale:8.1f} s"
            + (f"   (measured {t_loop:.1f} s on {len(loop_data)} sentences, x{scale:.1f})" if scale != 1 else "")
        )
    print()
    if loop_data is not None:
        print(f"  RATIO engine speed-up over the loop:          {t_loop * scale / t_batched:6.1f}x")
    print(
        f"  RATIO engine / floor (the issue's: N·(1+3M) + gradients): {t_batched / issue_floor:6.2f}x   (target <= 3x)"
    )
    print(f"  RATIO engine / complete floor:                {t_batched / full_floor:6.2f}x")
    if loop_data is not None and len(loop_data) == len(data):
        worst = max(abs(report.ratio(m, op) - looped[(m, op)]) for (m, op) in looped)
        print(f"  largest difference between the engine's and the loop's violation ratios: {worst:.4f}")


if __name__ == "__main__":
    main()
