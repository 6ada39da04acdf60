"""What ``fit`` accepts, told apart in one place.

Estimators, :class:`~skmeta.MetaPipeline` and
:class:`~skmeta.MetaHyperparamSearch` all take a list of tasks, a task
sampler, or arrays ``(X, y)`` with optional ``groups``. :func:`read_fit_input`
decides which, with the same rules and messages everywhere;
:func:`check_groups` and :func:`group_pools` turn ``groups`` into tasks.
"""

from typing import NamedTuple

import numpy as np

from ._samplers import TaskSampler
from ._task import Task

__all__ = ["FitInput", "read_fit_input", "is_sampler", "check_groups", "group_pools"]


def is_sampler(obj):
    """Whether ``obj`` draws tasks (a :class:`TaskSampler`, or anything that is
    not a list or tuple and has a ``sample`` method).

    Examples
    --------
    >>> from skmeta.datasets import SinusoidTasks
    >>> from skmeta.tasks._input import is_sampler
    >>> is_sampler(SinusoidTasks()), is_sampler([])
    (True, False)
    """
    return isinstance(obj, TaskSampler) or (
        callable(getattr(obj, "sample", None)) and not isinstance(obj, (list, tuple)))


class FitInput(NamedTuple):
    """The form of a ``fit`` input: ``kind`` is ``"tasks"`` (``tasks`` is the
    list), ``"sampler"`` (``tasks`` is the sampler) or ``"arrays"`` (``data`` is
    ``(X, y)`` and ``groups`` the row groups or ``None``)."""

    kind: str
    tasks: object = None
    data: tuple = None
    groups: object = None


def read_fit_input(X, y=None, groups=None, *, owner, samplers=True):
    """Tell apart the forms ``fit(X, y=None, groups=None)`` accepts.

    Parameters
    ----------
    X, y, groups
        As given to ``fit``: with ``y=None``, ``X`` is a list of tasks or a
        sampler; with ``y``, ``X`` is data (even as nested lists) and
        ``groups`` optionally says the task of each row.
    owner : str
        The class name, for the messages.
    samplers : bool, default=True
        Whether ``owner`` accepts a sampler; if not, a sampler is a
        ``TypeError`` that says to draw a list from it.

    Returns
    -------
    fit_input : FitInput

    Raises
    ------
    ValueError
        For ``groups`` without ``y``, or an array without ``y``.
    TypeError
        For a sampler where ``samplers=False``.

    Examples
    --------
    >>> import numpy as np
    >>> from skmeta.tasks._input import read_fit_input
    >>> read_fit_input(np.zeros((4, 2)), np.zeros(4), owner="Est").kind
    'arrays'
    >>> read_fit_input(np.zeros((4, 2)), owner="Est")
    Traceback (most recent call last):
    ...
    ValueError: Est requires y to be passed, but the target y is None; X is an array, not a list of tasks
    """
    if y is not None:
        return FitInput("arrays", data=(X, y), groups=groups)
    if groups is not None:
        raise ValueError("groups needs y: pass fit(X, y, groups=groups)")
    if hasattr(X, "shape") and hasattr(X, "dtype"):
        raise ValueError(f"{owner} requires y to be passed, but the target y is None; "
                         "X is an array, not a list of tasks")
    if is_sampler(X):
        if not samplers:
            raise TypeError(
                f"{owner}.fit takes a list of tasks; got a sampler, {type(X).__name__}. "
                "Draw a list from it with sampler.sample(n_tasks, random_state)")
        return FitInput("sampler", tasks=X)
    return FitInput("tasks", tasks=X)


def check_groups(groups, n_rows):
    """``groups`` as an array of one value per row, or a ``ValueError``.

    Examples
    --------
    >>> from skmeta.tasks._input import check_groups
    >>> check_groups([0, 0, 1], 3)
    array([0, 0, 1])
    >>> check_groups([0, 1], 3)
    Traceback (most recent call last):
    ...
    ValueError: groups has shape (2,); expected one value per row (3,)
    """
    groups = np.asarray(groups)
    if groups.shape != (n_rows,):
        raise ValueError(
            f"groups has shape {groups.shape}; expected one value per row ({n_rows},)")
    return groups


def group_pools(X, y, groups, min_rows=1):
    """One pool (a :class:`Task` without query set) per value of ``groups``,
    in sorted order of the values, rows in their order.

    Parameters
    ----------
    X, y : ndarray
        Validated data.
    groups : array-like of shape (n_samples,)
        The task of each row.
    min_rows : int, default=1
        Fewest rows a group needs; a smaller group is a ``ValueError`` that
        names it.

    Returns
    -------
    tasks : list of Task

    Examples
    --------
    >>> import numpy as np
    >>> from skmeta.tasks._input import group_pools
    >>> [t.n_support for t in group_pools(np.zeros((5, 1)), np.zeros(5), [1, 0, 1, 0, 1])]
    [2, 3]
    """
    groups = check_groups(groups, len(X))
    tasks = []
    for g in np.unique(groups):
        rows = np.flatnonzero(groups == g)
        if len(rows) < min_rows:
            raise ValueError(
                f"group {g.item()!r} has {len(rows)} sample{'s' * (len(rows) != 1)}; each "
                f"group is a task split into a support and a query set, which needs at "
                f"least {min_rows}")
        tasks.append(Task(X[rows], y[rows]))
    return tasks
