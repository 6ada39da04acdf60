"""The meta-estimator base: parameters, validation, the fit/adapt template, tags.

Concrete learners (``skmeta.algorithms``) only say how their network is
built and which step object the engine runs; everything else - the task
forms, arrays with ``groups``, devices, seeding, adaptation, prediction,
pickling - lives here once.
"""

import copy
import warnings
from abc import ABCMeta, abstractmethod
from numbers import Integral, Real

import numpy as np
import torch
from scipy.special import softmax
from skorch.history import History
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from ._torch._batches import ListSource, SamplerSource, TaskBank
from ._torch._engine import detach_tree, make_optimizer, train
from ._torch._evaluate import eval_function, task_outputs
from ._torch._functional import FunctionalModel
from ._torch._networks import build_seeded
from ._torch._utils import as_tensor, resolve_device, state_to_cpu, state_to_device, to_numpy
from .tasks import EpisodeSampler, SubsetSampler, check_task_batch, check_tasks
from ._params import RoutedParamsMixin
from .callbacks import EarlyStopping
from .tasks._input import (check_groups, check_pools, fewshot_splits, group_pools, is_sampler,
                           read_fit_input)
from .tasks._task import check_float32_range

__all__ = ["BaseMetaEstimator", "MetaRegressorMixin", "MetaClassifierMixin"]

#: The fitted attributes every learner has, for the learners' docstrings.
FITTED_ATTRS_DOC = """
    history_ : skorch.history.History
        One row per meta-iteration: ``train_loss``, ``dur`` and, when
        validating, ``valid_loss``.
    n_iter_ : int
        Meta-iterations run so far.
    n_features_in_ : int
        Number of features seen in ``fit``."""

#: ``early_stopping="auto"`` holds out this fraction of the training tasks ...
AUTO_VALIDATION_FRACTION = 0.1
#: ... for fits on a list of at least this many tasks.
AUTO_EARLY_STOPPING_MIN_TASKS = 20

#: Constraints shared by the classifiers' extra parameters.
REGRESSOR_CONSTRAINTS = {"normalize_y": ["boolean"]}

CLASSIFIER_CONSTRAINTS = {
    "n_way": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
    "head_init": [StrOptions({"proto", "zero"})],
}


class BaseMetaEstimator(RoutedParamsMixin, BaseEstimator, metaclass=ABCMeta):
    """Base class of skmeta's meta-estimators: the fit/adapt template.

    ``fit`` validates the input, builds the network, and hands the engine
    (:func:`skmeta._torch._engine.train`) a source of meta-batches and the
    learner's step object; ``adapt`` runs the step's adaptation on a support
    set. Do not instantiate this class directly. A concrete estimator is a
    learner (``_make_step``, ``_default_adapt_steps``) combined with a task
    kind (:class:`MetaRegressorMixin` or :class:`MetaClassifierMixin`, which
    supply the target hooks); the abstract methods below are that contract.

    Batched evaluation protocol: ``_task_outputs(tasks, batch_size)`` returns
    each task's query outputs after adapting to its support set (class
    scores with columns in sorted support-label order, or predictions);
    :func:`skmeta.model_selection.evaluate_tasks` uses it where an estimator
    has it, and falls back to ``adapt(...).predict(...)`` per task otherwise.
    """

    _parameter_constraints = {
        "module": [None, StrOptions({"conv4"}), type, torch.nn.Module],
        "hidden_layer_sizes": ["array-like"],
        "max_iter": [Interval(Integral, 0, None, closed="left")],
        "meta_batch_size": [Interval(Integral, 1, None, closed="left")],
        "meta_lr": [Interval(Real, 0, None, closed="neither")],
        "inner_lr": [Interval(Real, 0, None, closed="left")],
        "adapt_steps": [Interval(Integral, 0, None, closed="left"), None],
        "k_shot": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "n_query": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither"), None],
        "early_stopping": ["boolean", StrOptions({"auto"})],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "eval_every": [Interval(Integral, 1, None, closed="left")],
        "callbacks": [list, None],
        "compile": ["boolean", StrOptions({"auto"})],
        "device": [str],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
    }

    _classifier = False

    # ----------------------------------------------------------- the contract
    @abstractmethod
    def _make_step(self, model):
        """The learner's step object (:class:`skmeta._torch._engine.MetaStep`)
        for ``model``, a :class:`~skmeta._torch._functional.FunctionalModel`."""

    @abstractmethod
    def _default_adapt_steps(self):
        """Gradient steps of :meth:`adapt` when ``adapt_steps`` is None or absent."""

    @abstractmethod
    def _output_size(self, task):
        """Output units of the network for ``task`` (``None``: an embedding)."""

    @abstractmethod
    def _y_validation(self):
        """Keyword arguments of ``validate_data`` for the targets."""

    @abstractmethod
    def _encode(self, task):
        """``(ys, yq, n_way)``: a task's targets as the engine's arrays."""

    @abstractmethod
    def _encode_support(self, y, device):
        """``(ys, n_way)``: a support set's targets as a tensor, in :meth:`adapt`."""

    @abstractmethod
    def _array_sampler(self, X, y):
        """The task sampler of ``fit(X, y)`` without groups."""

    @abstractmethod
    def _predict_weights(self):
        """The weights ``predict`` uses (adapted, or meta-learned)."""

    @abstractmethod
    def _plain_score(self, X, y, sample_weight=None):
        """The score of the current model on a query set."""

    @property
    def history(self):
        """``history_`` under skorch's name, so skorch callbacks can read it."""
        return self.history_

    # ------------------------------------------------------------------ tags
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags

    def __sklearn_is_fitted__(self):
        return hasattr(self, "meta_params_")

    # -------------------------------------------------------------- fitting
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, groups=None):
        """Meta-train on a list of tasks, a task sampler, or arrays.

        Parameters
        ----------
        X : list of tasks, TaskSampler, or array-like of shape (n_samples, n_features)
            With ``y=None``: the tasks (every form of :class:`skmeta.Task`) or
            a sampler drawing fresh tasks. With ``y``: the data.
        y : array-like of shape (n_samples,), default=None
            Targets when ``X`` is data.
        groups : array-like of shape (n_samples,), default=None
            Task of each row: each value is one task. Without it, regressors
            draw tasks as random subsets of ``(X, y)`` and classifiers draw
            episodes from its classes. After the array form the estimator is
            adapted to all of ``(X, y)``, so ``predict`` works at once.

        Returns
        -------
        self : object
            The meta-trained estimator.
        """
        if not (self.warm_start and self.__sklearn_is_fitted__()):
            self._reset()
        return self._fit(X, y, groups, self.max_iter)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None, groups=None):
        """Continue meta-training for ``max_iter`` more meta-iterations.

        Takes the same inputs as :meth:`fit`; the first call initialises.

        Parameters
        ----------
        X : list of tasks, TaskSampler, or array-like
            As in :meth:`fit`.
        y : array-like, default=None
            As in :meth:`fit`.
        groups : array-like, default=None
            As in :meth:`fit`.

        Returns
        -------
        self : object
            The estimator, meta-trained further.
        """
        if not self.__sklearn_is_fitted__():
            self._reset()
        return self._fit(X, y, groups, self.max_iter)

    def _reset(self):
        for attr in ("meta_params_", "module_", "optimizer_", "adapted_", "classes_",
                     "_eval_cache", "_shares_meta_state", "_y_shift_", "_y_scale_"):
            if hasattr(self, attr):
                delattr(self, attr)
        self.n_iter_ = 0
        self.history_ = History()

    def _fit(self, X, y, groups, n_iter):
        self._check_unknown_params()
        device = resolve_device(self.device)
        rng = check_random_state(self.random_state)
        tasks, data = self._prepare(X, y, groups)
        valid, stop = None, self._early_stopping_on(tasks)
        fraction = self.validation_fraction
        if fraction is None and stop:
            fraction = AUTO_VALIDATION_FRACTION
        if fraction is not None:
            tasks, valid = self._split_validation(tasks, rng, fraction)
        seed = int(rng.randint(np.iinfo(np.int32).max))
        if not self.__sklearn_is_fitted__():
            self._initialize(tasks, device, seed)
        else:
            self._own_meta_state()
        self.device_ = device
        source = self._source(tasks, rng)
        if valid is not None:
            valid = ListSource(valid, self._encode, device, 1, rng, self._splitter).all()
        # on divergence, train raises with meta_params_ at the last good values
        train(self, self._step(), self.meta_params_, self.optimizer_, source,
              n_iter, valid=valid, eval_every=self.eval_every,
              callbacks=self._callbacks(stop), verbose=self.verbose, compile=self.compile)
        if data is not None:
            self._adapt_in_place(*data)
        return self

    def _own_meta_state(self):
        """Copy-on-write: an estimator returned by :meth:`adapt` shares the
        meta-learned state of its parent; before it trains, it takes copies,
        so nothing done to it changes the parent."""
        if not self.__dict__.pop("_shares_meta_state", False):
            return
        self.meta_params_ = detach_tree(self.meta_params_, copy=True)
        opt = self._make_optimizer(self.meta_params_)
        opt.load_state_dict(copy.deepcopy(self.optimizer_.state_dict()))
        self.optimizer_ = opt
        self.history_ = History([dict(row) for row in self.history_])

    def _callbacks(self, early_stopping=False):
        """The user's callbacks, then, where early stopping is on, skmeta's
        :class:`~skmeta.callbacks.EarlyStopping` on ``valid_loss`` that keeps
        the best meta-parameters."""
        callbacks = [cb[1] if isinstance(cb, tuple) else cb for cb in (self.callbacks or [])]
        if early_stopping:
            callbacks.append(EarlyStopping(monitor="valid_loss", patience=self.n_iter_no_change,
                                           threshold=0.0, load_best=True))
        return callbacks

    def _initialize(self, tasks, device, seed):
        self._learn_target_scale(tasks)
        first = tasks.sample(1, 0)[0] if is_sampler(tasks) else tasks[0]
        example = torch.as_tensor(np.asarray(first.X_support[:2], dtype=np.float32))
        module = build_seeded(self.module, self._module_kwargs(),
                              int(np.prod(example.shape[1:])), self._output_size(first),
                              self.hidden_layer_sizes, tuple(example.shape[1:]), device, seed)
        self.module_ = module
        with torch.no_grad():  # fails early on a module that does not fit the data
            self._embed_size_ = int(np.prod(module(example.to(device)).shape[1:]))
        model = FunctionalModel(module, self._classifier, self._head_init())
        generator = torch.Generator(device=device).manual_seed(seed + 1)
        self.meta_params_ = self._make_step(model).init_params(model.initial_weights(),
                                                               generator)
        self.optimizer_ = self._make_optimizer(self.meta_params_)

    def _make_optimizer(self, theta):
        return make_optimizer(theta, self.meta_lr)

    def _head_init(self):
        return getattr(self, "head_init", "proto")

    def _model(self):
        return FunctionalModel(self.module_, self._classifier, self._head_init())

    def _step(self):
        return self._make_step(self._model())

    # ----------------------------------------------------- tasks and sources
    def _prepare(self, X, y, groups):
        """Tasks (list or sampler) and, for the array form, the data to adapt to."""
        n_features = None
        if self.__sklearn_is_fitted__():
            n_features = tuple(self._input_shape_)
        given = read_fit_input(X, y, groups, owner=type(self).__name__)
        if given.kind == "sampler":
            first = check_tasks(X.sample(1, 0), classifier=self._classifier,
                                min_classes=self._min_classes(), n_features=n_features)[0]
            self._record_input(first.X_support)
            return X, None
        if given.kind == "tasks":
            tasks = check_tasks(X, classifier=self._classifier, n_features=n_features,
                                min_classes=self._min_classes())
            check_pools(tasks, self.k_shot, self._classifier)
            self._record_input(tasks[0].X_support)
            return tasks, None
        X, y = self._validate_arrays(X, y, reset=not self.__sklearn_is_fitted__())
        self._input_shape_ = X.shape[1:]
        if groups is not None:
            tasks = group_pools(X, y, groups)
            check_pools(tasks, self.k_shot, self._classifier)
            return tasks, (X, y)
        return self._array_sampler(X, y), (X, y)

    def _record_input(self, X):
        self._input_shape_ = X.shape[1:]
        self.n_features_in_ = int(X.shape[1])
        if hasattr(self, "feature_names_in_"):
            del self.feature_names_in_

    def _splitter(self, task, rng):
        k = 0.5 if self.k_shot == "auto" else self.k_shot
        return task.split(k, rng, stratify=self._classifier)

    def _source(self, tasks, rng):
        buckets = self.compile is not False  # compiled graphs specialise on shapes
        if not is_sampler(tasks):
            return ListSource(tasks, self._encode, self.device_, self.meta_batch_size,
                              rng, self._splitter, buckets)
        n_features = tuple(self._input_shape_)

        def check(ts):
            return check_tasks(ts, classifier=self._classifier, n_features=n_features,
                               min_classes=self._min_classes())

        def check_batch(*arrays):
            return check_task_batch(*arrays, n_features=n_features)

        return SamplerSource(tasks, check, self._encode, self.device_,
                             self.meta_batch_size, rng, self._splitter,
                             check_batch=None if self._classifier else check_batch,
                             buckets=buckets)

    def _early_stopping_on(self, tasks):
        """``early_stopping="auto"``: on for a finite list of at least
        :data:`AUTO_EARLY_STOPPING_MIN_TASKS` tasks (a model can overfit a
        fixed set of tasks; a sampler's stream of fresh tasks it cannot)."""
        if self.early_stopping == "auto":
            return not is_sampler(tasks) and len(tasks) >= AUTO_EARLY_STOPPING_MIN_TASKS
        return bool(self.early_stopping)

    def _split_validation(self, tasks, rng, fraction):
        if is_sampler(tasks):
            valid = check_tasks(tasks.sample(max(1, self.meta_batch_size), rng),
                                classifier=self._classifier)
            return tasks, valid
        n_valid = int(np.ceil(fraction * len(tasks)))
        if n_valid >= len(tasks):
            raise ValueError(
                f"validation_fraction={fraction} leaves no training "
                f"task out of {len(tasks)}"
            )
        perm = rng.permutation(len(tasks))
        return [tasks[i] for i in perm[n_valid:]], [tasks[i] for i in perm[:n_valid]]

    # ------------------------------------------------------------ adaptation
    def _adapt_steps(self):
        """Gradient steps of ``adapt``: ``adapt_steps``, else the learner's default."""
        steps = getattr(self, "adapt_steps", None)
        return steps if steps is not None else self._default_adapt_steps()

    def _adapt_weights(self, X, y):
        device = self.device_
        xs = as_tensor(X, device)
        ys, n_way = self._encode_support(y, device)
        steps = self._adapt_steps()
        theta = detach_tree(self.meta_params_)
        w = self._step().adapt(theta, xs, ys, n_way, steps)
        return detach_tree(w)

    def adapt(self, X_support, y_support):
        """Adapt to a new task from its support set.

        Starts from the meta-learned state and never changes it: the result
        is a new estimator of the same class, sharing the meta-parameters,
        whose ``predict`` (and ``predict_proba``, ``score``) use the adapted
        model.

        Parameters
        ----------
        X_support : array-like of shape (n_support, n_features)
            Support inputs of the new task.
        y_support : array-like of shape (n_support,)
            Support targets.

        Returns
        -------
        adapted : estimator
            A fitted estimator of the same class, adapted to the task.
        """
        check_is_fitted(self)
        X, y = self._validate_arrays(X_support, y_support, reset=False)
        new = type(self).__new__(type(self))  # shallow: shares the meta-learned state,
        new.__dict__.update(self.__dict__)      # copied before it could change (below)
        new._shares_meta_state = self._shares_meta_state = True
        new._adapt_in_place(X, y)
        return new

    def _task_outputs(self, tasks, batch_size="auto"):
        """Query outputs of every task after adapting to its support set, batched.

        Tasks of equal shapes are stacked and go through ``vmap`` in chunks
        of ``batch_size`` (adapt, then predict), without gradients and in
        float32: the fast path of :func:`skmeta.model_selection.evaluate_tasks`.
        ``"auto"`` is one task at a time on the CPU (whose caches favour
        small activations; measured fastest for conv4 episodes) and 64 on GPUs.

        Returns
        -------
        outputs : list of ndarray
            Per task: class scores (classifiers; columns follow the sorted
            support labels) or predictions of shape ``(n_query, n_outputs)``.
        """
        check_is_fitted(self)
        tasks = check_tasks(tasks, classifier=self._classifier,
                            n_features=tuple(self._input_shape_), require_query=True)
        # per-task label positions, also for a classifier whose training
        # encodes labels into one pooled label space (FineTune)
        encode = MetaClassifierMixin._encode if self._classifier else self._encode
        compiled = self.compile is True
        bank = TaskBank(tasks, encode, self.device_, buckets=compiled)
        if batch_size == "auto":
            batch_size = 1 if self.device_.type == "cpu" else 64
        key = (id(self.module_), self._adapt_steps(), compiled)
        cache = self.__dict__.setdefault("_eval_cache", {})
        if key not in cache:
            cache[key] = eval_function(self._step(), compiled)
        outputs = task_outputs(cache[key], detach_tree(self.meta_params_), bank, batch_size,
                               compiled)
        return [self._decode(out) for out in outputs]

    def _adapt_in_place(self, X, y):
        self.adapted_ = self._adapt_weights(X, y)

    # ------------------------------------------------------- few-shot score
    def _fewshot_score(self, X, y, groups, sample_weight):
        """Mean over groups of the score on each group's query part after
        adapting to its support part (``k_shot`` rows, per class for
        classifiers; ``"auto"``: half), split the same way on every call."""
        check_is_fitted(self)
        X, y = self._validate_arrays(X, y, reset=False)
        groups = check_groups(groups, len(X))
        weights = None if sample_weight is None else np.asarray(sample_weight)
        seed = self.random_state if isinstance(self.random_state, Integral) else 0
        scores = []
        for sup, qry in fewshot_splits(y, groups, self.k_shot, self._classifier,
                                       np.random.RandomState(seed)):
            adapted = self.adapt(X[sup], y[sup])
            w = None if weights is None else weights[qry]
            scores.append(adapted._plain_score(X[qry], y[qry], w))
        return float(np.mean(scores))

    def _score(self, X, y, groups, sample_weight):
        if groups is not None:
            return self._fewshot_score(X, y, groups, sample_weight)
        return self._plain_score(X, y, sample_weight)

    # ------------------------------------------------------------ prediction
    def _forward(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, allow_nd=True)
        self._check_row_shape(X)
        w = self._predict_weights()
        x = as_tensor(X, self.device_, torch.float64)
        w64 = {k: v.to(torch.float64) for k, v in w.items()}
        with torch.no_grad():
            return to_numpy(self._step().predict_scores(w64, x))

    def _learn_target_scale(self, tasks):
        """Fix the target transform of a new fit (regressors: see
        :class:`MetaRegressorMixin`); nothing for classifiers."""

    def _decode(self, out):
        """Network outputs in the user's units (regressors: see
        :class:`MetaRegressorMixin`); class scores as they are."""
        return out

    def _min_classes(self):
        """Fewest classes a meta-training task needs (2 for classifiers: one
        class teaches nothing about telling classes apart)."""
        return 2 if self._classifier else 1

    def _validate_arrays(self, X, y, reset):
        X, y = validate_data(self, X, y, reset=reset, allow_nd=True,
                             **self._y_validation())
        check_float32_range(X, "X")
        if not self._classifier:
            check_float32_range(y, "y")
        if not reset:
            self._check_row_shape(X)
        return X, y

    def _check_row_shape(self, X):
        # validate_data checks X.shape[1] only; images need every axis
        expected = tuple(getattr(self, "_input_shape_", X.shape[1:]))
        if tuple(X.shape[1:]) != expected:
            raise ValueError(
                f"X has rows of shape {tuple(X.shape[1:])}, but {type(self).__name__} "
                f"was fitted on rows of shape {expected}"
            )

    # ------------------------------------------------------------- pickling
    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_eval_cache", None)
        return state_to_cpu(state)

    def __setstate__(self, state):
        self.__dict__.update(state_to_device(state, type(self).__name__))
        if isinstance(getattr(self, "optimizer_", None), dict):
            opt = self._make_optimizer(self.meta_params_)
            opt.load_state_dict(self.optimizer_)
            self.optimizer_ = opt


NORMALIZE_Y_DOC = """
    normalize_y : bool, default=True
        Standardise the targets inside with the mean and standard deviation
        of the training tasks' targets, per output, fixed at the first
        ``fit`` (as ``normalize_y`` of
        :class:`~sklearn.gaussian_process.GaussianProcessRegressor`):
        ``inner_lr`` and the initialisation then mean the same whatever the
        units of ``y``, and predictions are mapped back. The inner loss is
        then that of the standardised targets, which is the raw loss divided
        by the target variance; ``False`` trains on the raw targets, as the
        papers' sinusoid protocol does."""


class MetaRegressorMixin(RegressorMixin):
    """Regression: real-valued targets, squared-error loss, ``predict``.

    With ``normalize_y=True`` (every regressor's default) targets are
    standardised inside with the mean and standard deviation of the training
    targets (fixed at the first ``fit``); predictions are in the user's
    units."""

    _classifier = False

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        # a few gradient steps from a meta-learned initialisation are not a
        # full fit, so scikit-learn's R^2 > 0.5 on arbitrary data is not promised
        tags.regressor_tags.poor_score = True
        return tags

    def _output_size(self, task):
        y = np.asarray(task.y_support)
        return 1 if y.ndim == 1 else int(y.shape[1])

    def _y_validation(self):
        return {"multi_output": True, "y_numeric": True}

    def _learn_target_scale(self, tasks):
        """Centre and scale of the targets, per output, pooled over the rows
        of the training tasks (64 tasks of a sampler), fixed at the first fit.

        The networks learn standardised targets, so learning rates and
        initialisations mean the same whatever the units of ``y``; predictions
        are mapped back. Losses in ``history_`` are on the standardised scale.
        With ``normalize_y=False`` nothing is learned and targets are used
        as they are.
        """
        if not self.normalize_y:
            return
        sample = tasks.sample(64, 0) if is_sampler(tasks) else tasks
        y = np.concatenate([np.asarray(a, np.float64).reshape(len(a), -1) for t in sample
                            for a in (t.y_support, t.y_query) if a is not None])
        scale = y.std(axis=0)
        self._y_shift_ = y.mean(axis=0)
        self._y_scale_ = np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)

    def _standardise(self, y):
        y = np.asarray(y, np.float64)
        y = y.reshape(len(y), -1)
        if hasattr(self, "_y_scale_"):
            y = (y - self._y_shift_) / self._y_scale_
        return y.astype(np.float32)

    def _decode(self, out):
        if not hasattr(self, "_y_scale_"):
            return out
        return out * self._y_scale_ + self._y_shift_

    def _encode(self, task):
        return self._standardise(task.y_support), self._standardise(task.y_query), 0

    def _encode_support(self, y, device):
        self._y_ndim_ = np.ndim(y)
        return as_tensor(self._standardise(y), device), 0

    def _array_sampler(self, X, y):
        n = len(X)
        if n < 2:
            raise ValueError(
                f"n_samples={n}: meta-training on arrays needs at least 2 samples "
                "(support and query)"
            )
        k = min(10, n // 2) if self.k_shot == "auto" else self.k_shot
        q = min(10, n - k) if self.n_query == "auto" else self.n_query
        return SubsetSampler(X, y, k, q)

    def _predict_weights(self):
        return getattr(self, "adapted_", None) or self.meta_params_["w"]

    def score(self, X, y, groups=None, sample_weight=None):
        """R^2 on a query set, or the few-shot R^2 of held-out tasks with ``groups``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets.
        groups : array-like of shape (n_samples,), default=None
            Task of each row. With it, each task is split into a support part
            (``k_shot`` rows; ``"auto"``: half) to adapt to and a query part
            to score, and the score is the mean over tasks: the few-shot
            score of held-out tasks, as ``GridSearchCV`` with ``GroupKFold``
            needs (route ``groups`` with ``set_score_request(groups=True)``).
            Without it, the currently adapted model is scored.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        score : float
            R^2 of the predictions; with ``groups``, its mean over the
            tasks.
        """
        return self._score(X, y, groups, sample_weight)

    def _plain_score(self, X, y, sample_weight=None):
        return RegressorMixin.score(self, X, y, sample_weight=sample_weight)

    def predict(self, X):
        """Predict with the adapted model (or the meta-learned one before any adapt).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            Predictions.
        """
        out = self._decode(self._forward(X))
        return out.ravel() if getattr(self, "_y_ndim_", 1) == 1 and out.shape[1] == 1 else out


class MetaClassifierMixin(ClassifierMixin):
    """Classification with per-task label spaces and a per-task output head."""

    _classifier = True

    def _output_size(self, task):
        return None

    def _y_validation(self):
        return {}

    @staticmethod
    def _encode(task):
        labels, ys = np.unique(task.y_support, return_inverse=True)
        return ys, np.searchsorted(labels, task.y_query), len(labels)

    def _encode_support(self, y, device):
        check_classification_targets(y)
        self.classes_, ys = np.unique(y, return_inverse=True)
        if len(self.classes_) == 1:
            warnings.warn(
                f"the support set has a single class ({self.classes_[0]!r}): every "
                "prediction of the adapted estimator is that class", UserWarning)
        return torch.as_tensor(ys, device=device), len(self.classes_)

    def _validate_arrays(self, X, y, reset):
        X, y = super()._validate_arrays(X, y, reset)
        check_classification_targets(y)
        return X, y

    def partial_fit(self, X, y=None, groups=None, classes=None):
        """Continue meta-training for ``max_iter`` more meta-iterations.

        Parameters
        ----------
        X : list of tasks, TaskSampler, or array-like
            As in :meth:`fit`.
        y : array-like, default=None
            As in :meth:`fit`.
        groups : array-like, default=None
            As in :meth:`fit`.
        classes : array-like, default=None
            All labels ``y`` may hold (scikit-learn's ``partial_fit``
            convention); when given, a label outside it is an error. Tasks
            need no fixed label space, so it is optional.

        Returns
        -------
        self : object
            The estimator, meta-trained further.
        """
        if classes is not None and y is not None:
            extra = np.setdiff1d(np.asarray(y), np.asarray(classes))
            if len(extra):
                raise ValueError(f"y has labels {extra.tolist()} not in classes")
        return super().partial_fit(X, y, groups)

    def _array_sampler(self, X, y):
        classes, counts = np.unique(y, return_counts=True)
        if len(classes) < 2:
            raise ValueError(
                f"{type(self).__name__} needs at least 2 classes to meta-train on "
                f"arrays; y has {len(classes)} class"
            )
        if counts.min() < 2:
            raise ValueError(
                f"class {classes[counts.argmin()]!r} has 1 sample; episodes need at "
                "least 2 per class (support and query), or pass groups"
            )
        n_way = min(5, len(classes)) if self.n_way == "auto" else self.n_way
        k = max(1, min(5, counts.min() // 2)) if self.k_shot == "auto" else self.k_shot
        q = max(1, min(15, counts.min() - k)) if self.n_query == "auto" else self.n_query
        return EpisodeSampler(X, y, n_way, k, q)

    def _predict_weights(self):
        if not hasattr(self, "adapted_"):
            raise ValueError(
                f"this {type(self).__name__} was meta-trained on tasks and has no "
                "label space yet: call adapt(X_support, y_support) and predict with "
                "the estimator it returns"
            )
        return self.adapted_

    def score(self, X, y, groups=None, sample_weight=None):
        """Accuracy on a query set, or the few-shot accuracy of held-out tasks.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Query inputs.
        y : array-like of shape (n_samples,)
            Query labels; each must be one of ``classes_`` (without ``groups``).
        groups : array-like of shape (n_samples,), default=None
            Task of each row. With it, each task is split into a support part
            (``k_shot`` rows per class; ``"auto"``: half) to adapt to and a
            query part to score, and the score is the mean over tasks: the
            few-shot score of held-out tasks, as ``GridSearchCV`` with
            ``GroupKFold`` needs (route ``groups`` with
            ``set_score_request(groups=True)``). Without it, the currently
            adapted model is scored.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        score : float
            Mean accuracy.
        """
        return self._score(X, y, groups, sample_weight)

    def _plain_score(self, X, y, sample_weight=None):
        check_is_fitted(self)
        self._predict_weights()
        unseen = np.setdiff1d(np.asarray(y), self.classes_)
        if len(unseen):
            raise ValueError(
                f"query labels {unseen.tolist()} never appear in the support set the "
                f"estimator was adapted to (classes_={self.classes_.tolist()})"
            )
        return ClassifierMixin.score(self, X, y, sample_weight=sample_weight)

    def predict_proba(self, X):
        """Class probabilities of the adapted model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Columns follow ``classes_``.
        """
        return softmax(self._forward(X), axis=1)

    def predict(self, X):
        """Predict class labels with the adapted model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        y : ndarray of shape (n_samples,)
            Labels from ``classes_``.
        """
        scores = self._forward(X)
        return self.classes_[np.argmax(scores, axis=1)]
