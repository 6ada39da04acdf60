"""MetaHyperparamSearch: hyperparameters that transfer across tasks, and a portfolio."""

import copy
import time
import warnings
from collections import defaultdict
from collections.abc import Mapping
from numbers import Integral, Real

import numpy as np
from joblib import Parallel, delayed
from scipy import stats
from scipy.stats import rankdata
from sklearn.base import BaseEstimator, MetaEstimatorMixin, _fit_context, clone, is_classifier
from sklearn.exceptions import FitFailedWarning, NotFittedError
from sklearn.metrics import check_scoring
from sklearn.model_selection import (KFold, ParameterGrid, ParameterSampler, StratifiedKFold,
                                     check_cv, cross_val_score)
from sklearn.utils import check_random_state, get_tags
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from ..tasks import Task, check_tasks
from ..tasks._input import group_pools, read_fit_input
from ..tasks._task import _as_task
from ._evaluate import _N_JOBS, _SCORING
from ._split import _CV, TaskKFold
from ._validation import _fit_and_score

__all__ = ["MetaHyperparamSearch"]

_MAX_SEED = np.iinfo(np.int32).max


# ------------------------------------------------------------------ selection
def _greedy_portfolio(scores, size, start=None, candidates=None):
    """Greedy portfolio of rows of a (candidates x tasks) score matrix.

    Repeatedly adds the row that maximises the mean over tasks of the best
    score within the portfolio (auto-sklearn 2.0's greedy portfolio), until
    ``size`` rows are chosen or no row improves that mean. NaN counts as the
    worst score.

    Parameters
    ----------
    scores : ndarray of shape (n_candidates, n_tasks)
        Higher is better.
    size : int
        Most rows to choose.
    start : int, default=None
        A row the portfolio starts with (otherwise the best mean score).
    candidates : array-like of int, default=None
        Rows that may be chosen; ``None``: all.

    Returns
    -------
    portfolio : list of int
        Row indices, in the order they were added.
    """
    S = np.where(np.isnan(scores), -np.inf, np.asarray(scores, dtype=float))
    pool = list(range(len(S)) if candidates is None else np.asarray(candidates).tolist())
    chosen, best, current = [], np.full(S.shape[1], -np.inf), -np.inf
    if start is not None:
        chosen, best = [int(start)], S[start].copy()
        current = best.mean()
    while len(chosen) < size:
        rest = [c for c in pool if c not in chosen]
        if not rest:
            break
        gains = np.array([np.maximum(best, S[c]).mean() for c in rest])
        j = int(np.argmax(gains))
        if chosen and not gains[j] > current:
            break
        chosen.append(rest[j])
        best = np.maximum(best, S[rest[j]])
        current = gains[j]
    return chosen


def _mean_task_rank(scores, complete):
    """Mean over tasks of each complete candidate's rank (1 = best; NaN: worst)."""
    out = np.full(len(scores), np.nan)
    if complete.any():
        S = np.where(np.isnan(scores[complete]), -np.inf, scores[complete])
        out[complete] = rankdata(-S, axis=0).mean(axis=1)
    return out


def _ranking(mean_rank, mean_score, n_tasks, complete):
    """Candidate order (best first) and rank_test_score: complete candidates by
    mean task rank, ties by mean score; then dropped ones by tasks evaluated and
    mean score."""
    idx = np.arange(len(mean_rank))
    neg_score = np.where(np.isnan(mean_score), np.inf, -mean_score)
    first = np.where(complete, mean_rank, np.inf)
    order = np.lexsort((idx, neg_score, -n_tasks, first))
    keys = [(first[i], n_tasks[i], neg_score[i]) for i in order]
    ranks = np.empty(len(order), dtype=np.int32)
    for pos, i in enumerate(order):
        ranks[i] = ranks[order[pos - 1]] if pos and keys[pos] == keys[pos - 1] else pos + 1
    return order, ranks


def _param_arrays(candidates):
    """``param_<name>`` masked arrays, as in GridSearchCV's ``cv_results_``."""
    values = defaultdict(dict)
    for i, params in enumerate(candidates):
        for name, value in params.items():
            values[f"param_{name}"][i] = value
    out = {}
    for key, by_index in sorted(values.items()):
        listed = list(by_index.values())
        try:
            arr = np.array(listed)
        except ValueError:
            dtype = np.dtype(object)
        else:
            dtype = arr.dtype if arr.dtype.kind != "U" and arr.ndim == 1 else object
        ma = np.ma.MaskedArray(np.empty(len(candidates), dtype=dtype), mask=True)
        for i, value in by_index.items():
            ma[i] = value
        out[key] = ma
    return out


# -------------------------------------------------------------------- workers
def _fit_score_task(estimator, task, scorer):
    """Fit on a task's support set, score its query set; an error is returned."""
    t0 = time.perf_counter()
    try:
        estimator.fit(task.X_support, task.y_support)
        fit_time = time.perf_counter() - t0
        return float(scorer(estimator, task.X_query, task.y_query)), fit_time, None
    except Exception as exc:  # reported with a FitFailedWarning, scored NaN
        return np.nan, time.perf_counter() - t0, exc


def _fit_score_fold(estimator, tasks, train, test, scoring):
    """Meta-train on the training tasks of a fold, score each held-out task."""
    t0 = time.perf_counter()
    try:
        out = _fit_and_score(estimator, tasks, train, test, scoring, False)
        return out["task_scores"], out["fit_time"], None
    except Exception as exc:
        return np.full(len(test), np.nan), time.perf_counter() - t0, exc


def _meta_train(estimator, tasks):
    return estimator.fit(tasks)


# ------------------------------------------------------- evaluation strategies
class _FitOnSupport:
    """Plain estimators: fit a candidate on a task's support set and score its
    query set. The unit of evaluation (and of halving) is one task."""

    unit = "task"

    def __init__(self, search, tasks):
        self.tasks = tasks
        self.scorer = check_scoring(search.estimator, scoring=search.scoring)
        self.unit_tasks = [np.array([t]) for t in range(len(tasks))]

    def job(self, estimator, u):
        return delayed(_fit_score_task)(estimator, self.tasks[u], self.scorer)

    def halving_start(self, search, n_candidates, rng):
        """Tasks in random order, and how many the first round takes."""
        n_units, factor = len(self.unit_tasks), float(search.halving_factor)
        order = rng.permutation(n_units)
        if search.min_tasks != "auto":
            if search.min_tasks > n_units:
                raise ValueError(
                    f"min_tasks={search.min_tasks} is more than the {n_units} tasks")
            return order, search.min_tasks
        n_rounds = 1
        while factor ** n_rounds <= n_candidates:
            n_rounds += 1
        return order, max(1, int(n_units // factor ** (n_rounds - 1)))

    def portfolio(self, estimators, parallel):
        """Unfitted clones: fitted on a new task's support set by ``adapt``."""
        return [clone(e) for e in estimators]

    @staticmethod
    def support_score(member, X, y, cv, scoring):
        """Cross-validated scores (one per fold) of a portfolio member on a support set."""
        return cross_val_score(clone(member), X, y, cv=cv, scoring=scoring)

    @staticmethod
    def fit_support(member, X, y):
        return clone(member).fit(X, y)


class _MetaTrainOnFolds:
    """Meta-learners: meta-train a candidate on the training tasks of a fold of the
    task-level cv, adapt to and score each held-out task. The unit is one fold."""

    unit = "fold"

    def __init__(self, search, tasks):
        self.tasks, self.scoring = tasks, search.scoring
        self.folds = _task_folds(search.cv, tasks)
        self.unit_tasks = [test for _, test in self.folds]

    def job(self, estimator, u):
        return delayed(_fit_score_fold)(estimator, self.tasks, *self.folds[u], self.scoring)

    def halving_start(self, search, n_candidates, rng):
        """Folds in order, the first round on one."""
        return np.arange(len(self.unit_tasks)), 1

    def portfolio(self, estimators, parallel):
        """Each meta-trained on all the tasks."""
        return parallel(delayed(_meta_train)(clone(e), self.tasks) for e in estimators)

    @staticmethod
    def support_score(member, X, y, cv, scoring):
        """Scores (one per fold) of a meta-trained member adapted to each training
        fold of a support set and scored on the rest."""
        scorer = check_scoring(member, scoring=scoring)
        return np.array([scorer(member.adapt(X[tr], y[tr]), X[te], y[te])
                         for tr, te in cv.split(X, y)])

    @staticmethod
    def fit_support(member, X, y):
        return member.adapt(X, y)


def _confident_choice(fold_scores):
    """The portfolio member to take on a support set, from its fold scores
    (members x folds): the member with the best mean where it beats the first
    member (``best_params_``, the best across the training tasks) by more than
    the 95% interval of their paired fold differences (a paired t-test), else
    the first. A few support rows give noisy folds, so the ranking learned
    across many tasks stands unless the support set clearly overrules it."""
    means = np.nan_to_num(fold_scores.mean(axis=1), nan=-np.inf)
    k = int(np.argmax(means))
    d = fold_scores[k] - fold_scores[0]
    if k == 0 or len(d) < 3 or not np.isfinite(d).all():  # 2 folds: one degree of freedom
        return 0
    margin = stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d))
    return k if d.mean() > margin else 0


def _task_folds(cv, tasks):
    """The folds of a task-level ``cv``; every task held out at least once."""
    splitter = TaskKFold(n_splits=cv) if isinstance(cv, Integral) else cv
    splits = [(np.asarray(tr), np.asarray(te)) for tr, te in splitter.split(tasks)]
    if not splits:
        raise ValueError(f"cv={cv!r} yields no split of the tasks")
    for k, (train, test) in enumerate(splits):
        if len(train) == 0 or len(test) == 0:
            raise ValueError(f"split {k} has {len(train)} training and {len(test)} "
                             "held-out tasks; both need at least one")
    never = np.setdiff1d(np.arange(len(tasks)), np.concatenate([te for _, te in splits]))
    if len(never):
        raise ValueError(
            f"cv={cv!r} never holds out tasks {never.tolist()}; every task needs "
            "a held-out score (use TaskKFold)")
    return splits


def _halving_rounds(n_candidates, n_units, first, factor):
    """Successive halving as a schedule: (candidates kept, units) per round.

    Each round keeps ``1 / factor`` of the candidates and takes ``factor``
    times the units; a round with no room for another (or one candidate)
    takes all units, and the last round is the one with all of them.
    """
    rounds, keep, n = [], n_candidates, first
    while True:
        n = min(n, n_units)
        rounds.append((keep, n))
        if n >= n_units:
            return rounds
        keep = max(1, int(np.ceil(keep / factor)))
        n = int(np.ceil(n * factor))
        if keep == 1 or n * factor > n_units:
            n = n_units


class _Evaluations:
    """The (candidate, unit) scores so far; calling it evaluates candidates.

    ``evaluations(candidates, units)`` runs the pairs not yet done through
    ``strategy`` and returns each candidate's mean score over the tasks of
    ``units``; ``scores()`` is the (candidates x tasks) matrix (mean over the
    times a task was held out; NaN where never evaluated).
    """

    def __init__(self, strategy, estimators, n_tasks, parallel, verbose=False):
        self.strategy, self.estimators, self.parallel = strategy, estimators, parallel
        self.verbose, self.rounds = verbose, 0
        self.sums = np.zeros((len(estimators), n_tasks))
        self.counts = np.zeros((len(estimators), n_tasks), dtype=int)
        self.done = np.zeros((len(estimators), len(strategy.unit_tasks)), dtype=bool)
        self.fit_times = [[] for _ in estimators]
        self.failures = []

    def __call__(self, candidates, units):
        pairs = [(c, u) for c in candidates for u in units if not self.done[c, u]]
        out = self.parallel(self.strategy.job(clone(self.estimators[c]), u) for c, u in pairs)
        unit_tasks = self.strategy.unit_tasks
        for (c, u), (scores, fit_time, exc) in zip(pairs, out):
            self.sums[c, unit_tasks[u]] += scores
            self.counts[c, unit_tasks[u]] += 1
            self.fit_times[c].append(fit_time)
            self.done[c, u] = True
            if exc is not None:
                self.failures.append((c, u, exc))
        if self.verbose:
            print(f"[MetaHyperparamSearch] round {self.rounds}: {len(candidates)} candidates "
                  f"on {len(units)} {self.strategy.unit}s, {len(pairs)} fits")
        self.rounds += 1
        covered = np.unique(np.concatenate([unit_tasks[u] for u in units]))
        return (self.sums[candidates][:, covered]
                / self.counts[candidates][:, covered]).mean(axis=1)

    def scores(self):
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.counts > 0, self.sums / np.maximum(self.counts, 1), np.nan)

    def report_failures(self, candidates):
        """A FitFailedWarning for failed fits (scored NaN); an error if all failed."""
        if not self.failures:
            return
        n_fits = int(self.done.sum())
        c, u, exc = self.failures[0]
        msg = (f"candidate {c} {candidates[c]} on {self.strategy.unit} {u}: "
               f"{type(exc).__name__}: {exc}")
        if len(self.failures) == n_fits:
            raise ValueError(f"all {n_fits} fits failed; the first: {msg}") from exc
        warnings.warn(
            f"{len(self.failures)} of {n_fits} fits failed and are scored NaN (the worst); "
            f"the first: {msg}", FitFailedWarning)


def _chosen_has(attr):
    """``available_if`` check: the chosen estimator (or, before any, the
    estimator searched over) has ``attr``."""

    def check(self):
        est = getattr(self, "chosen_estimator_", None)
        getattr(self.estimator if est is None else est, attr)
        return True

    return check


class MetaHyperparamSearch(MetaEstimatorMixin, BaseEstimator):
    """Search for hyperparameters that transfer across tasks, with a portfolio.

    ``fit(tasks)`` scores every candidate setting on every training task.
    For a plain scikit-learn estimator (or a skorch net: anything without
    ``adapt``), each candidate is fitted on each task's support set and
    scored on its query set. For an skmeta meta-learner (anything with
    ``adapt``), each candidate is meta-trained on the training folds of a
    task-level ``cv`` and scored after adaptation on every held-out task, so
    each task gets a held-out score per candidate. The search keeps
    ``best_params_``, the candidate with the best mean rank across tasks, and
    a greedy *portfolio* (auto-sklearn 2.0 style) of up to ``portfolio_size``
    settings that together cover the tasks best.

    :meth:`adapt` then picks, for a new task, the portfolio member with the
    best cross-validated score on that task's support set alone, and fits
    (or, for a meta-learner, adapts) it on the whole support set.

    Read more in the :ref:`User Guide <hyperparam_search>`.

    Parameters
    ----------
    estimator : estimator
        A scikit-learn estimator, a skorch net, or an skmeta meta-learner
        (an estimator with ``adapt``, meta-trained by ``fit(tasks)``). It is
        cloned for every fit and never changed.
    param_grid : dict or list of dicts, default=None
        Candidates as in :class:`~sklearn.model_selection.ParameterGrid`.
        Exactly one of ``param_grid`` and ``param_distributions`` is given,
        with at least one name, each with at least one value; every name is
        a parameter of the estimator (``get_params(deep=True)``, or a
        ``module__*`` name of an skmeta estimator), checked before any fit.
    param_distributions : dict or list of dicts, default=None
        Candidates drawn as by
        :class:`~sklearn.model_selection.ParameterSampler` (``n_iter`` of
        them, with ``random_state``): lists are sampled uniformly, scipy
        distributions through ``rvs``.
    n_iter : int, default=10
        Candidates drawn from ``param_distributions``.
    portfolio_size : int, default=3
        Most settings in the portfolio.
    scoring : str, callable or None, default=None
        A scikit-learn scorer name or ``scorer(estimator, X, y)``; ``None``
        uses the estimator's ``score`` (accuracy, or R^2). Higher is better.
        Scores are averaged across tasks for the portfolio, so a score on a
        common scale (R^2, accuracy) suits it better than an unnormalised
        error.
    cv : int or splitter, default=3
        For a meta-learner: number of
        :class:`~skmeta.model_selection.TaskKFold` folds over the training
        tasks, or a splitter with ``split(tasks)`` that holds out every task
        at least once (a task held out several times gets its mean
        score). Unused for plain estimators fitted on tasks. With the array
        form ``fit(X, y)`` without ``groups``: the row folds that become the
        tasks (an int is a (Stratified)KFold).
    halving : bool, default=False
        Successive halving. Plain estimators: the first round scores every
        candidate on ``min_tasks`` tasks (drawn at random), and each round
        keeps the best ``1 / halving_factor`` of the candidates by mean score
        and multiplies the tasks by ``halving_factor``; a round with too few
        tasks left for another one (or with one candidate left) takes all of
        them, so the survivors end scored on every task. Meta-learners: the
        same over the folds of ``cv``, starting with one fold.
    halving_factor : float, default=3
        Candidates kept and tasks (or folds) added per round of halving.
    min_tasks : int or "auto", default="auto"
        Tasks of the first round of halving (plain estimators only).
        ``"auto"``: as few as let the rounds end with all tasks, the number of
        rounds being ``1 + floor(log(n_candidates, halving_factor))``.
    n_jobs : int or None, default=None
        Fits run in parallel through joblib (every (candidate, task) fit for
        plain estimators, every (candidate, fold) meta-training for
        meta-learners); ``None`` is 1 unless a joblib context says otherwise.
    random_state : int, RandomState instance or None, default=None
        Draws the candidates of ``param_distributions`` and the task order of
        halving, seeds ``random_state`` parameters of the estimator that are
        ``None`` (every candidate gets the same seed), and, as an int, seeds
        the support-set folds of :meth:`adapt` (otherwise 0). Makes ``fit`` and
        ``adapt`` reproducible.
    verbose : int, default=0
        Prints the rounds of halving and is joblib's verbosity.

    Attributes
    ----------
    cv_results_ : dict of ndarray
        As in :class:`~sklearn.model_selection.GridSearchCV`: ``params``,
        ``param_<name>`` (masked arrays), ``mean_test_score`` and
        ``std_test_score`` (over the tasks evaluated), ``rank_test_score``
        (1 = best, by mean task rank; candidates dropped by halving come
        last), ``mean_task_rank`` (NaN for dropped candidates), ``n_tasks``
        (tasks evaluated) and ``mean_fit_time`` (per fit, or per meta-training).
    task_scores_ : ndarray of shape (n_candidates, n_tasks)
        Score of each candidate on each training task (held out, for
        meta-learners); NaN where halving did not evaluate it or the fit
        failed.
    best_index_ : int
        Index of the best candidate: best mean rank across tasks (ranked
        among the candidates evaluated on every task), ties broken by mean
        score.
    best_params_ : dict
        Its parameters.
    best_score_ : float
        Its mean score across tasks.
    portfolio_indices_ : list of int
        Candidates in the portfolio: ``best_index_`` first, then greedily the
        candidate that most raises the mean over tasks of the best score in the
        portfolio, until ``portfolio_size`` or no candidate raises it.
    portfolio_ : list of dict
        Their parameters.
    portfolio_estimators_ : list of estimator
        Meta-learners: each portfolio setting meta-trained on all training
        tasks. Plain estimators: unfitted clones with those settings.
    n_features_in_ : int
        Number of features of the tasks.
    feature_names_in_ : ndarray of str
        Feature names, after ``fit(X, y)`` on a DataFrame.
    chosen_index_, chosen_params_, chosen_estimator_, support_scores_
        Set on the estimator :meth:`adapt` returns (and after the array form
        of ``fit``): see :meth:`adapt`.

    See Also
    --------
    skmeta.model_selection.cross_validate_tasks : Task-level cross-validation of one
        meta-learner.
    sklearn.model_selection.GridSearchCV : Search on one dataset.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import Ridge
    >>> from skmeta import MetaHyperparamSearch
    >>> rng = np.random.RandomState(0)
    >>> def task(noise):
    ...     X = rng.normal(size=(40, 5))
    ...     y = X @ rng.normal(size=5) + noise * rng.normal(size=40)
    ...     return X[:10], y[:10], X[10:], y[10:]
    >>> tasks = [task(0.1) for _ in range(10)] + [task(3.0) for _ in range(10)]
    >>> search = MetaHyperparamSearch(Ridge(), {"alpha": [0.01, 1.0, 100.0]},
    ...                               random_state=0).fit(tasks)
    >>> search.task_scores_.shape
    (3, 20)
    >>> search.best_params_
    {'alpha': 0.01}
    >>> search.portfolio_
    [{'alpha': 0.01}, {'alpha': 1.0}, {'alpha': 100.0}]
    >>> t = task(0.1)
    >>> adapted = search.adapt(t[0], t[1])
    >>> adapted.chosen_params_ in search.portfolio_, adapted.predict(t[2]).shape
    (True, (30,))
    """

    _parameter_constraints = {
        "estimator": [HasMethods(["fit"])],
        "param_grid": [dict, list, None],
        "param_distributions": [dict, list, None],
        "n_iter": [Interval(Integral, 1, None, closed="left")],
        "portfolio_size": [Interval(Integral, 1, None, closed="left")],
        "scoring": _SCORING,
        "cv": _CV,
        "halving": ["boolean"],
        "halving_factor": [Interval(Real, 1, None, closed="neither")],
        "min_tasks": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "n_jobs": _N_JOBS,
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(self, estimator, param_grid=None, param_distributions=None, *, n_iter=10,
                 portfolio_size=3, scoring=None, cv=3, halving=False, halving_factor=3,
                 min_tasks="auto", n_jobs=None, random_state=None, verbose=0):
        self.estimator = estimator
        self.param_grid = param_grid
        self.param_distributions = param_distributions
        self.n_iter = n_iter
        self.portfolio_size = portfolio_size
        self.scoring = scoring
        self.cv = cv
        self.halving = halving
        self.halving_factor = halving_factor
        self.min_tasks = min_tasks
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ tags
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        sub = get_tags(self.estimator)
        tags.estimator_type = sub.estimator_type
        tags.classifier_tags = copy.deepcopy(sub.classifier_tags)
        tags.regressor_tags = copy.deepcopy(sub.regressor_tags)
        tags.target_tags.required = sub.target_tags.required
        tags.target_tags.multi_output = sub.target_tags.multi_output
        tags.input_tags.allow_nan = sub.input_tags.allow_nan
        tags.non_deterministic = sub.non_deterministic
        return tags

    def __sklearn_is_fitted__(self):
        return hasattr(self, "task_scores_")

    def _is_meta(self):
        return callable(getattr(self.estimator, "adapt", None))

    def _allow_nan(self):
        return get_tags(self.estimator).input_tags.allow_nan

    # ------------------------------------------------------------ fitting
    @_fit_context(prefer_skip_nested_validation=False)  # candidates are validated by their fit
    def fit(self, X, y=None, groups=None):
        """Score every candidate on every task; keep the best and a portfolio.

        Parameters
        ----------
        X : list of tasks, or array-like of shape (n_samples, n_features)
            With ``y=None``: the tasks, in any form :class:`skmeta.Task`
            accepts, each with a query set (a pool is an error). With ``y``:
            data. Each value of ``groups`` is then one task, split at random
            into halves for support and query (stratified for classifiers);
            without ``groups``, the folds of ``cv`` over the rows are the
            tasks (training rows as support, held-out rows as query), and at
            the end the search adapts to all of ``(X, y)``, so ``predict``
            works at once.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs), default=None
            Targets when ``X`` is data.
        groups : array-like of shape (n_samples,), default=None
            Task of each row, with ``y``.

        Returns
        -------
        self : MetaHyperparamSearch
            The fitted search.
        """
        self._check_param_space()
        classifier = is_classifier(self.estimator)
        rng = check_random_state(self.random_state)
        for attr in ("chosen_index_", "chosen_params_", "chosen_estimator_",
                     "support_scores_", "feature_names_in_"):
            self.__dict__.pop(attr, None)
        data = None
        given = read_fit_input(X, y, groups, owner="MetaHyperparamSearch", samplers=False)
        if given.kind == "tasks":
            tasks = self._check_tasks(X, classifier)
            self.n_features_in_ = int(tasks[0].X_support.shape[1])
        else:
            data = self._validate_arrays(X, y, classifier)
            tasks = self._array_tasks(*data, groups, classifier, rng)
        self._search(tasks, rng)
        if data is not None:
            adapted = self.adapt(*data)
            for attr in ("chosen_index_", "chosen_params_", "chosen_estimator_",
                         "support_scores_"):
                setattr(self, attr, getattr(adapted, attr))
        return self

    def _validate_arrays(self, X, y, classifier):
        # regression targets keep their shape (a skorch regressor wants (n, 1))
        X, y = validate_data(self, X, y, reset=True, allow_nd=True,
                             ensure_all_finite="allow-nan" if self._allow_nan() else True,
                             multi_output=not classifier, y_numeric=not classifier)
        if classifier:
            check_classification_targets(y)
        return X, y

    def _array_tasks(self, X, y, groups, classifier, rng):
        n = len(X)
        if groups is not None:
            return [t.split(0.5, rng, stratify=classifier)
                    for t in group_pools(X, y, groups, min_rows=2)]
        if n < 2:
            raise ValueError(
                "MetaHyperparamSearch.fit(X, y) cuts the rows into tasks by cv and needs "
                f"at least 2 samples; got n_samples={n}")
        cv = check_cv(self.cv, y, classifier=classifier)
        return [Task(X[tr], y[tr], X[te], y[te]) for tr, te in cv.split(X, y)]

    def _check_tasks(self, tasks, classifier):
        checked = check_tasks(tasks, classifier=classifier, allow_nan=self._allow_nan(),
                              require_query=True)
        out = []
        for i, t in enumerate(checked):
            if not classifier:
                # check_tasks makes real targets float64; keep the user's float
                # dtype (a skorch net with float32 weights needs float32 targets)
                raw = _as_task(tasks[i], i)
                ys, yq = (np.asarray(v) for v in (raw.y_support, raw.y_query))
                if ys.dtype.kind == "f" and ys.dtype != t.y_support.dtype:
                    t = Task(t.X_support, t.y_support.astype(ys.dtype), t.X_query,
                             t.y_query.astype(yq.dtype if yq.dtype.kind == "f" else ys.dtype))
            out.append(t)
        return out

    def _check_param_space(self):
        """Exactly one of param_grid and param_distributions, with something to search."""
        if (self.param_grid is None) == (self.param_distributions is None):
            given = "both" if self.param_grid is not None else "neither"
            raise ValueError(
                "MetaHyperparamSearch takes exactly one of param_grid and "
                f"param_distributions; got {given}")
        name = "param_grid" if self.param_grid is not None else "param_distributions"
        space = getattr(self, name)
        dicts = [space] if isinstance(space, Mapping) else list(space)
        if not any(dicts):
            raise ValueError(f"{name}={space!r} is empty: it has no candidate to search; "
                             "give at least one parameter name with values")
        for d in dicts:
            for key, values in (d.items() if isinstance(d, Mapping) else ()):
                if not hasattr(values, "rvs") and hasattr(values, "__len__") and not len(values):
                    raise ValueError(f"{name} has no value for {key!r}; give at least one")

    def _candidates(self, rng):
        if self.param_grid is not None:
            return list(ParameterGrid(self.param_grid))
        return list(ParameterSampler(self.param_distributions, self.n_iter,
                                     random_state=rng))

    def _seeded(self, rng):
        """The estimator with its ``None`` random_state parameters seeded."""
        est = clone(self.estimator)
        if self.random_state is None:
            return est
        seed = int(rng.randint(_MAX_SEED))
        unset = {k: seed for k, v in est.get_params(deep=True).items()
                 if (k == "random_state" or k.endswith("__random_state")) and v is None}
        return est.set_params(**unset) if unset else est

    @staticmethod
    def _candidate_estimators(base, candidates):
        """One estimator per candidate; an unknown parameter name fails here, before
        any fit. scikit-learn estimators reject it in ``set_params``; skmeta's store
        it there (as they store ``module__*`` names) and ``get_params`` leaves it out."""
        estimators = []
        for params in candidates:
            est = clone(base).set_params(**params)  # scikit-learn's own check first
            valid = est.get_params(deep=True)
            unknown = [name for name in params if name not in valid]
            if unknown:
                raise ValueError(
                    f"Invalid parameter {unknown[0]!r} for estimator "
                    f"{type(base).__name__} in candidate {params}. Valid parameters are: "
                    f"{sorted(valid)}.")
            estimators.append(est)
        return estimators

    def _search(self, tasks, rng):
        candidates = self._candidates(rng)
        estimators = self._candidate_estimators(self._seeded(rng), candidates)
        strategy = (_MetaTrainOnFolds if self._is_meta() else _FitOnSupport)(self, tasks)
        schedule = self._schedule(strategy, len(candidates), rng)
        parallel = Parallel(n_jobs=self.n_jobs, verbose=self.verbose)
        evaluate_candidates = _Evaluations(strategy, estimators, len(tasks), parallel,
                                           verbose=self.verbose and self.halving)
        self._run_search(evaluate_candidates, schedule)
        evaluate_candidates.report_failures(candidates)
        self._store_results(candidates, evaluate_candidates)
        self.portfolio_estimators_ = strategy.portfolio(
            [estimators[i] for i in self.portfolio_indices_], parallel)
        self._strategy = type(strategy)  # adapt scores and fits the portfolio through it

    def _schedule(self, strategy, n_candidates, rng):
        """Rounds of (candidates kept, units to evaluate them on), a unit being a
        task or a fold: one round of every candidate on every unit, or successive
        halving."""
        n_units = len(strategy.unit_tasks)
        if not self.halving:
            return [(n_candidates, np.arange(n_units))]
        order, first = strategy.halving_start(self, n_candidates, rng)
        rounds = _halving_rounds(n_candidates, n_units, first, float(self.halving_factor))
        return [(keep, order[:n]) for keep, n in rounds]

    @staticmethod
    def _run_search(evaluate_candidates, schedule):
        """Propose candidates round by round: all of them first, then the ``keep``
        best by mean score (over the tasks evaluated) of the previous round."""
        alive = np.arange(schedule[0][0])
        for keep, units in schedule:
            if keep < len(alive):
                best = np.argsort(-np.nan_to_num(means, nan=-np.inf), kind="stable")
                alive = alive[best[:keep]]
            means = evaluate_candidates(alive, units)

    def _store_results(self, candidates, evaluations):
        S = evaluations.scores()
        complete = evaluations.done.all(axis=1)
        evaluated = evaluations.counts > 0
        mean_score = np.array([S[c, evaluated[c]].mean() for c in range(len(S))])
        std_score = np.array([S[c, evaluated[c]].std() for c in range(len(S))])
        n_evaluated = evaluated.sum(axis=1)
        mean_rank = _mean_task_rank(S, complete)
        order, ranks = _ranking(mean_rank, mean_score, n_evaluated, complete)
        self.task_scores_ = S
        self.cv_results_ = {
            "params": candidates,
            **_param_arrays(candidates),
            "mean_test_score": mean_score,
            "std_test_score": std_score,
            "rank_test_score": ranks,
            "mean_task_rank": mean_rank,
            "n_tasks": n_evaluated,
            "mean_fit_time": np.array([np.mean(f) for f in evaluations.fit_times]),
        }
        self.best_index_ = int(order[0])
        self.best_params_ = candidates[self.best_index_]
        self.best_score_ = float(mean_score[self.best_index_])
        self.portfolio_indices_ = _greedy_portfolio(
            S, self.portfolio_size, start=self.best_index_, candidates=np.flatnonzero(complete))
        self.portfolio_ = [candidates[i] for i in self.portfolio_indices_]

    # ------------------------------------------------------------ adaptation
    def _support_cv(self, y, classifier):
        """The splitter of the support set, or None when it is too small."""
        seed = self.random_state if isinstance(self.random_state, Integral) else 0
        if classifier:
            _, counts = np.unique(y, return_counts=True)
            k = min(5, int(counts.min())) if len(counts) > 1 else 0
            return StratifiedKFold(k, shuffle=True, random_state=seed) if k >= 2 else None
        k = min(5, len(y) // 2)  # at least 2 held-out rows per fold (R^2)
        return KFold(k, shuffle=True, random_state=seed) if k >= 2 else None

    def adapt(self, X_support, y_support):
        """Choose a portfolio setting for a new task, and fit it on its support set.

        The first portfolio member, ``best_params_`` (the best across the
        training tasks), is taken unless the support set clearly says
        otherwise. Each member is scored by cross-validation on the support
        set alone: :class:`~sklearn.model_selection.KFold` (or
        :class:`~sklearn.model_selection.StratifiedKFold` for classifiers)
        with ``n_splits = min(5, ...)`` as the support set allows (at least
        2 held-out rows per fold for regression, 1 per class for
        classification), shuffled with ``random_state``; a plain estimator is
        fitted on the training part of each fold, a meta-learner adapted to
        it. The member with the best mean score replaces ``best_params_`` only
        where it beats it by more than the 95% interval of their paired fold
        differences (a paired t-test over the folds): on a few rows the folds
        are too noisy to overrule a ranking learned across many tasks. When
        the support set is too small to cross-validate (fewer than 4 rows for
        regression, fewer than 2 examples of some class or a single class),
        allows fewer than 3 folds, or the portfolio has one member,
        ``best_params_`` is taken.

        Parameters
        ----------
        X_support : array-like of shape (n_support, n_features)
            Support inputs of the new task.
        y_support : array-like of shape (n_support,) or (n_support, n_outputs)
            Support targets.

        Returns
        -------
        adapted : MetaHyperparamSearch
            A new fitted search (the fitted one is unchanged) whose
            ``predict``, ``predict_proba`` and ``score`` use the chosen
            estimator, with ``chosen_index_`` (its candidate index),
            ``chosen_params_``, ``chosen_estimator_`` and ``support_scores_``
            (each portfolio member's mean support score, NaN where not
            cross-validated).
        """
        check_is_fitted(self)
        classifier = is_classifier(self.estimator)
        X, y = validate_data(self, X_support, y_support, reset=False, allow_nd=True,
                             ensure_all_finite="allow-nan" if self._allow_nan() else True,
                             multi_output=not classifier, y_numeric=not classifier)
        members = self.portfolio_estimators_
        scores = np.full(len(members), np.nan)
        k = 0
        cv = self._support_cv(y, classifier) if len(members) > 1 else None
        if cv is not None:
            folds = np.array([self._strategy.support_score(member, X, y, cv, self.scoring)
                              for member in members])
            scores[:] = folds.mean(axis=1)
            k = _confident_choice(folds)
        chosen = self._strategy.fit_support(members[k], X, y)
        new = copy.copy(self)
        new.chosen_index_ = self.portfolio_indices_[k]
        new.chosen_params_ = self.portfolio_[k]
        new.chosen_estimator_ = chosen
        new.support_scores_ = scores
        return new

    # ------------------------------------------------------------ prediction
    def _chosen(self, X):
        check_is_fitted(self)
        if not hasattr(self, "chosen_estimator_"):
            raise NotFittedError(
                "this MetaHyperparamSearch was fitted on tasks and has chosen no "
                "setting yet: call adapt(X_support, y_support) and predict with the "
                "estimator it returns")
        X = validate_data(self, X, reset=False, allow_nd=True,
                          ensure_all_finite="allow-nan" if self._allow_nan() else True)
        return self.chosen_estimator_, X

    def predict(self, X):
        """Predict with the chosen estimator.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        y : ndarray
            The chosen estimator's predictions.
        """
        est, X = self._chosen(X)
        return est.predict(X)

    @available_if(_chosen_has("predict_proba"))
    def predict_proba(self, X):
        """Class probabilities of the chosen estimator.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Columns follow ``classes_``.
        """
        est, X = self._chosen(X)
        return est.predict_proba(X)

    @available_if(_chosen_has("predict_log_proba"))
    def predict_log_proba(self, X):
        """Log class probabilities of the chosen estimator.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            Columns follow ``classes_``.
        """
        est, X = self._chosen(X)
        return est.predict_log_proba(X)

    @available_if(_chosen_has("decision_function"))
    def decision_function(self, X):
        """Decision function of the chosen estimator.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        scores : ndarray
            The chosen estimator's decision function.
        """
        est, X = self._chosen(X)
        return est.decision_function(X)

    def score(self, X, y, sample_weight=None):
        """Score of the chosen estimator with ``scoring`` (its ``score`` if None).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        score : float
            The chosen estimator's score on ``(X, y)``.
        """
        est, X = self._chosen(X)
        kwargs = {} if sample_weight is None else {"sample_weight": sample_weight}
        return check_scoring(est, scoring=self.scoring)(est, X, y, **kwargs)

    @property
    def classes_(self):
        """The chosen classifier's classes (after :meth:`adapt`)."""
        return self.chosen_estimator_.classes_
