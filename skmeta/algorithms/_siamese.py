"""Siamese networks (Koch et al. 2015): a learned similarity of pairs."""

import torch
import torch.nn.functional as F

from .._torch._engine import MetaStep
from .._params import store_params as _store_params
from ._metric import METRIC_PARAMS_DOC, _BaseMetric

__all__ = ["SiameseClassifier"]

PAIR = ("@pair.weight", "@pair.bias")


class SiameseStep(MetaStep):
    """Twin embedding and a learned weighted L1 pair similarity.

    The logit that two rows show the same class is
    ``sum_j a_j |e1_j - e2_j| + b`` (Koch et al.), learned with the
    embedding. A task's pairs are every (query, support) pair, labelled
    same or different, with the two kinds weighted equally in the binary
    cross-entropy. :meth:`adapt` keeps the support set; the score of a class
    is the mean similarity to its support examples, normalised over classes.
    """

    def __init__(self, model, embed_size):
        super().__init__(model)
        self.embed_size = embed_size

    def init_params(self, w, generator=None):
        # start as a nearest-neighbour rule in L1 distance: the similarity falls
        # with the distance, and meta-training reweighs the features
        ref = next(iter(w.values()))
        weight = torch.full((self.embed_size,), -self.embed_size ** -0.5, device=ref.device)
        return {"w": {**w, PAIR[0]: weight, PAIR[1]: torch.zeros((), device=ref.device)}}

    def pair_logits(self, w, eq, es):
        return (eq[:, None] - es[None]).abs() @ w[PAIR[0]] + w[PAIR[1]]

    def task_loss(self, theta, xs, ys, xq, yq, n_way, ms=None, mq=None):
        w = theta["w"]
        rows = None if ms is None else torch.cat([ms, mq])
        e = self.model.features(w, torch.cat([xs, xq]), rows=rows)
        logits = self.pair_logits(w, e[len(xs):], e[:len(xs)])
        pairs = torch.ones_like(logits) if ms is None else mq[:, None] * ms[None]
        same = (yq[:, None] == ys[None]).to(logits.dtype) * pairs
        pos = same.sum()
        bce = F.binary_cross_entropy_with_logits(
            logits, same, pos_weight=(pairs.sum() - pos) / pos.clamp_min(1), reduction="none")
        return (bce * pairs).sum() / pairs.sum()

    def adapt(self, theta, xs, ys, n_way, steps=0, ms=None):
        onehot = (ys[:, None] == torch.arange(n_way, device=ys.device)).to(xs.dtype)
        if ms is not None:
            onehot = onehot * ms[:, None]
        w = {**theta["w"], "@support": xs, "@onehot": onehot}
        return w if ms is None else {**w, "@support_mask": ms}

    def predict_scores(self, w, x):
        eq = self.model.features(w, x)
        es = self.model.features(w, w["@support"])
        logsim = F.logsigmoid(self.pair_logits(w, eq, es))  # (n, n_support)
        onehot = w["@onehot"]
        # log of the mean similarity to each class's support rows, then normalised
        per_class = torch.logsumexp(logsim[:, :, None] + onehot.log()[None], dim=1)
        counts = onehot.sum(0)  # 0 for the empty classes of padded tasks: -inf, not NaN
        per_class = torch.where(counts > 0, per_class - counts.clamp_min(1).log(), -torch.inf)
        return per_class - torch.logsumexp(per_class, dim=1, keepdim=True)


class SiameseClassifier(_BaseMetric):
    __doc__ = """Siamese network: classify by a meta-learned similarity to the support examples.

    A twin embedding and a learned pair similarity are trained on same and
    different pairs drawn from the training tasks (every query example
    against every support example). :meth:`adapt` stores the support set;
    ``predict`` gives the class whose support examples are most similar on
    average, ``predict_proba`` the mean similarities normalised to sum to
    one. With one shot this is the nearest support example, as in the
    paper's one-shot tests.

    Read more in the :ref:`User Guide <siamese>`.
    """ + METRIC_PARAMS_DOC.format(
        distance="", w_extra=""" and ``"@pair.weight"``, ``"@pair.bias"`` (the pair similarity)""") + """
    See Also
    --------
    ProtoNetClassifier : Distances to class means instead of learned pair similarities.

    References
    ----------
    .. [1] G. Koch, R. Zemel, R. Salakhutdinov. "Siamese Neural Networks for
       One-shot Image Recognition". ICML Deep Learning Workshop, 2015.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skmeta import SiameseClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> est = SiameseClassifier(max_iter=50, random_state=0).fit(X, y)
    >>> ad = est.adapt(X[[0, 1, 100, 101]], ["setosa", "setosa", "virginica", "virginica"])
    >>> ad.predict(X[[2, 102]]).tolist()
    ['setosa', 'virginica']
    >>> float(ad.predict_proba(X[[2]]).sum())
    1.0
    """

    def __init__(self, *, module=None, hidden_layer_sizes=(40, 40), max_iter=10000,
                 meta_batch_size=1, meta_lr=1e-3, n_way="auto", k_shot="auto",
                 n_query="auto", validation_fraction=None, early_stopping="auto",
                 n_iter_no_change=10, eval_every=100, callbacks=None,
                 compile="auto", device="cpu", random_state=None, verbose=0,
                 warm_start=False, **kwargs):
        _store_params(self, locals())

    def _make_step(self, model):
        return SiameseStep(model, getattr(self, "_embed_size_", None))
