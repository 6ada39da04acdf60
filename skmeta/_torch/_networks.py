"""Default networks and the construction of user modules."""

import contextlib
import copy
import inspect
import math
import threading

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["MLP", "Conv4", "TaskNorm", "build_module", "build_seeded", "reference_rows"]


class MLP(nn.Sequential):
    """Fully connected ReLU network: ``Linear -> ReLU -> ... [-> Linear]``.

    With ``out_features=None`` it ends with the last hidden activation and
    serves as an embedding (classifiers put a per-task head on top). Inputs
    of any shape ``(n, ...)`` are flattened first.
    """

    def __init__(self, in_features, out_features=None, hidden_layer_sizes=(40, 40)):
        layers, width = [], in_features
        for h in hidden_layer_sizes:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        if out_features is not None:
            layers.append(nn.Linear(width, out_features))
        super().__init__(*layers)

    def forward(self, x):
        return super().forward(x.flatten(1))


class TaskNorm(nn.Module):
    """Batch normalisation with the statistics of one task's reference rows.

    Like ``BatchNorm2d`` without running statistics: each call normalises
    with per-channel statistics of the batch it is given, so under ``vmap``
    every task uses its own. Inside :func:`reference_rows` only the first
    ``n`` rows (a task's support set) give the statistics, which are then
    applied to every row: a prediction never depends on the other query rows
    it is predicted with.
    """

    def __init__(self, num_features, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(num_features))
        self.bias = nn.Parameter(torch.zeros(num_features))
        self.n_ref = None
        self.rows = None
        self.exact = False

    def forward(self, x):
        if self.n_ref is None and self.rows is None and not self.exact:
            return F.batch_norm(x, None, None, self.weight, self.bias, True, 0.0, self.eps)
        # elementary ops: the batched double backward of the native kernel under
        # vmap is wrong (second-order MAML meta-gradients differed from a
        # per-task loop; pytorch/functorch#534), so exact mode uses these
        dims = [0] + list(range(2, x.dim()))
        if self.rows is not None:  # statistics of the rows with weight 1 (padded tasks)
            r = self.rows.to(x.dtype).reshape([-1] + [1] * (x.dim() - 1))
            count = r.sum() * (x[0, 0].numel())
            mean = (x * r).sum(dims, keepdim=True) / count
            var = (((x - mean) ** 2) * r).sum(dims, keepdim=True) / count
        else:
            ref = x if self.n_ref is None else x[:self.n_ref]
            var, mean = torch.var_mean(ref, dim=dims, keepdim=True, correction=0)
        shape = [1, -1] + [1] * (x.dim() - 2)
        scale = torch.rsqrt(var + self.eps) * self.weight.view(shape)
        return torch.addcmul(self.bias.view(shape) - mean * scale, x, scale)  # one pass


@contextlib.contextmanager
def _task_norm_mode(module, **mode):
    """Within the block, every :class:`TaskNorm` of ``module`` has the attributes
    ``mode``; the previous values come back afterwards, also on an error."""
    norms = [m for m in module.modules() if isinstance(m, TaskNorm)]
    old = [{k: getattr(m, k) for k in mode} for m in norms]
    for m in norms:
        for k, v in mode.items():
            setattr(m, k, v)
    try:
        yield
    finally:
        for m, o in zip(norms, old):
            for k, v in o.items():
                setattr(m, k, v)


def reference_rows(module, n=None, rows=None):
    """Within the block, :class:`TaskNorm` layers take statistics from the first
    ``n`` rows, or from the rows whose weight in the 0/1 vector ``rows`` is 1."""
    return _task_norm_mode(module, n_ref=n, rows=rows)


def exact_batch_norm(module):
    """Within the block, :class:`TaskNorm` layers avoid the native batch-norm
    kernel, whose batched double backward is wrong (second order under vmap)."""
    return _task_norm_mode(module, exact=True)


def has_task_norm(module):
    return any(isinstance(m, TaskNorm) for m in module.modules())


class Conv4(nn.Module):
    """The standard few-shot image embedding (Vinyals et al. 2016; Snell et al. 2017).

    ``n_blocks`` blocks of 3x3 convolution with ``channels`` filters, batch
    normalisation with per-task statistics (:class:`TaskNorm`), ReLU and 2x2
    max-pooling, then flattened. Inputs are ``(n, H, W)``, ``(n, C, H, W)`` or ``(n, H, W, C)``
    images, or flat rows of ``prod(image_shape)`` values.

    Parameters
    ----------
    input_shape : tuple
        Shape of one input row as given (``(H, W)``, ``(C, H, W)`` or ``(d,)``).
    image_shape : tuple or None
        ``(H, W)`` or ``(C, H, W)`` of flat inputs; needed when rows are flat.
    channels : int
        Filters per convolution.
    n_blocks : int
        Number of blocks.
    channels_last : bool or None
        Whether 3-D images are ``(H, W, C)`` (as PIL and matplotlib give them)
        rather than ``(C, H, W)``; ``None`` detects it where only one end of
        the shape can be a channel axis (1 to 4 values) and raises a
        ``ValueError`` asking for it where both can.
    """

    def __init__(self, input_shape, image_shape=None, channels=64, n_blocks=4,
                 channels_last=None):
        super().__init__()
        shape = tuple(image_shape) if image_shape is not None else tuple(input_shape)
        if image_shape is not None and math.prod(image_shape) != math.prod(input_shape):
            raise ValueError(
                f"module__image_shape={tuple(image_shape)} has {math.prod(image_shape)} "
                f"values; the rows have shape {tuple(input_shape)}"
            )
        if len(shape) not in (2, 3):
            raise ValueError(
                f"module='conv4' needs images: rows of shape (H, W), (C, H, W) or "
                f"(H, W, C), or flat rows with module__image_shape; got rows of shape "
                f"{tuple(input_shape)}"
            )
        self.given_shape = shape
        self.channels_last = len(shape) == 3 and _is_channels_last(shape, channels_last)
        if len(shape) == 2:
            shape = (1,) + shape
        elif self.channels_last:
            shape = (shape[2], shape[0], shape[1])
        self.image_shape = shape
        layers, width = [], shape[0]
        for _ in range(n_blocks):
            layers += [nn.Conv2d(width, channels, 3, padding=1), TaskNorm(channels),
                       nn.ReLU(), nn.MaxPool2d(2, ceil_mode=True)]
            width = channels
        # channels-last weights make CPU convolutions (oneDNN) run channels-last,
        # their fast layout, also on inputs inside vmap (which cannot re-layout)
        self.blocks = nn.Sequential(*layers).to(memory_format=torch.channels_last)

    def forward(self, x):
        if self.channels_last:
            x = x.reshape((x.shape[0],) + self.given_shape).permute(0, 3, 1, 2)
        else:
            x = x.reshape((x.shape[0],) + self.image_shape)
        return self.blocks(x).flatten(1)


#: Channel counts that make an axis of a 3-D image shape look like channels.
_CHANNEL_COUNTS = (1, 2, 3, 4)


def _is_channels_last(shape, channels_last):
    """Whether a 3-D image shape is ``(H, W, C)`` (PIL, matplotlib) rather than
    ``(C, H, W)`` (torch). ``None`` detects it where only one end of the shape
    looks like a channel axis, and asks where both do."""
    if channels_last is not None:
        return bool(channels_last)
    first, last = shape[0] in _CHANNEL_COUNTS, shape[2] in _CHANNEL_COUNTS
    if first and last:
        raise ValueError(
            f"images of shape {shape} may be (C, H, W) or (H, W, C); pass "
            "module__channels_last=True for (H, W, C) or False for (C, H, W)"
        )
    return last


def build_module(module, module_kwargs, in_features, out_features, hidden_layer_sizes,
                 input_shape=None):
    """Build the network from the ``module`` parameter.

    ``None`` gives :class:`MLP`, ``"conv4"`` gives :class:`Conv4`; a class
    is called with ``module__*`` keyword arguments, plus
    ``in_features``/``out_features`` when its constructor takes them and they
    were not given; an instance is used as it is (the caller passes a copy).
    """
    if module is None:
        return MLP(in_features, out_features, tuple(hidden_layer_sizes), **module_kwargs)
    if isinstance(module, str):
        if module != "conv4":
            raise ValueError(f"module must be None, 'conv4' or a torch.nn.Module; got {module!r}")
        body = Conv4(input_shape, **module_kwargs)
        if out_features is None:
            return body
        with torch.no_grad():
            width = body(torch.zeros((2,) + tuple(input_shape))).shape[1]
        return nn.Sequential(body, nn.Linear(width, out_features))
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


def init_parameters(module, generator):
    """Draw the parameters of a default network from ``generator``, as torch's
    own initialisation does (kaiming-uniform weights, uniform biases of bound
    ``1/sqrt(fan_in)``; TaskNorm scales 1 and shifts 0)."""
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, (nn.Linear, nn.Conv2d)):
                nn.init.kaiming_uniform_(m.weight, a=math.sqrt(5), generator=generator)
                fan_in = nn.init._calculate_fan_in_and_fan_out(m.weight)[0]
                bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
                nn.init.uniform_(m.bias, -bound, bound, generator=generator)
            elif isinstance(m, TaskNorm):
                m.weight.fill_(1.0)
                m.bias.zero_()


#: User module constructors draw from torch's global generator; they run one
#: at a time under this lock, with the generator seeded and then restored.
_GLOBAL_RNG_LOCK = threading.Lock()


def build_seeded(module, module_kwargs, in_features, out_features, hidden_layer_sizes,
                 input_shape, device, seed):
    """:func:`build_module` on ``device``, reproducible from ``seed`` in any thread.

    The default networks (``None``, ``"conv4"``) are built without drawing
    anything (on the meta device) and initialised from a ``torch.Generator``
    of their own, so a fit never reads or changes torch's global generator.
    A user's module class is constructed with the global generator seeded
    under a process-wide lock (its constructor draws from it) and restored
    afterwards; an instance is copied.
    """
    args = (module_kwargs, in_features, out_features, hidden_layer_sizes, input_shape)
    if module is None or isinstance(module, str):
        with torch.device("meta"):
            net = build_module(module, *args)
        net = net.to_empty(device=device)
        init_parameters(net, torch.Generator(device=device).manual_seed(seed))
        return net
    if isinstance(module, nn.Module):
        return build_module(copy.deepcopy(module), *args).to(device)
    with _GLOBAL_RNG_LOCK, torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build_module(module, *args).to(device)
