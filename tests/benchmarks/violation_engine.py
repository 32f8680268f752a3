"""Benchmark (not a test): the violation test with every single-layer explanation method on 1,000 test
sentences — the kit's batched engine against a straightforward loop over sentences doing the same work.

    .venv/bin/python tests/benchmarks/violation_engine.py                 # 1,000 sentences both ways
    .venv/bin/python tests/benchmarks/violation_engine.py --loop 200      # loop on 200, scaled up

The model is the chapter's BiLSTM (64 units per direction) + additive attention, trained for two
epochs on the movie sentences. Both ways compute the same numbers; the script checks that they agree.
"""

from __future__ import annotations

import argparse
import time

import torch

from attnlab.data import Vocab, encode, glove_embeddings, load_sentiment
from attnlab.explain import METHODS, explain, predicted_class
from attnlab.faithfulness import violation_test
from attnlab.models import REMOVAL_OPERATORS, AttentionClassifier
from attnlab.train import accuracy, fit, set_seed


def batched(model, data):
    """The kit's way: every method over the whole batch, then one batched violation test."""
    target = predicted_class(model, data.tokens, data.mask)
    weights = {m: explain(m, model, data, target=target) for m in METHODS}
    return violation_test(model, data.tokens, data.mask, weights)


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
            rest = torch.tensor([ids[:t] + ids[t + 1:]])
            out.append(float(full - _prob(model, rest, torch.ones_like(rest, dtype=torch.bool), y)))
    return torch.tensor(out)


def per_sentence(model, data, ig_steps=20):
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=1000, help="test sentences for the batched engine")
    parser.add_argument("--loop", type=int, default=1000, help="sentences for the per-sentence loop")
    args = parser.parse_args()
    torch.set_num_threads(2)
    splits = load_sentiment("movies")
    vocab = Vocab.build(splits.train.tokens)
    glove, _ = glove_embeddings(vocab)
    train, dev, test = (encode(part, vocab) for part in splits)
    set_seed(0)
    model = AttentionClassifier(len(vocab), encoder="bilstm", attention="additive", hidden_dim=64,
                                embeddings=glove, dropout=0.3)
    fit(model, train, dev, epochs=2, batch_size=64, seed=0, progress=False)
    data = test[: args.sentences]
    print(f"model test accuracy {accuracy(model, test):.3f}; {len(METHODS)} methods x "
          f"{len(REMOVAL_OPERATORS)} operators on {len(data)} sentences")

    start = time.perf_counter()
    report = batched(model, data)
    t_batched = time.perf_counter() - start
    print(f"batched engine:      {t_batched:7.1f} s")

    loop_data = data[: args.loop]
    start = time.perf_counter()
    looped = per_sentence(model, loop_data)
    t_loop = time.perf_counter() - start
    scale = len(data) / len(loop_data)
    print(f"per-sentence loop:   {t_loop:7.1f} s on {len(loop_data)} sentences"
          + (f" (x{scale:.1f} = {t_loop * scale:.1f} s for {len(data)})" if scale != 1 else ""))
    print(f"speed-up:            {t_loop * scale / t_batched:7.1f}x")
    if len(loop_data) == len(data):
        worst = max(abs(report.ratio(m, op) - looped[(m, op)]) for (m, op) in looped)
        print(f"largest difference between the two ways' violation ratios: {worst:.4f}")


if __name__ == "__main__":
    main()
