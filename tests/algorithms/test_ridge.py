"""The closed-form ridge head (R2D2): the solve against numpy and scikit-learn, its
exact meta-gradients (padded meta-batches, finite differences), and that it learns."""

import numpy as np
import pytest
import torch
from scipy.special import softmax
from sklearn.datasets import load_digits
from sklearn.linear_model import Ridge

from skmeta import EpisodeSampler, MetaRidgeClassifier, MetaRidgeRegressor
from skmeta._torch._functional import HEAD
from skmeta.algorithms._ridge import LOG_LAM, LOG_LAM_BIAS, SCALE, W0, ridge_solve
from skmeta.datasets import make_fewshot_tasks
from skmeta.tasks import check_tasks

from .._helpers import double_tree, episodes
from .._instances import fast_instance
from ._images import make_images, make_tabular, mean_accuracy, split_classes


def _closed_form(E, Y, lam, W0):
    """``W0 + (E^T E + lam I)^-1 E^T (Y - E W0)`` with numpy."""
    return W0 + np.linalg.solve(E.T @ E + lam * np.eye(E.shape[1]), E.T @ (Y - E @ W0))


def _with_bias(X):
    return np.hstack([X, np.ones((len(X), 1))])


class Identity(torch.nn.Module):
    """A linear embedding fixed to the identity: the ridge head sees the raw features."""

    def __init__(self, in_features=3):
        super().__init__()
        self.lin = torch.nn.Linear(in_features, in_features)
        with torch.no_grad():
            self.lin.weight.copy_(torch.eye(in_features))
            self.lin.bias.zero_()

    def forward(self, x):
        return self.lin(x)


# ------------------------------------------------------------------- the solve
@pytest.mark.parametrize("n, p", [(4, 9), (12, 5), (6, 6)])
def test_primal_and_dual_solves_equal_the_closed_form_and_sklearn(n, p):
    rng = np.random.RandomState(n)
    E, Y, W0_ = rng.normal(size=(n, p)), rng.normal(size=(n, 2)), rng.normal(size=(p, 2))
    lam = 0.37
    e, y, w0 = (torch.tensor(a) for a in (E, Y, W0_))
    want = _closed_form(E, Y, lam, W0_)
    for dual in (True, False, None):
        np.testing.assert_allclose(ridge_solve(e, y, lam, w0, dual=dual).numpy(), want,
                                   rtol=1e-9, atol=1e-10)
    # no prior: scikit-learn's Ridge without intercept, which penalises every coefficient
    ref = Ridge(alpha=lam, fit_intercept=False, solver="cholesky").fit(E, Y).coef_.T
    for dual in (True, False):
        np.testing.assert_allclose(ridge_solve(e, y, lam, dual=dual).numpy(), ref,
                                   rtol=1e-8, atol=1e-10)


def test_primal_and_dual_have_the_same_gradients_and_ignore_zero_rows():
    rng = np.random.RandomState(0)
    e = torch.tensor(rng.normal(size=(5, 7)), requires_grad=True)
    y, w0 = torch.tensor(rng.normal(size=(5, 3))), torch.tensor(rng.normal(size=(7, 3)))
    lam = torch.tensor(0.8, dtype=torch.float64, requires_grad=True)
    grads = [torch.autograd.grad(ridge_solve(e, y, lam, w0, dual=d).pow(2).sum(), (e, lam))
             for d in (True, False)]
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-10)
    padded = ridge_solve(torch.cat([e, torch.zeros(3, 7)]), torch.cat([y, torch.zeros(3, 3)]),
                         lam, w0)
    torch.testing.assert_close(padded, ridge_solve(e, y, lam, w0), rtol=1e-9, atol=1e-10)


# -------------------------------------------------- adapt against scikit-learn
def _linear_task(rng, n_support, n_query=6, d=3, n_out=1):
    X = rng.normal(size=(n_support + n_query, d))
    y = X @ rng.normal(size=(d, n_out)) + 0.3 * rng.normal(size=(len(X), n_out))
    y = y.ravel() if n_out == 1 else y
    return X[:n_support], y[:n_support], X[n_support:], y[n_support:]


@pytest.mark.parametrize("n_support, n_out", [(2, 1), (8, 1), (5, 2)])
def test_adapt_on_an_identity_embedding_is_ridge(n_support, n_out):
    rng = np.random.RandomState(n_support)
    tasks = [_linear_task(rng, n_support, n_out=n_out) for _ in range(3)]
    est = fast_instance(MetaRidgeRegressor, module=Identity, alpha=0.7, max_iter=0,
                        random_state=0).fit(tasks)
    Xs, ys, Xq, _ = _linear_task(rng, n_support, n_out=n_out)
    before = {k: v.clone() for k, v in est.meta_params_["w"].items()}
    ad = est.adapt(Xs, ys)
    # the solve is on targets standardised by the training tasks' mean and scale
    m, s = est._y_shift_, est._y_scale_
    ref = Ridge(alpha=0.7, fit_intercept=False).fit(_with_bias(Xs), (ys.reshape(len(ys), -1) - m) / s)
    np.testing.assert_allclose(ad.predict(Xq).reshape(len(Xq), -1),
                               ref.predict(_with_bias(Xq)).reshape(len(Xq), -1) * s + m,
                               rtol=1e-4, atol=1e-5)
    assert ad.predict(Xq).shape == np.shape(ys[:1].repeat(len(Xq), 0))
    # no gradient steps: the meta-parameters are shared, unchanged
    for k, v in est.meta_params_["w"].items():
        assert torch.equal(v, before[k]) and torch.equal(ad.adapted_[k], v)
    # a prior head: the solution shrinks towards it, not towards 0
    prior = rng.normal(size=(4, n_out))
    est.meta_params_["w"][W0] = torch.tensor(prior, dtype=torch.float32)
    W = _closed_form(_with_bias(Xs), (ys.reshape(len(ys), -1) - m) / s, 0.7, prior)
    np.testing.assert_allclose(est.adapt(Xs, ys).predict(Xq).reshape(len(Xq), -1),
                               _with_bias(Xq) @ W * s + m, rtol=1e-4, atol=1e-5)
    # before any adapt the regressor predicts with the prior head
    np.testing.assert_allclose(est.predict(Xq).reshape(len(Xq), -1),
                               _with_bias(Xq) @ prior * s + m, rtol=1e-5, atol=1e-5)


def test_the_classifier_regresses_one_hot_labels_and_scales_them():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(40, 3))
    y = np.array(["b", "a", "c", "d"] * 10)
    tasks = make_fewshot_tasks(X, y, 3, 2, 2, 4, random_state=0)
    est = fast_instance(MetaRidgeClassifier, module=Identity, alpha=0.5, max_iter=0).fit(tasks)
    est.meta_params_["w"][SCALE] = torch.tensor(3.0)
    Xs, ys, Xq = X[:6], y[:6], X[6:12]
    ad = est.adapt(Xs, ys)
    assert ad.classes_.tolist() == ["a", "b", "c", "d"]
    onehot = (ys[:, None] == ad.classes_[None]).astype(float)
    ref = Ridge(alpha=0.5, fit_intercept=False).fit(_with_bias(Xs), onehot)
    np.testing.assert_allclose(ad.predict_proba(Xq), softmax(3 * ref.predict(_with_bias(Xq)), 1),
                               rtol=1e-4, atol=1e-6)
    assert set(ad.adapted_) >= set(HEAD) and HEAD[0] not in est.meta_params_["w"]


# ------------------------------------------------------------- meta-gradients
def _unequal(classifier, images=False):
    rng = np.random.RandomState(1)
    if classifier:
        X, y = (make_images(5, 12, size=8, noise=0.5) if images
                else (rng.normal(size=(60, 3)), np.repeat(list("abcde"), 12)))
        tasks = []
        for i, (n_way, k, q) in enumerate([(2, 2, 3), (3, 1, 2), (4, 3, 1), (2, 1, 1)]):
            tasks += make_fewshot_tasks(X, y, n_way, k, q, 1, random_state=i)
        return check_tasks(tasks, classifier=True)
    # support sizes on both sides of the embedding width (16): dual and primal solves
    return check_tasks([_linear_task(rng, n, n_query=q, n_out=2)
                        for n, q in [(3, 5), (20, 2), (7, 9), (30, 4)]])


def _fitted_double(cls, **params):
    tasks = _unequal(cls._classifier, params.get("module") == "conv4")
    est = fast_instance(cls, random_state=0, max_iter=3, **params).fit(tasks)
    est.module_.double()
    return est, tasks, double_tree(est.meta_params_)


@pytest.mark.parametrize("cls, params", [(MetaRidgeRegressor, {}), (MetaRidgeClassifier, {}),
                                         (MetaRidgeClassifier, {"module": "conv4",
                                                                "module__channels": 3})])
def test_vmapped_meta_gradient_of_a_padded_meta_batch_equals_a_per_task_loop(cls, params):
    est, tasks, theta = _fitted_double(cls, **params)
    step = est._step()
    padded = episodes(est, tasks)
    assert padded.padded
    direction, loss = step.outer_grad(theta, padded)
    per_task = [step.outer_grad(theta, episodes(est, [t])) for t in tasks]
    torch.testing.assert_close(loss, torch.stack([l for _, l in per_task]).mean(),
                               rtol=1e-6, atol=1e-6)
    assert {LOG_LAM, SCALE if cls._classifier else W0} <= set(direction["w"])
    for k, g in direction["w"].items():
        ref = torch.stack([d["w"][k] for d, _ in per_task]).mean(0)
        torch.testing.assert_close(g, ref, rtol=1e-6, atol=1e-6)
        assert g.abs().sum() > 0, k  # everything is learned
    if cls._classifier:  # classes a task lacks get no probability
        logits = step.map_tasks(step.predict_task, theta, padded)
        for i, t in enumerate(tasks):
            assert (logits[i, :, len(np.unique(t.y_support)):] < -1e8).all()


@pytest.mark.parametrize("cls", [MetaRidgeRegressor, MetaRidgeClassifier])
def test_the_task_loss_passes_gradcheck(cls):
    est, tasks, theta = _fitted_double(cls)
    step = est._step()
    ep = episodes(est, tasks)
    assert ep.padded
    xs, ys, xq, yq, ms, mq = (a[1] for a in ep.tensors())  # a padded task, with its masks
    names = [LOG_LAM, SCALE if cls._classifier else W0]

    def loss(*values):
        w = {**theta["w"], **dict(zip(names, values))}
        return step.task_loss({"w": w}, xs, ys, xq, yq, ep.n_way, ms, mq)

    inputs = tuple(theta["w"][k].clone().requires_grad_() for k in names)
    assert torch.autograd.gradcheck(loss, inputs, eps=1e-6, atol=1e-7, rtol=1e-5)


# ------------------------------------------------------------------- learning
def _shared_linear_tasks(n_tasks, w, rng, n_support=3, n_query=20):
    """Linear tasks whose weights scatter a little around a shared ``w``."""
    tasks = []
    for _ in range(n_tasks):
        X = rng.normal(size=(n_support + n_query, len(w)))
        y = X @ (w + 0.1 * rng.normal(size=len(w))) + 0.5 + 0.05 * rng.normal(size=len(X))
        tasks.append((X[:n_support], y[:n_support], X[n_support:], y[n_support:]))
    return tasks


def test_the_meta_learned_ridge_beats_ridge_on_each_support_set():
    rng = np.random.RandomState(0)
    w = rng.normal(size=5)
    train, test = _shared_linear_tasks(200, w, rng), _shared_linear_tasks(50, w, rng)
    est = MetaRidgeRegressor(hidden_layer_sizes=(32,), max_iter=150, meta_batch_size=10,
                             meta_lr=1e-2, compile=False, random_state=0).fit(train)
    meta = np.mean([np.mean((est.adapt(a, b).predict(c) - d) ** 2) for a, b, c, d in test])
    alone = min(np.mean([np.mean((Ridge(alpha=alpha).fit(a, b).predict(c) - d) ** 2)
                         for a, b, c, d in test]) for alpha in (0.01, 0.1, 1.0, 10.0))
    assert meta < 0.1 * alone, (meta, alone)


def test_the_classifier_learns_held_out_classes():
    X, y = make_tabular(20, 20, n_noise=16)
    train_classes, _ = split_classes(y, 12)
    seen = np.isin(y, train_classes)
    sampler = EpisodeSampler(X[seen], y[seen], n_way=3, k_shot=2, n_query=5)
    test = make_fewshot_tasks(X[~seen], y[~seen], 3, 2, 5, 50, random_state=1)
    params = dict(hidden_layer_sizes=(32,), meta_batch_size=4, meta_lr=3e-3, compile=False,
                  random_state=0)
    untrained = mean_accuracy(MetaRidgeClassifier(max_iter=0, **params).fit(sampler), test)
    trained = mean_accuracy(MetaRidgeClassifier(max_iter=300, **params).fit(sampler), test)
    assert trained > 0.7 and trained > untrained + 0.2, (trained, untrained)  # chance: 1/3


@pytest.mark.parametrize("n, p", [(4, 7), (9, 3)])
def test_a_penalty_per_column_is_the_closed_form_in_both_forms(n, p):
    """The bias gets a penalty of its own: a diagonal penalty, in the primal
    and the dual (Woodbury) form alike, with gradients for both penalties."""
    rng = np.random.RandomState(0)
    e, y, w0 = rng.normal(size=(n, p)), rng.normal(size=(n, 2)), rng.normal(size=(p, 2))
    lam = np.exp(rng.normal(size=p))
    ref = w0 + np.linalg.solve(e.T @ e + np.diag(lam), e.T @ (y - e @ w0))
    for dual in (True, False):
        got = ridge_solve(torch.tensor(e), torch.tensor(y), torch.tensor(lam), torch.tensor(w0),
                          dual=dual)
        np.testing.assert_allclose(got.numpy(), ref, rtol=1e-9, atol=1e-9)
    est = fast_instance(MetaRidgeRegressor, random_state=0).fit(
        check_tasks([(rng.normal(size=(3, 2)), rng.normal(size=3), rng.normal(size=(4, 2)),
                      rng.normal(size=4)) for _ in range(4)]))
    ep = episodes(est, check_tasks([(rng.normal(size=(3, 2)), rng.normal(size=3),
                                     rng.normal(size=(4, 2)), rng.normal(size=4))]))
    est.module_.double()
    grads, _ = est._step().outer_grad(double_tree(est.meta_params_), ep)
    assert grads["w"][LOG_LAM].abs() > 0 and grads["w"]["@ridge.log_lam_bias"].abs() > 0


def test_an_identity_embedding_by_empty_hidden_layers():
    """``hidden_layer_sizes=()``: the ridge head on the raw inputs, only the
    penalties (and the classifier's scale) meta-learned."""
    X, y = load_digits(n_class=4, return_X_y=True)
    tasks = make_fewshot_tasks(X / 16, y, 2, 3, 3, 8, random_state=0)
    est = MetaRidgeClassifier(hidden_layer_sizes=(), max_iter=3, random_state=0).fit(tasks)
    assert set(est.meta_params_["w"]) == {LOG_LAM, LOG_LAM_BIAS, SCALE}
    t = tasks[0]
    assert est.adapt(t.X_support, t.y_support).predict(t.X_query).shape == (6,)

