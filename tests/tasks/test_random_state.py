"""Every draw of skmeta.tasks and skmeta.datasets comes from the random_state passed in.

Nothing reads or advances numpy's global random state, so draws are the same
whichever thread makes them and whatever else runs at the same time.
"""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from sklearn.utils import check_random_state

from skmeta import Task
from skmeta.datasets import (SinusoidTasks, load_digits_tasks, make_fewshot_tasks,
                             make_sinusoid_tasks)
from skmeta.tasks import EpisodeSampler, SubsetSampler

_X = np.arange(120.0).reshape(40, 3)
_Y = np.repeat(np.arange(4), 10)

DRAWS = {
    "make_sinusoid_tasks": lambda rs: make_sinusoid_tasks(5, n_support=3, random_state=rs),
    "SinusoidTasks.sample": lambda rs: SinusoidTasks(4, 2).sample(5, rs),
    "SinusoidTasks.sample_batch": lambda rs: [Task(*SinusoidTasks(4, 2).sample_batch(5, rs))],
    "SinusoidTasks(random_state)": lambda rs: SinusoidTasks(4, 2, random_state=rs).sample(5),
    "EpisodeSampler": lambda rs: EpisodeSampler(_X, _Y, 3, 2, 3).sample(5, rs),
    "SubsetSampler": lambda rs: SubsetSampler(_X, _Y, 4, 5).sample(5, rs),
    "make_fewshot_tasks": lambda rs: make_fewshot_tasks(_X, _Y, 2, 1, 2, 5, random_state=rs),
    "load_digits_tasks": lambda rs: sum(load_digits_tasks(3, 1, 2, n_train_tasks=3,
                                                          n_test_tasks=3, random_state=rs), []),
    "Task.split": lambda rs: [Task(_X, _Y).split(0.5, r, stratify=s)
                              for r in [check_random_state(rs)] for s in (False, True)],
}


def _arrays(tasks):
    return [a for t in tasks for a in (t.X_support, t.y_support, t.X_query, t.y_query)]


def _assert_same(a, b):
    for u, v in zip(_arrays(a), _arrays(b), strict=True):
        np.testing.assert_array_equal(u, v)


@pytest.mark.parametrize("name", DRAWS)
def test_threads_with_the_same_random_state_draw_the_same_tasks(name):
    draw = DRAWS[name]
    expected = draw(7)
    with ThreadPoolExecutor(max_workers=4) as pool:
        # with other draws (and numpy's global state) busy at the same time
        noise = [pool.submit(np.random.rand, 1000) for _ in range(4)]
        results = list(pool.map(draw, [7] * 8))
        results += list(pool.map(lambda s: draw(np.random.RandomState(s)), [7] * 4))
    assert all(f.result().shape == (1000,) for f in noise)
    for tasks in results:
        _assert_same(tasks, expected)
    assert any(not np.array_equal(u, v) for u, v in zip(_arrays(draw(8)), _arrays(expected)))


@pytest.mark.parametrize("name", DRAWS)
def test_global_random_state_is_neither_read_nor_advanced(name):
    np.random.seed(0)
    before = np.random.get_state()
    a = DRAWS[name](3)
    after = np.random.get_state()
    assert all(np.array_equal(u, v) for u, v in zip(before, after))
    np.random.seed(1)  # another global state, the same tasks
    _assert_same(DRAWS[name](3), a)
