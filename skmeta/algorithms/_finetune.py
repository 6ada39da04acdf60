"""The fine-tuning baseline: one network trained on all tasks pooled, then fine-tuned."""

from numbers import Integral

import numpy as np
import torch
from sklearn.utils._param_validation import Interval

from .._torch._engine import GradientStep
from .._torch._rules import make_rule
from .._params import store_params as _store_params
from ..base import (CLASSIFIER_CONSTRAINTS, NORMALIZE_Y_DOC, REGRESSOR_CONSTRAINTS,
                    BaseMetaEstimator, MetaClassifierMixin, MetaRegressorMixin)
from ..tasks._input import is_sampler

__all__ = ["FineTuneRegressor", "FineTuneClassifier"]

POOL = ("@pool.weight", "@pool.bias")


class FineTuneStep(GradientStep):
    """Pooled training: the task loss is the plain loss on all of a task's rows.

    For classifiers the pooled network has one output layer (``@pool.*``)
    over the union of the training labels; :meth:`adapt` drops it, gives the
    new task its own head and fine-tunes everything with plain gradient steps.
    """

    def __init__(self, model, rule, adapt_steps, n_classes=None, embed_size=None):
        super().__init__(model, rule, 0, adapt_steps)
        self.n_classes, self.embed_size = n_classes, embed_size

    def init_params(self, w, generator=None):
        if self.model.classifier:
            ref = next(iter(w.values()))
            bound = 1.0 / np.sqrt(self.embed_size)
            u = torch.rand(self.n_classes, self.embed_size, generator=generator,
                           device=generator.device if generator is not None else "cpu")
            w = {**w, POOL[0]: ((u * 2 - 1) * bound).to(ref.device),
                 POOL[1]: torch.zeros(self.n_classes, device=ref.device)}
        return {"w": w}

    def task_loss(self, theta, xs, ys, xq, yq, n_way, ms=None, mq=None):
        x, y = torch.cat([xs, xq]), torch.cat([ys, yq])
        m = None if ms is None else torch.cat([ms, mq])
        return self.model.loss(self.model.forward(theta["w"], x, head="@pool", rows=m), y, m)

    def adapt(self, theta, xs, ys, n_way, steps, ms=None):
        w = {k: v for k, v in theta["w"].items() if k not in POOL}
        return self.model.adapt(w, xs, ys, n_way, steps, self.rule, mask=ms, safeguard=True)


class _BaseFineTune(BaseMetaEstimator):
    _parameter_constraints = {
        **BaseMetaEstimator._parameter_constraints,
        "adapt_steps": [Interval(Integral, 0, None, closed="left")],  # no learner default
    }

    def _make_step(self, model):
        classes = getattr(self, "_pool_classes_", None)
        return FineTuneStep(model, make_rule("sgd", self.inner_lr), self._adapt_steps(),
                            None if classes is None else len(classes),
                            getattr(self, "_embed_size_", None))

    def _default_adapt_steps(self):
        return 0


_DOC = """
    Parameters
    ----------
    module : None, "conv4", torch.nn.Module class or instance, default=None
        The network, as in :class:`MAMLRegressor`.
    hidden_layer_sizes : tuple of int, default=(40, 40)
        Hidden widths of the default MLP.
    max_iter : int, default=10000
        Training iterations on the pooled tasks.
    meta_batch_size : int, default=25
        Tasks pooled into each training batch.
    meta_lr : float, default=1e-3
        Adam step size of the pooled training.
    inner_lr : float, default={inner_lr}
        Step size of the fine-tuning gradient steps in :meth:`adapt`.
    adapt_steps : int, default=10
        Fine-tuning gradient steps (full batch) in :meth:`adapt`.{extra}
    k_shot, n_query, validation_fraction, early_stopping, n_iter_no_change, \
eval_every, callbacks, compile, \
device, random_state, verbose, warm_start, **kwargs : see :class:`MAMLRegressor`
        The settings every learner shares, documented once there.

    Attributes
    ----------
    meta_params_ : dict
        ``"w"``: the weights of the pooled network.
    module_ : torch.nn.Module
        The architecture template.
    history_ : skorch.history.History
        One row per training iteration.
    n_iter_ : int
        Training iterations run so far.
    n_features_in_ : int
        Number of features seen in ``fit``.{attrs}

    References
    ----------
    .. [1] W.-Y. Chen, Y.-C. Liu, Z. Kira, Y.-C. F. Wang, J.-B. Huang. "A
       Closer Look at Few-shot Classification". ICLR 2019.
"""


class FineTuneRegressor(MetaRegressorMixin, _BaseFineTune):
    __doc__ = """Fine-tuning baseline for regression.

    One network is trained on the rows of all tasks pooled (no
    meta-learning); :meth:`adapt` fine-tunes it on the support set with
    ``adapt_steps`` gradient steps. The baseline every meta-learning paper
    compares with.

    Read more in the :ref:`User Guide <finetune>`.
    """ + _DOC.format(inner_lr="0.01", extra=NORMALIZE_Y_DOC, attrs="") + """
    Examples
    --------
    >>> from skmeta import FineTuneRegressor
    >>> from skmeta.datasets import make_sinusoid_tasks
    >>> est = FineTuneRegressor(max_iter=50, random_state=0).fit(
    ...     make_sinusoid_tasks(100, random_state=0))
    >>> t = make_sinusoid_tasks(1, n_support=5, n_query=20, random_state=1)[0]
    >>> est.adapt(t.X_support, t.y_support).predict(t.X_query).shape
    (20,)
    """

    _parameter_constraints = {**_BaseFineTune._parameter_constraints, **REGRESSOR_CONSTRAINTS}

    def __init__(self, *, module=None, hidden_layer_sizes=(40, 40), max_iter=10000,
                 meta_batch_size=25, meta_lr=1e-3, inner_lr=0.01, adapt_steps=10,
                 normalize_y=True, k_shot="auto", n_query="auto", validation_fraction=None,
                 early_stopping="auto", n_iter_no_change=10,
                 eval_every=100, callbacks=None, compile="auto", device="cpu",
                 random_state=None, verbose=0, warm_start=False, **kwargs):
        _store_params(self, locals())


class FineTuneClassifier(MetaClassifierMixin, _BaseFineTune):
    __doc__ = """Fine-tuning baseline for classification ("Baseline" of Chen et al.).

    One network with an output layer over the union of all training labels
    is trained on the pooled rows of the tasks. :meth:`adapt` replaces that
    layer by a head over the new task's classes, initialised from the
    support class means, and fine-tunes the whole network on the support set.

    Read more in the :ref:`User Guide <finetune>`.
    """ + _DOC.format(
        inner_lr="0.01",
        extra="""
    n_way : int or "auto", default="auto"
        Classes per episode when training on plain arrays without ``groups``.
    head_init : {"proto", "zero"}, default="proto"
        The output layer of a new task.""",
        attrs="""
    classes_ : ndarray
        Labels of the task the estimator is adapted to.""") + """
    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skmeta import FineTuneClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> est = FineTuneClassifier(max_iter=30, random_state=0).fit(X, y)
    >>> est.classes_.tolist()
    [0, 1, 2]
    >>> float(est.score(X, y)) > 0.8
    True
    """

    _parameter_constraints = {**_BaseFineTune._parameter_constraints,
                              **CLASSIFIER_CONSTRAINTS}

    def __init__(self, *, module=None, hidden_layer_sizes=(40, 40), max_iter=10000,
                 meta_batch_size=25, meta_lr=1e-3, inner_lr=0.01, adapt_steps=10,
                 n_way="auto", head_init="proto", k_shot="auto", n_query="auto",
                 validation_fraction=None, early_stopping="auto",
                 n_iter_no_change=10, eval_every=100, callbacks=None,
                 compile="auto", device="cpu", random_state=None, verbose=0,
                 warm_start=False, **kwargs):
        _store_params(self, locals())

    def _prepare(self, X, y, groups):
        tasks, data = super()._prepare(X, y, groups)
        if is_sampler(tasks):
            classes = getattr(tasks, "classes_", None)
            if classes is None:
                raise ValueError(
                    "FineTuneClassifier trains one output layer over all training "
                    "labels: pass a list of tasks, or a sampler with a classes_ attribute"
                )
        else:
            classes = np.unique(np.concatenate(
                [np.concatenate([t.y_support] + ([t.y_query] if not t.is_pool else []))
                 for t in tasks]))
        if self.__sklearn_is_fitted__() and not np.isin(classes, self._pool_classes_).all():
            raise ValueError("partial_fit got labels the pooled output layer has not seen")
        self._pool_classes_ = np.asarray(classes)
        return tasks, data

    def _encode(self, task):
        return (np.searchsorted(self._pool_classes_, task.y_support),
                np.searchsorted(self._pool_classes_, task.y_query), len(self._pool_classes_))
