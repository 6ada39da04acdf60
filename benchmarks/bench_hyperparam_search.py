"""MetaHyperparamSearch against defaults and per-task grid search on small regression tasks.

The task family is Friedman #1 with a different scale of each of its terms,
a different target scale and a different noise level in every task:
``y = s * (a1 10 sin(pi x1 x2) + a2 20 (x3 - 0.5)^2 + a3 10 x4 + a4 5 x5) + noise``,
``x ~ U[0, 1]^10`` (five features are irrelevant), ``a_i ~ U[0.5, 1.5]``,
``s ~ logU[0.3, 3]`` and the noise standard deviation ``s * logU[0.3, 6]``.
Each task has ``--n-support`` (20) support rows and ``--n-query`` (200)
query rows; 50 training tasks and 200 test tasks. The estimator is an RBF
``SVR``, whose ``C`` and ``gamma`` matter on 20 rows; the grid is 5 x 5
values of them. Side by side, on the same held-out test tasks:

* ``defaults``: ``SVR()`` fitted on each support set;
* ``per-task GridSearchCV``: the same grid tuned on each support set alone
  (5-fold, shuffled), refitted on it;
* ``MetaHyperparamSearch + adapt``: the search fitted once on the training
  tasks, then ``adapt`` on each test support set (picks one of a portfolio
  of 3 settings by 3-fold cross-validation on the support set, fits it);
* ``MetaHyperparamSearch(halving=True) + adapt``: the same with successive
  halving over the training tasks;
* ``best_params_ alone``: the search's single best setting fitted on each
  support set.

Scores are query R^2 per task, reported as mean and 95% confidence interval
over the test tasks by :func:`skmeta.model_selection.evaluate_tasks` (a
plain estimator is "adapted" by fitting a clone on the support set), with
the paired difference to per-task GridSearchCV on the same tasks.

Run ``python benchmarks/bench_hyperparam_search.py`` (``--quick`` for a
smoke run that writes nothing). Tables go to
``benchmarks/results/hyperparam_search.md`` and ``.json``.
"""

import argparse
import time

import _harness as H
import numpy as np
import sklearn
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.svm import SVR

from skmeta import MetaHyperparamSearch, Task
from skmeta.model_selection import evaluate_tasks

GRID = {"C": [0.1, 1.0, 10.0, 100.0, 1000.0], "gamma": [0.01, 0.03, 0.1, 0.3, 1.0]}


def make_tasks(n_tasks, n_support, n_query, seed):
    rng = np.random.RandomState(seed)
    tasks = []
    for _ in range(n_tasks):
        X = rng.uniform(size=(n_support + n_query, 10))
        a = rng.uniform(0.5, 1.5, size=4)
        scale = np.exp(rng.uniform(np.log(0.3), np.log(3.0)))
        noise = scale * np.exp(rng.uniform(np.log(0.3), np.log(6.0)))
        f = (a[0] * 10 * np.sin(np.pi * X[:, 0] * X[:, 1]) + a[1] * 20 * (X[:, 2] - 0.5) ** 2
             + a[2] * 10 * X[:, 3] + a[3] * 5 * X[:, 4])
        y = scale * f + noise * rng.normal(size=len(X))
        tasks.append(Task(X[:n_support], y[:n_support], X[n_support:], y[n_support:]))
    return tasks


class FitOnSupport(RegressorMixin, BaseEstimator):
    """A plain estimator seen as a meta-learner: ``adapt`` fits a clone on the
    support set, so :func:`evaluate_tasks` scores it like the others."""

    def __init__(self, estimator):
        self.estimator = estimator

    def fit(self, tasks=None):
        return self

    def adapt(self, X_support, y_support):
        return clone(self.estimator).fit(X_support, y_support)


def run(name, learner, train, test, tune=None):
    t0 = time.perf_counter()
    if tune is not None:
        learner = tune(learner, train)
    tune_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    res = evaluate_tasks(learner, test)
    test_s = time.perf_counter() - t0
    print(f"{name:<44} R^2 {res.mean:7.3f} +/- {res.ci:.3f}   tune {tune_s:6.1f} s   "
          f"test tasks {test_s:6.1f} s", flush=True)
    return {"method": name, "mean": res.mean, "ci95": res.ci,
            "median": float(np.median(res.scores)), "tune_s": tune_s, "test_s": test_s,
            "scores": res.scores, "learner": learner}


def paired(a, b):
    """Mean and 95% interval of the per-task differences ``a - b``."""
    d = H.interval(a - b)
    return d["mean"], d["ci"]


def markdown(rows, args, search, halving):
    ref = next(r for r in rows if r["method"].startswith("per-task GridSearchCV"))
    lines = [
        f"scikit-learn {sklearn.__version__}; n_jobs={args.n_jobs}.",
        "",
        f"RBF SVR, grid of {len(GRID['C']) * len(GRID['gamma'])} settings "
        f"(C in {GRID['C']}, gamma in {GRID['gamma']}). Friedman #1 tasks with per-task "
        f"term weights, target scale and noise; {args.n_support} support and "
        f"{args.n_query} query rows per task; {args.n_train} training tasks, "
        f"{args.n_test} test tasks. Query R^2 per test task: mean +/- 95% CI, median, "
        "and the paired difference to per-task GridSearchCV (mean +/- 95% CI). "
        "Tuning: one-off time on the training tasks; test tasks: fitting (or "
        "tuning, or adapting) on every test support set and scoring its query set.",
        "",
        "| method | query R^2 | median | vs per-task GridSearchCV | tuning (s) "
        "| test tasks (s) |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        diff = "-" if r is ref else "{:+.3f} +/- {:.3f}".format(*paired(r["scores"],
                                                                       ref["scores"]))
        lines.append(f"| {r['method']} | {r['mean']:.3f} +/- {r['ci95']:.3f} | "
                     f"{r['median']:.3f} | {diff} | {r['tune_s']:.1f} | {r['test_s']:.1f} |")
    adapt = next(r for r in rows if r["method"] == "MetaHyperparamSearch + adapt")
    alone = next(r for r in rows if r["method"] == "best_params_ alone")
    lines += [
        "",
        "``best_params_ alone`` costs the same one-off search as ``MetaHyperparamSearch "
        "+ adapt``. Choosing among the portfolio on the support set (adapt) against "
        "always using best_params_: paired difference {:+.3f} +/- {:.3f}.".format(
            *paired(adapt["scores"], alone["scores"])),
        "",
        f"MetaHyperparamSearch: best_params_ {search.best_params_}, "
        f"portfolio {search.portfolio_}.",
        "",
        f"With halving: best_params_ {halving.best_params_}, portfolio {halving.portfolio_}, "
        f"{int(np.isfinite(halving.task_scores_).sum())} of "
        f"{halving.task_scores_.size} (candidate, task) fits.",
    ]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run that writes nothing")
    parser.add_argument("--n-train", type=int, default=50)
    parser.add_argument("--n-test", type=int, default=200)
    parser.add_argument("--n-support", type=int, default=20)
    parser.add_argument("--n-query", type=int, default=200)
    parser.add_argument("--n-jobs", type=int, default=1)
    args = parser.parse_args()
    if args.quick:
        args.n_train, args.n_test = 10, 10
    info = H.machine()
    train = make_tasks(args.n_train, args.n_support, args.n_query, seed=0)
    test = make_tasks(args.n_test, args.n_support, args.n_query, seed=1)

    def fit_search(halving):
        def tune(est, tasks):
            return MetaHyperparamSearch(est, GRID, portfolio_size=3, halving=halving,
                                        n_jobs=args.n_jobs, random_state=0).fit(tasks)
        return tune

    cv = KFold(5, shuffle=True, random_state=0)
    rows = [
        run("defaults: SVR()", FitOnSupport(SVR()), train, test),
        run("per-task GridSearchCV (5-fold on support)",
            FitOnSupport(GridSearchCV(SVR(), GRID, cv=cv, n_jobs=args.n_jobs)), train, test),
        run("MetaHyperparamSearch + adapt", SVR(), train, test, fit_search(False)),
        run("MetaHyperparamSearch(halving=True) + adapt", SVR(), train, test,
            fit_search(True)),
    ]
    search = rows[2]["learner"]
    rows.append(run("best_params_ alone", FitOnSupport(SVR(**search.best_params_)),
                    train, test))
    rows[-1]["tune_s"] = rows[2]["tune_s"]  # bought by the same search
    md = markdown(rows, args, search, rows[3]["learner"])
    print(md)
    if not args.quick:
        payload = {"args": vars(args), "grid": GRID, "best_params": search.best_params_,
                   "portfolio": search.portfolio_,
                   "rows": [{k: v for k, v in r.items() if k not in ("learner", "scores")}
                            | {"scores": r["scores"].tolist()} for r in rows]}
        H.write_results("hyperparam_search", payload, md, info=info, title="Hyperparameters "
                        "across tasks: MetaHyperparamSearch against per-task tuning")


if __name__ == "__main__":
    main()
