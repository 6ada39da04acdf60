"""The sinusoid regression family of the MAML paper."""

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import validate_params

from ..tasks import Task, TaskSampler
from ..tasks._params import Count, check_params, validate_sample

__all__ = ["SinusoidTasks", "make_sinusoid_tasks"]


class SinusoidTasks(TaskSampler):
    """Endless sampler of sinusoid regression tasks (Finn et al. 2017).

    Each task is ``y = A sin(x - phi)`` with amplitude ``A ~ U[0.1, 5]``,
    phase ``phi ~ U[0, pi]`` and inputs ``x ~ U[-5, 5]``, as in the MAML
    paper. Pass it to ``fit`` to draw fresh tasks for every meta-batch.

    Read more in the :ref:`User Guide <datasets>`.

    Parameters
    ----------
    n_support : int, default=10
        Support points per task (K).
    n_query : int, default=10
        Query points per task.
    random_state : int, RandomState instance or None, default=None
        Default randomness of :meth:`sample` when it is given none.

    Raises
    ------
    ValueError
        When ``n_support`` or ``n_tasks`` is not an int >= 1, or ``n_query``
        not an int >= 0 (scikit-learn's ``InvalidParameterError``).

    See Also
    --------
    make_sinusoid_tasks : A fixed list of such tasks.

    References
    ----------
    .. [1] C. Finn, P. Abbeel, S. Levine. "Model-Agnostic Meta-Learning for
       Fast Adaptation of Deep Networks". ICML 2017.

    Examples
    --------
    >>> from skmeta.datasets import SinusoidTasks
    >>> tasks = SinusoidTasks(n_support=5, n_query=20).sample(3, random_state=0)
    >>> tasks[0].X_support.shape, tasks[0].y_query.shape
    ((5, 1), (20,))
    """

    amplitude_range = (0.1, 5.0)
    phase_range = (0.0, np.pi)
    x_range = (-5.0, 5.0)

    _parameter_constraints = {
        "n_support": [Count(1)], "n_query": [Count(0)], "random_state": ["random_state"],
    }

    def __init__(self, n_support=10, n_query=10, random_state=None):
        check_params(self, self._parameter_constraints, {
            "n_support": n_support, "n_query": n_query, "random_state": random_state})
        self.n_support, self.n_query = int(n_support), int(n_query)
        self.random_state = random_state

    @validate_sample
    def sample(self, n_tasks, random_state=None):
        """Draw ``n_tasks`` sinusoid tasks.

        Parameters
        ----------
        n_tasks : int
            Number of tasks.
        random_state : int, RandomState instance or None, default=None
            Controls the draw; ``None`` falls back to the sampler's own.

        Returns
        -------
        tasks : list of Task
            Each with ``amplitude`` and ``phase`` known only through its data.
        """
        X, y, _, _ = self.sample_arrays(n_tasks, random_state)
        k = self.n_support
        if self.n_query == 0:
            return [Task(x[:k], t[:k]) for x, t in zip(X, y)]
        return [Task(x[:k], t[:k], x[k:], t[k:]) for x, t in zip(X, y)]

    @validate_sample
    def sample_batch(self, n_tasks, random_state=None):
        """Draw tasks as stacked arrays, the fast path estimators use.

        Parameters
        ----------
        n_tasks : int
            Number of tasks.
        random_state : int, RandomState instance or None, default=None
            Controls the draw; ``None`` falls back to the sampler's own.

        Returns
        -------
        X_support : ndarray of shape (n_tasks, n_support, 1)
            Support inputs of each task.
        y_support : ndarray of shape (n_tasks, n_support)
            Support targets of each task.
        X_query : ndarray of shape (n_tasks, n_query, 1)
            Query inputs of each task.
        y_query : ndarray of shape (n_tasks, n_query)
            Query targets of each task.

        Examples
        --------
        >>> from skmeta.datasets import SinusoidTasks
        >>> Xs, ys, Xq, yq = SinusoidTasks(5, 15).sample_batch(8, random_state=0)
        >>> Xs.shape, yq.shape
        ((8, 5, 1), (8, 15))
        """
        X, y, _, _ = self.sample_arrays(n_tasks, random_state)
        k = self.n_support
        return X[:, :k], y[:, :k], X[:, k:], y[:, k:]

    @validate_sample
    def sample_arrays(self, n_tasks, random_state=None):
        """Draw tasks as stacked arrays, with their amplitudes and phases.

        Parameters
        ----------
        n_tasks : int
            Number of tasks.
        random_state : int, RandomState instance or None, default=None
            Controls the draw; ``None`` falls back to the sampler's own.

        Returns
        -------
        X : ndarray of shape (n_tasks, n_support + n_query, 1)
            Inputs, support rows first.
        y : ndarray of shape (n_tasks, n_support + n_query)
            Targets.
        amplitude, phase : ndarray of shape (n_tasks,)
            The parameters of each task's sinusoid.
        """
        rng = check_random_state(self.random_state if random_state is None else random_state)
        amp = rng.uniform(*self.amplitude_range, size=n_tasks)
        phase = rng.uniform(*self.phase_range, size=n_tasks)
        X = rng.uniform(*self.x_range, size=(n_tasks, self.n_support + self.n_query, 1))
        y = amp[:, None] * np.sin(X[..., 0] - phase[:, None])
        return X, y, amp, phase


@validate_params(
    {"n_tasks": [Count(1)], "n_support": [Count(1)], "n_query": [Count(0)],
     "random_state": ["random_state"]},
    prefer_skip_nested_validation=True,
)
def make_sinusoid_tasks(n_tasks, n_support=10, n_query=10, random_state=None):
    """Make a list of sinusoid regression tasks (the MAML paper's family).

    Read more in the :ref:`User Guide <datasets>`.

    Parameters
    ----------
    n_tasks : int
        Number of tasks.
    n_support : int, default=10
        Support points per task (K).
    n_query : int, default=10
        Query points per task; 0 makes the tasks pools.
    random_state : int, RandomState instance or None, default=None
        Controls the draw.

    Returns
    -------
    tasks : list of Task
        The tasks, each with its own amplitude and phase.

    See Also
    --------
    SinusoidTasks : The endless sampler of the same family.

    Examples
    --------
    >>> from skmeta.datasets import make_sinusoid_tasks
    >>> tasks = make_sinusoid_tasks(100, n_support=5, random_state=0)
    >>> len(tasks), tasks[0].X_support.shape
    (100, (5, 1))
    """
    return SinusoidTasks(n_support, n_query).sample(n_tasks, random_state)
