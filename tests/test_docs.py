"""The public API is documented: every class and function has an Examples
section (numpydoc's docscrape reads it; pytest's ``--doctest-modules`` runs
it), and every public name has an entry in the API reference.

The full numpydoc validation of the rendered docstrings runs in the
documentation build (``make docs``, see docs/conf.py).
"""

import importlib
import inspect
import re
from pathlib import Path

import pytest
from numpydoc.docscrape import ClassDoc, FunctionDoc

# The packages and modules whose __all__ makes up the public API (the
# modules of the API reference). skmeta.base is left out: its classes are
# the machinery skmeta's own learners share, and their hooks use the
# private engine.
PUBLIC_MODULES = ["skmeta", "skmeta.algorithms", "skmeta.tasks", "skmeta.datasets",
                  "skmeta.model_selection", "skmeta.pipeline", "skmeta.callbacks",
                  "skmeta.exceptions", "skmeta.plotting"]

API_RST = Path(__file__).resolve().parents[1] / "docs" / "api.rst"


def _public_objects():
    """``(public name, object)`` of every class and function skmeta defines."""
    seen = {}
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            obj = getattr(module, name)
            if not (inspect.isclass(obj) or inspect.isfunction(obj)):
                continue  # __version__
            # re-exported from other libraries as they are (skorch's Callback)
            if not obj.__module__.startswith("skmeta"):
                continue
            seen.setdefault(id(obj), (f"{module_name}.{name}", obj))
    return sorted(seen.values(), key=lambda item: item[0])


PUBLIC = _public_objects()


def test_public_api_is_found():
    names = {name for name, _ in PUBLIC}
    assert {"skmeta.MAMLRegressor", "skmeta.Task", "skmeta.datasets.load_omniglot",
            "skmeta.model_selection.evaluate_tasks"} <= names
    assert len(PUBLIC) >= 30


@pytest.mark.parametrize("name, obj", PUBLIC, ids=[name for name, _ in PUBLIC])
def test_has_examples_section(name, obj):
    doc = ClassDoc(obj) if inspect.isclass(obj) else FunctionDoc(obj)
    examples = "\n".join(doc["Examples"])
    assert ">>>" in examples, f"{name} has no Examples section with a doctest"


def _api_reference_objects():
    """The objects that docs/api.rst lists in its autosummary tables."""
    objects, module = [], "skmeta"
    in_table = False
    for line in API_RST.read_text(encoding="utf-8").splitlines():
        if m := re.match(r"\.\. currentmodule:: (\S+)", line):
            module = m.group(1)
        elif line.startswith(".. autosummary::"):
            in_table = True
        elif in_table and (m := re.match(r"   ([\w.]+)$", line)):
            parts = f"{module}.{m.group(1)}".split(".")
            for i in range(len(parts), 0, -1):  # longest importable module
                try:
                    obj = importlib.import_module(".".join(parts[:i]))
                    break
                except ImportError:
                    continue
            for attr in parts[i:]:
                obj = getattr(obj, attr)
            objects.append(obj)
        elif in_table and line and not line.startswith("   "):
            in_table = False
    return objects


def test_every_public_name_is_in_the_api_reference():
    listed = {id(obj) for obj in _api_reference_objects()}
    missing = [name for name, obj in PUBLIC if id(obj) not in listed]
    assert not missing, f"not in docs/api.rst: {missing}"

