"""Siamese: mean learned pair similarity to each class's support examples, and learning."""

import pickle

import numpy as np
import pytest
import torch

from skmeta import EpisodeSampler, SiameseClassifier
from skmeta.datasets import make_fewshot_tasks

from .._instances import fast_instance
from ._images import embeddings, make_images, make_tabular, mean_accuracy, split_classes


def similarities(est, X_support, X_query):
    """``sigmoid(|e_query - e_support| @ a + b)`` for every (query, support) pair, from
    ``module_`` and ``meta_params_`` (conv4: batch norm with support statistics)."""
    es, eq = embeddings(est, X_support, X_query)
    a = est.meta_params_["w"]["@pair.weight"].double()
    b = est.meta_params_["w"]["@pair.bias"].double()
    return torch.sigmoid((eq[:, None] - es[None]).abs() @ a + b).numpy()


def reference(est, X_support, y_support, X_query):
    """``(classes, mean similarity per class)``."""
    sim = similarities(est, X_support, X_query)
    classes = np.unique(y_support)
    mean = np.stack([sim[:, y_support == c].mean(1) for c in classes], axis=1)
    return classes, mean


def _tabular():
    X, y = make_tabular(12, 10, n_noise=4)
    return make_fewshot_tasks(X, y, 3, 2, 3, 20, random_state=0), (X, y)


def _images():
    X, y = make_images(12, 8, size=12, noise=0.5)
    return make_fewshot_tasks(X, y, 3, 2, 3, 20, random_state=0), (X, y)


def _fit(module, max_iter=10, random_state=0, data=None):
    tasks, arrays = data or (_images() if module else _tabular())
    extra = {"module__channels": 4} if module else {}
    est = fast_instance(SiameseClassifier, module=module, max_iter=max_iter,
                        random_state=random_state, **extra).fit(tasks)
    return est, arrays


def _support(X, y, k, classes=("c03", "c00", "c05")):
    """``k`` support and 3 query rows per class; uneven shots when ``k`` is a tuple."""
    ks = k if isinstance(k, tuple) else (k,) * len(classes)
    sup = np.concatenate([np.flatnonzero(y == c)[:n] for c, n in zip(classes, ks)])
    qry = np.concatenate([np.flatnonzero(y == c)[6:9] for c in classes])
    return X[sup], y[sup], X[qry], y[qry]


@pytest.mark.parametrize("k", [3, (1, 3, 2)])
@pytest.mark.parametrize("module", [None, "conv4"])
def test_predict_is_the_class_with_the_highest_mean_similarity(module, k):
    est, (X, y) = _fit(module)
    Xs, ys, Xq, _ = _support(X, y, k)
    a = est.adapt(Xs, ys)
    classes, mean = reference(est, Xs, ys, Xq)
    assert a.classes_.tolist() == classes.tolist() == ["c00", "c03", "c05"]
    proba = a.predict_proba(Xq)
    # the mean similarities, normalised to sum to one; columns follow classes_
    np.testing.assert_allclose(proba, mean / mean.sum(1, keepdims=True), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(proba.sum(1), 1.0)
    np.testing.assert_array_equal(a.predict(Xq), classes[mean.argmax(1)])


@pytest.mark.parametrize("module", [None, "conv4"])
def test_one_shot_predicts_the_most_similar_support_example(module):
    data = _images() if module else _tabular()
    X, y = data[1]
    Xs, ys, Xq, _ = _support(X, y, 1, classes=("c04", "c01", "c07", "c02"))
    for max_iter in (0, 10):
        est, _ = _fit(module, max_iter=max_iter, data=data)
        sim = similarities(est, Xs, Xq)
        np.testing.assert_array_equal(est.adapt(Xs, ys).predict(Xq), ys[sim.argmax(1)])
    # untrained, the similarity falls with the L1 distance: the nearest neighbour rule
    est, _ = _fit(module, max_iter=0, data=data)
    es, eq = embeddings(est, Xs, Xq)
    l1 = (eq[:, None] - es[None]).abs().sum(-1).numpy()
    np.testing.assert_array_equal(est.adapt(Xs, ys).predict(Xq), ys[l1.argmin(1)])


def test_adapt_stores_the_support_set_and_never_changes_meta_params():
    est, (X, y) = _fit("conv4")
    before = {k: v.clone() for k, v in est.meta_params_["w"].items()}
    Xs, ys, Xq, _ = _support(X, y, 2)
    a = est.adapt(Xs, ys)
    assert a.meta_params_ is est.meta_params_ and not hasattr(est, "adapted_")
    assert set(est.meta_params_["w"]) == set(before)
    for k, v in before.items():
        assert torch.equal(est.meta_params_["w"][k], v)
        assert torch.equal(a.adapted_[k], v)  # no gradient steps
    assert torch.equal(a.adapted_["@support"], torch.as_tensor(Xs, dtype=torch.float32))
    onehot = a.adapted_["@onehot"].numpy()
    np.testing.assert_array_equal(onehot, (ys[:, None] == a.classes_[None]).astype(float))
    # adapting the adapted estimator to another task equals a fresh adapt
    Xs2, ys2, _, _ = _support(X, y, 1, classes=("c08", "c09"))
    np.testing.assert_array_equal(a.adapt(Xs2, ys2).predict_proba(Xq),
                                  est.adapt(Xs2, ys2).predict_proba(Xq))
    for k, v in before.items():
        assert torch.equal(est.meta_params_["w"][k], v)


def test_siamese_conv4_learns_on_held_out_image_classes():
    X, y = make_images(40, 20)
    train_classes, test_classes = split_classes(y, 25)
    train = EpisodeSampler(X, y, 5, 1, 5, classes=train_classes)
    test = make_fewshot_tasks(X, y, 5, 1, 5, 40, classes=test_classes, random_state=1)
    params = dict(module="conv4", module__channels=8, meta_batch_size=4, meta_lr=3e-3,
                  compile=False, random_state=0)
    untrained = SiameseClassifier(max_iter=0, **params).fit(train)
    trained = SiameseClassifier(max_iter=100, **params).fit(train)
    before, after = mean_accuracy(untrained, test), mean_accuracy(trained, test)
    assert after > before + 0.15, (before, after)


def test_siamese_mlp_learns_on_held_out_tabular_classes():
    """Trained on 5-way episodes, tested on 2- and 3-way tasks of held-out classes."""
    X, y = make_tabular(40, 20)
    train_classes, test_classes = split_classes(y, 25)
    train = EpisodeSampler(X, y, 5, 1, 5, classes=train_classes)
    test = (make_fewshot_tasks(X, y, 2, 1, 5, 30, classes=test_classes, random_state=3)
            + make_fewshot_tasks(X, y, 3, 1, 5, 30, classes=test_classes, random_state=4))
    params = dict(hidden_layer_sizes=(32,), meta_batch_size=4, compile=False, random_state=0)
    untrained = SiameseClassifier(max_iter=0, **params).fit(train)
    trained = SiameseClassifier(max_iter=200, **params).fit(train)
    before, after = mean_accuracy(untrained, test), mean_accuracy(trained, test)
    assert after > before + 0.2, (before, after)


def test_pickled_adapted_conv4_siamese_predicts_the_same():
    est, (X, y) = _fit("conv4")
    Xs, ys, Xq, _ = _support(X, y, 2)
    a = est.adapt(Xs, ys)
    b = pickle.loads(pickle.dumps(a))
    np.testing.assert_array_equal(b.predict_proba(Xq), a.predict_proba(Xq))
    np.testing.assert_array_equal(b.predict(Xq), a.predict(Xq))
    e2 = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(e2.adapt(Xs, ys).predict_proba(Xq), a.predict_proba(Xq))


@pytest.mark.parametrize("module", [None, "conv4"])
def test_random_state_makes_fit_reproducible(module):
    data = _images() if module else _tabular()
    a, b, c = (_fit(module, 4, seed, data)[0] for seed in (3, 3, 4))
    assert set(a.meta_params_["w"]) == set(b.meta_params_["w"])
    for k, v in a.meta_params_["w"].items():
        assert torch.equal(v, b.meta_params_["w"][k])
    assert any(not torch.equal(v, c.meta_params_["w"][k])
               for k, v in a.meta_params_["w"].items())
