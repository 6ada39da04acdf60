"""The core's guarantees, over every estimator of the registry: isolated
adaptation, parameter names, seeding without global state, padded meta-batches,
and compilation that never ends a fit."""

import threading
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch
from sklearn.base import clone, is_classifier

from skmeta import MAMLRegressor, MetaHyperparamSearch
from skmeta._torch import _engine
from skmeta._torch._batches import TaskBank, bucket
from skmeta.datasets import make_fewshot_tasks
from skmeta.tasks import check_tasks
from skmeta.exceptions import CompilationWarning, MetaTrainingDiverged

from ._helpers import double_tree, episodes
from ._instances import all_estimators, fast_instance


def _unequal_tasks(classifier, seed=0):
    """Tasks of many sizes (and, for classifiers, class counts), like real grouped data."""
    rng = np.random.RandomState(seed)
    if classifier:
        X = rng.normal(size=(120, 3))
        y = np.repeat(["a", "b", "c", "d"], 30)
        X[:, 0] += np.repeat(np.arange(4), 30)
        tasks = []
        for i, (n_way, k, q) in enumerate([(2, 2, 3), (3, 1, 2), (2, 3, 1), (4, 2, 2)]):
            tasks += make_fewshot_tasks(X, y, n_way=n_way, k_shot=k, n_query=q, n_tasks=2,
                                        random_state=seed + i)
        return check_tasks(tasks, classifier=True)
    tasks = []
    for n in (4, 7, 12, 5, 33, 9):
        X = rng.uniform(-3, 3, size=(n, 2))
        y = np.sin(X[:, 0] + rng.uniform()) + X[:, 1]
        tasks.append((X[:3], y[:3], X[3:], y[3:]))
    return check_tasks(tasks)


ESTIMATORS = all_estimators()


def _fitted(cls, tasks=None, **params):
    tasks = _unequal_tasks(cls._classifier) if tasks is None else tasks
    return fast_instance(cls, random_state=0, **params).fit(tasks), tasks


def _predictions(est, task):
    X_q = task.X_query
    ad = est.adapt(task.X_support, task.y_support)
    return ad.predict_proba(X_q) if is_classifier(est) else ad.predict(X_q)


# ------------------------------------------------------------ 1. adapt isolation
@pytest.mark.parametrize("cls", ESTIMATORS)
def test_training_an_adapted_estimator_never_changes_its_parent(cls):
    est, tasks = _fitted(cls)
    t = tasks[0]
    before = (_predictions(est, t), est.n_iter_, len(est.history_),
              {k: v.clone() for k, v in est.meta_params_["w"].items()})
    child = est.adapt(t.X_support, t.y_support)
    child_pred = child.predict(t.X_query)
    child.partial_fit(tasks)  # meta-training the adapted estimator
    assert child.n_iter_ == 2 * est.max_iter
    np.testing.assert_array_equal(_predictions(est, t), before[0])
    assert (est.n_iter_, len(est.history_)) == before[1:3]
    for k, v in est.meta_params_["w"].items():
        assert torch.equal(v, before[3][k])
    # and the other way round: training the parent leaves the adapted one alone
    other = est.adapt(t.X_support, t.y_support)
    est.partial_fit(tasks)
    np.testing.assert_array_equal(other.predict(t.X_query), child_pred)


# ------------------------------------------------------------ 2. parameter names
@pytest.mark.parametrize("cls", ESTIMATORS)
def test_a_misspelled_parameter_is_an_error_everywhere(cls):
    with pytest.raises(ValueError, match="inner_lrr"):
        cls().set_params(inner_lrr=0.1)
    est = cls(inner_lrr=0.1)  # __init__ stores it (scikit-learn validates in fit) ...
    cloned = clone(est)  # ... clone keeps it ...
    assert cloned.get_params()["inner_lrr"] == 0.1
    with pytest.raises(TypeError, match="inner_lrr"):  # ... and fit names it
        cloned.fit(_unequal_tasks(cls._classifier))
    # module__* parameters are routed, not rejected
    assert cls().set_params(module__hidden_layer_sizes=(4,)).get_params()[
        "module__hidden_layer_sizes"] == (4,)


def test_a_misspelled_grid_name_fails_before_any_candidate_is_fitted():
    search = MetaHyperparamSearch(MAMLRegressor(max_iter=1), {"inner_lrr": [0.1, 0.2]})
    with pytest.raises(ValueError, match="inner_lrr"):
        search.fit(_unequal_tasks(False))


# ------------------------------------------------------------------ 3. seeding
@pytest.mark.parametrize("cls", ESTIMATORS)
def test_fits_in_threads_equal_the_serial_fit_bit_for_bit(cls):
    tasks = _unequal_tasks(cls._classifier)

    def run(_=None):
        est = fast_instance(cls, random_state=3, max_iter=4).fit(tasks)
        return {k: v.clone() for k, v in est.meta_params_["w"].items()}, _predictions(est, tasks[1])

    serial = run()
    global_state = torch.get_rng_state()
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(run, range(4)))
    for params, pred in results:
        assert params.keys() == serial[0].keys()
        for k in params:
            assert torch.equal(params[k], serial[0][k]), k
        np.testing.assert_array_equal(pred, serial[1])
    # nothing read or changed torch's global generator
    assert torch.equal(torch.get_rng_state(), global_state)


def test_a_user_module_class_is_seeded_without_changing_the_global_generator():
    class Net(torch.nn.Module):
        def __init__(self, in_features=2, out_features=1):
            super().__init__()
            self.lin = torch.nn.Linear(in_features, out_features)

        def forward(self, x):
            return self.lin(x)

    tasks = _unequal_tasks(False)
    state = torch.get_rng_state()
    a = fast_instance(MAMLRegressor, module=Net, random_state=1).fit(tasks)
    assert torch.equal(torch.get_rng_state(), state)
    torch.rand(5)  # moving the global generator changes nothing
    b = fast_instance(MAMLRegressor, module=Net, random_state=1).fit(tasks)
    for k, v in a.meta_params_["w"].items():
        assert torch.equal(v, b.meta_params_["w"][k])


# ---------------------------------------------------------------- 6. exceptions
def test_divergence_error_is_public():
    tasks = _unequal_tasks(False)
    est = fast_instance(MAMLRegressor, max_iter=50, meta_lr=1e6, inner_lr=1e3, random_state=0)
    with pytest.raises(MetaTrainingDiverged, match="diverged at iteration"):
        est.fit(tasks)
    assert _engine.MetaTrainingDiverged is MetaTrainingDiverged
    assert issubclass(MetaTrainingDiverged, FloatingPointError)


# ------------------------------------------------------- 8. unequal task sizes
def test_bucket_sizes_are_few_and_waste_at_most_half():
    sizes = [bucket(n) for n in range(1, 300)]
    assert all(n <= b <= max(2, 1.5 * n) for n, b in zip(range(1, 300), sizes))
    assert len(set(sizes)) <= 18  # two per octave


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_a_padded_meta_batch_gives_the_per_task_meta_gradient(cls):
    """One vmap call over tasks padded to a common shape, with masks, gives the
    mean of the per-task (unpadded) losses and meta-gradients."""
    est, tasks = _fitted(cls, max_iter=2)
    est.module_.double()
    theta = double_tree(est.meta_params_)
    step = est._step()
    padded = episodes(est, tasks)
    assert padded.padded and padded.n_tasks == len(tasks)
    direction, loss = step.outer_grad(theta, padded)
    per_task = [step.outer_grad(theta, episodes(est, [t])) for t in tasks]
    torch.testing.assert_close(loss, torch.stack([l for _, l in per_task]).mean(),
                               atol=1e-10, rtol=1e-8)
    for part in direction:
        for k, g in direction[part].items():
            ref = torch.stack([d[part][k] for d, _ in per_task]).mean(0)
            torch.testing.assert_close(g, ref, atol=1e-8, rtol=1e-5)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_batched_evaluation_of_unequal_tasks_equals_one_at_a_time(cls):
    est, tasks = _fitted(cls)
    one = est._task_outputs(tasks, batch_size=1)
    batched = est._task_outputs(tasks, batch_size=4)
    for a, b, t in zip(one, batched, tasks):
        assert a.shape[0] == len(t.X_query)
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_bank_pads_only_where_sizes_differ():
    tasks = _unequal_tasks(False)
    est = fast_instance(MAMLRegressor)
    bank = TaskBank(tasks, est._encode, torch.device("cpu"), buckets=True)
    ep = bank.take(np.array([0, 4]))
    assert ep.xq.shape[1] == bucket(30) and ep.mq[0].sum() == 1 and ep.mq[1].sum() == 30
    same = TaskBank(tasks[:1] * 3, est._encode, torch.device("cpu")).take()
    assert not same.padded


# --------------------------------------------------------------- 9. compilation
def test_a_failing_compilation_falls_back_to_eager_with_one_warning(monkeypatch):
    calls = []

    def broken_compile(fn, **kwargs):
        def run(*args):
            calls.append(1)
            raise RuntimeError("InductorError: file too short")  # a corrupt cache
        return run

    tasks = _unequal_tasks(False)
    eager = fast_instance(MAMLRegressor, random_state=0).fit(tasks)
    monkeypatch.setattr(torch, "compile", broken_compile)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        est = fast_instance(MAMLRegressor, random_state=0, compile=True).fit(tasks)
    msgs = [w for w in record if issubclass(w.category, CompilationWarning)]
    assert len(msgs) == 1 and "file too short" in str(msgs[0].message)
    assert len(calls) == 1  # not retried at every iteration
    assert est.n_iter_ == est.max_iter
    for k, v in eager.meta_params_["w"].items():
        torch.testing.assert_close(est.meta_params_["w"][k], v)


def test_compile_auto_decides_by_cost(monkeypatch):
    assert not _engine.worth_compiling(0.001, 1000)  # 1 s of work: never repays
    assert _engine.worth_compiling(0.05, 100_000)
    compiled = []
    monkeypatch.setattr(_engine, "maybe_compile", lambda fn: compiled.append(fn) or fn)
    tasks = _unequal_tasks(False)
    fast_instance(MAMLRegressor, compile="auto", max_iter=30).fit(tasks)
    assert not compiled  # 30 small iterations: eager
    monkeypatch.setattr(_engine, "AUTO_COMPILE_SECONDS", 0.0)
    fast_instance(MAMLRegressor, compile="auto", max_iter=30).fit(tasks)
    assert len(compiled) == 1  # decided once, after the timed eager iterations


# ------------------------------------------------------------- 4. parameters
@pytest.mark.parametrize("cls", ESTIMATORS)
def test_constraints_name_exactly_the_parameters(cls):
    assert set(cls._parameter_constraints) == set(cls._get_param_names())


@pytest.mark.parametrize("params", [{"adapt_steps": None}, {"adapt_steps": 1.5},
                                    {"module": "conv5"}, {"module": 3}])
def test_a_bad_value_fails_in_fit_naming_the_parameter(params):
    from skmeta import FineTuneRegressor
    with pytest.raises(ValueError, match=list(params)[0]):
        fast_instance(FineTuneRegressor, **params).fit(_unequal_tasks(False))


# ---------------------------------------------------- 5, 10. inputs users get wrong
@pytest.mark.parametrize("cls", ESTIMATORS)
def test_values_beyond_float32_are_rejected_before_training(cls):
    tasks = _unequal_tasks(cls._classifier)
    t = tasks[2]
    X = t.X_query.copy()
    X[0, 0] = 1e300
    bad = tasks[:2] + [(t.X_support, t.y_support, X, t.y_query)] + tasks[3:]
    est = fast_instance(cls)
    with pytest.raises(ValueError, match="task 2: X_query has values beyond float32"):
        est.fit(bad)
    assert not hasattr(est, "meta_params_")
    X = np.vstack([t.X_support, t.X_query])
    y = np.concatenate([t.y_support, t.y_query])
    X[1, 1] = -1e300
    with pytest.raises(ValueError, match="X has values beyond float32"):
        fast_instance(cls).fit(X, y)


def test_a_continuous_target_for_a_classifier_says_so():
    from skmeta import MAMLClassifier
    rng = np.random.RandomState(0)
    tasks = [(rng.normal(size=(6, 2)), rng.normal(size=6), rng.normal(size=(4, 2)),
              rng.normal(size=4))]
    with pytest.raises(ValueError, match="continuous"):
        fast_instance(MAMLClassifier).fit(tasks)


@pytest.mark.parametrize("cls", [c for c in ESTIMATORS if c._classifier])
def test_one_class_tasks_and_support_sets(cls):
    tasks = _unequal_tasks(True)
    t = tasks[0]
    keep = t.y_support == t.y_support[0]
    one = (t.X_support[keep], t.y_support[keep], t.X_query[:1], t.y_support[keep][:1])
    with pytest.raises(ValueError, match="task 1: y_support has a single class"):
        fast_instance(cls).fit(tasks[:1] + [one] + tasks[1:])
    est = fast_instance(cls, random_state=0).fit(tasks)
    with pytest.warns(UserWarning, match="single class"):
        ad = est.adapt(t.X_support[keep], t.y_support[keep])
    assert (ad.predict(t.X_query) == t.y_support[0]).all()


@pytest.mark.parametrize("shape, layout", [((32, 32, 3), "last"), ((3, 32, 32), "first"),
                                           ((5, 5, 1), "last"), ((1, 9, 9), "first")])
def test_conv4_detects_the_channel_axis_where_unambiguous(shape, layout):
    from skmeta._torch._networks import Conv4
    net = Conv4(shape, channels=2)
    assert net.channels_last == (layout == "last")
    assert net.blocks[0].in_channels == (shape[2] if layout == "last" else shape[0])
    x = torch.rand((4,) + shape)
    y = x.permute(0, 3, 1, 2) if layout == "last" else x
    first = Conv4(y.shape[1:], channels=2)
    first.load_state_dict(net.state_dict())
    torch.testing.assert_close(net(x), first(y))


def test_conv4_asks_where_the_channel_axis_is_ambiguous():
    from skmeta import ProtoNetClassifier
    X = np.random.RandomState(0).rand(12, 3, 8, 3)
    y = np.repeat([0, 1, 2], 4)
    with pytest.raises(ValueError, match="module__channels_last"):
        fast_instance(ProtoNetClassifier, module="conv4").fit(X, y)
    est = fast_instance(ProtoNetClassifier, module="conv4", module__channels=2,
                        module__channels_last=True).fit(X, y)
    assert est.module_.blocks[0].in_channels == 3
    flat = fast_instance(ProtoNetClassifier, module="conv4", module__channels=2,
                         module__image_shape=(12, 12, 3)).fit(
        np.random.RandomState(0).rand(12, 432), y)
    assert flat.module_.blocks[0].in_channels == 3  # (H, W, C) detected


def test_a_few_huge_tasks_do_not_make_every_task_huge():
    """Where padding would more than double the data, the bank keeps one tensor
    per task and pads at take(); the meta-batches are the same."""
    rng = np.random.RandomState(0)
    sizes = [3] * 30 + [400]
    tasks = check_tasks([(rng.normal(size=(2, 2)), rng.normal(size=2),
                          rng.normal(size=(n, 2)), rng.normal(size=n)) for n in sizes])
    est = fast_instance(MAMLRegressor)
    bank = TaskBank(tasks, est._encode, torch.device("cpu"))
    assert not bank.Xq.dense and bank.Xs.dense
    small = bank.take(np.arange(5))
    assert small.xq.shape == (5, 3, 2) and not small.padded
    mixed = bank.take(np.array([30, 0]))
    assert mixed.xq.shape == (2, 400, 2) and mixed.mq.sum(1).tolist() == [400, 3]
    np.testing.assert_array_equal(mixed.xq[1, :3].numpy(), tasks[0].X_query.astype(np.float32))
    assert (mixed.xq[1, 3:] == 0).all()


# ------------------------------------------------- adaptation never overshoots
def _support_loss(est, t):
    from sklearn.metrics import log_loss, mean_squared_error
    if est._classifier:
        return log_loss(t.y_support, est.predict_proba(t.X_support), labels=est.classes_)
    return mean_squared_error(t.y_support, est.predict(t.X_support))


@pytest.mark.parametrize("cls", [c for c in ESTIMATORS if "inner_lr" in c().get_params()])
def test_adaptation_never_raises_the_support_loss(cls):
    est, tasks = _fitted(cls, max_iter=10, adapt_steps=5)
    t = tasks[3]
    start = _support_loss(est.set_params(adapt_steps=0).adapt(t.X_support, t.y_support), t)
    est.set_params(adapt_steps=5, inner_lr=1e4)  # every step overshoots
    ad = est.adapt(t.X_support, t.y_support)
    assert np.isfinite(ad.predict(t.X_query) if not cls._classifier
                       else ad.predict_proba(t.X_query)).all()
    assert _support_loss(ad, t) <= start + 1e-6
    # the batched evaluation path keeps the same weights
    one = est._task_outputs([t], batch_size=1)[0]
    expected = (ad.predict(t.X_query).reshape(len(t.X_query), -1) if not cls._classifier
                else np.log(ad.predict_proba(t.X_query)))
    if cls._classifier:
        one = one - np.log(np.exp(one).sum(1, keepdims=True))
    np.testing.assert_allclose(one, expected, rtol=1e-3, atol=1e-3)
    # with a sane step size, the steps are kept and lower the support loss
    est.set_params(inner_lr=0.01)
    assert _support_loss(est.adapt(t.X_support, t.y_support), t) < start


def test_learned_meta_sgd_rates_too_large_for_a_new_task_do_not_blow_up():
    est, tasks = _fitted(MAMLRegressor, max_iter=10, learn_inner_lr=True, adapt_steps=3)
    for lr in est.meta_params_["lr"].values():
        lr.mul_(1e4)  # rates learned on other tasks, far too large for this one
    t = tasks[4]
    ad = est.adapt(t.X_support, t.y_support)
    pred = ad.predict(t.X_query)
    assert np.isfinite(pred).all()
    init = est.set_params(adapt_steps=0).adapt(t.X_support, t.y_support)
    assert _support_loss(ad, t) <= _support_loss(init, t) + 1e-6


def test_each_fit_compiles_with_its_own_cache_and_recompile_budget():
    """torch.compile caches graphs and counts recompilations per code object;
    every fit compiles the same step method, so without a code object of its
    own the fits of one process (a grid search) shared one budget and, once
    it was spent, silently ran eagerly."""
    import torch._dynamo
    from torch._dynamo.utils import counters

    tasks = _unequal_tasks(False)
    counters.clear()
    with torch._dynamo.config.patch(recompile_limit=1):
        for seed in range(2):
            fast_instance(MAMLRegressor, compile=True, random_state=seed, max_iter=3).fit(tasks)
    assert counters["stats"]["unique_graphs"] == 2


# ------------------------------------------------------------- early stopping
def test_early_stopping_restores_the_best_validation_meta_parameters():
    from skorch.history import History

    from skmeta._torch._engine import train
    from skmeta.callbacks import EarlyStopping

    est, tasks = _fitted(MAMLRegressor, max_iter=2)
    valid = episodes(est, tasks[:3], dtype=torch.float32)
    est.history_, est.n_iter_ = History(), 0
    est.set_params(meta_lr=0.05)  # large steps on 3 tasks: the validation loss turns
    step = est._step()
    stop = EarlyStopping(monitor="valid_loss", patience=3, threshold=0.0, load_best=True)
    train(est, step, est.meta_params_, est._make_optimizer(est.meta_params_),
          _Cycle(episodes(est, tasks[3:], dtype=torch.float32)), 200, valid=valid,
          eval_every=1, callbacks=[stop])
    losses = [row["valid_loss"] for row in est.history_]
    assert est.n_iter_ < 200  # stopped: 3 evaluations in a row without improvement
    assert losses[-3:] >= [min(losses)] * 3 and min(losses) < losses[0]
    with torch.no_grad():
        final = float(step.meta_loss(est.meta_params_, valid))
    assert final == pytest.approx(min(losses), rel=1e-5)  # the best one, restored


class _Cycle:
    def __init__(self, ep):
        self.ep = ep

    def next(self):
        return self.ep


def test_early_stopping_auto_is_on_for_task_lists_and_off_for_samplers():
    from skmeta.datasets import SinusoidTasks, make_sinusoid_tasks

    many = make_sinusoid_tasks(40, random_state=0)
    est = fast_instance(MAMLRegressor, max_iter=400, eval_every=10, n_iter_no_change=2,
                        meta_lr=0.05, random_state=0).fit(many)
    assert "valid_loss" in est.history_[-1]  # 10% of the tasks held out
    assert est.n_iter_ < 400
    off = fast_instance(MAMLRegressor, max_iter=30, eval_every=10, early_stopping=False,
                        random_state=0).fit(many)
    assert off.n_iter_ == 30 and "valid_loss" not in off.history_[-1]
    few = fast_instance(MAMLRegressor, max_iter=30, eval_every=10).fit(many[:19])
    assert few.n_iter_ == 30 and "valid_loss" not in few.history_[-1]
    sampler = fast_instance(MAMLRegressor, max_iter=30, eval_every=10).fit(SinusoidTasks())
    assert sampler.n_iter_ == 30 and "valid_loss" not in sampler.history_[-1]


# ------------------------------------------------------- targets in any units
@pytest.mark.parametrize("cls", [c for c in ESTIMATORS if not c._classifier])
def test_regressors_learn_the_same_whatever_the_units_of_the_targets(cls):
    """Targets are standardised inside: the same fit on ``1000 * y - 500``
    predicts ``1000 * prediction - 500``, so defaults mean the same in any units."""
    tasks = _unequal_tasks(False)
    shifted = [(t.X_support, 1000 * t.y_support - 500, t.X_query, 1000 * t.y_query - 500)
               for t in tasks]
    a, _ = _fitted(cls, tasks)
    b, _ = _fitted(cls, shifted)
    t = tasks[-1]
    np.testing.assert_allclose(b.adapt(t.X_support, 1000 * t.y_support - 500).predict(t.X_query),
                               1000 * a.adapt(t.X_support, t.y_support).predict(t.X_query) - 500,
                               rtol=1e-4, atol=1e-2)
    np.testing.assert_allclose([r["train_loss"] for r in b.history_],
                               [r["train_loss"] for r in a.history_], rtol=1e-4)


@pytest.mark.parametrize("cls", [c for c in ESTIMATORS if not c._classifier])
def test_normalize_y_false_trains_on_the_targets_as_given(cls):
    """``normalize_y=False`` on targets standardised by hand is the default
    fit on the raw targets, step for step; on raw targets it sees raw losses
    (on targets near 300 Reptile's inner steps at 0.01 diverge at once: the
    reason ``True`` is the default)."""
    tasks = _unequal_tasks(False)
    a, _ = _fitted(cls, tasks)
    m, s = a._y_shift_, a._y_scale_
    by_hand = [(t.X_support, (t.y_support - m) / s, t.X_query, (t.y_query - m) / s)
               for t in tasks]
    b, _ = _fitted(cls, by_hand, normalize_y=False)
    assert not hasattr(b, "_y_scale_")
    t = tasks[-1]
    np.testing.assert_allclose(b.adapt(t.X_support, (t.y_support - m) / s).predict(t.X_query) * s
                               + m, a.adapt(t.X_support, t.y_support).predict(t.X_query),
                               rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose([r["train_loss"] for r in b.history_],
                               [r["train_loss"] for r in a.history_], rtol=1e-4)
    shifted = [(t.X_support, t.y_support + 100, t.X_query, t.y_query + 100) for t in tasks]
    raw, _ = _fitted(cls, shifted, normalize_y=False, max_iter=1)  # more can diverge
    assert raw.history_[0]["train_loss"] > 300 > 100 * a.history_[0]["train_loss"]


@pytest.mark.parametrize("cls", [c for c in ESTIMATORS if not c._classifier])
def test_default_regressors_fit_targets_in_the_hundreds(cls):
    """scikit-learn's multi-output check data (target std about 180) made
    ``ReptileRegressor()`` diverge at its second meta-iteration."""
    from sklearn.datasets import make_regression

    X, y = make_regression(n_samples=200, n_features=10, n_targets=5, random_state=0)
    est = cls(random_state=0, max_iter=50).fit(X, y)
    assert np.isfinite([r["train_loss"] for r in est.history_]).all()
    assert est.predict(X).shape == y.shape
    assert est.score(X, y) > 0  # better than the mean after 50 meta-iterations
