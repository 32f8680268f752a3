"""Moved to :mod:`attnlab.viz.head_view` (also ``from attnlab.viz import head_view, plot_head_view``);
this alias goes in 0.3."""

from .viz.head_view import (
    PUNCTUATION_COLOUR,
    SPECIAL_COLOUR,
    WORD_COLOUR,
    head_view,  # noqa: F401
    plot_head_view,
)
