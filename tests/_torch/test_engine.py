"""The vmapped engine against a plain per-task loop, and its failure modes."""

import numpy as np
import pytest
import torch
from torch.func import functional_call

from skmeta import MAMLClassifier, MAMLRegressor
from skmeta._torch._engine import MetaTrainingDiverged
from skmeta.datasets import make_fewshot_tasks, make_sinusoid_tasks

from .._helpers import double_tree, episodes
from .._instances import fast_instance




def _reference_meta_grad(est, theta, tasks, first_order):
    """MAML's meta-gradient the textbook way: a Python loop over tasks."""
    module = est.module_.double()
    w = {k: v.clone().requires_grad_(True) for k, v in theta["w"].items()}
    lrs = {k: v.clone().requires_grad_(True) for k, v in theta.get("lr", {}).items()}
    head_only = est.adapt_layers == "head"
    total = 0.0
    for t in tasks:
        ys, yq, n_way = est._encode(t)
        xs, xq = torch.tensor(t.X_support), torch.tensor(t.X_query)
        ys = torch.tensor(ys) if est._classifier else torch.tensor(ys, dtype=torch.float64)
        yq = torch.tensor(yq) if est._classifier else torch.tensor(yq, dtype=torch.float64)

        def forward(p, x):
            out = functional_call(module, {k: v for k, v in p.items() if k[0] != "@"}, (x,))
            if est._classifier:
                out = out @ p["@head.weight"].T + p["@head.bias"]
            return out

        def loss(out, y):
            if est._classifier:
                return torch.nn.functional.cross_entropy(out, y)
            return ((out - y) ** 2).mean()

        p = dict(w)
        if est._classifier:
            e = functional_call(module, w, (xs,))
            protos = torch.stack([e[ys == c].mean(0) for c in range(n_way)])
            p["@head.weight"], p["@head.bias"] = 2 * protos, -(protos ** 2).sum(1)
            # in the inner loop the head is its own fast weight: the body's inner
            # gradient does not flow through the head's initialisation (the outer does)
            p = {k: v + 0 for k, v in p.items()}
        if head_only:
            keys = ["@head.weight", "@head.bias"] if est._classifier else ["2.weight", "2.bias"]
        else:
            keys = list(p)
        for _ in range(est.inner_steps):
            grads = torch.autograd.grad(loss(forward(p, xs), ys), [p[k] for k in keys],
                                        create_graph=not first_order)
            p = {**p, **{k: p[k] - (lrs[k] if lrs else est.inner_lr) * g
                         for k, g in zip(keys, grads)}}
        total = total + loss(forward(p, xq), yq)
    meta = total / len(tasks)
    leaves = list(w.values()) + list(lrs.values())
    grads = torch.autograd.grad(meta, leaves)
    names = [("w", k) for k in w] + [("lr", k) for k in lrs]
    return meta, dict(zip(names, grads))


def _regression_tasks():
    # two sizes, so the engine pads them to one shape with masks
    return (make_sinusoid_tasks(4, n_support=5, n_query=7, random_state=0)
            + make_sinusoid_tasks(3, n_support=4, n_query=3, random_state=1))


def _classification_tasks():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 3))
    y = np.repeat(["a", "b", "c", "d"], 15)
    return (make_fewshot_tasks(X, y, n_way=2, k_shot=2, n_query=3, n_tasks=3, random_state=0)
            + make_fewshot_tasks(X, y, n_way=3, k_shot=1, n_query=2, n_tasks=2, random_state=1))


CASES = [
    (MAMLRegressor, _regression_tasks, {}),
    (MAMLRegressor, _regression_tasks, {"inner_steps": 2}),
    (MAMLRegressor, _regression_tasks, {"learn_inner_lr": True}),
    (MAMLRegressor, _regression_tasks, {"adapt_layers": "head"}),
    (MAMLClassifier, _classification_tasks, {}),
    (MAMLClassifier, _classification_tasks, {"inner_steps": 2, "learn_inner_lr": True}),
    (MAMLClassifier, _classification_tasks, {"adapt_layers": "head"}),
]


@pytest.mark.parametrize("first_order", [False, True])
@pytest.mark.parametrize("cls, make_tasks, params", CASES)
def test_vmapped_meta_gradient_equals_per_task_loop(cls, make_tasks, params, first_order):
    tasks = make_tasks()
    est = fast_instance(cls, max_iter=3, random_state=0, first_order=first_order,
                        hidden_layer_sizes=(8,), **params)
    if cls is MAMLRegressor:
        est.set_params(inner_lr=0.05)
    est.fit(tasks)  # a few steps so the parameters are not at their initial values
    theta = double_tree(est.meta_params_)
    grads, loss = est._step().outer_grad(theta, episodes(est, tasks))
    ref_loss, ref = _reference_meta_grad(est, theta, tasks, first_order)
    assert torch.allclose(loss, ref_loss, atol=1e-10)
    for (part, name), g in ref.items():
        torch.testing.assert_close(grads[part][name], g, atol=1e-5, rtol=1e-5)
    # the first-order gradient really differs from the second-order one
    if not first_order and est.inner_steps and params.get("adapt_layers") != "head":
        _, fo = _reference_meta_grad(est, theta, tasks, first_order=True)
        assert any(not torch.allclose(fo[k], ref[k], atol=1e-6) for k in ref)


def test_divergence_stops_with_clear_error_and_keeps_last_good_parameters():
    tasks = make_sinusoid_tasks(10, random_state=0)
    est = fast_instance(MAMLRegressor, max_iter=50, meta_lr=1e6, inner_lr=1e3,
                        random_state=0)
    with pytest.raises(MetaTrainingDiverged, match=r"iteration \d+.*learning rate"):
        est.fit(tasks)
    assert 0 < est.n_iter_ < 50
    assert len(est.history_) == est.n_iter_
    for v in est.meta_params_["w"].values():
        assert torch.isfinite(v).all()


def test_history_and_progress_bar(capsys):
    tasks = make_sinusoid_tasks(20, random_state=0)
    est = fast_instance(MAMLRegressor, max_iter=12, verbose=1, random_state=0).fit(tasks)
    assert est.n_iter_ == 12
    assert est.history_[:, "epoch"] == list(range(1, 13))
    assert all(np.isfinite(est.history_[:, "train_loss"]))
    err = capsys.readouterr().err
    assert "MAMLRegressor" in err and "12/12" in err


def test_progress_bar_is_sparse_where_stderr_is_not_a_terminal(capsys):
    # captured output (a log, a docs build) gets a new line per update: a
    # 3-second fit writes its start and end, not an update each half-second
    import time

    from skmeta.callbacks import Callback

    class Slow(Callback):
        def on_epoch_end(self, net, **kwargs):
            time.sleep(0.1)

    tasks = make_sinusoid_tasks(20, random_state=0)
    fast_instance(MAMLRegressor, max_iter=30, eval_every=1, verbose=1, callbacks=[Slow()],
                  random_state=0).fit(tasks)
    err = capsys.readouterr().err
    updates = [u for u in err.replace("\r", "\n").splitlines() if "MAMLRegressor" in u]
    assert "30/30" in updates[-1]
    assert len(updates) <= 3, updates


def test_progress_interval_on_a_terminal_and_elsewhere():
    import io

    from skmeta._torch._engine import PROGRESS_INTERVAL, progress_interval

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    assert progress_interval(Terminal()) == PROGRESS_INTERVAL["terminal"]
    assert progress_interval(io.StringIO()) == PROGRESS_INTERVAL["other"]
    assert progress_interval(object()) == PROGRESS_INTERVAL["other"]
    assert PROGRESS_INTERVAL["other"] > PROGRESS_INTERVAL["terminal"]


def test_early_stopping_callback_stops_on_validation_tasks():
    from skmeta.callbacks import EarlyStopping

    tasks = make_sinusoid_tasks(40, random_state=0)
    est = fast_instance(
        MAMLRegressor, max_iter=400, eval_every=2, validation_fraction=0.25,
        meta_lr=1e-12, random_state=0,  # a learning rate so small the loss cannot improve
        callbacks=[EarlyStopping(monitor="valid_loss", patience=3, threshold=0.5,
                                 sink=lambda *a, **k: None)],
    ).fit(tasks)
    assert est.n_iter_ < 400
    valid = [h["valid_loss"] for h in est.history_ if "valid_loss" in h]
    assert len(valid) >= 4
