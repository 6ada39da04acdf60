"""Training and validation loss of meta-training, from an estimator's ``history_``."""

from collections.abc import Mapping

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ._base import check_ax, check_kwargs

__all__ = ["MetaLearningCurveDisplay"]

_X_LABELS = {"iteration": "meta-iteration", "time": "meta-training time (s)"}


class MetaLearningCurveDisplay:
    """Meta-training curve: training and validation loss against meta-iterations or time.

    Built from the ``history_`` of a meta-trained estimator (a skorch
    ``History``, one row per meta-iteration with ``train_loss``, ``dur`` and,
    every ``eval_every`` iterations when tasks are held out for validation or
    early stopping, ``valid_loss``). Use :meth:`from_estimator` or
    :meth:`from_history` to create it; they call :meth:`plot`.

    Parameters
    ----------
    iterations : ndarray of shape (n_rows,)
        Meta-iteration of each history row (its ``epoch``).
    time : ndarray of shape (n_rows,)
        Seconds of meta-training up to the end of each row (the running sum
        of ``dur``: the time of the meta-iterations, without validation
        and callbacks); NaN where the history has no ``dur``.
    train_loss : ndarray of shape (n_rows,)
        Meta-training loss of each row's meta-batch.
    valid_loss : ndarray of shape (n_rows,)
        Validation loss, NaN in the rows without validation.
    name : str, default=None
        Name of the estimator, prefixed to the legend labels.

    Attributes
    ----------
    train_line_ : matplotlib Line2D
        The training loss.
    valid_line_ : matplotlib Line2D or None
        The validation loss; None when the history has none.
    ax_ : matplotlib Axes
        Axes with the curves.
    figure_ : matplotlib Figure
        Figure containing the curves.

    See Also
    --------
    skmeta.plotting.AdaptationCurveDisplay : Query score against adaptation steps.

    Examples
    --------
    >>> import numpy as np
    >>> from skmeta import MAMLRegressor
    >>> from skmeta.datasets import make_sinusoid_tasks
    >>> from skmeta.plotting import MetaLearningCurveDisplay
    >>> tasks = make_sinusoid_tasks(20, random_state=0)
    >>> est = MAMLRegressor(hidden_layer_sizes=(8,), max_iter=6, eval_every=2,
    ...                     validation_fraction=0.2, random_state=0).fit(tasks)
    >>> disp = MetaLearningCurveDisplay.from_estimator(est)
    >>> disp.iterations
    array([1, 2, 3, 4, 5, 6])
    >>> int((~np.isnan(disp.valid_loss)).sum())
    3
    >>> len(disp.ax_.get_lines())
    2
    """

    def __init__(self, *, iterations, time, train_loss, valid_loss, name=None):
        self.iterations = iterations
        self.time = time
        self.train_loss = train_loss
        self.valid_loss = valid_loss
        self.name = name

    @classmethod
    def from_history(cls, history, *, name=None, x="iteration", ax=None, train_kw=None,
                     valid_kw=None):
        """Plot the curves of a training history.

        Parameters
        ----------
        history : skorch.history.History or list of dict
            One dict per meta-iteration (or per epoch of a skorch net) with
            ``train_loss``, and optionally ``epoch``, ``dur`` and
            ``valid_loss``.
        name : str, default=None
            Name prefixed to the legend labels.
        x : {"iteration", "time"}, default="iteration"
            What the horizontal axis shows: the meta-iteration, or the
            seconds of meta-training.
        ax : matplotlib Axes, default=None
            Axes to draw into; None makes a new figure.
        train_kw, valid_kw : dict, default=None
            Keyword arguments of ``ax.plot`` for the training and the
            validation curve.

        Returns
        -------
        display : MetaLearningCurveDisplay

        Examples
        --------
        >>> from skmeta.plotting import MetaLearningCurveDisplay
        >>> history = [{"epoch": 1, "train_loss": 0.9, "dur": 0.5},
        ...            {"epoch": 2, "train_loss": 0.7, "dur": 0.5, "valid_loss": 0.8}]
        >>> disp = MetaLearningCurveDisplay.from_history(history, x="time")
        >>> disp.train_line_.get_xdata()
        array([0.5, 1. ])
        >>> disp.valid_line_.get_ydata()
        array([0.8])
        """
        if isinstance(history, (str, bytes, Mapping)) or not hasattr(history, "__iter__"):
            raise TypeError("history must be a skorch History or a list of dicts; got "
                            f"{type(history).__name__}")
        rows = list(history)
        if not rows:
            raise ValueError("history is empty: the estimator has run no meta-iteration")
        for i, row in enumerate(rows):
            if not isinstance(row, Mapping) or "train_loss" not in row:
                raise ValueError(f"history row {i} has no 'train_loss': each row must be "
                                 "a dict with at least that key")
        iterations = np.array([row.get("epoch", i + 1) for i, row in enumerate(rows)])
        time = np.cumsum([row.get("dur", np.nan) for row in rows], dtype=float)
        train_loss = np.array([row["train_loss"] for row in rows], dtype=float)
        valid_loss = np.array([row.get("valid_loss", np.nan) for row in rows], dtype=float)
        display = cls(iterations=iterations, time=time, train_loss=train_loss,
                      valid_loss=valid_loss, name=name)
        return display.plot(ax=ax, x=x, train_kw=train_kw, valid_kw=valid_kw)

    @classmethod
    def from_estimator(cls, estimator, *, name=None, x="iteration", ax=None, train_kw=None,
                       valid_kw=None):
        """Plot the curves of a meta-trained estimator's ``history_``.

        Parameters
        ----------
        estimator : fitted estimator
            A meta-trained skmeta estimator (or any estimator with a
            ``history_`` or skorch's ``history``).
        name : str, default=None
            Name prefixed to the legend labels.
        x : {"iteration", "time"}, default="iteration"
            What the horizontal axis shows.
        ax : matplotlib Axes, default=None
            Axes to draw into; None makes a new figure.
        train_kw, valid_kw : dict, default=None
            Keyword arguments of ``ax.plot`` for the two curves.

        Returns
        -------
        display : MetaLearningCurveDisplay

        Examples
        --------
        >>> from skmeta import MAMLRegressor
        >>> from skmeta.datasets import make_sinusoid_tasks
        >>> from skmeta.plotting import MetaLearningCurveDisplay
        >>> est = MAMLRegressor(hidden_layer_sizes=(8,), max_iter=4, random_state=0).fit(
        ...     make_sinusoid_tasks(10, random_state=0))
        >>> disp = MetaLearningCurveDisplay.from_estimator(est, name="MAML", x="time")
        >>> disp.train_line_.get_label()
        'MAML: training loss'
        >>> disp.valid_line_ is None  # no tasks held out for validation
        True
        """
        check_is_fitted(estimator)
        history = getattr(estimator, "history_", getattr(estimator, "history", None))
        if history is None:
            raise TypeError(f"{type(estimator).__name__} has no history_ to plot")
        return cls.from_history(history, name=name, x=x, ax=ax, train_kw=train_kw,
                                valid_kw=valid_kw)

    def plot(self, ax=None, *, x="iteration", name=None, train_kw=None, valid_kw=None):
        """Draw the curves.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw into; None makes a new figure.
        x : {"iteration", "time"}, default="iteration"
            What the horizontal axis shows.
        name : str, default=None
            Name prefixed to the legend labels; None keeps ``self.name``.
        train_kw, valid_kw : dict, default=None
            Keyword arguments of ``ax.plot`` for the two curves.

        Returns
        -------
        display : MetaLearningCurveDisplay
            This display, with the artists drawn.

        Examples
        --------
        >>> import matplotlib.pyplot as plt
        >>> import numpy as np
        >>> from skmeta.plotting import MetaLearningCurveDisplay
        >>> disp = MetaLearningCurveDisplay(
        ...     iterations=np.array([1, 2, 3]), time=np.array([0.1, 0.2, 0.3]),
        ...     train_loss=np.array([3.0, 2.0, 1.5]),
        ...     valid_loss=np.array([np.nan, np.nan, 1.8]))
        >>> fig, (left, right) = plt.subplots(1, 2)
        >>> disp = disp.plot(ax=left).plot(ax=right, x="time")
        >>> disp.ax_ is right
        True
        """
        if x not in _X_LABELS:
            raise ValueError(f"x must be 'iteration' or 'time'; got {x!r}")
        xs = self.iterations if x == "iteration" else self.time
        if np.isnan(xs).any():
            raise ValueError("x='time' needs a 'dur' in every history row")
        train_kw = check_kwargs(train_kw, "train_kw")
        valid_kw = check_kwargs(valid_kw, "valid_kw")
        ax = check_ax(ax, type(self).__name__)
        name = self.name if name is None else name
        prefix = "" if name is None else f"{name}: "
        (self.train_line_,) = ax.plot(xs, self.train_loss, **{
            "label": f"{prefix}training loss", "alpha": 0.5, "linewidth": 1, **train_kw})
        self.valid_line_ = None
        has_valid = ~np.isnan(self.valid_loss)
        if has_valid.any():  # the colour of its training loss, in a thick line with dots
            (self.valid_line_,) = ax.plot(xs[has_valid], self.valid_loss[has_valid], **{
                "label": f"{prefix}validation loss", "color": self.train_line_.get_color(),
                "marker": "o", "markersize": 4, "linewidth": 2, **valid_kw})
        ax.set_xlabel(_X_LABELS[x])
        ax.set_ylabel("loss")
        ax.legend()
        self.ax_, self.figure_ = ax, ax.figure
        return self
