"""The ipywidgets front end: a sentence box with examples, a model and a method menu, and the panel."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence

from ..explain import methods_for
from .analysis import DEFAULT_LABELS, Analysis, analyse, render_html


class Explorer:
    """ipywidgets front end: a sentence box with examples, a model and a method menu, and the panel.

    ``models`` maps a display name to ``(model, vocab)`` or ``(model, vocab, label_names)`` (``vocab``
    None for a Hugging Face model). The method menu offers the methods the chosen model can run
    (:func:`attnlab.explain.methods_for`: a newly registered method appears without further edits),
    restricted to ``methods`` if given. The widget is in ``.widget``; ``.panel.value`` holds the HTML currently shown.
    """

    def __init__(
        self,
        models: Mapping[str, tuple],
        examples: Sequence[str] = (),
        *,
        methods: Sequence[str] | None = None,
        method: str = "attention_x_gradient",
    ):
        import ipywidgets as w

        if not models:
            raise ValueError("pass at least one model: {name: (model, vocab)}")
        self.models = dict(models)
        self.methods = list(methods) if methods else None
        self._switching = False
        examples = list(examples)
        self.sentence = w.Combobox(
            value=examples[0] if examples else "",
            options=examples,
            placeholder="type a sentence or pick an example",
            ensure_option=False,
            description="sentence",
            layout=w.Layout(width="95%"),
        )
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
