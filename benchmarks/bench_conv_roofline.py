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

A meta-iteration's work divided by the CPU's peak floating-point rate is
the least time any implementation can take; against the loop's time, the
largest speed-up open to batching or compiling (the docs' benchmark page
does this arithmetic for the machine of the results file).

Run ``python benchmarks/bench_conv_roofline.py`` alone on the machine (about
3 minutes on 2 CPU cores). Results: ``benchmarks/results/conv_roofline.{json,md}``.
"""

import argparse

import _harness as H
import torch
import torch.nn.functional as F
from torch.func import functional_call
from torch.utils.flop_counter import FlopCounterMode

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


def markdown(fwd, maml):
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
    ]) + "\n"


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
    md = markdown(fwd, maml)
    print(md)
    H.write_results("conv_roofline", {"forward": fwd, "maml": maml}, md,
                    title="How fast conv4 can go on this CPU", info=info,
                    results_dir=args.results_dir)


if __name__ == "__main__":
    main()
