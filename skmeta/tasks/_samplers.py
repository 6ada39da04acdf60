"""Task samplers: objects that draw fresh tasks on demand."""

import numpy as np
from sklearn.utils import check_random_state

from ._params import Count, check_params, validate_sample
from ._task import Task

__all__ = ["TaskSampler", "EpisodeSampler", "SubsetSampler"]


class TaskSampler:
    """Base class of task samplers: anything with ``sample(n_tasks, random_state)``.

    Estimators accept a sampler wherever they accept a list of tasks; they
    then draw fresh tasks for every meta-batch. Subclasses implement
    :meth:`sample`.

    Examples
    --------
    >>> import numpy as np
    >>> from skmeta import Task
    >>> from skmeta.tasks import TaskSampler
    >>> class Constant(TaskSampler):
    ...     def sample(self, n_tasks, random_state=None):
    ...         return [Task(np.ones((2, 1)), np.ones(2), np.ones((2, 1)), np.ones(2))
    ...                 for _ in range(n_tasks)]
    >>> len(Constant().sample(3))
    3
    """

    def sample(self, n_tasks, random_state=None):
        """Draw ``n_tasks`` tasks.

        Parameters
        ----------
        n_tasks : int
            Number of tasks to draw.
        random_state : int, RandomState instance or None, default=None
            Controls the draw.

        Returns
        -------
        tasks : list of Task
            ``n_tasks`` new tasks.
        """
        raise NotImplementedError

    #: Optional fast path: ``sample_batch(n_tasks, random_state)`` returning
    #: ``(X_support, y_support, X_query, y_query)`` stacked over tasks (every
    #: task of equal shape). Samplers of regression tasks may define it.
    sample_batch = None

    def __repr__(self):
        params = ", ".join(
            f"{k}={v!r}" for k, v in vars(self).items()
            if not k.startswith("_") and not isinstance(v, np.ndarray)
        )
        return f"{type(self).__name__}({params})"


class EpisodeSampler(TaskSampler):
    """Draw N-way K-shot episodes from the classes of a labelled pool.

    Each episode picks ``n_way`` classes at random, then ``k_shot`` support
    and ``n_query`` query examples of each, without overlap. Labels stay the
    user's own labels; classifiers map them to positions per task.

    Read more in the :ref:`User Guide <tasks>`.

    Parameters
    ----------
    X : array-like of shape (n_samples, ...)
        The pool's inputs.
    y : array-like of shape (n_samples,)
        Class labels, any hashable values.
    n_way : int
        Classes per episode.
    k_shot : int
        Support examples per class.
    n_query : int
        Query examples per class; 0 makes the episodes pools of
        ``n_way * k_shot`` examples, which estimators split on use.
    classes : array-like, default=None
        Restrict episodes to these classes (e.g. disjoint meta-train and
        meta-test classes). ``None`` uses every class of ``y``.

    Attributes
    ----------
    classes_ : ndarray
        The classes episodes are drawn from.

    Raises
    ------
    ValueError
        When ``n_way``, ``k_shot`` or ``n_tasks`` is not an int >= 1 or
        ``n_query`` not an int >= 0, when ``n_way`` exceeds the classes
        available, or a class has fewer than ``k_shot + n_query`` examples.

    Examples
    --------
    >>> import numpy as np
    >>> from skmeta import EpisodeSampler
    >>> X, y = np.random.RandomState(0).rand(60, 3), np.repeat(["a", "b", "c"], 20)
    >>> sampler = EpisodeSampler(X, y, n_way=2, k_shot=1, n_query=5)
    >>> t = sampler.sample(4, random_state=0)[0]
    >>> t.X_support.shape, t.X_query.shape
    ((2, 3), (10, 3))
    """

    _parameter_constraints = {
        "X": ["array-like"], "y": ["array-like"], "n_way": [Count(1)], "k_shot": [Count(1)],
        "n_query": [Count(0)], "classes": ["array-like", None],
    }

    def __init__(self, X, y, n_way, k_shot, n_query, classes=None):
        check_params(self, self._parameter_constraints, {
            "X": X, "y": y, "n_way": n_way, "k_shot": k_shot, "n_query": n_query,
            "classes": classes})
        X = np.asarray(X)
        y = np.asarray(y)
        if X.ndim < 2:
            raise ValueError(f"X is {X.ndim}-D; expected (n_samples, n_features)")
        if y.ndim != 1 or len(y) != len(X):
            raise ValueError(f"y must be 1-D with one label per row of X ({len(X)})")
        self.n_way, self.k_shot, self.n_query = int(n_way), int(k_shot), int(n_query)
        self.X, self.y = X, y
        all_classes, counts = np.unique(y, return_counts=True)
        if classes is None:
            self.classes_ = all_classes
        else:
            self.classes_ = np.unique(np.asarray(classes))
            absent = np.setdiff1d(self.classes_, all_classes)
            if len(absent):
                raise ValueError(f"classes {absent.tolist()} do not occur in y")
        if self.n_way > len(self.classes_):
            raise ValueError(
                f"n_way={self.n_way} is larger than the {len(self.classes_)} "
                "classes available"
            )
        need = self.k_shot + self.n_query
        count = dict(zip(all_classes.tolist(), counts.tolist()))
        short = [c for c in self.classes_.tolist() if count[c] < need]
        if short:
            raise ValueError(
                f"classes {short[:10]} have fewer than k_shot + n_query = {need} "
                "examples; lower k_shot or n_query, or restrict classes"
            )
        self._index = {c: np.flatnonzero(y == c) for c in self.classes_.tolist()}

    @validate_sample
    def sample(self, n_tasks, random_state=None):
        """Draw ``n_tasks`` episodes.

        Parameters
        ----------
        n_tasks : int
            Number of episodes.
        random_state : int, RandomState instance or None, default=None
            Controls the draw.

        Returns
        -------
        tasks : list of Task
            Pools when ``n_query=0``.
        """
        rng = check_random_state(random_state)
        k, q = self.k_shot, self.n_query
        classes = self.classes_.tolist()
        tasks = []
        for _ in range(n_tasks):
            chosen = rng.choice(len(classes), self.n_way, replace=False)
            rows = np.stack([
                rng.choice(self._index[classes[c]], k + q, replace=False)
                for c in chosen
            ])
            tasks.append(_cut(self.X, self.y, rows[:, :k].ravel(), rows[:, k:].ravel()))
        return tasks


class SubsetSampler(TaskSampler):
    """Draw regression tasks as random subsets of one pool of rows.

    Each task takes ``k_shot + n_query`` distinct rows of ``(X, y)`` at
    random, the first ``k_shot`` as its support set. This is how regressors
    meta-train on plain ``fit(X, y)`` without ``groups``.

    Parameters
    ----------
    X : array-like of shape (n_samples, ...)
        The pool's inputs.
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        The pool's targets.
    k_shot : int
        Support rows per task.
    n_query : int
        Query rows per task.

    Raises
    ------
    ValueError
        When ``k_shot``, ``n_query`` or ``n_tasks`` is not an int >= 1, or
        ``k_shot + n_query`` exceeds the rows of ``X``.

    Examples
    --------
    >>> import numpy as np
    >>> from skmeta.tasks import SubsetSampler
    >>> s = SubsetSampler(np.zeros((30, 2)), np.zeros(30), k_shot=5, n_query=10)
    >>> s.sample(2, random_state=0)[1].X_query.shape
    (10, 2)
    """

    _parameter_constraints = {
        "X": ["array-like"], "y": ["array-like"], "k_shot": [Count(1)], "n_query": [Count(1)],
    }

    def __init__(self, X, y, k_shot, n_query):
        check_params(self, self._parameter_constraints,
                     {"X": X, "y": y, "k_shot": k_shot, "n_query": n_query})
        self.X, self.y = np.asarray(X), np.asarray(y)
        self.k_shot, self.n_query = int(k_shot), int(n_query)
        if self.k_shot + self.n_query > len(self.X):
            raise ValueError(
                f"k_shot + n_query = {self.k_shot + self.n_query} is larger than "
                f"the {len(self.X)} rows available"
            )

    @validate_sample
    def sample(self, n_tasks, random_state=None):
        """Draw ``n_tasks`` tasks of random rows.

        Parameters
        ----------
        n_tasks : int
            Number of tasks.
        random_state : int, RandomState instance or None, default=None
            Controls the draw.

        Returns
        -------
        tasks : list of Task
            ``n_tasks`` tasks of the underlying sampler's family.
        """
        rng = check_random_state(random_state)
        n, k, q = len(self.X), self.k_shot, self.n_query
        rows = np.argsort(rng.random_sample((n_tasks, n)), axis=1)
        return [_cut(self.X, self.y, r[:k], r[k:k + q]) for r in rows]


def _cut(X, y, support, query):
    """The task of rows ``support`` and ``query`` of ``(X, y)``; a pool if ``query`` is empty."""
    if len(query) == 0:
        return Task(X[support], y[support])
    return Task(X[support], y[support], X[query], y[query])
