"""The base of the metric learners (ProtoNet, Siamese): meta-training shapes an
embedding, and ``adapt`` takes no gradient steps."""

from ..base import CLASSIFIER_CONSTRAINTS, FITTED_ATTRS_DOC, BaseMetaEstimator, MetaClassifierMixin

__all__ = ["METRIC_PARAMS_DOC"]


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
    validation_fraction, early_stopping, n_iter_no_change, eval_every, callbacks, \
compile, device, random_state, \
verbose, warm_start, **kwargs : see :class:`MAMLClassifier`
        The settings every learner shares, documented once there.

    Attributes
    ----------
    meta_params_ : dict
        ``"w"``: the embedding's weights{w_extra}.
    module_ : torch.nn.Module
        The embedding network.""" + FITTED_ATTRS_DOC + """
    classes_ : ndarray
        Labels of the task the estimator is adapted to.
"""
