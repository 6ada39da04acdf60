"""Few-shot episodes from labelled arrays."""

from sklearn.utils._param_validation import validate_params

from ..tasks import EpisodeSampler
from ..tasks._params import Count

__all__ = ["make_fewshot_tasks"]


@validate_params(
    {"X": ["array-like"], "y": ["array-like"], "n_way": [Count(1)], "k_shot": [Count(1)],
     "n_query": [Count(0)], "n_tasks": [Count(1)], "classes": ["array-like", None],
     "random_state": ["random_state"]},
    prefer_skip_nested_validation=True,
)
def make_fewshot_tasks(X, y, n_way, k_shot, n_query, n_tasks, classes=None,
                       random_state=None):
    """Make a list of N-way K-shot classification tasks from labelled arrays.

    Read more in the :ref:`User Guide <datasets>`.

    Parameters
    ----------
    X : array-like of shape (n_samples, ...)
        Inputs.
    y : array-like of shape (n_samples,)
        Class labels, any hashable values.
    n_way : int
        Classes per task.
    k_shot : int
        Support examples per class.
    n_query : int
        Query examples per class; 0 makes the tasks pools.
    n_tasks : int
        Number of tasks.
    classes : array-like, default=None
        Draw only from these classes.
    random_state : int, RandomState instance or None, default=None
        Controls the draw.

    Returns
    -------
    tasks : list of Task
        One episode per task.

    See Also
    --------
    skmeta.EpisodeSampler : The endless sampler behind this function.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skmeta.datasets import make_fewshot_tasks
    >>> X, y = load_iris(return_X_y=True)
    >>> tasks = make_fewshot_tasks(X, y, n_way=2, k_shot=3, n_query=4, n_tasks=10,
    ...                            random_state=0)
    >>> tasks[0].X_support.shape, tasks[0].X_query.shape
    ((6, 4), (8, 4))
    """
    sampler = EpisodeSampler(X, y, n_way, k_shot, n_query, classes=classes)
    return sampler.sample(n_tasks, random_state)
