"""Task: the container, its one support/query split, and check_tasks."""

import dataclasses
import warnings

import numpy as np
import pytest

import skmeta
from skmeta import Task
from skmeta.tasks import check_task_batch, check_tasks


def _pool(n=12, n_features=2, labels=None):
    """A pool whose rows are identifiable: X[i, 0] == i, y[i] is row i's label."""
    X = np.column_stack([np.arange(n, dtype=float)] + [np.zeros(n)] * (n_features - 1))
    y = np.arange(n) if labels is None else np.asarray(labels)
    return Task(X, y)


def _assert_partition(pool, task):
    """Support and query together hold every row of the pool exactly once, pairs intact."""
    rows = np.concatenate([task.X_support[:, 0], task.X_query[:, 0]]).astype(int)
    assert sorted(rows.tolist()) == list(range(pool.n_support))
    y_pool = np.asarray(pool.y_support)
    np.testing.assert_array_equal(task.y_support, y_pool[task.X_support[:, 0].astype(int)])
    np.testing.assert_array_equal(task.y_query, y_pool[task.X_query[:, 0].astype(int)])


# ------------------------------------------------------------------ container
def test_task_is_reexported_at_top_level():
    assert skmeta.Task is Task
    assert "Task" in skmeta.__all__


def test_task_properties():
    t = Task(np.zeros((5, 2)), np.arange(5), np.ones((3, 2)), np.arange(3))
    assert (t.n_support, t.n_query, t.is_pool) == (5, 3, False)
    pool = Task(np.zeros((7, 2)), np.arange(7))
    assert (pool.n_support, pool.n_query, pool.is_pool) == (7, 0, True)
    assert pool.X_query is None and pool.y_query is None


def test_task_is_immutable():
    t = Task(np.zeros((2, 1)), np.zeros(2))
    with pytest.raises(dataclasses.FrozenInstanceError):
        t.X_support = np.ones((2, 1))
    with pytest.raises(dataclasses.FrozenInstanceError):
        t.y_query = np.ones(2)


@pytest.mark.parametrize("task, expected", [
    (Task(np.zeros((5, 2)), np.arange(5), np.ones((3, 2)), np.arange(3)),
     "Task(n_support=5, n_query=3, n_features=2)"),
    (Task(np.zeros((10, 4)), np.arange(10)), "Task(n_support=10, n_query=0, n_features=4)"),
    (Task(np.zeros((3, 28, 28)), np.arange(3), np.zeros((1, 28, 28)), [0]),
     "Task(n_support=3, n_query=1, n_features=(28, 28))"),
    (Task([[0.0, 1.0, 2.0]], [1]), "Task(n_support=1, n_query=0, n_features=3)"),
])
def test_task_repr(task, expected):
    assert repr(task) == expected


# ---------------------------------------------------------------------- split
def test_split_returns_task_with_query_unchanged():
    t = Task(np.zeros((5, 2)), np.arange(5), np.ones((3, 2)), np.arange(3))
    assert t.split(2, random_state=0) is t
    assert t.split(0.5, random_state=0, stratify=True) is t


@pytest.mark.parametrize("n_support, expected", [(1, 1), (4, 4), (11, 11), (0.25, 3), (0.5, 6)])
def test_split_sizes(n_support, expected):
    pool = _pool(12)
    t = pool.split(n_support, random_state=0)
    assert not t.is_pool
    assert (t.n_support, t.n_query) == (expected, 12 - expected)
    assert t.X_support.shape == (expected, 2) and t.y_support.shape == (expected,)
    assert t.X_query.shape == (12 - expected, 2) and t.y_query.shape == (12 - expected,)
    _assert_partition(pool, t)


@pytest.mark.parametrize("n_support", [12, 50])
def test_split_keeps_one_query_row_when_asked_for_too_many(n_support):
    pool = _pool(12)
    t = pool.split(n_support, random_state=0)
    assert (t.n_support, t.n_query) == (11, 1)
    _assert_partition(pool, t)


def test_split_leaves_pool_untouched():
    pool = _pool(8)
    X_before, y_before = pool.X_support.copy(), pool.y_support.copy()
    pool.split(3, random_state=0)
    np.testing.assert_array_equal(pool.X_support, X_before)
    np.testing.assert_array_equal(pool.y_support, y_before)
    assert pool.is_pool


def test_split_is_random_but_reproducible():
    pool = _pool(20)
    a = pool.split(5, random_state=0)
    b = pool.split(5, random_state=0)
    np.testing.assert_array_equal(a.X_support, b.X_support)
    np.testing.assert_array_equal(a.X_query, b.X_query)
    c = pool.split(5, random_state=np.random.RandomState(0))
    np.testing.assert_array_equal(a.X_support, c.X_support)
    supports = {tuple(pool.split(5, random_state=s).X_support[:, 0]) for s in range(10)}
    assert len(supports) > 1


def test_split_draws_fresh_splits_from_one_random_state():
    pool = _pool(20)
    rng = np.random.RandomState(0)
    first, second = pool.split(5, random_state=rng), pool.split(5, random_state=rng)
    assert not np.array_equal(first.X_support, second.X_support)


def test_split_stratify_counts_per_class():
    labels = np.repeat(["a", "b", "c"], [4, 6, 5])
    pool = _pool(15, labels=labels)
    t = pool.split(2, random_state=0, stratify=True)
    values, counts = np.unique(t.y_support, return_counts=True)
    assert values.tolist() == ["a", "b", "c"] and counts.tolist() == [2, 2, 2]
    assert t.n_query == 15 - 6
    _assert_partition(pool, t)


def test_split_stratify_fraction_per_class():
    labels = np.repeat([0, 1], [4, 8])
    t = _pool(12, labels=labels).split(0.5, random_state=0, stratify=True)
    assert np.unique(t.y_support, return_counts=True)[1].tolist() == [2, 4]
    assert np.unique(t.y_query, return_counts=True)[1].tolist() == [2, 4]


@pytest.mark.parametrize("seed", range(5))
def test_split_stratify_keeps_every_class_in_support(seed):
    # unbalanced, including a class with a single row
    labels = np.repeat([10, 20, 30, 40], [1, 2, 5, 9])
    pool = _pool(len(labels), labels=labels)
    for n_support in (1, 3, 0.1, 0.5):
        with pytest.warns(UserWarning, match=r"classes \[10\] have a single example"):
            t = pool.split(n_support, random_state=seed, stratify=True)
        assert set(t.y_support.tolist()) == {10, 20, 30, 40}
        assert set(t.y_query.tolist()) <= set(t.y_support.tolist())
        _assert_partition(pool, t)


def test_split_pool_of_one_row_raises():
    with pytest.raises(ValueError, match="pool of 1 rows"):
        Task(np.zeros((1, 2)), [0]).split(1, random_state=0)


def test_split_accepts_array_likes():
    pool = Task([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
    t = pool.split(1, random_state=0, stratify=True)
    assert (t.n_support, t.n_query) == (2, 2)
    assert sorted(np.concatenate([t.X_support, t.X_query]).ravel().tolist()) == [0, 1, 2, 3]
    assert sorted(t.y_support.tolist()) == [0, 1]


# ---------------------------------------------------------------- check_tasks
def _arrays(seed=0, n_s=5, n_q=3, n_features=2):
    rng = np.random.RandomState(seed)
    return rng.rand(n_s, n_features), rng.rand(n_s), rng.rand(n_q, n_features), rng.rand(n_q)


def test_check_tasks_accepts_every_form():
    Xs, ys, Xq, yq = _arrays()
    forms = [
        Task(Xs, ys, Xq, yq),
        (Xs, ys, Xq, yq),
        [Xs, ys, Xq, yq],
        {"X_support": Xs, "y_support": ys, "X_query": Xq, "y_query": yq},
    ]
    for t in check_tasks(forms):
        assert isinstance(t, Task) and not t.is_pool
        np.testing.assert_array_equal(t.X_support, Xs)
        np.testing.assert_array_equal(t.y_support, ys)
        np.testing.assert_array_equal(t.X_query, Xq)
        np.testing.assert_array_equal(t.y_query, yq)
    pools = check_tasks([(Xs, ys), [Xs, ys], {"X_support": Xs, "y_support": ys},
                         Task(Xs, ys)])
    for t in pools:
        assert t.is_pool
        np.testing.assert_array_equal(t.X_support, Xs)
        np.testing.assert_array_equal(t.y_support, ys)


def test_check_tasks_accepts_a_tuple_of_tasks():
    Xs, ys, Xq, yq = _arrays()
    assert len(check_tasks(((Xs, ys), (Xs, ys, Xq, yq)))) == 2


def test_check_tasks_converts_to_float_arrays():
    (t,) = check_tasks([([[1, 2], [3, 4]], [1, 2], [[5, 6]], [3])])
    assert isinstance(t.X_support, np.ndarray) and t.X_support.dtype == np.float64
    assert t.X_query.dtype == np.float64
    assert t.y_support.dtype == np.float64 and t.y_query.dtype == np.float64
    np.testing.assert_array_equal(t.X_support, [[1.0, 2.0], [3.0, 4.0]])
    (t32,) = check_tasks([(np.ones((2, 3), np.float32), [0.0, 1.0])])
    assert t32.X_support.dtype == np.float32


def test_check_tasks_keeps_class_labels():
    X = np.zeros((4, 2))
    (t,) = check_tasks([(X, ["cat", "dog", "cat", "dog"], X[:2], ["dog", "cat"])],
                       classifier=True)
    assert t.y_support.tolist() == ["cat", "dog", "cat", "dog"]
    assert t.y_query.tolist() == ["dog", "cat"]
    (t,) = check_tasks([(X, [[3], [1], [3], [1]])], classifier=True)
    assert t.y_support.shape == (4,) and t.y_support.tolist() == [3, 1, 3, 1]


def test_check_tasks_labels_may_differ_between_tasks():
    X = np.zeros((4, 2))
    out = check_tasks([(X, [0, 1, 0, 1], X, [1, 0, 0, 1]),
                       (X, ["x", "y", "z", "z"], X[:1], ["z"])], classifier=True)
    assert out[1].y_support.tolist() == ["x", "y", "z", "z"]


def test_check_tasks_keeps_image_shapes():
    out = check_tasks([(np.zeros((3, 4, 4)), [0, 1, 2]), (np.zeros((2, 4, 4)), [0, 1])],
                      classifier=True)
    assert out[1].X_support.shape == (2, 4, 4)
    with pytest.raises(ValueError, match=r"task 1: X_support has features of shape \(4, 5\)"):
        check_tasks([(np.zeros((3, 4, 4)), [0, 1, 2]), (np.zeros((2, 4, 5)), [0, 1])],
                    classifier=True)


def test_check_tasks_n_features_argument():
    Xs, ys, Xq, yq = _arrays(n_features=2)
    assert len(check_tasks([(Xs, ys)], n_features=(2,))) == 1
    with pytest.raises(ValueError, match=r"task 0: X_support has features of shape \(2,\)"):
        check_tasks([(Xs, ys)], n_features=(3,))


def test_check_tasks_allow_nan():
    Xs, ys, Xq, yq = _arrays()
    Xs[1, 1] = np.nan
    (t,) = check_tasks([(Xs, ys, Xq, yq)], allow_nan=True)
    assert np.isnan(t.X_support[1, 1]) and np.isfinite(np.delete(t.X_support.ravel(), 3)).all()
    with pytest.raises(ValueError, match="task 0: X_support contains NaN"):
        check_tasks([(Xs, ys, Xq, yq)])
    ys[0] = np.nan  # allow_nan is about inputs; targets must stay finite
    with pytest.raises(ValueError, match="task 0: y_support contains NaN"):
        check_tasks([(Xs, ys, Xq, yq)], allow_nan=True)


def test_check_tasks_check_query_labels_off():
    X = np.zeros((2, 1))
    (t,) = check_tasks([(X, [0, 1], X, [0, 2])], classifier=True, check_query_labels=False)
    assert t.y_query.tolist() == [0, 2]
    with pytest.raises(ValueError, match=r"task 0: query labels \[2\] never appear"):
        check_tasks([(X, [0, 1], X, [0, 2])], classifier=True)


@pytest.mark.parametrize("tasks", [np.zeros((3, 2)), 5, "tasks", None, (t for t in [])])
def test_check_tasks_rejects_non_lists(tasks):
    with pytest.raises(TypeError, match="tasks must be a list of tasks"):
        check_tasks(tasks)


def test_check_tasks_rejects_non_numeric():
    with pytest.raises(ValueError, match="task 0: X_support is not numeric"):
        check_tasks([([["a", "b"], ["c", "d"]], [0.0, 1.0])])
    with pytest.raises(ValueError, match="task 0: y_support is not numeric"):
        check_tasks([(np.zeros((2, 1)), ["a", "b"])])


def test_check_tasks_query_given_together():
    X = np.zeros((2, 1))
    with pytest.raises(ValueError, match="task 0: X_query and y_query must be given together"):
        check_tasks([{"X_support": X, "y_support": [0, 1], "X_query": X}])
    with pytest.raises(ValueError, match="task 0: X_query and y_query must be given together"):
        check_tasks([Task(X, [0, 1], None, [0, 1])])


def test_check_tasks_classifier_y_must_be_1d():
    X = np.zeros((2, 1))
    with pytest.raises(ValueError, match="task 0: y_support must be 1-D for a classifier"):
        check_tasks([(X, [[0, 1], [1, 0]])], classifier=True)


def test_check_tasks_regression_target_shapes():
    X = np.zeros((2, 1))
    (t,) = check_tasks([(X, np.zeros((2, 3)), X, np.zeros((2, 3)))])
    assert t.y_support.shape == (2, 3)
    with pytest.raises(ValueError, match="task 0: y_support and y_query differ in shape"):
        check_tasks([(X, np.zeros((2, 3)), X, np.zeros(2))])
    with pytest.raises(ValueError, match="targets of different shapes"):
        check_tasks([(X, np.zeros((2, 3))), (X, np.zeros(2))])


def test_check_tasks_does_not_modify_inputs():
    Xs = np.arange(6).reshape(3, 2)
    ys = [0, 1, 2]
    check_tasks([(Xs, ys)])
    assert Xs.dtype.kind == "i" and ys == [0, 1, 2]


# ----------------------------------------------------------- check_task_batch
def _batch(n_tasks=4, n_s=3, n_q=5, n_features=2):
    rng = np.random.RandomState(0)
    return [rng.rand(n_tasks, n_s, n_features), rng.rand(n_tasks, n_s),
            rng.rand(n_tasks, n_q, n_features), rng.rand(n_tasks, n_q)]


def test_check_task_batch_valid():
    arrays = _batch()
    arrays[0] = arrays[0].astype(np.float32)
    out = check_task_batch(*arrays, n_features=(2,))
    assert len(out) == 4
    for a, b in zip(out, arrays):
        assert a.dtype == np.float64 and a.shape == b.shape
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("which, name", enumerate(["X_support", "y_support", "X_query",
                                                    "y_query"]))
@pytest.mark.parametrize("task", [0, 2, 3])
def test_check_task_batch_names_the_nan_task(which, name, task):
    arrays = _batch()
    arrays[which] = arrays[which].copy()
    arrays[which][task, -1] = np.nan if task != 2 else -np.inf
    with pytest.raises(ValueError, match=rf"^task {task}: {name} contains NaN or infinity"):
        check_task_batch(*arrays)


def test_check_task_batch_shape_errors():
    Xs, ys, Xq, yq = _batch()
    with pytest.raises(ValueError, match=r"features of shape \(2,\), expected \(3,\)"):
        check_task_batch(Xs, ys, Xq, yq, n_features=(3,))
    with pytest.raises(ValueError, match="X_query has 5 rows but y_query has 4"):
        check_task_batch(Xs, ys, Xq, yq[:, :4])
    with pytest.raises(ValueError, match="y_support must be stacked over the 4 tasks"):
        check_task_batch(Xs, ys[:3], Xq, yq)
    with pytest.raises(ValueError, match="X_support rows are 0-D"):
        check_task_batch(Xs[..., 0], ys, Xq, yq)
    with pytest.raises(ValueError, match="the support set is empty"):
        check_task_batch(Xs[:, :0], ys[:, :0], Xq, yq)


def test_require_query_rejects_pools_naming_the_task():
    X, y = np.zeros((4, 2)), np.arange(4.0)
    tasks = [(X, y, X, y), (X, y)]
    assert check_tasks(tasks)[1].is_pool
    with pytest.raises(ValueError, match=r"task 1: has no query set to score"):
        check_tasks(tasks, require_query=True)


def test_split_stratify_singleton_class_warns_and_stays_in_support():
    pool = _pool(7, labels=[0, 0, 0, 1, 1, 1, 2])
    with pytest.warns(UserWarning, match=r"classes \[2\] have a single example in this "
                                         "pool: a stratified split puts it in the support "
                                         "set only"):
        t = pool.split(1, random_state=0, stratify=True)
    assert 2 in t.y_support.tolist() and 2 not in t.y_query.tolist()
    _assert_partition(pool, t)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pool.split(1, random_state=0)  # no warning without stratify
        _pool(6, labels=[0, 0, 1, 1, 2, 2]).split(1, random_state=0, stratify=True)
