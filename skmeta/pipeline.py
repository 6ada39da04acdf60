"""MetaPipeline: a scikit-learn Pipeline that meta-trains on tasks and adapts."""

import copy

import numpy as np
from sklearn.base import is_classifier
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from .tasks import Task, check_tasks
from .tasks._input import read_fit_input

__all__ = ["MetaPipeline"]


class MetaPipeline(Pipeline):
    """A Pipeline of transformers ending in a meta-learner, fitted on tasks.

    ``fit(tasks)`` fits the transformers on the pooled support sets of the
    training tasks (never on their query sets), transforms the support and
    query sets of every task and meta-trains the last step on them.
    :meth:`adapt` transforms a new task's support set, adapts the last step
    and returns a new pipeline whose ``predict`` transforms and predicts.
    With ``y`` given, ``fit(X, y, **params)`` is the ordinary Pipeline fit
    (``groups`` reaches the last step by metadata routing).

    Read more in the :ref:`User Guide <meta_pipeline>`.

    Parameters
    ----------
    steps : list of (str, estimator) tuples
        Transformers, then a meta-learner (an estimator with ``adapt``).
    transform_input : list of str, default=None
        As in :class:`sklearn.pipeline.Pipeline` (metadata routing).
    memory : str or object with the joblib.Memory interface, default=None
        As in :class:`sklearn.pipeline.Pipeline`.
    verbose : bool, default=False
        As in :class:`sklearn.pipeline.Pipeline`.

    Attributes
    ----------
    named_steps : Bunch
        The steps by name.

    See Also
    --------
    sklearn.pipeline.Pipeline : The plain pipeline this extends.

    Examples
    --------
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skmeta import MAMLRegressor, MetaPipeline
    >>> from skmeta.datasets import make_sinusoid_tasks
    >>> pipe = MetaPipeline([("scale", StandardScaler()),
    ...                      ("maml", MAMLRegressor(max_iter=20, random_state=0))])
    >>> pipe.fit(make_sinusoid_tasks(50, random_state=0))
    MetaPipeline(...)
    >>> t = make_sinusoid_tasks(1, n_support=5, n_query=10, random_state=1)[0]
    >>> pipe.adapt(t.X_support, t.y_support).predict(t.X_query).shape
    (10,)
    """

    def fit(self, X, y=None, **params):
        """Fit the transformers on pooled support data and meta-train on tasks.

        Parameters
        ----------
        X : list of tasks, or array-like
            With ``y=None``: the tasks, in any form :class:`skmeta.Task`
            accepts. With ``y``: data, fitted as by ``Pipeline.fit``.
        y : array-like, default=None
            Targets when ``X`` is data.
        **params : dict
            Passed as in ``Pipeline.fit`` (with ``y``), or to the last
            step's ``fit`` (with tasks).

        Returns
        -------
        self : MetaPipeline
            The fitted pipeline.
        """
        if y is not None or hasattr(X, "shape"):
            return super().fit(X, y, **params)
        # its transformers are fitted on the pooled support sets: a list, no sampler
        read_fit_input(X, owner="MetaPipeline", samplers=False)
        self._validate_steps()
        tasks = check_tasks(X, classifier=is_classifier(self._final_estimator),
                            allow_nan=True)
        Xp = np.concatenate([t.X_support for t in tasks])
        yp = np.concatenate([np.asarray(t.y_support) for t in tasks])
        for _, _, transformer in self._iter(with_final=False, filter_passthrough=True):
            Xp = transformer.fit_transform(Xp, yp)
        tasks = [self._transform_task(t) for t in tasks]
        if self._final_estimator != "passthrough":
            self._final_estimator.fit(tasks, **params)
        return self

    def _transform(self, X):
        for _, _, transformer in self._iter(with_final=False, filter_passthrough=True):
            X = transformer.transform(X)
        return X

    def _transform_task(self, t):
        if t.is_pool:
            return Task(self._transform(t.X_support), t.y_support)
        return Task(self._transform(t.X_support), t.y_support,
                    self._transform(t.X_query), t.y_query)

    def adapt(self, X_support, y_support):
        """Transform a new task's support set and adapt the last step to it.

        Parameters
        ----------
        X_support : array-like of shape (n_support, n_features)
            Support inputs, untransformed.
        y_support : array-like of shape (n_support,)
            Support targets.

        Returns
        -------
        pipeline : MetaPipeline
            A new pipeline with the same fitted transformers and the adapted
            last step; the meta-trained pipeline is unchanged.
        """
        final = self._final_estimator
        check_is_fitted(final)
        adapted = final.adapt(self._transform(X_support), y_support)
        new = copy.copy(self)
        new.steps = self.steps[:-1] + [(self.steps[-1][0], adapted)]
        return new
