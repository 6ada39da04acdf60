"""Behaviour every gradient-based estimator shares: adapt, pickling, reproducibility."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import load_iris

from skmeta import (FineTuneClassifier, FineTuneRegressor, MAMLClassifier, MAMLRegressor,
                    Task)
from skmeta.datasets import SinusoidTasks, make_fewshot_tasks, make_sinusoid_tasks

from .._instances import all_estimators, fast_instance

# every estimator of the registry, by task kind
REGRESSORS = [c for c in all_estimators() if not c._classifier]
CLASSIFIERS = [c for c in all_estimators() if c._classifier]


def _string_label_tasks(n_tasks=30, random_state=0):
    """Episodes with string labels and 2 or 3 classes per task."""
    X, y = load_iris(return_X_y=True)
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    return (make_fewshot_tasks(X, names, 2, 3, 4, n_tasks, random_state=random_state)
            + make_fewshot_tasks(X, names, 3, 2, 3, n_tasks, random_state=random_state + 1))


def _tasks(cls):
    if cls in REGRESSORS:
        return make_sinusoid_tasks(30, random_state=0)
    return _string_label_tasks()


def _support(cls):
    if cls in REGRESSORS:
        t = make_sinusoid_tasks(1, n_support=5, n_query=20, random_state=7)[0]
        return t.X_support, t.y_support, t.X_query
    X, y = load_iris(return_X_y=True)
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    idx = [0, 1, 2, 50, 51, 52]
    return X[idx], names[idx], X[[10, 60]]


ALL = REGRESSORS + CLASSIFIERS


@pytest.mark.parametrize("cls", ALL)
def test_adapt_returns_new_estimator_and_leaves_meta_state_untouched(cls):
    est = fast_instance(cls, max_iter=5, random_state=0).fit(_tasks(cls))
    before = {k: v.clone() for k, v in est.meta_params_["w"].items()}
    Xs, ys, Xq = _support(cls)
    a = est.adapt(Xs, ys)
    assert type(a) is cls and a is not est
    assert not hasattr(est, "adapted_")
    for k, v in est.meta_params_["w"].items():
        assert torch.equal(v, before[k])
    # meta-parameters are shared, not copied
    assert a.meta_params_ is est.meta_params_
    # adapting to A then B gives B what a fresh adapt gives
    other = _support(cls)
    b1 = a.adapt(Xq, a.predict(Xq)) if cls in CLASSIFIERS else a.adapt(Xq, np.sin(Xq[:, 0]))
    b2 = est.adapt(Xq, b1.predict(Xq)) if cls in CLASSIFIERS else est.adapt(Xq, np.sin(Xq[:, 0]))
    np.testing.assert_allclose(b1._forward(other[0]), b2._forward(other[0]))
    if cls in CLASSIFIERS:
        assert set(a.classes_) == set(ys)
        assert set(a.predict(Xq)) <= set(ys)
        proba = a.predict_proba(Xq)
        np.testing.assert_allclose(proba.sum(1), 1.0)
    else:
        assert a.predict(Xq).shape == (len(Xq),)


@pytest.mark.parametrize("cls", ALL)
def test_random_state_makes_fit_and_adapt_reproducible(cls):
    Xs, ys, Xq = _support(cls)
    preds = []
    for _ in range(2):
        est = fast_instance(cls, max_iter=8, random_state=3).fit(_tasks(cls))
        preds.append(est.adapt(Xs, ys)._forward(Xq))
    np.testing.assert_array_equal(preds[0], preds[1])
    other = fast_instance(cls, max_iter=8, random_state=4).fit(_tasks(cls))
    assert not np.allclose(other.adapt(Xs, ys)._forward(Xq), preds[0])


@pytest.mark.parametrize("cls", ALL)
def test_pickle_round_trip_predicts_the_same(cls):
    est = fast_instance(cls, max_iter=5, random_state=0).fit(_tasks(cls))
    Xs, ys, Xq = _support(cls)
    a = est.adapt(Xs, ys)
    a2 = pickle.loads(pickle.dumps(a))
    np.testing.assert_array_equal(a2.predict(Xq), a.predict(Xq))
    # the optimizer state survives, so meta-training can continue
    est2 = pickle.loads(pickle.dumps(est))
    est2.partial_fit(_tasks(cls))
    assert est2.n_iter_ == 10


def test_model_fitted_on_gpu_loads_on_cpu_only_machine(monkeypatch):
    """A pickle written on a CUDA machine unpickles and predicts without a GPU."""
    est = fast_instance(MAMLRegressor, max_iter=3, random_state=0).fit(_tasks(MAMLRegressor))
    Xs, ys, Xq = _support(MAMLRegressor)
    expected = est.adapt(Xs, ys).predict(Xq)
    state = est.__getstate__()
    state["device_"] = "cuda:0"  # what a GPU fit records
    # tensors in the pickle are saved on the CPU, as torch.load(map_location="cpu") gives
    blob = pickle.dumps(state)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    loaded = MAMLRegressor.__new__(MAMLRegressor)
    with pytest.warns(UserWarning, match="no GPU"):
        loaded.__setstate__(pickle.loads(blob))
    assert loaded.device_ == torch.device("cpu")
    np.testing.assert_allclose(loaded.adapt(Xs, ys).predict(Xq), expected)


@pytest.mark.parametrize("cls", ALL)
def test_partial_fit_and_warm_start_continue(cls):
    tasks = _tasks(cls)
    est = fast_instance(cls, max_iter=4, random_state=0)
    est.partial_fit(tasks)
    est.partial_fit(tasks)
    assert est.n_iter_ == 8 and len(est.history_) == 8
    ws = fast_instance(cls, max_iter=4, random_state=0, warm_start=True)
    ws.fit(tasks).fit(tasks)
    assert ws.n_iter_ == 8
    cold = fast_instance(cls, max_iter=4, random_state=0)
    cold.fit(tasks).fit(tasks)
    assert cold.n_iter_ == 4


@pytest.mark.parametrize("cls", ALL)
def test_module_class_and_routing(cls):
    class Net(torch.nn.Module):
        def __init__(self, in_features, width=3, out_features=None):
            super().__init__()
            self.body = torch.nn.Linear(in_features, width)
            self.out = torch.nn.Linear(width, out_features) if out_features else None

        def forward(self, x):
            h = torch.relu(self.body(x))
            return self.out(h) if self.out is not None else h

    est = fast_instance(cls, module=Net, module__width=7, random_state=0)
    assert est.get_params()["module__width"] == 7
    est2 = clone(est).set_params(module__width=5)
    assert est2.module__width == 5 and est.module__width == 7
    est2.fit(_tasks(cls))
    assert est2.module_.body.out_features == 5
    Xs, ys, Xq = _support(cls)
    assert len(est2.adapt(Xs, ys).predict(Xq)) == len(Xq)
    # an instance is copied, never trained in place
    inst = Net(Xs.shape[1], 4, None if cls in CLASSIFIERS else 1)
    w0 = inst.body.weight.detach().clone()
    fast_instance(cls, module=inst, random_state=0).fit(_tasks(cls))
    assert torch.equal(inst.body.weight, w0)


@pytest.mark.parametrize("cls", ALL)
def test_every_task_form_and_varying_sizes(cls):
    tasks = _tasks(cls)
    t0, t1, t2, t3 = tasks[:4]
    forms = [
        t0,
        (t1.X_support, t1.y_support, t1.X_query, t1.y_query),
        (np.vstack([t2.X_support, t2.X_query]), np.concatenate([t2.y_support, t2.y_query])),
        {"X_support": t3.X_support, "y_support": t3.y_support,
         "X_query": t3.X_query[:2], "y_query": t3.y_query[:2]},
    ]
    est = fast_instance(cls, max_iter=3, random_state=0).fit(forms)
    assert est.n_iter_ == 3 and est.n_features_in_ == t0.X_support.shape[1]


@pytest.mark.parametrize("cls", CLASSIFIERS)
def test_classifier_array_forms(cls):
    X, y = load_iris(return_X_y=True)
    labels = np.array(["a", "b", "c"])[y]
    est = fast_instance(cls, max_iter=10, random_state=0).fit(X, labels)
    assert est.classes_.tolist() == ["a", "b", "c"]
    assert est.score(X, labels) > 0.7
    groups = np.arange(len(X)) % 10
    est_g = fast_instance(cls, max_iter=10, random_state=0).fit(X, labels, groups=groups)
    assert set(est_g.predict(X)) <= {"a", "b", "c"}
    with pytest.raises(ValueError, match="not in classes"):
        fast_instance(cls).partial_fit(X, labels, classes=["a", "b"])


def test_classifier_without_adapt_explains_itself():
    est = fast_instance(MAMLClassifier, random_state=0).fit(_string_label_tasks())
    with pytest.raises(ValueError, match="adapt"):
        est.predict(np.zeros((2, 4)))


def test_regressor_fits_a_sampler_and_multioutput_targets():
    est = fast_instance(MAMLRegressor, max_iter=3, random_state=0).fit(SinusoidTasks())
    assert est.n_iter_ == 3
    rng = np.random.RandomState(0)
    tasks = [Task(rng.rand(6, 2), rng.rand(6, 3), rng.rand(4, 2), rng.rand(4, 3))
             for _ in range(5)]
    est = fast_instance(MAMLRegressor, max_iter=3, random_state=0).fit(tasks)
    assert est.adapt(rng.rand(5, 2), rng.rand(5, 3)).predict(rng.rand(7, 2)).shape == (7, 3)


@pytest.mark.parametrize("options", [{"first_order": True}, {"learn_inner_lr": True},
                                     {"adapt_layers": "head"}])
@pytest.mark.parametrize("cls", [MAMLRegressor, MAMLClassifier])
def test_maml_options_fit_adapt_predict(cls, options):
    est = fast_instance(cls, random_state=0, **options).fit(_tasks(cls))
    if options.get("learn_inner_lr"):
        assert set(est.meta_params_["lr"]) >= set(est.meta_params_["w"])
    Xs, ys, Xq = _support(cls)
    assert len(est.adapt(Xs, ys).predict(Xq)) == len(Xq)


def _query_mse(est, tasks):
    return np.mean([np.mean((est.adapt(t.X_support, t.y_support).predict(t.X_query)
                             - t.y_query) ** 2) for t in tasks])


@pytest.mark.slow  # a learning test of several seconds: `make test-slow`
def test_adaptation_lowers_query_mse_on_sinusoids():
    """A short meta-training: adapting on K=10 beats the unadapted meta-model."""
    train = SinusoidTasks(10, 10)
    test = make_sinusoid_tasks(50, n_support=10, n_query=50, random_state=1)
    est = MAMLRegressor(max_iter=600, adapt_steps=10, compile=False,
                        random_state=0).fit(train)
    unadapted = np.mean([np.mean((est.predict(t.X_query) - t.y_query) ** 2) for t in test])
    adapted = _query_mse(est, test)
    assert adapted < 0.7 * unadapted
    # and it beats the fine-tune baseline trained as long
    ft = FineTuneRegressor(max_iter=600, compile=False, random_state=0).fit(train)
    assert adapted < _query_mse(ft, test)
