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
from torch.func import functional_call, grad_and_value

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

    def embed(self, w, x, n_ref=None, rows=None):
        """The module's output for rows ``x``; batch norm statistics come from
        the first ``n_ref`` rows, or from the rows weighted 1 in ``rows``."""
        body = {k: v for k, v in w.items() if k[0] != "@"}
        buffers = {k: b.to(x.dtype) if b.is_floating_point() else b
                   for k, b in self.buffers.items()}
        if (n_ref is None and rows is None) or not self.task_norm:
            return functional_call(self.module, (body, buffers), (x,))
        with reference_rows(self.module, n_ref, rows):
            return functional_call(self.module, (body, buffers), (x,))

    def features(self, w, x, n_ref=None, rows=None):
        """Embedding rows of ``x`` for a head: flattened, unit-normalised for cosine
        heads; batch norm uses the statistics of ``w["@support"]`` where stored,
        else of the first ``n_ref`` rows (or the rows weighted 1 in ``rows``),
        else of all rows."""
        if self.task_norm and "@support" in w:
            ref = w["@support"]
            both = torch.cat([ref.to(x.dtype), x])
            if "@support_mask" in w:  # a padded support set
                rows = torch.cat([w["@support_mask"], x.new_zeros(len(x))])
                out = self.embed(w, both, rows=rows)[len(ref):]
            else:
                out = self.embed(w, both, n_ref=len(ref))[len(ref):]
        else:
            out = self.embed(w, x, n_ref, rows)
        if self.classifier:
            out = out.flatten(1)
            if self.head_init == "cosine":
                out = F.normalize(out, dim=1)
        return out

    def forward(self, w, x, head="@head", rows=None):
        out = self.features(w, x, rows=rows)
        if self.classifier:
            out = out @ w[head + ".weight"].T + w[head + ".bias"]
        return out

    def loss(self, out, y, mask=None):
        """Mean loss over the rows (over the rows with ``mask`` 1 where given)."""
        if self.classifier:
            per_row = F.cross_entropy(out, y, reduction="none" if mask is not None else "mean")
        else:
            per_row = ((out - y) ** 2).mean() if mask is None else ((out - y) ** 2).mean(1)
        if mask is None:
            return per_row
        return (per_row * mask).sum() / mask.sum()

    def task_weights(self, w, xs, ys, n_way, mask=None):
        """Add the per-task head of a classification task to ``w``."""
        if not self.classifier:
            return w
        return {**w, **self.head(w, self.features(w, xs, rows=mask), ys, n_way, mask)}

    def head(self, w, e, ys, n_way, mask=None):
        """The head over class means of support embeddings ``e`` (rows with
        ``mask`` 1 where given). Classes without support rows (padding of a
        task with fewer classes than its meta-batch) get a bias of -1e9, so
        their softmax probability is exactly 0."""
        onehot = (ys[:, None] == torch.arange(n_way, device=ys.device)).to(e.dtype)
        if mask is not None:
            onehot = onehot * mask[:, None]
        counts = onehot.sum(0)
        absent = (counts == 0).to(e.dtype) * -1e9
        if self.head_init == "zero":
            return {HEAD[0]: e.new_zeros(n_way, e.shape[1]), HEAD[1]: absent}
        protos = (onehot.T @ e) / counts.clamp_min(1)[:, None]
        if self.head_init == "cosine":
            return {HEAD[0]: w["@scale"] * F.normalize(protos, dim=1), HEAD[1]: absent}
        return {HEAD[0]: 2 * protos, HEAD[1]: absent - (protos * protos).sum(1)}

    def adapt(self, w, xs, ys, n_way, steps, rule, theta=None, adapt_keys=None,
              first_order=False, mask=None, safeguard=False):
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
        rule : UpdateRule
            Turns gradients into steps (:mod:`skmeta._torch._rules`).
        theta : dict or None
            The meta-parameters, for rules that learn their own state.
        adapt_keys : callable or None
            ``adapt_keys(names) -> names`` to adapt; ``None`` adapts all.
        first_order : bool
            Stop gradients through the inner gradients (FOMAML).
        mask : Tensor or None
            Row mask of a padded support set.
        safeguard : bool
            Return the weights of lowest support loss met along the steps (the
            starting weights included), so that adaptation never increases
            the support loss: a step that overshoots (too large a learned or
            given step size for this task) is not kept. Not for meta-training,
            whose gradient is that of the plain steps.

        Returns
        -------
        w : dict
            Adapted weights, including the task head for classifiers.
        """
        w = self.task_weights(w, xs, ys, n_way, mask)
        keys = list(w) if adapt_keys is None else adapt_keys(list(w))

        def support_loss(fast, rest):
            return self.loss(self.forward({**rest, **fast}, xs, rows=mask), ys, mask)

        state, best = rule.init_state(keys), None
        for t in range(1, steps + 1):
            fast = {k: w[k] for k in keys}
            rest = {k: v for k, v in w.items() if k not in fast}
            g, loss = grad_and_value(support_loss)(fast, rest)
            if safeguard:
                best = self._keep_best(best, fast, loss)
            if first_order:
                g = {k: v.detach() for k, v in g.items()}
            delta, state = rule.step(g, state, t, theta)
            w = {**w, **{k: w[k] - delta[k] for k in keys}}
        if safeguard and steps:
            fast = {k: w[k] for k in keys}
            rest = {k: v for k, v in w.items() if k not in fast}
            best = self._keep_best(best, fast, support_loss(fast, rest))
            w = {**w, **best[0]}
        return self.with_support(w, xs, mask)

    @staticmethod
    def _keep_best(best, fast, loss):
        """``(weights, loss)`` of the lower support loss (a non-finite loss
        never wins); ``torch.where``, so it works under ``vmap``."""
        loss = torch.where(torch.isfinite(loss), loss, torch.full_like(loss, float("inf")))
        if best is None:
            return fast, loss
        better = loss < best[1]
        return ({k: torch.where(better, v, best[0][k]) for k, v in fast.items()},
                torch.where(better, loss, best[1]))

    def with_support(self, w, xs, mask=None):
        """``w`` plus the support rows (and their mask), where batch norm needs
        their statistics."""
        if not self.task_norm:
            return w
        return {**w, "@support": xs, **({} if mask is None else {"@support_mask": mask})}
