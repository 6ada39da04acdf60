"""Study 4, scaling: MAML throughput against meta-batch size, inner steps and width.

Second-order MAML on the sinusoid family (K=10 support and 10 query rows,
inner SGD at 0.01, Adam 1e-3), tasks per second of meta-training, for:

* ``plain loop``: plain PyTorch, a Python loop over the tasks of a
  meta-batch (``torch.autograd.grad(create_graph=True)``), on the run's
  intra-op threads;
* ``skmeta eager``: ``MAMLRegressor(compile=False)`` (vmap over tasks, the
  engine's thread policy);
* ``skmeta compiled``: ``MAMLRegressor(compile=True)`` (vmap and
  ``torch.compile``; dynamo is reset between configurations so that every
  shape is compiled static, and compile time is left out with the warm-up).

Three sweeps, the others held at meta-batch 25, 1 inner step, 2x40 ReLU:
meta-batch 1 to 256, inner steps 1 to 10, and hidden width 40 to 1280.
skmeta's figures come from the estimator's own ``history_`` (each
meta-iteration's wall time, task sampling included, as a user gets it); the
loop samples its tasks from the same sampler inside its timed iteration.

Run ``python benchmarks/bench_scaling.py`` alone on the machine (about 10
minutes on 2 CPU cores; ``--quick`` is a smoke run). Results:
``benchmarks/results/scaling.{json,md,png}``.
"""

import argparse
import time

import _harness as H
import numpy as np
import torch
from torch import nn
from torch.func import functional_call

from skmeta import MAMLRegressor
from skmeta.callbacks import Callback
from skmeta.datasets import SinusoidTasks

BATCHES = (1, 2, 4, 8, 16, 32, 64, 128, 256)
STEPS = (1, 2, 5, 10)
WIDTHS = (40, 80, 160, 320, 640, 1280)
BASE = {"batch": 25, "steps": 1, "width": 40}


def loop_durations(batch, steps, width, n_iter, seed=0, inner_lr=0.01):
    """Plain PyTorch second-order MAML, a Python loop over the tasks:
    seconds per meta-iteration, sampling included."""
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(1, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(),
                        nn.Linear(width, 1))
    names, params = zip(*net.named_parameters())
    opt = torch.optim.Adam(params, lr=1e-3)
    sampler, rng = SinusoidTasks(10, 10), np.random.RandomState(seed)
    durations = []
    for _ in range(n_iter):
        t0 = time.perf_counter()
        Xs, ys, Xq, yq = (torch.as_tensor(np.asarray(a, np.float32))
                          for a in sampler.sample_batch(batch, rng))
        opt.zero_grad()
        total = 0.0
        for i in range(batch):
            fast = list(params)
            for _ in range(steps):
                out = functional_call(net, dict(zip(names, fast)), (Xs[i],))
                loss = ((out[:, 0] - ys[i]) ** 2).mean()
                grads = torch.autograd.grad(loss, fast, create_graph=True)
                fast = [p - inner_lr * g for p, g in zip(fast, grads)]
            out = functional_call(net, dict(zip(names, fast)), (Xq[i],))
            total = total + ((out[:, 0] - yq[i]) ** 2).mean()
        (total / batch).backward()
        opt.step()
        durations.append(time.perf_counter() - t0)
    return durations


class Budget(Callback):
    """Stop after ``warmup`` meta-iterations plus ``seconds`` of timed ones
    (at least ``min_iter``): one fit, so one compilation, per configuration."""

    def __init__(self, warmup, seconds, min_iter):
        self.warmup, self.seconds, self.min_iter = warmup, seconds, min_iter

    def on_epoch_end(self, net, **kwargs):
        dur = net.history_[:, "dur"][self.warmup:]
        if len(dur) >= self.min_iter and sum(dur) > self.seconds:
            raise KeyboardInterrupt


def skmeta_durations(batch, steps, width, compile, args):
    torch._dynamo.reset()
    est = MAMLRegressor(hidden_layer_sizes=(width, width), inner_steps=steps,
                        meta_batch_size=batch, max_iter=args.warmup + args.max_iter,
                        compile=compile, early_stopping=False, eval_every=1, random_state=0,
                        callbacks=[Budget(args.warmup, args.budget, args.min_iter)])
    est.fit(SinusoidTasks(10, 10))
    return list(est.history_[:, "dur"])


def measure(config, args):
    """Tasks per second of each method at one configuration."""
    batch = config["batch"]
    out = {}
    # about args.budget seconds of timed iterations each, at least args.min_iter
    probe = loop_durations(**config, n_iter=2)
    n_loop = int(np.clip(args.budget / max(probe[-1], 1e-4), args.min_iter, args.max_iter))
    runs = {"plain loop": lambda: loop_durations(**config, n_iter=args.warmup + n_loop)}
    runs["skmeta eager"] = lambda: skmeta_durations(**config, compile=False, args=args)
    if args.compile:
        runs["skmeta compiled"] = lambda: skmeta_durations(**config, compile=True, args=args)
    for name, fn in runs.items():
        t = H.timing(fn(), warmup=args.warmup)
        out[name] = {"ms": t.ms, "iqr_ms": 1e3 * t.iqr, "n": t.n,
                     "tasks_per_s": batch / t.median}
    base = out["plain loop"]["tasks_per_s"]
    for r in out.values():
        r["x_loop"] = r["tasks_per_s"] / base
    return out


def markdown(sweeps):
    lines = ["Second-order MAML, sinusoid K=10+10, tasks per second of meta-training "
             "(median over the timed meta-iterations; `x loop`: against the plain loop at "
             "the same configuration). Held: meta-batch 25, 1 inner step, 2x40 ReLU."]
    for key, rows in sweeps.items():
        lines += ["", f"## Against {key}", ""]
        methods = list(rows[0]["methods"])
        table = []
        for r in rows:
            row = {key: r[key]}
            for m in methods:
                row[m] = r["methods"][m]["tasks_per_s"]
                row[m + " x"] = r["methods"][m]["x_loop"]
            table.append(row)
        cols = [(key, key, "d")]
        for m in methods:
            cols.append((f"{m} (tasks/s)", m, ".0f"))
            if m != "plain loop":
                cols.append((f"{m} x loop", m + " x", ".1f"))
        lines.append(H.markdown_table(table, cols))
    return "\n".join(lines) + "\n"


def figure(sweeps):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(sweeps), figsize=(4 * len(sweeps), 3.6))
    for ax, (key, rows) in zip(np.atleast_1d(axes), sweeps.items()):
        x = [r[key] for r in rows]
        for m in rows[0]["methods"]:
            ax.plot(x, [r["methods"][m]["tasks_per_s"] for r in rows], "o-", ms=3, label=m)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel(key)
        ax.set_title(f"throughput against {key}")
        ax.grid(alpha=0.3, which="both")
    np.atleast_1d(axes)[0].set_ylabel("tasks per second")
    np.atleast_1d(axes)[0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run")
    parser.add_argument("--no-compile", dest="compile", action="store_false")
    parser.add_argument("--budget", type=float, default=2.0,
                        help="seconds of timed iterations per method and configuration")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--min-iter", type=int, default=8)
    parser.add_argument("--max-iter", type=int, default=400)
    parser.add_argument("--results-dir", default=None)
    args = parser.parse_args()
    grids = {"batch": BATCHES, "steps": STEPS, "width": WIDTHS}
    if args.quick:
        grids = {"batch": (1, 8), "steps": (1, 2), "width": (40, 80)}
        args.budget, args.min_iter, args.warmup = 0.2, 3, 2
    threads = H.bench_threads()
    info = H.machine()
    print(H.machine_line(info), flush=True)
    sweeps = {}
    for key, values in grids.items():
        sweeps[key] = []
        for v in values:
            config = dict(BASE, **{key: v})
            torch.set_num_threads(threads)
            methods = measure(config, args)
            sweeps[key].append({key: v, "config": config, "methods": methods})
            print(f"{key}={v:5d}: " + "  ".join(
                f"{m} {r['tasks_per_s']:8.0f} tasks/s (x{r['x_loop']:.1f})"
                for m, r in methods.items()), flush=True)
    md = markdown(sweeps)
    print(md)
    if not args.quick or args.results_dir:
        H.write_results("scaling", {"sweeps": sweeps, "settings": vars(args)}, md,
                        title="Study 4: scaling of MAML meta-training", info=info,
                        figure=figure(sweeps), results_dir=args.results_dir)


if __name__ == "__main__":
    main()
