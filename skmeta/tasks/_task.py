"""The task container, normalisation of every accepted task form, and validation.

This module owns the one support/query split of skmeta: algorithms receive
tasks and never index raw arrays themselves. It imports no torch.
"""

from dataclasses import dataclass
from numbers import Integral

import numpy as np
from sklearn.utils import check_random_state

__all__ = ["Task", "check_tasks", "check_task_batch"]

_DICT_KEYS = ("X_support", "y_support", "X_query", "y_query")


@dataclass(frozen=True, eq=False, repr=False)
class Task:
    """One small supervised problem: a support set and an optional query set.

    The support set holds the few labelled examples an estimator adapts on;
    the query set holds the examples the adapted model is judged on. A task
    without a query set is a *pool*: estimators split it at random into
    support and query each time they use it (see :meth:`split`).

    Read more in the :ref:`User Guide <tasks>`.

    Parameters
    ----------
    X_support : array-like of shape (n_support, n_features) or (n_support, ...)
        Support inputs. Images may keep their shape, e.g. ``(n, H, W)``.
    y_support : array-like of shape (n_support,) or (n_support, n_outputs)
        Support targets: class labels of any hashable type, or real values.
    X_query : array-like of shape (n_query, ...), default=None
        Query inputs; ``None`` makes the task a pool.
    y_query : array-like of shape (n_query,) or (n_query, n_outputs), default=None
        Query targets; given exactly when ``X_query`` is.

    See Also
    --------
    check_tasks : Normalise and validate a list of tasks in any accepted form.
    skmeta.EpisodeSampler : Draw N-way K-shot tasks from a labelled pool.

    Examples
    --------
    >>> import numpy as np
    >>> from skmeta import Task
    >>> t = Task(np.zeros((5, 2)), np.arange(5), np.ones((3, 2)), np.arange(3))
    >>> t
    Task(n_support=5, n_query=3, n_features=2)
    >>> pool = Task(np.zeros((10, 2)), np.arange(10))
    >>> pool.is_pool
    True
    >>> pool.split(4, random_state=0).X_support.shape
    (4, 2)
    """

    X_support: object
    y_support: object
    X_query: object = None
    y_query: object = None

    @property
    def is_pool(self):
        """bool: True when the task has no query set and is split on use."""
        return self.X_query is None

    @property
    def n_support(self):
        """int: number of support examples."""
        return len(self.X_support)

    @property
    def n_query(self):
        """int: number of query examples (0 for a pool)."""
        return 0 if self.X_query is None else len(self.X_query)

    def __repr__(self):
        shape = np.shape(self.X_support)[1:]
        feats = shape[0] if len(shape) == 1 else shape
        return (
            f"Task(n_support={self.n_support}, n_query={self.n_query}, "
            f"n_features={feats})"
        )

    def split(self, n_support, random_state=None, stratify=False):
        """Split a pool into support and query at random.

        Parameters
        ----------
        n_support : int or float
            Support size: an int counts rows (per class when ``stratify``),
            a float in (0, 1) is the fraction of rows (of each class).
        random_state : int, RandomState instance or None, default=None
            Controls the random split.
        stratify : bool, default=False
            Split each class separately so that every class of the pool has
            at least one support example (classification).

        Returns
        -------
        task : Task
            A new task with a query set. A task that already has a query set
            is returned unchanged.

        Examples
        --------
        >>> import numpy as np
        >>> from skmeta import Task
        >>> pool = Task(np.arange(12.0).reshape(6, 2), [0, 0, 0, 1, 1, 1])
        >>> t = pool.split(1, random_state=0, stratify=True)
        >>> t.n_support, t.n_query
        (2, 4)
        """
        if not self.is_pool:
            return self
        rng = check_random_state(random_state)
        X, y = np.asarray(self.X_support), np.asarray(self.y_support)
        if stratify:
            groups = [np.flatnonzero(y == c) for c in np.unique(y)]
        else:
            groups = [np.arange(len(y))]
        sup, qry = [], []
        for idx in groups:
            k = _support_size(n_support, len(idx))
            perm = rng.permutation(idx)
            sup.append(perm[:k])
            qry.append(perm[k:])
        sup, qry = np.concatenate(sup), np.concatenate(qry)
        if len(qry) == 0:
            raise ValueError(
                f"cannot split a pool of {len(y)} rows into a support set of "
                f"{n_support} and a non-empty query set"
            )
        return Task(X[sup], y[sup], X[qry], y[qry])


def _support_size(n_support, n_rows):
    if isinstance(n_support, Integral):
        k = int(n_support)
    else:
        k = int(np.floor(float(n_support) * n_rows))
    # at least one support row; keep one row for the query set where possible
    return max(1, min(k, n_rows - 1)) if n_rows > 1 else 1


def _as_task(obj, i):
    """Turn one element of a task list into a :class:`Task` (no validation)."""
    if isinstance(obj, Task):
        return obj
    if isinstance(obj, dict):
        unknown = set(obj) - set(_DICT_KEYS)
        missing = {"X_support", "y_support"} - set(obj)
        if unknown or missing:
            raise ValueError(
                f"task {i}: a task dict takes the keys {list(_DICT_KEYS)}; "
                f"missing {sorted(missing)}, unknown {sorted(unknown)}"
            )
        return Task(**obj)
    if isinstance(obj, (tuple, list)) and len(obj) in (2, 4):
        return Task(*obj)
    raise TypeError(
        f"task {i}: expected a Task, a (X, y) pool, a (X_support, y_support, "
        f"X_query, y_query) tuple or a dict with those keys; got "
        f"{type(obj).__name__}" + (f" of length {len(obj)}" if hasattr(obj, "__len__") else "")
    )


def _check_X(X, name, i, n_features, allow_nan, ref=None):
    try:
        X = np.asarray(X, dtype=np.float64) if not np.issubdtype(
            np.asarray(X).dtype, np.floating) else np.asarray(X)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"task {i}: {name} is not numeric ({exc})") from None
    if X.ndim < 2:
        raise ValueError(
            f"task {i}: {name} is {X.ndim}-D; expected a 2-D array of shape "
            "(n_samples, n_features) (reshape a single feature with "
            "X.reshape(-1, 1))"
        )
    if not allow_nan and not np.isfinite(X).all():
        raise ValueError(f"task {i}: {name} contains NaN or infinity")
    if n_features is not None and X.shape[1:] != n_features:
        # name the task the expected shape comes from: the odd one out may be either
        where = (f"task {ref}'s X_support has {n_features}" if ref is not None
                 else f"features of shape {n_features} are expected")
        raise ValueError(
            f"task {i}: {name} has features of shape {X.shape[1:]}, but {where}; "
            "all tasks must share n_features"
        )
    return X


def _check_y(y, name, i, n_rows, classifier):
    y = np.asarray(y)
    if y.ndim == 0 or len(y) != n_rows:
        got = "a scalar" if y.ndim == 0 else f"{len(y)} values"
        raise ValueError(
            f"task {i}: {name} has {got} but X has {n_rows} rows; "
            "y must have one value per row"
        )
    if classifier:
        if y.ndim == 2 and y.shape[1] == 1:
            y = y.ravel()
        if y.ndim != 1:
            raise ValueError(f"task {i}: {name} must be 1-D for a classifier")
        if y.dtype.kind in "fc" and not np.isfinite(y).all():
            raise ValueError(f"task {i}: {name} contains NaN or infinity")
    else:
        try:
            y = y.astype(np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"task {i}: {name} is not numeric") from None
        if not np.isfinite(y).all():
            raise ValueError(f"task {i}: {name} contains NaN or infinity")
    return y


def check_tasks(tasks, *, classifier=False, n_features=None, allow_nan=False,
                check_query_labels=True, require_query=False):
    """Normalise a list of tasks in any accepted form and validate it.

    Every element may be a :class:`Task`, a ``(X, y)`` pool, a
    ``(X_support, y_support, X_query, y_query)`` tuple or a dict with those
    keys. Every error names the task index and what is wrong.

    Parameters
    ----------
    tasks : list
        The tasks.
    classifier : bool, default=False
        Validate class labels (1-D, every query label present in the
        support set) instead of real-valued targets.
    n_features : tuple of int, default=None
        Expected shape of one input row (``X.shape[1:]``); ``None`` takes it
        from the first task.
    allow_nan : bool, default=False
        Accept NaN in ``X`` (for pipelines whose first step imputes).
    check_query_labels : bool, default=True
        For classifiers, require every query label to occur in the support
        set of its task.
    require_query : bool, default=False
        Reject pools (tasks without a query set), for scoring.

    Returns
    -------
    tasks : list of Task
        The tasks with numpy arrays (inputs as floats).

    Raises
    ------
    TypeError
        When ``tasks`` is not a list of tasks, or an element has no
        accepted form.
    ValueError
        For an empty list, an empty support set, a 1-D ``X``, a ``y`` of the
        wrong length, NaN or infinity, tasks with different feature shapes,
        or a query label absent from the support set.

    Examples
    --------
    >>> import numpy as np
    >>> from skmeta.tasks import check_tasks
    >>> tasks = check_tasks([(np.zeros((4, 2)), np.arange(4))])
    >>> tasks[0].is_pool, tasks[0].X_support.dtype
    (True, dtype('float64'))
    >>> check_tasks([])
    Traceback (most recent call last):
    ...
    ValueError: tasks is empty: meta-training needs at least one task
    """
    if isinstance(tasks, np.ndarray) or not isinstance(tasks, (list, tuple)):
        raise TypeError(
            "tasks must be a list of tasks or a task sampler; got "
            f"{type(tasks).__name__}. To fit on arrays, pass y (and groups)."
        )
    if len(tasks) == 0:
        raise ValueError("tasks is empty: meta-training needs at least one task")
    out = []
    ref = None  # the task n_features was taken from (None: the caller's)
    for i, obj in enumerate(tasks):
        t = _as_task(obj, i)
        try:
            empty = t.X_support is None or len(t.X_support) == 0
        except TypeError:  # a scalar: _check_X reports it as 0-D
            empty = False
        if empty:
            raise ValueError(f"task {i}: the support set is empty")
        if (t.X_query is None) != (t.y_query is None):
            raise ValueError(f"task {i}: X_query and y_query must be given together")
        if require_query and t.X_query is None:
            raise ValueError(f"task {i}: has no query set to score; pass "
                             "(X_support, y_support, X_query, y_query) tasks")
        Xs = _check_X(t.X_support, "X_support", i, n_features, allow_nan, ref)
        if n_features is None:
            ref = i
        n_features = Xs.shape[1:]
        ys = _check_y(t.y_support, "y_support", i, len(Xs), classifier)
        Xq = yq = None
        if t.X_query is not None:
            Xq = _check_X(t.X_query, "X_query", i, n_features, allow_nan, ref=i)
            yq = _check_y(t.y_query, "y_query", i, len(Xq), classifier)
            if classifier and check_query_labels:
                missing = np.setdiff1d(yq, ys)
                if len(missing):
                    raise ValueError(
                        f"task {i}: query labels {missing.tolist()} never appear "
                        "in the support set"
                    )
            if not classifier and ys.shape[1:] != yq.shape[1:]:
                raise ValueError(f"task {i}: y_support and y_query differ in shape")
        out.append(Task(Xs, ys, Xq, yq))
    if not classifier:
        shapes = {t.y_support.shape[1:] for t in out}
        if len(shapes) > 1:
            raise ValueError(f"tasks have targets of different shapes {sorted(shapes)}")
    return out


def check_task_batch(X_support, y_support, X_query, y_query, *, n_features=None):
    """Validate regression tasks given as arrays stacked over tasks.

    The fast path of samplers that define ``sample_batch``: the same checks
    as :func:`check_tasks` for real-valued targets, vectorised, with errors
    naming the first bad task.

    Parameters
    ----------
    X_support, X_query : ndarray of shape (n_tasks, n_rows, ...)
        Inputs.
    y_support, y_query : ndarray of shape (n_tasks, n_rows) or (n_tasks, n_rows, n_outputs)
        Targets.
    n_features : tuple of int, default=None
        Expected shape of one input row.

    Returns
    -------
    arrays : tuple of ndarray
        The four arrays as floats.

    Examples
    --------
    >>> import numpy as np
    >>> from skmeta.tasks import check_task_batch
    >>> Xs = np.zeros((3, 5, 1)); Xs[2, 0, 0] = np.nan
    >>> check_task_batch(Xs, np.zeros((3, 5)), np.zeros((3, 2, 1)), np.zeros((3, 2)))
    Traceback (most recent call last):
    ...
    ValueError: task 2: X_support contains NaN or infinity
    """
    arrays = [np.asarray(a, dtype=np.float64) for a in (X_support, y_support, X_query, y_query)]
    names = ("X_support", "y_support", "X_query", "y_query")
    n_tasks = len(arrays[0])
    for a, name in zip(arrays, names):
        if a.ndim < 2 or len(a) != n_tasks:
            raise ValueError(f"{name} must be stacked over the {n_tasks} tasks")
        bad = ~np.isfinite(a.reshape(n_tasks, -1)).all(axis=1)
        if bad.any():
            raise ValueError(f"task {int(np.argmax(bad))}: {name} contains NaN or infinity")
    for X, y, side in ((arrays[0], arrays[1], "support"), (arrays[2], arrays[3], "query")):
        if X.ndim < 3:
            raise ValueError(f"X_{side} rows are 0-D; expected (n_tasks, n_rows, n_features)")
        if y.shape[1] != X.shape[1]:
            raise ValueError(
                f"task 0: X_{side} has {X.shape[1]} rows but y_{side} has {y.shape[1]}")
        if n_features is not None and X.shape[2:] != tuple(n_features):
            raise ValueError(
                f"task 0: X_{side} has features of shape {X.shape[2:]}, expected "
                f"{tuple(n_features)}")
    if arrays[0].shape[1] == 0:
        raise ValueError("task 0: the support set is empty")
    return tuple(arrays)
