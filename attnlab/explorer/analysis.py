"""One sentence, one model, one method: the explanation, the prediction and what removing the top token does
(:func:`analyse`), and the panel that shows it (:func:`render_html`)."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from ..data import Batch, Vocab, tokenize
from ..device import to_device
from ..explain import explain, is_signed
from ..faithfulness import top_feature
from ..models import REMOVAL_OPERATORS
from ..viz import token_heatmap_html

DEFAULT_LABELS = ("negative", "positive")


@dataclass
class Analysis:
    """Everything the explorer shows for one sentence, model and method."""

    tokens: list[str]
    weights: list[float]
    method: str
    label_names: Sequence[str]
    probs: list[float]
    predicted: int
    top: int  # position of the token with the largest |weight|
    unknown: list[str] = field(default_factory=list)  # tokens the model's vocabulary does not know
    delta: dict[str, float] = field(default_factory=dict)  # ΔC = f(x)_ŷ − f(x without top)_ŷ per operator

    @property
    def signed(self) -> bool:
        """Whether the *method* gives a sign (declared when it was registered:
        :func:`attnlab.explain.is_signed`), never guessed from the weights at hand: a signed method whose
        weights on this sentence happen to be all positive is still drawn with the signed colour map and
        read as "supports"."""
        return is_signed(self.method)

    @property
    def claimed_polarity(self) -> str:
        """What the explanation says about its top token (completes "the explanation says this token …")."""
        w = self.weights[self.top]
        if not self.signed:
            return "matters (this method has no sign)" if w > 0 else "does not matter"
        return "supports the prediction" if w > 0 else "suppresses the prediction" if w < 0 else "has no effect"

    @property
    def violates(self) -> dict[str, bool]:
        """The faithfulness violation test on this sentence, per removal operator."""
        w = self.weights[self.top]
        return {op: w * d < 0 for op, d in self.delta.items()}


def analyse(
    model,
    vocab: Vocab | None,
    text: str,
    method: str = "attention_x_gradient",
    *,
    label_names: Sequence[str] = DEFAULT_LABELS,
) -> Analysis:
    """Explain the model's prediction for one sentence and run the removal test on its top token.

    ``vocab=None`` for a Hugging Face model (:class:`attnlab.models.HFClassifier`): its own tokenizer
    splits the sentence into word pieces. ``method`` must be one of :func:`attnlab.explain.methods_for`
    the model."""
    if not tokenize(text):
        raise ValueError("the sentence has no tokens: type a few words")
    if vocab is None:
        if not (hasattr(model, "encode") and hasattr(model, "token_strings")):
            raise ValueError(
                "pass the vocabulary the model was trained with (only a Hugging Face model tokenizes by itself)"
            )
        batch = model.encode([text])
        tokens = model.token_strings(batch.tokens, batch.mask)[0]
        unk = getattr(model.tokenizer, "unk_token", None)
        unknown = [tok for tok in tokens if tok == unk]
    else:
        tokens = tokenize(text)
        ids = vocab.encode(tokens)
        batch = Batch.from_ids([ids])
        unknown = [tok for tok, i in zip(tokens, ids) if i == vocab.unk_id]
    model.eval()
    batch = to_device(batch, model)  # a GPU model gets its sentence on the GPU
    with torch.no_grad():
        probs = model(batch.tokens, batch.mask).probs[0].cpu()
    predicted = int(probs.argmax())
    if len(label_names) != len(probs):
        label_names = [f"class {i}" for i in range(len(probs))]
    weights = explain(method, model, batch)[0].cpu()
    top = int(top_feature(weights[None], batch.mask.cpu())[0])
    delta = {}
    if len(tokens) > 1:
        remove = torch.zeros_like(batch.mask)
        remove[0, top] = True
        with torch.no_grad():
            for op in REMOVAL_OPERATORS:
                after = model.forward_removed(batch.tokens, batch.mask, remove, op).probs[0].cpu()
                delta[op] = float(probs[predicted] - after[predicted])
    return Analysis(tokens, weights.tolist(), method, list(label_names), probs.tolist(), predicted, top, unknown, delta)


def delta_text(delta: float) -> str:
    """ΔC with the digits that show what happened: 4 decimals, or scientific notation below 1e-3 (a tiny
    ΔC shown as ±0.000 would hide its sign, which decides the strict test)."""
    if delta == 0:
        return "0 (exactly)"
    return f"{delta:+.1e}" if abs(delta) < 1e-3 else f"{delta:+.4f}"


def render_html(a: Analysis) -> str:
    """The explorer's panel as HTML: heatmap, prediction, top token, and the removal effect."""
    label = html.escape(str(a.label_names[a.predicted]))
    legend = (
        "red supports the prediction, blue suppresses it"
        if a.signed
        else "darker = larger weight (this method gives no sign)"
    )
    parts = [
        f"<div class='attnlab-explorer'><p><b>{html.escape(a.method)}</b> ({legend})</p>",
        token_heatmap_html(a.tokens, a.weights, signed=a.signed),
        f"<p>Prediction: <b>{label}</b> (p = {a.probs[a.predicted]:.3f}). "
        f"Top token: <b>{html.escape(a.tokens[a.top])}</b>, weight {a.weights[a.top]:+.3g}: "
        f"the explanation says this token {a.claimed_polarity}.</p>",
    ]
    if a.delta:
        rows = "".join(
            f"<tr><td><code>{op}</code></td><td>{delta_text(d)}</td><td>{'supports' if d > 0 else 'suppresses' if d < 0 else 'no effect'}</td>"
            f"<td>{'<b>violation</b>' if a.violates[op] else 'consistent'}</td></tr>"
            for op, d in a.delta.items()
        )
        parts.append(
            "<table><tr><th>removal</th><th>ΔC = f(x)<sub>ŷ</sub> − f(x without top)<sub>ŷ</sub></th>"
            f"<th>removing it shows the token</th><th>violation test</th></tr>{rows}</table>"
            "<p><i>The test is strict, as Liu et al. define it: a violation whenever weight × ΔC &lt; 0, "
            "however small ΔC is — a ΔC of a few 1e-8 is rounding, and its sign is chance.</i></p>"
        )
    else:
        parts.append("<p>A one-token sentence: nothing can be removed.</p>")
    if a.unknown:
        parts.append(
            f"<p><i>Not in the model's vocabulary (read as &lt;unk&gt;): "
            f"{html.escape(', '.join(sorted(set(a.unknown))))}</i></p>"
        )
    return "".join(parts) + "</div>"
