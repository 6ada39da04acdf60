"""Task splitters and cross_validate_tasks, with joblib and a local Dask cluster."""

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.model_selection import KFold

from skmeta import MAMLRegressor, ProtoNetClassifier
from skmeta.datasets import make_fewshot_tasks, make_sinusoid_tasks
from skmeta.model_selection import (TaskKFold, TaskShuffleSplit, cross_validate_tasks,
                                    evaluate_tasks)

FAST = dict(max_iter=5, meta_batch_size=4, hidden_layer_sizes=(8,), compile=False,
            random_state=0)


def test_task_kfold_holds_out_every_task_once():
    tasks = make_sinusoid_tasks(7, random_state=0)
    tests = [test for _, test in TaskKFold(n_splits=3, shuffle=True, random_state=0)
             .split(tasks)]
    assert sorted(np.concatenate(tests).tolist()) == list(range(7))
    for train, test in TaskKFold(3).split(tasks):
        assert not set(train) & set(test)


def test_task_shuffle_split_sizes_and_reproducibility():
    tasks = make_sinusoid_tasks(10, random_state=0)
    a = [t.tolist() for _, t in TaskShuffleSplit(3, test_size=4, random_state=1).split(tasks)]
    b = [t.tolist() for _, t in TaskShuffleSplit(3, test_size=4, random_state=1).split(tasks)]
    assert a == b and all(len(t) == 4 for t in a)


@pytest.mark.parametrize("splitter", [TaskKFold(5), TaskShuffleSplit(2)])
def test_too_few_tasks_is_a_clear_error(splitter):
    with pytest.raises(ValueError, match="tasks"):
        list(splitter.split(make_sinusoid_tasks(1, random_state=0)))
    if isinstance(splitter, TaskKFold):
        with pytest.raises(ValueError, match=r"n_splits=5\) needs at least 5 tasks.*got 3"):
            list(splitter.split(make_sinusoid_tasks(3, random_state=0)))


def test_cross_validate_tasks_equals_fitting_each_fold_by_hand():
    tasks = make_sinusoid_tasks(12, n_support=5, n_query=8, random_state=0)
    est = MAMLRegressor(**FAST)
    res = cross_validate_tasks(est, tasks, cv=3, scoring="neg_mean_squared_error",
                               return_estimator=True)
    assert res["test_score"].shape == (3,) and res["fit_time"].shape == (3,)
    for k, (train, test) in enumerate(TaskKFold(3).split(tasks)):
        ref = MAMLRegressor(**FAST).fit([tasks[i] for i in train])
        scores = evaluate_tasks(ref, [tasks[i] for i in test],
                                scoring="neg_mean_squared_error").scores
        np.testing.assert_allclose(res["task_scores"][k], scores, rtol=1e-6)
        assert res["test_score"][k] == pytest.approx(scores.mean())
        assert res["test_tasks"][k].tolist() == test.tolist()
        assert res["estimator"][k].n_iter_ == FAST["max_iter"]
    assert res["estimator"][0] is not est and not hasattr(est, "meta_params_")


def test_cross_validate_tasks_is_reproducible_and_parallel_equals_serial():
    X, y = load_iris(return_X_y=True)
    tasks = make_fewshot_tasks(X, y, 2, 2, 3, 8, random_state=0)
    est = ProtoNetClassifier(**FAST)
    a = cross_validate_tasks(est, tasks, cv=KFold(2), n_jobs=1)
    b = cross_validate_tasks(est, tasks, cv=KFold(2), n_jobs=2)
    np.testing.assert_allclose(np.concatenate(a["task_scores"]),
                               np.concatenate(b["task_scores"]))


def test_cross_validate_tasks_errors():
    tasks = make_sinusoid_tasks(4, random_state=0)
    X, y = tasks[0].X_support, tasks[0].y_support
    with pytest.raises(ValueError, match="task 4: has no query set"):
        cross_validate_tasks(MAMLRegressor(**FAST), tasks + [(X, y)], cv=2)
    with pytest.raises(TypeError, match="'cv' parameter of cross_validate_tasks must be"):
        cross_validate_tasks(MAMLRegressor(**FAST), tasks, cv="five")
    with pytest.raises(ValueError, match="needs at least 5 tasks"):
        cross_validate_tasks(MAMLRegressor(**FAST), tasks, cv=5)


def test_cross_validate_tasks_on_a_local_dask_cluster():
    distributed = pytest.importorskip("distributed")
    from joblib import parallel_config

    tasks = make_sinusoid_tasks(6, n_support=5, n_query=5, random_state=0)
    serial = cross_validate_tasks(MAMLRegressor(**FAST), tasks, cv=2)
    # threads on loopback TCP: a real scheduler and workers, started and stopped here
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  protocol="tcp", host="127.0.0.1",
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        with parallel_config(backend="dask"):
            res = cross_validate_tasks(MAMLRegressor(**FAST), tasks, cv=2, n_jobs=2)
        assert len(client.scheduler_info()["workers"]) == 2
    np.testing.assert_allclose(np.concatenate(res["task_scores"]),
                               np.concatenate(serial["task_scores"]), rtol=1e-6)
