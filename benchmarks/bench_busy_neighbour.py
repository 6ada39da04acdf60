"""Meta-training beside a busy process: torch's default threads against skmeta's policy.

On a machine with few cores, one other busy process makes small-network
meta-training many times slower with several intra-op threads: every
parallel kernel waits at its barrier for a sibling thread the scheduler has
put aside. ``skmeta._torch._threads`` runs small workloads with one
intra-op thread (see its docstring for the policy).

Side by side in one run, median time per meta-iteration (after a warm-up,
median over repeats), alone and with one busy process beside it (a Python
``while True`` loop in a ``multiprocessing.Process``):

* ``MAMLRegressor(max_iter=N, compile=False)`` on sinusoid tasks (default
  2x40 MLP, meta-batch 25, 10+10 rows): torch's default thread count
  (today's behaviour) against the policy (``intra_op_threads(threads_for(...))``
  around the fit, which picks 1 thread here);
* ``ProtoNetClassifier(module="conv4")`` on 5-way 5-shot 15-query episodes of
  random 28x28 images (``--no-conv`` skips it): 1 thread against the default
  count; the policy keeps the default count for this workload.

Goal for the MAML case: busy/alone <= 2.5 with the policy, and the policy's
time alone not worse than the default's.

Run ``python benchmarks/bench_busy_neighbour.py`` (about 1 to 2 minutes on 2
cores; ``--quick`` for a smoke run). Tables go to
``benchmarks/results/busy_neighbour.{json,md}``. Check ``cat /proc/loadavg``
first: other jobs disturb the "alone" figures (the load seen is recorded).
"""

import argparse
import contextlib
import multiprocessing as mp
import os
import time
from contextlib import contextmanager
from pathlib import Path

import _harness as H
import numpy as np
import torch

from skmeta import EpisodeSampler, MAMLRegressor, ProtoNetClassifier
from skmeta._torch import _threads
from skmeta._torch._threads import SERIAL_MACS, forward_macs, intra_op_threads, threads_for
from skmeta.datasets import SinusoidTasks


def _spin():
    while True:
        pass


@contextmanager
def busy_neighbour(on):
    """One busy process beside the benchmark while the block runs."""
    if not on:
        yield
        return
    methods = mp.get_all_start_methods()
    ctx = mp.get_context("fork" if "fork" in methods else "spawn")
    proc = ctx.Process(target=_spin, daemon=True)
    proc.start()
    time.sleep(0.5)  # let it reach the loop
    try:
        yield
    finally:
        proc.terminate()
        proc.join(5)


def loadavg():
    try:
        return [float(v) for v in Path("/proc/loadavg").read_text().split()[:3]]
    except OSError:
        return list(os.getloadavg()) if hasattr(os, "getloadavg") else None


def random_images(n_classes=100, per_class=20, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.rand(n_classes * per_class, 28, 28).astype(np.float32)
    return X, np.repeat(np.arange(n_classes), per_class)


def workloads(args):
    X, y = random_images()
    out = {
        "maml_sinusoid": dict(
            label="MAMLRegressor sinusoid, 2x40 MLP, meta-batch 25, K=10+10",
            make=lambda n: MAMLRegressor(max_iter=n, compile=False, random_state=0),
            data=lambda: SinusoidTasks(10, 10),
            inputs=lambda: (torch.zeros(25, 10, 1), torch.zeros(25, 10, 1)),
            iters=args.iters, warmup=args.warmup),
    }
    if args.conv:
        out["protonet_conv4"] = dict(
            label="ProtoNetClassifier conv4, 5-way 5-shot 15-query, 28x28",
            make=lambda n: ProtoNetClassifier(module="conv4", max_iter=n, compile=False,
                                              random_state=0),
            data=lambda: EpisodeSampler(X, y, n_way=5, k_shot=5, n_query=15),
            inputs=lambda: (torch.zeros(1, 25, 28, 28), torch.zeros(1, 75, 28, 28)),
            iters=args.conv_iters, warmup=args.conv_warmup)
    return out


def policy_threads(w):
    """The policy's count for a workload, from its network and meta-batch shapes."""
    module = w["make"](1).fit(w["data"]()).module_
    xs, xq = w["inputs"]()
    macs = forward_macs(module, xs[0]) * (xs.shape[:2].numel() + xq.shape[:2].numel())
    return threads_for(module, xs, xq, batch_dims=2), macs


@contextmanager
def policy_off():
    """skmeta's engine without its thread policy (the behaviour before it):
    with ``SERIAL_MACS = 0`` every workload keeps the caller's count."""
    old = _threads.SERIAL_MACS
    _threads.SERIAL_MACS = 0
    try:
        yield
    finally:
        _threads.SERIAL_MACS = old


def per_iteration(w, threads, policy=True):
    """Median seconds per meta-iteration after the warm-up, with ``threads``
    around the fit (the engine's policy may lower them, unless ``policy`` is off)."""
    est = w["make"](w["iters"])
    with intra_op_threads(threads), (contextlib.nullcontext() if policy else policy_off()):
        est.fit(w["data"]())
    dur = np.asarray(est.history_[:, "dur"], dtype=float)
    return float(np.median(dur[w["warmup"]:]))


def measure(w, settings, repeats):
    """``{(condition, setting): [median per run, ...]}``, settings interleaved."""
    res = {}
    for cond in ("alone", "busy"):
        with busy_neighbour(cond == "busy"):
            for _ in range(repeats):
                for name, threads in settings.items():
                    res.setdefault((cond, name), []).append(
                        per_iteration(w, threads, policy=not name.startswith("default")))
    return res


def summarise(res):
    rows = {}
    for (cond, name), runs in res.items():
        rows.setdefault(name, {})[cond] = {"median_ms": 1e3 * float(np.median(runs)),
                                           "runs_ms": [1e3 * r for r in runs]}
    for r in rows.values():
        r["busy_over_alone"] = r["busy"]["median_ms"] / r["alone"]["median_ms"]
    return rows


def markdown(meta, results):
    lines = [
        f"torch parallel backend: {meta['parallel_backend']}; default torch threads "
        f"{meta['default_threads']}.",
        f"Load average (1, 5, 15 min) at start {meta['load_start']}, at end "
        f"{meta['load_end']}; busy neighbour: one Python `while True` process.",
        "",
        f"Median ms per meta-iteration (median of {meta['repeats']} runs, warm-up excluded).",
        "",
        "| workload | threads | forward MACs / meta-batch | alone (ms) | busy (ms) "
        "| busy / alone |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for key, r in results.items():
        for name, s in r["settings"].items():
            lines.append(f"| {r['label']} | {name} | {r['forward_macs'] / 1e6:.1f} M | "
                         f"{s['alone']['median_ms']:.1f} | {s['busy']['median_ms']:.1f} | "
                         f"{s['busy_over_alone']:.2f} |")
    g = results["maml_sinusoid"].get("goal")
    if g:
        lines += [
            "",
            f"MAML sinusoid with the policy: busy/alone {g['policy_busy_over_alone']:.2f} "
            f"(goal <= 2.5: {'met' if g['busy_ratio_ok'] else 'NOT met'}); alone, policy / "
            f"default {g['policy_alone_over_default_alone']:.2f} (goal <= 1: "
            f"{'met' if g['alone_ok'] else 'NOT met'}); busy, default / policy "
            f"{g['default_busy_over_policy_busy']:.1f}x.",
        ]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iters", type=int, default=40, help="MAML meta-iterations per run")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--conv-iters", type=int, default=8)
    parser.add_argument("--conv-warmup", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-conv", dest="conv", action="store_false")
    parser.add_argument("--quick", action="store_true", help="a smoke run; writes nothing")
    args = parser.parse_args()
    if args.quick:
        args.iters, args.warmup, args.conv_iters, args.conv_warmup, args.repeats = 12, 4, 3, 1, 1

    default = torch.get_num_threads()
    info = H.machine()
    meta = {"parallel_backend": "OpenMP" if "OpenMP" in torch.__config__.parallel_info()
            else "native",
            "default_threads": default, "serial_macs": SERIAL_MACS,
            "load_start": loadavg(), "repeats": args.repeats}
    print(H.machine_line(info), flush=True)
    t_start = time.perf_counter()
    results = {}
    for key, w in workloads(args).items():
        n_policy, macs = policy_threads(w)
        settings = {f"default ({default})": default, f"policy ({n_policy})": n_policy}
        if key != "maml_sinusoid":  # the policy keeps the default here: show 1 thread too
            settings = {f"default = policy ({default})": default, "1 thread": 1}
        rows = summarise(measure(w, settings, args.repeats))
        r = {"label": w["label"], "forward_macs": macs, "policy_threads": n_policy,
             "settings": rows, "load_after": loadavg()}
        if key == "maml_sinusoid":
            d, p = rows[f"default ({default})"], rows[f"policy ({n_policy})"]
            g = {"policy_busy_over_alone": p["busy_over_alone"],
                 "default_busy_over_alone": d["busy_over_alone"],
                 "policy_alone_over_default_alone":
                     p["alone"]["median_ms"] / d["alone"]["median_ms"],
                 "default_busy_over_policy_busy":
                     d["busy"]["median_ms"] / p["busy"]["median_ms"]}
            g["busy_ratio_ok"] = g["policy_busy_over_alone"] <= 2.5
            # "not worse": within 5% (timing noise) of the default alone
            g["alone_ok"] = g["policy_alone_over_default_alone"] <= 1.05
            r["goal"] = g
        results[key] = r
        for name, s in rows.items():
            print(f"{w['label'][:40]:40s} {name:22s} alone {s['alone']['median_ms']:8.1f} ms"
                  f"  busy {s['busy']['median_ms']:8.1f} ms  busy/alone "
                  f"{s['busy_over_alone']:5.2f}  load {r['load_after'][0]}", flush=True)
    meta["load_end"] = loadavg()
    meta["wall_s"] = time.perf_counter() - t_start
    md = markdown(meta, results)
    print(md)
    if not args.quick:
        H.write_results("busy_neighbour", {"meta": meta, "results": results}, md, info=info,
                        title="Meta-training beside a busy process")


if __name__ == "__main__":
    main()
