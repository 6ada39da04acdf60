"""Sphinx configuration of the skmeta documentation.

Build from the repository root with ``make docs`` or::

    sphinx-build -b html docs docs/_build/html

The example gallery is rendered from ``examples/plot_*.py`` without running
the scripts (they meta-train for about a minute each). To run them and
embed their figures, set ``SKMETA_DOCS_RUN_EXAMPLES=1`` (or pass
``-D plot_gallery=1`` to ``sphinx-build``).
"""

import os
import re
import sys
from pathlib import Path

# document the working tree, installed or not
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import skmeta  # noqa: E402

# -- Project -----------------------------------------------------------------

project = "skmeta"
author = "skmeta developers"
copyright = "skmeta developers"
version = skmeta.__version__
release = skmeta.__version__

# -- General -----------------------------------------------------------------

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]
# intersphinx is left out on purpose: its inventories need the network,
# which documentation builds here do not have.

templates_path = ["_templates"]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "**.ipynb_checkpoints"]
root_doc = "index"
default_role = "literal"
pygments_style = "sphinx"

# -- autodoc / autosummary ---------------------------------------------------

autosummary_generate = True  # stubs go to docs/generated/ (see api.rst)
autodoc_typehints = "none"

# -- numpydoc ----------------------------------------------------------------

# the class template lists the members itself; numpydoc would list them again
numpydoc_show_class_members = False
numpydoc_show_inherited_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False

# -- sphinx-gallery ----------------------------------------------------------


def _env_flag(name, default="False"):
    return os.environ.get(name, default).strip().lower() in {"1", "true", "yes", "on"}


# Run the examples only on request: each meta-trains for about a minute.
plot_gallery = str(_env_flag("SKMETA_DOCS_RUN_EXAMPLES"))

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"plot_",
    "ignore_pattern": r"__init__\.py",
    "backreferences_dir": "generated/backreferences",
    "doc_module": ("skmeta",),
    "reference_url": {"skmeta": None},
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "remove_config_comments": True,
    "abort_on_example_error": False,
    "show_memory": False,
}

# -- HTML --------------------------------------------------------------------

html_theme = "pydata_sphinx_theme"
html_title = f"skmeta {release}"
html_theme_options = {
    "navbar_align": "left",
    "show_prev_next": False,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_sidebars = {"install": [], "benchmarks": []}
html_show_sourcelink = False


# -- Docstrings inherited from scikit-learn -----------------------------------

# The estimators inherit methods such as ``score`` and ``set_fit_request``
# from scikit-learn, whose docstrings cite labels and glossary terms of
# scikit-learn's own documentation. Without intersphinx these cannot
# resolve, so they are rendered as plain text.
_SKLEARN_XREF = re.compile(r":(?:ref|term):`(?:([^`<]*?)\s*<[^`>]*>|([^`]*))`")


def _sklearn_xrefs_to_text(app, what, name, obj, options, lines):
    module = getattr(obj, "__module__", None) or ""
    if not module.startswith("sklearn"):
        return
    lines[:] = [_SKLEARN_XREF.sub(lambda m: m.group(1) or m.group(2), line)
                for line in lines]


def setup(app):
    app.connect("autodoc-process-docstring", _sklearn_xrefs_to_text)
