"""A static gallery for the online book, built from sentences the run found: where the top raw-attention token
suppresses the prediction, and where attention x gradient gets the sign right."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from ..data import Batch, Vocab
from ..device import to_device
from .analysis import DEFAULT_LABELS, Analysis, render_html

RAW, ATTGRAD = "raw_attention", "attention_x_gradient"


@dataclass
class GalleryEntry:
    """One sentence of the gallery: why it was chosen, and the explorer's panel for raw attention and for
    attention × gradient on it (numbers from the violation test run on the whole batch)."""

    index: int  # row of the batch the sentence was found in
    kind: str  # "attention_suppresses" or "attgrad_sign"
    raw: Analysis
    attgrad: Analysis

    @property
    def caption(self) -> str:
        a, g = self.raw, self.attgrad
        top = html.escape(a.tokens[a.top])
        if self.kind == "attention_suppresses":
            return (
                f"Raw attention puts its largest weight on <b>{top}</b>, yet removing it <i>raises</i> the "
                "probability of the prediction under every removal operator (ΔC &lt; 0): the token works "
                "against the prediction, and raw attention, which has no sign, cannot say so."
            )
        return (
            f"Attention × gradient gets the sign right: its top token <b>{html.escape(g.tokens[g.top])}</b> has "
            f"weight {g.weights[g.top]:+.3g} (it says the token {g.claimed_polarity}), and removing it moves the "
            "prediction the way the sign says under every operator, while raw attention (top token "
            f"<b>{top}</b>) violates."
        )


def _analysis_row(i: int, method: str, tokens: list[str], weights, probs, report, label_names) -> Analysis:
    n = len(tokens)
    w = weights[i, :n]
    predicted = int(probs[i].argmax())
    top = int(w.abs().argmax())
    delta = {op: float(report.delta[(method, op)][i]) for op in report.operators} if n > 1 else {}
    return Analysis(tokens, w.tolist(), method, list(label_names), probs[i].tolist(), predicted, top, delta=delta)


def find_gallery(
    model,
    batch: Batch,
    token_strings,
    *,
    n_suppress: int = 2,
    min_effect: float = 0.01,
    lengths: tuple[int, int] = (5, 18),
    label_names: Sequence[str] = DEFAULT_LABELS,
) -> list[GalleryEntry]:
    """Search ``batch`` for the gallery of the online explorer, with the violation test on all three removal
    operators: ``n_suppress`` sentences whose top raw-attention token suppresses the prediction (removing it
    raises p(ŷ) by at least ``min_effect`` under every operator: a clear violation of raw attention, not
    rounding), then one sentence on which attention × gradient gets the sign right where raw attention
    violates (preferably with a negative top weight whose removal raises the prediction). Short sentences
    (``lengths``, in tokens) and larger effects come first, sentences with words unknown to the vocabulary
    last. ``token_strings``: a :class:`Vocab` or one list of
    token strings per sentence. Fewer entries come back when the batch holds fewer such sentences."""
    from ..explain import explain_all
    from ..faithfulness import violation_test

    if n_suppress < 0 or min_effect < 0:
        raise ValueError(f"n_suppress and min_effect must be >= 0, got {n_suppress} and {min_effect}")
    weights = explain_all(model, batch, [RAW, ATTGRAD])
    report = violation_test(model, batch.tokens, batch.mask, weights)
    model.eval()
    with torch.no_grad():
        probs = model(*to_device((batch.tokens, batch.mask), model)).probs.to(batch.tokens.device)
    size = batch.mask.sum(1)
    short = (size >= lengths[0]) & (size <= lengths[1])
    ops = report.operators
    raw_delta = torch.stack([report.delta[(RAW, op)] for op in ops])  # (operators, B)
    raw_violates = torch.stack([report.violates[(RAW, op)] for op in ops]).all(0)
    clear = raw_violates & (raw_delta.max(0).values <= -min_effect) & short
    unk = getattr(token_strings, "unk_id", None)
    unknown = ((batch.tokens == unk) & batch.mask).any(1) if unk is not None else torch.zeros_like(clear)
    # sentences without unknown words first, then the clearest: the smallest rise in p(ŷ) over the operators
    # is the largest
    order = sorted(
        torch.nonzero(clear).flatten().tolist(), key=lambda i: (bool(unknown[i]), float(raw_delta[:, i].max()))
    )
    g_delta = torch.stack([report.delta[(ATTGRAD, op)] for op in ops])
    g_right = ~torch.stack([report.violates[(ATTGRAD, op)] for op in ops]).any(0) & (
        g_delta.abs().min(0).values >= min_effect
    )
    g_negative = (report.top_weight[ATTGRAD] < 0) & (g_delta.max(0).values < 0)
    fixes = clear & g_right  # raw attention violates clearly there too
    fix_order = sorted(
        torch.nonzero(fixes).flatten().tolist(),
        key=lambda i: (bool(unknown[i]), not bool(g_negative[i]), -float(g_delta[:, i].abs().min())),
    )

    def strings(i):
        n = int(size[i])
        if isinstance(token_strings, Vocab):
            return token_strings.decode(batch.tokens[i, :n].tolist())
        return list(token_strings[i])[:n]

    def entry(i, kind):
        tokens = strings(i)
        return GalleryEntry(
            i,
            kind,
            _analysis_row(i, RAW, tokens, weights[RAW], probs, report, label_names),
            _analysis_row(i, ATTGRAD, tokens, weights[ATTGRAD], probs, report, label_names),
        )

    chosen = [entry(i, "attention_suppresses") for i in order[:n_suppress]]
    shown = {e.index for e in chosen}
    fix = next((i for i in fix_order if i not in shown), fix_order[0] if fix_order else None)
    if fix is not None:
        chosen.append(entry(fix, "attgrad_sign"))
    return chosen


def render_gallery(entries: Sequence[GalleryEntry]) -> str:
    """The gallery as static HTML: for each sentence, why it was chosen and the explorer's panel for raw
    attention and for attention × gradient (legend and ΔC as in the explorer)."""
    if not entries:
        return (
            "<div class='attnlab-gallery'><p>The search found no sentence of the kind the gallery shows "
            "in this run (with the small smoke-mode models this can happen).</p></div>"
        )
    parts = ["<div class='attnlab-gallery'>"]
    for n, e in enumerate(entries, 1):
        parts.append(f"<h4>Example {n}: {html.escape(' '.join(e.raw.tokens))}</h4><p>{e.caption}</p>")
        parts.append(render_html(e.raw) + render_html(e.attgrad))
    return "".join(parts) + "</div>"


#: The explorer's models: name -> (encoder, attention) of an AttentionClassifier, or "transformer".
