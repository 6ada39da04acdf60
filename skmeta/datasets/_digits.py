"""Few-shot episodes from scikit-learn's bundled 8x8 digits, with disjoint classes."""

from numbers import Integral

import numpy as np
from sklearn.datasets import load_digits
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import validate_params

from ..tasks import EpisodeSampler
from ..tasks._params import Count

__all__ = ["load_digits_tasks"]


def _check_test_classes(test_classes):
    if isinstance(test_classes, (set, frozenset)):
        test_classes = sorted(test_classes, key=repr)
    try:
        ok = not isinstance(test_classes, str) and np.ndim(test_classes) == 1
    except ValueError:
        ok = False
    if not ok or len(test_classes) == 0:
        raise ValueError("test_classes must be a non-empty 1-D list of digits 0-9; "
                         f"got {test_classes!r}")
    bad = [v for v in list(test_classes)
           if not isinstance(v, Integral) or isinstance(v, (bool, np.bool_))
           or not 0 <= v <= 9]
    if bad:
        raise ValueError(f"test_classes must hold digits 0-9; got {bad[:10]!r} in "
                         f"{test_classes!r}")
    return np.unique(np.asarray(list(test_classes), dtype=np.int64))


@validate_params(
    {"n_way": [Count(1)], "k_shot": [Count(1)], "n_query": [Count(0)],
     "n_train_tasks": [Count(1)], "n_test_tasks": [Count(1)], "test_classes": ["array-like"],
     "images": ["boolean"], "random_state": ["random_state"]},
    prefer_skip_nested_validation=True,
)
def load_digits_tasks(n_way=5, k_shot=1, n_query=15, *, n_train_tasks=1000, n_test_tasks=100,
                      test_classes=(5, 6, 7, 8, 9), images=False, random_state=None):
    """Make N-way K-shot episodes of the 8x8 digits, meta-train and meta-test classes disjoint.

    The 1,797 images of scikit-learn's bundled digits
    (:func:`sklearn.datasets.load_digits`, about 180 per digit) are scaled
    to [0, 1] (divided by 16). Meta-training episodes are drawn only from
    the digits not in ``test_classes``, meta-test episodes only from
    ``test_classes``, so every test task is about digits never seen in
    meta-training, as in the few-shot literature. A small, quick stand-in
    for Omniglot (see :func:`load_omniglot`).

    Read more in the :ref:`User Guide <datasets>`.

    Parameters
    ----------
    n_way : int, default=5
        Classes per episode, on both sides.
    k_shot : int, default=1
        Support examples per class.
    n_query : int, default=15
        Query examples per class; 0 makes the episodes pools.
    n_train_tasks : int, default=1000
        Number of meta-training episodes.
    n_test_tasks : int, default=100
        Number of meta-test episodes.
    test_classes : array-like of int, default=(5, 6, 7, 8, 9)
        The digits kept for meta-testing; the other digits are for
        meta-training. Each side needs at least ``n_way`` digits.
    images : bool, default=False
        If True, inputs are 8x8 images of shape ``(n, 8, 8)`` (e.g. for
        convolutional networks), else rows of 64 features.
    random_state : int, RandomState instance or None, default=None
        Controls the draw. The meta-test episodes do not depend on
        ``n_train_tasks``.

    Returns
    -------
    train_tasks : list of Task
        ``n_train_tasks`` episodes of the meta-training digits. Each has
        ``n_way * k_shot`` support and ``n_way * n_query`` query examples of
        shape ``(64,)`` or ``(8, 8)``, float64 in [0, 1]; labels are the
        digits themselves (ints).
    test_tasks : list of Task
        ``n_test_tasks`` episodes of the digits in ``test_classes``.

    Raises
    ------
    ValueError
        When a count is not an int >= 1 (``n_query``: >= 0), when
        ``test_classes`` holds something other than digits 0-9, when
        ``n_way`` exceeds the digits of either side (the message names the
        side), or when ``k_shot + n_query`` exceeds the images of a digit.

    See Also
    --------
    make_fewshot_tasks : Episodes from any labelled arrays.
    skmeta.EpisodeSampler : The endless sampler behind this function.

    Examples
    --------
    >>> from skmeta.datasets import load_digits_tasks
    >>> train, test = load_digits_tasks(n_way=3, k_shot=5, n_query=10, n_train_tasks=200,
    ...                                 n_test_tasks=20, test_classes=[7, 8, 9],
    ...                                 random_state=0)
    >>> len(train), len(test)
    (200, 20)
    >>> test[0]
    Task(n_support=15, n_query=30, n_features=64)
    >>> sorted({int(c) for t in test for c in t.y_support})
    [7, 8, 9]
    >>> train, test = load_digits_tasks(images=True, n_train_tasks=5, n_test_tasks=5,
    ...                                 random_state=0)
    >>> train[0].X_query.shape
    (75, 8, 8)
    """
    test = _check_test_classes(test_classes)
    train = np.setdiff1d(np.arange(10), test)
    for side, classes, hint in (
        ("meta-training", train, "the digits not in test_classes"),
        ("meta-test", test, "test_classes"),
    ):
        if n_way > len(classes):
            raise ValueError(
                f"n_way={n_way} is larger than the {len(classes)} {side} classes "
                f"({hint}: {classes.tolist()}); lower n_way or change test_classes")

    digits = load_digits()
    X = digits.images if images else digits.data
    X = X / 16.0
    y = digits.target
    rng = check_random_state(random_state)
    train_seed, test_seed = rng.randint(np.iinfo(np.int32).max, size=2)
    train_tasks = EpisodeSampler(X, y, n_way, k_shot, n_query, classes=train).sample(
        n_train_tasks, train_seed)
    test_tasks = EpisodeSampler(X, y, n_way, k_shot, n_query, classes=test).sample(
        n_test_tasks, test_seed)
    return train_tasks, test_tasks
