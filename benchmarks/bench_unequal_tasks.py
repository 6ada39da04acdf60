"""Unequal task sizes: meta-training throughput against equal-size tasks.

Real grouped data gives tasks of many sizes. This benchmark builds a task
family of regression tasks with 8 features whose sizes vary from 4 to 33
rows (5 support rows, the rest query) and an equal-size family of the same
mean size, and times, side by side in one process and on the same
network (``MAMLRegressor`` defaults: 2x40 ReLU, one inner step,
meta-batches of 25):

* eager (``compile=False``) and compiled (``compile=True``) meta-iterations
  per second on both families; the ratio equal / unequal is the cost of the
  padding (goal: at most 1.5);
* the number of graphs torch.compile produced in a 300-iteration compiled fit on the
  unequal family (goal: a handful);
* with ``--before REV``, the same eager fit of the code at git revision
  ``REV`` (run in a subprocess on a temporary worktree), where each distinct
  task shape was its own vmap call.

Run ``python benchmarks/bench_unequal_tasks.py`` (about 3 minutes on 2 CPU
cores, alone on the machine). Results go to ``benchmarks/results/unequal_tasks.{json,md}``.
"""

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _harness as H
import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def make_tasks(n_tasks, sizes, n_support=5, n_features=8, seed=0):
    """Regression tasks: a random linear map plus a task-specific sinusoid."""
    rng = np.random.RandomState(seed)
    w_shared = rng.normal(size=n_features)
    tasks = []
    for n in sizes:
        X = rng.normal(size=(n, n_features))
        w = w_shared + 0.5 * rng.normal(size=n_features)
        y = X @ w + rng.uniform(0.5, 2) * np.sin(X[:, 0] + rng.uniform(0, np.pi))
        tasks.append((X[:n_support], y[:n_support], X[n_support:], y[n_support:]))
    return tasks[:n_tasks]


def families(n_tasks=400, seed=0):
    rng = np.random.RandomState(seed)
    sizes = rng.randint(4, 34, size=n_tasks)
    # a task needs one query row: the smallest tasks have 4 rows, 5-shot support
    # becomes 3 support + 1 query for them
    unequal = []
    for t, n in zip(make_tasks(n_tasks, np.maximum(sizes, 6), seed=seed), sizes):
        k = min(5, n - 1)
        X = np.vstack([t[0], t[2]])[:n]
        y = np.concatenate([t[1], t[3]])[:n]
        unequal.append((X[:k], y[:k], X[k:], y[k:]))
    mean = int(round(sizes.mean()))
    equal = make_tasks(n_tasks, [mean] * n_tasks, seed=seed + 1)
    return unequal, equal, sizes


def time_fit(tasks, n_iter, compile, warmup=20):
    """Median seconds per meta-iteration after ``warmup`` iterations, and
    the first call's seconds (compile time when compiling)."""
    from skmeta import MAMLRegressor

    est = MAMLRegressor(max_iter=warmup, compile=compile, random_state=0)
    t0 = time.perf_counter()
    est.fit(tasks)
    first = time.perf_counter() - t0
    est.set_params(max_iter=n_iter)
    est.partial_fit(tasks)
    durs = [row["dur"] for row in est.history_[warmup:]]
    return float(np.median(durs)), first


def count_graphs(tasks, n_iter):
    from torch._dynamo.utils import counters

    from skmeta import MAMLRegressor

    counters.clear()
    MAMLRegressor(max_iter=n_iter, compile=True, random_state=0).fit(tasks)
    return int(counters["stats"]["unique_graphs"])


def before(rev, n_iter):
    """Seconds per meta-iteration of the code at ``rev`` on the unequal family."""
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", tmp, rev],
                       check=True, capture_output=True)
        try:
            code = (f"import sys; sys.path.insert(0, {tmp!r}); "
                    f"sys.path.insert(1, {str(Path(__file__).parent)!r}); "
                    "import bench_unequal_tasks as b; u, _, _ = b.families(); "
                    f"print(b.time_fit(u, {n_iter}, False)[0])")
            out = subprocess.run([sys.executable, "-c", code], check=True,
                                 capture_output=True, text=True, cwd=tmp)
            return float(out.stdout.strip().splitlines()[-1])
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", tmp],
                           capture_output=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iters", type=int, default=200)
    parser.add_argument("--before", default=None, help="git revision to compare with")
    args = parser.parse_args()
    unequal, equal, sizes = families()
    info = H.machine()
    res = {"task_sizes": {"min": int(sizes.min()), "max": int(sizes.max()),
                                           "mean": float(sizes.mean())}, "iters": args.iters}
    # first, while nothing is compiled in this process yet
    res["compiled_graphs_unequal"] = count_graphs(unequal, 300)
    print("graphs compiled in a 300-iteration fit on unequal tasks:",
          res["compiled_graphs_unequal"], flush=True)
    for compile in (False, True):
        tag = "compiled" if compile else "eager"
        eq, eq_first = time_fit(equal, args.iters, compile)
        un, un_first = time_fit(unequal, args.iters, compile)
        res[tag] = {"equal_s_per_iter": eq, "unequal_s_per_iter": un,
                    "ratio_unequal_over_equal": un / eq,
                    "first_fit_s_equal": eq_first, "first_fit_s_unequal": un_first}
        print(f"{tag}: equal {1 / eq:.1f} it/s, unequal {1 / un:.1f} it/s, "
              f"ratio {un / eq:.2f}; first {args.iters and 20} its {eq_first:.1f} s / "
              f"{un_first:.1f} s", flush=True)
    if args.before:
        b = before(args.before, max(20, args.iters // 4))
        res["before"] = {"rev": args.before, "unequal_s_per_iter_eager": b,
                         "speedup_now_eager": b / res["eager"]["unequal_s_per_iter"]}
        print(f"before ({args.before}): unequal {1 / b:.2f} it/s eager; now "
              f"{b / res['eager']['unequal_s_per_iter']:.1f}x faster", flush=True)
    lines = [
        f"Task sizes {sizes.min()} to "
        f"{sizes.max()} rows (mean {sizes.mean():.1f}); the equal family has "
        f"{int(round(sizes.mean()))} rows per task. Median of {args.iters} iterations "
        "after 20 warm-up ones.",
        "",
        "| mode | equal sizes (it/s) | unequal sizes (it/s) | unequal / equal time |",
        "| --- | --- | --- | --- |",
    ]
    for tag in ("eager", "compiled"):
        r = res[tag]
        lines.append(f"| {tag} | {1 / r['equal_s_per_iter']:.1f} | "
                     f"{1 / r['unequal_s_per_iter']:.1f} | {r['ratio_unequal_over_equal']:.2f} |")
    lines += ["", f"Graphs compiled in a 300-iteration compiled fit on the unequal tasks: "
              f"{res['compiled_graphs_unequal']}."]
    if args.before:
        lines += ["", f"Before (`{args.before}`, one vmap call per distinct task shape): "
                  f"{1 / res['before']['unequal_s_per_iter_eager']:.2f} it/s eager on the "
                  f"unequal tasks; now {res['before']['speedup_now_eager']:.1f}x faster."]
    H.write_results("unequal_tasks", res, "\n".join(lines), info=info,
                    title="Unequal task sizes (MAMLRegressor defaults, 8 features, meta-batch 25)")


if __name__ == "__main__":
    main()
