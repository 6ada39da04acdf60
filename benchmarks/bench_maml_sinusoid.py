"""MAML on the sinusoid protocol: meta-training speed and few-shot quality.

Speed: second-order MAML (2x40 ReLU, K=10 support and 10 query, one inner
step at 0.01, meta-batch 25, Adam 1e-3) meta-iterations per second,
side by side in one process on the same task stream:

* ``per-task loop``: plain PyTorch, one ``torch.autograd.grad(create_graph=True)``
  per task, as most MAML code is written;
* ``skmeta eager``: ``MAMLRegressor(compile=False)`` (vmap over the meta-batch);
* ``skmeta compiled``: ``MAMLRegressor(compile=True)`` (vmap + torch.compile);
  its one-off compile time is reported apart.

Quality: ``MAMLRegressor`` with its defaults and ``max_iter=70000`` (the MAML
paper's count) on fresh tasks, then 600 new test tasks at K=5 and K=10,
query MSE (100 query points) after 1 and 10 adaptation steps: mean with 95%
interval, median, and the count of diverged (non-finite) tasks.

Run ``python benchmarks/bench_maml_sinusoid.py`` (about 5 minutes on 2 CPU
cores; ``--quick`` for a smoke run). Tables go to ``benchmarks/results/``.
"""

import argparse
import time

import _harness as H
import numpy as np
import torch
from torch import nn
from torch.func import functional_call

from skmeta import MAMLRegressor
from skmeta.datasets import SinusoidTasks, make_sinusoid_tasks


def per_task_loop(n_iter, seed=0, inner_lr=0.01, batch=25):
    """Plain PyTorch second-order MAML: a Python loop over the tasks."""
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(1, 40), nn.ReLU(), nn.Linear(40, 40), nn.ReLU(),
                        nn.Linear(40, 1))
    params = dict(net.named_parameters())
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    sampler = SinusoidTasks(10, 10)
    rng = np.random.RandomState(seed)
    durations = []
    for _ in range(n_iter):
        t0 = time.perf_counter()
        Xs, ys, Xq, yq = (torch.as_tensor(a, dtype=torch.float32)
                          for a in sampler.sample_batch(batch, rng))
        opt.zero_grad()
        total = 0.0
        for i in range(batch):
            loss = ((net(Xs[i])[:, 0] - ys[i]) ** 2).mean()
            grads = torch.autograd.grad(loss, list(params.values()), create_graph=True)
            fast = {k: p - inner_lr * g for (k, p), g in zip(params.items(), grads)}
            total = total + ((functional_call(net, fast, (Xq[i],))[:, 0] - yq[i]) ** 2).mean()
        (total / batch).backward()
        opt.step()
        durations.append(time.perf_counter() - t0)
    return np.array(durations)


def skmeta_run(n_iter, compile):
    est = MAMLRegressor(max_iter=n_iter, compile=compile, random_state=0)
    t0 = time.perf_counter()
    est.fit(SinusoidTasks(10, 10))
    total = time.perf_counter() - t0
    return np.array(est.history_[:, "dur"]), total


def speed(n_iter):
    rows = {}
    d = per_task_loop(n_iter)
    rows["per-task loop (PyTorch)"] = (d, d.sum())
    rows["skmeta eager (vmap)"] = skmeta_run(n_iter, compile=False)
    # compiled: a longer run, so the steady state is measured after compiling
    rows["skmeta compiled (vmap + compile)"] = skmeta_run(3 * n_iter, compile=True)
    base = np.median(rows["per-task loop (PyTorch)"][0])
    out = []
    for name, (dur, total) in rows.items():
        steady = 1.0 / np.median(dur[len(dur) // 5:])
        first = dur[0]
        out.append({"method": name, "iters": len(dur), "steady_it_per_s": steady,
                    "ratio_vs_loop": base * steady, "first_iter_s": first,
                    "wall_s": total})
    return out


def quality(max_iter, n_test):
    est = MAMLRegressor(max_iter=max_iter, random_state=0)
    t0 = time.perf_counter()
    est.fit(SinusoidTasks(10, 10))
    train_s = time.perf_counter() - t0
    rows = []
    for k in (5, 10):
        tasks = make_sinusoid_tasks(n_test, n_support=k, n_query=100, random_state=1000 + k)
        for steps in (1, 10):
            ad = est.set_params(adapt_steps=steps)
            mse = np.array([np.mean((ad.adapt(t.X_support, t.y_support).predict(t.X_query)
                                     - t.y_query) ** 2) for t in tasks])
            ok = np.isfinite(mse)
            rows.append({"K": k, "steps": steps, "mean": mse[ok].mean(),
                         "ci95": H.interval(mse[ok])["ci"], "median": np.median(mse[ok]),
                         "diverged": int((~ok).sum()), "n_tasks": n_test})
    return {"max_iter": max_iter, "train_s": train_s, "rows": rows}


def markdown(speed_rows, qual):
    lines = [
        "## Meta-training speed (second order, meta-batch 25, K=10+10, 2x40 ReLU)",
        "",
        "| method | iterations | steady it/s | x per-task loop | first iteration (s) | wall (s) |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in speed_rows:
        lines.append(f"| {r['method']} | {r['iters']} | {r['steady_it_per_s']:.0f} | "
                     f"{r['ratio_vs_loop']:.1f} | {r['first_iter_s']:.2f} | {r['wall_s']:.1f} |")
    if qual:
        lines += [
            "",
            f"## Few-shot quality: MAMLRegressor defaults, max_iter={qual['max_iter']}, "
            f"meta-training {qual['train_s']:.0f} s",
            "",
            f"{qual['rows'][0]['n_tasks']} fresh test tasks, 100 query points each.",
            "",
            "| K | adaptation steps | query MSE (mean +/- 95% CI) | median | diverged |",
            "| ---: | ---: | --- | ---: | ---: |",
        ]
        for r in qual["rows"]:
            lines.append(f"| {r['K']} | {r['steps']} | {r['mean']:.3f} +/- {r['ci95']:.3f} | "
                         f"{r['median']:.3f} | {r['diverged']} |")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run in seconds")
    parser.add_argument("--speed-iters", type=int, default=300)
    parser.add_argument("--max-iter", type=int, default=70000)
    parser.add_argument("--n-test", type=int, default=600)
    parser.add_argument("--skip-quality", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.speed_iters, args.max_iter, args.n_test = 30, 200, 50
    H.bench_threads()
    info = H.machine()
    speed_rows = speed(args.speed_iters)
    for r in speed_rows:
        print(f"{r['method']:<36} {r['steady_it_per_s']:8.0f} it/s  x{r['ratio_vs_loop']:.1f}")
    qual = None if args.skip_quality else quality(args.max_iter, args.n_test)
    md = markdown(speed_rows, qual)
    print(md)
    if not args.quick:
        H.write_results("maml_sinusoid", {"speed": speed_rows, "quality": qual}, md,
                        title="MAML on sinusoids", info=info)


if __name__ == "__main__":
    main()
