"""Cross-validation over tasks: meta-train on some tasks, score the held-out ones."""

import time
from numbers import Integral

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import clone, is_classifier
from sklearn.utils._param_validation import HasMethods, validate_params

from ..tasks import check_tasks
from ._evaluate import _N_JOBS, _SCORING, evaluate_tasks
from ._split import _CV, TaskKFold

__all__ = ["cross_validate_tasks"]


def _fit_and_score(estimator, tasks, train, test, scoring, return_estimator):
    t0 = time.perf_counter()
    estimator.fit([tasks[i] for i in train])
    fit_time = time.perf_counter() - t0
    t0 = time.perf_counter()
    res = evaluate_tasks(estimator, [tasks[i] for i in test], scoring=scoring)
    out = {"fit_time": fit_time, "score_time": time.perf_counter() - t0,
           "test_score": res.mean, "task_scores": res.scores, "test_tasks": np.asarray(test)}
    if return_estimator:
        out["estimator"] = estimator
    return out


@validate_params(
    {
        "estimator": [HasMethods(["fit", "adapt"])],
        "tasks": "no_validation",  # check_tasks names the index of a bad task
        "cv": _CV,
        "scoring": _SCORING,
        "n_jobs": _N_JOBS,
        "return_estimator": ["boolean"],
        "verbose": ["verbose"],
    },
    prefer_skip_nested_validation=False,  # the estimator's fit validates its parameters
)
def cross_validate_tasks(estimator, tasks, *, cv=5, scoring=None, n_jobs=None,
                         return_estimator=False, verbose=0):
    """Evaluate a meta-learner by cross-validation over tasks.

    For each split of the tasks, a clone of the estimator meta-trains on the
    training tasks, then adapts to each held-out task's support set and is
    scored on its query set (:func:`evaluate_tasks`). Folds run in parallel
    through joblib, so ``joblib.parallel_config(backend="dask")`` spreads them
    over a Dask cluster.

    Read more in the :ref:`User Guide <task_cv>`.

    Parameters
    ----------
    estimator : estimator with ``fit(tasks)`` and ``adapt``
        The meta-learner; it is cloned for every split.
    tasks : list of tasks
        Tasks with query sets, in any form :class:`skmeta.Task` accepts.
    cv : int >= 2 or splitter, default=5
        Number of :class:`TaskKFold` folds, or an object with
        ``split(tasks)`` yielding task indices (:class:`TaskShuffleSplit`,
        or any scikit-learn splitter).
    scoring : str, callable or None, default=None
        As in :func:`evaluate_tasks`.
    n_jobs : int or None, default=None
        Splits run in parallel (joblib); ``None`` is 1 unless a joblib
        context says otherwise, ``-1`` all processors.
    return_estimator : bool, default=False
        Also return the estimator meta-trained on each split.
    verbose : int, default=0
        Verbosity of joblib's parallel loop.

    Returns
    -------
    results : dict of arrays, one entry per split
        ``test_score`` (mean score of the held-out tasks), ``task_scores``
        (each held-out task's score), ``test_tasks`` (their indices),
        ``fit_time``, ``score_time`` and, with ``return_estimator``,
        ``estimator``.

    Examples
    --------
    >>> from skmeta import MAMLRegressor
    >>> from skmeta.datasets import make_sinusoid_tasks
    >>> from skmeta.model_selection import cross_validate_tasks
    >>> tasks = make_sinusoid_tasks(30, random_state=0)
    >>> res = cross_validate_tasks(MAMLRegressor(max_iter=20, random_state=0), tasks,
    ...                            cv=3, scoring="neg_mean_squared_error")
    >>> res["test_score"].shape, [len(s) for s in res["task_scores"]]
    ((3,), [10, 10, 10])
    """
    tasks = check_tasks(tasks, classifier=is_classifier(estimator), require_query=True)
    if isinstance(cv, Integral):
        cv = TaskKFold(n_splits=cv)
    splits = list(cv.split(tasks))
    for k, (train, test) in enumerate(splits):
        if len(train) == 0 or len(test) == 0:
            raise ValueError(f"split {k} has {len(train)} training and {len(test)} "
                             "held-out tasks; both need at least one")
    parallel = Parallel(n_jobs=n_jobs, verbose=verbose)
    folds = parallel(delayed(_fit_and_score)(clone(estimator), tasks, train, test, scoring,
                                             return_estimator)
                     for train, test in splits)
    results = {}
    for key in folds[0]:
        values = [f[key] for f in folds]
        if key in ("task_scores", "test_tasks", "estimator"):
            results[key] = values
        else:
            results[key] = np.asarray(values, dtype=float)
    return results
