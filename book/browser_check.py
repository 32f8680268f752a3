"""Open the built book in headless Chromium: screenshots, rendered figures, no broken local links.

    .venv/bin/python book/browser_check.py [BUILD_DIR] [--out DIR] [--page PATH ...]

BUILD_DIR defaults to _build/html. The book is served on a local port; each page (default: the landing
page book/intro.html with the reader's map, chapter 1 and the closing chapter) is loaded in Chromium (Debian's ``chromium``, driven through the DevTools protocol
with tornado, which Jupyter already installs), screenshotted to ``--out`` (default
``_build/browser_check``), and checked: every <img> has loaded with a non-zero natural size, and the
chapter shows at least one figure. Every local link and image of every built page is then checked to
point at a file that exists. Exit status 0 when everything passes, 1 on a failure, 2 when Chromium is
missing (the message says how to install it).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import functools
import http.server
import json
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import urllib.request
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse

ROOT = Path(__file__).resolve().parents[1]
# the landing page (index.html only redirects to it, and shows the reader's map), one chapter and the
# closing chapter
DEFAULT_PAGES = (
    "book/intro.html",
    "notebooks/01_attention_as_explanation.html",
    "notebooks/07_can_i_read_this_map.html",
)
BROWSERS = ("chromium", "chromium-browser", "google-chrome")

PAGE_REPORT = """
new Promise(resolve => {
  const done = () => resolve(JSON.stringify({
    title: document.title,
    images: Array.from(document.images).map(i => ({src: i.currentSrc || i.src, w: i.naturalWidth,
                                                   h: i.naturalHeight, complete: i.complete})),
  }));
  const pending = Array.from(document.images).filter(i => !i.complete);
  if (!pending.length) return done();
  let left = pending.length;
  pending.forEach(i => { i.addEventListener('load', () => --left || done());
                         i.addEventListener('error', () => --left || done()); });
  setTimeout(done, 15000);
})
"""


def find_browser() -> str | None:
    return next((shutil.which(name) for name in BROWSERS if shutil.which(name)), None)


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.targets: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for key in ("href", "src"):
            if tag in ("a", "img", "link", "script") and attrs.get(key):
                self.targets.append(attrs[key])


def broken_local_links(build: Path) -> list[str]:
    """Links and images of every built page that point at a local file that does not exist."""
    broken = []
    for page in sorted(build.rglob("*.html")):
        if page.relative_to(build).parts[0] in ("_static", "_sources"):
            continue  # theme templates and sources, not pages
        parser = _Links()
        parser.feed(page.read_text(errors="replace"))
        for target in parser.targets:
            url = urlparse(target)
            if url.scheme or url.netloc or target.startswith(("#", "mailto:", "data:", "javascript:")):
                continue
            path = unquote(url.path)
            if not path:
                continue
            resolved = (page.parent / path) if not path.startswith("/") else build / path.lstrip("/")
            if resolved.is_dir():
                resolved = resolved / "index.html"
            if not resolved.exists():
                broken.append(f"{page.relative_to(build)} -> {target}")
    return broken


def _serve(build: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(build))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


async def _visit(ws_url: str, base: str, pages, out: Path) -> list[dict]:
    from tornado.websocket import websocket_connect

    ws = await websocket_connect(ws_url, max_message_size=256 * 1024 * 1024)
    counter = 0

    async def call(method, **params):
        nonlocal counter
        counter += 1
        ws.write_message(json.dumps({"id": counter, "method": method, "params": params}))
        while True:
            message = json.loads(await ws.read_message())
            if message.get("id") == counter:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]

    await call("Page.enable")
    await call("Emulation.setDeviceMetricsOverride", width=1280, height=900, deviceScaleFactor=1, mobile=False)
    reports = []
    for page in pages:
        url = urljoin(base, page)
        await call("Page.navigate", url=url)
        for _ in range(200):  # until the new document has loaded (at most ~20 s)
            state = await call("Runtime.evaluate", expression="location.href + ' ' + document.readyState")
            if state["result"]["value"] == f"{url} complete":
                break
            await asyncio.sleep(0.1)
        result = await call("Runtime.evaluate", expression=PAGE_REPORT, awaitPromise=True)
        report = json.loads(result["result"]["value"])
        shot = await call("Page.captureScreenshot", format="png")
        name = re.sub(r"[^\w.-]+", "_", page).removesuffix(".html") + ".png"
        (out / name).write_bytes(base64.b64decode(shot["data"]))
        reports.append({"page": page, "screenshot": str(out / name), **report})
    ws.close()
    return reports


def browse(build: Path, pages, out: Path, browser: str) -> list[dict]:
    """Load ``pages`` of ``build`` in headless Chromium; return one report per page."""
    out.mkdir(parents=True, exist_ok=True)
    server, base = _serve(build)
    profile = tempfile.mkdtemp(prefix="attnlab-chromium-")
    process = subprocess.Popen(
        [
            browser,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--remote-debugging-port=0",
            # only the local server is reachable: remote scripts, fonts and badges fail at
            # once instead of stalling the page on an offline machine
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            f"--user-data-dir={profile}",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        port_file = Path(profile) / "DevToolsActivePort"
        for _ in range(300):
            if port_file.exists() and port_file.read_text().strip():
                break
            if process.poll() is not None:
                raise RuntimeError(f"{browser} exited: {process.stderr.read()[-2000:]}")
            threading.Event().wait(0.1)
        port = int(port_file.read_text().split()[0])
        targets = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10).read())
        ws_url = next(t["webSocketDebuggerUrl"] for t in targets if t.get("type") == "page")
        return asyncio.run(asyncio.wait_for(_visit(ws_url, base, pages, out), timeout=300))
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        server.shutdown()
        shutil.rmtree(profile, ignore_errors=True)


def problems_in(reports: list[dict], base: str = "http://127.0.0.1") -> list[str]:
    """Local images that did not render, and chapter pages without a figure. Remote images (the Colab
    badge) are not judged: the machine running the check may be offline."""
    problems = []
    for report in reports:
        local = [i for i in report["images"] if i["src"].startswith(base)]
        for image in local:
            if not image["w"] or not image["h"]:
                problems.append(f"{report['page']}: image not rendered: {image['src']}")
        if report["page"].startswith("notebooks/") and not any(i["w"] for i in local):
            problems.append(f"{report['page']}: no rendered figure on a chapter page")
        if report["page"] == "book/intro.html" and not any(i["w"] for i in local):
            problems.append(f"{report['page']}: the reader's map did not render")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("build", nargs="?", type=Path, default=ROOT / "_build" / "html")
    parser.add_argument("--out", type=Path, default=ROOT / "_build" / "browser_check")
    parser.add_argument("--page", action="append", help="page to load, relative to the build (repeatable)")
    args = parser.parse_args()
    if not (args.build / "index.html").is_file():
        print(f"browser check: {args.build} has no index.html; build the book first (bash book/build.sh)")
        return 1
    browser = find_browser()
    if browser is None:
        print("browser check: Chromium is not installed (on Debian/Ubuntu: apt-get install -y chromium)")
        return 2
    problems = [f"broken local link: {b}" for b in broken_local_links(args.build)]
    reports = browse(args.build, args.page or DEFAULT_PAGES, args.out, browser)
    for report in reports:
        local = [i for i in report["images"] if i["src"].startswith("http://127.0.0.1")]
        rendered = sum(1 for i in local if i["w"])
        print(
            f"{report['page']}: '{report['title']}', {rendered}/{len(local)} local images rendered "
            f"({len(report['images']) - len(local)} remote not judged), screenshot {report['screenshot']}"
        )
    problems += problems_in(reports)
    for problem in problems:
        print("PROBLEM:", problem)
    print("browser check:", "passed" if not problems else f"{len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
