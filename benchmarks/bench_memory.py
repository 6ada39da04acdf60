"""Peak memory of second-order MAML against the number of inner steps.

Second-order MAML differentiates through its inner loop, so by default it
keeps every inner step's intermediate values until the backward pass: its
memory grows linearly with ``inner_steps`` (the peers' most reported
complaint, learn2learn #393), and with the tasks of a meta-batch, which
skmeta runs together under ``vmap``. Two options of ``MAMLRegressor`` and
``MAMLClassifier`` bound it, for the same meta-gradient
(tests/algorithms/test_maml_memory.py): ``inner_checkpoint=k`` keeps the
weights only every ``k`` inner steps and recomputes the steps in between in
the backward pass; ``meta_batch_chunk=c`` differentiates the tasks ``c`` at
a time.

Measured here, at meta-batch 25 and 1, 5, 10 and 20 inner steps:

* sinusoid regression (the MAML paper's set-up: MLP 40-40, K = 10 support
  and 10 query points per task, inner step 0.01);
* 5-way 1-shot episodes of 28x28 images with conv4 (64 filters, batch norm
  with per-task statistics), one query image per class as in MAML's
  Omniglot training (``--n-query`` changes it), inner step 0.4. The images
  are synthetic: memory does not depend on pixel values.

The modes: skmeta with everything kept (the default), with
``inner_checkpoint=1``, with ``inner_checkpoint=1`` and ``meta_batch_chunk``
5 or 1; second-order MAML as usually written in plain PyTorch (a loop over
the tasks, each task's graph freed after its backward pass) and as
learn2learn's documentation writes it (``MAML(net, lr)``, ``clone`` and
``adapt``, the same loop; run with the peers' interpreter of
``benchmarks/peers``, ``--peers-python``, against a baseline process of that
interpreter; left out where it does not exist); and, as a
reference that is not the same gradient, skmeta's ``first_order=True``.

Each configuration runs in a fresh subprocess that meta-trains for
``--iterations`` meta-iterations (eager, no compilation). The figure is its
peak resident memory (``ru_maxrss``) minus that of a baseline subprocess
that only imports skmeta and builds the same task sampler and estimator,
and the same for anonymous memory (``RssAnon``, sampled every 2 ms), which
leaves out library code that a busy machine may evict. Every configuration
runs twice: with glibc's default malloc, and with
``MALLOC_MMAP_THRESHOLD_=65536`` (large blocks returned on free), which
separates what the computation holds from how the heap fragments. Memory
does not depend on the machine's load; no timing is reported.

Run ``python benchmarks/bench_memory.py`` (about two hours on 2 busy cores);
``--quick`` runs 1 and 5 steps only. Results go to
``benchmarks/results/memory.json`` and ``memory.md``.
"""

import argparse
import datetime
import json
import os
import platform
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
STEPS = (1, 5, 10, 20)
#: mode -> (implementation, MAML parameters)
MODES = {
    "skmeta, second order, everything kept (default)": ("skmeta", {}),
    "skmeta, second order, inner_checkpoint=1": ("skmeta", {"inner_checkpoint": 1}),
    "skmeta, second order, inner_checkpoint=1, meta_batch_chunk=5": (
        "skmeta", {"inner_checkpoint": 1, "meta_batch_chunk": 5}),
    "skmeta, second order, inner_checkpoint=1, meta_batch_chunk=1": (
        "skmeta", {"inner_checkpoint": 1, "meta_batch_chunk": 1}),
    "plain PyTorch loop, one task at a time, second order": ("loop", {}),
    "learn2learn MAML (clone/adapt), one task at a time, second order": ("learn2learn", {}),
    "skmeta, first order (reference; not the same gradient)": ("skmeta", {"first_order": True}),
}
PROBLEMS = ("sinusoid", "conv4")
#: malloc settings: glibc's defaults, and large blocks always returned on free
ALLOCATORS = {"default": {}, "mmap": {"MALLOC_MMAP_THRESHOLD_": "65536"}}
META_BATCH = 25
INNER_LR = {"sinusoid": 0.01, "conv4": 0.4}  # the MAML paper's


def _estimator(problem, steps, params, n_query, iterations):
    from skmeta import EpisodeSampler, MAMLClassifier, MAMLRegressor
    from skmeta.datasets import SinusoidTasks

    common = dict(max_iter=iterations, meta_batch_size=META_BATCH, inner_steps=steps,
                  inner_lr=INNER_LR[problem], compile=False, early_stopping=False,
                  random_state=0, **params)
    if problem == "sinusoid":
        return MAMLRegressor(**common), SinusoidTasks(n_support=10, n_query=10, random_state=0)
    import numpy as np

    rng = np.random.RandomState(0)
    n_classes, per_class = 50, 2
    X = rng.rand(n_classes * per_class, 28, 28).astype(np.float32)
    y = np.repeat(np.arange(n_classes), per_class)
    sampler = EpisodeSampler(X, y, n_way=5, k_shot=1, n_query=n_query)
    return MAMLClassifier(module="conv4", **common), sampler


def _network(problem):
    """The usual PyTorch network of each problem and its loss. conv4:
    ``BatchNorm2d`` with batch statistics, a linear 5-way output layer (the
    MAML paper's network)."""
    import torch.nn.functional as F
    from torch import nn

    if problem == "sinusoid":
        return nn.Sequential(nn.Linear(1, 40), nn.ReLU(), nn.Linear(40, 40), nn.ReLU(),
                             nn.Linear(40, 1)), F.mse_loss
    import _harness as H

    return H.maml_conv4_net(), F.cross_entropy


def _meta_batches(problem, sampler, iterations):
    """Per meta-iteration, the list of the tasks' ``(xs, ys, xq, yq)`` tensors."""
    import numpy as np
    import torch

    rng = np.random.RandomState(0)

    def tensors(x, y):
        x = torch.as_tensor(np.asarray(x, dtype=np.float32))
        if problem == "sinusoid":
            return x, torch.as_tensor(np.asarray(y, dtype=np.float32)).reshape(-1, 1)
        return x[:, None], torch.as_tensor(y)

    for _ in range(iterations):
        batch = []
        for t in sampler.sample(META_BATCH, random_state=rng):
            ys, yq = t.y_support, t.y_query
            if problem != "sinusoid":
                labels = np.unique(ys)
                ys, yq = np.searchsorted(labels, ys), np.searchsorted(labels, yq)
            batch.append(tensors(t.X_support, ys) + tensors(t.X_query, yq))
        yield batch


def plain_loop(problem, steps, sampler, iterations):
    """Second-order MAML as usually written in PyTorch: one task at a time,
    ``torch.autograd.grad(create_graph=True)`` through the inner steps, the
    query loss of each task back-propagated before the next (its graph freed),
    Adam on the accumulated gradient."""
    import torch
    from torch.func import functional_call

    net, loss_fn = _network(problem)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    for batch in _meta_batches(problem, sampler, iterations):
        opt.zero_grad()
        for xs, ys, xq, yq in batch:
            fast = dict(net.named_parameters())
            for _ in range(steps):
                loss = loss_fn(functional_call(net, fast, (xs,)), ys)
                grads = torch.autograd.grad(loss, list(fast.values()), create_graph=True)
                fast = {k: v - INNER_LR[problem] * g for (k, v), g in zip(fast.items(), grads)}
            (loss_fn(functional_call(net, fast, (xq,)), yq) / META_BATCH).backward()
        opt.step()


def _import_learn2learn():
    """learn2learn from the peers' environment (``benchmarks/peers``), through
    its import workarounds."""
    sys.path.insert(0, str(Path(__file__).resolve().parent / "peers"))
    from _compat import import_peers

    l2l = import_peers()[0]["learn2learn"]
    if isinstance(l2l, str):
        raise ImportError(f"learn2learn: {l2l}")
    return l2l


def learn2learn_loop(problem, steps, sampler, iterations):
    """Second-order MAML as learn2learn's documentation writes it:
    ``l2l.algorithms.MAML(net, lr)``, per task ``clone()`` and ``adapt`` for
    each inner step, the query loss back-propagated before the next task."""
    import torch

    l2l = _import_learn2learn()
    net, loss_fn = _network(problem)
    maml = l2l.algorithms.MAML(net, lr=INNER_LR[problem], first_order=False)
    opt = torch.optim.Adam(maml.parameters(), lr=1e-3)
    for batch in _meta_batches(problem, sampler, iterations):
        opt.zero_grad()
        for xs, ys, xq, yq in batch:
            learner = maml.clone()
            for _ in range(steps):
                learner.adapt(loss_fn(learner(xs), ys))
            (loss_fn(learner(xq), yq) / META_BATCH).backward()
        opt.step()


LOOPS = {"loop": plain_loop, "learn2learn": learn2learn_loop}


def anonymous_kb():
    """Anonymous resident memory of this process (kB): RSS without the pages
    of files (library code), which a busy machine may evict."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("RssAnon:"))


class AnonymousPeak:
    """The peak of :func:`anonymous_kb`, sampled every 2 ms in a thread."""

    def __enter__(self):
        self.peak, self.done = anonymous_kb(), threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()
        return self

    def _watch(self):
        while not self.done.is_set():
            self.peak = max(self.peak, anonymous_kb())
            time.sleep(0.002)

    def __exit__(self, *exc):
        self.done.set()
        self.thread.join()
        self.peak = max(self.peak, anonymous_kb())


def child(problem, steps, mode, n_query, iterations, peers=False):
    """Run one configuration (``mode`` None: the baseline) and print its peak
    RSS (``ru_maxrss``) and peak anonymous RSS, in kB. ``peers``: import
    learn2learn first (its runs and their baseline)."""
    import torch

    if peers:
        _import_learn2learn()
    torch.manual_seed(0)
    kind, params = ("skmeta", {}) if mode is None else MODES[mode]
    with AnonymousPeak() as anon:
        est, sampler = _estimator(problem, steps, params, n_query, iterations)
        if mode is not None and kind == "skmeta":
            est.fit(sampler)
            assert est.n_iter_ == iterations
        elif mode is not None:
            LOOPS[kind](problem, steps, sampler, iterations)
    # ru_maxrss is in kilobytes on Linux
    print(json.dumps({"peak_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                      "anon_peak_kb": anon.peak, "threads": torch.get_num_threads()}))


def run_child(problem, steps, mode, n_query, iterations, allocator, python=None):
    """One configuration in a fresh process; ``python``: the peers' interpreter
    (learn2learn's runs and their baseline), else this one."""
    cmd = [python or sys.executable, __file__, "--child",
           json.dumps([problem, steps, mode, n_query, iterations, python is not None])]
    env = {**os.environ, **ALLOCATORS[allocator]}
    out = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
    if out.returncode != 0:
        raise RuntimeError(f"{problem} {steps} {mode}: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def machine():
    import torch

    model = next((line.split(":", 1)[1].strip() for line in
                  Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor() or "unknown")
    return {"cpu": model, "cores": os.cpu_count(), "torch": torch.__version__,
            "python": platform.python_version(), "torch_threads": torch.get_num_threads(),
            "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
                                / 2**30, 1),
            "date": datetime.date.today().isoformat()}


TITLES = {
    "sinusoid": "Sinusoid regression (MLP 40-40, 10 support + 10 query points per task)",
    "conv4": "5-way 1-shot 28x28 episodes, conv4 (64 filters), {n_query} query image(s) per class",
}
ALLOCATOR_NOTES = {
    "default": "glibc malloc with its defaults (what a user gets)",
    "mmap": ("`MALLOC_MMAP_THRESHOLD_=65536`: glibc returns every block over 64 KiB on free, "
             "so the peak follows what the computation holds rather than how the "
             "heap fragments"),
}


def write_markdown(result, path):
    m = result["machine"]
    lines = [
        "# Peak memory of second-order MAML against inner steps",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, torch {m['torch']} "
        f"(CPU), {m['torch_threads']} torch threads, Python {m['python']}; {m['date']}.",
        "",
        f"Meta-batch {META_BATCH}, {result['iterations']} meta-iterations per configuration "
        "(skmeta through `fit`, eager), each in a fresh process. Figure: its peak RSS "
        "(`ru_maxrss`) minus that of a process that only imports skmeta and builds the "
        "same sampler and estimator, in MiB; in brackets the same for anonymous memory "
        "(`RssAnon`, sampled every 2 ms), which leaves out the pages of library code "
        "that a busy machine may evict. Memory does not depend on the machine's speed; "
        "no timing is reported (the machine was shared).",
        "",
        f"Command: `{result['command']}`",
        "",
    ]
    for problem in result["problems"]:
        lines += [f"## {TITLES[problem].format(n_query=result['n_query'])}", ""]
        for allocator in result["allocators"]:
            rows = [r for r in result["rows"]
                    if r["problem"] == problem and r["allocator"] == allocator]
            steps = sorted({r["steps"] for r in rows})
            base = next(b for b in result["baselines"] if b["problem"] == problem
                        and b["allocator"] == allocator and "interpreter" not in b)
            lines += [f"{ALLOCATOR_NOTES[allocator]}; baseline process "
                      f"{base['peak_kb'] / 1024:.0f} MiB.", "",
                      "| mode | " + " | ".join(f"{s} steps" for s in steps) + " |",
                      "| --- |" + " ---: |" * len(steps)]
            for mode in MODES:
                cells = {r["steps"]: r for r in rows if r["mode"] == mode}
                if cells:
                    lines.append(f"| {mode} | " + " | ".join(
                        f"{cells[s]['peak_mib']:.0f} ({cells[s]['anon_peak_mib']:.0f})"
                        if s in cells else "" for s in steps) + " |")
            lines.append("")
    path.write_text("\n".join(lines))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true", help="1 and 5 inner steps only")
    parser.add_argument("--steps", type=int, nargs="+", default=None)
    parser.add_argument("--problems", nargs="+", choices=PROBLEMS, default=list(PROBLEMS))
    parser.add_argument("--modes", nargs="+", type=int, default=None,
                        help="indices into the modes (default: all)")
    parser.add_argument("--allocators", nargs="+", choices=list(ALLOCATORS),
                        default=list(ALLOCATORS))
    parser.add_argument("--iterations", type=int, default=2)
    parser.add_argument("--n-query", type=int, default=1,
                        help="query images per class of the conv4 episodes")
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument("--peers-python", default="/work/peers-venv/bin/python",
                        help="the peers' interpreter (benchmarks/peers/setup_peers.sh), for "
                             "the learn2learn mode; left out where it does not exist")
    args = parser.parse_args()
    if args.child:
        child(*json.loads(args.child))
        return
    steps = args.steps or ((1, 5) if args.quick else STEPS)
    modes = [m for i, m in enumerate(MODES) if args.modes is None or i in args.modes]
    result = {"machine": machine(), "iterations": args.iterations, "n_query": args.n_query,
              "problems": args.problems, "steps": list(steps), "allocators": args.allocators,
              "command": " ".join(["python benchmarks/bench_memory.py"] + sys.argv[1:]),
              "baselines": [], "rows": []}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    peers_python = args.peers_python if Path(args.peers_python).exists() else None
    if peers_python is None:
        result["skipped"] = f"learn2learn: no peers' environment at {args.peers_python}"
        modes = [m for m in modes if MODES[m][0] != "learn2learn"]
    for problem in args.problems:
        for allocator in args.allocators:
            base = {}
            for python in (None, peers_python):
                if python is None or any(MODES[m][0] == "learn2learn" for m in modes):
                    base[python] = run_child(problem, 1, None, args.n_query, args.iterations,
                                             allocator, python)
            result["baselines"].append({"problem": problem, "allocator": allocator,
                                        **base[None]})
            if peers_python in base and peers_python is not None:
                result["baselines"].append({"problem": problem, "allocator": allocator,
                                            "interpreter": "peers", **base[peers_python]})
            for s in steps:
                for mode in modes:
                    python = peers_python if MODES[mode][0] == "learn2learn" else None
                    peak = run_child(problem, s, mode, args.n_query, args.iterations, allocator,
                                     python)
                    base_kb = base[python]
                    mib = (peak["peak_kb"] - base_kb["peak_kb"]) / 1024
                    anon = (peak["anon_peak_kb"] - base_kb["anon_peak_kb"]) / 1024
                    result["rows"].append({"problem": problem, "allocator": allocator,
                                           "steps": s, "mode": mode, **peak,
                                           "peak_mib": mib, "anon_peak_mib": anon})
                    print(f"{problem:8s} {allocator:7s} {s:2d} steps  {mode:62s} "
                          f"{mib:8.0f} MiB ({anon:.0f})", flush=True)
                    # written as it goes: a long run leaves its results so far
                    (out / "memory.json").write_text(json.dumps(result, indent=2))
    write_markdown(result, out / "memory.md")
    print((out / "memory.md").read_text())


if __name__ == "__main__":
    main()
