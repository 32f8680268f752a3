"""The practitioner's checklist of the closing chapter: can I read this attention map?

One call runs the measurable items on a kit-compatible model (a model whose ``forward(tokens, mask,
attention=...)`` returns the attention it used, as :class:`attnlab.models.AttentionClassifier` and
:class:`attnlab.models.MaskClassifier` do) and a labelled :class:`attnlab.data.Batch`::

    from attnlab.checklist import run_checklist
    report = run_checklist(model, test, train=train, trained_jointly=True)
    print(report)            # one verdict per item
    report.table()           # the same as a table
    report.numbers           # flat {name: number} for chapter.record

Each item says what it measured and a verdict: ``caution`` (a reason not to read the map as an
explanation), ``ok`` (this check found none — which is not proof that the map explains anything) or
``unknown`` (the item needs something the call was not given). :data:`ITEMS` names, for every item, the
chapter that teaches it and the checked claims of the book that support it.

==========  ========================================================================================
module      holds
==========  ========================================================================================
``items``   the items (question, measurement, chapter, supporting claims) and the verdicts of a run
``run``     :func:`run_checklist`: the measurable items on a kit-compatible model
``render``  :func:`items_html`, :func:`verdict_grid`, :func:`record_checklist`
==========  ========================================================================================
"""

from .items import ITEM, ITEMS, Checklist, Item, Verdict
from .render import claim_anchor, items_html, record_checklist, verdict_grid
from .run import run_checklist

__all__ = [
    "ITEM",
    "ITEMS",
    "Checklist",
    "Item",
    "Verdict",
    "claim_anchor",
    "items_html",
    "record_checklist",
    "run_checklist",
    "verdict_grid",
]
