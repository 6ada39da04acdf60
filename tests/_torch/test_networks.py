"""Default networks: Conv4 and its per-task batch norm (TaskNorm), the n-d MLP."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.base import is_classifier

from skmeta import MAMLClassifier, ProtoNetClassifier, Task
from skmeta._torch._networks import MLP, Conv4, TaskNorm, exact_batch_norm, reference_rows
from skmeta.datasets import make_fewshot_tasks

from .._helpers import episodes
from .._instances import all_estimators, fast_instance
from ..algorithms._images import conv4_reference, make_images


def _pooled(size, n_blocks):
    for _ in range(n_blocks):
        size = math.ceil(size / 2)
    return size


# ------------------------------------------------------------------- Conv4
@pytest.mark.parametrize("rows, kwargs, image", [
    ((16, 16), {}, (1, 16, 16)),
    ((3, 16, 16), {}, (3, 16, 16)),
    ((256,), {"image_shape": (16, 16)}, (1, 16, 16)),
    ((256,), {"image_shape": (1, 16, 16)}, (1, 16, 16)),
    ((192,), {"image_shape": (3, 8, 8)}, (3, 8, 8)),
    ((8, 8), {}, (1, 8, 8)),
    ((15, 15), {}, (1, 15, 15)),
    ((28, 28), {}, (1, 28, 28)),
    ((9, 20), {}, (1, 9, 20)),
    ((15, 15), {"n_blocks": 2}, (1, 15, 15)),
])
def test_conv4_output_shape_and_values(rows, kwargs, image):
    channels = 5
    net = Conv4(rows, channels=channels, **kwargs)
    n_blocks = kwargs.get("n_blocks", 4)
    x = torch.randn((7,) + rows)
    out = net(x)
    # ceil-mode pooling: odd sizes round up, a 1x1 map stays 1x1
    expected = channels * _pooled(image[1], n_blocks) * _pooled(image[2], n_blocks)
    assert out.shape == (7, expected)
    assert net.image_shape == image
    w = dict(net.named_parameters())
    with torch.no_grad():
        for name, p in w.items():  # non-trivial batch norm affine parameters
            if p.dim() == 1:
                p.copy_(torch.randn_like(p))
        torch.testing.assert_close(net(x), conv4_reference(w, x, image, n_blocks=n_blocks),
                                   atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("rows, kwargs, match", [
    ((256,), {}, "image_shape"),
    ((256,), {"image_shape": (15, 15)}, r"image_shape=\(15, 15\).*225"),
    ((256,), {"image_shape": (2, 4, 4)}, "image_shape"),
    ((2, 3, 8, 8), {}, "images"),
])
def test_conv4_rejects_rows_it_cannot_read_as_images(rows, kwargs, match):
    with pytest.raises(ValueError, match=match):
        Conv4(rows, **kwargs)


@pytest.mark.parametrize("params, match", [
    ({}, "module__image_shape"),
    ({"module__image_shape": (12, 12)}, r"module__image_shape=\(12, 12\)"),
])
def test_estimator_with_conv4_on_flat_rows_needs_a_matching_image_shape(params, match):
    X, y = make_images(4, 6, size=8)
    tasks = make_fewshot_tasks(X.reshape(len(X), -1), y, 2, 2, 2, 4, random_state=0)
    est = fast_instance(ProtoNetClassifier, module="conv4", **params)
    with pytest.raises(ValueError, match=match):
        est.fit(tasks)
    assert not hasattr(est, "meta_params_")


@pytest.mark.parametrize("call", ["adapt", "predict"])
def test_images_of_another_size_than_in_fit_raise_a_clear_value_error(call):
    X, y = make_images(4, 6, size=8)
    tasks = make_fewshot_tasks(X, y, 2, 2, 2, 4, random_state=0)
    est = fast_instance(ProtoNetClassifier, module="conv4", module__channels=2,
                        random_state=0).fit(tasks)
    wide = make_images(4, 6, size=10)[0][:, :8, :]  # (n, 8, 10): same H, other W
    with pytest.raises(ValueError, match="shape"):
        if call == "adapt":
            est.adapt(wide[:4], y[:4])
        else:
            est.adapt(X[:4], y[:4]).predict(wide[:3])


# ---------------------------------------------------------------- TaskNorm
def _task_norm(channels):
    tn = TaskNorm(channels)
    with torch.no_grad():
        tn.weight.copy_(torch.randn(channels))
        tn.bias.copy_(torch.randn(channels))
    return tn


def _normalise(x, ref, tn):
    dims = [0] + list(range(2, x.dim()))
    mean = ref.mean(dim=dims, keepdim=True)
    var = ref.var(dim=dims, unbiased=False, keepdim=True)
    shape = [1, -1] + [1] * (x.dim() - 2)
    return (x - mean) / torch.sqrt(var + tn.eps) * tn.weight.view(shape) + tn.bias.view(shape)


@pytest.mark.parametrize("shape", [(6, 3, 5, 4), (6, 3)])
def test_task_norm_without_reference_rows_is_batch_norm_in_training_mode(shape):
    tn = _task_norm(shape[1])
    x = 2 * torch.randn(shape) + 1
    expected = F.batch_norm(x, None, None, tn.weight, tn.bias, training=True, eps=tn.eps)
    torch.testing.assert_close(tn(x), expected)
    torch.testing.assert_close(tn(x), _normalise(x, x, tn))
    if len(shape) == 4:
        bn = torch.nn.BatchNorm2d(shape[1], track_running_stats=False)
        with torch.no_grad():
            bn.weight.copy_(tn.weight)
            bn.bias.copy_(tn.bias)
        torch.testing.assert_close(tn(x), bn(x))
    # no running statistics: a second call with other data is not influenced
    tn(10 * torch.randn(shape) - 5)
    torch.testing.assert_close(tn(x), expected)
    assert not list(tn.buffers())


def test_task_norm_inside_reference_rows_uses_the_first_rows_only():
    tn = _task_norm(3)
    ref, query = torch.randn(5, 3, 4, 4), 3 * torch.randn(6, 3, 4, 4) + 2
    with reference_rows(tn, 5):
        out = tn(torch.cat([ref, query]))
        torch.testing.assert_close(out, _normalise(torch.cat([ref, query]), ref, tn))
        # the reference rows are normalised as batch norm alone would
        torch.testing.assert_close(out[:5], _normalise(ref, ref, tn))
        # a query row's output does not depend on the other query rows
        for i in range(len(query)):
            one = tn(torch.cat([ref, query[i:i + 1]]))[5:]
            torch.testing.assert_close(one, out[5 + i:6 + i])
        other = tn(torch.cat([ref, query[:2], 100 * torch.randn(4, 3, 4, 4)]))
        torch.testing.assert_close(other[5:7], out[5:7])
    # outside the block, statistics come from the whole batch again
    assert tn.n_ref is None
    torch.testing.assert_close(tn(torch.cat([ref, query])),
                               _normalise(torch.cat([ref, query]), torch.cat([ref, query]), tn))


def test_reference_rows_reaches_every_task_norm_and_is_restored_on_error():
    net = Conv4((8, 8), channels=3)
    norms = [m for m in net.modules() if isinstance(m, TaskNorm)]
    assert len(norms) == 4
    x = torch.randn(9, 8, 8)
    w = dict(net.named_parameters())
    with reference_rows(net, 4):
        assert all(m.n_ref == 4 for m in norms)
        out = net(x)
    torch.testing.assert_close(out, conv4_reference(w, x, (1, 8, 8), n_ref=4),
                               atol=1e-5, rtol=1e-4)
    assert all(m.n_ref is None for m in norms)
    with pytest.raises(RuntimeError):
        with reference_rows(net, 4):
            net(torch.randn(9, 7, 7))  # a wrong size fails inside the block
    assert all(m.n_ref is None for m in norms)


def _inner_outer(tn, n_ref):
    """A MAML-like task loss: one inner gradient step through TaskNorm, then a loss."""
    def inner(p, x):
        with reference_rows(tn, n_ref):
            out = torch.func.functional_call(
                tn, {"weight": p["weight"], "bias": p["bias"]},
                (x * p["scale"][None, :, None, None],))
        return (out ** 3).mean()

    def task(p, x):
        g = torch.func.grad(inner)(p, x)
        return inner({k: p[k] - 0.1 * g[k] for k in p}, x + 1)

    return task


@pytest.mark.parametrize("n_ref", [3, None])
def test_task_norm_second_order_gradient_under_vmap_equals_per_task_loop(n_ref):
    tn = TaskNorm(3).double()
    p = {"scale": torch.randn(3, dtype=torch.float64),
         "weight": torch.randn(3, dtype=torch.float64),
         "bias": torch.randn(3, dtype=torch.float64)}
    X = torch.randn(2, 5, 3, 3, 3, dtype=torch.float64)
    task = _inner_outer(tn, n_ref)
    loop = torch.func.grad(lambda p: task(p, X[0]) + task(p, X[1]))(p)
    # the engine enters exact mode for second-order steps under vmap, where the
    # native kernel's batched double backward is wrong (pytorch/functorch#534)
    with exact_batch_norm(tn):
        batched = torch.func.grad(
            lambda p: torch.func.vmap(task, in_dims=(None, 0))(p, X).sum())(p)
    for k in p:
        torch.testing.assert_close(batched[k], loop[k], atol=1e-10, rtol=1e-8)
    # outside exact mode the layer is the native kernel: equal outputs
    x = X[0].float()
    with exact_batch_norm(tn.float()):
        exact = tn(x)
    torch.testing.assert_close(tn(x), exact, atol=1e-5, rtol=1e-5)


def _image_tasks(classifier, size=8, random_state=0):
    X, y = make_images(6, 10, size=size, noise=0.5, random_state=random_state)
    tasks = make_fewshot_tasks(X, y, 3, 2, 3, 12, random_state=random_state)
    if classifier:
        return tasks
    # regression on images: the target is a fixed random linear function per task
    rng = np.random.RandomState(random_state)
    out = []
    for t in tasks:
        coef = rng.randn(size, size)
        out.append(Task(t.X_support, (t.X_support * coef).sum((1, 2)),
                        t.X_query, (t.X_query * coef).sum((1, 2))))
    return out


@pytest.mark.parametrize("cls", all_estimators(), ids=lambda c: c.__name__)
def test_conv4_prediction_of_a_row_does_not_depend_on_the_other_rows(cls):
    """DESIGN 5: batch norm never uses statistics of the query batch at prediction."""
    classifier = is_classifier(cls())
    tasks = _image_tasks(classifier)
    est = fast_instance(cls, module="conv4", module__channels=4, max_iter=3,
                        random_state=0).fit(tasks)
    t = _image_tasks(classifier, random_state=1)[0]
    a = est.adapt(t.X_support, t.y_support)
    Xq = np.concatenate([t.X_query, 5 * t.X_query[:2] + 3])  # rows unlike the others
    predict = a.predict_proba if classifier else a.predict
    together = predict(Xq)
    one_by_one = np.concatenate([predict(Xq[i:i + 1]) for i in range(len(Xq))])
    np.testing.assert_allclose(one_by_one, together, atol=1e-6, rtol=0)
    reverse = np.ascontiguousarray(Xq[::-1])
    np.testing.assert_allclose(predict(reverse), together[::-1], atol=1e-6, rtol=0)
    # the statistics are the support set's: another support set changes the predictions
    other = est.adapt(t.X_support * 2 + 1, t.y_support)
    assert not np.allclose((other.predict_proba if classifier else other.predict)(Xq),
                           together, atol=1e-6)


# ------------------------------------------------ MAML through batched conv weights
def _f64(a):
    return torch.tensor(np.asarray(a, dtype=np.float32), dtype=torch.float64)


def _maml_conv4_reference(est, theta, tasks, first_order):
    """MAMLClassifier's meta-gradient with conv4, a plain loop over tasks: batch norm
    with the support rows' statistics, in the inner loop and for the query rows."""
    image = est.module_.image_shape
    w = {k: v.clone().requires_grad_(True) for k, v in theta["w"].items()}
    total = 0.0
    for t in tasks:
        ys, yq, n_way = est._encode(t)
        xs, xq = _f64(t.X_support), _f64(t.X_query)
        ys, yq = torch.as_tensor(ys), torch.as_tensor(yq)
        e = conv4_reference(w, xs, image)
        protos = torch.stack([e[ys == c].mean(0) for c in range(n_way)])
        p = {**w, "@head.weight": 2 * protos, "@head.bias": -(protos ** 2).sum(1)}
        p = {k: v + 0 for k, v in p.items()}  # the head is a fast weight of its own

        def logits(p, x, n_ref=None):
            return conv4_reference(p, x, image, n_ref=n_ref) @ p["@head.weight"].T \
                + p["@head.bias"]

        for _ in range(est.inner_steps):
            loss = F.cross_entropy(logits(p, xs), ys)
            grads = torch.autograd.grad(loss, list(p.values()), create_graph=not first_order)
            p = {k: v - est.inner_lr * g for (k, v), g in zip(p.items(), grads)}
        out = logits(p, torch.cat([xs, xq]), n_ref=len(xs))[len(xs):]
        total = total + F.cross_entropy(out, yq)
    meta = total / len(tasks)
    return meta, dict(zip(w, torch.autograd.grad(meta, list(w.values()))))


@pytest.mark.parametrize("first_order", [True, False])
def test_vmapped_maml_meta_gradient_with_conv4_equals_per_task_loop(first_order):
    X, y = make_images(4, 8, size=8, noise=0.5)
    # two shapes: the engine pads them to one, with masks in the batch-norm statistics
    tasks = (make_fewshot_tasks(X, y, n_way=2, k_shot=2, n_query=2, n_tasks=2, random_state=0)
             + make_fewshot_tasks(X, y, n_way=3, k_shot=1, n_query=1, n_tasks=2,
                                  random_state=1))
    est = fast_instance(MAMLClassifier, module="conv4", module__channels=3, max_iter=2,
                        inner_steps=2, inner_lr=0.1, first_order=first_order,
                        random_state=0).fit(tasks)
    theta = {"w": {k: v.detach().double() for k, v in est.meta_params_["w"].items()}}
    ep = episodes(est, tasks)
    assert ep.padded  # two sizes and class counts: padded with masks, one vmap call
    grads, loss = est._step().outer_grad(theta, ep)
    ref_loss, ref = _maml_conv4_reference(est, theta, tasks, first_order)
    torch.testing.assert_close(loss, ref_loss, atol=1e-10, rtol=1e-10)
    assert set(grads["w"]) == set(ref)
    for k, g in ref.items():
        torch.testing.assert_close(grads["w"][k], g, atol=1e-8, rtol=1e-6)
    assert all(torch.isfinite(g).all() for g in ref.values())
    assert max(float(g.abs().max()) for g in ref.values()) > 1e-3


# --------------------------------------------------------------------- MLP
def test_mlp_flattens_nd_input():
    mlp = MLP(12, 2, (5,))
    x = torch.randn(4, 3, 2, 2)
    torch.testing.assert_close(mlp(x), mlp(x.reshape(4, 12)))
    assert mlp(x).shape == (4, 2)


def test_estimator_with_default_mlp_on_images_equals_flat_rows():
    X, y = make_images(6, 8, size=4, block=2, noise=0.5)
    kw = dict(n_tasks=10, random_state=0)
    img = make_fewshot_tasks(X, y, 3, 2, 2, **kw)
    flat = make_fewshot_tasks(X.reshape(len(X), -1), y, 3, 2, 2, **kw)
    a = fast_instance(ProtoNetClassifier, random_state=0).fit(img)
    b = fast_instance(ProtoNetClassifier, random_state=0).fit(flat)
    for k, v in a.meta_params_["w"].items():
        assert torch.equal(v, b.meta_params_["w"][k])
    t, tf = img[0], flat[0]
    np.testing.assert_array_equal(a.adapt(t.X_support, t.y_support).predict_proba(t.X_query),
                                  b.adapt(tf.X_support, tf.y_support).predict_proba(tf.X_query))


@pytest.mark.parametrize("cls", all_estimators(), ids=lambda c: c.__name__)
def test_adapt_and_predict_accept_reversed_views(cls):
    classifier = is_classifier(cls())
    tasks = _image_tasks(classifier)
    est = fast_instance(cls, max_iter=2, random_state=0).fit(tasks)
    t = tasks[0]
    a = est.adapt(np.ascontiguousarray(t.X_support[::-1]), t.y_support[::-1].copy())
    predict = a.predict_proba if classifier else a.predict
    expected = predict(np.ascontiguousarray(t.X_query[::-1]))
    np.testing.assert_allclose(predict(t.X_query[::-1]), expected)
    b = est.adapt(t.X_support[::-1], t.y_support[::-1])
    np.testing.assert_allclose((b.predict_proba if classifier else b.predict)(
        np.ascontiguousarray(t.X_query[::-1])), expected)
