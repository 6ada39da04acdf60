"""Reptile: the vmapped outer direction against a per-task loop, averaging, learning."""

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.func import functional_call

from skmeta import ReptileClassifier, ReptileRegressor
from skmeta.datasets import SinusoidTasks, make_fewshot_tasks, make_sinusoid_tasks

from .._helpers import double_tree, episodes
from .._instances import fast_instance
from ._images import conv4_reference, make_images, make_tabular, mean_accuracy, split_classes




def _f64(a):
    # the engine stores task data as float32; the reference uses the same values
    return torch.tensor(np.asarray(a, dtype=np.float32), dtype=torch.float64)


def _reference_train(est, w0, x, y, n_way, steps):
    """One task trained the textbook way: a copy of the weights, ``steps`` optimiser
    steps (torch.optim.SGD, or Adam with betas (0, 0.999)) on the full batch ``x``."""
    module = copy.deepcopy(est.module_).double()
    conv4 = est.module == "conv4"

    def embed(p, rows):
        body = {k: v for k, v in p.items() if k[0] != "@"}
        if conv4:  # batch norm: statistics of the rows trained on
            return conv4_reference(body, rows, module.image_shape)
        return functional_call(module, body, (rows,))

    p = {k: v.clone() for k, v in w0.items()}
    if est._classifier:  # a fresh head per task, from the class means of its rows
        e = embed(w0, x)
        protos = torch.stack([e[y == c].mean(0) for c in range(n_way)])
        p["@head.weight"], p["@head.bias"] = 2 * protos, -(protos ** 2).sum(1)
    p = {k: v.requires_grad_(True) for k, v in p.items()}
    params = list(p.values())
    if est.inner_optimizer == "sgd":
        opt = torch.optim.SGD(params, lr=est.inner_lr)
    else:
        opt = torch.optim.Adam(params, lr=est.inner_lr, betas=(0.0, 0.999), eps=1e-8)

    def loss():
        out = embed(p, x)
        if est._classifier:
            return F.cross_entropy(out @ p["@head.weight"].T + p["@head.bias"], y)
        return ((out - y) ** 2).mean()

    for _ in range(steps):
        grads = torch.autograd.grad(loss(), params)
        for q, g in zip(params, grads):
            q.grad = g
        opt.step()
    with torch.no_grad():
        final = loss()
    return {k: v.detach() for k, v in p.items()}, final


def _task_rows(est, t, support_only=False):
    ys, yq, n_way = est._encode(t)
    if support_only:
        x, y = _f64(t.X_support), ys
    else:
        x, y = _f64(np.concatenate([t.X_support, t.X_query])), np.concatenate([ys, yq])
    y = torch.as_tensor(y) if est._classifier else _f64(y)
    return x, y, n_way


def _reference_direction(est, theta, tasks):
    """Reptile's outer direction: the mean over tasks of theta - trained weights."""
    w0 = theta["w"]
    total = {k: torch.zeros_like(v) for k, v in w0.items()}
    losses = []
    for t in tasks:
        x, y, n_way = _task_rows(est, t)
        trained, loss = _reference_train(est, w0, x, y, n_way, est.inner_steps)
        losses.append(loss)
        for k in total:
            total[k] += w0[k] - trained[k]
    return {k: v / len(tasks) for k, v in total.items()}, torch.stack(losses).mean()


def _regression_tasks():
    # two sizes, so the engine pads them to one shape with masks
    return (make_sinusoid_tasks(4, n_support=5, n_query=7, random_state=0)
            + make_sinusoid_tasks(3, n_support=4, n_query=3, random_state=1))


def _classification_tasks():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 3))
    y = np.repeat(["a", "b", "c", "d"], 15)
    return (make_fewshot_tasks(X, y, n_way=2, k_shot=2, n_query=3, n_tasks=3, random_state=0)
            + make_fewshot_tasks(X, y, n_way=3, k_shot=1, n_query=2, n_tasks=2,
                                 random_state=1))


def _image_tasks():
    X, y = make_images(4, 8, size=8, noise=0.5)
    return (make_fewshot_tasks(X, y, n_way=2, k_shot=2, n_query=2, n_tasks=2, random_state=0)
            + make_fewshot_tasks(X, y, n_way=3, k_shot=1, n_query=1, n_tasks=2,
                                 random_state=1))


CASES = [
    (ReptileRegressor, _regression_tasks, {}),
    (ReptileClassifier, _classification_tasks, {}),
    (ReptileClassifier, _image_tasks, {"module": "conv4", "module__channels": 3}),
]


@pytest.mark.parametrize("inner_optimizer", ["sgd", "adam"])
@pytest.mark.parametrize("cls, make_tasks, params", CASES)
def test_vmapped_outer_direction_equals_per_task_loop(cls, make_tasks, params,
                                                      inner_optimizer):
    tasks = make_tasks()
    est = fast_instance(cls, max_iter=3, hidden_layer_sizes=(8,), inner_steps=3,
                        inner_lr=0.05, inner_optimizer=inner_optimizer, random_state=0,
                        **params)
    est.fit(tasks)  # a few steps so the parameters are not at their initial values
    theta = double_tree(est.meta_params_)
    ep = episodes(est, tasks)
    assert ep.padded  # two sizes: padded with masks, one vmap call
    direction, loss = est._step().outer_grad(theta, ep)
    ref, ref_loss = _reference_direction(est, theta, tasks)
    # the per-task head is not a meta-parameter: the direction covers the body only
    assert set(direction) == {"w"} and set(direction["w"]) == set(theta["w"])
    torch.testing.assert_close(loss, ref_loss, atol=1e-10, rtol=1e-10)
    for k, d in ref.items():
        torch.testing.assert_close(direction["w"][k], d, atol=1e-8, rtol=1e-6)
    assert any(d.abs().max() > 1e-4 for d in ref.values())


@pytest.mark.parametrize("cls, make_tasks, inner_optimizer",
                         [(ReptileRegressor, _regression_tasks, "sgd"),
                          (ReptileClassifier, _classification_tasks, "adam")])
def test_adapt_takes_adapt_steps_on_the_support_set_only(cls, make_tasks, inner_optimizer):
    tasks = make_tasks()
    est = fast_instance(cls, max_iter=3, hidden_layer_sizes=(8,), inner_steps=1,
                        adapt_steps=4, inner_lr=0.05, inner_optimizer=inner_optimizer,
                        random_state=0).fit(tasks)
    t = tasks[-1]
    a = est.adapt(t.X_support, t.y_support)
    x, y, n_way = _task_rows(est, t, support_only=True)
    ref, _ = _reference_train(est, double_tree(est.meta_params_)["w"], x, y, n_way, 4)
    assert set(a.adapted_) == set(ref)
    for k, v in ref.items():
        torch.testing.assert_close(a.adapted_[k].double(), v, atol=2e-5, rtol=1e-4)


@pytest.mark.parametrize("outer_lr", [1.0, 0.3])
@pytest.mark.parametrize("cls, make_tasks", [(ReptileRegressor, _regression_tasks),
                                             (ReptileClassifier, _classification_tasks)])
def test_outer_lr_one_is_parameter_averaging(cls, make_tasks, outer_lr):
    """One meta-iteration over all tasks moves the initialisation ``outer_lr`` of the
    way to the mean of the per-task trained weights; ``outer_lr=1`` lands on it."""
    tasks = make_tasks()
    params = dict(hidden_layer_sizes=(8,), inner_steps=3, inner_lr=0.05,
                  meta_batch_size=len(tasks), outer_lr=outer_lr, random_state=0)
    init = fast_instance(cls, max_iter=0, **params).fit(tasks)
    est = fast_instance(cls, max_iter=1, **params).fit(tasks)
    w0 = double_tree(init.meta_params_)["w"]
    trained = []
    for t in tasks:
        x, y, n_way = _task_rows(est, t)
        trained.append(_reference_train(est, w0, x, y, n_way, est.inner_steps)[0])
    for k, v in w0.items():
        mean = torch.stack([tw[k] for tw in trained]).mean(0)
        expected = mean if outer_lr == 1.0 else v + outer_lr * (mean - v)
        torch.testing.assert_close(est.meta_params_["w"][k].double(), expected,
                                   atol=1e-6, rtol=1e-5)
    assert any(not torch.allclose(est.meta_params_["w"][k].double(), v, atol=1e-4)
               for k, v in w0.items())


def _query_mse(est, tasks):
    return np.mean([np.mean((est.adapt(t.X_support, t.y_support).predict(t.X_query)
                             - t.y_query) ** 2) for t in tasks])


@pytest.mark.slow  # a learning test of several seconds: `make test-slow`
def test_reptile_regressor_learns_sinusoids():
    """A few hundred meta-iterations: the query MSE after adapting on K=10 falls
    well below that of the untrained initialisation adapted the same way."""
    test = make_sinusoid_tasks(40, n_support=10, n_query=50, random_state=1)
    params = dict(meta_batch_size=10, outer_lr=0.5, inner_lr=0.02, inner_steps=5,
                  adapt_steps=10, compile=False, random_state=0)
    untrained = ReptileRegressor(max_iter=0, **params).fit(SinusoidTasks(10, 10))
    trained = ReptileRegressor(max_iter=250, **params).fit(SinusoidTasks(10, 10))
    before, after = _query_mse(untrained, test), _query_mse(trained, test)
    assert after < 0.5 * before, (before, after)


def test_reptile_classifier_string_labels_and_varying_classes():
    """Meta-trained on 2-, 3- and 5-way string-labelled tasks, adapted to 2- and
    3-way tasks of held-out classes: better than the untrained initialisation."""
    X, y = make_tabular(40, 20)
    train_classes, test_classes = split_classes(y, 25)
    train = (make_fewshot_tasks(X, y, 2, 3, 5, 60, classes=train_classes, random_state=0)
             + make_fewshot_tasks(X, y, 3, 2, 5, 60, classes=train_classes, random_state=1)
             + make_fewshot_tasks(X, y, 5, 1, 5, 60, classes=train_classes, random_state=2))
    test = (make_fewshot_tasks(X, y, 2, 1, 5, 30, classes=test_classes, random_state=3)
            + make_fewshot_tasks(X, y, 3, 1, 5, 30, classes=test_classes, random_state=4))
    params = dict(hidden_layer_sizes=(32,), meta_batch_size=8, outer_lr=0.5, inner_lr=0.01,
                  inner_steps=5, inner_optimizer="adam", compile=False, random_state=0)
    untrained = ReptileClassifier(max_iter=0, **params).fit(train)
    trained = ReptileClassifier(max_iter=150, **params).fit(train)
    t = test[-1]
    a = trained.adapt(t.X_support, t.y_support)
    assert a.classes_.tolist() == sorted(set(t.y_support)) and len(a.classes_) == 3
    assert set(a.predict(t.X_query)) <= set(t.y_support)
    proba = a.predict_proba(t.X_query)
    assert proba.shape == (len(t.X_query), 3)
    np.testing.assert_allclose(proba.sum(1), 1.0)
    np.testing.assert_array_equal(a.classes_[proba.argmax(1)], a.predict(t.X_query))
    before, after = mean_accuracy(untrained, test), mean_accuracy(trained, test)
    assert after > before + 0.1, (before, after)


@pytest.mark.parametrize("cls, make_tasks, params", CASES)
def test_random_state_makes_fit_reproducible(cls, make_tasks, params):
    tasks = make_tasks()
    fits = [fast_instance(cls, max_iter=4, hidden_layer_sizes=(8,), inner_steps=2,
                          random_state=3, **params).fit(tasks) for _ in range(2)]
    w1, w2 = fits[0].meta_params_["w"], fits[1].meta_params_["w"]
    assert set(w1) == set(w2)
    for k in w1:
        assert torch.equal(w1[k], w2[k])
    other = fast_instance(cls, max_iter=4, hidden_layer_sizes=(8,), inner_steps=2,
                          random_state=4, **params).fit(tasks)
    assert any(not torch.equal(other.meta_params_["w"][k], w1[k]) for k in w1)
