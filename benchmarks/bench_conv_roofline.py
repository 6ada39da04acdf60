"""How fast conv4 can go on this CPU: the ceiling for the conv4 speed goals.

Two measurements that bound what any implementation of the conv4 cases of
``bench_peers.py`` can gain over the plain PyTorch loop:

* conv4's forward pass (skmeta's ``Conv4``: 4 x [3x3 conv 64, batch norm
  with batch statistics, ReLU, 2x2 max-pool], 28x28 images, no gradients)
  on one batch of 80, 400 and 1600 images, channels-last (skmeta's layout)
  and NCHW: images per second and GFLOP/s (2 x the multiply-adds counted
  from the layer shapes);
* the floating-point work of one meta-iteration of second-order MAML as
  the plain loop of ``bench_peers.py`` runs it (5-way 1-shot 1-query,
  meta-batch 32, ``BatchNorm2d``, a linear head), counted by
  ``torch.utils.flop_counter.FlopCounterMode`` (every convolution and
  matrix product of the forward, inner-gradient and outer backward
  passes), and the loop's time for it: its GFLOP/s.

* skmeta's compiled ProtoNet evaluation of one episode (5-way 1-shot
  15-query: 80 images; 60-way 5-shot 5-query: 600 images), as
  ``evaluate_tasks`` runs it, profiled with ``torch.profiler``: the time of
  each of the four convolutions inside the compiled graph, their GFLOP/s,
  and what the rest of the episode (batch norm, ReLU, pooling, prototypes,
  validation) takes. The convolutions' time is the floor of any faster
  evaluation at these rates. Then the same evaluation function compiled
  with inductor's ``freezing`` (the lead of issue 10), side by side.

A meta-iteration's work divided by the CPU's peak floating-point rate is
the least time any implementation can take; against the loop's time, the
largest speed-up open to batching or compiling (the docs' benchmark page
does this arithmetic for the machine of the results file).

Run ``python benchmarks/bench_conv_roofline.py`` alone on the machine (about
3 minutes on 2 CPU cores). Results: ``benchmarks/results/conv_roofline.{json,md}``.
"""

import argparse
import statistics
import time

import _harness as H
import torch
import torch.nn.functional as F
from torch.func import functional_call
from torch.profiler import ProfilerActivity, profile
from torch.utils.flop_counter import FlopCounterMode

from skmeta import EpisodeSampler, ProtoNetClassifier

from skmeta._torch._networks import Conv4


def conv4_macs(size=28, channels=64, blocks=4):
    macs, cin = 0, 1
    for _ in range(blocks):
        macs += size * size * channels * cin * 9
        cin, size = channels, (size + 1) // 2
    return macs


def forward_rates(repeat):
    rows = []
    macs = conv4_macs()
    for layout in ("channels-last", "NCHW"):
        net = Conv4((28, 28))
        if layout == "NCHW":
            net.blocks = net.blocks.to(memory_format=torch.contiguous_format)
        for n in (80, 400, 1600):
            x = torch.rand(n, 28, 28)
            with torch.no_grad():
                t = H.time_calls(lambda: net(x), repeat=repeat, warmup=3)
            rows.append({"layout": layout, "batch": n, "images_per_s": n / t.median,
                         "gflops": 2 * macs * n / t.median / 1e9,
                         "ms_per_80": 80 * t.median / n * 1e3})
    return rows


def maml_iteration(net, steps, batch=32, inner_lr=0.4):
    for _ in range(batch):
        xs, ys = torch.rand(5, 1, 28, 28), torch.arange(5)
        xq, yq = torch.rand(5, 1, 28, 28), torch.arange(5)
        fast = dict(net.named_parameters())
        for _ in range(steps):
            loss = F.cross_entropy(functional_call(net, fast, (xs,)), ys)
            grads = torch.autograd.grad(loss, list(fast.values()), create_graph=True)
            fast = {k: v - inner_lr * g for (k, v), g in zip(fast.items(), grads)}
        (F.cross_entropy(functional_call(net, fast, (xq,)), yq) / batch).backward()


def maml_work(repeat):
    rows = []
    net = H.maml_conv4_net()
    for steps in (1, 5):
        counter = FlopCounterMode(display=False)
        with counter:
            maml_iteration(net, steps)
        flops = counter.get_total_flops()
        t = H.time_calls(lambda: maml_iteration(net, steps), repeat=repeat, warmup=1)
        rows.append({"steps": steps, "gflop": flops / 1e9, "loop_ms": t.ms,
                     "gflops": flops / t.median / 1e9})
    return rows


def protonet_eval_profile(repeat, episodes=((5, 1, 15), (60, 5, 5))):
    """Per episode: the compiled evaluation's time and its convolutions'."""
    X, y, source = H.load_omniglot_or_random()
    est = ProtoNetClassifier(module="conv4", max_iter=3, compile=True, random_state=0)
    est.fit(EpisodeSampler(X, y, n_way=5, k_shot=1, n_query=5).sample(4, 0))
    rows = []
    for way, shot, query in episodes:
        eps = EpisodeSampler(X, y, n_way=way, k_shot=shot, n_query=query).sample(repeat, 1)
        for ep in eps[:3]:  # compile, warm up
            est._task_outputs([ep])
        times = []
        with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
            for ep in eps:
                t0 = time.perf_counter()
                est._task_outputs([ep])
                times.append(time.perf_counter() - t0)
        episode_ms = 1e3 * statistics.median(times)  # with the profiler's small overhead
        n = way * (shot + query)
        convs = [e for e in prof.key_averages(group_by_input_shape=True)
                 if e.key == "aten::mkldnn_convolution"]
        conv_ms = 0.0
        for e in sorted(convs, key=lambda e: -e.input_shapes[0][2]):
            _, cin, h, w = e.input_shapes[0]
            ms = e.self_cpu_time_total / 1e3 / repeat
            conv_ms += ms
            rows.append({"episode": f"{way}-way {shot}-shot {query}-query", "images": n,
                         "part": f"conv {cin}->64 on {h}x{w}", "ms": ms,
                         "gflops": 2 * n * h * w * 64 * cin * 9 / ms / 1e6})
        rows.append({"episode": rows[-1]["episode"], "images": n, "part": "all 4 convolutions",
                     "ms": conv_ms, "gflops": 2 * n * conv4_macs() / conv_ms / 1e6})
        rows.append({"episode": rows[-1]["episode"], "images": n,
                     "part": "everything else", "ms": episode_ms - conv_ms, "gflops": None})
        rows.append({"episode": rows[-1]["episode"], "images": n,
                     "part": "whole episode (median)", "ms": episode_ms, "gflops": None})
    freezing = freezing_check(est, EpisodeSampler(X, y, n_way=5, k_shot=1, n_query=15)
                              .sample(10, 2), repeat)
    return rows, source, freezing


class _Frozen(torch.nn.Module):
    """An evaluation function with the meta-parameters as module parameters,
    for inductor's ``freezing`` (which compiles module parameters in as
    constants and pre-packs convolution weights)."""

    def __init__(self, fn, theta):
        super().__init__()
        self.fn, self.names = fn, {}
        self.p = torch.nn.ParameterDict()
        for outer, tree in theta.items():
            for key, value in tree.items():
                name = f"{outer}_{len(self.names)}"
                self.names[name] = (outer, key)
                self.p[name] = torch.nn.Parameter(value.detach().clone(), requires_grad=False)

    def forward(self, episodes):
        theta = {}
        for name, (outer, key) in self.names.items():
            theta.setdefault(outer, {})[key] = self.p[name]
        return self.fn(theta, episodes)


def freezing_check(est, episodes, repeat):
    """Milliseconds per episode of skmeta's compiled evaluation function and
    of the same function compiled with ``freezing``, and their largest
    difference in output."""
    import torch._inductor.config as inductor_config

    from skmeta._torch._batches import TaskBank
    from skmeta._torch._engine import detach_tree
    from skmeta._torch._evaluate import eval_function

    step, theta = est._step(), detach_tree(est.meta_params_)
    inputs = [TaskBank([ep], est._encode, est.device_, buckets=True).take([0])
              for ep in episodes]
    compiled = eval_function(step, compile=True)
    with torch.no_grad():
        eager = eval_function(step)(theta, inputs[0])
        with inductor_config.patch(freezing=True):
            frozen = torch.compile(_Frozen(eval_function(step), theta).eval(), dynamic=False)
            err = float((frozen(inputs[0]) - eager).abs().max())
        blocks = {"freezing_ms": lambda: [frozen(x) for x in inputs],
                  "compiled_ms": lambda: [compiled(theta, x) for x in inputs]}
        times = {k: [] for k in blocks}
        for i in range(repeat + 1):  # alternating blocks, the first of each a warm-up
            for k, block in blocks.items():
                t0 = time.perf_counter()
                block()
                if i:
                    times[k].append(time.perf_counter() - t0)
    return ({k: 1e3 * statistics.median(v) / len(inputs) for k, v in times.items()}
            | {"max_difference": err})


def markdown(fwd, maml, proto=None, source="", freezing=None):
    return "\n".join([
        f"conv4 on 28x28 images: {conv4_macs() / 1e6:.2f} M multiply-adds per image.", "",
        "## conv4 forward pass, no gradients", "",
        H.markdown_table(fwd, [("layout", "layout", ""), ("images per call", "batch", "d"),
                               ("images/s", "images_per_s", ".0f"),
                               ("GFLOP/s", "gflops", ".1f"),
                               ("ms per 80 images", "ms_per_80", ".1f")]),
        "", "## Second-order MAML, plain loop, 5-way 1-shot 1-query, meta-batch 32", "",
        H.markdown_table(maml, [("inner steps", "steps", "d"),
                                ("GFLOP per meta-iteration", "gflop", ".1f"),
                                ("loop (ms)", "loop_ms", ".0f"),
                                ("loop GFLOP/s", "gflops", ".1f")]),
    ] + ([] if proto is None else [
        "", f"## skmeta's compiled ProtoNet evaluation, one episode, profiled ({source})", "",
        H.markdown_table(proto, [("episode", "episode", ""), ("images", "images", "d"),
                                 ("part", "part", ""), ("ms per episode", "ms", ".2f"),
                                 ("GFLOP/s", "gflops", ".1f")]),
        "", "Inductor's `freezing` on the 5-way 1-shot evaluation function (median of blocks of "
        f"10 episodes, the two alternating): {freezing['freezing_ms']:.2f} ms per episode, against "
        f"{freezing['compiled_ms']:.2f} ms compiled as skmeta compiles it (outputs within "
        f"{freezing['max_difference']:.0e}).",
    ])) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--results-dir", default=None)
    args = parser.parse_args()
    H.bench_threads()
    info = H.machine()
    print(H.machine_line(info), flush=True)
    fwd = forward_rates(args.repeat)
    maml = maml_work(max(3, args.repeat // 3))
    proto, source, freezing = protonet_eval_profile(max(10, args.repeat))
    md = markdown(fwd, maml, proto, source, freezing)
    print(md)
    H.write_results("conv_roofline", {"forward": fwd, "maml": maml, "protonet_eval": proto,
                                      "protonet_data": source, "freezing": freezing}, md,
                    title="How fast conv4 can go on this CPU", info=info,
                    results_dir=args.results_dir)


if __name__ == "__main__":
    main()
