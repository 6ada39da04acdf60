"""Array/tensor/device conversion and seeding, private to skmeta."""

import contextlib

import numpy as np
import torch

__all__ = ["resolve_device", "as_tensor", "seeded", "to_numpy"]


def resolve_device(device):
    """Turn the ``device`` parameter into a :class:`torch.device`, or raise."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(
            f"device={device!r} is not a device; use 'cpu', 'cuda', 'cuda:N' or 'auto'"
        ) from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} but no CUDA GPU is available; use device='cpu' or 'auto'"
        )
    if dev.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"device={device!r} is not supported; use 'cpu', 'cuda' or 'auto'")
    return dev


def as_tensor(a, device, dtype=torch.float32):
    """A numpy array (or tensor) as a tensor on ``device``."""
    if isinstance(a, torch.Tensor):
        return a.to(device=device, dtype=dtype)
    a = np.asarray(a)
    if not a.flags.writeable:  # torch does not wrap read-only memory
        a = a.copy()
    a = np.ascontiguousarray(a)  # nor negative strides (reversed views)
    return torch.as_tensor(a, dtype=dtype, device=device)


def to_numpy(t):
    """A tensor as a numpy array on the CPU."""
    return t.detach().cpu().numpy()


@contextlib.contextmanager
def seeded(seed, device):
    """Run a block with torch's global generators seeded, then restore them.

    Module constructors and dropout draw from torch's global generators; this
    makes them reproducible without changing the caller's random state.
    """
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield
