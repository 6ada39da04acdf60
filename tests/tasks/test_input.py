"""The one place that tells fit's input forms apart."""

import numpy as np
import pytest

from skmeta import MAMLRegressor, MetaHyperparamSearch, MetaPipeline
from skmeta.datasets import SinusoidTasks
from skmeta.tasks._input import check_groups, group_pools, is_sampler, read_fit_input


def test_the_forms_are_told_apart():
    X, y = np.zeros((6, 2)), np.arange(6.0)
    assert read_fit_input(X, y, owner="E").kind == "arrays"
    assert read_fit_input([(X, y)], owner="E").kind == "tasks"
    assert read_fit_input(SinusoidTasks(), owner="E").kind == "sampler"
    assert not is_sampler([(X, y)]) and is_sampler(SinusoidTasks())
    with pytest.raises(ValueError, match="groups needs y"):
        read_fit_input([(X, y)], groups=[0] * 6, owner="E")
    with pytest.raises(ValueError, match="E requires y"):
        read_fit_input(X, owner="E")
    with pytest.raises(TypeError, match="E.fit takes a list of tasks"):
        read_fit_input(SinusoidTasks(), owner="E", samplers=False)


def test_groups_become_pools_in_sorted_order():
    X = np.arange(10.0)[:, None]
    pools = group_pools(X, X[:, 0], ["b", "a", "b", "a", "c", "c", "a", "b", "c", "c"])
    assert [t.X_support[:, 0].tolist() for t in pools] == [[1, 3, 6], [0, 2, 7], [4, 5, 8, 9]]
    with pytest.raises(ValueError, match="group 'x' has 1 sample;"):
        group_pools(X[:3], X[:3, 0], ["x", "y", "y"], min_rows=2)
    with pytest.raises(ValueError, match=r"groups has shape \(2,\)"):
        check_groups([0, 1], 3)


@pytest.mark.parametrize("make", [
    lambda: MAMLRegressor(max_iter=1),
    lambda: MetaHyperparamSearch(MAMLRegressor(max_iter=1), {"inner_lr": [0.1]}),
    lambda: MetaPipeline([("maml", MAMLRegressor(max_iter=1))]),
])
def test_every_entry_point_uses_the_same_rules(make):
    est = make()
    if isinstance(est, MAMLRegressor):
        est.fit(SinusoidTasks())  # estimators take samplers
    else:  # the search and the pipeline need a list
        with pytest.raises(TypeError, match=r"\.fit takes a list of tasks; got a sampler"):
            est.fit(SinusoidTasks())
    if not isinstance(est, MetaPipeline):  # a Pipeline fits arrays without y itself
        with pytest.raises(ValueError, match="requires y to be passed"):
            make().fit(np.zeros((6, 1)))
