"""The sinusoid family of the MAML paper: make_sinusoid_tasks and SinusoidTasks."""

import numpy as np
import pytest

from skmeta import Task
from skmeta.datasets import SinusoidTasks, make_sinusoid_tasks
from skmeta.tasks import TaskSampler, check_tasks


def _int(name, low=1):
    """The start of scikit-learn's message for a bad count parameter."""
    return (rf"'{name}' parameter of (SinusoidTasks|make_sinusoid_tasks) must be an int in "
            rf"the range \[{low}, inf\)")


@pytest.mark.parametrize("n_tasks, n_support, n_query", [(1, 1, 1), (7, 5, 20), (3, 10, 10)])
def test_make_sinusoid_tasks_shapes(n_tasks, n_support, n_query):
    tasks = make_sinusoid_tasks(n_tasks, n_support=n_support, n_query=n_query, random_state=0)
    assert isinstance(tasks, list) and len(tasks) == n_tasks
    for t in tasks:
        assert isinstance(t, Task) and not t.is_pool
        assert t.X_support.shape == (n_support, 1) and t.y_support.shape == (n_support,)
        assert t.X_query.shape == (n_query, 1) and t.y_query.shape == (n_query,)
        assert t.X_support.dtype.kind == "f" and t.y_support.dtype.kind == "f"
    assert len(check_tasks(tasks)) == n_tasks


def test_make_sinusoid_tasks_defaults():
    t = make_sinusoid_tasks(2, random_state=0)[0]
    assert (t.n_support, t.n_query) == (10, 10)


def test_sinusoid_without_query_gives_pools():
    tasks = SinusoidTasks(n_support=6, n_query=0).sample(3, random_state=0)
    assert all(t.is_pool and t.X_support.shape == (6, 1) for t in tasks)


def test_sinusoid_is_a_task_sampler():
    assert isinstance(SinusoidTasks(), TaskSampler)
    r = repr(SinusoidTasks(n_support=5, n_query=3, random_state=1))
    assert r == "SinusoidTasks(n_support=5, n_query=3, random_state=1)"


def test_sample_arrays_shapes():
    X, y, amp, phase = SinusoidTasks(n_support=4, n_query=6).sample_arrays(9, random_state=0)
    assert X.shape == (9, 10, 1) and y.shape == (9, 10)
    assert amp.shape == (9,) and phase.shape == (9,)


def test_ranges_follow_the_maml_paper():
    X, y, amp, phase = SinusoidTasks(n_support=10, n_query=10).sample_arrays(2000, 0)
    assert amp.min() >= 0.1 and amp.max() <= 5.0
    assert phase.min() >= 0.0 and phase.max() <= np.pi
    assert X.min() >= -5.0 and X.max() <= 5.0
    # the whole of each range is used, roughly uniformly
    assert amp.min() < 0.2 and amp.max() > 4.9
    assert phase.min() < 0.05 and phase.max() > np.pi - 0.05
    assert X.min() < -4.99 and X.max() > 4.99
    assert abs(amp.mean() - 2.55) < 0.15
    assert abs(phase.mean() - np.pi / 2) < 0.1
    assert abs(X.mean()) < 0.1
    assert np.abs(y).max() <= 5.0


def test_targets_are_amplitude_times_shifted_sine():
    s = SinusoidTasks(n_support=5, n_query=7)
    X, y, amp, phase = s.sample_arrays(50, random_state=3)
    np.testing.assert_allclose(y, amp[:, None] * np.sin(X[..., 0] - phase[:, None]),
                               rtol=1e-12, atol=1e-12)
    # and the tasks of sample() are exactly those arrays, support rows first
    tasks = s.sample(50, random_state=3)
    for i, t in enumerate(tasks):
        np.testing.assert_array_equal(t.X_support, X[i, :5])
        np.testing.assert_array_equal(t.X_query, X[i, 5:])
        np.testing.assert_array_equal(t.y_support, y[i, :5])
        np.testing.assert_array_equal(t.y_query, y[i, 5:])
        fit = amp[i] * np.sin(np.concatenate([t.X_support, t.X_query])[:, 0] - phase[i])
        np.testing.assert_allclose(np.concatenate([t.y_support, t.y_query]), fit, atol=1e-12)


def test_every_task_has_its_own_sinusoid():
    _, _, amp, phase = SinusoidTasks().sample_arrays(20, random_state=0)
    assert len(np.unique(amp)) == 20 and len(np.unique(phase)) == 20


def test_make_sinusoid_tasks_reproducible():
    a = make_sinusoid_tasks(5, n_support=3, n_query=4, random_state=0)
    b = make_sinusoid_tasks(5, n_support=3, n_query=4, random_state=0)
    c = make_sinusoid_tasks(5, n_support=3, n_query=4, random_state=1)
    for ta, tb in zip(a, b):
        np.testing.assert_array_equal(ta.X_support, tb.X_support)
        np.testing.assert_array_equal(ta.y_query, tb.y_query)
    assert not np.array_equal(a[0].X_support, c[0].X_support)
    d = make_sinusoid_tasks(5, n_support=3, n_query=4, random_state=np.random.RandomState(0))
    np.testing.assert_array_equal(a[4].y_support, d[4].y_support)


def test_make_sinusoid_tasks_matches_the_sampler():
    a = make_sinusoid_tasks(4, n_support=2, n_query=3, random_state=5)
    b = SinusoidTasks(n_support=2, n_query=3).sample(4, random_state=5)
    for ta, tb in zip(a, b):
        np.testing.assert_array_equal(ta.X_query, tb.X_query)
        np.testing.assert_array_equal(ta.y_support, tb.y_support)


def test_sampler_random_state():
    # its own random_state is the default of sample(); an explicit one wins
    s = SinusoidTasks(n_support=3, n_query=3, random_state=0)
    np.testing.assert_array_equal(s.sample(2)[1].X_support, s.sample(2)[1].X_support)
    np.testing.assert_array_equal(s.sample(2)[0].y_query,
                                  SinusoidTasks(3, 3).sample(2, random_state=0)[0].y_query)
    assert not np.array_equal(s.sample(2, random_state=1)[0].X_support,
                              s.sample(2)[0].X_support)
    # a RandomState draws fresh tasks on each call
    rng = np.random.RandomState(0)
    first, second = SinusoidTasks().sample(1, rng), SinusoidTasks().sample(1, rng)
    assert not np.array_equal(first[0].X_support, second[0].X_support)


def test_unseeded_sampler_draws_fresh_tasks():
    s = SinusoidTasks()
    assert not np.array_equal(s.sample(1)[0].X_support, s.sample(1)[0].X_support)


@pytest.mark.parametrize("kwargs, match", [
    ({"n_support": 0}, _int("n_support")),
    ({"n_support": 2.5}, _int("n_support")),
    ({"n_support": True}, r"'n_support' parameter of (SinusoidTasks|make_sinusoid_tasks)"),
    ({"n_query": -1}, _int("n_query", 0)),
])
def test_sinusoid_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SinusoidTasks(**kwargs)
    with pytest.raises(ValueError, match=match):
        make_sinusoid_tasks(3, **kwargs)


@pytest.mark.parametrize("n_tasks", [0, -2, 2.0])
def test_sinusoid_bad_n_tasks(n_tasks):
    match = r"'n_tasks' parameter of %s must be an int in the range \[1, inf\)"
    with pytest.raises(ValueError, match=match % "make_sinusoid_tasks"):
        make_sinusoid_tasks(n_tasks, random_state=0)
    for method in ("sample", "sample_batch", "sample_arrays"):
        with pytest.raises(ValueError, match=match % f"SinusoidTasks.{method}"):
            getattr(SinusoidTasks(), method)(n_tasks, random_state=0)


def test_sinusoid_bad_random_state():
    with pytest.raises(ValueError, match="'random_state' parameter of SinusoidTasks must be"):
        SinusoidTasks(random_state="0")
    with pytest.raises(ValueError, match="'random_state' parameter of make_sinusoid_tasks"):
        make_sinusoid_tasks(2, random_state=[0])
    with pytest.raises(ValueError, match="'random_state' parameter of SinusoidTasks.sample"):
        SinusoidTasks().sample(2, random_state=1.0)


def test_sample_batch_matches_sample():
    s = SinusoidTasks(n_support=3, n_query=5)
    Xs, ys, Xq, yq = s.sample_batch(4, random_state=2)
    assert Xs.shape == (4, 3, 1) and ys.shape == (4, 3)
    assert Xq.shape == (4, 5, 1) and yq.shape == (4, 5)
    for i, t in enumerate(s.sample(4, random_state=2)):
        np.testing.assert_array_equal(Xs[i], t.X_support)
        np.testing.assert_array_equal(ys[i], t.y_support)
        np.testing.assert_array_equal(Xq[i], t.X_query)
        np.testing.assert_array_equal(yq[i], t.y_query)
