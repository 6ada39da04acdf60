"""Reptile (Nichol et al. 2018), and plain parameter averaging as its ``outer_lr=1`` case."""

from numbers import Integral, Real

import torch
from sklearn.utils._param_validation import Interval, StrOptions

from .._torch._engine import GradientStep, make_optimizer
from .._torch._rules import make_rule
from .._params import store_params as _store_params
from ..base import (CLASSIFIER_CONSTRAINTS, NORMALIZE_Y_DOC, REGRESSOR_CONSTRAINTS,
                    BaseMetaEstimator, MetaClassifierMixin, MetaRegressorMixin)

__all__ = ["ReptileRegressor", "ReptileClassifier"]


class ReptileStep(GradientStep):
    """Reptile's contribution to the engine: an outer direction that is not a gradient.

    Each task of a meta-batch trains its own copy of the weights with
    ``inner_steps`` steps of its update rule (SGD or Adam) on all its
    labelled rows (support and query), mapped over the tasks by the engine;
    the direction handed to the outer optimiser (plain SGD at ``outer_lr``)
    is the initialisation minus the mean of the task weights. The task loss
    (for ``valid_loss``) is the query loss after adapting on the support
    set, as for MAML.
    """

    def task_loss(self, theta, xs, ys, xq, yq, n_way, ms=None, mq=None):
        w = self.adapt(theta, xs, ys, n_way, self.inner_steps, ms, safeguard=False)
        return self.model.loss(self.model.forward(w, xq), yq, mq)

    def _train_task(self, theta, xs, ys, xq, yq, n_way, ms=None, mq=None):
        x, y = torch.cat([xs, xq]), torch.cat([ys, yq])
        m = None if ms is None else torch.cat([ms, mq])
        w = theta["w"]
        a = self.model.adapt(w, x, y, n_way, self.inner_steps, self.rule, mask=m)
        return {k: a[k] for k in w}, self.model.loss(self.model.forward(a, x, rows=m), y, m)

    def outer_grad(self, theta, episodes):
        w = theta["w"]
        with torch.no_grad():  # the inner steps use torch.func.grad; no outer graph
            adapted, losses = self.map_tasks(self._train_task, theta, episodes)
            return {"w": {k: (w[k] - adapted[k]).mean(0) for k in w}}, losses.mean()


class _BaseReptile(BaseMetaEstimator):
    _parameter_constraints = {
        **{k: v for k, v in BaseMetaEstimator._parameter_constraints.items()
           if k != "meta_lr"},
        "outer_lr": [Interval(Real, 0, None, closed="neither")],
        "inner_steps": [Interval(Integral, 1, None, closed="left")],
        "inner_optimizer": [StrOptions({"sgd", "adam"})],
    }

    def _make_step(self, model):
        return ReptileStep(model, make_rule(self.inner_optimizer, self.inner_lr),
                           self.inner_steps, self._adapt_steps())

    def _make_optimizer(self, theta):
        return make_optimizer(theta, self.outer_lr, kind="sgd")

    def _default_adapt_steps(self):
        return self.inner_steps


_DOC = """
    Parameters
    ----------
    module : None, "conv4", torch.nn.Module class or instance, default=None
        The network, as in :class:`MAMLRegressor`.
    hidden_layer_sizes : tuple of int, default=(40, 40)
        Hidden widths of the default MLP.
    max_iter : int, default=10000
        Meta-iterations (outer updates) per ``fit``.
    meta_batch_size : int, default=25
        Tasks trained in parallel per meta-iteration.
    outer_lr : float, default=0.1
        Step of the outer update toward the mean of the task weights
        (plain SGD). ``outer_lr=1.0`` replaces the initialisation by that
        mean: plain parameter averaging of per-task models.
    inner_lr : float, default=0.01
        Step size of the inner optimiser.
    inner_steps : int, default=5
        Inner optimiser steps per task and meta-iteration, on all of the
        task's labelled rows (support and query).
    inner_optimizer : {{"sgd", "adam"}}, default="sgd"
        Plain gradient steps, or Adam with ``betas=(0, 0.999)`` as in the
        paper's few-shot experiments (its state starts afresh for each task).
    adapt_steps : int or None, default=None
        Inner steps in :meth:`adapt` (on the support set); ``None`` uses
        ``inner_steps``.{extra}
    k_shot, n_query, validation_fraction, early_stopping, n_iter_no_change, \
eval_every, callbacks, compile, \
device, random_state, verbose, warm_start, **kwargs : see :class:`MAMLRegressor`
        The settings every learner shares, documented once there.

    Attributes
    ----------
    meta_params_ : dict
        ``"w"``: the meta-learned initial weights.
    module_ : torch.nn.Module
        The architecture template.
    history_ : skorch.history.History
        One row per meta-iteration: ``train_loss`` (mean loss of the task
        weights after their inner steps), ``dur`` and, when validating,
        ``valid_loss``.
    n_iter_ : int
        Meta-iterations run so far.
    n_features_in_ : int
        Number of features seen in ``fit``.{attrs}

    See Also
    --------
    MAMLRegressor, MAMLClassifier : Second-order meta-gradients through the
        inner steps.

    References
    ----------
    .. [1] A. Nichol, J. Achiam, J. Schulman. "On First-Order Meta-Learning
       Algorithms". arXiv:1803.02999, 2018.
"""


class ReptileRegressor(MetaRegressorMixin, _BaseReptile):
    __doc__ = """Reptile for regression: move the initialisation toward task solutions.

    Each meta-iteration trains a copy of the network on each task of a
    meta-batch (in parallel with ``vmap``) and moves the initialisation
    ``outer_lr`` of the way toward the mean of the trained copies. It needs
    no second derivatives and no query/support distinction during
    meta-training. :meth:`adapt` takes ``adapt_steps`` steps of the inner
    optimiser on the support set.

    Read more in the :ref:`User Guide <reptile>`.
    """ + _DOC.format(extra=NORMALIZE_Y_DOC, attrs="") + """
    Examples
    --------
    >>> from skmeta import ReptileRegressor
    >>> from skmeta.datasets import make_sinusoid_tasks
    >>> est = ReptileRegressor(max_iter=50, random_state=0).fit(
    ...     make_sinusoid_tasks(200, random_state=0))
    >>> t = make_sinusoid_tasks(1, n_support=5, n_query=20, random_state=1)[0]
    >>> est.adapt(t.X_support, t.y_support).predict(t.X_query).shape
    (20,)
    """

    _parameter_constraints = {**_BaseReptile._parameter_constraints, **REGRESSOR_CONSTRAINTS}

    def __init__(self, *, module=None, hidden_layer_sizes=(40, 40), max_iter=10000,
                 meta_batch_size=25, outer_lr=0.1, inner_lr=0.01, inner_steps=5,
                 inner_optimizer="sgd", adapt_steps=None, normalize_y=True, k_shot="auto",
                 n_query="auto", validation_fraction=None, early_stopping="auto",
                 n_iter_no_change=10, eval_every=100, callbacks=None,
                 compile="auto", device="cpu", random_state=None, verbose=0,
                 warm_start=False, **kwargs):
        _store_params(self, locals())


class ReptileClassifier(MetaClassifierMixin, _BaseReptile):
    __doc__ = """Reptile for classification, any labels.

    The network is an embedding with a per-task linear head over each
    task's own classes, initialised from the class means of the rows it
    trains on (as :class:`MAMLClassifier`), so tasks may have any number of
    classes and any hashable labels.

    Read more in the :ref:`User Guide <reptile>`.
    """ + _DOC.format(
        extra="""
    n_way : int or "auto", default="auto"
        Classes per episode when meta-training on plain arrays without
        ``groups``; ``"auto"``: ``min(5, n_classes)``.
    head_init : {"proto", "zero"}, default="proto"
        The output layer of a new task: from the support class means or zeros.""",
        attrs="""
    classes_ : ndarray
        Labels of the task the estimator is adapted to.""") + """
    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skmeta import ReptileClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> est = ReptileClassifier(max_iter=30, random_state=0).fit(X, y)
    >>> est.classes_.tolist()
    [0, 1, 2]
    >>> est.predict(X[[0, 50, 100]]).shape
    (3,)
    """

    _parameter_constraints = {**_BaseReptile._parameter_constraints,
                              **CLASSIFIER_CONSTRAINTS}

    def __init__(self, *, module=None, hidden_layer_sizes=(40, 40), max_iter=10000,
                 meta_batch_size=25, outer_lr=0.1, inner_lr=0.01, inner_steps=5,
                 inner_optimizer="sgd", adapt_steps=None, n_way="auto", head_init="proto",
                 k_shot="auto", n_query="auto", validation_fraction=None, early_stopping="auto",
                 n_iter_no_change=10, eval_every=100,
                 callbacks=None, compile="auto", device="cpu", random_state=None,
                 verbose=0, warm_start=False, **kwargs):
        _store_params(self, locals())
