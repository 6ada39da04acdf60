"""Prototypical Networks (Snell et al. 2017)."""

import torch
from sklearn.utils._param_validation import StrOptions

from .._torch._engine import MetaStep
from .._torch._functional import HEAD
from ..base import CLASSIFIER_CONSTRAINTS, BaseMetaEstimator, MetaClassifierMixin, _store_params

__all__ = ["ProtoNetClassifier"]


class ProtoNetStep(MetaStep):
    """The prototype loss: class means of the support embeddings score the query.

    Support and query rows are embedded in one pass, with the batch norm
    statistics of the whole training episode (as the paper's code does; the
    query labels of a training episode are known anyway). At prediction time
    the statistics come from the support set alone. With squared
    Euclidean distances the logits ``-|e - p|^2`` are computed as the linear
    head ``2 p.e - |p|^2``, which differs by a per-row constant and so gives
    the same softmax; cosine logits are ``scale * cos(e, p)`` with a learned
    ``scale``. :meth:`adapt` takes no gradient steps: it computes the
    prototypes.
    """

    def init_params(self, w, generator=None):
        if self.model.head_init == "cosine":
            ref = next(iter(w.values()))
            w = {**w, "@scale": torch.tensor(10.0, device=ref.device)}
        return {"w": w}

    def adapt(self, theta, xs, ys, n_way, steps=0, ms=None):
        w = self.model.task_weights(theta["w"], xs, ys, n_way, ms)
        return self.model.with_support(w, xs, ms)

    def _query_logits(self, w, xs, ys, xq, n_way, ms, mq, support_stats):
        # support and query embedded in one pass; batch norm statistics of the
        # support rows (as at prediction) or of the whole episode (training)
        x = torch.cat([xs, xq])
        if ms is None:
            e = self.model.features(w, x, n_ref=len(xs) if support_stats else None)
        else:
            rows = torch.cat([ms, torch.zeros_like(mq) if support_stats else mq])
            e = self.model.features(w, x, rows=rows)
        head = self.model.head(w, e[:len(xs)], ys, n_way, ms)
        return e[len(xs):] @ head[HEAD[0]].T + head[HEAD[1]]

    def predict_task(self, theta, xs, ys, xq, yq, n_way, ms=None, mq=None):
        return self._query_logits(theta["w"], xs, ys, xq, n_way, ms, mq, support_stats=True)

    def task_loss(self, theta, xs, ys, xq, yq, n_way, ms=None, mq=None):
        logits = self._query_logits(theta["w"], xs, ys, xq, n_way, ms, mq, support_stats=False)
        return self.model.loss(logits, yq, mq)


class _BaseMetric(MetaClassifierMixin, BaseMetaEstimator):
    """Metric learners: meta-training only shapes the embedding; ``adapt`` takes no steps."""

    _parameter_constraints = {
        **{k: v for k, v in BaseMetaEstimator._parameter_constraints.items()
           if k not in ("inner_lr", "adapt_steps")},
        "n_way": CLASSIFIER_CONSTRAINTS["n_way"],
    }

    def _default_adapt_steps(self):
        return 0


#: Parameters shared by the metric learners; ``{distance}`` is ProtoNet's own.
METRIC_PARAMS_DOC = """
    Parameters
    ----------
    module : None, "conv4", torch.nn.Module class or instance, default=None
        The embedding network. ``None`` builds a ReLU MLP with
        ``hidden_layer_sizes``; ``"conv4"`` the standard few-shot image
        embedding (four blocks of 3x3 convolution with 64 filters, batch
        normalisation with per-task statistics (of the training episode in
        meta-training, of the support set at prediction), ReLU, 2x2
        max-pooling) for inputs of shape ``(n, H, W)``, ``(n, C, H, W)`` or
        ``(n, H, W, C)`` (``module__channels_last``; detected where
        unambiguous), or flat rows with ``module__image_shape``. A class is built with the
        ``module__*`` parameters; an instance is copied.
    hidden_layer_sizes : tuple of int, default=(40, 40)
        Hidden widths of the default MLP.
    max_iter : int, default=10000
        Meta-iterations (training episodes or meta-batches) per ``fit``.
    meta_batch_size : int, default=1
        Episodes per meta-iteration (the paper uses one).
    meta_lr : float, default=1e-3
        Adam step size.{distance}
    n_way : int or "auto", default="auto"
        Classes per training episode drawn from plain arrays without
        ``groups``; ``"auto"``: ``min(5, n_classes)``. Training episodes may
        have more classes than the tasks adapted to later (the paper trains
        60-way for 5-way tests).
    k_shot : int or "auto", default="auto"
        Support examples per class of training episodes drawn from pools or
        arrays; ``"auto"``: half of each pool, up to 5 per class for episodes.
    n_query : int or "auto", default="auto"
        Query examples per class of episodes drawn from plain arrays.
    validation_fraction, eval_every, callbacks, compile, device, random_state, \
verbose, warm_start, **kwargs
        As in :class:`MAMLClassifier`.

    Attributes
    ----------
    meta_params_ : dict
        ``"w"``: the embedding's weights{w_extra}.
    module_ : torch.nn.Module
        The embedding network.
    history_ : skorch.history.History
        One row per meta-iteration: ``train_loss``, ``dur`` and, when
        validating, ``valid_loss``.
    n_iter_ : int
        Meta-iterations run so far.
    n_features_in_ : int
        Number of features seen in ``fit``.
    classes_ : ndarray
        Labels of the task the estimator is adapted to.
"""


class ProtoNetClassifier(_BaseMetric):
    __doc__ = """Prototypical Networks: nearest class mean in a meta-learned embedding.

    Meta-training learns an embedding in which each query example is closest
    to the mean embedding (prototype) of its class's support examples.
    :meth:`adapt` computes one prototype per support class, with no gradient
    steps; ``predict_proba`` is the softmax over negative distances to the
    prototypes. Tasks may have any number of classes and any hashable labels.

    Read more in the :ref:`User Guide <protonet>`.
    """ + METRIC_PARAMS_DOC.format(distance="""
    distance : {"euclidean", "cosine"}, default="euclidean"
        Squared Euclidean distance, as in the paper, or cosine similarity of
        unit-normalised embeddings times a learned scale (initially 10).""",
        w_extra=""" and, with cosine distance, ``"@scale"``""") + """
    See Also
    --------
    SiameseClassifier : A learned pair similarity instead of class means.
    MAMLClassifier : Gradient steps on each new task.

    References
    ----------
    .. [1] J. Snell, K. Swersky, R. Zemel. "Prototypical Networks for Few-shot
       Learning". NeurIPS 2017.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skmeta import ProtoNetClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> est = ProtoNetClassifier(max_iter=50, random_state=0).fit(X, y)
    >>> ad = est.adapt(X[[0, 1, 100, 101]], ["setosa", "setosa", "virginica", "virginica"])
    >>> ad.predict(X[[2, 102]]).tolist()
    ['setosa', 'virginica']
    >>> ad.predict_proba(X[[2]]).shape
    (1, 2)
    """

    _parameter_constraints = {**_BaseMetric._parameter_constraints,
                              "distance": [StrOptions({"euclidean", "cosine"})]}

    def __init__(self, *, module=None, hidden_layer_sizes=(40, 40), max_iter=10000,
                 meta_batch_size=1, meta_lr=1e-3, distance="euclidean", n_way="auto",
                 k_shot="auto", n_query="auto", validation_fraction=None, eval_every=100,
                 callbacks=None, compile="auto", device="cpu", random_state=None,
                 verbose=0, warm_start=False, **kwargs):
        _store_params(self, locals())

    def _head_init(self):
        return "cosine" if self.distance == "cosine" else "proto"

    def _make_step(self, model):
        return ProtoNetStep(model)
