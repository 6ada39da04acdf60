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

__all__ = ["FitInput", "read_fit_input", "is_sampler", "check_groups", "group_pools",
           "check_pools", "fewshot_splits"]


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


def check_pools(tasks, k_shot, classifier):
    """Raise unless every pool of ``tasks`` can be split into ``k_shot``
    support rows (per class for classifiers) and a non-empty query set.

    Examples
    --------
    >>> import numpy as np
    >>> from skmeta import Task
    >>> from skmeta.tasks._input import check_pools
    >>> check_pools([Task(np.zeros((3, 1)), np.zeros(3))], k_shot=3, classifier=False)
    Traceback (most recent call last):
    ...
    ValueError: task 0: k_shot=3 needs a pool of more than 3 rows; got 3
    """
    for i, t in enumerate(tasks):
        if t.is_pool and t.n_support < 2:
            raise ValueError(
                f"task {i}: a pool (a task without a query set) needs at least 2 "
                f"rows to split into support and query; got {t.n_support} sample"
            )
        if not t.is_pool or k_shot == "auto":
            continue
        if classifier:
            classes, counts = np.unique(t.y_support, return_counts=True)
            if counts.min() <= k_shot:
                raise ValueError(
                    f"task {i}: k_shot={k_shot} needs more than {k_shot} "
                    f"examples of each class in a pool; class "
                    f"{classes[counts.argmin()]!r} has {counts.min()}"
                )
        elif t.n_support <= k_shot:
            raise ValueError(
                f"task {i}: k_shot={k_shot} needs a pool of more than "
                f"{k_shot} rows; got {t.n_support}"
            )


def fewshot_splits(y, groups, k_shot, classifier, rng):
    """Support and query rows of each group, for the few-shot score.

    Each group is split into ``k_shot`` support rows (per class for
    classifiers; ``"auto"``: half) and the rest as query, with ``rng``; a
    group too small for that is a ``ValueError`` that names it, raised
    before any split is returned.

    Returns
    -------
    splits : list of (support, query)
        Row indices (ndarray of int) of each group, in sorted group order.

    Examples
    --------
    >>> import numpy as np
    >>> from skmeta.tasks._input import fewshot_splits
    >>> [(len(s), len(q)) for s, q in fewshot_splits(np.zeros(7), [0] * 4 + [1] * 3, 2,
    ...                                              False, np.random.RandomState(0))]
    [(2, 2), (2, 1)]
    """
    groups = check_groups(groups, len(y))
    need = 2 if k_shot == "auto" else k_shot + 1
    splits = []
    for g in np.unique(groups):
        rows = np.flatnonzero(groups == g)
        g = g.item()  # a Python scalar, for the messages
        if classifier:
            classes, counts = np.unique(y[rows], return_counts=True)
            if counts.min() < need:
                raise ValueError(
                    f"group {g!r}: class {classes[counts.argmin()].item()!r} has "
                    f"{counts.min()} examples; the few-shot score needs {need} per "
                    f"class (k_shot={k_shot!r} to adapt, at least one to score)")
        elif len(rows) < need:
            raise ValueError(
                f"group {g!r} has {len(rows)} examples; the few-shot score needs "
                f"{need} (k_shot={k_shot!r} to adapt, at least one to score)")
        # split row positions, so that sample weights follow their rows
        pos = Task(np.arange(len(rows), dtype=float)[:, None], y[rows])
        t = pos.split(0.5 if k_shot == "auto" else k_shot, rng, stratify=classifier)
        splits.append((rows[t.X_support[:, 0].astype(int)], rows[t.X_query[:, 0].astype(int)]))
    return splits
