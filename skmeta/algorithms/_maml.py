"""MAML (Finn et al. 2017), with first-order, Meta-SGD and ANIL options."""

from numbers import Integral

from sklearn.utils._param_validation import Interval, StrOptions

from .._torch._engine import GradientStep
from .._torch._functional import HEAD
from .._torch._networks import head_parameter_names
from .._torch._rules import make_rule
from .._params import store_params as _store_params
from ..base import (CLASSIFIER_CONSTRAINTS, FITTED_ATTRS_DOC, NORMALIZE_Y_DOC,
                    REGRESSOR_CONSTRAINTS, BaseMetaEstimator, MetaClassifierMixin,
                    MetaRegressorMixin)

__all__ = ["MAMLRegressor", "MAMLClassifier"]


class MAMLStep(GradientStep):
    """MAML's contribution to the engine: the inner loop inside the task loss.

    The meta-parameters are ``{"w": weights}`` plus ``{"lr": step sizes}``
    with Meta-SGD (its update rule adds them). The task loss adapts on the
    support set with ``inner_steps`` functional gradient steps
    (differentiated through unless ``first_order``) and returns the query
    loss; the engine's default outer update (its gradient) is MAML's.
    ``adapt_layers="head"`` (ANIL) adapts the output layer only.
    ``inner_checkpoint`` recomputes the inner steps in the backward pass,
    that many at a time, instead of keeping them (second order only);
    ``meta_batch_chunk`` differentiates the tasks of a meta-batch that many
    at a time.
    """

    def __init__(self, model, rule, inner_steps, adapt_steps, first_order, adapt_layers,
                 inner_checkpoint=None, meta_batch_chunk=None):
        keys = None
        if adapt_layers == "head":
            head = set(HEAD) if model.classifier else set(head_parameter_names(model.module))

            def keys(names):
                return [n for n in names if n in head]
        super().__init__(model, rule, inner_steps, adapt_steps, keys)
        self.first_order = first_order
        self.second_order = not first_order
        self.inner_checkpoint = inner_checkpoint
        self.task_chunk = meta_batch_chunk
        if inner_checkpoint and not first_order:
            # measured: compiled, the recomputation no longer saves memory
            # (inductor keeps what it would recompute); the peak was higher
            # than with everything kept
            self.eager_only = ("inner_checkpoint runs eagerly: compiled, the inner loop's "
                               "recomputation does not save memory")
        elif meta_batch_chunk:
            self.eager_only = "meta_batch_chunk runs eagerly (one compiled graph has no chunks)"

    def task_loss(self, theta, xs, ys, xq, yq, n_way, ms=None, mq=None):
        w = self.adapt(theta, xs, ys, n_way, self.inner_steps, ms, self.first_order,
                       safeguard=False, recompute=self.inner_checkpoint)
        return self.model.loss(self.model.forward(w, xq), yq, mq)


class _BaseMAML(BaseMetaEstimator):
    _parameter_constraints = {
        **BaseMetaEstimator._parameter_constraints,
        "inner_steps": [Interval(Integral, 1, None, closed="left")],
        "first_order": ["boolean"],
        "learn_inner_lr": ["boolean"],
        "adapt_layers": [StrOptions({"all", "head"})],
        "inner_checkpoint": [Interval(Integral, 1, None, closed="left"), None],
        "meta_batch_chunk": [Interval(Integral, 1, None, closed="left"), None],
    }

    def _make_step(self, model):
        rule = make_rule("meta-sgd" if self.learn_inner_lr else "sgd", self.inner_lr)
        return MAMLStep(model, rule, self.inner_steps, self._adapt_steps(),
                        self.first_order, self.adapt_layers, self.inner_checkpoint,
                        self.meta_batch_chunk)

    def _default_adapt_steps(self):
        return self.inner_steps


_PARAMS_DOC = """
    Parameters
    ----------
    module : None, "conv4", torch.nn.Module class or instance, default=None
        The network. ``None`` builds a ReLU MLP with ``hidden_layer_sizes``;
        ``"conv4"`` the standard few-shot image network (four blocks of 3x3
        convolution, batch norm with per-task statistics, ReLU and 2x2
        max-pooling; ``module__channels``, ``module__n_blocks``) for inputs
        of shape ``(n, H, W)``, ``(n, C, H, W)`` or ``(n, H, W, C)``
        (``module__channels_last``; detected where unambiguous), or flat rows
        with ``module__image_shape``. A class is built with the ``module__*``
        parameters (and ``in_features``/``out_features`` when its
        constructor takes them); an instance is copied.
    hidden_layer_sizes : tuple of int, default=(40, 40)
        Hidden widths of the default MLP.
    max_iter : int, default=10000
        Meta-iterations (outer updates) per ``fit``.
    meta_batch_size : int, default=25
        Tasks per meta-iteration.
    meta_lr : float, default=1e-3
        Adam step size of the outer loop.
    inner_lr : float, default={inner_lr}
        Step size of the inner (adaptation) gradient steps; the initial value
        of the learned step sizes with ``learn_inner_lr``.
    inner_steps : int, default=1
        Inner gradient steps during meta-training.
    adapt_steps : int or None, default=None
        Gradient steps in :meth:`adapt`; ``None`` uses ``inner_steps``.
    first_order : bool, default=False
        First-order MAML (FOMAML): do not differentiate through the inner
        gradients. Cheaper, usually a little less accurate.
    learn_inner_lr : bool, default=False
        Meta-SGD: learn one inner step size per parameter entry in the outer
        loop.
    adapt_layers : {{"all", "head"}}, default="all"
        ``"head"`` is ANIL: the inner loop adapts only the output layer (the
        per-task head for classifiers), the body is learned in the outer loop.
    inner_checkpoint : int or None, default=None
        Memory for time in second-order meta-training (gradient
        checkpointing): keep the inner loop's weights only every
        ``inner_checkpoint`` steps and recompute the steps in between during
        the backward pass, instead of keeping every step's intermediate
        values until then. The meta-gradient is the same up to
        floating-point rounding, for about one more forward and backward
        pass of the inner loop per meta-iteration. ``1`` needs the least
        memory, that of one inner step whatever ``inner_steps``: the choice
        for many inner steps on images. ``None`` keeps everything; its
        memory grows with ``inner_steps``. Meta-training then runs eagerly
        (``compile`` is not applied: compiled, the recomputation saves no
        memory), and the network must be deterministic (no dropout).
        Ignored with ``first_order=True``, which keeps nothing to
        recompute.
    meta_batch_chunk : int or None, default=None
        Memory for time in meta-training: the tasks of a meta-batch go
        through the network this many at a time, each chunk's gradient
        computed and its intermediate values freed before the next, instead
        of all ``meta_batch_size`` tasks at once. The meta-gradient is the
        same up to floating-point rounding; smaller chunks batch less work
        per call, which costs time. Memory is proportional to the tasks in
        a chunk as it is to the inner steps kept: with
        ``inner_checkpoint=1`` and ``meta_batch_chunk=1`` the peak is that
        of one inner step of one task. ``None``: the whole meta-batch at
        once. Meta-training then runs eagerly (``compile`` is not
        applied).{extra}
    k_shot : int or "auto", default="auto"
        Support size when tasks are drawn from pools (tasks without a query
        set, ``groups``, or plain arrays){k_shot_unit}. ``"auto"``: half of
        each pool{k_shot_auto}.
    n_query : int or "auto", default="auto"
        Query size of tasks drawn from plain arrays{n_query_unit}.
    validation_fraction : float or None, default=None
        Fraction of the training tasks held out to record ``valid_loss`` (the
        query loss after adaptation) every ``eval_every`` iterations, for
        early stopping and callbacks. With a sampler, one meta-batch of
        tasks is drawn for it. ``None``: 0.1 where early stopping is on,
        else no validation.
    early_stopping : bool or "auto", default="auto"
        Stop when ``valid_loss`` has not improved for ``n_iter_no_change``
        evaluations in a row, and keep the meta-parameters of its best
        evaluation. ``"auto"``: on for a list of at least 20 tasks (a
        network can overfit a fixed set of tasks, as it overfits a fixed set
        of rows), off for a sampler (whose tasks are always new).
    n_iter_no_change : int, default=10
        Evaluations (every ``eval_every`` meta-iterations) without
        improvement before early stopping.
    eval_every : int, default=100
        Meta-iterations between validation records and callback calls.
    callbacks : list or None, default=None
        Callbacks in skorch's convention, or ``(name, callback)`` pairs, e.g.
        ``skmeta.callbacks.EarlyStopping(monitor="valid_loss")``.
    compile : bool or "auto", default="auto"
        ``torch.compile`` the outer gradient (seconds of compile time once,
        then faster iterations); ``"auto"`` compiles fits of at least 10000
        meta-iterations.
    device : str, default="cpu"
        ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"auto"``.
    random_state : int, RandomState instance or None, default=None
        Makes ``fit`` and ``adapt`` reproducible on the CPU.
    verbose : int, default=0
        ``1`` shows a progress bar with the loss and ETA.
    warm_start : bool, default=False
        ``fit`` continues from the current meta-parameters.
    **kwargs
        ``module__*`` parameters for the module's constructor.

    Attributes
    ----------
    meta_params_ : dict
        The meta-learned state: ``"w"`` (weights by name) and, with Meta-SGD,
        ``"lr"`` (learned step sizes).
    module_ : torch.nn.Module
        The architecture template.""" + FITTED_ATTRS_DOC + """
    feature_names_in_ : ndarray of str
        Feature names seen in ``fit`` on a DataFrame.{attrs}
"""


class MAMLRegressor(MetaRegressorMixin, _BaseMAML):
    __doc__ = """Model-Agnostic Meta-Learning for regression.

    Learns an initialisation of a network from which a few gradient steps on
    a new task's support set give a good model of that task. The defaults
    follow the MAML paper's sinusoid set-up: two hidden layers of 40 ReLU
    units, one inner step at 0.01, meta-batches of 25 tasks, Adam at 1e-3.

    Read more in the :ref:`User Guide <maml>`.
    """ + _PARAMS_DOC.format(
        inner_lr="0.01", extra=NORMALIZE_Y_DOC, k_shot_unit="",
        k_shot_auto=" (10 rows of plain arrays)", n_query_unit="", attrs="") + """
    See Also
    --------
    MAMLClassifier : The same for classification.
    FineTuneRegressor : The pooled-training baseline.

    References
    ----------
    .. [1] C. Finn, P. Abbeel, S. Levine. "Model-Agnostic Meta-Learning for
       Fast Adaptation of Deep Networks". ICML 2017.
    .. [2] Z. Li, F. Zhou, F. Chen, H. Li. "Meta-SGD: Learning to Learn Quickly
       for Few-Shot Learning". arXiv:1707.09835, 2017.
    .. [3] A. Raghu, M. Raghu, S. Bengio, O. Vinyals. "Rapid Learning or
       Feature Reuse? Towards Understanding the Effectiveness of MAML" (ANIL).
       ICLR 2020.

    Examples
    --------
    >>> from skmeta import MAMLRegressor
    >>> from skmeta.datasets import make_sinusoid_tasks
    >>> train = make_sinusoid_tasks(200, random_state=0)
    >>> est = MAMLRegressor(max_iter=50, random_state=0).fit(train)
    >>> t = make_sinusoid_tasks(1, n_support=5, n_query=20, random_state=1)[0]
    >>> est.adapt(t.X_support, t.y_support).predict(t.X_query).shape
    (20,)
    """

    _parameter_constraints = {**_BaseMAML._parameter_constraints, **REGRESSOR_CONSTRAINTS}

    def __init__(self, *, module=None, hidden_layer_sizes=(40, 40), max_iter=10000,
                 meta_batch_size=25, meta_lr=1e-3, inner_lr=0.01, inner_steps=1,
                 adapt_steps=None, first_order=False, learn_inner_lr=False,
                 adapt_layers="all", inner_checkpoint=None, meta_batch_chunk=None,
                 normalize_y=True, k_shot="auto", n_query="auto", validation_fraction=None,
                 early_stopping="auto", n_iter_no_change=10, eval_every=100, callbacks=None,
                 compile="auto", device="cpu", random_state=None, verbose=0,
                 warm_start=False, **kwargs):
        _store_params(self, locals())


class MAMLClassifier(MetaClassifierMixin, _BaseMAML):
    __doc__ = """Model-Agnostic Meta-Learning for classification, any labels.

    The network is an embedding; each task gets its own linear output layer
    over its own classes, initialised from the support set's class means
    (Proto-MAML) and adapted with the body. Tasks may have any number of
    classes and any hashable labels.

    Read more in the :ref:`User Guide <maml>`.
    """ + _PARAMS_DOC.format(
        inner_lr="0.01",
        extra="""
    n_way : int or "auto", default="auto"
        Classes per episode when meta-training on plain arrays without
        ``groups``; ``"auto"``: ``min(5, n_classes)``.
    head_init : {"proto", "zero"}, default="proto"
        The output layer of a new task: from the support class means
        (Proto-MAML) or zeros.""",
        k_shot_unit=" per class", k_shot_auto=" (up to 5 per class for episodes)",
        n_query_unit=" per class",
        attrs="""
    classes_ : ndarray
        Labels of the task the estimator is adapted to (after ``adapt``, or
        after ``fit`` on arrays).""") + """
    See Also
    --------
    MAMLRegressor : The same for regression.
    FineTuneClassifier : The pooled-training baseline.

    References
    ----------
    .. [1] C. Finn, P. Abbeel, S. Levine. "Model-Agnostic Meta-Learning for
       Fast Adaptation of Deep Networks". ICML 2017.
    .. [2] E. Triantafillou et al. "Meta-Dataset: A Dataset of Datasets for
       Learning to Learn from Few Examples" (Proto-MAML). ICLR 2020.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skmeta import MAMLClassifier
    >>> from skmeta.datasets import make_fewshot_tasks
    >>> X, y = load_iris(return_X_y=True)
    >>> tasks = make_fewshot_tasks(X, y, n_way=2, k_shot=3, n_query=5, n_tasks=50,
    ...                            random_state=0)
    >>> est = MAMLClassifier(max_iter=20, random_state=0).fit(tasks)
    >>> ad = est.adapt(X[[0, 1, 50, 51]], ["setosa", "setosa", "other", "other"])
    >>> ad.classes_.tolist()
    ['other', 'setosa']
    >>> ad.predict(X[[2, 52]]).tolist()
    ['setosa', 'other']
    """

    _parameter_constraints = {
        **_BaseMAML._parameter_constraints,
        **CLASSIFIER_CONSTRAINTS,
    }

    def __init__(self, *, module=None, hidden_layer_sizes=(40, 40), max_iter=10000,
                 meta_batch_size=25, meta_lr=1e-3, inner_lr=0.01, inner_steps=1,
                 adapt_steps=None, first_order=False, learn_inner_lr=False,
                 adapt_layers="all", inner_checkpoint=None, meta_batch_chunk=None,
                 n_way="auto", head_init="proto", k_shot="auto", n_query="auto",
                 validation_fraction=None,
                 early_stopping="auto", n_iter_no_change=10, eval_every=100,
                 callbacks=None, compile="auto", device="cpu", random_state=None,
                 verbose=0, warm_start=False, **kwargs):
        _store_params(self, locals())
