"""Sphinx extension of the attnlab book: the Colab launch button opens the Colab edition of the page.

sphinx-book-theme's Colab button opens the page's source notebook on the repository's branch: raw MyST,
no outputs, the solutions in plain view. This points it at the published Colab edition instead
(``book/colab_edition.py``: ``colab.branch`` of ``_config.yml``, flavour ``instructor`` or, in the student
edition, ``student``), the same address as the chapter's "Open in Colab" badge. Pages that are not in the
Colab edition (the MyST pages that execute code, e.g. the scorecard) get no Colab button.
"""

import importlib.util
import sys
from pathlib import Path

import yaml


def _colab_edition():
    spec = importlib.util.spec_from_file_location(
        "attnlab_colab_edition", Path(__file__).resolve().parents[1] / "colab_edition.py"
    )
    module = sys.modules["attnlab_colab_edition"] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _retarget(app, pagename, templatename, context, doctree):
    groups = [b for b in context.get("header_buttons", []) if isinstance(b, dict) and b.get("buttons")]
    for group in groups:
        colab = [b for b in group["buttons"] if b.get("text") == "Colab"]
        if not colab:
            continue
        source = Path(app.srcdir) / f"{pagename}.ipynb"
        if not source.is_file():
            group["buttons"] = [b for b in group["buttons"] if b.get("text") != "Colab"]
            continue
        config = yaml.safe_load((Path(app.srcdir) / "_config.yml").read_text(encoding="utf-8"))
        flavour = config["colab"].get("edition", "instructor")
        for button in colab:
            button["url"] = app.attnlab_colab.colab_url(config, flavour, f"{pagename}.ipynb")
    context["header_buttons"] = [
        b
        for b in context.get("header_buttons", [])
        if not (isinstance(b, dict) and "buttons" in b and not b["buttons"])
    ]


def setup(app):
    app.attnlab_colab = _colab_edition()
    # After sphinx-book-theme's add_launch_buttons (priority 501), before the buttons are rendered.
    app.connect("html-page-context", _retarget, priority=502)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
