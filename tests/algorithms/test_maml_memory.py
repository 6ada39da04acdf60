"""MAML's memory options: ``inner_checkpoint`` (the inner loop recomputed in
the backward pass instead of kept) and ``meta_batch_chunk`` (the tasks of a
meta-batch differentiated a few at a time) give the exact second-order
meta-gradient."""

import json
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch
from torch.utils._pytree import tree_flatten

from skmeta import MAMLClassifier, MAMLRegressor, Task
from skmeta.datasets import make_fewshot_tasks, make_sinusoid_tasks
from skmeta.exceptions import CompilationWarning

from .._helpers import double_tree, episodes
from .._instances import fast_instance
from .._torch.test_engine import (_classification_tasks, _reference_meta_grad,
                                  _regression_tasks)
from ._images import make_images


def _image_tasks():
    # 2-way and 3-way episodes: padded to one shape, with masks and absent classes
    X, y = make_images(6, 6, size=8)
    return (make_fewshot_tasks(X, y, n_way=2, k_shot=2, n_query=2, n_tasks=3, random_state=0)
            + make_fewshot_tasks(X, y, n_way=3, k_shot=1, n_query=1, n_tasks=2,
                                 random_state=1))


def _fitted(cls, tasks, **params):
    """A MAML estimator a few meta-iterations away from its initialisation."""
    params = {"hidden_layer_sizes": (8,), "max_iter": 3, "random_state": 0, **params}
    if cls is MAMLRegressor:
        params.setdefault("inner_lr", 0.05)
    return fast_instance(cls, **params).fit(tasks)


def _meta_grad(est, theta, ep, **memory):
    est.set_params(**{"inner_checkpoint": None, "meta_batch_chunk": None, **memory})
    grads, loss = est._step().outer_grad(theta, ep)
    return tree_flatten(grads)[0], loss


def _assert_same_gradient(est, tasks, atol=1e-12, **memory):
    """The meta-gradient with the ``memory`` options equals the plain one."""
    theta, ep = double_tree(est.meta_params_), episodes(est, tasks)
    kept, loss_kept = _meta_grad(est, theta, ep)
    recomputed, loss = _meta_grad(est, theta, ep, **memory)
    torch.testing.assert_close(loss, loss_kept, atol=atol, rtol=0)
    for a, b in zip(recomputed, kept):
        torch.testing.assert_close(a, b, atol=atol, rtol=1e-10)
    return recomputed


VARIANTS = [{}, {"learn_inner_lr": True}, {"adapt_layers": "head"}]


@pytest.mark.parametrize("variant", VARIANTS, ids=["maml", "meta-sgd", "anil"])
@pytest.mark.parametrize("inner_checkpoint", [1, 3])
@pytest.mark.parametrize("inner_steps", [1, 5, 10])
@pytest.mark.parametrize("cls, make_tasks", [(MAMLRegressor, _regression_tasks),
                                             (MAMLClassifier, _classification_tasks)],
                         ids=["regression", "classification"])
def test_recomputed_meta_gradient_equals_the_kept_one(cls, make_tasks, inner_steps,
                                                      inner_checkpoint, variant):
    # tasks of unequal sizes (and, for classification, numbers of classes): padded, masked
    tasks = make_tasks()
    est = _fitted(cls, tasks, inner_steps=inner_steps, **variant)
    grads = _assert_same_gradient(est, tasks, inner_checkpoint=inner_checkpoint)
    assert any(g.abs().max() > 0 for g in grads)


@pytest.mark.parametrize("inner_checkpoint", [None, 2])
@pytest.mark.parametrize("meta_batch_chunk", [1, 3, 50])
@pytest.mark.parametrize("cls, make_tasks", [(MAMLRegressor, _regression_tasks),
                                             (MAMLClassifier, _classification_tasks)],
                         ids=["regression", "classification"])
def test_chunked_meta_gradient_equals_the_whole_batch_one(cls, make_tasks, meta_batch_chunk,
                                                          inner_checkpoint):
    # 7 tasks in chunks of 1, of 3 (3 + 3 + 1: unequal weights) and all at once
    tasks = make_tasks()
    est = _fitted(cls, tasks, inner_steps=3, learn_inner_lr=True)
    _assert_same_gradient(est, tasks, meta_batch_chunk=meta_batch_chunk,
                          inner_checkpoint=inner_checkpoint)


def _float32_values(tasks):
    """The tasks with their numbers rounded to float32, as the engine holds
    them, so that the float64 per-task loop sees the same data."""
    def r(a):
        a = np.asarray(a)
        return a.astype(np.float32).astype(np.float64) if a.dtype.kind == "f" else a
    return [Task(r(t.X_support), r(t.y_support), r(t.X_query), r(t.y_query)) for t in tasks]


@pytest.mark.parametrize("inner_steps", [1, 5, 10])
@pytest.mark.parametrize("cls, make_tasks", [(MAMLRegressor, _regression_tasks),
                                             (MAMLClassifier, _classification_tasks)],
                         ids=["regression", "classification"])
def test_recomputed_meta_gradient_equals_a_per_task_loop(cls, make_tasks, inner_steps):
    tasks = _float32_values(make_tasks())
    est = _fitted(cls, tasks, inner_steps=inner_steps, inner_checkpoint=2, meta_batch_chunk=3)
    theta = double_tree(est.meta_params_)
    grads, loss = est._step().outer_grad(theta, episodes(est, tasks))
    ref_loss, ref = _reference_meta_grad(est, theta, tasks, first_order=False)
    torch.testing.assert_close(loss, ref_loss, atol=1e-10, rtol=0)
    for (part, name), g in ref.items():
        torch.testing.assert_close(grads[part][name], g, atol=1e-8, rtol=1e-7)


def _directional_derivative_matches(est, tasks, eps=1e-6):
    """The meta-gradient against central finite differences of the meta-loss
    along a random direction (float64)."""
    step = est._step()
    theta, ep = double_tree(est.meta_params_), episodes(est, tasks)
    grads, _ = step.outer_grad(theta, ep)
    gen = torch.Generator().manual_seed(0)
    leaves, spec = tree_flatten(theta)
    v = [torch.randn(t.shape, generator=gen, dtype=t.dtype) for t in leaves]

    def loss_at(sign):
        moved = torch.utils._pytree.tree_unflatten(
            [t + sign * eps * d for t, d in zip(leaves, v)], spec)
        with torch.no_grad():
            return float(step.meta_loss(moved, ep))

    numeric = (loss_at(1) - loss_at(-1)) / (2 * eps)
    analytic = float(sum((g * d).sum() for g, d in zip(tree_flatten(grads)[0], v)))
    assert analytic == pytest.approx(numeric, rel=1e-5, abs=1e-8)


@pytest.mark.parametrize("cls, make_tasks", [(MAMLRegressor, _regression_tasks),
                                             (MAMLClassifier, _classification_tasks)],
                         ids=["regression", "classification"])
def test_recomputed_meta_gradient_matches_finite_differences(cls, make_tasks):
    tasks = make_tasks()
    est = _fitted(cls, tasks, hidden_layer_sizes=(4,), inner_steps=5, inner_checkpoint=2,
                  learn_inner_lr=True)
    _directional_derivative_matches(est, tasks)


def test_one_task_meta_batch_without_vmap():
    # a meta-batch of one task is called directly, not through vmap
    tasks = _regression_tasks()[:1]
    est = _fitted(MAMLRegressor, tasks, inner_steps=4, learn_inner_lr=True)
    _assert_same_gradient(est, tasks, inner_checkpoint=3, meta_batch_chunk=1)


def test_recomputed_steps_carry_the_state_of_a_stateful_rule():
    # Adam's per-task state starts as plain numbers and becomes tensors: both
    # pass through the recomputed segments
    from skmeta._torch._functional import FunctionalModel
    from skmeta._torch._rules import Adam

    gen = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    # tanh: no zero gradient, where Adam's square root has no derivative
    net = torch.nn.Sequential(torch.nn.Linear(2, 5), torch.nn.Tanh(), torch.nn.Linear(5, 1))
    model = FunctionalModel(net.double(), classifier=False)
    w = model.initial_weights()
    xs, ys = torch.randn(6, 2, generator=gen).double(), torch.randn(6, 1, generator=gen).double()

    def query_loss(w, recompute):
        a = model.adapt(w, xs, ys, None, 5, Adam(0.1), recompute=recompute)
        return model.loss(model.forward(a, xs + 1), ys)

    kept = torch.func.grad(query_loss)(w, None)
    recomputed = torch.func.grad(query_loss)(w, 2)
    for k in w:
        assert torch.isfinite(kept[k]).all()
        torch.testing.assert_close(recomputed[k], kept[k], atol=1e-12, rtol=1e-10)


def test_conv4_recomputed_meta_gradient_is_exact():
    # per-task batch norm statistics from padded support sets, channels-last
    # convolutions: the recomputation runs outside the engine's vmap context
    tasks = _image_tasks()
    est = _fitted(MAMLClassifier, tasks, module="conv4", module__channels=4,
                  module__n_blocks=2, max_iter=2, inner_steps=5, inner_lr=0.1)
    _assert_same_gradient(est, tasks, inner_checkpoint=1)
    est.set_params(inner_checkpoint=2)
    _directional_derivative_matches(est, tasks)


@pytest.mark.parametrize("memory", [{"inner_checkpoint": 1}, {"meta_batch_chunk": 2},
                                    {"inner_checkpoint": 2, "meta_batch_chunk": 3}])
@pytest.mark.parametrize("cls, make_tasks", [(MAMLRegressor, _regression_tasks),
                                             (MAMLClassifier, _classification_tasks)],
                         ids=["regression", "classification"])
def test_fit_with_memory_options_learns_the_same_meta_parameters(cls, make_tasks, memory):
    tasks = make_tasks()
    params = {"inner_steps": 5, "max_iter": 6, "meta_batch_size": 7}
    kept = _fitted(cls, tasks, **params)
    recomputed = _fitted(cls, tasks, **memory, **params)
    for a, b in zip(tree_flatten(recomputed.meta_params_)[0],
                    tree_flatten(kept.meta_params_)[0]):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)
    np.testing.assert_allclose(recomputed.history_[:, "train_loss"],
                               kept.history_[:, "train_loss"], rtol=1e-5)


def test_first_order_ignores_inner_checkpoint():
    tasks = _regression_tasks()
    est = _fitted(MAMLRegressor, tasks, inner_steps=3, first_order=True)
    _assert_same_gradient(est, tasks, inner_checkpoint=1)
    assert est.set_params(inner_checkpoint=1)._step().eager_only is None


@pytest.mark.parametrize("name", ["inner_checkpoint", "meta_batch_chunk"])
def test_memory_options_run_eagerly_and_say_so_when_compile_is_asked(name):
    tasks = make_sinusoid_tasks(6, random_state=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est = fast_instance(MAMLRegressor, max_iter=2, inner_steps=2, compile=True,
                            random_state=0, **{name: 1}).fit(tasks)
    messages = [str(w.message) for w in caught if issubclass(w.category, CompilationWarning)]
    assert len(messages) == 1 and name in messages[0]
    assert est.n_iter_ == 2
    # compile="auto" resolves to eager without a word
    with warnings.catch_warnings():
        warnings.simplefilter("error", CompilationWarning)
        fast_instance(MAMLRegressor, max_iter=2, inner_steps=2, compile="auto",
                      random_state=0, **{name: 1}).fit(tasks)


@pytest.mark.parametrize("name", ["inner_checkpoint", "meta_batch_chunk"])
@pytest.mark.parametrize("cls", [MAMLRegressor, MAMLClassifier])
@pytest.mark.parametrize("value", [0, -1, 1.5, "1", "auto", [2]])
def test_bad_memory_option_raises_value_error_naming_it(cls, value, name):
    tasks = _regression_tasks() if cls is MAMLRegressor else _classification_tasks()
    with pytest.raises(ValueError, match=name):
        fast_instance(cls, **{name: value}).fit(tasks)


_PEAK = """
import json, sys, threading, time
from skmeta import MAMLRegressor
from skmeta.datasets import make_sinusoid_tasks

def anonymous_kb():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("RssAnon:"))

steps, ck = json.loads(sys.argv[1])
tasks = make_sinusoid_tasks(25, n_support=1000, n_query=10, random_state=0)
est = MAMLRegressor(hidden_layer_sizes=(64, 64), max_iter=1, meta_batch_size=25,
                    inner_steps=steps, inner_checkpoint=ck, compile=False,
                    early_stopping=False, random_state=0)
before, peak, done = anonymous_kb(), [0], threading.Event()

def watch():
    while not done.is_set():
        peak[0] = max(peak[0], anonymous_kb())
        time.sleep(0.002)

watcher = threading.Thread(target=watch)
watcher.start()
est.fit(tasks)
done.set()
watcher.join()
print(json.dumps(peak[0] - before))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc, glibc malloc")
@pytest.mark.slow  # a peak-RSS measurement of fresh processes: failed in a loaded fresh-clone run (kept == 0)
def test_inner_checkpoint_memory_does_not_grow_with_inner_steps():
    # Fresh processes, with large support sets so that the inner loop's values
    # dominate. The figure is the peak of anonymous resident memory during fit
    # (sampled): unlike ru_maxrss it leaves out the library code's pages, which
    # a busy machine may evict. glibc's malloc is told to return every large
    # block on free: otherwise the heap's fragmentation by the transient
    # blocks of each recomputed segment also grows the peak (see
    # benchmarks/bench_memory.py), which is the allocator, not what is kept.
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536"}
    configs = [(1, None), (8, None), (1, 1), (8, 1)]
    children = [subprocess.Popen([sys.executable, "-c", _PEAK, json.dumps(c)], env=env,
                                 stdout=subprocess.PIPE, text=True) for c in configs]
    peak = {}
    for c, child in zip(configs, children):
        out, _ = child.communicate()
        assert child.returncode == 0, c
        peak[c] = json.loads(out.strip().splitlines()[-1])  # kB
    kept = peak[8, None] - peak[1, None]
    recomputed = peak[8, 1] - peak[1, 1]
    assert kept > 60_000, peak  # what 7 more kept inner steps cost
    assert recomputed < 0.1 * kept, peak
