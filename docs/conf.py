"""Sphinx configuration of the skmeta documentation.

Build from the repository root with ``make docs``: the HTML with warnings
as errors and nitpicky references, the example gallery run in fast mode,
and a link check (docs/install.rst, "Building the documentation", says
what each step checks). The HTML step by hand::

    SKMETA_EXAMPLES_FAST=1 sphinx-build -b html -n -W --keep-going docs docs/_build/html

The gallery runs every ``examples/plot_*.py`` and embeds its output and
figures. ``SKMETA_EXAMPLES_FAST=1`` makes the examples shrink their
iterations (each reads the variable itself); without it they run in full,
about a minute or two each. ``-D plot_gallery=0`` renders the gallery
without running anything.
"""

import os
import re
import sys
from pathlib import Path

# document the working tree, installed or not; docs/_ext holds the local extension
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "docs" / "_ext"))

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
    "myst_parser",  # the benchmark tables are Markdown files
    "skmeta_docs",  # docs/_ext/skmeta_docs.py
]
# intersphinx is left out on purpose: its inventories need the network,
# which documentation builds here do not have. skmeta_docs links references
# to scikit-learn, torch, skorch, numpy, matplotlib and joblib instead, to the
# page each library gives an object, after checking that the object imports.

# every reference must resolve (-n): a broken cross-reference fails the build
nitpicky = True

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

# Validate every docstring numpydoc renders (the public API, with the
# methods the class pages list); a violation is a warning, so an error of
# the build. Checks left out, and why:
numpydoc_validate = True
numpydoc_validation_checks = {
    "all",
    # An Examples section is required of every public class and function
    # (tests/test_docs.py checks it and the doctests run under pytest);
    # methods are shown in their class's example, as in scikit-learn.
    "EX01",
    # See Also and an extended summary where they help, not on every
    # method (scikit-learn's own validation leaves both out too).
    "SA01",
    "ES01",
    # scikit-learn's convention names a single return value
    # ("self : object"), which numpydoc's RT02 flags.
    "RT02",
}
# Objects whose docstrings are not skmeta's to fix, and attributes numpydoc
# cannot read:
numpydoc_validation_exclude = {
    # skorch's Callback, re-exported as is, and the hooks every callback
    # inherits from it or overrides (documented in skmeta.callbacks)
    r"^skmeta\.callbacks\.Callback$",
    r"^skmeta\.callbacks\.\w+\.(initialize|on_\w+)$",
    # methods inherited from scikit-learn with scikit-learn's docstrings
    r"\.get_n_splits$",
    r"^skmeta\.MetaPipeline\.named_steps$",
    # an optional attribute (None by default), documented with a "#:" comment
    r"^skmeta\.(EpisodeSampler|tasks\.TaskSampler|tasks\.SubsetSampler)\.sample_batch$",
}

# -- sphinx-gallery ----------------------------------------------------------


# Every build runs the examples (plot_gallery); SKMETA_EXAMPLES_FAST=1 in
# the environment makes them quick. A failing example fails the build.
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "plot_gallery": "True",
    "ignore_pattern": r"__init__\.py",
    "backreferences_dir": "generated/backreferences",
    "doc_module": ("skmeta",),
    "reference_url": {"skmeta": None},
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "remove_config_comments": True,
    "abort_on_example_error": False,
    "only_warn_on_example_error": False,
    "show_memory": False,
}

# -- linkcheck ---------------------------------------------------------------

# The build machines have no general internet access: external links are
# listed in docs/_build/linkcheck/output.json but not fetched. What the
# builder does check is every link to a local file written in the sources;
# links between the pages, with their anchors, are checked after each HTML
# build by skmeta_docs (check_internal_links).
# SKMETA_DOCS_LINKCHECK_EXTERNAL=1 fetches them too, where there is a network.
linkcheck_ignore = [] if os.environ.get("SKMETA_DOCS_LINKCHECK_EXTERNAL") else [r"https?://"]

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
