"""Imports the peers of ``bench_peers.py`` beside torch 2.13.0, with two workarounds.

* **torchvision**: PyPI's torchvision 0.28.0 wheel is the CUDA 13 build; its
  ``_C`` extension needs ``libtorch_cuda.so``, so with the CPU build of torch it
  does not load, and ``import torchvision`` then fails with ``RuntimeError:
  operator torchvision::nms does not exist`` (``_meta_registrations`` registers
  fake kernels for ``nms`` and ``qnms`` whether or not the extension loaded).
  Where that happens, :func:`import_torchvision` declares those two operator
  schemas (no kernels) and imports again: the Python side of torchvision
  (datasets, transforms, models) works, its C++ operators do not. learn2learn
  and torchmeta import torchvision at import time but none of its operators
  is used by their MAML, Meta-SGD or MetaModule code.
* **torchmeta 1.8.0** imports ``_get_confirm_token`` and
  ``_save_response_content`` from ``torchvision.datasets.utils`` (Google Drive
  downloads), private helpers that torchvision has since removed; stand-ins
  that raise if called are put there before torchmeta is imported.

Run ``python benchmarks/peers/_compat.py`` in the peers' environment to check
that every peer imports.
"""

import contextlib
import importlib
import io
import sys
from importlib import metadata

__all__ = ["import_torchvision", "import_peers"]

_SCHEMAS = ("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
            "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
_LIBRARIES = []  # the torch.library.Library objects must stay alive


def import_torchvision():
    """``import torchvision``, declaring the ``nms``/``qnms`` schemas its CUDA
    wheel cannot provide on a CPU build of torch. Returns the module and
    whether the workaround was needed."""
    import torch

    try:
        return importlib.import_module("torchvision"), False
    except RuntimeError as exc:
        if "torchvision::nms" not in str(exc):
            raise
    for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
        del sys.modules[name]  # the half-imported package
    lib = torch.library.Library("torchvision", "DEF")
    for schema in _SCHEMAS:
        lib.define(schema)
    _LIBRARIES.append(lib)
    return importlib.import_module("torchvision"), True


def _missing(*args, **kwargs):
    raise RuntimeError("removed from torchvision; torchmeta's Google Drive downloads do "
                       "not work with this torchvision")


def import_peers():
    """``{name: module or the reason it is missing}`` for every peer, and notes
    on the workarounds used."""
    peers, notes = {}, []
    try:
        tv, shimmed = import_torchvision()
        if shimmed:
            notes.append(f"torchvision {tv.__version__}: its C++ extension does not load "
                         "beside this torch; nms/qnms schemas declared, no operators")
        utils = importlib.import_module("torchvision.datasets.utils")
        for name in ("_get_confirm_token", "_save_response_content"):
            if not hasattr(utils, name):
                setattr(utils, name, _missing)
                if name == "_get_confirm_token":
                    notes.append("torchvision.datasets.utils: stand-ins for two private "
                                 "helpers torchmeta 1.8.0 imports")
    except Exception as exc:  # learn2learn and torchmeta will say why they fail
        notes.append(f"torchvision: {type(exc).__name__}: {exc}")
    for name in ("learn2learn", "higher", "torchopt", "torchmeta"):
        try:
            # learn2learn imports gym, which prints a notice that it is unmaintained
            with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(
                    io.StringIO()):
                peers[name] = importlib.import_module(name)
        except Exception as exc:
            peers[name] = f"{type(exc).__name__}: {exc}"
    return peers, notes


def versions(peers):
    """Installed versions of the peers that imported (``None`` for the others)."""
    out = {}
    for name, mod in peers.items():
        try:
            out[name] = None if isinstance(mod, str) else metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = getattr(mod, "__version__", "?")
    return out


if __name__ == "__main__":
    import torch

    peers, notes = import_peers()
    print(f"torch {torch.__version__}")
    for name, version in versions(peers).items():
        print(f"{name:12s} {version or 'MISSING (' + peers[name] + ')'}")
    for n in notes:
        print("note:", n)
    sys.exit(1 if any(isinstance(m, str) for m in peers.values()) else 0)
