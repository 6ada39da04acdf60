"""Local Sphinx extension of the skmeta documentation.

Four small pieces that the stock extensions do not provide:

* ``.. benchmark-results:: NAME``: the Markdown table file
  ``benchmarks/results/NAME.md`` rendered as real tables (through
  myst-parser), its headings as rubrics, with an optional ``:machine:`` line
  for the older files that do not describe their machine themselves;
* links for references to the libraries skmeta builds on (scikit-learn,
  torch, skorch, ...). intersphinx would need the network to fetch their
  inventories; here a reference resolves only if the object imports, and
  links to the page that library's documentation gives it;
* viewcode's ``[docs]`` links back from the source pages. viewcode gives a
  whole source module one public module name, so where one private module
  is documented under two (``skmeta.Task`` and ``skmeta.tasks.check_tasks``
  both live in ``skmeta/tasks/_task.py``) half its back links miss their
  anchor; they are pointed at the anchor the object really has;
* after an HTML build, a check that every internal link of the output
  reaches an existing page and anchor (Sphinx's ``linkcheck`` builder does
  not look at fragments of internal links), reported as warnings so that
  ``-W`` fails the build.
"""

import importlib
import os
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective, new_document

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results"


# --------------------------------------------------------- benchmark tables
class BenchmarkResults(SphinxDirective):
    """Render ``benchmarks/results/NAME.md`` as tables.

    ``NAME.png``, where the study wrote one, is shown under the tables. The
    file's Markdown headings become rubrics (the page has its own
    sections, and a table file must not add entries to its table of
    contents). ``:machine:`` adds a line saying when and on what the
    numbers were measured, for files written before the benchmarks stamped
    their date and machine themselves; once a file carries a date, the
    option is stale and the directive says so.
    """

    required_arguments = 1
    option_spec = {"machine": directives.unchanged}

    def run(self):
        name = self.arguments[0]
        path = RESULTS / f"{name}.md"
        if not path.is_file():
            logger.warning("benchmark results %s not found (run its benchmark, "
                           "or remove the directive)", path, location=self.get_location())
            return []
        self.env.note_dependency(str(path))
        text = path.read_text(encoding="utf-8")
        machine = self.options.get("machine")
        if machine and re.search(r"\b20\d\d-\d\d-\d\d\b", text):  # the harness's stamp
            logger.warning("%s is stamped with its date and machine now; drop the "
                           ":machine: option", path.name, location=self.get_location())
        # headings -> rubrics (myst's rubric directive)
        text = re.sub(r"^(#{1,6})\s+(.*)$",
                      lambda m: f"```{{rubric}} {m.group(2)}\n```", text, flags=re.M)
        if machine:  # after the file's own "Machine:" paragraph, or first
            note = f"**Measured:** {machine}"
            m = re.search(r"^Machine:.*?(?:\n\n|\Z)", text, flags=re.M | re.S)
            at = m.end() if m else 0
            text = f"{text[:at].rstrip()}\n\n{note}\n\n{text[at:]}" if at else f"{note}\n\n{text}"
        out = self._parse_markdown(text, str(path))
        figure = RESULTS / f"{name}.png"
        if figure.is_file():  # the study's figure, under its tables
            self.env.note_dependency(str(figure))
            here = Path(self.env.doc2path(self.env.docname)).parent
            out[0] += nodes.image(uri=os.path.relpath(figure, here), alt=f"{name} figure",
                                  classes=["benchmark-figure"])
        return out

    def _parse_markdown(self, text, source):
        from myst_parser.parsers.sphinx_ import MystParser

        doc = new_document(source, self.state.document.settings)
        MystParser().parse(text, doc)
        container = nodes.container(classes=["benchmark-results"])
        container.extend(doc.children)
        return [container]


# ----------------------------------------------------- external references
#: Where each library documents a public object; ``{page}`` is the module
#: path of the class or function holding the target, ``{name}`` the target.
EXTERNAL_DOCS = {
    "sklearn": "https://scikit-learn.org/stable/modules/generated/{page}.html#{name}",
    "torch": "https://docs.pytorch.org/docs/stable/generated/{page}.html#{name}",
    "skorch": "https://skorch.readthedocs.io/en/stable/{module_page}.html#{name}",
    "numpy": "https://numpy.org/doc/stable/reference/generated/{page}.html#{name}",
    "matplotlib": "https://matplotlib.org/stable/api/_as_gen/{page}.html#{name}",
    "joblib": "https://joblib.readthedocs.io/en/stable/generated/{page}.html#{name}",
}


def _locate(name):
    """``(module path, object path)`` of an importable dotted name, else None."""
    parts = name.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        module = ".".join(parts[:i])
        for attr in parts[i:]:
            if not hasattr(obj, attr):
                return None
            obj = getattr(obj, attr)
        return module, parts[i:]
    return None


def resolve_external(app, env, node, contnode):
    """Link a ``py`` reference to scikit-learn, torch, ... if the object exists."""
    if node.get("refdomain") != "py":
        return None
    target = node["reftarget"].lstrip("~.")
    pattern = EXTERNAL_DOCS.get(target.split(".")[0])
    found = pattern and _locate(target)
    if not found:
        return None
    module, path = found
    page = ".".join([module] + path[:1])
    # skorch documents each module on one page: skorch.callbacks -> callbacks.html
    module_page = module.split(".", 1)[1].replace(".", "/") if "." in module else "index"
    uri = pattern.format(page=page, name=target, module_page=module_page)
    ref = nodes.reference("", "", internal=False, refuri=uri, reftitle=target)
    ref += contnode
    return ref


# ---------------------------------------------------- viewcode back links
_BACKLINK = re.compile(r'(class="viewcode-back" href=")([^"#]*)#([^"]*)"')


def fix_viewcode_backlinks(app, pagename, templatename, context, doctree):
    """Point the ``[docs]`` links of a source page at the objects' anchors."""
    if not pagename.startswith("_modules/") or "body" not in context:
        return
    by_doc = {}
    for fullname, entry in app.env.domains["py"].objects.items():
        by_doc.setdefault(entry.docname, {})[fullname] = entry.node_id
    suffix = app.builder.out_suffix

    def repl(m):
        href, anchor = m.group(2), m.group(3)
        target = _normpath(f"{Path(pagename).parent.as_posix()}/{unquote(href)}")
        objects = by_doc.get(target.removesuffix(suffix), {})
        if anchor in objects.values():
            return m.group(0)
        # anchor is "<module viewcode chose>.<name>": find the object by the
        # longest trailing part of its dotted name that is unique on the page
        parts = anchor.split(".")
        for k in range(1, len(parts)):
            tail = "." + ".".join(parts[k:])
            # (a set: an object's canonical name is an alias with the same id)
            found = {node_id for full, node_id in objects.items() if full.endswith(tail)}
            if len(found) == 1:
                return f'{m.group(1)}{href}#{found.pop()}"'
        return m.group(0)  # left for the link check to report

    context["body"] = _BACKLINK.sub(repl, context["body"])


def _normpath(path):
    out = []
    for part in path.split("/"):
        if part == "..":
            out.pop()
        elif part not in ("", "."):
            out.append(part)
    return "/".join(out)


# ------------------------------------------------- internal link checking
class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids, self.links = set(), []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for key in ("id", "name"):
            if attrs.get(key):
                self.ids.add(attrs[key])
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        if tag in ("img", "script") and attrs.get("src"):
            self.links.append(attrs["src"])
        if tag == "link" and attrs.get("href"):
            self.links.append(attrs["href"])


def check_internal_links(app, exception):
    """Warn about every internal link of the HTML output that leads nowhere."""
    if exception is not None or app.builder.format != "html":
        return
    out = Path(app.outdir).resolve()
    pages = {}
    for page in out.rglob("*.html"):
        if "_static" in page.relative_to(out).parts:  # theme templates, not pages
            continue
        parser = _Links()
        parser.feed(page.read_text(encoding="utf-8", errors="replace"))
        pages[page] = parser
    broken = 0
    for page, parser in sorted(pages.items()):
        for link in parser.links:
            url = urlsplit(link)
            if url.scheme or link.startswith(("//", "mailto:", "javascript:")):
                continue
            target = (page.parent / unquote(url.path)).resolve() if url.path else page
            if not target.exists():
                problem = "missing file"
            elif url.fragment and target in pages and url.fragment not in pages[target].ids:
                problem = "missing anchor"
            else:
                continue
            broken += 1
            logger.warning("broken internal link (%s) in %s: %s", problem,
                           page.relative_to(out), link)
    logger.info("internal links checked: %d pages, %d broken", len(pages), broken)


def setup(app):
    app.add_directive("benchmark-results", BenchmarkResults)
    app.connect("missing-reference", resolve_external)
    app.connect("html-page-context", fix_viewcode_backlinks)
    app.connect("build-finished", check_internal_links)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
