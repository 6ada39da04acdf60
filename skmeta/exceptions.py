"""Exceptions and warnings of skmeta, for users to catch.

As :mod:`sklearn.exceptions` does for scikit-learn, this module gathers the
errors skmeta raises of its own (input errors are plain ``ValueError`` and
``TypeError``).
"""

__all__ = ["MetaTrainingDiverged", "CompilationWarning"]


class MetaTrainingDiverged(FloatingPointError):
    """Meta-training produced a non-finite loss or gradient.

    Raised by ``fit`` and ``partial_fit``; the estimator keeps the
    meta-parameters of the last good iteration, so it can still adapt and
    predict, or continue with smaller learning rates.

    Examples
    --------
    >>> from skmeta import MAMLRegressor
    >>> from skmeta.datasets import make_sinusoid_tasks
    >>> from skmeta.exceptions import MetaTrainingDiverged
    >>> est = MAMLRegressor(max_iter=20, inner_lr=1e3, random_state=0)
    >>> try:
    ...     est.fit(make_sinusoid_tasks(50, random_state=0))
    ... except MetaTrainingDiverged as exc:
    ...     print("diverged:", str(exc)[:40])
    diverged: meta-training diverged at iteration ...
    """


class CompilationWarning(UserWarning):
    """``torch.compile`` failed, and skmeta went on without compiling.

    A failed compilation (no compiler on the machine, a corrupt inductor
    cache, an operation the compiler does not support) never ends a fit:
    skmeta warns once with the reason and runs the same function eagerly.

    Examples
    --------
    >>> import warnings
    >>> from skmeta import MAMLRegressor
    >>> from skmeta.datasets import make_sinusoid_tasks
    >>> from skmeta.exceptions import CompilationWarning
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("error", CompilationWarning)  # a failed compile is fatal
    ...     est = MAMLRegressor(max_iter=5, compile=False).fit(make_sinusoid_tasks(10))
    """
