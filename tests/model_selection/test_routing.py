"""Arrays with groups: the few-shot score, Pipelines and GridSearchCV by metadata routing."""

import numpy as np
import pytest
import sklearn
from sklearn.datasets import load_iris
from sklearn.model_selection import GridSearchCV, GroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skmeta import MAMLRegressor, ProtoNetClassifier, Task
from skmeta.datasets import make_sinusoid_tasks

from .._instances import all_estimators, fast_instance


def _regression_arrays(n_tasks=12, rows=12):
    tasks = make_sinusoid_tasks(n_tasks, n_support=rows // 2, n_query=rows // 2, random_state=0)
    X = np.concatenate([np.concatenate([t.X_support, t.X_query]) for t in tasks])
    y = np.concatenate([np.concatenate([t.y_support, t.y_query]) for t in tasks])
    return X, y, np.repeat(np.arange(n_tasks), rows)


def _classification_arrays():
    X, y = load_iris(return_X_y=True)
    labels = np.array(["a", "b", "c"])[y]
    groups = np.tile(np.repeat(np.arange(5), 10), 3)  # 5 tasks, 10 rows of each class
    return X, labels, groups


def _arrays(cls):
    return _classification_arrays() if sklearn.base.is_classifier(cls()) else _regression_arrays()


@pytest.mark.parametrize("cls", all_estimators(), ids=lambda c: c.__name__)
def test_score_with_groups_is_the_few_shot_score(cls):
    X, y, g = _arrays(cls)
    est = fast_instance(cls, random_state=0, k_shot=3).fit(X, y, groups=g)
    score = est.score(X, y, groups=g)
    assert est.score(X, y, groups=g) == score  # the same split on every call
    # by hand: the same splits, adapt on the support part, score the query part
    rng = np.random.RandomState(0)
    manual = []
    for value in np.unique(g):
        rows = np.flatnonzero(g == value)
        t = Task(np.arange(len(rows), dtype=float)[:, None], y[rows]).split(
            3, rng, stratify=sklearn.base.is_classifier(est))
        sup, qry = rows[t.X_support[:, 0].astype(int)], rows[t.X_query[:, 0].astype(int)]
        manual.append(est.adapt(X[sup], y[sup]).score(X[qry], y[qry]))
    assert score == pytest.approx(np.mean(manual))
    # without groups: the plain score of the model adapted to all of (X, y)
    assert est.score(X, y) == pytest.approx(est.adapt(X, y).score(X, y))


def test_groups_smaller_than_the_support_size_are_errors():
    X, y, g = _regression_arrays(rows=6)
    est = fast_instance(MAMLRegressor, random_state=0, k_shot=3).fit(X, y, groups=g)
    with pytest.raises(ValueError, match="group 0 has 6 examples"):
        est.set_params(k_shot=6).score(X, y, groups=g)
    X, y, g = _classification_arrays()
    est = fast_instance(ProtoNetClassifier, random_state=0).fit(X, y, groups=g)
    with pytest.raises(ValueError, match=r"group 0: class 'a' has 10 examples.*needs 11"):
        est.set_params(k_shot=10).score(X, y, groups=g)
    with pytest.raises(ValueError, match="groups has shape"):
        est.score(X, y, groups=g[:-1])


def test_pipeline_and_grid_search_route_groups():
    X, y, g = _regression_arrays()
    with sklearn.config_context(enable_metadata_routing=True):
        est = (fast_instance(MAMLRegressor, random_state=0, max_iter=10)
               .set_fit_request(groups=True).set_score_request(groups=True))
        pipe = make_pipeline(StandardScaler(), est).fit(X, y, groups=g)
        fitted = pipe[-1]
        # groups reached fit: tasks are the groups (12 of them), not random subsets
        assert fitted.n_iter_ == 10
        Xs = StandardScaler().fit_transform(X)
        assert pipe.score(X, y, groups=g) == pytest.approx(fitted.score(Xs, y, groups=g))
        search = GridSearchCV(pipe, {"mamlregressor__inner_lr": [0.0, 0.01]},
                              cv=GroupKFold(3)).fit(X, y, groups=g)
    # each split's score is the few-shot score of its held-out groups
    for k, (train, test) in enumerate(GroupKFold(3).split(X, y, g)):
        ref = make_pipeline(StandardScaler(), fast_instance(
            MAMLRegressor, random_state=0, max_iter=10, inner_lr=0.01))
        ref.fit(X[train], y[train], mamlregressor__groups=g[train])
        expected = ref[-1].score(ref[0].transform(X[test]), y[test], groups=g[test])
        assert search.cv_results_[f"split{k}_test_score"][1] == pytest.approx(expected)


def test_grid_search_without_routing_keeps_working():
    X, y, _ = _regression_arrays()
    search = GridSearchCV(fast_instance(MAMLRegressor, random_state=0),
                          {"inner_lr": [0.0, 0.01]}, cv=3).fit(X, y)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
