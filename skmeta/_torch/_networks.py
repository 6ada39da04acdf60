"""Default networks and the construction of user modules."""

import inspect

import torch
from torch import nn

__all__ = ["MLP", "build_module"]


class MLP(nn.Sequential):
    """Fully connected ReLU network: ``Linear -> ReLU -> ... [-> Linear]``.

    With ``out_features=None`` it ends with the last hidden activation and
    serves as an embedding (classifiers put a per-task head on top).
    """

    def __init__(self, in_features, out_features=None, hidden_layer_sizes=(40, 40)):
        layers, width = [], in_features
        for h in hidden_layer_sizes:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        if out_features is not None:
            layers.append(nn.Linear(width, out_features))
        super().__init__(*layers)


def build_module(module, module_kwargs, in_features, out_features, hidden_layer_sizes):
    """Build the network from the ``module`` parameter.

    ``None`` gives :class:`MLP`; a class is called with ``module__*`` keyword
    arguments, plus ``in_features``/``out_features`` when its constructor
    takes them and they were not given; an instance is used as it is (the
    caller passes a copy).
    """
    if module is None:
        return MLP(in_features, out_features, tuple(hidden_layer_sizes), **module_kwargs)
    if isinstance(module, nn.Module):
        if module_kwargs:
            raise ValueError(
                f"module__* parameters {sorted(module_kwargs)} need module to be a "
                "class, not an instance"
            )
        return module
    if isinstance(module, type) and issubclass(module, nn.Module):
        kwargs = dict(module_kwargs)
        sig = inspect.signature(module).parameters
        if "in_features" in sig:
            kwargs.setdefault("in_features", in_features)
        if "out_features" in sig and out_features is not None:
            kwargs.setdefault("out_features", out_features)
        return module(**kwargs)
    raise TypeError(
        f"module must be None, a torch.nn.Module class or instance; got {module!r}"
    )


def head_parameter_names(module):
    """Names of the parameters of the last module that owns parameters."""
    last = None
    for name, sub in module.named_modules():
        own = [n for n, _ in sub.named_parameters(recurse=False)]
        if own:
            last = [f"{name}.{n}" if name else n for n in own]
    if last is None:
        raise ValueError("the module has no parameters to adapt")
    return last


@torch.no_grad()
def output_shape(module, example):
    """Shape of one output row of ``module`` for an example input batch."""
    return tuple(module(example).shape[1:])
