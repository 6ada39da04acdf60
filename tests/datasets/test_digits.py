"""load_digits_tasks: few-shot episodes of the 8x8 digits with disjoint train and test classes."""

import numpy as np
import pytest
from sklearn.datasets import load_digits

from skmeta import Task
from skmeta.datasets import load_digits_tasks
from skmeta.tasks import check_tasks


def _int(name, low=1):
    """The start of scikit-learn's message for a bad count parameter."""
    return rf"'{name}' parameter of load_digits_tasks must be an int in the range \[{low}, inf\)"


def _labels(tasks):
    return {int(c) for t in tasks for c in np.concatenate([t.y_support, t.y_query])}


def test_defaults():
    train, test = load_digits_tasks(n_train_tasks=50, n_test_tasks=20, random_state=0)
    assert len(train) == 50 and len(test) == 20
    assert all(isinstance(t, Task) for t in train + test)
    for t in train + test:
        assert t.X_support.shape == (5, 64) and t.X_query.shape == (75, 64)
        assert t.y_support.shape == (5,) and t.y_query.shape == (75,)
    assert _labels(train) == {0, 1, 2, 3, 4}
    assert _labels(test) == {5, 6, 7, 8, 9}
    assert len(check_tasks(train, classifier=True)) == 50


def test_default_task_counts():
    train, test = load_digits_tasks(random_state=0)
    assert (len(train), len(test)) == (1000, 100)


@pytest.mark.parametrize("test_classes", [[7, 8, 9], (0, 9, 4), np.array([2, 3, 5, 7]),
                                          range(6, 10), {1, 2, 3}])
def test_classes_are_disjoint(test_classes):
    train, test = load_digits_tasks(n_way=3, k_shot=2, n_query=3, n_train_tasks=60,
                                    n_test_tasks=60, test_classes=test_classes,
                                    random_state=0)
    wanted = set(int(c) for c in test_classes)
    assert _labels(test) == wanted
    assert _labels(train) == set(range(10)) - wanted


@pytest.mark.parametrize("n_way, k_shot, n_query", [(2, 1, 1), (5, 5, 15), (3, 10, 0)])
def test_shapes(n_way, k_shot, n_query):
    train, test = load_digits_tasks(n_way, k_shot, n_query, n_train_tasks=4, n_test_tasks=3,
                                    random_state=0)
    for t in train + test:
        assert t.X_support.shape == (n_way * k_shot, 64)
        classes, counts = np.unique(t.y_support, return_counts=True)
        assert len(classes) == n_way and (counts == k_shot).all()
        if n_query:
            assert t.X_query.shape == (n_way * n_query, 64)
            assert np.unique(t.y_query).tolist() == classes.tolist()
        else:
            assert t.is_pool  # n_query=0: pools


def test_images():
    train, test = load_digits_tasks(n_way=4, k_shot=3, n_query=2, n_train_tasks=5,
                                    n_test_tasks=5, images=True, random_state=0)
    for t in train + test:
        assert t.X_support.shape == (12, 8, 8) and t.X_query.shape == (8, 8, 8)
    # the same episodes as the flat version, reshaped
    flat_train, flat_test = load_digits_tasks(n_way=4, k_shot=3, n_query=2, n_train_tasks=5,
                                              n_test_tasks=5, random_state=0)
    for a, b in zip(train + test, flat_train + flat_test):
        np.testing.assert_array_equal(a.X_support.reshape(12, 64), b.X_support)
        np.testing.assert_array_equal(a.y_query, b.y_query)


def test_values_are_scaled_digits():
    digits = load_digits()
    train, test = load_digits_tasks(n_train_tasks=100, n_test_tasks=100, random_state=0)
    X = np.concatenate([np.concatenate([t.X_support, t.X_query]) for t in train + test])
    y = np.concatenate([np.concatenate([t.y_support, t.y_query]) for t in train + test])
    assert X.dtype == np.float64 and X.min() == 0.0 and X.max() == 1.0
    assert y.dtype.kind == "i"
    # every row is a digit of sklearn's data set divided by 16, with its label
    rows = {r.tobytes(): label for r, label in zip(digits.data / 16, digits.target)}
    assert all(rows[x.tobytes()] == label for x, label in zip(X[:500], y[:500]))


def test_reproducible():
    a = load_digits_tasks(n_train_tasks=5, n_test_tasks=5, random_state=0)
    b = load_digits_tasks(n_train_tasks=5, n_test_tasks=5, random_state=0)
    c = load_digits_tasks(n_train_tasks=5, n_test_tasks=5, random_state=1)
    for ta, tb in zip(a[0] + a[1], b[0] + b[1]):
        np.testing.assert_array_equal(ta.X_support, tb.X_support)
        np.testing.assert_array_equal(ta.y_query, tb.y_query)
    assert not np.array_equal(a[0][0].X_support, c[0][0].X_support)
    d = load_digits_tasks(n_train_tasks=5, n_test_tasks=5,
                          random_state=np.random.RandomState(0))
    np.testing.assert_array_equal(a[1][4].X_query, d[1][4].X_query)


def test_test_tasks_do_not_depend_on_the_number_of_train_tasks():
    _, a = load_digits_tasks(n_train_tasks=3, n_test_tasks=4, random_state=0)
    _, b = load_digits_tasks(n_train_tasks=30, n_test_tasks=4, random_state=0)
    for ta, tb in zip(a, b):
        np.testing.assert_array_equal(ta.X_query, tb.X_query)


def test_support_and_query_do_not_overlap():
    train, _ = load_digits_tasks(n_way=2, k_shot=5, n_query=20, n_train_tasks=10,
                                 random_state=0)
    for t in train:
        sup = {r.tobytes() for r in t.X_support}
        assert not sup & {r.tobytes() for r in t.X_query}


@pytest.mark.parametrize("kwargs, match", [
    ({"n_way": 6}, r"n_way=6 is larger than the 5 meta-training classes \(the digits "
                   r"not in test_classes: \[0, 1, 2, 3, 4\]\)"),
    ({"n_way": 4, "test_classes": [1, 2, 3]},
     r"n_way=4 is larger than the 3 meta-test classes \(test_classes: \[1, 2, 3\]\)"),
    ({"n_way": 2, "test_classes": range(1, 10)},
     r"n_way=2 is larger than the 1 meta-training classes .*\[0\]"),
    ({"test_classes": [5, 6, 10]}, r"test_classes must hold digits 0-9; got \[10\]"),
    ({"test_classes": [-1, 5]}, r"test_classes must hold digits 0-9; got \[-1\]"),
    ({"test_classes": [5.5, 6]}, r"test_classes must hold digits 0-9; got \[5.5\]"),
    ({"test_classes": ["5", 6]}, r"test_classes must hold digits 0-9; got \['5'\]"),
    ({"test_classes": []}, "test_classes must be a non-empty 1-D list"),
    ({"test_classes": 5}, "'test_classes' parameter of load_digits_tasks must be an array-like"),
    ({"test_classes": "56789"}, "'test_classes' parameter .* must be an array-like"),
    ({"test_classes": [[5, 6], [7, 8]]}, "test_classes must be a non-empty 1-D list"),
    ({"n_way": 0}, _int("n_way")),
    ({"k_shot": 0}, _int("k_shot")),
    ({"n_query": -1}, _int("n_query", 0)),
    ({"n_train_tasks": 0}, _int("n_train_tasks")),
    ({"n_test_tasks": 2.0}, _int("n_test_tasks")),
    ({"n_way": True}, "'n_way' parameter of load_digits_tasks must be an int"),
    ({"random_state": "x"}, "'random_state' parameter of load_digits_tasks"),
    ({"k_shot": 100, "n_query": 100}, r"fewer than k_shot \+ n_query = 200 examples"),
])
def test_bad_arguments(kwargs, match):
    params = {"n_train_tasks": 2, "n_test_tasks": 2, "random_state": 0, **kwargs}
    with pytest.raises(ValueError, match=match):
        load_digits_tasks(**params)


def test_images_must_be_a_bool():
    with pytest.raises(TypeError, match="'images' parameter of load_digits_tasks must be an "
                                        "instance of 'bool'"):
        load_digits_tasks(images="yes", n_train_tasks=2, n_test_tasks=2)


def test_keyword_only_arguments():
    with pytest.raises(TypeError):
        load_digits_tasks(5, 1, 15, 1000)
