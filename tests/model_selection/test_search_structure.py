"""MetaHyperparamSearch: parameter names and grids checked before any fit; the
search as a schedule of rounds driving evaluate_candidates."""

import numpy as np
import pytest
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skmeta import MAMLRegressor, MetaHyperparamSearch, Task
from skmeta.datasets import make_sinusoid_tasks
from skmeta.model_selection import _search

FAST = dict(max_iter=2, meta_batch_size=4, hidden_layer_sizes=(8,), compile=False,
            random_state=0)


def _tasks(n=4, seed=0):
    rng = np.random.RandomState(seed)
    out = []
    for _ in range(n):
        X = rng.normal(size=(16, 3))
        y = X @ rng.normal(size=3)
        out.append(Task(X[:8], y[:8], X[8:], y[8:]))
    return out


@pytest.fixture
def no_fit(monkeypatch):
    """Fail the test if any candidate is fitted."""
    def fail(*args, **kwargs):
        raise AssertionError("a candidate was fitted before the parameters were checked")
    monkeypatch.setattr(_search, "_fit_score_task", fail)
    monkeypatch.setattr(_search, "_fit_score_fold", fail)


@pytest.mark.parametrize("estimator, space", [
    (MAMLRegressor(**FAST), {"param_grid": {"inner_lrr": [0.1, 0.2]}}),
    (MAMLRegressor(**FAST), {"param_grid": [{"inner_lr": [0.1]}, {"meta_lrr": [0.1]}]}),
    (MAMLRegressor(**FAST), {"param_distributions": {"inner_lrr": [0.1, 0.2]},
                             "n_iter": 2}),
    (Ridge(), {"param_grid": {"alphaa": [0.1, 1.0]}}),
    (Ridge(), {"param_distributions": {"alphaa": [0.1, 1.0]}, "n_iter": 2}),
    (make_pipeline(StandardScaler(), Ridge()), {"param_grid": {"ridge__alphaa": [1.0]}}),
], ids=["maml-grid", "maml-second-grid", "maml-distributions", "ridge-grid",
        "ridge-distributions", "pipeline"])
def test_unknown_parameter_names_fail_before_any_fit(estimator, space, no_fit):
    bad = next(k for d in np.atleast_1d(space.get("param_grid",
                                                  space.get("param_distributions")))
               for k in d if k.endswith(("rr", "aa")))
    tasks = make_sinusoid_tasks(6, n_support=5, n_query=5, random_state=0) \
        if isinstance(estimator, MAMLRegressor) else _tasks()
    with pytest.raises(ValueError, match=f"Invalid parameter '{bad.split('__')[-1]}'"):
        MetaHyperparamSearch(estimator, cv=2, **space).fit(tasks)


def test_module_parameters_and_nested_names_stay_valid():
    # module__* names are routed to the network: valid names for skmeta estimators
    est = MetaHyperparamSearch(MAMLRegressor(**FAST), cv=2)
    ests = est._candidate_estimators(MAMLRegressor(**FAST),
                                     [{"module__dropout": 0.0, "inner_lr": 0.1}])
    assert ests[0].get_params()["module__dropout"] == 0.0
    pipe = make_pipeline(StandardScaler(), Ridge())
    search = MetaHyperparamSearch(pipe, {"ridge__alpha": [0.1, 10.0],
                                         "standardscaler": [StandardScaler(), "passthrough"]})
    assert search.fit(_tasks()).task_scores_.shape == (4, 4)


@pytest.mark.parametrize("space, match", [
    ({"param_grid": {}}, "param_grid={} is empty"),
    ({"param_grid": []}, r"param_grid=\[\] is empty"),
    ({"param_grid": [{}, {}]}, "is empty"),
    ({"param_grid": {"alpha": []}}, "param_grid has no value for 'alpha'"),
    ({"param_grid": [{"alpha": [1.0]}, {"alpha": np.array([])}]},
     "param_grid has no value for 'alpha'"),
    ({"param_distributions": {}}, "param_distributions={} is empty"),
    ({"param_distributions": []}, "is empty"),
    ({"param_distributions": {"alpha": []}}, "param_distributions has no value for 'alpha'"),
])
def test_empty_grids_are_clear_errors(space, match, no_fit):
    with pytest.raises(ValueError, match=match):
        MetaHyperparamSearch(Ridge(), **space).fit(_tasks())


def test_the_search_own_parameters_are_still_validated():
    from sklearn.utils._param_validation import InvalidParameterError

    for bad in [dict(param_grid="alpha"), dict(portfolio_size=0), dict(cv=1),
                dict(halving_factor=1), dict(scoring="no-such-scorer"),
                dict(cv="five"), dict(n_jobs="all")]:
        kwargs = {"param_grid": {"alpha": [1.0]}, **bad}
        with pytest.raises(InvalidParameterError, match=f"'{next(iter(bad))}' parameter"):
            MetaHyperparamSearch(Ridge(), **kwargs).fit(_tasks())


def test_halving_rounds_are_a_schedule():
    # (candidates kept, units) per round
    assert _search._halving_rounds(9, 27, 3, 3.0) == [(9, 3), (3, 9), (1, 27)]
    assert _search._halving_rounds(9, 27, 9, 3.0) == [(9, 9), (3, 27)]
    assert _search._halving_rounds(4, 3, 1, 2.0) == [(4, 1), (2, 3)]  # no room for a third round
    assert _search._halving_rounds(5, 20, 20, 3.0) == [(5, 20)]       # no halving: one round
    assert _search._halving_rounds(2, 100, 1, 3.0) == [(2, 1), (1, 100)]  # one candidate left


def test_run_search_drives_evaluate_candidates_with_the_schedule():
    calls = []

    def evaluate_candidates(candidates, units):
        calls.append((list(candidates), list(units)))
        return np.asarray(candidates) % 3.0  # 2 and 5 are the best, then 1 and 4

    schedule = [(6, np.array([2, 0])), (3, np.array([2, 0, 1])), (1, np.arange(5))]
    MetaHyperparamSearch._run_search(evaluate_candidates, schedule)
    # the best so far, ties in the order of the previous round
    assert calls == [([0, 1, 2, 3, 4, 5], [2, 0]), ([2, 5, 1], [2, 0, 1]),
                     ([2], [0, 1, 2, 3, 4])]


def test_the_evaluation_strategy_is_chosen_once(monkeypatch):
    chosen = []
    for cls in (_search._FitOnSupport, _search._MetaTrainOnFolds):
        init = cls.__init__
        monkeypatch.setattr(cls, "__init__",
                            lambda self, *a, _init=init, **k: (chosen.append(type(self)),
                                                               _init(self, *a, **k))[1])
    MetaHyperparamSearch(Ridge(), {"alpha": [0.1, 1.0]}, halving=True,
                         halving_factor=2).fit(_tasks(8))
    tasks = make_sinusoid_tasks(6, n_support=5, n_query=5, random_state=0)
    search = MetaHyperparamSearch(MAMLRegressor(**FAST), {"inner_lr": [0.0, 0.1]}, cv=3,
                                  halving=True, halving_factor=2).fit(tasks)
    assert chosen == [_search._FitOnSupport, _search._MetaTrainOnFolds]
    assert search.cv_results_["n_tasks"].tolist().count(6) == 1
