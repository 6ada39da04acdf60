"""Prototypical Networks on Omniglot: speed against plain PyTorch, and accuracy.

Speed, side by side in one process on the same episodes (28x28 Omniglot,
conv4 with 64 filters):

* training episodes per second, 60-way 5-shot 5-query (the paper's training
  episodes): a plain PyTorch ProtoNet loop (``nn.Sequential`` conv4 with
  ``BatchNorm2d``, NCHW, Adam), the same loop with channels-last tensors,
  and ``ProtoNetClassifier(module="conv4")`` eager and compiled;
* evaluation episodes per second, 5-way 1-shot 15-query: the plain loop
  (``model.eval()``, one episode at a time) against
  ``skmeta.model_selection.evaluate_tasks`` (episodes batched with ``vmap``),
  eager and compiled.

Accuracy: ``ProtoNetClassifier(module="conv4")`` meta-trained on the
background alphabets (with rotated copies as extra classes, as in the paper)
on 60-way 5-shot 5-query episodes for ``--max-iter`` episodes, then 600
test episodes of 5-way 1-shot and 5-shot (15 queries per class) from the
evaluation alphabets: mean accuracy with a 95% interval, and the CPU
training time that bought it.

Reads ``omniglot28.npz`` from ``--data-home`` (default: ../shared/datasets/omniglot
beside the repository). Run ``python benchmarks/bench_protonet_omniglot.py``
(``--quick`` for a smoke run). Tables go to ``benchmarks/results/``.
"""

import argparse
import json
import time

import _harness as H
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from skmeta import EpisodeSampler, ProtoNetClassifier
from skmeta.datasets import load_omniglot
from skmeta.model_selection import evaluate_tasks


def conv4():
    layers, width = [], 1
    for _ in range(4):
        layers += [nn.Conv2d(width, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(),
                   nn.MaxPool2d(2, ceil_mode=True)]
        width = 64
    return nn.Sequential(*layers, nn.Flatten())


class PlainProtoNet:
    """ProtoNet as it is usually written in PyTorch, one episode at a time."""

    def __init__(self, channels_last=False, seed=0):
        torch.manual_seed(seed)
        self.fmt = torch.channels_last if channels_last else torch.contiguous_format
        self.net = conv4().to(memory_format=self.fmt)
        self.opt = torch.optim.Adam(self.net.parameters(), lr=1e-3)

    def _episode(self, t):
        labels, ys = np.unique(t.y_support, return_inverse=True)
        yq = np.searchsorted(labels, t.y_query)
        x = torch.as_tensor(np.concatenate([t.X_support, t.X_query]))[:, None]
        e = self.net(x.contiguous(memory_format=self.fmt))
        es, eq = e[:len(ys)], e[len(ys):]
        ys = torch.as_tensor(ys)
        protos = torch.zeros(len(labels), e.shape[1]).index_add_(0, ys, es)
        protos = protos / torch.bincount(ys)[:, None]
        return -torch.cdist(eq, protos) ** 2, torch.as_tensor(yq)

    def train_step(self, t):
        self.net.train()
        logits, yq = self._episode(t)
        loss = F.cross_entropy(logits, yq)
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()

    @torch.no_grad()
    def evaluate(self, t):
        self.net.eval()
        logits, yq = self._episode(t)
        return float((logits.argmax(1) == yq).float().mean())


def train_speed(X, y, n_iter, rng):
    sampler = EpisodeSampler(X, y, n_way=60, k_shot=5, n_query=5)
    episodes = sampler.sample(n_iter, rng)
    rows = {}
    for name, cl in [("plain PyTorch loop (NCHW)", False),
                     ("plain PyTorch loop (channels-last)", True)]:
        model, dur = PlainProtoNet(cl), []
        for t in episodes:
            t0 = time.perf_counter()
            model.train_step(t)
            dur.append(time.perf_counter() - t0)
        rows[name] = np.array(dur)
    for name, comp, n in [("skmeta eager", False, n_iter), ("skmeta compiled", True, 2 * n_iter)]:
        est = ProtoNetClassifier(module="conv4", max_iter=n, compile=comp, random_state=0)
        est.fit(sampler)
        rows[name] = np.array(est.history_[:, "dur"])
    base = np.median(rows["plain PyTorch loop (NCHW)"][1:])
    return [{"method": k, "episodes": len(d), "steady_per_s": 1 / np.median(d[len(d) // 5:]),
             "ratio": base / np.median(d[len(d) // 5:]), "first_s": d[0]}
            for k, d in rows.items()]


def eval_speed(X, y, n_episodes, rng):
    tasks = EpisodeSampler(X, y, n_way=5, k_shot=1, n_query=15).sample(n_episodes, rng)
    warm = tasks[:8]
    plain = PlainProtoNet()
    for t in warm:
        plain.evaluate(t)
    t0 = time.perf_counter()
    acc_plain = np.mean([plain.evaluate(t) for t in tasks])
    rows = [{"method": "plain PyTorch loop (eval mode, one episode at a time)",
             "seconds": time.perf_counter() - t0, "accuracy": acc_plain}]
    est = ProtoNetClassifier(module="conv4", max_iter=1, compile=False, random_state=0)
    est.fit(EpisodeSampler(X, y, n_way=5, k_shot=1, n_query=15))
    for name, comp in [("skmeta evaluate_tasks (batched)", False),
                       ("skmeta evaluate_tasks (batched, compiled)", True)]:
        est.set_params(compile=comp)
        first = time.perf_counter()
        evaluate_tasks(est, warm)  # compiles for this episode shape
        first = time.perf_counter() - first
        t0 = time.perf_counter()
        res = evaluate_tasks(est, tasks)
        rows.append({"method": name, "seconds": time.perf_counter() - t0,
                     "accuracy": res.mean, "warmup_s": first})
    base = rows[0]["seconds"]
    for r in rows:
        r["episodes_per_s"] = n_episodes / r["seconds"]
        r["ratio"] = base / r["seconds"]
    return rows


def accuracy(Xb, yb, Xe, ye, max_iter, n_test, rng):
    est = ProtoNetClassifier(module="conv4", max_iter=max_iter, random_state=0, verbose=1)
    t0 = time.perf_counter()
    est.fit(EpisodeSampler(Xb, yb, n_way=60, k_shot=5, n_query=5))
    train_s = time.perf_counter() - t0
    rows = []
    for k in (1, 5):
        tasks = EpisodeSampler(Xe, ye, n_way=5, k_shot=k, n_query=15).sample(n_test, rng)
        t0 = time.perf_counter()
        res = evaluate_tasks(est, tasks)
        rows.append({"way": 5, "shot": k, "accuracy": res.mean, "ci95": res.ci,
                     "n_episodes": n_test, "eval_s": time.perf_counter() - t0})
    return {"max_iter": max_iter, "train_s": train_s, "rows": rows,
            "final_train_loss": float(np.mean(est.history_[-100:, "train_loss"]))}


def markdown(train_rows, eval_rows, acc):
    lines = ["## Training speed: 60-way 5-shot 5-query episodes", "",
             "| method | episodes | steady episodes/s | x plain loop | first episode (s) |",
             "| --- | ---: | ---: | ---: | ---: |"]
    for r in train_rows:
        lines.append(f"| {r['method']} | {r['episodes']} | {r['steady_per_s']:.2f} | "
                     f"{r['ratio']:.2f} | {r['first_s']:.2f} |")
    lines += ["", "## Evaluation speed: 5-way 1-shot 15-query episodes "
              "(untrained network; speed only)", "",
              "| method | episodes/s | x plain loop | warm-up (s) |", "| --- | ---: | ---: | ---: |"]
    for r in eval_rows:
        lines.append(f"| {r['method']} | {r['episodes_per_s']:.1f} | {r['ratio']:.2f} | "
                     f"{r.get('warmup_s', 0):.1f} |")
    if acc:
        lines += ["", f"## Accuracy: {acc['max_iter']} training episodes (60-way 5-shot "
                  f"5-query, background alphabets with rotations), {acc['train_s'] / 60:.1f} "
                  "min of CPU training", "",
                  "| test episodes | accuracy (mean +/- 95% CI) |", "| --- | --- |"]
        for r in acc["rows"]:
            lines.append(f"| {r['n_episodes']} x {r['way']}-way {r['shot']}-shot "
                         f"(evaluation alphabets) | {100 * r['accuracy']:.2f}% +/- "
                         f"{100 * r['ci95']:.2f}% |")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run")
    parser.add_argument("--data-home", default=str(H.OMNIGLOT))
    parser.add_argument("--speed-iters", type=int, default=20)
    parser.add_argument("--eval-episodes", type=int, default=300)
    parser.add_argument("--max-iter", type=int, default=2000)
    parser.add_argument("--n-test", type=int, default=600)
    parser.add_argument("--skip-accuracy", action="store_true")
    parser.add_argument("--reuse-accuracy", action="store_true",
                        help="measure speed only; keep the accuracy of the last results file")
    args = parser.parse_args()
    if args.quick:
        args.speed_iters, args.eval_episodes, args.max_iter, args.n_test = 5, 40, 20, 50
    H.bench_threads()
    info = H.machine()
    Xb, yb = load_omniglot(args.data_home, split="background", rotations=True,
                           return_X_y=True)
    Xe, ye = load_omniglot(args.data_home, split="evaluation", return_X_y=True)
    rng = np.random.RandomState(0)
    train_rows = train_speed(Xb, yb, args.speed_iters, rng)
    for r in train_rows:
        print(f"{r['method']:<40} {r['steady_per_s']:7.2f} episodes/s  x{r['ratio']:.2f}")
    eval_rows = eval_speed(Xe, ye, args.eval_episodes, rng)
    for r in eval_rows:
        print(f"{r['method']:<52} {r['episodes_per_s']:7.1f} episodes/s  x{r['ratio']:.2f}")
    if args.reuse_accuracy:
        old = json.loads((H.RESULTS / "protonet_omniglot.json").read_text())
        acc = old.get("data", old)["accuracy"]  # harness files keep the numbers in "data"
    elif args.skip_accuracy:
        acc = None
    else:
        acc = accuracy(Xb, yb, Xe, ye, args.max_iter, args.n_test, rng)
    md = markdown(train_rows, eval_rows, acc)
    print(md)
    if not args.quick:
        H.write_results("protonet_omniglot",
                        {"train_speed": train_rows, "eval_speed": eval_rows, "accuracy": acc},
                        md, title="Prototypical Networks on Omniglot (28x28, conv4)", info=info)


if __name__ == "__main__":
    main()
