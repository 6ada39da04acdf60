"""MetaHyperparamSearch: scores, selection, portfolio, halving, adapt, errors."""

import numpy as np
from scipy import stats
import pytest
from scipy.stats import loguniform, randint, rankdata
from sklearn.base import is_classifier, is_regressor
from sklearn.datasets import load_iris
from sklearn.exceptions import FitFailedWarning, NotFittedError
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import log_loss
from sklearn.model_selection import KFold, cross_val_score
from sklearn.neighbors import KNeighborsRegressor
from sklearn.tree import DecisionTreeRegressor

from skmeta import MAMLRegressor, MetaHyperparamSearch, Task
from skmeta.datasets import SinusoidTasks, make_fewshot_tasks, make_sinusoid_tasks
from skmeta.model_selection import cross_validate_tasks
from skmeta.model_selection._search import _greedy_portfolio

FAST = dict(max_iter=5, meta_batch_size=4, hidden_layer_sizes=(8,), compile=False,
            random_state=0)
ALPHAS = [1e-3, 1.0, 100.0]


def _linear_tasks(n_tasks, noise, n_support, n_query=30, seed=0):
    """Linear tasks in 5 features: clean ones favour a small Ridge alpha,
    noisy ones with few points a large one."""
    rng = np.random.RandomState(seed)
    tasks = []
    for _ in range(n_tasks):
        X = rng.normal(size=(n_support + n_query, 5))
        y = X @ rng.normal(size=5) + noise * rng.normal(size=len(X))
        tasks.append(Task(X[:n_support], y[:n_support], X[n_support:], y[n_support:]))
    return tasks


def _two_families(seed=0):
    return (_linear_tasks(6, 0.05, 12, seed=seed)
            + _linear_tasks(6, 4.0, 6, seed=seed + 1))


@pytest.fixture(scope="module")
def ridge_search():
    return MetaHyperparamSearch(Ridge(), {"alpha": ALPHAS}, random_state=0).fit(
        _two_families())


def test_task_scores_are_fits_by_hand_and_best_is_the_best_mean_rank(ridge_search):
    search, tasks = ridge_search, _two_families()
    S = search.task_scores_
    assert S.shape == (3, 12) and np.isfinite(S).all()
    for c, t in [(0, 0), (2, 7), (1, 11)]:
        ref = Ridge(alpha=ALPHAS[c]).fit(tasks[t].X_support, tasks[t].y_support)
        assert S[c, t] == pytest.approx(ref.score(tasks[t].X_query, tasks[t].y_query))
    # the families disagree: small alpha wins the clean tasks, large the noisy ones
    assert S[0, :6].mean() > S[2, :6].mean() and S[2, 6:].mean() > S[0, 6:].mean()
    ranks = np.array([rankdata(-S[:, t]) for t in range(12)]).T.mean(axis=1)
    np.testing.assert_allclose(search.cv_results_["mean_task_rank"], ranks)
    assert len(set(ranks)) == 3  # no tie: the best is the best mean rank alone
    assert search.best_index_ == int(np.argmin(ranks))
    assert search.best_params_ == {"alpha": ALPHAS[search.best_index_]}
    assert search.best_score_ == pytest.approx(S[search.best_index_].mean())
    res = search.cv_results_
    assert res["rank_test_score"].tolist() == rankdata(ranks).astype(int).tolist()
    np.testing.assert_allclose(res["mean_test_score"], S.mean(axis=1))
    np.testing.assert_allclose(res["std_test_score"], S.std(axis=1))
    assert res["param_alpha"].tolist() == ALPHAS
    assert isinstance(res["param_alpha"], np.ma.MaskedArray)
    assert res["n_tasks"].tolist() == [12, 12, 12]
    assert (res["mean_fit_time"] > 0).all()
    assert res["params"] == [{"alpha": a} for a in ALPHAS]


def test_portfolio_is_the_greedy_cover_starting_with_the_best(ridge_search):
    search = ridge_search
    assert search.portfolio_indices_[0] == search.best_index_
    assert search.portfolio_indices_ == _greedy_portfolio(
        search.task_scores_, 3, start=search.best_index_)
    assert len(search.portfolio_) >= 2  # the two families want different alphas
    assert search.portfolio_ == [search.cv_results_["params"][i]
                                 for i in search.portfolio_indices_]
    assert [e.alpha for e in search.portfolio_estimators_] == [
        p["alpha"] for p in search.portfolio_]
    assert not hasattr(search.portfolio_estimators_[0], "coef_")  # unfitted clones


def test_greedy_portfolio_on_a_known_matrix():
    S = np.array([[0.9, 0.9, 0.1, 0.1],
                  [0.6, 0.6, 0.6, 0.6],     # best mean: picked first
                  [0.1, 0.1, 0.95, 0.95],   # complements it best
                  [0.5, 0.5, 0.5, 0.7]])
    # greedy, not the best pair {0, 2}: 1, then 2 (0.775), then 0 (0.925), then stop
    assert _greedy_portfolio(S, 4) == [1, 2, 0]
    assert _greedy_portfolio(S, 2) == [1, 2]
    assert _greedy_portfolio(S, 1) == [1]
    assert _greedy_portfolio(S, 4, start=0) == [0, 2]  # nothing improves on {0, 2}
    assert _greedy_portfolio(S, 4, candidates=[0, 1, 3]) == [1, 0, 3]
    S[2, 2] = np.nan  # NaN counts as the worst score: 2 now adds 0.6875 < 0.75
    assert _greedy_portfolio(S, 2) == [1, 0]


def test_halving_evaluates_fewer_pairs_and_keeps_the_true_best():
    tasks = _linear_tasks(27, 1.0, 8, seed=3)  # alpha=1 is clearly the best
    grid = {"alpha": [1e-6, 1e-4, 1e-2, 1.0, 100.0, 1e4, 1e6, 1e8, 1e10]}
    full = MetaHyperparamSearch(Ridge(), grid, random_state=0).fit(tasks)
    half = MetaHyperparamSearch(Ridge(), grid, halving=True, random_state=0).fit(tasks)
    evaluated = np.isfinite(half.task_scores_)
    # auto: 3 rounds (9 -> 3 -> 1 candidates) on 27 // 9 = 3, 9 and all 27 tasks
    assert evaluated.sum() == 9 * 3 + 3 * 6 + 1 * 18 < full.task_scores_.size
    assert sorted(half.cv_results_["n_tasks"].tolist()) == [3] * 6 + [9] * 2 + [27]
    assert half.best_index_ == full.best_index_ == 3
    np.testing.assert_allclose(half.task_scores_[evaluated], full.task_scores_[evaluated])
    assert half.portfolio_indices_ == [half.best_index_]  # the others were dropped
    dropped = np.flatnonzero(half.cv_results_["n_tasks"] < 27)
    assert np.isnan(half.cv_results_["mean_task_rank"][dropped]).all()
    assert (half.cv_results_["rank_test_score"][dropped] > 1).all()
    assert half.cv_results_["rank_test_score"][half.best_index_] == 1
    # min_tasks sets the first round: 9 candidates on 9 tasks, 3 on all 27
    half9 = MetaHyperparamSearch(Ridge(), grid, halving=True, min_tasks=9,
                                 random_state=0).fit(tasks)
    assert sorted(half9.cv_results_["n_tasks"].tolist()) == [9] * 6 + [27] * 3
    assert half9.best_index_ == full.best_index_


def test_param_distributions_are_drawn_reproducibly_and_seed_the_estimator():
    tasks = _two_families()
    dists = {"max_depth": [1, 2, 3, None], "min_samples_leaf": randint(1, 4)}
    make = lambda seed: MetaHyperparamSearch(  # noqa: E731
        DecisionTreeRegressor(max_features=2), param_distributions=dists, n_iter=4,
        random_state=seed).fit(tasks)
    a, b = make(0), make(0)
    assert len(a.cv_results_["params"]) == 4
    assert a.cv_results_["params"] == b.cv_results_["params"]
    # max_features=2 draws features at random: the search seeded the tree
    np.testing.assert_array_equal(a.task_scores_, b.task_scores_)
    assert a.portfolio_estimators_[0].random_state is not None
    t = tasks[0]
    np.testing.assert_array_equal(a.adapt(t.X_support, t.y_support).predict(t.X_query),
                                  b.adapt(t.X_support, t.y_support).predict(t.X_query))
    ridge = lambda seed: MetaHyperparamSearch(  # noqa: E731
        Ridge(), param_distributions={"alpha": loguniform(1e-3, 1e3)}, n_iter=3,
        random_state=seed).fit(tasks).cv_results_["params"]
    assert ridge(1) == ridge(1) != ridge(2)
    assert len({p["alpha"] for p in ridge(1)}) == 3


def test_adapt_overrules_best_params_only_when_the_support_set_is_clear(ridge_search):
    search = ridge_search
    assert len(search.portfolio_) > 1
    chosen = {}
    for noise, n_support, seed in [(0.05, 12, 10), (4.0, 12, 11), (0.05, 60, 12),
                                   (4.0, 60, 13)]:
        t = _linear_tasks(1, noise, n_support, seed=seed)[0]
        adapted = search.adapt(t.X_support, t.y_support)
        cv = KFold(5, shuffle=True, random_state=0)
        folds = np.array([cross_val_score(Ridge(**p), t.X_support, t.y_support, cv=cv)
                          for p in search.portfolio_])
        np.testing.assert_allclose(adapted.support_scores_, folds.mean(axis=1))
        k = int(np.argmax(folds.mean(axis=1)))
        d = folds[k] - folds[0]
        clear = k > 0 and d.mean() > stats.t.ppf(0.975, 4) * d.std(ddof=1) / np.sqrt(5)
        expected = k if clear else 0  # the paired t-test over the folds, by hand
        assert adapted.chosen_params_ == search.portfolio_[expected]
        assert adapted.chosen_index_ == search.portfolio_indices_[expected]
        ref = Ridge(**search.portfolio_[expected]).fit(t.X_support, t.y_support)
        np.testing.assert_allclose(adapted.predict(t.X_query), ref.predict(t.X_query))
        chosen[noise, n_support] = adapted.chosen_params_["alpha"]
    # with 60 rows the support set is clear: the clean task takes less regularisation
    assert chosen[0.05, 60] < chosen[4.0, 60]
    assert not hasattr(search, "chosen_estimator_")  # the search is unchanged
    with pytest.raises(NotFittedError, match="call adapt"):
        search.predict(t.X_query)


def test_adapt_on_few_rows_is_not_worse_than_best_params():
    """On 5-row support sets, choosing by support cross-validation alone was
    worse than the search's own best_params_; the confident rule is not."""
    train = _linear_tasks(40, 1.0, 5, seed=0)
    search = MetaHyperparamSearch(Ridge(), {"alpha": [0.01, 1.0, 100.0]}, portfolio_size=3,
                                  random_state=0).fit(train)
    test = _linear_tasks(60, 1.0, 5, seed=1)
    adapted = np.mean([search.adapt(t.X_support, t.y_support).score(t.X_query, t.y_query)
                       for t in test])
    best = np.mean([Ridge(**search.best_params_).fit(t.X_support, t.y_support)
                    .score(t.X_query, t.y_query) for t in test])
    assert adapted >= best - 1e-12


def test_adapt_falls_back_to_the_best_params_on_a_tiny_support_set(ridge_search):
    X = np.random.RandomState(0).normal(size=(3, 5))
    adapted = ridge_search.adapt(X, [1.0, 2.0, 3.0])  # 3 rows: no 2-row folds
    assert np.isnan(adapted.support_scores_).all()
    assert adapted.chosen_params_ == ridge_search.best_params_ == ridge_search.portfolio_[0]
    # a classifier with one example of a class cannot be cross-validated either
    X, y = load_iris(return_X_y=True)
    labels = np.array(["setosa", "versicolor", "virginica"])[y]
    tasks = make_fewshot_tasks(X, labels, 3, 3, 4, 6, random_state=0)
    search = MetaHyperparamSearch(LogisticRegression(max_iter=1000),
                                  {"C": [1e-3, 1.0, 100.0]}, random_state=0).fit(tasks)
    rows = [0, 1, 50, 51, 100]  # virginica once
    adapted = search.adapt(X[rows], labels[rows])
    assert np.isnan(adapted.support_scores_).all()
    assert adapted.chosen_params_ == search.best_params_


def test_classification_with_string_labels():
    X, y = load_iris(return_X_y=True)
    labels = np.array(["setosa", "versicolor", "virginica"])[y]
    train = make_fewshot_tasks(X, labels, 2, 5, 5, 8, random_state=0)
    search = MetaHyperparamSearch(LogisticRegression(max_iter=1000),
                                  {"C": [1e-3, 1.0, 100.0]}, scoring="neg_log_loss",
                                  random_state=0).fit(train)
    assert is_classifier(search) and not is_regressor(search)
    S = search.task_scores_
    assert S.shape == (3, 8) and (S < 0).all()
    assert S[0].mean() < S[1].mean()  # C=1e-3 keeps probabilities near 1/2
    t = make_fewshot_tasks(X, labels, 3, 4, 5, 1, random_state=1)[0]
    adapted = search.adapt(t.X_support, t.y_support)
    pred = adapted.predict(t.X_query)
    assert set(pred) <= set(labels) and (pred == t.y_query).mean() > 0.5
    assert adapted.predict_proba(t.X_query).shape == (15, 3)
    assert adapted.classes_.tolist() == ["setosa", "versicolor", "virginica"]
    assert adapted.score(t.X_query, t.y_query) == pytest.approx(
        -log_loss(t.y_query, adapted.predict_proba(t.X_query), labels=adapted.classes_))
    assert not hasattr(MetaHyperparamSearch(Ridge(), {"alpha": [1.0]}), "predict_proba")


def test_meta_learner_is_scored_on_held_out_tasks_and_adapted():
    tasks = make_sinusoid_tasks(9, n_support=6, n_query=5, random_state=0)
    grid = {"inner_lr": [0.0, 0.01]}
    search = MetaHyperparamSearch(MAMLRegressor(**FAST), grid, cv=3,
                                  scoring="neg_mean_squared_error", random_state=0)
    search.fit(tasks)
    assert search.task_scores_.shape == (2, 9) and np.isfinite(search.task_scores_).all()
    # candidate 0 scores exactly what cross_validate_tasks gives held-out tasks
    ref = cross_validate_tasks(MAMLRegressor(**FAST, inner_lr=0.0), tasks, cv=3,
                               scoring="neg_mean_squared_error")
    by_task = np.empty(9)
    for test, scores in zip(ref["test_tasks"], ref["task_scores"]):
        by_task[test] = scores
    np.testing.assert_allclose(search.task_scores_[0], by_task, rtol=1e-6)
    assert all(e.n_iter_ == FAST["max_iter"] for e in search.portfolio_estimators_)
    t = make_sinusoid_tasks(1, n_support=6, n_query=7, random_state=1)[0]
    adapted = search.adapt(t.X_support, t.y_support)
    assert adapted.predict(t.X_query).shape == (7,)
    assert adapted.chosen_params_ in search.portfolio_
    assert np.isfinite(adapted.support_scores_).all() or len(search.portfolio_) == 1


def test_meta_learner_halving_over_folds():
    tasks = make_sinusoid_tasks(6, n_support=6, n_query=5, random_state=0)
    search = MetaHyperparamSearch(MAMLRegressor(**FAST),
                                  {"inner_lr": [0.0, 0.001, 0.01, 0.1]}, cv=3,
                                  halving=True, halving_factor=2, random_state=0).fit(tasks)
    # round 0: 4 candidates on fold 0 (2 tasks); round 1: 2 on all 3 folds (2 folds
    # would leave no room for a third round)
    assert sorted(search.cv_results_["n_tasks"].tolist()) == [2, 2, 6, 6]
    assert np.isnan(search.task_scores_).sum() == 2 * 4
    survivors = np.flatnonzero(search.cv_results_["n_tasks"] == 6)
    assert set(search.portfolio_indices_) <= set(survivors)
    assert search.best_index_ in survivors


def test_arrays_with_and_without_groups():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 3))
    y = X @ [1.0, -2.0, 0.5] + 0.1 * rng.normal(size=60)
    search = MetaHyperparamSearch(Ridge(), {"alpha": [0.01, 100.0]}, random_state=0)
    search.fit(X, y)  # the 3 row folds are the tasks; then adapted to all of (X, y)
    assert search.task_scores_.shape == (2, 3) and search.best_params_ == {"alpha": 0.01}
    ref = Ridge(**search.chosen_params_).fit(X, y)
    np.testing.assert_allclose(search.predict(X[:5]), ref.predict(X[:5]))
    groups = np.repeat(np.arange(6), 10)
    search.fit(X, y, groups=groups)
    assert search.task_scores_.shape == (2, 6)
    with pytest.raises(ValueError, match="groups has shape"):
        search.fit(X, y, groups=groups[:-1])


def test_parallel_equals_serial():
    tasks = _two_families()
    a = MetaHyperparamSearch(Ridge(), {"alpha": ALPHAS}).fit(tasks)
    b = MetaHyperparamSearch(Ridge(), {"alpha": ALPHAS}, n_jobs=2).fit(tasks)
    np.testing.assert_allclose(a.task_scores_, b.task_scores_)


def test_failed_fits_score_nan_with_a_warning():
    tasks = _linear_tasks(4, 0.1, 8)
    search = MetaHyperparamSearch(KNeighborsRegressor(), {"n_neighbors": [1, 3, 20]})
    with pytest.warns(FitFailedWarning, match=r"4 of 12 fits failed.*candidate 2"):
        search.fit(tasks)
    assert np.isnan(search.task_scores_[2]).all() and search.best_index_ != 2
    assert 2 not in search.portfolio_indices_
    with pytest.raises(ValueError, match="all 4 fits failed.*n_neighbors"):
        MetaHyperparamSearch(KNeighborsRegressor(), {"n_neighbors": [20]}).fit(tasks)


def test_skorch_net_is_searched_like_any_estimator():
    torch = pytest.importorskip("torch")
    skorch = pytest.importorskip("skorch")
    rng = np.random.RandomState(0)
    tasks = []
    for _ in range(3):
        X = rng.normal(size=(20, 2)).astype(np.float32)
        y = (X @ rng.normal(size=(2, 1))).astype(np.float32)
        tasks.append((X[:10], y[:10], X[10:], y[10:]))
    net = skorch.NeuralNetRegressor(torch.nn.Linear, module__in_features=2,
                                    module__out_features=1, max_epochs=3,
                                    train_split=None, verbose=0)
    search = MetaHyperparamSearch(net, {"lr": [1e-4, 0.1]}, random_state=0).fit(tasks)
    assert search.task_scores_.shape == (2, 3) and np.isfinite(search.task_scores_).all()
    X, y = tasks[0][0], tasks[0][1]
    assert search.adapt(X, y).predict(tasks[0][2]).shape == (10, 1)


def test_errors_name_the_bad_argument_or_task():
    tasks = _linear_tasks(3, 0.1, 8)
    with pytest.raises(ValueError, match="exactly one of param_grid and "
                                         "param_distributions; got both"):
        MetaHyperparamSearch(Ridge(), {"alpha": [1.0]}, {"alpha": [1.0]}).fit(tasks)
    with pytest.raises(ValueError, match="got neither"):
        MetaHyperparamSearch(Ridge()).fit(tasks)
    t = tasks[0]
    with pytest.raises(ValueError, match="task 3: has no query set"):
        MetaHyperparamSearch(Ridge(), {"alpha": [1.0]}).fit(
            tasks + [(t.X_support, t.y_support)])
    with pytest.raises(TypeError, match="list of tasks.*sampler, SinusoidTasks"):
        MetaHyperparamSearch(Ridge(), {"alpha": [1.0]}).fit(SinusoidTasks())
    with pytest.raises(ValueError, match="Invalid parameter 'alfa'"):
        MetaHyperparamSearch(Ridge(), {"alfa": [1.0]}).fit(tasks)
    with pytest.raises(ValueError, match="task 1: X_support has features"):
        MetaHyperparamSearch(Ridge(), {"alpha": [1.0]}).fit(
            [t, (t.X_support[:, :2], t.y_support, t.X_query[:, :2], t.y_query)])
    with pytest.raises(ValueError, match="requires y to be passed"):
        MetaHyperparamSearch(Ridge(), {"alpha": [1.0]}).fit(t.X_support)
    with pytest.raises(ValueError, match="min_tasks=5 is more than the 3 tasks"):
        MetaHyperparamSearch(Ridge(), {"alpha": [1.0]}, halving=True, min_tasks=5).fit(tasks)
    search = MetaHyperparamSearch(Ridge(), {"alpha": [1.0]}).fit(tasks)
    with pytest.raises(ValueError, match="X has 2 features, but MetaHyperparamSearch is "
                                         "expecting 5"):
        search.adapt(t.X_support[:, :2], t.y_support)
    with pytest.raises(NotFittedError):
        MetaHyperparamSearch(Ridge(), {"alpha": [1.0]}).adapt(t.X_support, t.y_support)
    meta = make_sinusoid_tasks(4, random_state=0)
    with pytest.raises(ValueError, match="needs at least 5 tasks"):
        MetaHyperparamSearch(MAMLRegressor(**FAST), {"inner_lr": [0.0]}, cv=5).fit(meta)
    from skmeta.model_selection import TaskShuffleSplit
    with pytest.raises(ValueError, match="never holds out tasks"):
        MetaHyperparamSearch(MAMLRegressor(**FAST), {"inner_lr": [0.0]},
                             cv=TaskShuffleSplit(1, test_size=1, random_state=0)).fit(meta)
