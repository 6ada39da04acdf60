"""Parameter constraints shared by the task samplers and the data sets.

Every public function of :mod:`skmeta.tasks` and :mod:`skmeta.datasets` is
wrapped by scikit-learn's ``validate_params``; the samplers check their
constructor arguments with ``validate_parameter_constraints`` and their
``sample`` methods with :data:`validate_sample`, so every bad value gets
scikit-learn's message (an ``InvalidParameterError``, both a ``ValueError``
and a ``TypeError``) naming the parameter and its owner.
"""

from numbers import Integral

import numpy as np
from sklearn.utils._param_validation import (Interval, validate_parameter_constraints,
                                             validate_params)

__all__ = ["Count", "check_params", "validate_sample"]


class Count(Interval):
    """Constraint: an int ``>= left`` that is not a bool.

    scikit-learn's ``Interval(Integral, ...)`` accepts ``True`` as 1; a count
    of examples or tasks given as a bool is a mistake, so this one refuses it.

    Examples
    --------
    >>> from skmeta.tasks._params import Count
    >>> Count(1).is_satisfied_by(3), Count(1).is_satisfied_by(True), Count(0).is_satisfied_by(-1)
    (True, False, False)
    """

    def __init__(self, left):
        super().__init__(Integral, left, None, closed="left")

    def is_satisfied_by(self, val):
        return not isinstance(val, (bool, np.bool_)) and super().is_satisfied_by(val)


def check_params(owner, constraints, params):
    """Validate ``params`` against ``constraints`` in the name of ``owner`` (an object).

    Examples
    --------
    >>> from skmeta.tasks._params import Count, check_params
    >>> check_params(object(), {"n": [Count(1)]}, {"n": 0})
    Traceback (most recent call last):
    ...
    sklearn.utils._param_validation.InvalidParameterError: The 'n' parameter of object must be an int in the range [1, inf). Got 0 instead.
    """
    validate_parameter_constraints(constraints, params, caller_name=type(owner).__name__)


#: Decorator of every sampler's ``sample(n_tasks, random_state)``-like method.
validate_sample = validate_params(
    {"n_tasks": [Count(1)], "random_state": ["random_state"]},
    prefer_skip_nested_validation=True,
)
