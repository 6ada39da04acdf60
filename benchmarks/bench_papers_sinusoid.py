"""Study 1, sinusoid: the MAML paper's regression protocol against the papers' tables.

The protocol of Finn et al. (2017) and Li et al. (2017, Meta-SGD): amplitude
in [0.1, 5], phase in [0, pi], x in [-5, 5]; a 2x40 ReLU network; meta-batch
25; one model meta-trained per K with K support and K query rows a task;
70,000 meta-iterations. Each learner is then scored on the same 600 fresh
test tasks per K (K support rows, 100 query rows), query MSE after 1 and
after 10 adaptation steps, mean and 95% interval through
:func:`skmeta.model_selection.evaluate_tasks`.

Targets: the papers train on the raw targets with inner step 0.01, so the
study passes ``normalize_y=False`` to every learner by default
(``--targets raw``). ``--targets standardised`` keeps skmeta's default
``normalize_y=True``, under which the inner loss is the raw one divided by
the target variance (about 4.2 here), so the same ``inner_lr`` takes smaller
steps; its results go to ``papers_sinusoid_normalize_y.*``.

Learners (skmeta defaults, except the option that names them):
``MAMLRegressor()``, ``MAMLRegressor(first_order=True)``,
``MAMLRegressor(learn_inner_lr=True)`` (Meta-SGD),
``MAMLRegressor(adapt_layers="head")`` (ANIL), ``ReptileRegressor()`` and
``FineTuneRegressor()`` (pre-trained on the pooled tasks, then fine-tuned).
Early stopping is off, as in the papers.

Paper anchors, one step (Meta-SGD paper, Table 1): MAML 1.13 / 0.77 / 0.48,
Meta-SGD 0.90 / 0.53 / 0.31 for K = 5 / 10 / 20.

Run ``python benchmarks/bench_papers_sinusoid.py`` (about 40 minutes on 2
idle CPU cores; the MSE figures do not depend on the load, the wall times
do). ``--quick`` is a smoke run. Results: ``benchmarks/results/papers_sinusoid.*``.
"""

import argparse
import json
import time
from pathlib import Path

import _harness as H
import numpy as np

from skmeta import FineTuneRegressor, MAMLRegressor, ReptileRegressor
from skmeta.datasets import SinusoidTasks, make_sinusoid_tasks

LEARNERS = {
    "MAML": lambda: MAMLRegressor(),
    "first-order MAML": lambda: MAMLRegressor(first_order=True),
    "Meta-SGD": lambda: MAMLRegressor(learn_inner_lr=True),
    "ANIL": lambda: MAMLRegressor(adapt_layers="head"),
    "Reptile": lambda: ReptileRegressor(),
    "fine-tune": lambda: FineTuneRegressor(),
}
#: one adaptation step, K = 5, 10, 20 (Li et al. 2017, Table 1)
PAPER = {"MAML": (1.13, 0.77, 0.48), "Meta-SGD": (0.90, 0.53, 0.31)}
SHOTS = (5, 10, 20)
STEPS = (1, 10)


def run(name, k, max_iter, test_tasks, normalize_y, seed=0):
    est = LEARNERS[name]().set_params(max_iter=max_iter, early_stopping=False,
                                      normalize_y=normalize_y, random_state=seed)
    t0 = time.perf_counter()
    est.fit(SinusoidTasks(n_support=k, n_query=k))
    train_s = time.perf_counter() - t0
    rows = []
    for steps in STEPS:
        res = H.evaluate(est.set_params(adapt_steps=steps), test_tasks,
                         scoring="neg_mean_squared_error")
        mse = -np.asarray(res["scores"])
        paper = PAPER.get(name, (None,) * 3)[SHOTS.index(k)] if steps == 1 else None
        rows.append({"learner": name, "K": k, "steps": steps, "mse": -res["mean"],
                     "ci": res["ci"], "median": float(np.median(mse)), "paper": paper,
                     "at_or_below_paper": None if paper is None else bool(-res["mean"] <= paper),
                     "iterations": len(est.history_), "train_s": train_s,
                     "n_tasks": res["n_tasks"]})
    return rows


def verdicts(rows):
    """Each meta-learner against fine-tune at the same K and steps: clearly
    better when the two 95% intervals do not overlap."""
    ft = {(r["K"], r["steps"]): r for r in rows if r["learner"] == "fine-tune"}
    for r in rows:
        f = ft.get((r["K"], r["steps"]))
        if r["learner"] == "fine-tune" or f is None:
            continue
        r["vs_fine_tune"] = ("better" if r["mse"] + r["ci"] < f["mse"] - f["ci"] else
                             "worse" if r["mse"] - r["ci"] > f["mse"] + f["ci"] else "overlap")
    return rows


def markdown(rows, args):
    def mse(r):
        return f"{r['mse']:.3f} ± {r['ci']:.3f}"

    targets = ("raw targets (`normalize_y=False`, as in the papers)" if args.targets == "raw"
               else "standardised targets (skmeta's default `normalize_y=True`)")
    lines = [
        f"MAML sinusoid protocol on {targets}, {args.max_iter} meta-iterations, meta-batch 25, one "
        f"model per K; query MSE on {args.n_test} fresh test tasks per K (100 query rows), "
        "mean ± 95% interval (`evaluate_tasks`). Paper: Li et al. 2017 (Meta-SGD), "
        "Table 1, one step. `vs fine-tune`: `better` when the intervals do not overlap.",
        "",
    ]
    cols = [("learner", "learner", ""), ("K", "K", "d"), ("steps", "steps", "d"),
            ("query MSE", "mse_txt", ""), ("median", "median", ".3f"),
            ("paper", "paper", ".2f"), ("at or below paper", "paper_ok", ""),
            ("vs fine-tune", "vs_fine_tune", ""), ("training (s)", "train_s", ".0f")]
    table = [dict(r, mse_txt=mse(r), paper_ok={True: "yes", False: "no"}.get(
        r["at_or_below_paper"], "")) for r in sorted(rows, key=lambda r: (r["K"], r["steps"]))]
    lines.append(H.markdown_table(table, cols))
    return "\n".join(lines) + "\n"


def figure(rows):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import LogLocator, NullFormatter, ScalarFormatter

    fig, axes = plt.subplots(1, len(STEPS), figsize=(10, 4.4), sharey=True)
    names = list(LEARNERS)
    for ax, steps in zip(axes, STEPS):
        for j, name in enumerate(names):
            sel = sorted((r for r in rows if r["learner"] == name and r["steps"] == steps),
                         key=lambda r: r["K"])
            if not sel:
                continue
            x = np.array([SHOTS.index(r["K"]) for r in sel]) + (j - len(names) / 2) * 0.12
            ax.errorbar(x, [r["mse"] for r in sel], yerr=[r["ci"] for r in sel], fmt="o",
                        ms=4, capsize=2, label=name)
        if steps == 1:  # each paper's figure at its own learner's points
            for name, marker in (("MAML", "_"), ("Meta-SGD", "x")):
                x = np.arange(3) + (names.index(name) - len(names) / 2) * 0.12
                ax.plot(x, PAPER[name], marker, color="k", ms=10, label=f"{name}, paper")
        ax.set_xticks(np.arange(3), [f"K={k}" for k in SHOTS])
        ax.set_yscale("log")
        ax.set_title(f"after {steps} adaptation step{'s' * (steps > 1)}")
        ax.grid(alpha=0.3, which="both")
        ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 3.0, 5.0)))
        ax.yaxis.set_major_formatter(ScalarFormatter())
        ax.yaxis.set_minor_formatter(NullFormatter())
    axes[0].set_ylabel("query MSE (mean, 95% interval)")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", bbox_to_anchor=(0.5, 0.035), ncol=4,
               fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.16, 1, 1))
    return fig


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run in seconds")
    parser.add_argument("--max-iter", type=int, default=70000)
    parser.add_argument("--n-test", type=int, default=600)
    parser.add_argument("--learners", nargs="*", default=list(LEARNERS), choices=list(LEARNERS))
    parser.add_argument("--shots", nargs="*", type=int, default=list(SHOTS), choices=SHOTS)
    parser.add_argument("--targets", choices=("raw", "standardised"), default="raw",
                        help="raw: normalize_y=False, the papers' protocol (default)")
    parser.add_argument("--results-dir", default=None)
    parser.add_argument("--replot", metavar="JSON",
                        help="redraw the page and figure of an earlier results file (no training)")
    args = parser.parse_args()
    if args.replot:
        doc = json.loads(Path(args.replot).read_text())
        rows, settings = doc["data"]["rows"], argparse.Namespace(**doc["data"]["settings"])
        H.write_results(Path(args.replot).stem, doc["data"], markdown(rows, settings),
                        title=doc["title"], info=doc["machine"], figure=figure(rows),
                        results_dir=args.results_dir or Path(args.replot).parent)
        return
    if args.quick:
        args.max_iter, args.n_test = 50, 30
    H.bench_threads()
    info = H.machine()
    print(H.machine_line(info), flush=True)
    rows = []
    for k in args.shots:
        tests = make_sinusoid_tasks(args.n_test, n_support=k, n_query=100,
                                    random_state=1000 + k)
        for name in args.learners:
            new = run(name, k, args.max_iter, tests, normalize_y=args.targets != "raw")
            for r in new:
                print(f"K={k:2d} {name:<18} {r['steps']:2d} step(s): MSE {r['mse']:.3f} "
                      f"± {r['ci']:.3f} (paper {r['paper']}) trained {r['train_s']:.0f} s",
                      flush=True)
            rows += new
            # written after every learner: a run cut short keeps what it measured
            rows = verdicts(rows)
            md = markdown(rows, args)
            if not args.quick or args.results_dir:
                stem = "papers_sinusoid" + ("_normalize_y" if args.targets != "raw" else "")
                H.write_results(stem, {"rows": rows, "settings": vars(args)}, md,
                                title="Study 1: the sinusoid protocol against the papers",
                                info=info, figure=figure(rows), results_dir=args.results_dir)
    print(md)


if __name__ == "__main__":
    main()
