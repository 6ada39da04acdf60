"""A stateless view of a network: forward pass, loss, per-task head, inner loop.

Weights are a flat ``name -> tensor`` dict. Names of the module's own
parameters are used as they are; per-task additions start with ``@``
(``@head.weight`` and ``@head.bias`` for a classification head,
``@pool.*`` for the fine-tune baseline's pooled head, ``@scale`` for the
temperature of cosine heads, ``@support`` for the support rows whose
statistics :class:`~skmeta._torch._networks.TaskNorm` layers use), so they
never clash.
Every update makes a new dict: no ``.grad``, no in-place change, no optimizer.
"""

import torch
import torch.nn.functional as F
from torch.func import functional_call, grad

from ._networks import has_task_norm, reference_rows

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
    head_init : {"proto", "zero", "cosine"}
        Classification head of a new task: from the support set's class
        means (Proto-MAML, Triantafillou et al. 2020; the logits are then
        negative squared Euclidean distances to the class means up to a
        per-row constant), zeros, or cosine similarity to the class means of
        unit-normalised embeddings times the learned ``@scale``.
    """

    def __init__(self, module, classifier, head_init="proto"):
        self.module = module
        self.classifier = classifier
        self.head_init = head_init
        self.buffers = dict(module.named_buffers())
        self.task_norm = has_task_norm(module)

    def initial_weights(self):
        return {k: v.detach().clone() for k, v in self.module.named_parameters()}

    def embed(self, w, x, n_ref=None):
        """The module's output for rows ``x``; with ``n_ref``, batch norm
        statistics come from the first ``n_ref`` rows only."""
        body = {k: v for k, v in w.items() if k[0] != "@"}
        buffers = {k: b.to(x.dtype) if b.is_floating_point() else b
                   for k, b in self.buffers.items()}
        if n_ref is None or not self.task_norm:
            return functional_call(self.module, (body, buffers), (x,))
        with reference_rows(self.module, n_ref):
            return functional_call(self.module, (body, buffers), (x,))

    def features(self, w, x, n_ref=None):
        """Embedding rows of ``x`` for a head: flattened, unit-normalised for cosine
        heads; batch norm uses the statistics of ``w["@support"]`` where stored,
        else of the first ``n_ref`` rows, else of all rows."""
        if self.task_norm and "@support" in w:
            ref = w["@support"]
            out = self.embed(w, torch.cat([ref.to(x.dtype), x]), n_ref=len(ref))[len(ref):]
        else:
            out = self.embed(w, x, n_ref)
        if self.classifier:
            out = out.flatten(1)
            if self.head_init == "cosine":
                out = F.normalize(out, dim=1)
        return out

    def forward(self, w, x, head="@head"):
        out = self.features(w, x)
        if self.classifier:
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
        return {**w, **self.head(w, self.features(w, xs), ys, n_way)}

    def head(self, w, e, ys, n_way):
        """The head over class means of support embeddings ``e``."""
        if self.head_init == "zero":
            return {HEAD[0]: e.new_zeros(n_way, e.shape[1]), HEAD[1]: e.new_zeros(n_way)}
        onehot = (ys[:, None] == torch.arange(n_way, device=ys.device)).to(e.dtype)
        protos = (onehot.T @ e) / onehot.sum(0).clamp_min(1)[:, None]
        if self.head_init == "cosine":
            return {HEAD[0]: w["@scale"] * F.normalize(protos, dim=1),
                    HEAD[1]: e.new_zeros(n_way)}
        return {HEAD[0]: 2 * protos, HEAD[1]: -(protos * protos).sum(1)}

    def adapt(self, w, xs, ys, n_way, steps, lr, adapt_keys=None, lrs=None,
              first_order=False, optimizer="sgd"):
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
        optimizer : {"sgd", "adam"}
            Plain gradient steps, or Adam with ``betas=(0, 0.999)`` as in
            Reptile (Nichol et al. 2018), its state starting afresh per task.

        Returns
        -------
        w : dict
            Adapted weights, including the task head for classifiers.
        """
        w = self.task_weights(w, xs, ys, n_way)
        keys = list(w) if adapt_keys is None else adapt_keys(list(w))

        def support_loss(fast, rest):
            return self.loss(self.forward({**rest, **fast}, xs), ys)

        v = {}
        for t in range(1, steps + 1):
            fast = {k: w[k] for k in keys}
            rest = {k: v for k, v in w.items() if k not in fast}
            g = grad(support_loss)(fast, rest)
            if first_order:
                g = {k: v.detach() for k, v in g.items()}
            if optimizer == "adam":  # beta1 = 0: the first moment is the gradient
                v = {k: 0.999 * v.get(k, 0.0) + 0.001 * g[k] * g[k] for k in keys}
                g = {k: g[k] / ((v[k] / (1 - 0.999 ** t)).sqrt() + 1e-8) for k in keys}
            step = {k: (lrs[k] if lrs is not None else lr) * g[k] for k in keys}
            w = {**w, **{k: w[k] - step[k] for k in keys}}
        return self.with_support(w, xs)

    def with_support(self, w, xs):
        """``w`` plus the support rows, where batch norm needs their statistics."""
        return {**w, "@support": xs} if self.task_norm else w
