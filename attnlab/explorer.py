"""The interactive explorer: type or pick a sentence, choose a model and an explanation method, and see
the token heatmap, the prediction, the top token's polarity and what removing it does.

In Jupyter or Colab::

    from attnlab.explorer import Explorer
    Explorer({"BiLSTM + additive": (model, vocab)}, examples=["a gorgeous, witty film", ...]).widget

Each model is explained with the methods it can run (:func:`attnlab.explain.methods_for`): the
single-attention models with attention, gradient and removal methods, the Transformers (the kit's
``TransformerClassifier`` and a wrapped Hugging Face encoder, ``HFClassifier``) also with rollout,
GenAtt and the relevance-propagation methods. The method menu follows the chosen model, and a newly
registered method appears in it; whether a method has a sign comes from its registration.
A Hugging Face model needs no vocabulary: pass ``(model, None)`` and it tokenizes with its own tokenizer.

The computation (:func:`analyse`) and the rendering (:func:`render_html`) work without widgets, so
the HTML book can show the same panel statically for a few fixed sentences.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import torch

from .data import Batch, Vocab, tokenize
from .device import to_device
from .explain import explain, is_signed, methods_for
from .faithfulness import top_feature
from .models import REMOVAL_OPERATORS
from .viz import token_heatmap_html

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


def analyse(model, vocab: Vocab | None, text: str, method: str = "attention_x_gradient", *,
            label_names: Sequence[str] = DEFAULT_LABELS) -> Analysis:
    """Explain the model's prediction for one sentence and run the removal test on its top token.

    ``vocab=None`` for a Hugging Face model (:class:`attnlab.models.HFClassifier`): its own tokenizer
    splits the sentence into word pieces. ``method`` must be one of :func:`attnlab.explain.methods_for`
    the model."""
    if not tokenize(text):
        raise ValueError("the sentence has no tokens: type a few words")
    if vocab is None:
        if not (hasattr(model, "encode") and hasattr(model, "token_strings")):
            raise ValueError("pass the vocabulary the model was trained with (only a Hugging Face model "
                             "tokenizes by itself)")
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
    return Analysis(tokens, weights.tolist(), method, list(label_names), probs.tolist(), predicted, top,
                    unknown, delta)


def delta_text(delta: float) -> str:
    """ΔC with the digits that show what happened: 4 decimals, or scientific notation below 1e-3 (a tiny
    ΔC shown as ±0.000 would hide its sign, which decides the strict test)."""
    if delta == 0:
        return "0 (exactly)"
    return f"{delta:+.1e}" if abs(delta) < 1e-3 else f"{delta:+.4f}"


def render_html(a: Analysis) -> str:
    """The explorer's panel as HTML: heatmap, prediction, top token, and the removal effect."""
    label = html.escape(str(a.label_names[a.predicted]))
    legend = ("red supports the prediction, blue suppresses it" if a.signed else
              "darker = larger weight (this method gives no sign)")
    parts = [f"<div class='attnlab-explorer'><p><b>{html.escape(a.method)}</b> ({legend})</p>",
             token_heatmap_html(a.tokens, a.weights, signed=a.signed),
             f"<p>Prediction: <b>{label}</b> (p = {a.probs[a.predicted]:.3f}). "
             f"Top token: <b>{html.escape(a.tokens[a.top])}</b>, weight {a.weights[a.top]:+.3g}: "
             f"the explanation says this token {a.claimed_polarity}.</p>"]
    if a.delta:
        rows = "".join(
            f"<tr><td><code>{op}</code></td><td>{delta_text(d)}</td><td>{'supports' if d > 0 else 'suppresses' if d < 0 else 'no effect'}</td>"
            f"<td>{'<b>violation</b>' if a.violates[op] else 'consistent'}</td></tr>"
            for op, d in a.delta.items())
        parts.append("<table><tr><th>removal</th><th>ΔC = f(x)<sub>ŷ</sub> − f(x without top)<sub>ŷ</sub></th>"
                     f"<th>removing it shows the token</th><th>violation test</th></tr>{rows}</table>"
                     "<p><i>The test is strict, as Liu et al. define it: a violation whenever weight × ΔC &lt; 0, "
                     "however small ΔC is — a ΔC of a few 1e-8 is rounding, and its sign is chance.</i></p>")
    else:
        parts.append("<p>A one-token sentence: nothing can be removed.</p>")
    if a.unknown:
        parts.append(f"<p><i>Not in the model's vocabulary (read as &lt;unk&gt;): "
                     f"{html.escape(', '.join(sorted(set(a.unknown))))}</i></p>")
    return "".join(parts) + "</div>"


class Explorer:
    """ipywidgets front end: a sentence box with examples, a model and a method menu, and the panel.

    ``models`` maps a display name to ``(model, vocab)`` or ``(model, vocab, label_names)`` (``vocab``
    None for a Hugging Face model). The method menu offers the methods the chosen model can run
    (:func:`attnlab.explain.methods_for`: a newly registered method appears without further edits),
    restricted to ``methods`` if given. The widget is in ``.widget``; ``.panel.value`` holds the HTML currently shown.
    """

    def __init__(self, models: Mapping[str, tuple], examples: Sequence[str] = (), *,
                 methods: Sequence[str] | None = None, method: str = "attention_x_gradient"):
        import ipywidgets as w

        if not models:
            raise ValueError("pass at least one model: {name: (model, vocab)}")
        self.models = dict(models)
        self.methods = list(methods) if methods else None
        self._switching = False
        examples = list(examples)
        self.sentence = w.Combobox(value=examples[0] if examples else "", options=examples,
                                   placeholder="type a sentence or pick an example", ensure_option=False,
                                   description="sentence", layout=w.Layout(width="95%"))
        self.model = w.Dropdown(options=list(self.models), description="model")
        menu = self.menu(self.model.value)
        self.method = w.Dropdown(options=menu, value=method if method in menu else menu[0], description="method")
        self.panel = w.HTML()
        for control in (self.sentence, self.method):
            control.observe(lambda change: self.update(), names="value")
        self.model.observe(self._model_changed, names="value")
        self.widget = w.VBox([self.sentence, w.HBox([self.model, self.method]), self.panel])
        self.update()

    def menu(self, name: str) -> list[str]:
        """The methods offered for the model shown as ``name``."""
        available = methods_for(self.models[name][0])
        offered = [m for m in (self.methods or available) if m in available]
        return offered or available

    def _model_changed(self, change) -> None:
        menu, current = self.menu(change["new"]), self.method.value
        self._switching = True  # one update for the new model, not one per changed control
        try:
            self.method.options = menu
            self.method.value = current if current in menu else menu[0]
        finally:
            self._switching = False
        self.update()

    def analysis(self) -> Analysis:
        entry = self.models[self.model.value]
        model, vocab = entry[0], entry[1]
        labels = entry[2] if len(entry) > 2 else DEFAULT_LABELS
        return analyse(model, vocab, self.sentence.value, self.method.value, label_names=labels)

    def update(self) -> None:
        """Recompute the panel for the current sentence, model and method."""
        if self._switching:
            return
        if not self.sentence.value.strip():
            self.panel.value = "<p>Type a sentence.</p>"
            return
        try:
            self.panel.value = render_html(self.analysis())
        except (ValueError, KeyError) as error:
            self.panel.value = f"<p style='color: #b00'>{html.escape(str(error))}</p>"

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)


# ==================================================================================================
# The gallery: sentences found by the run, for the online book (where the controls cannot run)
# ==================================================================================================

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
            return (f"Raw attention puts its largest weight on <b>{top}</b>, yet removing it <i>raises</i> the "
                    "probability of the prediction under every removal operator (ΔC &lt; 0): the token works "
                    "against the prediction, and raw attention, which has no sign, cannot say so.")
        return (f"Attention × gradient gets the sign right: its top token <b>{html.escape(g.tokens[g.top])}</b> has "
                f"weight {g.weights[g.top]:+.3g} (it says the token {g.claimed_polarity}), and removing it moves the "
                "prediction the way the sign says under every operator, while raw attention (top token "
                f"<b>{top}</b>) violates.")


def _analysis_row(i: int, method: str, tokens: list[str], weights, probs, report, label_names) -> Analysis:
    n = len(tokens)
    w = weights[i, :n]
    predicted = int(probs[i].argmax())
    top = int(w.abs().argmax())
    delta = {op: float(report.delta[(method, op)][i]) for op in report.operators} if n > 1 else {}
    return Analysis(tokens, w.tolist(), method, list(label_names), probs[i].tolist(), predicted, top, delta=delta)


def find_gallery(model, batch: Batch, token_strings, *, n_suppress: int = 2, min_effect: float = 0.01,
                 lengths: tuple[int, int] = (5, 18), label_names: Sequence[str] = DEFAULT_LABELS) -> list[GalleryEntry]:
    """Search ``batch`` for the gallery of the online explorer, with the violation test on all three removal
    operators: ``n_suppress`` sentences whose top raw-attention token suppresses the prediction (removing it
    raises p(ŷ) by at least ``min_effect`` under every operator: a clear violation of raw attention, not
    rounding), then one sentence on which attention × gradient gets the sign right where raw attention
    violates (preferably with a negative top weight whose removal raises the prediction). Short sentences
    (``lengths``, in tokens) and larger effects come first, sentences with words unknown to the vocabulary
    last. ``token_strings``: a :class:`Vocab` or one list of
    token strings per sentence. Fewer entries come back when the batch holds fewer such sentences."""
    from .explain import explain_all
    from .faithfulness import violation_test

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
    order = sorted(torch.nonzero(clear).flatten().tolist(),
                   key=lambda i: (bool(unknown[i]), float(raw_delta[:, i].max())))
    g_delta = torch.stack([report.delta[(ATTGRAD, op)] for op in ops])
    g_right = ~torch.stack([report.violates[(ATTGRAD, op)] for op in ops]).any(0) & (g_delta.abs().min(0).values
                                                                                   >= min_effect)
    g_negative = (report.top_weight[ATTGRAD] < 0) & (g_delta.max(0).values < 0)
    fixes = clear & g_right  # raw attention violates clearly there too
    fix_order = sorted(torch.nonzero(fixes).flatten().tolist(),
                       key=lambda i: (bool(unknown[i]), not bool(g_negative[i]), -float(g_delta[:, i].abs().min())))

    def strings(i):
        n = int(size[i])
        if isinstance(token_strings, Vocab):
            return token_strings.decode(batch.tokens[i, :n].tolist())
        return list(token_strings[i])[:n]

    def entry(i, kind):
        tokens = strings(i)
        return GalleryEntry(i, kind, _analysis_row(i, RAW, tokens, weights[RAW], probs, report, label_names),
                            _analysis_row(i, ATTGRAD, tokens, weights[ATTGRAD], probs, report, label_names))

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
        return ("<div class='attnlab-gallery'><p>The search found no sentence of the kind the gallery shows "
                "in this run (with the small smoke-mode models this can happen).</p></div>")
    parts = ["<div class='attnlab-gallery'>"]
    for n, e in enumerate(entries, 1):
        parts.append(f"<h4>Example {n}: {html.escape(' '.join(e.raw.tokens))}</h4><p>{e.caption}</p>")
        parts.append(render_html(e.raw) + render_html(e.attgrad))
    return "".join(parts) + "</div>"


#: The explorer's models: name -> (encoder, attention) of an AttentionClassifier, or "transformer".
EXPLORER_MODELS = {"BiLSTM + additive": ("bilstm", "additive"), "CNN + dot": ("cnn", "dot"),
                   "Transformer (2 layers)": "transformer"}


def train_explorer_models(splits, *, smoke: bool = False, seed: int = 0):
    """Train the explorer's models (:data:`EXPLORER_MODELS`) on ``splits`` (train, dev, test of a
    ``attnlab.data.Splits``): a BiLSTM with additive attention and a CNN with dot attention (hidden size 64,
    GloVe, 4 epochs; 2 in smoke mode) and a 2-layer, 2-head Transformer on frozen GloVe (3 epochs; 1 in
    smoke mode), each seeded with ``seed``.

    Returns ``(models, accuracies, test)``: name -> ``(model, vocab, label names)`` as :class:`Explorer`
    takes them, name -> test accuracy, and the encoded test :class:`Batch`.
    """
    from .data import encode, glove_embeddings
    from .models import AttentionClassifier, TransformerClassifier
    from .train import accuracy, fit, set_seed

    vocab = Vocab.build(splits.train.tokens)
    glove, _ = glove_embeddings(vocab, seed=seed)
    train, dev, test = (encode(part, vocab) for part in splits)
    models, accuracies = {}, {}
    for name, kind in EXPLORER_MODELS.items():
        set_seed(seed)
        if kind == "transformer":
            model = TransformerClassifier(len(vocab), n_layers=2, n_heads=2, embed_dim=50, ff_dim=100, dropout=0.1,
                                          embeddings=glove, freeze_embeddings=True)
            fit(model, train, dev, epochs=1 if smoke else 3, batch_size=64, lr=3e-3, seed=seed, progress=False)
        else:
            model = AttentionClassifier(len(vocab), encoder=kind[0], attention=kind[1], hidden_dim=64,
                                        embeddings=glove, dropout=0.3)
            fit(model, train, dev, epochs=2 if smoke else 4, batch_size=64, seed=seed, progress=False)
        models[name] = (model, vocab, splits.test.label_names)
        accuracies[name] = accuracy(model, test)
    return models, accuracies, test
