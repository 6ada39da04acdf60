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
import sys
import time
import types
import warnings

import torch
from torch.func import grad_and_value, vmap
from torch.utils._pytree import tree_flatten, tree_map, tree_unflatten
from tqdm.auto import tqdm

from ..exceptions import CompilationWarning, MetaTrainingDiverged
from ._functional import HEAD
from ._networks import exact_batch_norm
from ._threads import intra_op_threads, threads_for

__all__ = ["MetaStep", "GradientStep", "train"]


class MetaStep:
    """Base of the algorithms' step objects: what a learner gives the engine.

    A step holds the network as pure functions and says, for one task, how
    to adapt to its support set and what its meta-training loss is. The
    engine vmaps these over the tasks of a meta-batch (:class:`Episodes`).
    Every per-task function takes ``(theta, xs, ys, xq, yq, n_way, ms=None,
    mq=None)``: ``ms``/``mq`` are the row masks of padded tasks.

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

    #: Gradient steps of :meth:`adapt` at prediction (none for metric learners).
    adapt_steps = 0

    #: Why :meth:`outer_grad` must run eagerly (``torch.compile`` would undo
    #: what the step does), or ``None``: it may be compiled.
    eager_only = None

    #: Tasks per forward and backward pass of the eager :meth:`outer_grad`
    #: (``None``: the whole meta-batch in one pass).
    task_chunk = None

    def init_params(self, w, generator=None):
        """Meta-parameters (a dict pytree of tensors) from initial weights;
        random draws use ``generator``."""
        return {"w": w}

    def task_loss(self, theta, xs, ys, xq, yq, n_way, ms=None, mq=None):
        """Meta-training loss of one task, a pure function of ``theta``."""
        raise NotImplementedError

    def adapt(self, theta, xs, ys, n_way, steps, ms=None):
        """Weights adapted to one support set; shared by fit, adapt and scoring."""
        raise NotImplementedError

    def map_tasks(self, fn, theta, episodes):
        """``fn(theta, xs, ys, xq, yq, n_way[, ms, mq])`` over the tasks of
        ``episodes``, stacked on a leading axis: one ``vmap`` call (a direct
        call for a single task, whose batch-norm batching rule is slower)."""
        args, n_way = episodes.tensors(), episodes.n_way

        def one(theta, xs, ys, xq, yq, *masks):
            return fn(theta, xs, ys, xq, yq, n_way, *masks)

        if episodes.n_tasks == 1:
            return tree_map(lambda t: t[None], one(theta, *(a[0] for a in args)))
        with (exact_batch_norm(self.model.module) if self.second_order
              else contextlib.nullcontext()):
            return vmap(one, in_dims=(None,) + (0,) * len(args), randomness="different")(
                theta, *args)

    def meta_loss(self, theta, episodes):
        """Mean task loss over a meta-batch."""
        return self.map_tasks(self.task_loss, theta, episodes).mean()

    def outer_grad(self, theta, episodes):
        """``(direction, loss)``: the outer optimiser steps against ``direction``.

        The gradient of :meth:`meta_loss`. Eagerly it comes from plain
        autograd on leaves that require it: ``torch.func.grad`` runs its
        backward pass with ``create_graph=True`` (so that an enclosing
        transform could differentiate it), which for this outermost
        gradient only keeps the backward pass's intermediate values alive
        until it ends, about doubling the peak memory of second-order MAML.
        With :attr:`task_chunk`, the tasks go through the network that many
        at a time, each chunk's graph freed before the next (the mean loss
        is the chunks' losses weighted by their share of the tasks). Under
        ``torch.compile`` it is ``torch.func.grad_and_value``, which dynamo
        traces as a whole.
        """
        if torch.compiler.is_compiling():
            return grad_and_value(self.meta_loss)(theta, episodes)
        leaves, spec = tree_flatten(theta)
        leaves = [t.detach().requires_grad_(t.is_floating_point()) for t in leaves]
        theta = tree_unflatten(leaves, spec)
        wrt = [t for t in leaves if t.requires_grad]
        n = episodes.n_tasks
        size = min(self.task_chunk or n, n)
        loss, grads = 0.0, [None] * len(wrt)
        for start in range(0, n, size):
            part = episodes if size == n else episodes.map(lambda t: t[start:start + size])
            with torch.enable_grad():
                part_loss = self.meta_loss(theta, part) * (part.n_tasks / n)
                part_grads = (torch.autograd.grad(part_loss, wrt, allow_unused=True)
                              if part_loss.requires_grad else [None] * len(wrt))
            grads = [g if a is None else a if g is None else a + g
                     for a, g in zip(grads, part_grads)]
            loss = loss + part_loss.detach()
        found = {id(t): g for t, g in zip(wrt, grads) if g is not None}
        grads = [found[id(t)] if id(t) in found else torch.zeros_like(t) for t in leaves]
        return tree_unflatten(grads, spec), loss

    def predict_scores(self, w, x):
        """Outputs for rows ``x`` from adapted weights ``w`` (logits for classifiers)."""
        return self.model.forward(w, x)

    def predict_task(self, theta, xs, ys, xq, yq, n_way, ms=None, mq=None):
        """Query outputs of one task after adapting to its support set
        (``yq`` is unused; it keeps the per-task signature)."""
        return self.predict_scores(self.adapt(theta, xs, ys, n_way, self.adapt_steps, ms), xq)


class GradientStep(MetaStep):
    """A step whose adaptation is gradient steps on the support set.

    Parameters
    ----------
    model : FunctionalModel
    rule : UpdateRule
        The inner update (:mod:`skmeta._torch._rules`).
    inner_steps : int
        Inner steps during meta-training.
    adapt_steps : int
        Steps of :meth:`adapt` at prediction.
    adapt_keys : callable or None
        Which weights the inner loop adapts (``None``: all).
    """

    def __init__(self, model, rule, inner_steps, adapt_steps, adapt_keys=None):
        super().__init__(model)
        self.rule, self.inner_steps, self.adapt_steps = rule, inner_steps, adapt_steps
        self.adapt_keys = adapt_keys

    def init_params(self, w, generator=None):
        keys = list(w) + (list(HEAD) if self.model.classifier else [])
        if self.adapt_keys is not None:
            keys = self.adapt_keys(keys)
        return {"w": w, **self.rule.meta_params(w, keys)}

    def adapt(self, theta, xs, ys, n_way, steps, ms=None, first_order=True, safeguard=True,
              recompute=None):
        """Gradient steps from the meta-learned weights; at prediction
        (``safeguard``) a step that raises the support loss is not kept;
        ``recompute`` trades time for memory when differentiating through
        the steps (see :meth:`FunctionalModel.adapt`)."""
        return self.model.adapt(theta["w"], xs, ys, n_way, steps, self.rule, theta,
                                self.adapt_keys, first_order, ms, safeguard, recompute)


def _leaves(tree):
    return tree_flatten(tree)[0]


def make_optimizer(theta, lr, kind="adam"):
    """The outer optimiser over the leaves of ``theta``: Adam, or plain SGD."""
    if kind == "sgd":
        return torch.optim.SGD(_leaves(theta), lr=lr)
    return torch.optim.Adam(_leaves(theta), lr=lr)


def _own_code(fn):
    """``fn`` (a function or bound method) with a code object of its own.

    torch.compile keeps its compiled graphs, and counts recompilations
    against ``recompile_limit`` (8), per code object. Every fit compiles the
    same method of a new step object, so in one process (a grid search, a
    benchmark, cross-validation) the fits would share one cache: each new
    fit recompiles, and after the eighth, dynamo silently runs eagerly. A
    copy of the code object gives each compiled function its own cache and
    budget, freed with it.
    """
    func = getattr(fn, "__func__", fn)
    own = types.FunctionType(func.__code__.replace(), func.__globals__, func.__name__,
                             func.__defaults__, func.__closure__)
    own.__kwdefaults__ = func.__kwdefaults__
    return types.MethodType(own, fn.__self__) if hasattr(fn, "__self__") else own


class Compiled:
    """``fn`` through ``torch.compile``, falling back to ``fn`` on any failure.

    Compilation happens at the first call (and again for new shapes), so a
    failure - no compiler, a truncated file in the inductor cache left by an
    interrupted compile, an unsupported operation - shows there, not when
    wrapping. Any exception from the compiled function switches this wrapper
    to eager for good, with one :class:`~skmeta.exceptions.CompilationWarning`
    that says why; the call is then run eagerly (so a genuine error in
    ``fn`` is raised by the eager run, as without compiling).
    """

    def __init__(self, fn):
        self.fn, self.compiled = fn, None
        try:
            self.compiled = torch.compile(_own_code(fn), dynamic=False)
        except Exception as exc:  # pragma: no cover - platform without a compiler
            self._give_up(exc)

    def _give_up(self, exc):
        self.compiled = None
        first_line = (str(exc).strip().splitlines() or [""])[0][:300]
        warnings.warn(f"torch.compile failed ({type(exc).__name__}: {first_line}); running eagerly",
                      CompilationWarning, stacklevel=3)

    def __call__(self, *args):
        if self.compiled is not None:
            try:
                return self.compiled(*args)
            except Exception as exc:
                self._give_up(exc)
        return self.fn(*args)


def maybe_compile(fn):
    """``fn`` compiled, with a fallback to eager (see :class:`Compiled`)."""
    return Compiled(fn)


#: ``compile="auto"``: the compile time to repay (seconds) and the speed-up of
#: compiled over eager iterations assumed when deciding; both measured for
#: MAML on sinusoid tasks on 2 CPU cores (benchmarks/bench_maml_sinusoid.py).
AUTO_COMPILE_SECONDS = 40.0
AUTO_COMPILE_SPEEDUP = 3.0
#: Eager iterations timed before ``compile="auto"`` decides.
AUTO_PROBE_ITERATIONS = 10


def worth_compiling(seconds_per_iteration, remaining):
    """Whether compiling repays itself over ``remaining`` iterations."""
    saved = remaining * seconds_per_iteration * (1 - 1 / AUTO_COMPILE_SPEEDUP)
    return saved > AUTO_COMPILE_SECONDS


#: Seconds between progress-bar updates on a terminal or a notebook widget,
#: and where the bar's stream is neither (a log file, captured output, a docs
#: build): each update there is a new line, so they are rarer.
PROGRESS_INTERVAL = {"terminal": 0.5, "other": 30.0}


def progress_interval(stream=None, bar=None):
    """Seconds between progress-bar updates: :data:`PROGRESS_INTERVAL`, by
    whether ``bar`` (default: the ``tqdm.auto`` class in use) is a notebook
    widget or ``stream`` (default ``sys.stderr``, where tqdm writes) is a
    terminal."""
    bar = tqdm if bar is None else bar
    if any(c.__module__ == "tqdm.notebook" for c in bar.__mro__):
        return PROGRESS_INTERVAL["terminal"]
    stream = sys.stderr if stream is None else stream
    try:
        terminal = stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        terminal = False
    return PROGRESS_INTERVAL["terminal" if terminal else "other"]


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
        ``source.next()`` gives a meta-batch (:class:`Episodes`).
    n_iter : int
    valid : Episodes, optional
        Validation tasks; their mean query loss after adaptation is recorded
        as ``valid_loss`` every ``eval_every`` iterations.
    callbacks : list of skorch callbacks
        ``on_epoch_end`` runs every ``eval_every`` iterations; raising
        ``KeyboardInterrupt`` (as skorch's ``EarlyStopping`` does) stops.
    compile : bool or "auto"
        ``torch.compile`` the outer gradient; ``"auto"`` times the first
        eager iterations and compiles when the remaining ones repay the
        compile time (:func:`worth_compiling`). A failed compilation falls
        back to eager with a warning. A step with ``eager_only`` is never
        compiled (a warning says why where ``compile=True``).

    Raises
    ------
    MetaTrainingDiverged
        On a non-finite loss or gradient; ``theta`` keeps the last good values.
    """
    if compile and step.eager_only:
        if compile is True:
            warnings.warn(f"compile=True is ignored: {step.eager_only}", CompilationWarning,
                          stacklevel=3)
        compile = False
    outer = maybe_compile(step.outer_grad) if compile is True else step.outer_grad
    probe = [] if compile == "auto" else None
    leaves = _leaves(theta)
    history = est.history_
    for cb in callbacks:
        cb.on_train_begin(est)
    bar = tqdm(total=n_iter, disable=not verbose, desc=type(est).__name__,
               mininterval=progress_interval(), leave=True)
    with intra_op_threads() as threads:  # restored afterwards (see _threads.py)
        losses = []
        try:
            for it in range(n_iter):
                t0 = time.perf_counter()
                episodes = source.next()
                if it == 0:  # one thread for small networks: see _threads.py
                    threads.set(threads_for(step.model.module, episodes.xs, episodes.xq,
                                            batch_dims=2))
                direction, loss = outer(theta, episodes)
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
                dur = time.perf_counter() - t0
                if probe is not None:
                    probe.append(dur)
                    if len(probe) == AUTO_PROBE_ITERATIONS:
                        # the first iterations include one-off costs: take the median
                        if worth_compiling(sorted(probe)[len(probe) // 2], n_iter - it - 1):
                            outer = maybe_compile(step.outer_grad)
                        probe = None
                # skorch's History.new_epoch/record cost O(len(history)); append the
                # row to the underlying list instead (the same rows, in O(1))
                row = {"epoch": est.n_iter_, "train_loss": value, "batches": [], "dur": dur}
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
