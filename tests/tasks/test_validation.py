"""check_tasks / check_task_batch: float32 range, classification targets, min_classes."""

import numpy as np
import pytest

from skmeta import Task
from skmeta.tasks import check_task_batch, check_tasks
from skmeta.tasks._task import check_float32_range

KEYS = ("X_support", "y_support", "X_query", "y_query")


def _tasks(n=5, classifier=False, seed=0):
    rng = np.random.RandomState(seed)
    y = (lambda m: np.arange(m) % 2) if classifier else (lambda m: rng.rand(m))
    return [(rng.rand(6, 3), y(6), rng.rand(4, 3), y(4)) for _ in range(n)]


# ------------------------------------------------------------ float32 range
@pytest.mark.parametrize("value", [1e300, -1e300, 3.5e38])
@pytest.mark.parametrize("key", KEYS)
def test_check_tasks_rejects_values_beyond_float32(key, value):
    tasks = _tasks()
    t = dict(zip(KEYS, tasks[3]))
    t[key] = t[key].copy()
    t[key].flat[1] = value
    tasks[3] = t
    with pytest.raises(ValueError, match=rf"^task 3: {key} has values beyond float32's range "
                                         r"\(\|x\| > 3\.4e\+38\); skmeta computes in float32"):
        check_tasks(tasks)


@pytest.mark.parametrize("value", [1e300, -1e300])
@pytest.mark.parametrize("pos", range(4))
def test_check_task_batch_rejects_values_beyond_float32(pos, value):
    arrays = [np.zeros((5, 4, 2)), np.zeros((5, 4)), np.zeros((5, 3, 2)), np.zeros((5, 3))]
    arrays[pos][3].flat[-1] = value
    with pytest.raises(ValueError, match=rf"^task 3: {KEYS[pos]} has values beyond float32"):
        check_task_batch(*arrays)


def test_float32_range_limits():
    big = float(np.finfo(np.float32).max)
    ok = np.array([[big, -big, 0.0]])
    check_float32_range(ok, "X")
    check_tasks([(ok, [1.0])])
    # float32 (and int) arrays cannot overflow float32 and are not scanned
    check_float32_range(np.full((2, 2), big, dtype=np.float32), "X")
    check_float32_range(np.full((2, 2), 2**62), "X")
    with pytest.raises(ValueError, match=r"^X has values beyond"):
        check_float32_range(np.array([[np.nextafter(big, np.inf)]]), "X")


def test_float32_range_with_nan_and_inf_allowed():
    X = np.array([[np.nan, 1.0], [np.inf, 2.0], [3.0, -np.inf]])
    check_tasks([(X, np.zeros(3))], allow_nan=True)  # NaN and inf are the pipeline's
    X[2, 0] = -1e300  # a huge finite value beside an infinity is still found
    with pytest.raises(ValueError, match="task 0: X_support has values beyond float32"):
        check_tasks([(X, np.zeros(3))], allow_nan=True)


def test_check_float32_range_stacked_names_first_bad_task():
    a = np.zeros((4, 2, 2))
    a[2, 1, 1] = a[3, 0, 0] = 1e39
    with pytest.raises(ValueError, match="^task 2: X_query has"):
        check_float32_range(a, "X_query", stacked=True)
    assert check_float32_range([1.0, 2.0], "y").shape == (2,)


# ------------------------------------------------------ classification targets
@pytest.mark.parametrize("key", ["y_support", "y_query"])
def test_classifier_rejects_continuous_target(key):
    tasks = _tasks(classifier=True)
    t = dict(zip(KEYS, tasks[2]))
    t[key] = t[key] + 0.5
    tasks[2] = t
    with pytest.raises(ValueError, match=rf"^task 2: {key} is continuous; a classifier "
                                         "needs class labels"):
        check_tasks(tasks, classifier=True)


def test_classifier_rejects_continuous_multioutput_target():
    tasks = [(np.zeros((4, 2)), np.full((4, 2), 0.25))]
    with pytest.raises(ValueError, match="^task 0: y_support is continuous"):
        check_tasks(tasks, classifier=True)


@pytest.mark.parametrize("y", [[0.0, 1.0, 2.0, 1.0], [1, 0, 1, 1], ["a", "b", "a", "c"],
                               [True, False, True, False]])
def test_classifier_accepts_labels(y):
    (t,) = check_tasks([(np.zeros((4, 2)), y)], classifier=True)
    assert t.y_support.tolist() == list(y)


def test_regressor_accepts_continuous_target():
    check_tasks([(np.zeros((4, 2)), [0.5, 1.5, 0.2, 0.1])])


def test_min_classes_rejects_single_class_support():
    tasks = _tasks(classifier=True)
    Xs, ys, Xq, yq = tasks[4]
    tasks[4] = (Xs, np.full(len(ys), "b"), Xq, np.full(len(yq), "b"))
    check_tasks(tasks, classifier=True)  # the default keeps accepting it
    with pytest.raises(ValueError, match=r"^task 4: y_support has a single class \['b'\], "
                                         "but each task needs at least min_classes=2"):
        check_tasks(tasks, classifier=True, min_classes=2)
    with pytest.raises(ValueError, match=r"^task 0: y_support has a single class"):
        check_tasks([Task(Xs, np.full(len(ys), "b"))] * 5, classifier=True, min_classes=2)
    with pytest.raises(ValueError, match=r"^task 0: y_support has 2 classes \[0, 1\], .*"
                                         "min_classes=3"):
        check_tasks(tasks, classifier=True, min_classes=3)
    check_tasks(tasks[:4], classifier=True, min_classes=2)
    check_tasks([(Xs, np.zeros(6), Xq, np.zeros(4))], min_classes=2)  # regression: ignored


# ------------------------------------------------------------------- parameters
@pytest.mark.parametrize("kwargs, match", [
    ({"classifier": "yes"}, "'classifier' parameter of check_tasks must be an instance of 'bool'"),
    ({"allow_nan": 1}, "'allow_nan' parameter"),
    ({"check_query_labels": None}, "'check_query_labels' parameter"),
    ({"require_query": "no"}, "'require_query' parameter"),
    ({"n_features": 3}, "'n_features' parameter of check_tasks must be an instance of 'tuple'"),
    ({"min_classes": 0}, r"'min_classes' parameter of check_tasks must be an int in the "
                         r"range \[1, inf\)"),
    ({"min_classes": True}, "'min_classes' parameter"),
])
def test_check_tasks_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        check_tasks(_tasks(), **kwargs)


def test_check_task_batch_parameters():
    arrays = [np.zeros((2, 3, 1)), np.zeros((2, 3)), np.zeros((2, 3, 1)), np.zeros((2, 3))]
    with pytest.raises(ValueError, match="'n_features' parameter of check_task_batch"):
        check_task_batch(*arrays, n_features=1)
    with pytest.raises(TypeError, match="'X_query' parameter of check_task_batch must be an "
                                        "array-like"):
        check_task_batch(arrays[0], arrays[1], 3.0, arrays[3])
