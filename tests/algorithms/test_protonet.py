"""ProtoNet: the nearest prototype in the learned embedding, and that it learns."""

import pickle

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.special import softmax

from skmeta import EpisodeSampler, ProtoNetClassifier
from skmeta.datasets import make_fewshot_tasks

from .._instances import fast_instance
from ._images import embeddings, make_images, make_tabular, mean_accuracy, split_classes


def reference(est, X_support, y_support, X_query):
    """``(classes, logits, sq_distances)``: prototypes are the class means of the
    support embeddings (of unit-normalised embeddings for cosine)."""
    es, eq = embeddings(est, X_support, X_query)
    classes = np.unique(y_support)
    if est.distance == "cosine":
        es, eq = F.normalize(es, dim=1), F.normalize(eq, dim=1)
    protos = torch.stack([es[torch.as_tensor(y_support == c)].mean(0) for c in classes])
    sq = ((eq[:, None] - protos[None]) ** 2).sum(-1)
    if est.distance == "cosine":
        scale = est.meta_params_["w"]["@scale"].double()
        logits = scale * F.normalize(eq, dim=1) @ F.normalize(protos, dim=1).T
    else:
        logits = -sq
    return classes, logits.numpy(), sq.numpy()


def _tabular_tasks():
    X, y = make_tabular(12, 10, n_noise=4)
    return make_fewshot_tasks(X, y, 3, 2, 3, 20, random_state=0), (X, y)


def _image_tasks():
    X, y = make_images(12, 8, size=12, noise=0.5)
    return make_fewshot_tasks(X, y, 3, 2, 3, 20, random_state=0), (X, y)


def _support(X, y, classes, k=2, order=(2, 0, 1)):
    """A support set of ``classes`` with string labels, the classes not in sorted order,
    and query rows of the same classes."""
    rows = [np.flatnonzero(y == classes[i]) for i in order]
    sup = np.concatenate([r[:k] for r in rows])
    qry = np.concatenate([r[k:k + 3] for r in rows])
    names = dict(zip(classes, ["zeta", "alpha", "mid"]))
    return (X[sup], np.array([names[c] for c in y[sup]]),
            X[qry], np.array([names[c] for c in y[qry]]))


@pytest.mark.parametrize("distance", ["euclidean", "cosine"])
@pytest.mark.parametrize("module", [None, "conv4"])
def test_adapt_computes_prototypes_and_predicts_the_nearest(module, distance):
    tasks, (X, y) = _image_tasks() if module == "conv4" else _tabular_tasks()
    extra = {"module__channels": 4} if module else {}
    est = fast_instance(ProtoNetClassifier, module=module, distance=distance, max_iter=10,
                        random_state=0, **extra).fit(tasks)
    before = {k: v.clone() for k, v in est.meta_params_["w"].items()}
    Xs, ys, Xq, yq = _support(X, y, np.unique(y)[:3])
    a = est.adapt(Xs, ys)
    # no gradient steps: the embedding of the adapted model is the meta-learned one
    for k, v in est.meta_params_["w"].items():
        assert torch.equal(v, before[k])
        assert torch.equal(a.adapted_[k], v)
    assert "@head.weight" in a.adapted_ and "@head.weight" not in est.meta_params_["w"]
    classes, logits, sq = reference(est, Xs, ys, Xq)
    assert a.classes_.tolist() == classes.tolist() == ["alpha", "mid", "zeta"]
    proba = a.predict_proba(Xq)
    np.testing.assert_allclose(proba, softmax(logits, axis=1), atol=1e-6, rtol=1e-5)
    np.testing.assert_allclose(proba.sum(1), 1.0)
    if distance == "euclidean":  # the nearest prototype by squared Euclidean distance
        np.testing.assert_array_equal(a.predict(Xq), classes[sq.argmin(1)])
    else:
        np.testing.assert_array_equal(a.predict(Xq), classes[logits.argmax(1)])
    # the support rows themselves, as query rows
    np.testing.assert_allclose(a.predict_proba(Xs),
                               softmax(reference(est, Xs, ys, Xs)[1], axis=1),
                               atol=1e-6, rtol=1e-5)


def test_cosine_scale_is_a_learned_meta_parameter():
    tasks, _ = _tabular_tasks()
    est = fast_instance(ProtoNetClassifier, distance="cosine", max_iter=0,
                        random_state=0).fit(tasks)
    assert float(est.meta_params_["w"]["@scale"]) == 10.0
    est.set_params(max_iter=20, meta_lr=0.05).fit(tasks)
    assert float(est.meta_params_["w"]["@scale"]) != 10.0
    euclid = fast_instance(ProtoNetClassifier, max_iter=1, random_state=0).fit(tasks)
    assert not any(k.startswith("@") for k in euclid.meta_params_["w"])


def test_more_ways_in_training_than_at_test():
    """Fit on 6-way episodes of the training classes (array form, n_way=6), adapt to
    2- and 3-way tasks of held-out classes with string labels."""
    X, y = make_tabular(40, 20)
    train_classes, test_classes = split_classes(y, 25)
    train = np.isin(y, train_classes)
    test = (make_fewshot_tasks(X, y, 2, 1, 5, 30, classes=test_classes, random_state=3)
            + make_fewshot_tasks(X, y, 3, 1, 5, 30, classes=test_classes, random_state=4))
    params = dict(hidden_layer_sizes=(32,), n_way=6, k_shot=1, n_query=5,
                  meta_batch_size=4, compile=False, random_state=0)
    untrained = ProtoNetClassifier(max_iter=0, **params).fit(X[train], y[train])
    trained = ProtoNetClassifier(max_iter=150, **params).fit(X[train], y[train])
    assert trained.classes_.tolist() == train_classes.tolist()  # adapted to the arrays
    for t in (test[0], test[-1]):
        a = trained.adapt(t.X_support, t.y_support)
        assert a.classes_.tolist() == sorted(set(t.y_support))
        assert a.predict_proba(t.X_query).shape == (len(t.X_query), len(a.classes_))
        assert set(a.predict(t.X_query)) <= set(t.y_support)
    before, after = mean_accuracy(untrained, test), mean_accuracy(trained, test)
    assert after > before + 0.15, (before, after)


@pytest.mark.slow  # a learning test of several seconds: `make test-slow`
@pytest.mark.parametrize("flat", [False, True])
def test_protonet_conv4_learns_on_held_out_image_classes(flat):
    """5-way 1-shot episodes of synthetic images: a short meta-training beats the
    untrained embedding (same seed) on classes never seen in training."""
    X, y = make_images(40, 20)
    train_classes, test_classes = split_classes(y, 25)
    extra = {}
    if flat:
        X = X.reshape(len(X), -1)
        extra["module__image_shape"] = (16, 16)
    train = EpisodeSampler(X, y, 5, 1, 5, classes=train_classes)
    test = make_fewshot_tasks(X, y, 5, 1, 5, 40, classes=test_classes, random_state=1)
    params = dict(module="conv4", module__channels=8, meta_batch_size=4, meta_lr=3e-3,
                  compile=False, random_state=0, **extra)
    untrained = ProtoNetClassifier(max_iter=0, **params).fit(train)
    trained = ProtoNetClassifier(max_iter=100, **params).fit(train)
    before, after = mean_accuracy(untrained, test), mean_accuracy(trained, test)
    assert after > before + 0.3, (before, after)


@pytest.mark.parametrize("distance", ["euclidean", "cosine"])
def test_pickled_adapted_conv4_protonet_predicts_the_same(distance):
    tasks, (X, y) = _image_tasks()
    est = fast_instance(ProtoNetClassifier, module="conv4", module__channels=4,
                        distance=distance, random_state=0).fit(tasks)
    Xs, ys, Xq, _ = _support(X, y, np.unique(y)[3:6])
    a = est.adapt(Xs, ys)
    b = pickle.loads(pickle.dumps(a))
    np.testing.assert_array_equal(b.predict_proba(Xq), a.predict_proba(Xq))
    np.testing.assert_array_equal(b.predict(Xq), a.predict(Xq))
    # the unpickled meta-model adapts to a new task as the original does
    e2 = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(e2.adapt(Xs, ys).predict_proba(Xq), a.predict_proba(Xq))


@pytest.mark.parametrize("module, distance", [(None, "euclidean"), (None, "cosine"),
                                              ("conv4", "euclidean")])
def test_random_state_makes_fit_reproducible(module, distance):
    tasks, _ = _image_tasks() if module else _tabular_tasks()
    extra = {"module__channels": 4} if module else {}

    def fit(seed):
        return fast_instance(ProtoNetClassifier, module=module, distance=distance,
                             max_iter=4, random_state=seed, **extra).fit(tasks)

    a, b, c = fit(3), fit(3), fit(4)
    assert set(a.meta_params_["w"]) == set(b.meta_params_["w"])
    for k, v in a.meta_params_["w"].items():
        assert torch.equal(v, b.meta_params_["w"][k])
    assert any(not torch.equal(v, c.meta_params_["w"][k])
               for k, v in a.meta_params_["w"].items())
