"""Splitters over lists of tasks: whole tasks go to one side of each split."""

from numbers import Integral

from sklearn.model_selection import KFold, ShuffleSplit
from sklearn.utils._param_validation import (HasMethods, Interval, RealNotInt,
                                             validate_parameter_constraints)

__all__ = ["TaskKFold", "TaskShuffleSplit"]


class _Splitter(HasMethods):
    """Constraint: an object with ``split`` (a str has one, and is no splitter)."""

    def __init__(self):
        super().__init__(["split"])

    def is_satisfied_by(self, val):
        return not isinstance(val, str) and super().is_satisfied_by(val)


# the constraint of a task-level ``cv``: a number of TaskKFold folds or a splitter
_CV = [Interval(Integral, 2, None, closed="left"), _Splitter()]


def _validate(splitter, **params):
    """Check ``params`` (by default the splitter's attributes) against the
    splitter's ``_parameter_constraints``."""
    constraints = splitter._parameter_constraints
    params = params or {name: getattr(splitter, name) for name in constraints}
    validate_parameter_constraints(constraints, params, caller_name=type(splitter).__name__)


def _n_tasks(tasks, n_splits, name):
    try:
        n = len(tasks)
    except TypeError:
        raise TypeError(f"{name} splits a list of tasks; got {type(tasks).__name__}") from None
    if n < 2:
        raise ValueError(f"{name} needs at least 2 tasks to split; got {n}")
    if n_splits is not None and n < n_splits:
        raise ValueError(
            f"{name}(n_splits={n_splits}) needs at least {n_splits} tasks, one per "
            f"held-out fold; got {n} tasks"
        )
    return n


class TaskKFold(KFold):
    """K-fold cross-validation over tasks.

    Each fold holds out whole tasks: the estimator meta-trains on the tasks
    of the other folds and is scored on the held-out tasks, never on a task
    it has seen. A scikit-learn :class:`~sklearn.model_selection.KFold` over
    task indices, with errors that speak of tasks.

    Read more in the :ref:`User Guide <task_cv>`.

    Parameters
    ----------
    n_splits : int, default=5
        Number of folds, at least 2.
    shuffle : bool, default=False
        Shuffle the tasks before cutting folds.
    random_state : int, RandomState instance or None, default=None
        Controls the shuffle.

    See Also
    --------
    TaskShuffleSplit : Random train/test splits of tasks.
    cross_validate_tasks : Meta-train and score over these folds.

    Examples
    --------
    >>> from skmeta.datasets import make_sinusoid_tasks
    >>> from skmeta.model_selection import TaskKFold
    >>> tasks = make_sinusoid_tasks(6, random_state=0)
    >>> [test.tolist() for _, test in TaskKFold(n_splits=3).split(tasks)]
    [[0, 1], [2, 3], [4, 5]]
    """

    _parameter_constraints = {
        "n_splits": [Interval(Integral, 2, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
    }

    def __init__(self, n_splits=5, *, shuffle=False, random_state=None):
        _validate(self, n_splits=n_splits, shuffle=shuffle, random_state=random_state)
        super().__init__(n_splits, shuffle=shuffle, random_state=random_state)

    def split(self, tasks, y=None, groups=None):
        """Generate indices of training and held-out tasks for each fold.

        Parameters
        ----------
        tasks : list of tasks
            The tasks to split.
        y, groups : None
            Ignored; present for scikit-learn's splitter API.

        Returns
        -------
        splits : generator of (ndarray, ndarray)
            The ``(train, test)`` task indices of each split.
        """
        _validate(self)
        _n_tasks(tasks, self.n_splits, type(self).__name__)
        return super().split(tasks)


_SIZE = [Interval(RealNotInt, 0, 1, closed="neither"), Interval(Integral, 1, None, closed="left"),
         None]


class TaskShuffleSplit(ShuffleSplit):
    """Random splits of a list of tasks into meta-training and held-out tasks.

    Read more in the :ref:`User Guide <task_cv>`.

    Parameters
    ----------
    n_splits : int, default=10
        Number of splits.
    test_size : float, int or None, default=None
        Fraction or number of held-out tasks; ``None``: 0.1 (or the
        complement of ``train_size``).
    train_size : float, int or None, default=None
        Fraction or number of training tasks; ``None``: the complement.
    random_state : int, RandomState instance or None, default=None
        Controls the splits.

    See Also
    --------
    TaskKFold : Every task held out once.

    Examples
    --------
    >>> from skmeta.datasets import make_sinusoid_tasks
    >>> from skmeta.model_selection import TaskShuffleSplit
    >>> tasks = make_sinusoid_tasks(10, random_state=0)
    >>> cv = TaskShuffleSplit(n_splits=2, test_size=3, random_state=0)
    >>> [(len(train), len(test)) for train, test in cv.split(tasks)]
    [(7, 3), (7, 3)]
    """

    _parameter_constraints = {
        "n_splits": [Interval(Integral, 1, None, closed="left")],
        "test_size": _SIZE,
        "train_size": _SIZE,
        "random_state": ["random_state"],
    }

    def __init__(self, n_splits=10, *, test_size=None, train_size=None, random_state=None):
        _validate(self, n_splits=n_splits, test_size=test_size, train_size=train_size,
                  random_state=random_state)
        super().__init__(n_splits, test_size=test_size, train_size=train_size,
                         random_state=random_state)

    def split(self, tasks, y=None, groups=None):
        """Generate indices of training and held-out tasks for each split.

        Parameters
        ----------
        tasks : list of tasks
            The tasks to split.
        y, groups : None
            Ignored; present for scikit-learn's splitter API.

        Returns
        -------
        splits : generator of (ndarray, ndarray)
            The ``(train, test)`` task indices of each split.
        """
        _validate(self)
        _n_tasks(tasks, None, type(self).__name__)
        return super().split(tasks)
