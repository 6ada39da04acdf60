"""Few-shot evaluation: adapt on each task's support set, score on its query set."""

from numbers import Integral, Real

import numpy as np
from joblib import Parallel, delayed
from scipy.special import softmax
from scipy.stats import norm
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, is_classifier
from sklearn.metrics import check_scoring, get_scorer_names
from sklearn.utils import Bunch
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions, validate_params

from ..tasks import check_tasks

__all__ = ["evaluate_tasks"]

# constraints shared by the functions and classes of skmeta.model_selection
_SCORING = [StrOptions(set(get_scorer_names())), callable, None]
_N_JOBS = [Integral, None]


class _Outputs(BaseEstimator):
    """A stand-in estimator replaying precomputed query outputs to a scorer."""

    def __init__(self, outputs, classes=None, ravel=False):
        self.outputs, self.classes, self.ravel = outputs, classes, ravel

    def _check(self, X):
        if len(X) != len(self.outputs):
            raise ValueError("the scorer asked for rows that were not predicted")

    def predict(self, X):
        self._check(X)
        if self.classes is not None:
            return self.classes[np.argmax(self.outputs, axis=1)]
        return self.outputs.ravel() if self.ravel else self.outputs

    def predict_proba(self, X):
        self._check(X)
        return softmax(self.outputs, axis=1)

    def decision_function(self, X):
        proba = self.predict_proba(X)
        return proba[:, 1] if proba.shape[1] == 2 else proba

    @property
    def classes_(self):
        return self.classes

    def __sklearn_is_fitted__(self):
        return True


class _ClassifierOutputs(ClassifierMixin, _Outputs):
    pass


class _RegressorOutputs(RegressorMixin, _Outputs):
    pass


def _adapt_and_score(estimator, task, scorer):
    return scorer(estimator.adapt(task.X_support, task.y_support), task.X_query, task.y_query)


def _batched_outputs(estimator, tasks, batch_size):
    """Query outputs of every task from skmeta's batched path; None without one.

    The one call of the private protocol of skmeta's estimators,
    ``_task_outputs(tasks, batch_size)``: adapt to each support set and
    predict its query set, tasks of equal shapes together. Estimators
    without it are adapted and scored task by task.
    """
    if not hasattr(estimator, "_task_outputs"):
        return None
    return estimator._task_outputs(tasks, batch_size=batch_size)


@validate_params(
    {
        "estimator": [HasMethods(["adapt"])],
        "tasks": "no_validation",  # check_tasks names the index of a bad task
        "scoring": _SCORING,
        "confidence": [Interval(Real, 0, 1, closed="neither")],
        "batch_size": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "n_jobs": _N_JOBS,
    },
    prefer_skip_nested_validation=False,  # the estimator's own checks still run
)
def evaluate_tasks(estimator, tasks, scoring=None, *, confidence=0.95, batch_size="auto",
                   n_jobs=None):
    """Few-shot score of a fitted estimator: adapt to each task, score its query set.

    For every task, the estimator adapts to the support set and is scored
    on the query set. The result is what few-shot papers report: the mean
    over tasks with a confidence interval, and every task's score. skmeta's
    own estimators adapt and predict the tasks of equal shapes together
    (``vmap`` over tasks, float32, no gradients); any other estimator with
    ``adapt`` is looped over.

    Read more in the :ref:`User Guide <evaluation>`.

    Parameters
    ----------
    estimator : fitted estimator with ``adapt``
        A meta-trained estimator.
    tasks : list of tasks
        Tasks with query sets, in any form :class:`skmeta.Task` accepts.
    scoring : str, callable or None, default=None
        A scikit-learn scorer name (``"accuracy"``,
        ``"neg_mean_squared_error"``, ...) or ``scorer(estimator, X, y)``;
        ``None`` uses the estimator's ``score`` (accuracy, or R^2).
    confidence : float in (0, 1), default=0.95
        Level of the normal-approximation interval
        ``mean +/- z * std / sqrt(n_tasks)``, as few-shot papers report it.
    batch_size : int >= 1 or "auto", default="auto"
        Tasks of equal shapes adapted together in one ``vmap`` call (bounds
        memory); ``"auto"``: one at a time on the CPU, whose caches favour
        small activations, 64 on a GPU.
    n_jobs : int or None, default=None
        Estimators without skmeta's batched path are adapted and scored task
        by task through joblib with ``n_jobs``.

    Returns
    -------
    result : Bunch
        ``mean``, ``ci`` (the interval's half-width), ``scores`` (one per
        task, in task order) and ``confidence``.

    Examples
    --------
    >>> from skmeta import MAMLRegressor
    >>> from skmeta.datasets import make_sinusoid_tasks
    >>> from skmeta.model_selection import evaluate_tasks
    >>> est = MAMLRegressor(max_iter=100, random_state=0).fit(
    ...     make_sinusoid_tasks(200, random_state=0))
    >>> res = evaluate_tasks(est, make_sinusoid_tasks(50, n_support=5, random_state=1),
    ...                      scoring="neg_mean_squared_error")
    >>> res.scores.shape
    (50,)
    >>> bool(res.ci > 0)
    True
    """
    classifier = is_classifier(estimator)
    tasks = check_tasks(tasks, classifier=classifier, require_query=True)
    scorer = check_scoring(estimator, scoring=scoring)
    outputs = _batched_outputs(estimator, tasks, batch_size)
    if outputs is not None:
        scores = []
        for t, out in zip(tasks, outputs):
            if classifier:
                stand_in = _ClassifierOutputs(out, np.unique(t.y_support))
            else:
                stand_in = _RegressorOutputs(out, ravel=np.ndim(t.y_query) == 1)
            scores.append(scorer(stand_in, t.X_query, t.y_query) if scoring is not None
                          else stand_in.score(t.X_query, t.y_query))
    else:
        scores = Parallel(n_jobs=n_jobs)(
            delayed(_adapt_and_score)(estimator, t, scorer) for t in tasks)
    scores = np.asarray(scores, dtype=float)
    z = norm.ppf(0.5 + confidence / 2)
    ci = z * scores.std(ddof=1) / np.sqrt(len(scores)) if len(scores) > 1 else np.nan
    return Bunch(mean=float(scores.mean()), ci=float(ci), scores=scores,
                 confidence=confidence)
