"""Bad input: a clear error naming the task or argument, before any training starts.

DESIGN.md section 7. Every bad task is put LAST in its list, so an estimator
that validated lazily (per meta-batch) would have trained before failing; the
tests check that a fresh estimator is left untrained and that a fitted one
loses nothing.
"""

import copy

import numpy as np
import pytest
import torch

from skmeta import (
    EpisodeSampler,
    FineTuneClassifier,
    FineTuneRegressor,
    MAMLClassifier,
    MAMLRegressor,
    Task,
)
from skmeta.tasks import check_tasks

from ._instances import all_estimators, fast_instance

# every estimator of the registry, by task kind
REGRESSORS = [c for c in all_estimators() if not c._classifier]
CLASSIFIERS = [c for c in all_estimators() if c._classifier]
ESTIMATORS = REGRESSORS + CLASSIFIERS

N_TASKS = 6
LAST = N_TASKS - 1


def _is_classifier(cls):
    return cls in CLASSIFIERS


def _task(classifier, seed, n_support=6, n_query=4, n_features=2):
    rng = np.random.RandomState(seed)
    Xs, Xq = rng.rand(n_support, n_features), rng.rand(n_query, n_features)
    if classifier:
        ys = np.resize(["a", "b"], n_support)
        yq = np.resize(["b", "a"], n_query)
    else:
        ys, yq = rng.rand(n_support), rng.rand(n_query)
    return Xs, ys, Xq, yq


def _tasks(classifier, n=N_TASKS):
    return [_task(classifier, seed) for seed in range(n)]


def _arrays(classifier, n=24, n_features=2):
    rng = np.random.RandomState(0)
    X = rng.rand(n, n_features)
    y = np.resize([0, 1, 2], n) if classifier else rng.rand(n)
    return X, y


def assert_untrained(est):
    """A fresh estimator that failed validation holds no (partial) training."""
    assert not hasattr(est, "meta_params_")
    assert not hasattr(est, "module_")
    assert getattr(est, "n_iter_", 0) == 0
    assert len(getattr(est, "history_", [])) == 0


# ------------------------------------------------------------ bad task lists
def _with_float_labels(classifier, Xs, ys, Xq, yq):
    """Classifier labels as floats, so that NaN and inf can be put in them."""
    if classifier:
        ys = (np.asarray(ys) == "a").astype(float)
        yq = (np.asarray(yq) == "a").astype(float)
    return Xs, ys, Xq, yq


def _bad_y(which, value, row):
    """Put ``value`` in row ``row`` of y_support (which=1) or y_query (which=3)."""
    def make(classifier, *task):
        task = list(_with_float_labels(classifier, *task))
        task[which] = _set(task[which], value, (row,))
        return tuple(task)
    return make


def _set(arr, value, where=(0, 0)):
    arr = np.array(arr, dtype=float)
    arr[where if arr.ndim == 2 else where[0]] = value
    return arr


def _corrupt(name):
    """(make_bad_task(classifier, Xs, ys, Xq, yq), exception type, message pattern)."""
    L = LAST
    corruptions = {
        "empty_support": (lambda c, Xs, ys, Xq, yq: (Xs[:0], ys[:0], Xq, yq),
                          ValueError, rf"task {L}: the support set is empty"),
        "empty_support_pool": (lambda c, Xs, ys, Xq, yq: (np.zeros((0, 2)), ys[:0]),
                               ValueError, rf"task {L}: the support set is empty"),
        "n_features_support": (lambda c, Xs, ys, Xq, yq: (np.hstack([Xs, Xs[:, :1]]), ys,
                                                          np.hstack([Xq, Xq[:, :1]]), yq),
                               ValueError, rf"task {L}: X_support has features of shape "
                               r"\(3,\).*n_features"),
        "n_features_query": (lambda c, Xs, ys, Xq, yq: (Xs, ys, np.hstack([Xq, Xq[:, :1]]), yq),
                             ValueError, rf"task {L}: X_query has features of shape "
                             r"\(3,\).*n_features"),
        "nan_X_support": (lambda c, Xs, ys, Xq, yq: (_set(Xs, np.nan, (3, 1)), ys, Xq, yq),
                          ValueError, rf"task {L}: X_support contains NaN or infinity"),
        "inf_X_support": (lambda c, Xs, ys, Xq, yq: (_set(Xs, np.inf, (5, 0)), ys, Xq, yq),
                          ValueError, rf"task {L}: X_support contains NaN or infinity"),
        "nan_X_query": (lambda c, Xs, ys, Xq, yq: (Xs, ys, _set(Xq, np.nan, (2, 0)), yq),
                        ValueError, rf"task {L}: X_query contains NaN or infinity"),
        "neginf_X_query": (lambda c, Xs, ys, Xq, yq: (Xs, ys, _set(Xq, -np.inf, (3, 1)), yq),
                           ValueError, rf"task {L}: X_query contains NaN or infinity"),
        "nan_X_pool": (lambda c, Xs, ys, Xq, yq: (_set(Xs, np.nan, (5, 1)), ys),
                       ValueError, rf"task {L}: X_support contains NaN or infinity"),
        "nan_y_support": (_bad_y(1, np.nan, 0), ValueError,
                          rf"task {L}: y_support contains NaN or infinity"),
        "inf_y_support": (_bad_y(1, np.inf, 4), ValueError,
                          rf"task {L}: y_support contains NaN or infinity"),
        "nan_y_query": (_bad_y(3, np.nan, 0), ValueError,
                        rf"task {L}: y_query contains NaN or infinity"),
        "inf_y_query": (_bad_y(3, -np.inf, 3), ValueError,
                        rf"task {L}: y_query contains NaN or infinity"),
        "1d_X_support": (lambda c, Xs, ys, Xq, yq: (Xs[:, 0], ys, Xq, yq),
                         ValueError, rf"task {L}: X_support is 1-D"),
        "1d_X_query": (lambda c, Xs, ys, Xq, yq: (Xs, ys, Xq[:, 0], yq),
                       ValueError, rf"task {L}: X_query is 1-D"),
        "0d_X_support": (lambda c, Xs, ys, Xq, yq: (5.0, ys, Xq, yq),
                         ValueError, rf"task {L}: X_support is 0-D"),
        "0d_array_X_support": (lambda c, Xs, ys, Xq, yq: (np.array(5.0), ys, Xq, yq),
                               ValueError, rf"task {L}: X_support is 0-D"),
        "1d_X_pool": (lambda c, Xs, ys, Xq, yq: (Xs[:, 0], ys),
                      ValueError, rf"task {L}: X_support is 1-D"),
        "short_y_support": (lambda c, Xs, ys, Xq, yq: (Xs, ys[:-1], Xq, yq),
                            ValueError, rf"task {L}: y_support has 5 values but X has 6 rows"),
        "long_y_query": (lambda c, Xs, ys, Xq, yq: (Xs, ys, Xq, np.concatenate([yq, yq[:1]])),
                         ValueError, rf"task {L}: y_query has 5 values but X has 4 rows"),
        "short_y_pool": (lambda c, Xs, ys, Xq, yq: (Xs, ys[:-2]),
                         ValueError, rf"task {L}: y_support has 4 values but X has 6 rows"),
        "scalar_y": (lambda c, Xs, ys, Xq, yq: (Xs, ys[0], Xq, yq),
                     ValueError, rf"task {L}: y_support has a scalar"),
        "pool_of_one_row": (lambda c, Xs, ys, Xq, yq: (Xs[:1], ys[:1]),
                            # a classifier's one-row pool also has a single class
                            ValueError, rf"task {L}: (a pool .* needs at least 2 rows|"
                                        r"y_support has a single class)"),
        "query_without_y": (lambda c, Xs, ys, Xq, yq: {"X_support": Xs, "y_support": ys,
                                                       "X_query": Xq},
                            ValueError, rf"task {L}: X_query and y_query must be given together"),
        "int": (lambda c, *a: 7, TypeError, rf"task {L}: expected a Task.*got int"),
        "none": (lambda c, *a: None, TypeError, rf"task {L}: expected a Task.*got NoneType"),
        "3_tuple": (lambda c, Xs, ys, Xq, yq: (Xs, ys, Xq), TypeError,
                    rf"task {L}: expected a Task.*got tuple of length 3"),
        "5_list": (lambda c, Xs, ys, Xq, yq: [Xs, ys, Xq, yq, yq], TypeError,
                   rf"task {L}: expected a Task.*got list of length 5"),
        "array": (lambda c, Xs, ys, Xq, yq: Xs, TypeError,
                  rf"task {L}: expected a Task.*got ndarray"),
        "dict_wrong_keys": (lambda c, Xs, ys, Xq, yq: {"X": Xs, "y": ys}, ValueError,
                            rf"task {L}: a task dict takes the keys.*"
                            r"missing \['X_support', 'y_support'\], unknown \['X', 'y'\]"),
        "dict_extra_key": (lambda c, Xs, ys, Xq, yq: {"X_support": Xs, "y_support": ys,
                                                      "weights": ys}, ValueError,
                           rf"task {L}: a task dict takes the keys.*unknown \['weights'\]"),
    }
    return corruptions[name]


CORRUPTIONS = [
    "empty_support", "empty_support_pool", "n_features_support", "n_features_query",
    "nan_X_support", "inf_X_support", "nan_X_query", "neginf_X_query", "nan_X_pool",
    "nan_y_support", "inf_y_support", "nan_y_query", "inf_y_query",
    "1d_X_support", "1d_X_query", "0d_X_support", "0d_array_X_support",
    "1d_X_pool", "short_y_support", "long_y_query",
    "short_y_pool", "scalar_y", "pool_of_one_row", "query_without_y",
    "int", "none", "3_tuple", "5_list", "array", "dict_wrong_keys", "dict_extra_key",
]


def _bad_list(cls, name):
    classifier = _is_classifier(cls)
    make_bad, exc, match = _corrupt(name)
    tasks = _tasks(classifier)
    tasks[LAST] = make_bad(classifier, *tasks[LAST])
    return tasks, exc, match


@pytest.mark.parametrize("name", CORRUPTIONS)
@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_bad_task_raises_before_training(cls, name):
    tasks, exc, match = _bad_list(cls, name)
    est = fast_instance(cls, random_state=0)
    with pytest.raises(exc, match=match):
        est.fit(tasks)
    assert_untrained(est)


@pytest.mark.parametrize("name", ["nan_X_support", "n_features_support", "short_y_pool", "int"])
def test_check_tasks_raises_the_same_errors(name):
    for classifier in (False, True):
        make_bad, exc, match = _corrupt(name)
        tasks = _tasks(classifier)
        tasks[LAST] = make_bad(classifier, *tasks[LAST])
        with pytest.raises(exc, match=match):
            check_tasks(tasks, classifier=classifier)


def test_task_objects_are_validated_like_tuples():
    tasks = [Task(*t) for t in _tasks(False)]
    Xs, ys, Xq, yq = _task(False, 9)
    tasks[LAST] = Task(Xs, ys, _set(Xq, np.nan), yq)
    est = fast_instance(MAMLRegressor, random_state=0)
    with pytest.raises(ValueError, match=rf"task {LAST}: X_query contains NaN"):
        est.fit(tasks)
    assert_untrained(est)


def test_n_features_error_names_both_tasks():
    tasks = _tasks(False)
    Xs, ys, Xq, yq = tasks[0]
    tasks[0] = (np.hstack([Xs, Xs]), ys, np.hstack([Xq, Xq]), yq)  # the odd one is FIRST
    with pytest.raises(ValueError, match=r"task 1: X_support has features of shape \(2,\), "
                                         r"but task 0's X_support has \(4,\)"):
        check_tasks(tasks)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_empty_list_of_tasks(cls):
    est = fast_instance(cls, random_state=0)
    with pytest.raises(ValueError, match="tasks is empty"):
        est.fit([])
    assert_untrained(est)


@pytest.mark.parametrize("tasks", [5, "tasks", iter([])], ids=["int", "str", "iterator"])
@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_tasks_not_a_list(cls, tasks):
    est = fast_instance(cls, random_state=0)
    with pytest.raises(TypeError, match="tasks must be a list of tasks or a task sampler"):
        est.fit(tasks)
    assert_untrained(est)


@pytest.mark.parametrize("cls", CLASSIFIERS, ids=lambda c: c.__name__)
def test_query_label_absent_from_support(cls):
    tasks = _tasks(True)
    Xs, ys, Xq, yq = tasks[LAST]
    tasks[LAST] = (Xs, ys, Xq, np.array(["a", "b", "z", "a"]))
    est = fast_instance(cls, random_state=0)
    with pytest.raises(ValueError, match=rf"task {LAST}: query labels \['z'\] never appear "
                                         "in the support set"):
        est.fit(tasks)
    assert_untrained(est)


# ----------------------------------------------------- arrays and parameters
@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_1d_X_arrays(cls):
    X, y = _arrays(_is_classifier(cls))
    est = fast_instance(cls, random_state=0)
    with pytest.raises(ValueError, match="Expected 2D array, got 1D array"):
        est.fit(X[:, 0], y)
    assert_untrained(est)


@pytest.mark.parametrize("groups", [False, True])
@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_y_of_wrong_length_arrays(cls, groups):
    X, y = _arrays(_is_classifier(cls))
    g = np.arange(len(X)) % 3 if groups else None
    est = fast_instance(cls, random_state=0)
    with pytest.raises(ValueError, match=r"inconsistent numbers of samples: \[24, 23\]"):
        est.fit(X, y[:-1], groups=g)
    assert_untrained(est)


@pytest.mark.parametrize("where", ["X_nan", "X_inf", "y_nan", "y_inf"])
@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_nan_or_inf_in_arrays(cls, where):
    X, y = _arrays(_is_classifier(cls))
    X, y = X.copy(), y.astype(float)
    value = np.nan if where.endswith("nan") else np.inf
    if where.startswith("X"):
        X[-1, 1] = value
        match = "Input X contains " + ("NaN" if value != np.inf else "infinity")
    else:
        y[-1] = value
        match = "Input y contains " + ("NaN" if value != np.inf else "infinity")
    est = fast_instance(cls, random_state=0)
    with pytest.raises(ValueError, match=match):
        est.fit(X, y, groups=np.arange(len(X)) % 3)
    assert_untrained(est)


@pytest.mark.parametrize("n_groups", [23, 25])
@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_groups_of_wrong_length(cls, n_groups):
    X, y = _arrays(_is_classifier(cls))
    est = fast_instance(cls, random_state=0)
    with pytest.raises(ValueError, match=rf"groups has shape \({n_groups},\); expected one "
                                         r"value per row \(24,\)"):
        est.fit(X, y, groups=np.arange(n_groups) % 3)
    assert_untrained(est)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_groups_without_y(cls):
    est = fast_instance(cls, random_state=0)
    with pytest.raises(ValueError, match="groups needs y"):
        est.fit(_tasks(_is_classifier(cls)), groups=np.arange(N_TASKS))
    assert_untrained(est)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_group_with_one_row(cls):
    X, y = _arrays(_is_classifier(cls))
    groups = np.r_[np.zeros(23), 1]  # the last group is a single row
    est = fast_instance(cls, random_state=0)
    with pytest.raises(ValueError, match=r"task 1: a pool .* needs at least 2 rows"):
        est.fit(X, y, groups=groups)
    assert_untrained(est)


@pytest.mark.parametrize("cls", REGRESSORS, ids=lambda c: c.__name__)
def test_regressor_arrays_of_one_row(cls):
    est = fast_instance(cls, random_state=0)
    with pytest.raises(ValueError, match="n_samples=1"):
        est.fit(np.ones((1, 2)), [1.0])
    assert_untrained(est)


@pytest.mark.parametrize("cls", REGRESSORS, ids=lambda c: c.__name__)
def test_regressor_pool_not_larger_than_k_shot(cls):
    tasks = [(np.random.RandomState(i).rand(6, 2), np.arange(6.0)) for i in range(N_TASKS)]
    tasks[LAST] = (tasks[LAST][0][:3], tasks[LAST][1][:3])
    est = fast_instance(cls, random_state=0, k_shot=3)
    with pytest.raises(ValueError,
                       match=rf"task {LAST}: k_shot=3 needs a pool of more than 3 rows"):
        est.fit(tasks)
    assert_untrained(est)


@pytest.mark.parametrize("cls", CLASSIFIERS, ids=lambda c: c.__name__)
def test_classifier_pool_class_smaller_than_k_shot(cls):
    rng = np.random.RandomState(0)
    y_pool = np.array(["a"] * 6 + ["b"] * 6)
    tasks = [(rng.rand(12, 2), y_pool) for _ in range(N_TASKS)]
    tasks[LAST] = (rng.rand(8, 2), np.array(["a"] * 6 + ["b"] * 2))  # class b: 2 < k_shot
    est = fast_instance(cls, random_state=0, k_shot=3)
    with pytest.raises(ValueError, match=rf"task {LAST}.*k_shot"):
        est.fit(tasks)
    assert_untrained(est)


@pytest.mark.parametrize("device", ["banana", "tpu", "cuda:x", ""])
@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_unknown_device(cls, device):
    est = fast_instance(cls, random_state=0, device=device)
    with pytest.raises(ValueError, match=f"device={device!r}"):
        est.fit(_tasks(_is_classifier(cls)))
    assert_untrained(est)


@pytest.mark.parametrize("device", ["cuda", "cuda:0", "cuda:3"])
@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_cuda_without_gpu(cls, device, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    est = fast_instance(cls, random_state=0, device=device)
    with pytest.raises(ValueError, match=f"device={device!r} but no CUDA GPU is available"):
        est.fit(_tasks(_is_classifier(cls)))
    assert_untrained(est)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_auto_device_without_gpu_is_cpu(cls, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    est = fast_instance(cls, random_state=0, device="auto", max_iter=1)
    est.fit(_tasks(_is_classifier(cls)))
    assert torch.device(est.device_).type == "cpu"


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_unknown_constructor_kwargs(cls):
    est = cls(foo=1)
    with pytest.raises(TypeError, match=r"unknown parameters \['foo'\]"):
        est.fit(_tasks(_is_classifier(cls)))
    assert_untrained(est)
    est = fast_instance(cls, random_state=0)
    with pytest.raises(ValueError, match="max_iterations"):  # set_params refuses it at once
        est.set_params(max_iterations=3)
    assert "max_iterations" not in est.get_params()


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_invalid_parameter_value(cls):
    est = fast_instance(cls, random_state=0, max_iter=-1)
    with pytest.raises(ValueError, match="max_iter"):
        est.fit(_tasks(_is_classifier(cls)))
    assert_untrained(est)


# ------------------------------------------------------ EpisodeSampler limits
def test_episode_sampler_n_way_too_large():
    X, y = _arrays(True)
    with pytest.raises(ValueError, match="n_way=4 is larger than the 3 classes available"):
        EpisodeSampler(X, y, n_way=4, k_shot=1, n_query=1)


def test_episode_sampler_class_too_small():
    X, y = _arrays(True)  # 8 rows per class
    y = np.r_[y[:-3], [7, 7, 7]]  # class 7 has 3 rows
    with pytest.raises(ValueError, match=r"classes \[7\] have fewer than k_shot \+ n_query = 4"):
        EpisodeSampler(X, y, n_way=2, k_shot=2, n_query=2)


@pytest.mark.parametrize("cls", CLASSIFIERS, ids=lambda c: c.__name__)
def test_classifier_arrays_n_way_too_large(cls):
    X, y = _arrays(True)
    est = fast_instance(cls, random_state=0, n_way=4)
    with pytest.raises(ValueError, match="n_way=4 is larger than the 3 classes available"):
        est.fit(X, y)
    assert_untrained(est)


@pytest.mark.parametrize("cls", CLASSIFIERS, ids=lambda c: c.__name__)
def test_classifier_arrays_class_smaller_than_k_shot_plus_n_query(cls):
    X, y = _arrays(True)  # 8 rows per class
    est = fast_instance(cls, random_state=0, n_way=2, k_shot=5, n_query=4)
    with pytest.raises(ValueError, match=r"fewer than k_shot \+ n_query = 9"):
        est.fit(X, y)
    assert_untrained(est)


# ----------------------------------------------- a fitted estimator loses nothing
@pytest.fixture(scope="module")
def fitted():
    """One fitted estimator per class (shared: tests must not change it)."""
    return {cls: fast_instance(cls, random_state=0).fit(_tasks(_is_classifier(cls)))
            for cls in ESTIMATORS}


def _state(est):
    return ({k: v.detach().clone() for k, v in est.meta_params_["w"].items()},
            est.n_iter_, len(est.history_))


def _assert_same_state(est, state):
    params, n_iter, n_rows = state
    assert est.n_iter_ == n_iter and len(est.history_) == n_rows
    assert est.meta_params_["w"].keys() == params.keys()
    for k, v in params.items():
        assert torch.equal(est.meta_params_["w"][k], v)


@pytest.mark.parametrize("name", ["nan_X_query", "n_features_support", "short_y_support",
                                  "pool_of_one_row", "3_tuple"])
@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_partial_fit_with_bad_task_keeps_the_fitted_state(cls, name, fitted):
    est = fitted[cls]
    state = _state(est)
    tasks, exc, match = _bad_list(cls, name)
    with pytest.raises(exc, match=match):
        est.partial_fit(tasks)
    _assert_same_state(est, state)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_warm_start_fit_with_bad_task_keeps_the_fitted_state(cls, fitted):
    est = copy.deepcopy(fitted[cls]).set_params(warm_start=True)
    state = _state(est)
    tasks, exc, match = _bad_list(cls, "inf_X_support")
    with pytest.raises(exc, match=match):
        est.fit(tasks)
    _assert_same_state(est, state)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_partial_fit_with_other_n_features(cls, fitted):
    est = fitted[cls]
    state = _state(est)
    tasks = [_task(_is_classifier(cls), i, n_features=3) for i in range(2)]
    with pytest.raises(ValueError, match=r"task 0: X_support has features of shape \(3,\), "
                                         r"but features of shape \(2,\) are expected"):
        est.partial_fit(tasks)
    _assert_same_state(est, state)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_adapt_bad_input(cls, fitted):
    est = fitted[cls]
    state = _state(est)
    Xs, ys, _, _ = _task(_is_classifier(cls), 0)
    with pytest.raises(ValueError, match="Expected 2D array, got 1D array"):
        est.adapt(Xs[:, 0], ys)
    with pytest.raises(ValueError, match=r"inconsistent numbers of samples: \[6, 5\]"):
        est.adapt(Xs, ys[:-1])
    with pytest.raises(ValueError, match="Input X contains NaN"):
        est.adapt(_set(Xs, np.nan), ys)
    with pytest.raises(ValueError, match="Input X contains infinity"):
        est.adapt(_set(Xs, np.inf), ys)
    with pytest.raises(ValueError, match="X has 3 features, but .* is expecting 2 features"):
        est.adapt(np.hstack([Xs, Xs[:, :1]]), ys)
    if not _is_classifier(cls):
        with pytest.raises(ValueError, match="Input y contains NaN"):
            est.adapt(Xs, _set(ys, np.nan, (0,)))
    _assert_same_state(est, state)


@pytest.mark.parametrize("cls", CLASSIFIERS, ids=lambda c: c.__name__)
def test_score_with_query_label_absent_from_support(cls, fitted):
    Xs, ys, Xq, _ = _task(True, 0)
    adapted = fitted[cls].adapt(Xs, ys)
    with pytest.raises(ValueError, match=r"\['z'\]"):
        adapted.score(Xq, np.array(["a", "b", "z", "a"]))
