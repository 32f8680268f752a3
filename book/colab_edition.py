"""Make the Colab edition of the book: the executed chapters as plain notebooks that read like the book.

Colab renders plain Markdown, not MyST, and opens notebooks from GitHub paths. ``bash book/build.sh``
runs this after executing the chapters (``book/execute.py``); it reads their outputs from the same
execution cache (nothing is executed again) and writes two flavours:

* ``_build/colab/instructor/<path of the chapter>.ipynb``: solutions kept, their code cells collapsed
  (Colab's form view, ``cellView: form``; JupyterLab's ``source_hidden``), Solution boxes as closed
  ``<details>`` blocks;
* ``_build/colab/student/...``: the solution cells removed, exactly as in the student edition
  (``book/student_edition.py``: every self-check shows what it prints for a stub).

Both keep the outputs (so the figures show before anything runs), and turn the MyST of the prose into
plain Markdown: ``{glue:text}`` roles and ``glue`` directives become the glued values (a glued figure becomes
the image), ``{cite:t}``/``{cite:p}`` become "Author (year)" linked to the online references page,
``{term}`` a link into the online glossary, admonitions ``<details>`` blocks, ``{doc}``/``{ref}`` and every
relative link an absolute URL of the online book (``html.baseurl`` of ``_config.yml``), local images are
embedded; any other role or directive is reduced to its text (a directive to a quoted block).

The workflow publishes ``_build/colab`` to the branch ``colab.branch`` of ``_config.yml``; each chapter's
"Open in Colab" badge and the online book's Colab button open ``<flavour>/<path>`` on that branch
(``colab_url``). The setup cell installs the kit from ``repository.url`` at the git ref ``colab.kit_ref``
(the tag of the release, ``v`` + ``attnlab.__version__``). ``ATTNLAB_STUDENT_REPO=owner/name`` re-points
both, badges and install line, at a course repository.

    python book/colab_edition.py [OUT]              # default OUT: _build/colab
    python book/colab_edition.py --sync-sources     # after bumping colab.kit_ref: the notebooks' setup
                                                    # cells and badges follow _config.yml
"""

from __future__ import annotations

import argparse
import base64
import copy
import json
import mimetypes
import os
import posixpath
import re
import shutil
import sys
from ast import literal_eval
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
FLAVOURS = ("instructor", "student")
COLAB = "https://colab.research.google.com"
GLUE_PREFIX = "application/papermill.record/"


# --------------------------------------------------------------------------------------------------
# Configuration: one place, _config.yml
# --------------------------------------------------------------------------------------------------


def book_config(root: Path = ROOT) -> dict:
    return yaml.safe_load((Path(root) / "_config.yml").read_text(encoding="utf-8"))


def repository(config: dict) -> str:
    """``owner/name`` of the repository (``ATTNLAB_STUDENT_REPO`` when set)."""
    repo = os.environ.get("ATTNLAB_STUDENT_REPO", "").strip().strip("/")
    return repo or config["repository"]["url"].rstrip("/").removeprefix("https://github.com/")


def colab_url(config: dict, flavour: str, path: str) -> str:
    """Where Colab opens the published Colab edition of ``path`` (a notebook's path in the repository)."""
    book = config["repository"].get("path_to_book", "").strip("/")
    # The branch holds the flavours at its top level; a book in a sub-folder keeps it below them.
    rel = "/".join(filter(None, [flavour, book, path]))
    return f"{COLAB}/github/{repository(config)}/blob/{config['colab']['branch']}/{rel}"


def install_spec(config: dict) -> str:
    """``git+https://github.com/<owner>/<name>@<ref>``: the kit as the setup cells install it."""
    return f"git+https://github.com/{repository(config)}@{config['colab']['kit_ref']}"


INSTALL_URL = re.compile(r"git\+https://github\.com/[\w.-]+/[\w.-]+?(?:\.git)?(?:@[\w./-]+)?(?=[\"'\s#]|$)")
BADGE_URL = re.compile(r"https://colab\.research\.google\.com/github/[^)\s\"']+")


def pin_install(source: str, config: dict) -> str:
    """The setup cell's source with its ``git+`` install line pinned to ``install_spec``."""
    return INSTALL_URL.sub(install_spec(config), source)


def retarget_badge(source: str, config: dict, flavour: str, path: str) -> str:
    return BADGE_URL.sub(colab_url(config, flavour, path), source)


# --------------------------------------------------------------------------------------------------
# What the converter needs to know about the book
# --------------------------------------------------------------------------------------------------


@dataclass
class Book:
    """What the MyST -> Markdown conversion of one page needs: URLs, references, glue, labels."""

    baseurl: str  # the online book, ending with "/"
    docs: dict[str, str] = field(default_factory=dict)  # docname -> title
    labels: dict[str, tuple[str, str]] = field(default_factory=dict)  # label -> (docname, title)
    references: dict[str, tuple[str, str]] = field(default_factory=dict)  # bib key -> (authors, year)
    glue: dict[str, dict] = field(default_factory=dict)  # name -> mime bundle (every chapter)
    root: Path = ROOT
    repo_blob: str = ""  # https://github.com/o/r/blob/<branch>/ for other files

    def page(self, docname: str, anchor: str = "") -> str:
        return f"{self.baseurl}{docname}.html" + (f"#{anchor}" if anchor else "")

    def references_page(self) -> str:
        return self.page("book/references")

    def glossary_page(self, term: str) -> str:
        return self.page("book/glossary", _term_id(term))


def _term_id(term: str) -> str:
    """The HTML id Sphinx gives a glossary term (``term-`` + the term made an id)."""
    try:
        from sphinx.util.nodes import _make_id
    except ImportError:  # pragma: no cover - the book's environment has Sphinx
        return "term-" + re.sub(r"[^\w]+", "-", term).strip("-")
    return _make_id(f"term-{term}")


def toc_docnames(root: Path = ROOT) -> list[str]:
    """Every document of ``_toc.yml`` (root, parts, chapters and nested sections), in order."""
    toc = yaml.safe_load((Path(root) / "_toc.yml").read_text(encoding="utf-8"))
    names = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                names.append(entry["file"])
            walk(entry.get("sections"))
            walk(entry.get("chapters"))

    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    walk(toc.get("chapters"))
    return [re.sub(r"\.(md|ipynb)$", "", name) for name in names]


def _doc_text(root: Path, docname: str) -> str:
    for ext in (".md", ".ipynb"):
        path = Path(root) / f"{docname}{ext}"
        if path.is_file():
            if ext == ".md":
                return path.read_text(encoding="utf-8")
            cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
            return "\n\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    return ""


HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$", re.M)
TARGET = re.compile(r"^\(([^()\s]+)\)=\s*$", re.M)
NAME_OPTION = re.compile(r"^:name:\s*(\S+)\s*$", re.M)


def parse_bib(text: str) -> dict[str, tuple[str, str]]:
    """``{key: (authors as cited, year)}`` of a BibTeX file: "Jain and Wallace", "Bai et al."."""
    entries = {}
    for match in re.finditer(r"@\w+\s*\{\s*([^,\s]+)\s*,(.*?)\n\}", text, re.S):
        key, body = match[1], match[2]
        fields = {name.lower(): value for name, value in re.findall(r"(\w+)\s*=\s*\{((?:[^{}]|\{[^{}]*\})*)\}", body)}
        names = [n.strip() for n in re.split(r"\s+and\s+", fields.get("author", "").replace("\n", " ")) if n.strip()]

        def last(name):
            name = name.replace("{", "").replace("}", "")
            return name.split(",", 1)[0].strip() if "," in name else name.split()[-1]

        if not names:
            authors = key
        elif len(names) == 1:
            authors = last(names[0])
        elif len(names) == 2:
            authors = f"{last(names[0])} and {last(names[1])}"
        else:
            authors = f"{last(names[0])} et al."
        entries[key] = (authors, fields.get("year", "n.d.").strip())
    return entries


def glue_of(notebook: dict) -> dict[str, dict]:
    """``{name: mime bundle}`` glued in an executed notebook (myst-nb's glue: output metadata ``scrapbook``)."""
    glued = {}
    for cell in notebook["cells"]:
        for output in cell.get("outputs", []) if cell["cell_type"] == "code" else []:
            meta = output.get("metadata", {}).get("scrapbook")
            if meta:
                prefix = len(meta.get("mime_prefix", ""))
                glued[meta["name"]] = {k[prefix:]: v for k, v in output.get("data", {}).items()}
    return glued


def load_book(root: Path = ROOT, executed: dict[str, dict] | None = None, config: dict | None = None) -> Book:
    config = config or book_config(root)
    baseurl = config["html"]["baseurl"].rstrip("/") + "/"
    book = Book(baseurl=baseurl, root=Path(root))
    repo_url = config["repository"]["url"].rstrip("/")
    book.repo_blob = f"{repo_url}/blob/{config['repository'].get('branch', 'main')}/"
    for docname in toc_docnames(root):
        text = _doc_text(root, docname)
        heading = HEADING.search(text)
        book.docs[docname] = heading[2] if heading else docname.rsplit("/", 1)[-1]
        for match in TARGET.finditer(text):
            after = HEADING.search(text, match.end())
            book.labels[match[1]] = (docname, after[2] if after else match[1])
        for match in NAME_OPTION.finditer(text):
            book.labels.setdefault(match[1], (docname, match[1]))
    for bib in config.get("bibtex_bibfiles", []):
        path = Path(root) / bib
        if path.is_file():
            book.references.update(parse_bib(path.read_text(encoding="utf-8")))
    for notebook in (executed or {}).values():
        book.glue.update(glue_of(notebook))
    return book


# --------------------------------------------------------------------------------------------------
# MyST -> plain Markdown
# --------------------------------------------------------------------------------------------------


class ConversionError(ValueError):
    pass


ROLE = re.compile(r"\{([A-Za-z][\w:.+-]*)\}`([^`]*)`")
# Scanned left to right: a role (its name and code span), else a code span, else inline math.
INLINE_TOKEN = re.compile(
    r"(?P<role>\{[A-Za-z][\w:.+-]*\}`[^`]*`)|(?P<code>(`+)(?:.|\n)*?(?<!`)(?P=code_fence)(?!`))".replace(
        "(`+)", "(?P<code_fence>`+)"
    )
    + r"|\$[^$\n]+\$"
)
TITLED = re.compile(r"^(.*?)\s*<([^<>]+)>$", re.S)
FENCE_OPEN = re.compile(r"^(\s*)(`{3,}|~{3,}|:{3,})\s*(\{([^}]+)\})?\s*(.*?)\s*$")
LINK = re.compile(
    r"(!?)\[((?:[^\[\]]|\[[^\]]*\])*)\]\(\s*(<[^>]*>|[^()\s]*(?:\([^()\s]*\)[^()\s]*)*)(\s+\"[^\"]*\")?\s*\)"
)
HTML_URL = re.compile(r"(<(?:a|img)\b[^>]*?\b(?:href|src)=\")([^\"]+)(\")", re.I)
ABSOLUTE = re.compile(r"^(?:[a-z][a-z0-9+.-]*:|//)", re.I)
ADMONITIONS = {
    "admonition",
    "note",
    "tip",
    "hint",
    "important",
    "warning",
    "caution",
    "attention",
    "danger",
    "error",
    "seealso",
    "dropdown",
    "topic",
    "sidebar",
    "margin",
    "toggle",
    "todo",
}
COLLAPSED = {"dropdown", "toggle"}


def _split_titled(content: str) -> tuple[str | None, str]:
    match = TITLED.match(content.strip())
    return (match[1].strip() or None, match[2].strip()) if match else (None, content.strip())


def _data_uri(mime: str, data: str | bytes) -> str:
    if isinstance(data, list):
        data = "".join(data)
    if isinstance(data, str) and mime.endswith("svg+xml"):
        data = base64.b64encode(data.encode("utf-8")).decode("ascii")
    elif isinstance(data, bytes):
        data = base64.b64encode(data).decode("ascii")
    return f"data:{mime};base64,{data.strip()}"


# Cells whose code the book hides: collapsed in the Colab edition (Colab's form view), outputs kept.
HIDDEN_CODE = {"hide-input", "hide-cell", "remove-input", "remove-cell"}
REMOVED_OUTPUT = {"remove-cell", "remove-output"}
IMAGE_MIMES = ("image/png", "image/jpeg", "image/svg+xml", "image/gif")


class Converter:
    """Turns the MyST of one page (``docname``) into Markdown that Colab renders."""

    def __init__(self, book: Book, docname: str, glue: dict[str, dict] | None = None):
        self.book = book
        self.docname = docname
        self.glue = {**book.glue, **(glue or {})}

    # ---- links --------------------------------------------------------------------------------
    def resolve(self, target: str) -> str:
        """An absolute URL for a link target written relative to this page."""
        target = target.strip()
        if ABSOLUTE.match(target):
            return target
        path, _, anchor = target.partition("#")
        if not path:
            return self.book.page(self.docname, anchor)
        here = posixpath.dirname(self.docname)
        full = posixpath.normpath(posixpath.join(here, path)) if not path.startswith("/") else path.lstrip("/")
        doc = re.sub(r"\.(md|ipynb|html)$", "", full)
        if (
            doc in self.book.docs
            or (Path(self.book.root) / f"{doc}.md").is_file()
            or (Path(self.book.root) / f"{doc}.ipynb").is_file()
        ):
            return self.book.page(doc, anchor)
        if (Path(self.book.root) / full).is_dir():
            return self.book.repo_blob.replace("/blob/", "/tree/") + full
        return self.book.repo_blob + full + (f"#{anchor}" if anchor else "")

    def image_src(self, target: str) -> str:
        """A local image embedded as a data URI (Colab cannot resolve a relative path); URLs as they are."""
        if ABSOLUTE.match(target):
            return target
        full = Path(self.book.root) / posixpath.normpath(posixpath.join(posixpath.dirname(self.docname), target))
        if full.is_file():
            mime = mimetypes.guess_type(full.name)[0] or "image/png"
            return _data_uri(mime, full.read_bytes())
        return self.resolve(target)

    def links(self, text: str) -> str:
        def markdown(match):
            bang, label, target, title = match[1], match[2], match[3], match[4] or ""
            target = target[1:-1] if target.startswith("<") else target
            url = self.image_src(target) if bang else self.resolve(target)
            return f"{bang}[{label}]({url}{title})"

        def html(match):
            url = match[2]
            if match[1].lower().startswith("<img"):
                url = self.image_src(url)
            else:
                url = self.resolve(url)
            return f"{match[1]}{url}{match[3]}"

        return HTML_URL.sub(html, LINK.sub(markdown, text))

    # ---- glue ---------------------------------------------------------------------------------
    def glued(self, key: str) -> dict:
        key = key.split("::", 1)[-1].strip()
        if key not in self.glue:
            raise ConversionError(f"{self.docname}: nothing glued under {key!r}")
        return self.glue[key]

    def glue_text(self, content: str) -> str:
        key, fmt = (content.rsplit(":", 1) + ["s"])[:2] if ":" in content.split("::")[-1] else (content, "s")
        bundle = self.glued(key)
        if "text/plain" not in bundle:
            raise ConversionError(f"{self.docname}: {key!r} has no text/plain")
        text = "".join(bundle["text/plain"])
        try:
            from myst_nb.core.variables import format_plain_text
        except ImportError:  # pragma: no cover - the same rule as myst-nb's

            def format_plain_text(text, fmt_spec):
                try:
                    value = literal_eval(text)
                except (SyntaxError, ValueError):
                    value = text
                return format(value, fmt_spec) if fmt_spec not in ("", "s") else str(value)

        return format_plain_text(text, fmt)

    def glue_any(self, key: str, caption: str = "") -> str:
        """A glued value as Markdown: an image, Markdown, LaTeX or its text."""
        bundle = self.glued(key)
        for mime in IMAGE_MIMES:
            if mime in bundle:
                image = f"![{caption.splitlines()[0] if caption else key}]({_data_uri(mime, bundle[mime])})"
                return image + (f"\n\n*{caption}*" if caption else "")
        if "text/markdown" in bundle:
            return "".join(bundle["text/markdown"])
        if "text/latex" in bundle:
            return "".join(bundle["text/latex"])
        return self.glue_text(key)

    # ---- roles --------------------------------------------------------------------------------
    def cite(self, name: str, content: str) -> str:
        keys = [k.strip() for k in content.split(",") if k.strip()]
        missing = [k for k in keys if k not in self.book.references]
        if missing:
            raise ConversionError(f"{self.docname}: unknown citation {missing}")
        url = self.book.references_page()
        kind = name.split(":", 1)[1] if ":" in name else "p"
        items = []
        for key in keys:
            authors, year = self.book.references[key]
            if kind in ("t", "ts"):
                items.append(f"[{authors} ({year})]({url})")
            elif kind == "year":
                items.append(f"[{year}]({url})")
            elif kind in ("author", "authors"):
                items.append(f"[{authors}]({url})")
            else:
                items.append(f"[{authors}, {year}]({url})")
        return "; ".join(items) if kind in ("t", "ts", "year", "author", "authors") else f"({'; '.join(items)})"

    def role(self, match: re.Match) -> str:
        name, content = match[1], match[2]
        if name in ("glue", "glue:", "glue:any"):
            return self.glue_any(content.strip())
        if name == "glue:text":
            return self.glue_text(content.strip())
        if name == "glue:md":
            return "".join(self.glued(content.strip()).get("text/markdown", ""))
        if name == "cite" or name.startswith("cite:"):
            return self.cite(name, content)
        if name == "term":
            text, target = _split_titled(content)
            return f"[{text or target}]({self.book.glossary_page(target)})"
        if name == "doc":
            text, target = _split_titled(content)
            url = self.resolve(target)
            doc = url.removeprefix(self.book.baseurl).removesuffix(".html").split("#")[0]
            return f"[{text or self.book.docs.get(doc, target)}]({url})"
        if name in ("ref", "numref", "eq", "label"):
            text, target = _split_titled(content)
            if target in self.book.labels:
                doc, title = self.book.labels[target]
                return f"[{text or title}]({self.book.page(doc, target)})"
            return text or target
        if name == "download":
            text, target = _split_titled(content)
            return f"[{text or target}]({self.resolve(target)})"
        if name == "math":
            return f"${content}$"
        if name in ("sub", "sup", "kbd"):
            return f"<{name}>{content}</{name}>"
        if name in ("code", "samp", "file", "command", "literal"):
            return f"`{content}`"
        if name in ("guilabel", "menuselection", "strong"):
            return f"**{content}**"
        if name in ("emphasis", "dfn"):
            return f"*{content}*"
        if name == "abbr":
            return re.sub(r"\s*\([^()]*\)\s*$", "", content)
        # Any other role: its text (the part before <target> when it has one).
        text, target = _split_titled(content)
        return text or target

    def inline(self, text: str) -> str:
        """Roles and links of a stretch of prose; code spans and inline math are left as they are."""
        protected = []

        def token(match):
            if match["role"]:
                protected.append(self.links(self.role(ROLE.match(match[0]))))
            else:  # a code span or inline math
                protected.append(match[0])
            return f"\x00{len(protected) - 1}\x00"

        masked = INLINE_TOKEN.sub(token, text)
        return re.sub(r"\x00(\d+)\x00", lambda m: protected[int(m[1])], self.links(masked))

    # ---- blocks -------------------------------------------------------------------------------
    def convert(self, text: str) -> str:
        """MyST Markdown -> Markdown."""
        lines = text.split("\n")
        out: list[str] = []
        prose: list[str] = []
        i = 0

        def flush():
            if prose:
                out.append(self.inline("\n".join(prose)))
                prose.clear()

        while i < len(lines):
            line = lines[i]
            opened = FENCE_OPEN.match(line)
            if opened and (opened[4] or opened[2][0] != ":"):
                indent, fence, name, args = opened[1], opened[2], opened[4], opened[5]
                close = re.compile(rf"^\s*{re.escape(fence[0])}{{{len(fence)},}}\s*$")
                j = i + 1
                while j < len(lines) and not close.match(lines[j]):
                    j += 1
                body = [l[len(indent) :] if l.startswith(indent) else l.lstrip() for l in lines[i + 1 : j]]
                flush()
                if name:
                    block = self.directive(name.strip(), args, "\n".join(body))
                    out.append("\n".join(indent + l if l else l for l in block.split("\n")))
                else:
                    out.append("\n".join(lines[i : j + 1]))  # a code block: as it is
                i = j + 1
                continue
            if TARGET.match(line) or re.match(r"^\s*%", line) or re.match(r"^\+\+\+", line):
                i += 1  # a MyST target, comment or block break: nothing to show
                continue
            prose.append(line)
            i += 1
        flush()
        return "\n".join(out)

    def directive(self, name: str, args: str, body: str) -> str:
        options, body = _options(body)
        classes = set(options.get("class", "").split())
        if name in ADMONITIONS:
            title = args.strip() or name.capitalize()
            collapsed = name in COLLAPSED or "dropdown" in classes or "toggle" in classes
            return (
                f"<details{'' if collapsed else ' open'}>\n<summary><b>{self.inline(title)}</b></summary>\n\n"
                f"{self.convert(body).strip()}\n\n</details>"
            )
        if name in ("figure", "image"):
            alt = options.get("alt", "")
            caption = self.convert(body).strip()
            first = caption.split("\n\n", 1)[0] if caption else ""
            image = f"![{alt or re.sub(r'[][*_`]', '', first)[:120]}]({self.image_src(args.strip())})"
            return image + (f"\n\n*{caption}*" if caption and name == "figure" else "")
        if name in ("glue:figure", "glue", "glue:", "glue:any"):
            caption = self.convert(body).strip()
            return self.glue_any(args.strip(), caption)
        if name == "glue:math":
            return "$$\n" + "".join(self.glued(args.strip()).get("text/latex", "")).strip("$\n") + "\n$$"
        if name == "glue:md":
            return "".join(self.glued(args.strip()).get("text/markdown", ""))
        if name == "math":
            return "$$\n" + (args + "\n" if args else "") + body.strip() + "\n$$"
        if name in ("code-block", "code", "sourcecode", "code-cell"):
            return f"```{args.strip()}\n{body}\n```"
        if name in ("epigraph", "pull-quote", "highlights", "rubric"):
            text = self.convert(body if name != "rubric" else args).strip()
            return "\n".join("> " + l if l else ">" for l in text.split("\n"))
        if name in ("raw",) and args.strip() in ("html", "markdown"):
            return body
        if name in ("toctree", "tableofcontents", "bibliography", "contents"):
            return ""
        # Any other directive: its title and converted body as a quoted block.
        text = self.convert(body).strip()
        head = f"**{self.inline(args.strip())}**" if args.strip() else ""
        block = "\n\n".join(filter(None, [head, text]))
        return "\n".join("> " + l if l else ">" for l in block.split("\n")) if block else ""


def _options(body: str) -> tuple[dict[str, str], str]:
    """A directive's ``:key: value`` lines (or a ``---`` YAML block) and the rest of its body."""
    lines = body.split("\n")
    if lines and lines[0].strip() == "---":
        end = next((k for k in range(1, len(lines)) if lines[k].strip() == "---"), None)
        if end is not None:
            data = yaml.safe_load("\n".join(lines[1:end])) or {}
            return {str(k): str(v) for k, v in data.items()}, "\n".join(lines[end + 1 :])
    options, k = {}, 0
    while k < len(lines):
        match = re.match(r"^:([\w-]+):\s*(.*)$", lines[k])
        if not match:
            break
        options[match[1]] = match[2].strip()
        k += 1
    return options, "\n".join(lines[k:]).lstrip("\n")


LEFTOVER_ROLE = re.compile(r"\{[A-Za-z][\w:.+-]*\}`")
LEFTOVER_DIRECTIVE = re.compile(r"^\s*(?:`{3,}|~{3,}|:{3,})\s*\{[^}]*\}", re.M)
LEFTOVER_SYNTAX = re.compile(r"^\([^()\s]+\)=\s*$|^:::", re.M)


def leftovers(markdown: str) -> list[str]:
    """What Colab would show raw or as a dead link: MyST roles, directives, targets, relative links."""
    found = []
    code_free = re.sub(r"^(`{3,}|~{3,})[^\n{]*\n.*?^\1\s*$", "", markdown, flags=re.M | re.S)  # code blocks
    found += [f"role {m[0]}" for m in INLINE_TOKEN.finditer(code_free) if m["role"]]
    code_free = INLINE_TOKEN.sub("", code_free)  # roles (found above), code spans and inline math
    found += [f"directive {m[0].strip()}" for m in LEFTOVER_DIRECTIVE.finditer(markdown)]
    found += [f"MyST syntax {m[0].strip()}" for m in LEFTOVER_SYNTAX.finditer(code_free)]
    for match in LINK.finditer(code_free):
        target = match[3].strip("<>")
        if not ABSOLUTE.match(target):
            found.append(f"relative link {target!r}")
    for match in HTML_URL.finditer(code_free):
        if not ABSOLUTE.match(match[2]):
            found.append(f"relative link {match[2]!r}")
    return found


def myst_to_markdown(text: str, book: Book, docname: str, glue: dict[str, dict] | None = None) -> str:
    return Converter(book, docname, glue).convert(text)


# --------------------------------------------------------------------------------------------------
# Notebooks
# --------------------------------------------------------------------------------------------------


def _student_edition():
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import student_edition

    return student_edition


def _with_edition_note(source: str, book: Book, docname: str, flavour: str, config: dict) -> str:
    """The header with a line saying what this notebook is, under the badge (or the title)."""
    which = (
        "student edition, without the exercise solutions"
        if flavour == "student"
        else "instructor edition: exercise solutions included, collapsed"
    )
    note = (
        f"*Colab edition of a chapter of the [online book]({book.page(docname)}) ({which}). The outputs "
        f"are those of the book's build; the setup cell installs the kit at `{config['colab']['kit_ref']}`.*"
    )
    lines = source.split("\n")
    at = next((i for i, line in enumerate(lines) if BADGE_URL.search(line)), 0)
    return "\n".join(lines[: at + 1] + ["", note] + lines[at + 1 :])


def colab_notebook(executed: dict, name: str, flavour: str, book: Book, config: dict) -> dict:
    """The Colab edition (``flavour``) of one executed notebook (``name``: its path in the repository)."""
    se = _student_edition()
    notebook = copy.deepcopy(executed)
    glue = glue_of(notebook)
    if flavour == "student":
        notebook = se.as_student_ran_it(notebook, name)
    docname = re.sub(r"\.ipynb$", "", name)
    converter = Converter(book, docname, glue)
    setup_done = False
    for cell in notebook["cells"]:
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        metadata = cell.setdefault("metadata", {})
        if cell["cell_type"] == "markdown":
            source = retarget_badge(source, config, flavour, name)
            source = converter.convert(source)
            if cell is notebook["cells"][0]:
                source = _with_edition_note(source, book, docname, flavour, config)
        elif cell["cell_type"] == "code":
            if not setup_done and "google.colab" in source:
                source = pin_install(source, config)
                setup_done = True
            # Glue-only outputs (hidden mime types) are the prose's numbers, now in the text.
            cell["outputs"] = [
                o for o in cell.get("outputs", []) if not o.get("metadata", {}).get("scrapbook", {}).get("mime_prefix")
            ]
            tags = metadata.get("tags", [])
            if REMOVED_OUTPUT.intersection(tags):
                cell["outputs"] = []  # as in the book (e.g. a figure the prose shows through glue:figure)
            if se.is_solution(cell) or HIDDEN_CODE.intersection(tags):
                # Colab's form view shows the title and hides the code ("Show code" opens it). The title:
                # "Solution", else the cell's opening comment, else what the book does with the cell.
                first, _, rest = source.partition("\n")
                comment = first[1:].strip() if first.startswith("#") and not first.startswith("#!") else ""
                title = (
                    "Solution"
                    if se.is_solution(cell)
                    else comment
                    or (
                        "Code (the book shows only its output)"
                        if "remove-cell" not in tags
                        else "Code the book runs without showing it"
                    )
                )
                if not source.lstrip().startswith(("# @title", "#@title")):
                    source = f"# @title {title}\n" + (rest if comment and comment == title else source)
                metadata["cellView"] = "form"
                metadata.setdefault("jupyter", {})["source_hidden"] = True
        cell["source"] = source
    meta = notebook.setdefault("metadata", {})
    meta["colab"] = {"provenance": [], "toc_visible": True}
    meta.setdefault("kernelspec", {"name": "python3", "display_name": "Python 3", "language": "python"})
    meta["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return notebook


def build(out: Path, root: Path = ROOT, executed: dict[str, dict] | None = None) -> dict[str, list[Path]]:
    """Write both flavours of every executed chapter to ``out/<flavour>/``; return the files written."""
    config = book_config(root)
    if executed is None:
        executed = {name: notebook for name, (notebook, _) in _student_edition().executed_notebooks(root).items()}
    book = load_book(root, executed, config)
    out = Path(out)
    if out.exists():
        shutil.rmtree(out)
    written = {}
    for flavour in FLAVOURS:
        written[flavour] = []
        for name, notebook in executed.items():
            path = out / flavour / name
            path.parent.mkdir(parents=True, exist_ok=True)
            colab = colab_notebook(notebook, name, flavour, book, config)
            left = [
                f"{name}: {item}"
                for cell in colab["cells"]
                if cell["cell_type"] == "markdown"
                for item in leftovers(cell["source"])
            ]
            if left:
                raise ConversionError("MyST left in the Colab edition:\n  " + "\n  ".join(left))
            path.write_text(json.dumps(colab, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
            written[flavour].append(path)
    (out / "README.md").write_text(
        "# Colab edition of the attnlab book\n\n"
        "Generated by `book/colab_edition.py` from the executed notebooks of "
        f"{config['repository']['url']} (kit installed at `{config['colab']['kit_ref']}`); do not edit.\n"
        "`instructor/` keeps the exercise solutions (collapsed), `student/` has none.\n"
        f"Read the book online: {book.baseurl}\n",
        encoding="utf-8",
    )
    return written


def sync_sources(root: Path = ROOT) -> list[Path]:
    """Point the badge and the setup cell's install line of every notebook of the book at ``_config.yml``
    (after a release bump of ``colab.kit_ref``); return the notebooks changed."""
    config = book_config(root)
    changed = []
    for docname in toc_docnames(root):
        path = Path(root) / f"{docname}.ipynb"
        if not path.is_file():
            continue
        name = f"{docname}.ipynb"
        notebook = json.loads(path.read_text(encoding="utf-8"))
        before = json.dumps(notebook)
        for cell in notebook["cells"]:
            source = "".join(cell["source"])
            if cell["cell_type"] == "markdown":
                source = retarget_badge(source, config, "instructor", name)
            elif "google.colab" in source:
                source = pin_install(source, config)
            cell["source"] = source.splitlines(keepends=True)
        if json.dumps(notebook) != before:
            path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
            changed.append(path)
    return changed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "out",
        nargs="?",
        type=Path,
        default=ROOT / "_build" / "colab",
        help="output folder (replaced); default _build/colab",
    )
    parser.add_argument(
        "--sync-sources",
        action="store_true",
        help="instead: point the notebooks' badges and install lines at _config.yml (after a release bump)",
    )
    args = parser.parse_args()
    if args.sync_sources:
        changed = sync_sources()
        print(f"{len(changed)} notebook(s) updated" + "".join(f"\n  {p.relative_to(ROOT)}" for p in changed))
        return
    written = build(args.out)
    for flavour, paths in written.items():
        print(f"Colab edition ({flavour}): {len(paths)} notebooks in {args.out / flavour}")


if __name__ == "__main__":
    main()
