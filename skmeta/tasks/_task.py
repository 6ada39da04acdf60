"""The task container, normalisation of every accepted task form, and validation.

This module owns the one support/query split of skmeta: algorithms receive
tasks and never index raw arrays themselves. It imports no torch.
"""

import warnings
from dataclasses import dataclass
from numbers import Integral

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import validate_params
from sklearn.utils.multiclass import type_of_target

from ._params import Count

__all__ = ["Task", "check_tasks", "check_task_batch", "check_float32_range"]

_DICT_KEYS = ("X_support", "y_support", "X_query", "y_query")
_FLOAT32_MAX = float(np.finfo(np.float32).max)


def _beyond_float32(rows):
    """Per row of a 2-D float array: whether it holds a finite value beyond float32's range."""
    # two reductions that skip NaN, no copy of the data
    hi, lo = np.fmax.reduce(rows, axis=1), np.fmin.reduce(rows, axis=1)
    bad = (hi > _FLOAT32_MAX) | (lo < -_FLOAT32_MAX)
    if bad.any():  # infinities (let through by allow_nan) do not count: look closer
        for j in np.flatnonzero(bad & (np.isinf(hi) | np.isinf(lo))):
            row = rows[j]
            bad[j] = (np.abs(row[np.isfinite(row)]) > _FLOAT32_MAX).any()
    return bad


def check_float32_range(a, name, *, task=None, stacked=False):
    """Reject finite values that float32, the dtype skmeta computes in, cannot hold.

    Finite float64 values beyond about 3.4e38 in magnitude become infinite
    when cast to float32. The check is vectorised (two reductions, no copy)
    and only looks at float arrays wider than float32; NaN and infinities
    are left to the caller's finiteness check.

    Parameters
    ----------
    a : array-like
        The array, e.g. ``X`` or real-valued ``y``.
    name : str
        Its name in the error message.
    task : int, default=None
        Index of the task ``a`` belongs to, for the message.
    stacked : bool, default=False
        ``a`` is stacked over tasks (axis 0); the message names the first bad
        task.

    Returns
    -------
    a : ndarray
        ``np.asarray(a)``, unchanged.

    Raises
    ------
    ValueError
        When a finite value of ``a`` exceeds float32's range.

    Examples
    --------
    >>> import numpy as np
    >>> from skmeta.tasks._task import check_float32_range
    >>> check_float32_range(np.array([[1.0, -2.0]]), "X").shape
    (1, 2)
    >>> check_float32_range(np.array([[1.0], [-1e300]]), "X_query", task=3)
    Traceback (most recent call last):
    ...
    ValueError: task 3: X_query has values beyond float32's range (|x| > 3.4e+38); skmeta computes in float32
    """
    a = np.asarray(a)
    if a.dtype.kind != "f" or a.dtype.itemsize <= 4 or a.size == 0:
        return a
    if not stacked and -_FLOAT32_MAX <= a.min() and a.max() <= _FLOAT32_MAX:
        return a  # the common case, fast (NaN fails the test and is looked at below)
    bad = _beyond_float32(a.reshape(len(a), -1) if stacked else a.reshape(1, -1))
    if bad.any():
        i = int(np.argmax(bad)) if stacked else task
        where = "" if i is None else f"task {i}: "
        raise ValueError(f"{where}{name} has values beyond float32's range "
                         f"(|x| > {_FLOAT32_MAX:.1e}); skmeta computes in float32")
    return a


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
    skmeta.tasks.check_tasks : Normalise and validate a list of tasks in any accepted form.
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
        """True when the task has no query set and is split on use."""
        return self.X_query is None

    @property
    def n_support(self):
        """Number of support examples."""
        return len(self.X_support)

    @property
    def n_query(self):
        """Number of query examples (0 for a pool)."""
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
            at least one support example (classification). A class with a
            single example in the pool cannot be on both sides: it goes to
            the support set only, with a warning.

        Returns
        -------
        task : Task
            A new task with a query set. A task that already has a query set
            is returned unchanged.

        Raises
        ------
        ValueError
            When the query set would be empty.

        Warns
        -----
        UserWarning
            With ``stratify=True``, when some class has a single example: no
            query example tests it.

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
            classes = np.unique(y)
            groups = [np.flatnonzero(y == c) for c in classes]
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
        single = np.array([len(idx) == 1 for idx in groups])
        if stratify and single.any():
            warnings.warn(
                f"classes {classes[single][:10].tolist()} have a "
                "single example in this pool: a stratified split puts it in the "
                "support set only, so no query example tests the class",
                UserWarning, stacklevel=2)
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
    check_float32_range(X, name, task=i)
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
        if y.dtype.kind in "fc" and not np.isfinite(y).all():
            raise ValueError(f"task {i}: {name} contains NaN or infinity")
        if y.dtype.kind == "f" and type_of_target(y).startswith("continuous"):
            raise ValueError(
                f"task {i}: {name} is continuous; a classifier needs class labels "
                "(ints, strings, or floats with integral values); use a regressor "
                "for real-valued targets")
        if y.ndim == 2 and y.shape[1] == 1:
            y = y.ravel()
        if y.ndim != 1:
            raise ValueError(f"task {i}: {name} must be 1-D for a classifier")
    else:
        try:
            y = y.astype(np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"task {i}: {name} is not numeric") from None
        if not np.isfinite(y).all():
            raise ValueError(f"task {i}: {name} contains NaN or infinity")
        check_float32_range(y, name, task=i)
    return y


def _check_classes(y, i, min_classes):
    classes = np.unique(y)
    if len(classes) < min_classes:
        shown = "a single class" if len(classes) == 1 else f"{len(classes)} classes"
        raise ValueError(
            f"task {i}: y_support has {shown} {classes[:10].tolist()}, but each task "
            f"needs at least min_classes={min_classes} classes in its support set "
            "(meta-training learns to tell classes apart)")


_BOOL = ["boolean"]
_N_FEATURES = [tuple, None]


@validate_params(
    {"tasks": "no_validation", "classifier": _BOOL, "n_features": _N_FEATURES,
     "allow_nan": _BOOL, "check_query_labels": _BOOL, "require_query": _BOOL,
     "min_classes": [Count(1)]},
    prefer_skip_nested_validation=True,
)
def check_tasks(tasks, *, classifier=False, n_features=None, allow_nan=False,
                check_query_labels=True, require_query=False, min_classes=1):
    """Normalise a list of tasks in any accepted form and validate it.

    Every element may be a :class:`~skmeta.Task`, a ``(X, y)`` pool, a
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
    min_classes : int, default=1
        For classifiers, the fewest classes the support set of each task
        (the whole pool, for a pool) must hold. Meta-training tasks need 2:
        a support set of one class teaches nothing about telling classes
        apart. Ignored for real-valued targets.

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
        wrong length, NaN or infinity, finite values beyond float32's range
        (in ``X``, and in ``y`` for real-valued targets), tasks with
        different feature shapes, a continuous ``y`` for a classifier, a
        support set with fewer than ``min_classes`` classes, or a query
        label absent from the support set. Bad parameters raise scikit-learn's
        ``InvalidParameterError`` (a ``ValueError`` and a ``TypeError``).

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
    >>> check_tasks([(np.zeros((4, 2)), [0.5, 1.5, 0.5, 2.5])], classifier=True)
    Traceback (most recent call last):
    ...
    ValueError: task 0: y_support is continuous; a classifier needs class labels ...
    >>> check_tasks([(np.zeros((2, 1)), [0, 0], np.zeros((1, 1)), [0])], classifier=True,
    ...             min_classes=2)
    Traceback (most recent call last):
    ...
    ValueError: task 0: y_support has a single class [0], but each task needs at least ...
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
        if classifier and min_classes > 1:
            _check_classes(ys, i, min_classes)
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


@validate_params(
    {"X_support": ["array-like"], "y_support": ["array-like"], "X_query": ["array-like"],
     "y_query": ["array-like"], "n_features": _N_FEATURES},
    prefer_skip_nested_validation=True,
)
def check_task_batch(X_support, y_support, X_query, y_query, *, n_features=None):
    """Validate regression tasks given as arrays stacked over tasks.

    The fast path of samplers that define ``sample_batch``: the same checks
    as :func:`check_tasks` for real-valued targets (NaN, infinity, values
    beyond float32's range, shapes), vectorised, with errors naming the
    first bad task.

    Parameters
    ----------
    X_support : ndarray of shape (n_tasks, n_support, ...)
        Support inputs.
    y_support : ndarray of shape (n_tasks, n_support) or (n_tasks, n_support, n_outputs)
        Support targets.
    X_query : ndarray of shape (n_tasks, n_query, ...)
        Query inputs.
    y_query : ndarray of shape (n_tasks, n_query) or (n_tasks, n_query, n_outputs)
        Query targets.
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
    >>> Xq = np.zeros((3, 2, 1)); Xq[1, 0, 0] = -1e300
    >>> check_task_batch(np.zeros((3, 5, 1)), np.zeros((3, 5)), Xq, np.zeros((3, 2)))
    Traceback (most recent call last):
    ...
    ValueError: task 1: X_query has values beyond float32's range (|x| > 3.4e+38); skmeta computes in float32
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
        check_float32_range(a, name, stacked=True)
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
