"""A stateless view of a network: forward pass, loss, per-task head, inner loop.

Weights are a flat ``name -> tensor`` dict. Names of the module's own
parameters are used as they are; per-task additions start with ``@``
(``@head.weight`` and ``@head.bias`` for a classification head,
``@pool.*`` for the fine-tune baseline's pooled head), so they never clash.
Every update makes a new dict: no ``.grad``, no in-place change, no optimizer.
"""

import torch
import torch.nn.functional as F
from torch.func import functional_call, grad

__all__ = ["FunctionalModel"]

HEAD = ("@head.weight", "@head.bias")


class FunctionalModel:
    """Forward, loss and adaptation of one network, as pure functions.

    Parameters
    ----------
    module : torch.nn.Module
        The architecture template; its parameters are not used after
        :meth:`initial_weights`.
    classifier : bool
        Classification: the module is an embedding, and each task gets a
        linear head over its own classes (see :meth:`task_weights`).
    head_init : {"proto", "zero"}
        Classification head of a new task: from the support set's class
        means (Proto-MAML, Triantafillou et al. 2020), or zeros.
    """

    def __init__(self, module, classifier, head_init="proto"):
        self.module = module
        self.classifier = classifier
        self.head_init = head_init
        self.buffers = dict(module.named_buffers())

    def initial_weights(self):
        return {k: v.detach().clone() for k, v in self.module.named_parameters()}

    def embed(self, w, x):
        body = {k: v for k, v in w.items() if k[0] != "@"}
        buffers = {k: b.to(x.dtype) if b.is_floating_point() else b
                   for k, b in self.buffers.items()}
        return functional_call(self.module, (body, buffers), (x,))

    def forward(self, w, x, head="@head"):
        out = self.embed(w, x)
        if self.classifier:
            out = out.flatten(1)
            out = out @ w[head + ".weight"].T + w[head + ".bias"]
        return out

    def loss(self, out, y):
        if self.classifier:
            return F.cross_entropy(out, y)
        return ((out - y) ** 2).mean()

    def task_weights(self, w, xs, ys, n_way):
        """Add the per-task head of a classification task to ``w``."""
        if not self.classifier:
            return w
        e = self.embed(w, xs).flatten(1)
        if self.head_init == "zero":
            W = e.new_zeros(n_way, e.shape[1])
            b = e.new_zeros(n_way)
        else:
            onehot = (ys[:, None] == torch.arange(n_way, device=ys.device)).to(e.dtype)
            protos = (onehot.T @ e) / onehot.sum(0).clamp_min(1)[:, None]
            W, b = 2 * protos, -(protos * protos).sum(1)
        return {**w, HEAD[0]: W, HEAD[1]: b}

    def adapt(self, w, xs, ys, n_way, steps, lr, adapt_keys=None, lrs=None,
              first_order=False):
        """Take ``steps`` gradient steps on the support set from ``w``.

        Parameters
        ----------
        w : dict
            Starting weights (meta-parameters).
        xs, ys : Tensor
            Support set of one task (``ys`` encoded 0..n_way-1 for classifiers).
        n_way : int
            Classes of the task (classifiers).
        steps : int
            Number of gradient steps.
        lr : float
            Step size, used where ``lrs`` has no entry.
        adapt_keys : callable or None
            ``adapt_keys(names) -> names`` to adapt; ``None`` adapts all.
        lrs : dict or None
            Per-parameter learned step sizes (Meta-SGD).
        first_order : bool
            Stop gradients through the inner gradients (FOMAML).

        Returns
        -------
        w : dict
            Adapted weights, including the task head for classifiers.
        """
        w = self.task_weights(w, xs, ys, n_way)
        keys = list(w) if adapt_keys is None else adapt_keys(list(w))

        def support_loss(fast, rest):
            return self.loss(self.forward({**rest, **fast}, xs), ys)

        for _ in range(steps):
            fast = {k: w[k] for k in keys}
            rest = {k: v for k, v in w.items() if k not in fast}
            g = grad(support_loss)(fast, rest)
            if first_order:
                g = {k: v.detach() for k, v in g.items()}
            step = {k: (lrs[k] if lrs is not None else lr) * g[k] for k in keys}
            w = {**w, **{k: w[k] - step[k] for k in keys}}
        return w
