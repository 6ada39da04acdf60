"""Few-shot score against the number of adaptation steps, with its confidence band."""

import copy
from numbers import Integral

import numpy as np
from sklearn.base import is_classifier
from sklearn.utils.validation import check_is_fitted

from ..model_selection import evaluate_tasks
from ._base import check_ax, check_kwargs, import_pyplot

__all__ = ["AdaptationCurveDisplay"]


def _check_steps(steps):
    try:
        values = list(steps)
    except TypeError:
        raise TypeError(f"steps must be a list of ints >= 0; got {steps!r}") from None
    bad = [v for v in values if not isinstance(v, Integral) or isinstance(v, bool) or v < 0]
    if not values or bad:
        raise ValueError(f"steps must be a non-empty list of ints >= 0; got {steps!r}")
    return np.unique(np.asarray(values, dtype=int))


def _score_name(estimators, scoring, negate_score):
    if scoring is None:
        return "accuracy" if all(is_classifier(e) for e in estimators) else "score"
    if not isinstance(scoring, str):
        return "-score" if negate_score else "score"
    if negate_score:
        return scoring[len("neg_"):] if scoring.startswith("neg_") else f"-{scoring}"
    return scoring


def _evaluate_steps(estimator, tasks, steps, param_name, kwargs):
    """``evaluate_tasks`` after each number of steps, set through ``param_name``
    on a copy of ``estimator``; scored once when ``param_name`` is None."""
    if param_name is None:
        return [evaluate_tasks(estimator, tasks, **kwargs)] * len(steps)
    estimator = copy.deepcopy(estimator)  # set_params must not change the user's estimator
    results = []
    for k in steps:
        estimator.set_params(**{param_name: int(k)})
        results.append(evaluate_tasks(estimator, tasks, **kwargs))
    return results


class AdaptationCurveDisplay:
    """Adaptation curve: few-shot query score against the number of adaptation steps.

    For every number of steps, each estimator adapts to the support set of
    every task with that many gradient steps and is scored on the query
    set (:func:`skmeta.model_selection.evaluate_tasks`); the curve is the
    mean over tasks, the band its confidence interval. Use
    :meth:`from_estimator` to create it; it calls :meth:`plot`.

    Parameters
    ----------
    steps : ndarray of shape (n_steps,)
        Numbers of adaptation steps, increasing.
    means : ndarray of shape (n_estimators, n_steps)
        Mean query score over the tasks.
    cis : ndarray of shape (n_estimators, n_steps)
        Half-width of the confidence interval of each mean.
    names : list of str
        Name of each estimator, for the legend.
    varies : ndarray of bool of shape (n_estimators,), default=None
        Whether each estimator takes adaptation steps; one that does not
        (a metric learner) was scored once and is drawn as a dashed flat
        line. None: all do.
    scores : ndarray of shape (n_estimators, n_steps, n_tasks), default=None
        Score of every task.
    score_name : str, default="score"
        Label of the vertical axis.
    confidence : float, default=0.95
        Level of the interval, for the legend.

    Attributes
    ----------
    lines_ : list of matplotlib Line2D
        One mean curve per estimator.
    fill_between_ : list of matplotlib PolyCollection
        One confidence band per estimator.
    ax_ : matplotlib Axes
        Axes with the curves.
    figure_ : matplotlib Figure
        Figure containing the curves.

    See Also
    --------
    skmeta.plotting.MetaLearningCurveDisplay : Loss during meta-training.

    Notes
    -----
    The number of steps is set with ``set_params(**{param_name: k})`` on a
    deep copy of each estimator, so the estimators given are never changed.
    Metric learners (:class:`~skmeta.ProtoNetClassifier`,
    :class:`~skmeta.SiameseClassifier`, :class:`~skmeta.MetaRidgeRegressor`)
    take no gradient steps and have no ``adapt_steps``: they are scored once
    and drawn as a dashed horizontal line with its band, a reference for
    the others. At least one estimator must have ``param_name``.

    Examples
    --------
    >>> from skmeta import MAMLRegressor
    >>> from skmeta.datasets import make_sinusoid_tasks
    >>> from skmeta.plotting import AdaptationCurveDisplay
    >>> est = MAMLRegressor(hidden_layer_sizes=(8,), max_iter=5, random_state=0).fit(
    ...     make_sinusoid_tasks(10, random_state=0))
    >>> tasks = make_sinusoid_tasks(8, n_support=5, random_state=1)
    >>> disp = AdaptationCurveDisplay.from_estimator(
    ...     est, tasks, steps=[0, 1, 2, 5], scoring="neg_mean_squared_error",
    ...     negate_score=True)
    >>> disp.means.shape
    (1, 4)
    >>> disp.ax_.get_ylabel()
    'mean_squared_error'
    """

    def __init__(self, *, steps, means, cis, names, varies=None, scores=None,
                 score_name="score", confidence=0.95):
        self.steps = steps
        self.means = means
        self.cis = cis
        self.names = names
        self.varies = varies
        self.scores = scores
        self.score_name = score_name
        self.confidence = confidence

    @classmethod
    def from_estimator(cls, estimator, tasks, *, steps=(0, 1, 2, 3, 5, 10),
                       param_name="adapt_steps", names=None, scoring=None, negate_score=False,
                       confidence=0.95, batch_size="auto", n_jobs=None, ax=None,
                       line_kw=None, fill_between_kw=None):
        """Score fitted estimators on tasks after each number of adaptation steps, and plot.

        Parameters
        ----------
        estimator : fitted estimator or list of fitted estimators
            Meta-trained estimators with ``adapt``.
        tasks : list of tasks
            Tasks with query sets, in any form :class:`skmeta.Task` accepts.
        steps : list of int, default=(0, 1, 2, 3, 5, 10)
            Numbers of adaptation steps to score (sorted; repeats dropped).
        param_name : str, default="adapt_steps"
            The parameter that sets the steps (e.g.
            ``"mamlregressor__adapt_steps"`` in a pipeline).
        names : list of str, default=None
            Legend names of the estimators; None uses their class names.
        scoring : str, callable or None, default=None
            As in :func:`~skmeta.model_selection.evaluate_tasks`; None is
            the estimator's ``score`` (accuracy, or R^2).
        negate_score : bool, default=False
            Plot the negated score, e.g. the mean squared error for
            ``scoring="neg_mean_squared_error"``.
        confidence : float in (0, 1), default=0.95
            Level of the confidence band.
        batch_size : int or "auto", default="auto"
            As in :func:`~skmeta.model_selection.evaluate_tasks`.
        n_jobs : int or None, default=None
            As in :func:`~skmeta.model_selection.evaluate_tasks`.
        ax : matplotlib Axes, default=None
            Axes to draw into; None makes a new figure.
        line_kw, fill_between_kw : dict, default=None
            Keyword arguments of ``ax.plot`` and ``ax.fill_between``.

        Returns
        -------
        display : AdaptationCurveDisplay

        Examples
        --------
        >>> from skmeta import MAMLRegressor
        >>> from skmeta.datasets import make_sinusoid_tasks
        >>> from skmeta.plotting import AdaptationCurveDisplay
        >>> train = make_sinusoid_tasks(10, random_state=0)
        >>> maml = MAMLRegressor(hidden_layer_sizes=(8,), max_iter=3, random_state=0)
        >>> fomaml = MAMLRegressor(hidden_layer_sizes=(8,), max_iter=3, first_order=True,
        ...                        random_state=0)
        >>> disp = AdaptationCurveDisplay.from_estimator(
        ...     [maml.fit(train), fomaml.fit(train)], make_sinusoid_tasks(5, random_state=1),
        ...     steps=[0, 1, 3], names=["MAML", "FOMAML"])
        >>> [line.get_label() for line in disp.lines_]
        ['MAML', 'FOMAML']
        >>> maml.adapt_steps is None  # the estimators given are not changed
        True
        """
        import_pyplot(cls.__name__)  # before the evaluation, which can take a while
        estimators = list(estimator) if isinstance(estimator, (list, tuple)) else [estimator]
        if not estimators:
            raise ValueError("estimator must be a fitted estimator or a non-empty list of them")
        for est in estimators:
            if not hasattr(est, "adapt"):
                raise TypeError(f"estimator must have an adapt method; got "
                                f"{type(est).__name__}")
            check_is_fitted(est)
        names = [type(e).__name__ for e in estimators] if names is None else list(names)
        if len(names) != len(estimators):
            raise ValueError(f"names has {len(names)} entries for {len(estimators)} "
                             "estimators")
        steps = _check_steps(steps)
        varies = np.array([param_name in e.get_params() for e in estimators])
        if not varies.any():
            raise ValueError(f"no estimator has a parameter {param_name!r}, so nothing "
                             "changes with the number of steps; see param_name")
        sign = -1.0 if negate_score else 1.0
        kwargs = {"scoring": scoring, "confidence": confidence, "batch_size": batch_size,
                  "n_jobs": n_jobs}
        results = [_evaluate_steps(est, tasks, steps, param_name if has_steps else None,
                                   kwargs) for est, has_steps in zip(estimators, varies)]
        display = cls(
            steps=steps,
            means=sign * np.array([[r.mean for r in res] for res in results]),
            cis=np.array([[r.ci for r in res] for res in results]),
            names=names, varies=varies,
            scores=sign * np.array([[r.scores for r in res] for res in results]),
            score_name=_score_name(estimators, scoring, negate_score), confidence=confidence)
        return display.plot(ax=ax, line_kw=line_kw, fill_between_kw=fill_between_kw)

    def plot(self, ax=None, *, line_kw=None, fill_between_kw=None):
        """Draw the mean curves and their confidence bands.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw into; None makes a new figure.
        line_kw : dict, default=None
            Keyword arguments of ``ax.plot`` for every curve.
        fill_between_kw : dict, default=None
            Keyword arguments of ``ax.fill_between`` for every band.

        Returns
        -------
        display : AdaptationCurveDisplay
            This display, with the artists drawn.

        Examples
        --------
        >>> import numpy as np
        >>> from skmeta.plotting import AdaptationCurveDisplay
        >>> disp = AdaptationCurveDisplay(
        ...     steps=np.array([0, 1, 5]), means=np.array([[0.2, 0.6, 0.7]]),
        ...     cis=np.array([[0.05, 0.04, 0.04]]), names=["MAML"], score_name="R^2")
        >>> disp = disp.plot(line_kw={"color": "black"})
        >>> disp.lines_[0].get_color()
        'black'
        """
        line_kw = check_kwargs(line_kw, "line_kw")
        fill_between_kw = check_kwargs(fill_between_kw, "fill_between_kw")
        ax = check_ax(ax, type(self).__name__)
        varies = np.ones(len(self.names), bool) if self.varies is None else self.varies
        self.lines_, self.fill_between_ = [], []
        for name, mean, ci, has_steps in zip(self.names, self.means, self.cis, varies):
            style = {"marker": "o"} if has_steps else {"linestyle": "--"}
            label = name if has_steps else f"{name} (no adaptation steps)"
            (line,) = ax.plot(self.steps, mean, **{"label": label, **style, **line_kw})
            self.lines_.append(line)
            self.fill_between_.append(ax.fill_between(
                self.steps, mean - ci, mean + ci,
                **{"color": line.get_color(), "alpha": 0.2, "linewidth": 0,
                   **fill_between_kw}))
        ax.set_xlabel("adaptation steps")
        ax.set_ylabel(self.score_name)
        ax.set_title(f"mean over tasks, {self.confidence:.0%} confidence band")
        ax.legend()
        self.ax_, self.figure_ = ax, ax.figure
        return self
