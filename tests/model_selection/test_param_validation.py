"""Every public function and class of skmeta.model_selection validates its
parameters with scikit-learn's constraints; the batched evaluation protocol
has one call site."""

import ast
import pathlib

import numpy as np
import pytest
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.linear_model import Ridge
from sklearn.utils._param_validation import InvalidParameterError

import skmeta.model_selection
from skmeta import MAMLRegressor, MetaHyperparamSearch
from skmeta.datasets import make_sinusoid_tasks
from skmeta.model_selection import (TaskKFold, TaskShuffleSplit, _evaluate,
                                    cross_validate_tasks, evaluate_tasks)

FAST = dict(max_iter=2, meta_batch_size=4, hidden_layer_sizes=(8,), compile=False,
            random_state=0)
TASKS = make_sinusoid_tasks(4, n_support=5, n_query=5, random_state=0)


@pytest.mark.parametrize("name, value", [
    ("confidence", 1.5), ("confidence", 1), ("confidence", 0.0), ("confidence", -0.1),
    ("confidence", "high"), ("batch_size", 0), ("batch_size", -1), ("batch_size", 1.5),
    ("batch_size", "big"), ("n_jobs", "2"), ("n_jobs", 1.5), ("scoring", "no-such-scorer"),
    ("scoring", 3),
])
def test_evaluate_tasks_rejects_bad_values(name, value):
    est = MAMLRegressor(**FAST)  # validation comes first: no fit needed
    with pytest.raises(InvalidParameterError, match=f"'{name}' parameter of evaluate_tasks"):
        evaluate_tasks(est, TASKS, **{name: value})


def test_evaluate_tasks_needs_an_estimator_with_adapt():
    with pytest.raises(InvalidParameterError, match="'estimator' parameter of evaluate_tasks"):
        evaluate_tasks(Ridge(), TASKS)


@pytest.mark.parametrize("name, value", [
    ("cv", 1), ("cv", 0), ("cv", 2.5), ("cv", "five"), ("cv", [(np.arange(2), np.arange(2, 4))]),
    ("scoring", "no-such-scorer"), ("n_jobs", "all"), ("return_estimator", "yes"),
    ("verbose", -1),
])
def test_cross_validate_tasks_rejects_bad_values(name, value):
    with pytest.raises(InvalidParameterError,
                       match=f"'{name}' parameter of cross_validate_tasks"):
        cross_validate_tasks(MAMLRegressor(**FAST), TASKS, **{name: value})
    with pytest.raises(InvalidParameterError, match="'estimator' parameter"):
        cross_validate_tasks(Ridge(), TASKS)


@pytest.mark.parametrize("cls, name, value", [
    (TaskKFold, "n_splits", 1), (TaskKFold, "n_splits", 2.5), (TaskKFold, "n_splits", "3"),
    (TaskKFold, "shuffle", "yes"), (TaskKFold, "random_state", "seed"),
    (TaskShuffleSplit, "n_splits", 0), (TaskShuffleSplit, "n_splits", 2.0),
    (TaskShuffleSplit, "test_size", 1.5), (TaskShuffleSplit, "test_size", 0),
    (TaskShuffleSplit, "test_size", 0.0), (TaskShuffleSplit, "test_size", -1),
    (TaskShuffleSplit, "test_size", "half"), (TaskShuffleSplit, "train_size", 1.0),
    (TaskShuffleSplit, "random_state", "seed"),
])
def test_splitters_reject_bad_values(cls, name, value):
    kwargs = {"shuffle": True} if name == "random_state" and cls is TaskKFold else {}
    with pytest.raises(InvalidParameterError, match=f"'{name}' parameter of {cls.__name__}"):
        cls(**kwargs, **{name: value})
    splitter = cls()  # a value set after construction is checked by split
    setattr(splitter, name, value)
    with pytest.raises(InvalidParameterError, match=f"'{name}' parameter of {cls.__name__}"):
        list(splitter.split(make_sinusoid_tasks(12, random_state=0)))


def test_splitters_keep_their_meaning():
    assert repr(TaskKFold(3)) == "TaskKFold(n_splits=3, random_state=None, shuffle=False)"
    assert TaskShuffleSplit(2, test_size=0.25, random_state=0).get_n_splits() == 2
    with pytest.raises(ValueError, match="random_state has no effect"):
        TaskKFold(3, random_state=0)


def test_every_public_name_validates_its_parameters():
    for name in skmeta.model_selection.__all__:
        obj = getattr(skmeta.model_selection, name)
        if isinstance(obj, type):
            assert isinstance(obj._parameter_constraints, dict), name
        else:
            assert obj.__wrapped__.__name__ == name  # wrapped by validate_params
        assert "Examples\n    --------" in obj.__doc__, name


def test_the_batched_protocol_is_called_in_one_place():
    calls = []
    for path in pathlib.Path(skmeta.model_selection.__file__).parent.glob("*.py"):
        for func in ast.walk(ast.parse(path.read_text())):
            if not isinstance(func, (ast.FunctionDef, ast.ClassDef)):
                continue
            for node in ast.walk(func):
                if (isinstance(node, ast.Attribute) and node.attr == "_task_outputs") or (
                        isinstance(node, ast.Constant) and node.value == "_task_outputs"):
                    calls.append((path.name, func.name))
    assert set(calls) == {("_evaluate.py", "_batched_outputs")}


def test_every_evaluation_goes_through_batched_outputs(monkeypatch):
    seen = []
    original = _evaluate._batched_outputs

    def spy(estimator, tasks, batch_size):
        seen.append((type(estimator).__name__, len(tasks), batch_size))
        return original(estimator, tasks, batch_size)

    monkeypatch.setattr(_evaluate, "_batched_outputs", spy)
    tasks = make_sinusoid_tasks(6, n_support=5, n_query=5, random_state=0)
    est = MAMLRegressor(**FAST).fit(tasks)
    evaluate_tasks(est, tasks, batch_size=2)
    assert seen == [("MAMLRegressor", 6, 2)]
    cross_validate_tasks(MAMLRegressor(**FAST), tasks, cv=3)
    assert seen[1:] == [("MAMLRegressor", 2, "auto")] * 3
    MetaHyperparamSearch(MAMLRegressor(**FAST), {"inner_lr": [0.0, 0.1]}, cv=2).fit(tasks)
    assert seen[4:] == [("MAMLRegressor", 3, "auto")] * 4


class _Oracle(RegressorMixin, BaseEstimator):
    """Any estimator with ``_task_outputs`` takes the batched path."""

    def fit(self, tasks):
        return self

    def adapt(self, X, y):
        raise AssertionError("the batched path does not adapt task by task")

    def _task_outputs(self, tasks, batch_size="auto"):
        return [np.asarray(t.y_query) for t in tasks]


def test_batched_outputs_is_duck_typed():
    assert _evaluate._batched_outputs(Ridge(), TASKS, "auto") is None
    res = evaluate_tasks(_Oracle(), TASKS)
    np.testing.assert_allclose(res.scores, 1.0)  # R^2 of the query targets themselves
