"""A differentiable closed-form ridge head on a meta-learned embedding
(R2D2, Bertinetto et al. 2019; the ridge form of MetaOptNet, Lee et al. 2019)."""

import math
from numbers import Real

import torch
from sklearn.utils._param_validation import Interval

from .._params import store_params as _store_params
from .._torch._engine import MetaStep
from .._torch._functional import HEAD
from ..base import (CLASSIFIER_CONSTRAINTS, FITTED_ATTRS_DOC, NORMALIZE_Y_DOC,
                    REGRESSOR_CONSTRAINTS, BaseMetaEstimator, MetaClassifierMixin,
                    MetaRegressorMixin)

__all__ = ["MetaRidgeRegressor", "MetaRidgeClassifier", "ridge_solve"]

LOG_LAM, LOG_LAM_BIAS = "@ridge.log_lam", "@ridge.log_lam_bias"
W0, SCALE = "@ridge.w0", "@ridge.scale"


def ridge_solve(e, y, lam, w0=None, dual=None):
    """``argmin_W |e W - y|^2 + sum_j lam_j |W_j - w0_j|^2`` in closed form, differentiable.

    ``lam`` is one penalty, or one per column of ``e`` (a diagonal penalty
    ``L``). ``W = w0 + (e^T e + L)^-1 e^T (y - e w0)``; the dual (Woodbury)
    form ``w0 + L^-1 e^T (e L^-1 e^T + I)^-1 (y - e w0)`` is the same
    matrix, and is used where ``e`` has fewer rows than columns
    (``dual=None``), so the linear system is of size
    ``min(n_rows, n_columns)``. Rows of ``e`` and ``y`` that are zero
    (masked padding) change nothing.
    """
    n, p = e.shape
    r = y if w0 is None else y - e @ w0
    lam = torch.as_tensor(lam, dtype=e.dtype, device=e.device).expand(p)
    if dual is None:
        dual = n < p
    if dual:
        eye = torch.eye(n, dtype=e.dtype, device=e.device)
        inv = 1 / lam
        delta = inv[:, None] * (e.T @ torch.linalg.solve((e * inv) @ e.T + eye, r))
    else:
        delta = torch.linalg.solve(e.T @ e + torch.diag(lam), e.T @ r)
    return delta if w0 is None else w0 + delta


class RidgeStep(MetaStep):
    """Ridge regression of a task's support set on its embedding, solved exactly.

    The support embeddings, with a constant 1 appended (the bias), are
    regressed on the targets (one-hot class indicators for classifiers) with
    :func:`ridge_solve`; the penalty ``lam = exp(@ridge.log_lam)`` pulls the
    weights towards the meta-learned prior ``@ridge.w0`` (regression), and
    ``exp(@ridge.log_lam_bias)`` the bias: a task's offset from the prior
    gets its own shrinkage, as a random intercept does. Class logits are ``@ridge.scale`` times the regressed
    indicators; a class-agnostic prior would add the same amount to every
    logit, so classifiers have none. Meta-training differentiates the query
    loss through the solve into the embedding, ``lam``, the prior and the
    scale. Batch norm uses the statistics of the support rows, in training
    as at prediction. :meth:`adapt` solves once and stores the solution as
    the linear head ``@head.weight``, ``@head.bias``.
    """

    def __init__(self, model, embed_size, n_outputs, alpha):
        super().__init__(model)
        self.embed_size, self.n_outputs, self.alpha = embed_size, n_outputs, alpha

    def init_params(self, w, generator=None):
        # an identity embedding (hidden_layer_sizes=()) has no weights
        device = next(iter(w.values())).device if w else generator.device
        log_alpha = math.log(self.alpha)
        extra = {LOG_LAM: torch.tensor(log_alpha, device=device),
                 LOG_LAM_BIAS: torch.tensor(log_alpha, device=device)}
        if self.model.classifier:
            extra[SCALE] = torch.tensor(10.0, device=device)
        else:
            extra[W0] = torch.zeros(self.embed_size + 1, self.n_outputs, device=device)
        return {"w": {**w, **extra}}

    def _features(self, w, x, n_ref=None, rows=None):
        return self.model.features(w, x, n_ref, rows).flatten(1)

    def head(self, w, es, ys, n_way, ms=None):
        """``@head.weight`` (outputs, d) and ``@head.bias`` solved on support embeddings ``es``."""
        e = torch.cat([es, es.new_ones(len(es), 1)], 1)
        if self.model.classifier:
            y = (ys[:, None] == torch.arange(n_way, device=ys.device)).to(e.dtype)
        else:
            y = ys
        if ms is not None:
            e, y = e * ms[:, None], y * ms[:, None]
        # the bias has a penalty of its own (how far a task's offset may move
        # from the prior's: the shrinkage of a random intercept)
        lam = torch.cat([w[LOG_LAM].exp().expand(e.shape[1] - 1), w[LOG_LAM_BIAS].exp()[None]])
        W = ridge_solve(e, y, lam, w.get(W0))
        if not self.model.classifier:
            return {HEAD[0]: W[:-1].T, HEAD[1]: W[-1]}
        absent = (y.sum(0) == 0).to(e.dtype) * -1e9  # padded classes: probability 0
        return {HEAD[0]: w[SCALE] * W[:-1].T, HEAD[1]: w[SCALE] * W[-1] + absent}

    def adapt(self, theta, xs, ys, n_way, steps=0, ms=None):
        w = theta["w"]
        w = {**w, **self.head(w, self._features(w, xs, rows=ms), ys, n_way, ms)}
        return self.model.with_support(w, xs, ms)

    def predict_scores(self, w, x):
        e = self._features(w, x)
        if HEAD[0] not in w:  # a regressor before any adapt: the prior's prediction
            return e @ w[W0][:-1] + w[W0][-1]
        return e @ w[HEAD[0]].T + w[HEAD[1]]

    def predict_task(self, theta, xs, ys, xq, yq, n_way, ms=None, mq=None):
        # support and query embedded in one pass, batch norm from the support rows
        w = theta["w"]
        x = torch.cat([xs, xq])
        if ms is None:
            e = self._features(w, x, n_ref=len(xs))
        else:
            e = self._features(w, x, rows=torch.cat([ms, torch.zeros_like(mq)]))
        head = self.head(w, e[:len(xs)], ys, n_way, ms)
        return e[len(xs):] @ head[HEAD[0]].T + head[HEAD[1]]

    def task_loss(self, theta, xs, ys, xq, yq, n_way, ms=None, mq=None):
        return self.model.loss(self.predict_task(theta, xs, ys, xq, yq, n_way, ms, mq), yq, mq)


class _BaseRidge(BaseMetaEstimator):
    _parameter_constraints = {
        **{k: v for k, v in BaseMetaEstimator._parameter_constraints.items()
           if k not in ("inner_lr", "adapt_steps")},
        "alpha": [Interval(Real, 0, None, closed="neither")],
    }

    def _default_adapt_steps(self):
        return 0

    def _make_step(self, model):
        return RidgeStep(model, getattr(self, "_embed_size_", None),
                         getattr(self, "_n_outputs_", None), self.alpha)


_PARAMS_DOC = """
    Parameters
    ----------
    module : None, "conv4", torch.nn.Module class or instance, default=None
        The embedding network. ``None`` builds a ReLU MLP with
        ``hidden_layer_sizes`` whose last hidden layer is the embedding;
        ``"conv4"`` the standard few-shot image embedding (batch norm with
        the statistics of the support rows; see :class:`ProtoNetClassifier`).
        A class is built with the ``module__*`` parameters (and
        ``in_features`` when its constructor takes it, never
        ``out_features``: the module is an embedding); an instance is copied.
        Its output rows are flattened.
    hidden_layer_sizes : tuple of int, default=(40, 40)
        Hidden widths of the default MLP.
    max_iter : int, default=10000
        Meta-iterations (outer updates) per ``fit``.
    meta_batch_size : int, default={batch}
        Tasks per meta-iteration.
    meta_lr : float, default=1e-3
        Adam step size.
    alpha : float, default=1.0
        Initial ridge penalty of the weights and of the bias (as in
        :class:`sklearn.linear_model.Ridge`, but the bias is penalised too,
        on its own); both logarithms are meta-learned.{extra}
    k_shot : int or "auto", default="auto"
        Support size when tasks are drawn from pools (tasks without a query
        set, ``groups``, or plain arrays){k_shot_unit}. ``"auto"``: half of
        each pool{k_shot_auto}.
    n_query : int or "auto", default="auto"
        Query size of tasks drawn from plain arrays{n_query_unit}.
    validation_fraction, early_stopping, n_iter_no_change, eval_every, callbacks, \
compile, device, random_state, \
verbose, warm_start, **kwargs : see :class:`MAMLRegressor`
        The settings every learner shares, documented once there.

    Attributes
    ----------
    meta_params_ : dict
        ``"w"``: the embedding's weights, ``"@ridge.log_lam"`` (the log
        penalty) and {w_extra}. After :meth:`adapt`, ``adapted_`` adds the
        solved head ``"@head.weight"``, ``"@head.bias"``.
    module_ : torch.nn.Module
        The embedding network.""" + FITTED_ATTRS_DOC + """{attrs}
"""

# after See Also (numpydoc's order)
_REFERENCES_DOC = """
    References
    ----------
    .. [1] L. Bertinetto, J. F. Henriques, P. H. S. Torr, A. Vedaldi.
       "Meta-learning with differentiable closed-form solvers" (R2D2). ICLR 2019.
    .. [2] K. Lee, S. Maji, A. Ravichandran, S. Soatto. "Meta-Learning with
       Differentiable Convex Optimization" (MetaOptNet). CVPR 2019.
"""


class MetaRidgeRegressor(MetaRegressorMixin, _BaseRidge):
    __doc__ = """Ridge regression on a meta-learned embedding, solved in closed form per task.

    :meth:`adapt` embeds the support set, appends a constant feature (the
    bias) and solves ``argmin_W |E W - Y|^2 + lam |W - W0|^2`` exactly, with
    no gradient steps (a linear system of size ``min(n_support, d + 1)``).
    Meta-training differentiates the query loss through that solve and
    learns the embedding, the penalty ``lam`` and the prior mean ``W0`` of
    the head (initially 0): with few support rows the solution stays close
    to what the training tasks share. Before any ``adapt``, ``predict``
    uses ``W0``.

    Read more in the :ref:`User Guide <ridge>`.
    """ + _PARAMS_DOC.format(
        batch="25", extra=NORMALIZE_Y_DOC, k_shot_unit="", k_shot_auto=" (10 rows of plain arrays)",
        n_query_unit="", w_extra='``"@ridge.w0"`` (the prior head, ``(d + 1, n_outputs)``, '
        'bias last)', attrs="") + """
    See Also
    --------
    MetaRidgeClassifier : The same for classification.
    MAMLRegressor : Gradient steps on each new task.
    sklearn.linear_model.Ridge : Ridge regression without meta-learning.
""" + _REFERENCES_DOC + """
    Examples
    --------
    >>> import numpy as np
    >>> from skmeta import MetaRidgeRegressor
    >>> rng = np.random.RandomState(0)
    >>> w = rng.normal(size=3)
    >>> tasks = []
    >>> for _ in range(50):
    ...     X = rng.normal(size=(13, 3))
    ...     y = X @ (w + 0.1 * rng.normal(size=3))
    ...     tasks.append((X[:3], y[:3], X[3:], y[3:]))
    >>> est = MetaRidgeRegressor(max_iter=50, random_state=0).fit(tasks)
    >>> X_new = rng.normal(size=(5, 3))
    >>> ad = est.adapt(X_new[:3], X_new[:3] @ w)
    >>> ad.predict(X_new[3:]).shape
    (2,)
    """

    _parameter_constraints = {**_BaseRidge._parameter_constraints, **REGRESSOR_CONSTRAINTS}

    def __init__(self, *, module=None, hidden_layer_sizes=(40, 40), max_iter=10000,
                 meta_batch_size=25, meta_lr=1e-3, alpha=1.0, normalize_y=True,
                 k_shot="auto", n_query="auto", validation_fraction=None, early_stopping="auto",
                 n_iter_no_change=10, eval_every=100, callbacks=None,
                 compile="auto", device="cpu", random_state=None, verbose=0,
                 warm_start=False, **kwargs):
        _store_params(self, locals())

    def _output_size(self, task):
        # the module is an embedding; the ridge head has the targets' width
        self._n_outputs_ = MetaRegressorMixin._output_size(self, task)
        return None


class MetaRidgeClassifier(MetaClassifierMixin, _BaseRidge):
    __doc__ = """R2D2: ridge regression of one-hot labels on a meta-learned embedding.

    :meth:`adapt` embeds the support set, appends a constant feature (the
    bias) and regresses the one-hot class indicators on it in closed form
    (ridge penalty ``lam``), with no gradient steps; the class logits of a
    row are a learned scale times its regressed indicators. Meta-training
    differentiates the query cross-entropy through the solve and learns the
    embedding, ``lam`` and the scale. Tasks may have any number of classes
    and any hashable labels.

    Read more in the :ref:`User Guide <ridge>`.
    """ + _PARAMS_DOC.format(
        batch="1",
        extra="""
    n_way : int or "auto", default="auto"
        Classes per training episode drawn from plain arrays without
        ``groups``; ``"auto"``: ``min(5, n_classes)``.""",
        k_shot_unit=" per class", k_shot_auto=" (up to 5 per class for episodes)",
        n_query_unit=" per class",
        w_extra='``"@ridge.scale"`` (the logit scale, initially 10)',
        attrs="""
    classes_ : ndarray
        Labels of the task the estimator is adapted to.""") + """
    See Also
    --------
    MetaRidgeRegressor : The same for regression.
    ProtoNetClassifier : Class means instead of a ridge solve.
""" + _REFERENCES_DOC + """
    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skmeta import MetaRidgeClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> est = MetaRidgeClassifier(max_iter=50, random_state=0).fit(X, y)
    >>> ad = est.adapt(X[[0, 1, 100, 101]], ["setosa", "setosa", "virginica", "virginica"])
    >>> ad.predict(X[[2, 102]]).tolist()
    ['setosa', 'virginica']
    >>> ad.predict_proba(X[[2]]).shape
    (1, 2)
    """

    _parameter_constraints = {**_BaseRidge._parameter_constraints,
                              "n_way": CLASSIFIER_CONSTRAINTS["n_way"]}

    def __init__(self, *, module=None, hidden_layer_sizes=(40, 40), max_iter=10000,
                 meta_batch_size=1, meta_lr=1e-3, alpha=1.0, n_way="auto", k_shot="auto",
                 n_query="auto", validation_fraction=None, early_stopping="auto",
                 n_iter_no_change=10, eval_every=100, callbacks=None,
                 compile="auto", device="cpu", random_state=None, verbose=0,
                 warm_start=False, **kwargs):
        _store_params(self, locals())
