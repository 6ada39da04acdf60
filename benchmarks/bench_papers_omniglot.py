"""Study 1, Omniglot: every classifier against the papers' tables, on a CPU budget.

Data: 28x28 Omniglot, rotations by 90/180/270 degrees as extra classes (as
the papers); meta-training on the background alphabets, testing on the
evaluation alphabets. Batch-norm statistics are the support set's only
(skmeta never normalises with the query batch; the papers' code used the
query batch's, which is transductive).

Each learner meta-trains under a wall-time budget (``--minutes``), with its
paper's settings where the paper gives them and skmeta's defaults
elsewhere (the table below names them). During training, every
``budget / --checkpoints`` seconds, a checkpoint scores 100 fixed test
episodes of 5-way 1-shot and 20-way 1-shot (not counted in the training
time): the learning curve against wall time and meta-iterations. At the
end, 600 test episodes of each protocol (5-way and 20-way, 1-shot and
5-shot; 15 queries per class for 5-way, 5 for 20-way), mean accuracy with
its 95% interval through :func:`skmeta.model_selection.evaluate_tasks`.

One model per learner serves all four protocols (the papers train one per
protocol); paper-length runs (MAML: 60,000 meta-iterations of 32 tasks) do
not fit on 2 CPU cores, so the table says how far from the paper each
learner ends and the curve shows the rate at which it closes.

Run ``python benchmarks/bench_papers_omniglot.py`` (about ``--minutes`` x 7
minutes; ``--quick`` is a smoke run). Reads ``omniglot28.npz`` from
``--data-home`` (default ../shared/datasets/omniglot). Results:
``benchmarks/results/papers_omniglot.{json,md,png}``. Learners run in
separate invocations (``--learners X --results-dir DIR``) are combined
into one page, with each run's machine line, by ``--merge A.json B.json``
(no training; the files must share their settings).
"""

import argparse
import json
import time

import _harness as H
import numpy as np

from skmeta import (EpisodeSampler, FineTuneClassifier, MAMLClassifier, ProtoNetClassifier,
                    ReptileClassifier, SiameseClassifier)
from skmeta.datasets import load_omniglot

PROTOCOLS = ((5, 1), (5, 5), (20, 1), (20, 5))
#: accuracy in % for 5-way 1-shot, 5-way 5-shot, 20-way 1-shot, 20-way 5-shot
PAPER = {
    "ProtoNet": (98.8, 99.7, 96.0, 98.9),
    "MAML": (98.7, 99.9, 95.8, 98.9),
    "first-order MAML": (98.3, 99.2, 89.4, 97.9),
    "Reptile": (95.4, 98.9, 88.1, 96.7),
    "Siamese": (None, None, 92.0, None),
    "fine-tune": (None, None, None, None),
}
_MAML = dict(inner_lr=0.4, inner_steps=1, adapt_steps=3, meta_batch_size=32)
#: (estimator, training episodes (n_way, k_shot, n_query), what the settings are)
LEARNERS = {
    "ProtoNet": (lambda: ProtoNetClassifier(), (60, 5, 5),
                 "defaults; 60-way 5-shot 5-query episodes (paper's 5-shot training)"),
    "MAML": (lambda: MAMLClassifier(**_MAML), (5, 1, 1),
             "paper's 5-way settings: inner SGD 0.4, 1 step (3 at test), meta-batch 32; "
             "skmeta's Proto-MAML head (the default)"),
    "first-order MAML": (lambda: MAMLClassifier(first_order=True, **_MAML), (5, 1, 1),
                         "as MAML, first order"),
    "Siamese": (lambda: SiameseClassifier(), (5, 1, 15), "defaults"),
    "fine-tune": (lambda: FineTuneClassifier(meta_batch_size=4), (5, 1, 15),
                  "defaults, pooled training on the background classes, meta-batch 4"),
    "Reptile": (lambda: ReptileClassifier(inner_optimizer="adam", inner_lr=0.001, inner_steps=5,
                                          outer_lr=1.0, meta_batch_size=5), (5, 1, 15),
                "paper's: inner Adam 0.001 (betas 0, 0.999), 5 steps (5 at test, the paper's "
                "50 do not fit), outer step 1.0, meta-batch 5"),
}


def episodes(X, y, n_way, k_shot, n, seed):
    n_query = 15 if n_way == 5 else 5
    return EpisodeSampler(X, y, n_way=n_way, k_shot=k_shot, n_query=n_query).sample(n, seed)


def run(name, data, args):
    make, (way, shot, query), _ = LEARNERS[name]
    Xb, yb, Xe, ye = data
    train = EpisodeSampler(Xb, yb, n_way=way, k_shot=shot, n_query=query)
    checks = {p: episodes(Xe, ye, *p, args.n_check, seed=1) for p in ((5, 1), (20, 1))}
    est = make().set_params(module="conv4", max_iter=10**7, eval_every=10, compile=False,
                            device=args.device,
                            early_stopping=False, random_state=0,
                            callbacks=[H.TimeBudget(60 * args.minutes / args.checkpoints)])
    curve, train_s = [], 0.0
    for _ in range(args.checkpoints):
        t0 = time.perf_counter()
        est.partial_fit(train)
        train_s += time.perf_counter() - t0
        point = {"train_s": train_s, "iterations": int(est.n_iter_)}
        for (w, s), tasks in checks.items():
            point[f"{w}-way {s}-shot"] = H.evaluate(est, tasks)["mean"]
        curve.append(point)
        print(f"  {name:<17} {train_s:6.0f} s {est.n_iter_:6d} it  " + "  ".join(
            f"{k} {100 * v:.1f}%" for k, v in point.items() if "way" in k), flush=True)
    rows = []
    for j, (w, s) in enumerate(PROTOCOLS):
        res = H.evaluate(est, episodes(Xe, ye, w, s, args.n_test, seed=2))
        paper = PAPER[name][j]
        rows.append({"learner": name, "protocol": f"{w}-way {s}-shot", "accuracy": res["mean"],
                     "ci": res["ci"], "paper": paper,
                     "gap": None if paper is None else 100 * res["mean"] - paper,
                     "iterations": int(est.n_iter_), "train_s": train_s,
                     "n_tasks": res["n_tasks"]})
    return rows, curve


def markdown(rows, curves, args, runs):
    lines = [
        f"Omniglot 28x28 with rotations; training on the background alphabets for "
        f"{args.minutes:g} minutes of wall time per learner, testing on {args.n_test} episodes "
        "per protocol from the evaluation alphabets (15 queries per class for 5-way, 5 for "
        "20-way); batch norm with the support set's statistics only (the papers: the query "
        "batch's). Accuracy in %, mean ± 95% interval (`evaluate_tasks`); `gap`: "
        "ours minus the paper's.",
        "",
        "| learner | settings | training episodes |",
        "| --- | --- | --- |",
    ]
    for name in curves:
        _, (w, s, q), what = LEARNERS[name]
        lines.append(f"| {name} | {what} | {w}-way {s}-shot {q}-query |")
    if len(runs) > 1:
        lines += ["", f"Merged from {len(runs)} runs of this script (`--merge`); the line at "
                  "the top is the last run's. Each run's learners and machine:", ""]
        lines += [f"- {', '.join(r['learners'])}: {H.machine_line(r['machine'])}" for r in runs]
    lines += ["", H.markdown_table([dict(r, acc=f"{100 * r['accuracy']:.1f} ± {100 * r['ci']:.1f}")
                                    for r in rows], [
        ("learner", "learner", ""), ("protocol", "protocol", ""), ("accuracy", "acc", ""),
        ("paper", "paper", ".1f"), ("gap", "gap", "+.1f"),
        ("meta-iterations", "iterations", "d"), ("training (s)", "train_s", ".0f")])]
    lines += ["", f"## Learning curves ({args.n_check} fixed test episodes per point, not "
              "counted in the training time)", ""]
    table = []
    for name, curve in curves.items():
        for p in curve:
            table.append({"learner": name, **p})
    lines.append(H.markdown_table(table, [
        ("learner", "learner", ""), ("training (s)", "train_s", ".0f"),
        ("meta-iterations", "iterations", "d"),
        ("5-way 1-shot", "5-way 1-shot", lambda v: f"{100 * v:.1f}"),
        ("20-way 1-shot", "20-way 1-shot", lambda v: f"{100 * v:.1f}")]))
    return "\n".join(lines) + "\n"


def figure(curves, n_check):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
    for ax, key in zip(axes, ("5-way 1-shot", "20-way 1-shot")):
        j = [f"{w}-way {s}-shot" for w, s in PROTOCOLS].index(key)
        for i, (name, curve) in enumerate(curves.items()):
            color = f"C{i}"
            ax.plot([p["train_s"] / 60 for p in curve], [100 * p[key] for p in curve], "o-",
                    ms=3, color=color, label=name)
            if PAPER[name][j] is not None:
                ax.axhline(PAPER[name][j], color=color, ls=":", lw=1)
        ax.set_title(f"{key} (dotted: the paper's)")
        ax.set_xlabel("meta-training wall time (min)")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(f"test accuracy (%), {n_check} episodes")
    # beside the panels, where it hides no point
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    return fig


def write(rows, curves, settings, runs, info, results_dir):
    """The study's JSON, Markdown page and figure."""
    H.write_results("papers_omniglot", {"rows": rows, "curves": curves,
                                        "settings": vars(settings), "runs": runs},
                    markdown(rows, curves, settings, runs),
                    title="Study 1: Omniglot against the papers", info=info,
                    figure=figure(curves, settings.n_check), results_dir=results_dir)


def merge(paths):
    """Rows, curves and runs of earlier results files, in :data:`LEARNERS`
    order; a learner in a later file replaces the same learner in an earlier
    one. The files must have the same settings (but ``learners``)."""
    rows, curves, runs, settings = {}, {}, [], None
    for path in paths:
        doc = json.loads(open(path).read())
        data = doc["data"]
        these = {"device": "cpu"} | {k: v for k, v in data["settings"].items()
                                     if k not in ("learners", "results_dir", "merge", "data_home")}
        if settings is not None and these != settings:
            raise ValueError(f"{path}: settings {these} differ from the first file's {settings}")
        settings = these
        for name in data["curves"]:
            curves[name] = data["curves"][name]
            rows[name] = [r for r in data["rows"] if r["learner"] == name]
        runs += data.get("runs") or [{"learners": list(data["curves"]),
                                      "machine": doc["machine"]}]
    order = [n for n in LEARNERS if n in curves]
    return ([r for n in order for r in rows[n]], {n: curves[n] for n in order}, runs,
            argparse.Namespace(**settings))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run")
    parser.add_argument("--minutes", type=float, default=6.0,
                        help="meta-training wall time per learner")
    parser.add_argument("--checkpoints", type=int, default=8)
    parser.add_argument("--n-test", type=int, default=600)
    parser.add_argument("--n-check", type=int, default=100)
    parser.add_argument("--learners", nargs="*", default=list(LEARNERS), choices=list(LEARNERS))
    parser.add_argument("--data-home", default=str(H.OMNIGLOT))
    parser.add_argument("--results-dir", default=None)
    parser.add_argument("--device", default="cpu", help='"cpu", "cuda", "cuda:N" or "auto"')
    parser.add_argument("--merge", nargs="+", metavar="JSON",
                        help="combine earlier results files into one (no training)")
    args = parser.parse_args()
    if args.merge:
        rows, curves, runs, settings = merge(args.merge)
        write(rows, curves, settings, runs, runs[-1]["machine"], args.results_dir)
        return
    if args.quick:
        args.minutes, args.checkpoints, args.n_test, args.n_check = 0.1, 2, 20, 10
    H.bench_threads()
    info = H.machine(None if args.device == "auto" else args.device)
    print(H.machine_line(info), flush=True)
    Xb, yb = load_omniglot(args.data_home, split="background", rotations=True, return_X_y=True)
    Xe, ye = load_omniglot(args.data_home, split="evaluation", rotations=True, return_X_y=True)
    data = (np.asarray(Xb, np.float32), yb, np.asarray(Xe, np.float32), ye)
    rows, curves = [], {}
    for name in args.learners:
        new, curves[name] = run(name, data, args)
        for r in new:
            print(f"{name:<17} {r['protocol']}: {100 * r['accuracy']:.1f} ± {100 * r['ci']:.1f} "
                  f"(paper {r['paper']})", flush=True)
        rows += new
        # written after every learner: a run cut short keeps what it measured
        runs = [{"learners": list(curves), "machine": dict(info, load_at_end=H.loadavg())}]
        if not args.quick or args.results_dir:
            write(rows, curves, args, runs, info, args.results_dir)
    print(markdown(rows, curves, args, runs))


if __name__ == "__main__":
    main()
