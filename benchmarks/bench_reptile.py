"""Reptile meta-training speed: batched (vmap) against a per-task loop.

Side by side in one process on the same sinusoid task stream (2x40 ReLU,
K=10 support + 10 query, meta-batch 25, 5 inner SGD steps at 0.01 on each
task's 20 rows, outer SGD step 0.1 toward the mean of the task weights):

* ``per-task loop``: plain PyTorch, a Python loop over the tasks of a
  meta-batch, each trained with ``torch.autograd.grad`` steps on a copy of
  the weights, as Reptile code is usually written;
* ``skmeta eager``: ``ReptileRegressor(compile=False)`` (vmap over tasks);
* ``skmeta compiled``: ``ReptileRegressor(compile=True)``; its one-off
  compile time shows as the first iteration.

It also reports the few-shot quality the timed configuration reaches after
``--max-iter`` meta-iterations (query MSE on 600 new tasks, K=10, 5 steps).

Run ``python benchmarks/bench_reptile.py`` (``--quick`` for a smoke run).
Tables go to ``benchmarks/results/reptile.md`` and ``.json``.
"""

import argparse
import time

import _harness as H
import numpy as np
import torch
from torch import nn
from torch.func import functional_call

from skmeta import ReptileRegressor
from skmeta.datasets import SinusoidTasks, make_sinusoid_tasks

BATCH, STEPS, INNER_LR, OUTER_LR = 25, 5, 0.01, 0.1


def per_task_loop(n_iter, seed=0):
    """Plain PyTorch Reptile: a Python loop over the tasks of each meta-batch."""
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(1, 40), nn.ReLU(), nn.Linear(40, 40), nn.ReLU(),
                        nn.Linear(40, 1))
    params = dict(net.named_parameters())
    opt = torch.optim.SGD(net.parameters(), lr=OUTER_LR)
    sampler, rng = SinusoidTasks(10, 10), np.random.RandomState(seed)
    durations = []
    for _ in range(n_iter):
        t0 = time.perf_counter()
        Xs, ys, Xq, yq = (torch.as_tensor(a, dtype=torch.float32)
                          for a in sampler.sample_batch(BATCH, rng))
        x, y = torch.cat([Xs, Xq], 1), torch.cat([ys, yq], 1)
        total = {k: torch.zeros_like(p) for k, p in params.items()}
        for i in range(BATCH):
            fast = {k: p.detach().clone().requires_grad_(True) for k, p in params.items()}
            for _ in range(STEPS):
                loss = ((functional_call(net, fast, (x[i],))[:, 0] - y[i]) ** 2).mean()
                grads = torch.autograd.grad(loss, list(fast.values()))
                fast = {k: (p - INNER_LR * g).detach().requires_grad_(True)
                        for (k, p), g in zip(fast.items(), grads)}
            for k in total:
                total[k] += params[k].detach() - fast[k].detach()
        for k, p in params.items():
            p.grad = total[k] / BATCH
        opt.step()
        durations.append(time.perf_counter() - t0)
    return np.array(durations)


def make_est(n_iter, compile):
    return ReptileRegressor(max_iter=n_iter, meta_batch_size=BATCH, inner_steps=STEPS,
                            inner_lr=INNER_LR, outer_lr=OUTER_LR, compile=compile,
                            random_state=0)


def skmeta_run(n_iter, compile):
    est = make_est(n_iter, compile)
    t0 = time.perf_counter()
    est.fit(SinusoidTasks(10, 10))
    return np.array(est.history_[:, "dur"]), time.perf_counter() - t0


def speed(n_iter):
    rows = {"per-task loop (PyTorch)": None}
    d = per_task_loop(n_iter)
    rows["per-task loop (PyTorch)"] = (d, d.sum())
    rows["skmeta eager (vmap)"] = skmeta_run(n_iter, compile=False)
    rows["skmeta compiled (vmap + compile)"] = skmeta_run(3 * n_iter, compile=True)
    base = np.median(rows["per-task loop (PyTorch)"][0])
    out = []
    for name, (dur, total) in rows.items():
        steady = 1.0 / np.median(dur[len(dur) // 5:])
        out.append({"method": name, "iters": len(dur), "steady_it_per_s": steady,
                    "ratio_vs_loop": base * steady, "first_iter_s": dur[0], "wall_s": total})
    return out


def quality(max_iter, n_test):
    est = make_est(max_iter, "auto")
    t0 = time.perf_counter()
    est.fit(SinusoidTasks(10, 10))
    train_s = time.perf_counter() - t0
    tasks = make_sinusoid_tasks(n_test, n_support=10, n_query=100, random_state=1010)
    res = H.evaluate(est, tasks, scoring="neg_mean_squared_error")
    return {"max_iter": max_iter, "train_s": train_s, "mse": -res["mean"], "ci95": res["ci"],
            "n_tasks": n_test}


def markdown(rows, qual):
    lines = [
        f"Meta-batch {BATCH}, {STEPS} inner SGD steps at {INNER_LR} on 20 rows per task, "
        f"2x40 ReLU, outer SGD {OUTER_LR}.",
        "",
        "| method | iterations | steady it/s | x per-task loop | first iteration (s) | wall (s) |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(f"| {r['method']} | {r['iters']} | {r['steady_it_per_s']:.0f} | "
                     f"{r['ratio_vs_loop']:.1f} | {r['first_iter_s']:.2f} | {r['wall_s']:.1f} |")
    if qual:
        lines += ["", f"Quality of this configuration after {qual['max_iter']} meta-iterations "
                  f"({qual['train_s']:.0f} s): query MSE {qual['mse']:.3f} +/- "
                  f"{qual['ci95']:.3f} (95% CI) on {qual['n_tasks']} new tasks, K=10, "
                  f"{STEPS} adaptation steps."]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run in seconds")
    parser.add_argument("--speed-iters", type=int, default=100)
    parser.add_argument("--max-iter", type=int, default=20000)
    parser.add_argument("--n-test", type=int, default=600)
    args = parser.parse_args()
    if args.quick:
        args.speed_iters, args.max_iter, args.n_test = 10, 100, 50
    H.bench_threads()
    info = H.machine()
    rows = speed(args.speed_iters)
    for r in rows:
        print(f"{r['method']:<36} {r['steady_it_per_s']:8.1f} it/s  x{r['ratio_vs_loop']:.1f}")
    qual = quality(args.max_iter, args.n_test)
    md = markdown(rows, qual)
    print(md)
    if not args.quick:
        H.write_results("reptile", {"speed": rows, "quality": qual}, md,
                        title="Reptile on sinusoids: batched against a per-task loop", info=info)


if __name__ == "__main__":
    main()
