"""make_fewshot_tasks: N-way K-shot episodes from labelled arrays."""

import numpy as np
import pytest
from sklearn.datasets import load_iris

from skmeta import Task
from skmeta.datasets import make_fewshot_tasks
from skmeta.tasks import check_tasks


def _int(name, low=1):
    """The start of scikit-learn's message for a bad count parameter."""
    return rf"'{name}' parameter of make_fewshot_tasks must be an int in the range \[{low}, inf\)"


def _pool(n_classes=6, per_class=7, labels=None):
    n = n_classes * per_class
    X = np.column_stack([np.arange(n, dtype=float), np.ones(n)])
    names = np.arange(n_classes) if labels is None else np.asarray(labels)
    return X, np.repeat(names, per_class)


@pytest.mark.parametrize("n_way, k_shot, n_query, n_tasks", [(2, 1, 1, 1), (5, 1, 5, 4),
                                                               (3, 3, 2, 10)])
def test_shapes_and_counts(n_way, k_shot, n_query, n_tasks):
    X, y = _pool()
    tasks = make_fewshot_tasks(X, y, n_way, k_shot, n_query, n_tasks, random_state=0)
    assert isinstance(tasks, list) and len(tasks) == n_tasks
    for t in tasks:
        assert isinstance(t, Task)
        assert t.X_support.shape == (n_way * k_shot, 2)
        assert t.X_query.shape == (n_way * n_query, 2)
        classes, counts = np.unique(t.y_support, return_counts=True)
        assert len(classes) == n_way and (counts == k_shot).all()
        q_classes, q_counts = np.unique(t.y_query, return_counts=True)
        assert q_classes.tolist() == classes.tolist() and (q_counts == n_query).all()
    assert len(check_tasks(tasks, classifier=True)) == n_tasks


def test_rows_come_from_the_pool_without_overlap():
    X, y = _pool()
    for t in make_fewshot_tasks(X, y, 3, 2, 4, 10, random_state=0):
        sup, qry = t.X_support[:, 0].astype(int), t.X_query[:, 0].astype(int)
        assert not set(sup) & set(qry) and len(set(sup)) == len(sup)
        np.testing.assert_array_equal(t.y_support, y[sup])
        np.testing.assert_array_equal(t.y_query, y[qry])


def test_string_labels_are_kept():
    X, y = _pool(n_classes=3, labels=["a", "b", "c"])
    t = make_fewshot_tasks(X, y, 2, 2, 2, 1, random_state=0)[0]
    assert t.y_support.dtype.kind == "U"
    assert set(t.y_support.tolist()) < {"a", "b", "c"}


def test_classes_restriction():
    X, y = _pool(n_classes=6)
    tasks = make_fewshot_tasks(X, y, 2, 1, 1, 40, classes=[1, 3, 5], random_state=0)
    seen = {c for t in tasks for c in t.y_support.tolist() + t.y_query.tolist()}
    assert seen == {1, 3, 5}


def test_reproducible():
    X, y = _pool()
    a = make_fewshot_tasks(X, y, 3, 2, 2, 5, random_state=0)
    b = make_fewshot_tasks(X, y, 3, 2, 2, 5, random_state=0)
    c = make_fewshot_tasks(X, y, 3, 2, 2, 5, random_state=1)
    for ta, tb in zip(a, b):
        np.testing.assert_array_equal(ta.X_support, tb.X_support)
        np.testing.assert_array_equal(ta.X_query, tb.X_query)
    assert any(not np.array_equal(ta.X_support, tc.X_support) for ta, tc in zip(a, c))


def test_on_iris():
    X, y = load_iris(return_X_y=True)
    tasks = make_fewshot_tasks(X, y, n_way=2, k_shot=3, n_query=4, n_tasks=10, random_state=0)
    assert tasks[0].X_support.shape == (6, 4) and tasks[0].X_query.shape == (8, 4)


def test_images_keep_their_shape():
    X = np.zeros((30, 5, 5))
    y = np.repeat([0, 1, 2], 10)
    t = make_fewshot_tasks(X, y, 3, 1, 2, 1, random_state=0)[0]
    assert t.X_support.shape == (3, 5, 5) and t.X_query.shape == (6, 5, 5)


@pytest.mark.parametrize("kwargs, match", [
    ({"n_way": 7}, "n_way=7 is larger than the 6 classes available"),
    ({"n_way": 3, "classes": [0, 1]}, "n_way=3 is larger than the 2 classes available"),
    ({"k_shot": 4, "n_query": 4}, r"fewer than k_shot \+ n_query = 8"),
    ({"classes": ["x"]}, r"do not occur in y"),
    ({"n_tasks": 0}, _int("n_tasks")),
    ({"k_shot": 0}, _int("k_shot")),
    ({"n_way": 0}, r"'n_way' parameter of make_fewshot_tasks must be an int"),
    ({"n_query": -1}, r"'n_query' parameter of make_fewshot_tasks must be an int in the range \[0"),
    ({"classes": 1}, r"'classes' parameter of make_fewshot_tasks must be an array-like or None"),
    ({"random_state": 1.5}, r"'random_state' parameter of make_fewshot_tasks"),
])
def test_bad_arguments(kwargs, match):
    X, y = _pool(n_classes=6, per_class=7)
    params = {"n_way": 2, "k_shot": 1, "n_query": 1, "n_tasks": 2, "random_state": 0, **kwargs}
    with pytest.raises(ValueError, match=match):
        make_fewshot_tasks(X, y, **params)
