"""Task samplers: TaskSampler, EpisodeSampler, SubsetSampler."""

import numpy as np
import pytest

import skmeta
from skmeta import EpisodeSampler, Task
from skmeta.tasks import SubsetSampler, TaskSampler, check_tasks


def _int(name, low=1):
    """The start of scikit-learn's message for a bad count parameter."""
    return rf"'{name}' parameter of EpisodeSampler must be an int in the range \[{low}, inf\)"


def _labelled_pool(n_classes=5, per_class=8, n_features=3, labels=None):
    """Rows identifiable by X[:, 0] == row index; labels repeat per class."""
    n = n_classes * per_class
    X = np.column_stack([np.arange(n, dtype=float)] + [np.ones(n)] * (n_features - 1))
    names = np.arange(n_classes) if labels is None else np.asarray(labels)
    return X, np.repeat(names, per_class)


def _rows(X):
    return X[:, 0].astype(int)


# ---------------------------------------------------------------- TaskSampler
def test_task_sampler_base_is_abstract():
    with pytest.raises(NotImplementedError):
        TaskSampler().sample(2, random_state=0)


def test_task_sampler_subclass_and_repr():
    class Constant(TaskSampler):
        def __init__(self, n_rows):
            self.n_rows = n_rows
            self._hidden = 1

        def sample(self, n_tasks, random_state=None):
            return [Task(np.ones((self.n_rows, 1)), np.ones(self.n_rows))] * n_tasks

    s = Constant(3)
    assert len(s.sample(4)) == 4
    assert repr(s) == "Constant(n_rows=3)"


# ------------------------------------------------------------- EpisodeSampler
def test_episode_sampler_is_reexported():
    assert skmeta.EpisodeSampler is EpisodeSampler
    assert "EpisodeSampler" in skmeta.__all__


@pytest.mark.parametrize("n_way, k_shot, n_query", [(2, 1, 1), (3, 2, 5), (5, 4, 4), (1, 1, 0)])
def test_episode_shapes_and_counts(n_way, k_shot, n_query):
    X, y = _labelled_pool(n_classes=5, per_class=8)
    tasks = EpisodeSampler(X, y, n_way, k_shot, n_query).sample(6, random_state=0)
    assert len(tasks) == 6
    for t in tasks:
        assert isinstance(t, Task) and t.is_pool == (n_query == 0)  # n_query=0: pools
        assert t.X_support.shape == (n_way * k_shot, 3)
        assert t.y_support.shape == (n_way * k_shot,)
        if n_query:
            assert t.X_query.shape == (n_way * n_query, 3)
            assert t.y_query.shape == (n_way * n_query,)
        classes, counts = np.unique(t.y_support, return_counts=True)
        assert len(classes) == n_way and (counts == k_shot).all()
        if n_query:
            q_classes, q_counts = np.unique(t.y_query, return_counts=True)
            assert q_classes.tolist() == classes.tolist() and (q_counts == n_query).all()


def test_episode_rows_are_real_disjoint_and_paired():
    X, y = _labelled_pool(n_classes=4, per_class=6)
    for t in EpisodeSampler(X, y, 3, 2, 3).sample(10, random_state=1):
        sup, qry = _rows(t.X_support), _rows(t.X_query)
        assert len(set(sup) | set(qry)) == len(sup) + len(qry)  # no row used twice
        np.testing.assert_array_equal(t.y_support, y[sup])
        np.testing.assert_array_equal(t.y_query, y[qry])
        np.testing.assert_array_equal(t.X_support, X[sup])


def test_episode_keeps_user_labels():
    X, y = _labelled_pool(n_classes=3, per_class=4, labels=["cat", "dog", "emu"])
    s = EpisodeSampler(X, y, n_way=2, k_shot=1, n_query=2)
    assert s.classes_.tolist() == ["cat", "dog", "emu"]
    for t in s.sample(5, random_state=0):
        assert set(t.y_support.tolist()) <= {"cat", "dog", "emu"}
        assert set(t.y_query.tolist()) == set(t.y_support.tolist())


def test_episode_tasks_pass_check_tasks():
    X, y = _labelled_pool()
    tasks = EpisodeSampler(X, y, 3, 2, 2).sample(4, random_state=0)
    assert len(check_tasks(tasks, classifier=True)) == 4


def test_episode_reproducible():
    X, y = _labelled_pool()
    s = EpisodeSampler(X, y, 3, 2, 2)
    a, b = s.sample(5, random_state=3), s.sample(5, random_state=3)
    for ta, tb in zip(a, b):
        np.testing.assert_array_equal(ta.X_support, tb.X_support)
        np.testing.assert_array_equal(ta.y_query, tb.y_query)
    c = s.sample(5, random_state=np.random.RandomState(3))
    np.testing.assert_array_equal(a[0].X_support, c[0].X_support)
    d = s.sample(5, random_state=4)
    assert any(not np.array_equal(ta.X_support, td.X_support) for ta, td in zip(a, d))


def test_episode_varies_classes_and_rows():
    X, y = _labelled_pool(n_classes=6, per_class=10)
    tasks = EpisodeSampler(X, y, 2, 1, 1).sample(50, random_state=0)
    class_sets = {tuple(sorted(t.y_support.tolist())) for t in tasks}
    assert len(class_sets) > 5
    used = set(np.concatenate([_rows(t.X_support) for t in tasks]).tolist())
    assert len(used) > 20


def test_episode_restricted_classes():
    X, y = _labelled_pool(n_classes=6, per_class=5)
    train = EpisodeSampler(X, y, 2, 1, 2, classes=[0, 1, 2])
    test = EpisodeSampler(X, y, 2, 1, 2, classes=[3, 4, 5])
    assert train.classes_.tolist() == [0, 1, 2]
    seen_train = {c for t in train.sample(30, 0) for c in t.y_support.tolist() + t.y_query.tolist()}
    seen_test = {c for t in test.sample(30, 0) for c in t.y_support.tolist() + t.y_query.tolist()}
    assert seen_train == {0, 1, 2} and seen_test == {3, 4, 5}


def test_episode_restricted_classes_only_need_enough_rows_themselves():
    X = np.zeros((11, 2))
    y = np.array([0] * 5 + [1] * 5 + [2])  # class 2 is too small, but not used
    s = EpisodeSampler(X, y, 2, 2, 3, classes=[0, 1])
    assert len(s.sample(2, random_state=0)) == 2


def test_episode_keeps_image_shapes():
    X = np.random.RandomState(0).rand(20, 4, 4)
    y = np.repeat([0, 1], 10)
    t = EpisodeSampler(X, y, 2, 3, 2).sample(1, random_state=0)[0]
    assert t.X_support.shape == (6, 4, 4) and t.X_query.shape == (4, 4, 4)


def test_episode_repr_hides_arrays():
    X, y = _labelled_pool()
    r = repr(EpisodeSampler(X, y, 3, 2, 1))
    assert r.startswith("EpisodeSampler(") and "n_way=3" in r and "k_shot=2" in r
    assert "n_query=1" in r and "array" not in r


@pytest.mark.parametrize("kwargs, match", [
    ({"n_way": 0}, _int("n_way") + r". Got 0"),
    ({"n_way": 2.0}, _int("n_way") + r". Got 2.0"),
    ({"n_way": True}, _int("n_way") + r". Got True"),
    ({"k_shot": 0}, _int("k_shot")),
    ({"k_shot": None}, _int("k_shot")),
    ({"n_query": -1}, _int("n_query", 0)),
    ({"classes": 3}, r"'classes' parameter of EpisodeSampler must be an array-like or None"),
    ({"n_way": 6}, "n_way=6 is larger than the 5 classes available"),
    ({"n_way": 3, "classes": [0, 1]}, "n_way=3 is larger than the 2 classes available"),
    ({"k_shot": 5, "n_query": 4},
     r"classes \[0, 1, 2, 3, 4\] have fewer than k_shot \+ n_query = 9"),
    ({"classes": [0, 9]}, r"classes \[9\] do not occur in y"),
])
def test_episode_sampler_bad_arguments(kwargs, match):
    X, y = _labelled_pool(n_classes=5, per_class=8)
    params = {"n_way": 2, "k_shot": 1, "n_query": 1, **kwargs}
    with pytest.raises(ValueError, match=match):
        EpisodeSampler(X, y, **params)


def test_episode_sampler_bad_arrays():
    X, y = _labelled_pool()
    with pytest.raises(ValueError, match="X is 1-D"):
        EpisodeSampler(X[:, 0], y, 2, 1, 1)
    with pytest.raises(ValueError, match="y must be 1-D with one label per row of X"):
        EpisodeSampler(X, y[:-1], 2, 1, 1)
    with pytest.raises(ValueError, match="y must be 1-D"):
        EpisodeSampler(X, y.reshape(-1, 1), 2, 1, 1)


@pytest.mark.parametrize("n_tasks", [0, -1, 1.5])
def test_episode_sampler_bad_n_tasks(n_tasks):
    X, y = _labelled_pool()
    with pytest.raises(ValueError, match=r"'n_tasks' parameter of EpisodeSampler.sample "
                                         r"must be an int in the range \[1, inf\)"):
        EpisodeSampler(X, y, 2, 1, 1).sample(n_tasks, random_state=0)


@pytest.mark.parametrize("sampler", ["episode", "subset"])
def test_sampler_bad_random_state(sampler):
    X, y = _labelled_pool()
    s = EpisodeSampler(X, y, 2, 1, 1) if sampler == "episode" else SubsetSampler(X, y, 2, 2)
    with pytest.raises(ValueError, match=r"'random_state' parameter of \w+Sampler.sample"):
        s.sample(2, random_state="seed")
    with pytest.raises(ValueError, match=r"'n_tasks' parameter of \w+Sampler.sample must be "
                                         r"an int in the range \[1, inf\)"):
        s.sample(True, random_state=0)


def test_episode_sampler_n_query_0_makes_pools():
    X, y = _labelled_pool(n_classes=5, per_class=8)
    tasks = EpisodeSampler(X, y, n_way=3, k_shot=2, n_query=0).sample(4, random_state=0)
    assert all(t.is_pool and t.n_support == 6 for t in tasks)
    assert all(np.unique(t.y_support, return_counts=True)[1].tolist() == [2] * 3
               for t in tasks)


# -------------------------------------------------------------- SubsetSampler
def test_subset_sampler_shapes_and_rows():
    X = np.column_stack([np.arange(30.0), np.zeros(30)])
    y = np.arange(30.0) * 2
    tasks = SubsetSampler(X, y, k_shot=5, n_query=10).sample(8, random_state=0)
    assert len(tasks) == 8
    for t in tasks:
        assert t.X_support.shape == (5, 2) and t.y_support.shape == (5,)
        assert t.X_query.shape == (10, 2) and t.y_query.shape == (10,)
        sup, qry = _rows(t.X_support), _rows(t.X_query)
        assert len(set(sup) | set(qry)) == 15
        np.testing.assert_array_equal(t.y_support, y[sup])
        np.testing.assert_array_equal(t.y_query, y[qry])


def test_subset_sampler_multi_output_and_reproducible():
    rng = np.random.RandomState(0)
    X, y = rng.rand(12, 3), rng.rand(12, 2)
    s = SubsetSampler(X, y, k_shot=3, n_query=4)
    a, b = s.sample(3, random_state=7), s.sample(3, random_state=7)
    assert a[0].y_support.shape == (3, 2)
    for ta, tb in zip(a, b):
        np.testing.assert_array_equal(ta.X_query, tb.X_query)
    c = s.sample(3, random_state=8)
    assert any(not np.array_equal(ta.X_support, tc.X_support) for ta, tc in zip(a, c))


@pytest.mark.parametrize("k_shot, n_query, match", [
    (0, 1, r"'k_shot' parameter of SubsetSampler must be an int in the range \[1, inf\)"),
    (1, 0, r"'n_query' parameter of SubsetSampler must be an int in the range \[1, inf\)"),
    (1, 2.0, r"'n_query' parameter of SubsetSampler must be an int in the range \[1, inf\)"),
    (6, 5, r"k_shot \+ n_query = 11 is larger than the 10 rows available"),
])
def test_subset_sampler_bad_arguments(k_shot, n_query, match):
    with pytest.raises(ValueError, match=match):
        SubsetSampler(np.zeros((10, 2)), np.zeros(10), k_shot, n_query)
