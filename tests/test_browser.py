"""The built book in headless Chromium (book/browser_check.py): screenshots, rendered figures, local links.

The link checker is tested on a tiny hand-made site every time. The browser check itself reads the built
book: it runs when ATTNLAB_CHECK_BUILD=1 (.ci/run sets it after the builds) and skips, saying why,
otherwise or when Chromium is not installed.
"""

import importlib.util
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("browser_check", ROOT / "book" / "browser_check.py")
browser_check = importlib.util.module_from_spec(spec)
spec.loader.exec_module(browser_check)


def test_broken_local_links_are_found(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "index.html").write_text(
        '<a href="sub/page.html#x">ok</a> <a href="https://example.org">remote</a>'
        '<img src="missing.png"> <a href="#top">anchor</a>'
    )
    (tmp_path / "sub" / "page.html").write_text('<a href="../index.html">up</a> <a href="gone.html">gone</a>')
    assert browser_check.broken_local_links(tmp_path) == ["index.html -> missing.png", "sub/page.html -> gone.html"]


def test_built_book_renders_in_chromium(tmp_path):
    if not os.environ.get("ATTNLAB_CHECK_BUILD"):
        pytest.skip("reads the built book: set ATTNLAB_CHECK_BUILD=1 after `bash book/build.sh` (.ci/run does)")
    build = ROOT / "_build" / "html"
    if not (build / "index.html").is_file():
        pytest.fail("_build/html is not built: run `bash book/build.sh` first")
    browser = browser_check.find_browser()
    if browser is None:
        pytest.skip("Chromium is not installed and .ci/run could not install it (apt-get install -y chromium)")
    assert browser_check.broken_local_links(build) == []
    out = ROOT / "_build" / "browser_check"
    reports = browser_check.browse(build, browser_check.DEFAULT_PAGES, out, browser)
    assert browser_check.problems_in(reports) == []
    for report in reports:
        assert report["title"], f"{report['page']} did not load"
        assert Path(report["screenshot"]).stat().st_size > 10_000, "the screenshot looks empty"
    chapter = next(r for r in reports if r["page"].startswith("notebooks/"))
    assert sum(1 for i in chapter["images"] if i["w"] > 0) >= 3  # the chapter's figures rendered
    intro = next(r for r in reports if r["page"] == "book/intro.html")
    assert any(i["w"] > 0 and "_images/" in i["src"] for i in intro["images"]), "the reader's map did not render"
    closing = next(r for r in reports if "07_can_i_read_this_map" in r["page"])
    assert sum(1 for i in closing["images"] if i["w"] > 0 and "_images/" in i["src"]) >= 2  # map and verdicts


def test_built_explorer_page_shows_the_gallery_and_no_dead_controls():
    """The explorer page as the online reader sees it: the gallery of sentences found by the run (a top
    raw-attention token whose removal raises the prediction, with the legend its method declares), no widget
    controls, and a screenshot of the gallery (the page opened at its anchor)."""
    if not os.environ.get("ATTNLAB_CHECK_BUILD"):
        pytest.skip("reads the built book: set ATTNLAB_CHECK_BUILD=1 after `bash book/build.sh` (.ci/run does)")
    build = ROOT / "_build" / "html"
    page = build / "notebooks" / "explorer.html"
    if not page.is_file():
        pytest.fail("_build/html/notebooks/explorer.html is not built: run `bash book/build.sh` first")
    html = page.read_text(encoding="utf-8")
    assert "attnlab-gallery" in html and 'id="explorer-gallery"' in html, "the gallery is not on the page"
    assert "found no sentence" not in html, "the run's gallery is empty"
    assert "removing it <i>raises</i> the probability of the prediction" in html and "<b>violation</b>" in html
    assert "this method gives no sign" in html and "red supports the prediction, blue suppresses it" in html
    assert "application/vnd.jupyter.widget-view+json" not in html, "the widget's dead controls are on the page"
    assert "Run in Colab or Jupyter to use the controls" in html
    browser = browser_check.find_browser()
    if browser is None:
        pytest.skip("Chromium is not installed and .ci/run could not install it (apt-get install -y chromium)")
    out = ROOT / "_build" / "browser_check"
    (report,) = browser_check.browse(build, ["notebooks/explorer.html#explorer-gallery"], out, browser)
    assert report["title"], "the explorer page did not load"
    assert browser_check.problems_in([report]) == []
    assert Path(report["screenshot"]).stat().st_size > 10_000, "the screenshot of the gallery looks empty"
