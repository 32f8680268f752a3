"""Running the measurable items of the checklist on a kit-compatible model."""

from __future__ import annotations

import torch
from torch import nn

from .. import validate
from ..data import Batch
from ..device import to_device
from ..models import RemovalMixin
from .items import Checklist, Verdict


class _Removable(RemovalMixin, nn.Module):
    """A kit model without the removal operators (e.g. MaskClassifier), wrapped to get them."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model
        self.config = getattr(model, "config", {})

    def embed(self, tokens):
        return self.model.embed(tokens)

    def forward(self, *args, **kwargs):
        return self.model(*args, **kwargs)


def _accuracy(model, data: Batch, attention=None, batch_size: int = 256) -> float:
    hits = 0
    with torch.no_grad():
        for start in range(0, len(data), batch_size):
            part = data[start : start + batch_size]
            kwargs = {} if attention is None else {"attention": attention}
            part = to_device(part, model)
            hits += int((model(part.tokens, part.mask, **kwargs).logits.argmax(-1) == part.labels).sum())
    return hits / len(data)


def _attention(model, data: Batch, batch_size: int = 256) -> torch.Tensor:
    out = torch.zeros(data.tokens.shape)  # cpu: the checklist's tables are computed on the CPU
    with torch.no_grad():
        for start in range(0, len(data), batch_size):
            part = to_device(data[start : start + batch_size], model)
            width = part.tokens.shape[1]
            out[start : start + batch_size, :width] = model(part.tokens, part.mask).attention.float().cpu()
    return out


def run_checklist(
    model,
    data: Batch,
    *,
    train: Batch | None = None,
    trained_jointly: bool | None = None,
    neutral: torch.Tensor | None = None,
    n: int = 300,
    probe_n: int = 1000,
    seed: int = 0,
    tolerance: float = 0.02,
    probe_margin: float = 0.1,
    verbose: bool = True,
) -> Checklist:
    """Run the checklist's measurable items on ``model`` and print the verdicts.

    Args:
        model: a trained kit model whose forward takes ``attention=`` (a replacement distribution or a
            function of the model's own) and returns ``.attention``; e.g. ``AttentionClassifier`` or
            ``MaskClassifier``.
        data: labelled test sentences; ``n`` of them, drawn at random (fixed by ``seed``), are used for
            the violation test and the accuracies, up to ``probe_n`` for the mask-only probe.
        train: labelled training sentences for the mask-only probe (it is trained on the attention of
            up to 2000 of them, or ``probe_n`` if larger). Without it the probe is trained on half of its test sentences and
            tested on the other half.
        trained_jointly: whether the attention was trained together with the model that reads it (not
            measurable from a trained model: you know how you trained it). ``None`` = not said.
        neutral: optional bool ``(N, T)`` marking tokens of ``data`` that cannot carry the label.
        tolerance: an accuracy drop below this under uniform and under permuted attention means the model
            does not need its attention.
        probe_margin: a mask-only probe this far above the majority-class share means the mask alone
            predicts the label.
    """
    from ..explain import explain
    from ..faithfulness import violation_test
    from ..interventions import permuted_attention, uniform_attention
    from ..shortcuts import mask_only_probe, neutral_mass

    if not isinstance(data, Batch) or data.labels is None:
        raise TypeError("data must be a labelled attnlab.data.Batch (the checklist measures accuracies)")
    validate.integer("n", n, minimum=10)
    validate.integer("probe_n", probe_n, minimum=10)
    if trained_jointly not in (None, True, False):
        raise TypeError(f"trained_jointly must be True, False or None, got {trained_jointly!r}")
    model.eval()
    keep = min(n, len(data))
    # a random sample (splits may be sorted by label), fixed by seed
    if neutral is not None and (
        not isinstance(neutral, torch.Tensor) or neutral.dtype != torch.bool or neutral.shape[0] != len(data)
    ):
        raise ValueError(f"neutral must be a bool tensor with one row per sentence of data ({len(data)})")
    full = data
    index_all = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))
    index = index_all[:keep]
    data = data[index]
    numbers: dict[str, float] = {}
    verdicts: list[Verdict] = []
    generator_seed = seed

    # 1-2. sign and the violation test: raw attention, AttGrad and Liu et al.'s non-negative random baseline
    methods = ("raw_attention", "attention_x_gradient", "random")
    weights = {m: explain(m, model, data) for m in methods}
    removable = model if hasattr(model, "forward_removed") else _Removable(model)
    report = violation_test(removable, data.tokens, data.mask, weights)
    ratios = {m: report.ratio(m) for m in methods}
    suppress = report.ratio("raw_attention", "slice_out")
    negative = bool((weights["raw_attention"][data.mask] < 0).any())
    numbers.update(
        min_attention_weight=float(weights["raw_attention"][data.mask].min()),
        top_attention_suppresses_share=suppress,
        violation_raw_attention=ratios["raw_attention"],
        violation_attention_x_gradient=ratios["attention_x_gradient"],
        violation_random=ratios["random"],
    )
    verdicts.append(
        Verdict(
            "signed",
            "ok" if negative else "caution",
            f"smallest attention weight {numbers['min_attention_weight']:.3g}; the most-attended token works against "
            f"the prediction (deleting it raises P(ŷ)) in {suppress:.1%} of sentences",
            "the weights can be negative: read their sign"
            if negative
            else "attention weights are never negative: they cannot say that a token works against the prediction, "
            "so read them as 'where the model reads from', not as 'for' or 'against'",
        )
    )
    worse = ratios["raw_attention"] >= ratios["random"]
    verdicts.append(
        Verdict(
            "violation",
            "caution" if worse or ratios["attention_x_gradient"] + 0.05 < ratios["raw_attention"] else "ok",
            f"violation ratio (mean of the three removal operators): raw attention {ratios['raw_attention']:.3f}, "
            f"Liu et al.'s random baseline {ratios['random']:.3f}, attention ⊙ gradient {ratios['attention_x_gradient']:.3f}",
            (
                "raw attention gets the direction wrong no less often than a random explanation"
                if worse
                else "raw attention violates less often than the random baseline"
            )
            + (
                "; a signed method (attention ⊙ gradient) does better by more than 0.05: use it for direction"
                if ratios["attention_x_gradient"] + 0.05 < ratios["raw_attention"]
                else ""
            ),
        )
    )

    # 3. counterfactual attention
    own = _accuracy(model, data)
    uniform = _accuracy(model, data, uniform_attention)
    permuted = _accuracy(model, data, permuted_attention(seed))
    drop = own - min(uniform, permuted)
    numbers.update(
        accuracy=own,
        uniform_attention_accuracy=uniform,
        permuted_attention_accuracy=permuted,
        largest_accuracy_drop=drop,
    )
    verdicts.append(
        Verdict(
            "counterfactual",
            "caution" if drop < tolerance else "ok",
            f"accuracy {own:.3f}; with uniform attention {uniform:.3f}, with permuted attention {permuted:.3f}",
            f"replacing the weights costs less than {tolerance}: the model hardly needs them, so they cannot be its "
            "reason"
            if drop < tolerance
            else f"the model needs its weights (accuracy drops by {drop:.3f}); necessary for an explanation, not sufficient",
        )
    )

    # 4. mask-only probe: does where the attention points predict the label? (only forward passes: it is tested
    # on up to probe_n sentences, more than the n of the other items, for a steadier estimate)
    test_att = _attention(model, data)
    probe_data = full[index_all[: min(probe_n, len(full))]]
    probe_att = _attention(model, probe_data)
    if train is not None:
        train_part = train[
            torch.randperm(len(train), generator=torch.Generator().manual_seed(seed + 1))[: max(2000, probe_n)]
        ]
        probe_train, probe_train_labels = _attention(model, train_part), train_part.labels
        probe_test, probe_test_labels = probe_att, probe_data.labels
    else:
        half = len(probe_data) // 2
        probe_train, probe_train_labels = probe_att[:half], probe_data.labels[:half]
        probe_test, probe_test_labels = probe_att[half:], probe_data.labels[half:]
    probe = mask_only_probe(probe_train, probe_train_labels, probe_test, probe_test_labels, seed=generator_seed)
    # the same probe shown only which positions are real tokens (uniform weights): what length alone gives away
    uniform_of = lambda att: (att > 0).float() / (att > 0).float().sum(1, keepdim=True).clamp_min(1)  # noqa: E731
    length_only = mask_only_probe(
        uniform_of(probe_train), probe_train_labels, uniform_of(probe_test), probe_test_labels, seed=generator_seed
    )
    majority = float(torch.bincount(probe_test_labels).max()) / len(probe_test_labels)
    baseline = max(majority, length_only)
    numbers.update(mask_probe_accuracy=probe, majority_share=majority, length_only_probe_accuracy=length_only)
    carries = probe > baseline + probe_margin
    verdicts.append(
        Verdict(
            "mask_code",
            "caution" if carries else "ok",
            f"a probe that sees only the attention vector predicts the label with accuracy {probe:.3f} "
            f"(majority class {majority:.3f}; the same probe shown only the sentence length {length_only:.3f})",
            "the attention vector alone predicts the label, beyond what length tells: it may be a code (chapters 2-3); "
            "check what the selected content says to an evaluator trained on random masks (chapter 4)"
            if carries
            else f"the attention vector alone does not predict the label (within {probe_margin} of the majority class or "
            "of what length alone tells)",
        )
    )

    # 5. joint training: not measurable from the model
    if trained_jointly is None:
        verdicts.append(
            Verdict(
                "joint",
                "unknown",
                "not measurable from a trained model",
                "say how the attention was trained (trained_jointly=True/False)",
            )
        )
    else:
        numbers["trained_jointly"] = int(trained_jointly)
        if trained_jointly:
            status = "caution" if carries else "unknown"
            verdict = (
                "joint training plus a mask that predicts the label: the classic shortcut setting"
                if carries
                else "joint training makes a code possible; the probe found none on these sentences"
            )
        else:
            status = "caution" if carries else "ok"
            verdict = (
                "no reader learned to decode positions, yet the mask predicts the label: the selector may "
                "write it in which content it shows (chapter 2's selection effect)"
                if carries
                else "no incentive to write a code, and the probe found none"
            )
        verdicts.append(
            Verdict(
                "joint",
                status,
                "trained jointly with its reader"
                if trained_jointly
                else "trained against a reader it could not teach a code (e.g. random attention pretraining)",
                verdict,
            )
        )

    # 6. neutral tokens (optional)
    if neutral is not None:
        neutral = neutral[index][:, : data.tokens.shape[1]] & data.mask
        mass = float(neutral_mass(test_att, neutral).mean())
        numbers["neutral_mass"] = mass
        verdicts.append(
            Verdict(
                "neutral",
                "caution" if mass >= 0.3 else "ok",
                f"{mass:.2f} of the attention sits on the neutral tokens",
                "much attention on tokens that cannot carry the label: look for a code with the mask-only probe"
                if mass >= 0.3
                else "little attention on tokens that cannot carry the label",
            )
        )
    numbers["n_sentences"] = keep
    numbers["probe_n_sentences"] = len(probe_test_labels)
    result = Checklist(verdicts, numbers)
    if verbose:
        print(result)
    return result
