"""Sphinx extension of the attnlab book: read the scorecard and claims pages after every chapter.

The scorecard and the claims ledger are notebooks that read the results files the chapters write while they are executed
during the build. Sphinx reads (and myst-nb executes) documents in alphabetical order, which would run
``book/claims`` and ``book/scorecard`` before ``notebooks/*``; this moves them to the end of the reading order.
"""

READ_LAST = ("book/scorecard", "book/claims")


def _read_scorecard_last(app, env, docnames):
    for name in READ_LAST:
        if name in docnames:
            docnames.remove(name)
            docnames.append(name)


def setup(app):
    app.connect("env-before-read-docs", _read_scorecard_last)
    return {"parallel_read_safe": False, "parallel_write_safe": True}
