"""Array/tensor/device conversion and device-aware pickling, private to skmeta."""

import copy
import warnings

import numpy as np
import torch

__all__ = ["resolve_device", "as_tensor", "to_numpy", "state_to_cpu", "state_to_device"]


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


#: Fitted attributes holding tensor pytrees, moved to the CPU for pickling.
_TENSOR_STATE = ("meta_params_", "adapted_")


def _tree_to(tree, device):
    from torch.utils._pytree import tree_map
    return tree_map(lambda t: t.detach().to(device) if isinstance(t, torch.Tensor) else t, tree)


def state_to_cpu(state):
    """An estimator's ``__dict__`` made device-free for pickling: tensors on the
    CPU, the module copied to the CPU, the optimizer as its state dict."""
    state = dict(state)
    for key in _TENSOR_STATE:
        if key in state:
            state[key] = _tree_to(state[key], "cpu")
    if "module_" in state:
        state["module_"] = copy.deepcopy(state["module_"]).to("cpu")
    if "optimizer_" in state:
        state["optimizer_"] = _tree_to(state["optimizer_"].state_dict(), "cpu")
    if "device_" in state:
        state["device_"] = str(state["device_"])
    return state


def state_to_device(state, name):
    """The inverse of :func:`state_to_cpu`, on the device the estimator was
    fitted on, or on the CPU with a warning where that GPU is absent (the
    optimizer stays a state dict for the estimator to rebuild)."""
    state = dict(state)
    if "device_" not in state:
        return state
    device = torch.device(state["device_"])
    if device.type == "cuda" and not torch.cuda.is_available():
        warnings.warn(f"this {name} was fitted on {device} but no GPU is available; "
                      "loading it on the CPU", UserWarning)
        device = torch.device("cpu")
    state["device_"] = device
    for key in _TENSOR_STATE:
        if key in state:
            state[key] = _tree_to(state[key], device)
    if "module_" in state:
        state["module_"] = state["module_"].to(device)
    return state
