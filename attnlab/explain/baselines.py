"""Random baselines: the chance levels of the violation test, for methods with and without a sign."""

from __future__ import annotations

import torch

from .. import validate
from .registry import register


def _uniform_hash(tokens: torch.Tensor, seed: int) -> torch.Tensor:
    """Pseudo-random numbers in [0, 1), one per position: a hash of (seed, the sentence, the position).

    They do not depend on how the sentences are batched, and a rerun gives the same numbers.
    """
    seed = validate.integer("seed", seed, minimum=0)
    # cpu: computed in float64 on the CPU (MPS has no float64; the same numbers on every device), then moved
    ids = tokens.detach().cpu().double()
    sentence = (ids * torch.arange(1, tokens.shape[1] + 1)).sum(1, keepdim=True)  # cpu: see above
    position = torch.arange(tokens.shape[1], dtype=torch.float64)  # cpu: see above
    h = torch.sin(ids * 12.9898 + position * 78.233 + sentence * 0.618034 + seed * 37.719) * 43758.5453
    # clamped below 1 so that rounding the float64 fraction to float32 cannot give exactly 1.0
    return (h - torch.floor(h)).clamp(max=1 - 2**-24).float().to(tokens.device)


@register("random", signed=False, needs=(), label="Random", reference="liu2022rethinking")
def random_weights(model, tokens, mask, target, seed: int = 0):
    """Liu et al.'s (2022) random baseline: non-negative weights, uniform in [0, 1).

    The authors' code draws ``torch.rand_like(attn)``; here each weight is a hash of (seed, the
    sentence, the position) mapped to [0, 1), so it does not depend on how the sentences are batched
    and a rerun gives the same weights.

    What its violation ratio measures: a non-negative weight says "supports ŷ" for every token, so the
    test's top token (here a token drawn at random) violates exactly when removing it *raises* f_ŷ. The
    ratio is the share of tokens whose removal raises the predicted class's probability — about the
    fraction of "suppressing" tokens. It is the chance level of a method without a sign, and the
    paper's "Random" row. For a sign-aware chance level see ``random_signed``.
    """
    return _uniform_hash(tokens, seed)


@register("random_signed", signed=True, needs=(), label="Random (signed)")
def random_signed_weights(model, tokens, mask, target, seed: int = 0):
    """A signed random baseline, uniform in [-1, 1): the same hash as ``random``, mapped to 2u − 1.

    What its violation ratio measures: the sign of the top weight is a coin flip independent of the
    token, so it violates about half the time whatever the model does (≈ 0.5 by construction) — the
    chance level of a method that claims a sign. It is not the paper's baseline (that is ``random``).
    """
    return _uniform_hash(tokens, seed) * 2 - 1
