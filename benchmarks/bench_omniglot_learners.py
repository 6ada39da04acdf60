"""Every classifier of skmeta on Omniglot, each with the same CPU time budget.

Each learner meta-trains with ``module="conv4"`` on 5-way 1-shot episodes
(15 queries per class) from the background alphabets for ``--seconds`` of
wall time (a callback stops it), then adapts to 600 test episodes of 5-way
1-shot from the evaluation alphabets. Reported: mean accuracy with a 95%
interval, meta-iterations run, training time. It shows that every learner
meta-trains, adapts and predicts on image episodes; equal budgets, not
tuned settings, so it is no ranking of the algorithms.

Run ``python benchmarks/bench_omniglot_learners.py`` (``--quick`` for a
smoke run). Tables go to ``benchmarks/results/omniglot_learners.md``.
"""

import argparse
import time

import _harness as H

from skmeta import (EpisodeSampler, FineTuneClassifier, MAMLClassifier, ProtoNetClassifier,
                    ReptileClassifier, SiameseClassifier)
from skmeta.datasets import load_omniglot
from skmeta.model_selection import evaluate_tasks


LEARNERS = {
    "ProtoNetClassifier": (ProtoNetClassifier, {}),
    "SiameseClassifier": (SiameseClassifier, {}),
    "MAMLClassifier (first order, 5 steps)": (
        MAMLClassifier, dict(first_order=True, inner_steps=5, meta_batch_size=4)),
    "ReptileClassifier": (ReptileClassifier, dict(meta_batch_size=4)),
    "FineTuneClassifier": (FineTuneClassifier, dict(meta_batch_size=4)),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--data-home", default=str(H.OMNIGLOT))
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--n-test", type=int, default=600)
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.n_test = 5, 50
    H.bench_threads()
    info = H.machine()
    Xb, yb = load_omniglot(args.data_home, split="background", return_X_y=True)
    Xe, ye = load_omniglot(args.data_home, split="evaluation", return_X_y=True)
    train = EpisodeSampler(Xb, yb, n_way=5, k_shot=1, n_query=15)
    test = EpisodeSampler(Xe, ye, n_way=5, k_shot=1, n_query=15).sample(args.n_test, 0)
    rows = []
    for name, (cls, params) in LEARNERS.items():
        est = cls(module="conv4", max_iter=10**6, eval_every=10, compile=False,
                  callbacks=[H.TimeBudget(args.seconds)], random_state=0, **params)
        t0 = time.perf_counter()
        est.fit(train)
        train_s = time.perf_counter() - t0
        res = evaluate_tasks(est, test)
        rows.append({"learner": name, "accuracy": res.mean, "ci95": res.ci,
                     "iterations": est.n_iter_, "train_s": train_s})
        print(f"{name:<40} {100 * res.mean:6.2f}% +/- {100 * res.ci:.2f}%  "
              f"{est.n_iter_} it in {train_s:.0f} s")
    lines = [f"conv4, 5-way 1-shot 15-query training episodes (background alphabets, no "
             f"rotations), {args.seconds:.0f} s of training each, {args.n_test} test episodes "
             "(evaluation alphabets). Default settings except where named.", "",
             "| learner | accuracy (mean +/- 95% CI) | meta-iterations | training (s) |",
             "| --- | --- | ---: | ---: |"]
    for r in rows:
        lines.append(f"| {r['learner']} | {100 * r['accuracy']:.2f}% +/- {100 * r['ci95']:.2f}% "
                     f"| {r['iterations']} | {r['train_s']:.0f} |")
    md = "\n".join(lines) + "\n"
    print(md)
    if not args.quick:
        H.write_results("omniglot_learners", {"rows": rows}, md,
                        title="Every classifier on Omniglot 5-way 1-shot, equal CPU budgets",
                        info=info)


if __name__ == "__main__":
    main()
