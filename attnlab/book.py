"""Helpers for the notebooks that also work outside the book (in Colab or plain Jupyter)."""

from __future__ import annotations

from typing import Any


def glue(name: str, value: Any, display: bool = False) -> None:
    """Make ``value`` quotable in the book's prose as ``{glue:text}`name```.

    Inside the book build this is myst-nb's ``glue``; where myst-nb is not installed (e.g. a Colab
    session) it shows the value when ``display`` is true and otherwise does nothing.
    """
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        value = value.item()  # numpy / torch scalars -> plain Python numbers (formattable in prose)
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        if display:
            from IPython.display import display as show

            show(value)
        return
    myst_glue(name, value, display=display)
