"""The meta-training engine: the only outer loop of skmeta.

Each gradient-based algorithm supplies a small step object (a subclass of
:class:`MetaStep`): its meta-parameters, its per-task loss and, where the
outer update is not the gradient of that loss (Reptile), its outer
direction. The engine draws meta-batches, computes the outer gradient with
``vmap`` over the tasks of each equal-shape group, applies the outer
optimizer, records the history, runs callbacks and stops on divergence.
"""

import contextlib
import math
import time
import warnings
from functools import partial

import torch
from torch.func import grad_and_value, vmap
from torch.utils._pytree import tree_flatten, tree_map
from tqdm.auto import tqdm

from ._networks import exact_batch_norm

__all__ = ["MetaStep", "train", "MetaTrainingDiverged"]


class MetaTrainingDiverged(FloatingPointError):
    """Meta-training produced a non-finite loss or gradient."""


class MetaStep:
    """Base of the algorithms' step objects.

    Parameters
    ----------
    model : FunctionalModel
        The network as pure functions.
    """

    #: Whether the meta-gradient differentiates through inner gradients
    #: (second-order MAML); batch norm then avoids kernels whose batched
    #: double backward is wrong.
    second_order = False

    def __init__(self, model):
        self.model = model

    def init_params(self, w):
        """Meta-parameters (a dict pytree of tensors) from initial weights."""
        return {"w": w}

    def task_loss(self, theta, xs, ys, xq, yq, n_way):
        """Loss of one task, a pure function of ``theta`` (vmapped)."""
        raise NotImplementedError

    def adapt(self, theta, xs, ys, n_way, steps):
        """Weights adapted to one support set; shared by fit, adapt and scoring."""
        raise NotImplementedError

    def meta_loss(self, theta, groups):
        """Mean task loss over a meta-batch (a list of equal-shape groups)."""
        total, count = 0.0, 0
        for xs, ys, xq, yq, n_way in groups:
            if len(xs) == 1:  # one task: no vmap (its batch-norm rule is slower)
                total = total + self.task_loss(theta, xs[0], ys[0], xq[0], yq[0], n_way)
                count += 1
                continue
            f = partial(self.task_loss, n_way=n_way)
            with (exact_batch_norm(self.model.module) if self.second_order
                  else contextlib.nullcontext()):
                losses = vmap(f, in_dims=(None, 0, 0, 0, 0), randomness="different")(
                    theta, xs, ys, xq, yq)
            total = total + losses.sum()
            count += len(xs)
        return total / count

    def outer_grad(self, theta, groups):
        """``(direction, loss)``: the outer optimiser steps against ``direction``."""
        return grad_and_value(self.meta_loss)(theta, groups)

    def predict_scores(self, w, x):
        """Outputs for rows ``x`` from adapted weights ``w`` (logits for classifiers)."""
        return self.model.forward(w, x)

    def predict_task(self, theta, xs, ys, xq, n_way, steps):
        """Query outputs of one task after adapting to its support set."""
        return self.predict_scores(self.adapt(theta, xs, ys, n_way, steps), xq)


def _leaves(tree):
    return tree_flatten(tree)[0]


def make_optimizer(theta, lr, kind="adam"):
    """The outer optimiser over the leaves of ``theta``: Adam, or plain SGD."""
    if kind == "sgd":
        return torch.optim.SGD(_leaves(theta), lr=lr)
    return torch.optim.Adam(_leaves(theta), lr=lr)


def maybe_compile(fn):
    """``torch.compile(fn)``, or ``fn`` with a warning where no compiler works."""
    try:
        return torch.compile(fn, dynamic=False)
    except Exception as exc:  # pragma: no cover - platform without a compiler
        warnings.warn(f"torch.compile is unavailable ({exc}); running eagerly")
        return fn


def train(est, step, theta, optimizer, source, n_iter, *, valid=None, eval_every=100,
          callbacks=(), verbose=0, compile=False):
    """Run ``n_iter`` meta-iterations, updating ``theta`` in place.

    Parameters
    ----------
    est : estimator
        Receives ``n_iter_`` and ``history_`` (a skorch ``History``, one row
        per meta-iteration), and is the ``net`` callbacks see.
    step : MetaStep
    theta : dict pytree of leaf tensors
    optimizer : torch.optim.Optimizer over the leaves of ``theta``
    source : ListSource or SamplerSource
        ``source.next()`` gives a meta-batch.
    n_iter : int
    valid : list of groups, optional
        Validation tasks; their mean query loss after adaptation is recorded
        as ``valid_loss`` every ``eval_every`` iterations.
    callbacks : list of skorch callbacks
        ``on_epoch_end`` runs every ``eval_every`` iterations; raising
        ``KeyboardInterrupt`` (as skorch's ``EarlyStopping`` does) stops.
    compile : bool
        ``torch.compile`` the outer gradient.

    Raises
    ------
    MetaTrainingDiverged
        On a non-finite loss or gradient; ``theta`` keeps the last good values.
    """
    outer = maybe_compile(step.outer_grad) if compile else step.outer_grad
    leaves = _leaves(theta)
    history = est.history_
    for cb in callbacks:
        cb.on_train_begin(est)
    bar = tqdm(total=n_iter, disable=not verbose, desc=type(est).__name__,
               mininterval=0.5, leave=True)
    losses = []
    try:
        for it in range(n_iter):
            t0 = time.perf_counter()
            groups = source.next()
            direction, loss = outer(theta, groups)
            dirs = _leaves(direction)
            check = loss + sum(torch._foreach_norm(dirs)).sum() * 0.0
            value = float(loss)
            if not math.isfinite(float(check)):
                raise MetaTrainingDiverged(
                    f"meta-training diverged at iteration {est.n_iter_ + 1}: the "
                    f"meta-loss is {value} or its gradient is not finite. The "
                    "learning rates are the likely cause; lower meta_lr or inner_lr. "
                    "The parameters of the last good iteration are kept."
                )
            for p, d in zip(leaves, dirs):
                p.grad = d
            optimizer.step()
            est.n_iter_ += 1
            losses.append(value)
            # skorch's History.new_epoch/record cost O(len(history)); append the
            # row to the underlying list instead (the same rows, in O(1))
            row = {"epoch": est.n_iter_, "train_loss": value, "batches": [],
                   "dur": time.perf_counter() - t0}
            list.append(history, row)
            bar.update(1)
            if (it + 1) % eval_every == 0 or it + 1 == n_iter:
                if valid is not None:
                    with torch.no_grad():
                        row["valid_loss"] = float(step.meta_loss(theta, valid))
                bar.set_postfix(loss=f"{sum(losses) / len(losses):.4g}", refresh=False)
                losses = []
                for cb in callbacks:
                    cb.on_epoch_end(est)
    except KeyboardInterrupt:
        pass
    finally:
        bar.close()
        for p in leaves:
            p.grad = None
    for cb in callbacks:
        cb.on_train_end(est)
    return theta


def detach_tree(tree, **to):
    """A copy of a tensor pytree, detached (and moved with ``.to(**to)``)."""
    return tree_map(lambda t: t.detach().to(**to) if isinstance(t, torch.Tensor) else t, tree)
