"""evaluate_tasks: the batched path equals adapting and scoring task by task."""

import numpy as np
import pytest
from sklearn.base import BaseEstimator, RegressorMixin, is_classifier
from sklearn.datasets import load_iris
from sklearn.metrics import get_scorer

from skmeta import Task
from skmeta.datasets import make_fewshot_tasks, make_sinusoid_tasks
from skmeta.model_selection import evaluate_tasks

from .._instances import all_estimators, fast_instance


def _tasks(classifier, seed):
    if classifier:
        X, y = load_iris(return_X_y=True)
        labels = np.array(["setosa", "versicolor", "virginica"])[y]
        # two episode shapes (two vmap groups) and string labels
        return (make_fewshot_tasks(X, labels, 2, 2, 3, 4, random_state=seed)
                + make_fewshot_tasks(X, labels, 3, 1, 2, 3, random_state=seed + 1))
    return (make_sinusoid_tasks(4, n_support=5, n_query=7, random_state=seed)
            + make_sinusoid_tasks(3, n_support=3, n_query=4, random_state=seed + 1))


@pytest.mark.parametrize("batch_size", [1, 3, "auto"])
@pytest.mark.parametrize("cls", all_estimators(), ids=lambda c: c.__name__)
def test_batched_scores_equal_the_loop(cls, batch_size):
    classifier = is_classifier(cls())
    est = fast_instance(cls, max_iter=3, random_state=0).fit(_tasks(classifier, 0))
    tasks = _tasks(classifier, 10)
    scoring = "neg_log_loss" if classifier else "neg_mean_squared_error"
    res = evaluate_tasks(est, tasks, scoring=scoring, batch_size=batch_size)
    scorer = get_scorer(scoring)
    loop = [scorer(est.adapt(t.X_support, t.y_support), t.X_query, t.y_query) for t in tasks]
    np.testing.assert_allclose(res.scores, loop, rtol=1e-4, atol=1e-5)
    default = evaluate_tasks(est, tasks, batch_size=batch_size)
    loop = [est.adapt(t.X_support, t.y_support).score(t.X_query, t.y_query) for t in tasks]
    np.testing.assert_allclose(default.scores, loop, rtol=1e-4, atol=1e-5)


def test_mean_and_interval():
    est = fast_instance(all_estimators()[2], random_state=0)  # any fitted estimator
    tasks = _tasks(is_classifier(est), 0)
    res = evaluate_tasks(est.fit(tasks), tasks, confidence=0.95)
    s = res.scores
    assert res.mean == pytest.approx(s.mean())
    assert res.ci == pytest.approx(1.959964 * s.std(ddof=1) / np.sqrt(len(s)), rel=1e-5)
    wider = evaluate_tasks(est, tasks, confidence=0.99)
    assert wider.ci > res.ci


def test_callable_scoring_and_estimators_without_the_batched_path():
    from skmeta import MAMLRegressor

    tasks = _tasks(False, 0)
    est = fast_instance(MAMLRegressor, random_state=0).fit(tasks)

    class Looped(RegressorMixin, BaseEstimator):  # any estimator with adapt: looped over
        def __init__(self, est=None):
            self.est = est

        def adapt(self, X, y):
            return self.est.adapt(X, y)

        def fit(self, *a):
            return self

    def scorer(e, X, y):
        return -np.abs(e.predict(X) - y).max()

    a = evaluate_tasks(est, tasks, scoring=scorer)
    b = evaluate_tasks(Looped(est), tasks, scoring=scorer, n_jobs=2)
    np.testing.assert_allclose(a.scores, b.scores, rtol=1e-4, atol=1e-5)


def test_pools_and_unseen_query_labels_are_errors():
    from skmeta import ProtoNetClassifier

    X, y = load_iris(return_X_y=True)
    est = fast_instance(ProtoNetClassifier, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="task 1: has no query set"):
        evaluate_tasks(est, [Task(X[:4], y[:4], X[4:6], y[4:6]), (X, y)])
    with pytest.raises(ValueError, match="task 0"):
        evaluate_tasks(est, [Task(X[[0, 50]], y[[0, 50]], X[[100]], y[[100]])])
