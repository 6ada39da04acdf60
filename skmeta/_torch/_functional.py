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

import functools

import torch
import torch.nn.functional as F
from torch.func import functional_call, grad_and_value, vjp, vmap
from torch.utils._pytree import tree_flatten, tree_unflatten

from ._networks import exact_batch_norm, has_task_norm, reference_rows

__all__ = ["FunctionalModel", "recompute_in_backward"]

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
              first_order=False, mask=None, safeguard=False, recompute=None):
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
        recompute : int or None
            Differentiated through (second order, not ``first_order``), keep
            only the weights after every ``recompute`` steps and recompute
            the steps in between in the backward pass
            (:func:`recompute_in_backward`): memory of one segment of steps
            instead of all of them, for the same gradient. ``None`` keeps
            everything. Ignored with ``first_order`` or ``safeguard``.

        Returns
        -------
        w : dict
            Adapted weights, including the task head for classifiers.
        """
        w = self.task_weights(w, xs, ys, n_way, mask)
        keys = list(w) if adapt_keys is None else adapt_keys(list(w))
        fast = {k: w[k] for k in keys}
        rest = {k: v for k, v in w.items() if k not in fast}
        # the rule's own meta-parameters (Meta-SGD's step sizes), never the weights
        hyper = None if theta is None else {k: v for k, v in theta.items() if k != "w"}
        carry, data = (fast, rule.init_state(keys), rest, hyper), (xs, ys, mask)
        if recompute and steps and not first_order and not safeguard:
            for t0 in range(0, steps, recompute):
                segment = functools.partial(self._segment, rule, t0, min(recompute, steps - t0))
                carry = (*recompute_in_backward(segment, carry, data), rest, hyper)
            fast = carry[0]
        else:
            fast, _, best = self._steps(rule, first_order, 0, steps, carry, data, safeguard)
        if safeguard and steps:
            best = self._keep_best(best, fast, self._support_loss(fast, rest, xs, ys, mask))
            fast = best[0]
        return self.with_support({**rest, **fast}, xs, mask)

    def _support_loss(self, fast, rest, xs, ys, mask):
        return self.loss(self.forward({**rest, **fast}, xs, rows=mask), ys, mask)

    def _steps(self, rule, first_order, t0, n, carry, data, safeguard=False):
        """Steps ``t0 + 1 .. t0 + n`` of :meth:`adapt` from ``carry = (fast,
        state, rest, hyper)``: ``(fast, state, best)``, the adapted weights,
        the rule's state after them and, with ``safeguard``, the weights of
        lowest support loss met before the last step."""
        fast, state, rest, hyper = carry
        xs, ys, mask = data
        best = None
        for t in range(t0 + 1, t0 + n + 1):
            g, loss = grad_and_value(self._support_loss)(fast, rest, xs, ys, mask)
            if safeguard:
                best = self._keep_best(best, fast, loss)
            if first_order:
                g = {k: v.detach() for k, v in g.items()}
            delta, state = rule.step(g, state, t, hyper)
            fast = {k: fast[k] - delta[k] for k in fast}
        return fast, state, best

    def _segment(self, rule, t0, n, carry, data):
        """``(fast, state)`` after second-order steps ``t0 + 1 .. t0 + n``: a
        pure function of its tensor arguments, which
        :func:`recompute_in_backward` runs again in the backward pass, then
        outside the engine's ``vmap`` context; batch norm is put in the mode
        whose batched double backward is right here, not by that context."""
        with exact_batch_norm(self.module):
            fast, state, _ = self._steps(rule, False, t0, n, carry, data)
        return fast, state

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


class _Recompute(torch.autograd.Function):
    """``fn(*diff, *const)`` whose backward pass runs ``fn`` again.

    The forward keeps the inputs only; the backward recomputes ``fn`` under
    :func:`torch.func.vjp` and pulls the output cotangents back to the
    first ``n_diff`` inputs. ``torch.utils.checkpoint`` would do the same,
    but its saved-tensor hooks are refused inside ``torch.func`` transforms
    (torch 2.13); an ``autograd.Function`` with ``setup_context`` composes
    with the engine's ``grad`` over ``vmap``.

    Under ``vmap`` (:meth:`vmap`), the Function is applied once more to the
    whole batch with ``fn`` vmapped, so the backward differentiates
    ``vmap(fn)`` as the engine's plain path does. A generated vmap rule
    would differentiate inside ``vmap`` instead, which the channels-last
    convolutions of conv4 do not support (torch 2.13).
    """

    @staticmethod
    def forward(fn, n_diff, *tensors):
        return fn(*tensors)

    @staticmethod
    def vmap(info, in_dims, fn, n_diff, *tensors):
        batched = vmap(fn, in_dims=in_dims[2:], out_dims=0, randomness=info.randomness)
        out = _Recompute.apply(batched, n_diff, *tensors)
        return out, (0,) * len(out)

    @staticmethod
    def setup_context(ctx, inputs, output):
        fn, n_diff, *tensors = inputs
        ctx.fn, ctx.n_diff = fn, n_diff
        ctx.save_for_backward(*tensors)

    @staticmethod
    def backward(ctx, *cotangents):
        tensors, n = ctx.saved_tensors, ctx.n_diff

        def diff_part(*diff):
            return ctx.fn(*diff, *tensors[n:])

        _, pull = vjp(diff_part, *tensors[:n])
        return (None, None, *pull(cotangents), *(None,) * (len(tensors) - n))


_TENSOR = object()  # marks where an output tensor goes back into its pytree


def recompute_in_backward(fn, diff, const):
    """``fn(diff, const)`` without keeping its intermediate values.

    Activation checkpointing that composes with ``torch.func.grad`` and
    ``vmap``: the forward pass keeps only the inputs, and the backward pass
    runs ``fn`` again to differentiate it. The gradient is the same as
    without recomputing (up to floating-point reordering); ``fn`` must be
    deterministic (no dropout) and a pure function of its arguments (no
    tensors from an enclosing scope).

    Parameters
    ----------
    fn : callable
        ``fn(diff, const) -> out``, pytrees of tensors (other leaves are
        passed through as constants).
    diff : pytree
        Inputs the gradient flows to (its floating-point tensors).
    const : pytree
        Inputs that get no gradient (data, masks, integer labels).

    Returns
    -------
    out : pytree
        ``fn(diff, const)``, differentiable with respect to ``diff``.
    """
    leaves, spec = tree_flatten((diff, const))
    n_diff_leaves = len(tree_flatten(diff)[0])
    # the Function's inputs: the floating tensors of ``diff`` (differentiated),
    # then every other tensor; leaves that are no tensors ride in the closure
    is_diff = [i < n_diff_leaves and isinstance(t, torch.Tensor) and t.is_floating_point()
               for i, t in enumerate(leaves)]
    is_other = [isinstance(t, torch.Tensor) and not d for t, d in zip(leaves, is_diff)]
    inputs = ([t for t, d in zip(leaves, is_diff) if d]
              + [t for t, o in zip(leaves, is_other) if o])
    n_diff = sum(is_diff)
    out_info = []

    def flat(*tensors):
        d_it, o_it = iter(tensors[:n_diff]), iter(tensors[n_diff:])
        args = tree_unflatten([next(d_it) if d else next(o_it) if o else t
                               for t, d, o in zip(leaves, is_diff, is_other)], spec)
        out, out_spec = tree_flatten(fn(*args))
        # tensors leave through the Function; anything else (a None state) aside
        out_info[:] = [out_spec, [_TENSOR if isinstance(t, torch.Tensor) else t for t in out]]
        return tuple(t for t in out if isinstance(t, torch.Tensor))

    outs = iter(_Recompute.apply(flat, n_diff, *inputs))
    out_spec, kept = out_info
    return tree_unflatten([next(outs) if t is _TENSOR else t for t in kept], out_spec)
