"""Prototypical Networks (Snell et al. 2017)."""

import torch
from sklearn.utils._param_validation import StrOptions

from .._torch._engine import MetaStep
from .._torch._functional import HEAD
from .._params import store_params as _store_params
from ._metric import METRIC_PARAMS_DOC, _BaseMetric

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
                 k_shot="auto", n_query="auto", validation_fraction=None, early_stopping="auto",
                 n_iter_no_change=10, eval_every=100,
                 callbacks=None, compile="auto", device="cpu", random_state=None,
                 verbose=0, warm_start=False, **kwargs):
        _store_params(self, locals())

    def _head_init(self):
        return "cosine" if self.distance == "cosine" else "proto"

    def _make_step(self, model):
        return ProtoNetStep(model)
