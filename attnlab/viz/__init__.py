"""Pictures of the book: token heatmaps, concept figures, seed spreads, the reader's map and the head view.

One module per concept; every public name is re-exported here, so ``from attnlab.viz import X`` works
whichever module X lives in:

- :mod:`.heatmaps` — sentences as coloured tokens (matplotlib and HTML), text colour by WCAG contrast;
- :mod:`.figures` — the mechanisms drawn before they are coded (attention as a mask, the shortcut code,
  pretraining against joint training, the violation test, rollout against raw attention);
- :mod:`.chapter_plots` — the plots of chapters 1 and 2 (heatmap rows of chosen predictions, rank agreement,
  reaction to shuffled attention, value grids, the causal graphs of joint training, selection capacity);
- :mod:`.spread` — mean ± sd over seeds as dots with intervals on a shared axis from 0, reference lines;
- :mod:`.book_map` — the reader's map of the two tracks, "you are here";
- :mod:`.head_view` — who attends to whom in a Transformer, per layer and head (static and interactive);
  ``attnlab.viz.head_view`` as an attribute is the function, the module is reached by importing
  ``attnlab.viz.head_view`` (``attnlab.head_view``, the old path, is an alias that goes in 0.3).
"""

from .book_map import CHAPTERS_FALLBACK, TRACKS, book_chapters, reader_map, you_are_here
from .chapter_plots import (
    causal_graphs,
    plot_rank_agreement,
    plot_selection_capacity,
    plot_shuffling_reaction,
    plot_value_grid,
    prediction_rows,
    shortest,
)
from .figures import (
    attention_as_mask,
    attention_rollout,
    pretraining_vs_joint,
    rollout_vs_raw,
    shortcut_code_picture,
    violation_test_picture,
)
from .head_view import head_view, plot_head_view
from .heatmaps import (
    NON_NEGATIVE_CMAP,
    SIGNED_CMAP,
    contrast_ratio,
    heatmap_colours,
    plot_token_heatmaps,
    relative_luminance,
    text_colour,
    token_heatmap_html,
)
from .spread import plot_seed_spread, seed_spread

__all__ = [
    "CHAPTERS_FALLBACK",
    "TRACKS",
    "book_chapters",
    "reader_map",
    "you_are_here",
    "causal_graphs",
    "plot_rank_agreement",
    "plot_selection_capacity",
    "plot_shuffling_reaction",
    "plot_value_grid",
    "prediction_rows",
    "shortest",
    "attention_as_mask",
    "attention_rollout",
    "pretraining_vs_joint",
    "rollout_vs_raw",
    "shortcut_code_picture",
    "violation_test_picture",
    "head_view",
    "plot_head_view",
    "NON_NEGATIVE_CMAP",
    "SIGNED_CMAP",
    "contrast_ratio",
    "heatmap_colours",
    "plot_token_heatmaps",
    "relative_luminance",
    "text_colour",
    "token_heatmap_html",
    "plot_seed_spread",
    "seed_spread",
]
