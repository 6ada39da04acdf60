"""Speed against the peers: skmeta, learn2learn, higher, torchopt, torchmeta, a plain loop.

Side by side in one process, on identical tasks and networks, from identical
initial weights, milliseconds per meta-iteration (median after a warm-up,
with its IQR) of:

* ``skmeta eager`` and ``skmeta compiled``: the estimator's step object run
  by skmeta's engine (``skmeta._torch._engine.train``, the loop ``fit``
  runs, with its thread policy), fed the same pre-built meta-batches as the
  others; the compiled step is compiled (and its gradient checked) before
  the timed iterations, and its compile time is reported apart;
* ``plain loop``: plain PyTorch, a Python loop over the tasks of a
  meta-batch, ``torch.autograd.grad(create_graph=True)`` for the inner steps,
  ``torch.func.functional_call`` for the fast weights, one ``backward`` per
  task, as most MAML code is written;
* ``learn2learn`` (``l2l.algorithms.MAML`` / ``MetaSGD``, ``clone`` and
  ``adapt``), ``higher`` (``innerloop_ctx`` with a differentiable SGD),
  ``torchopt`` (functional: ``torchopt.sgd`` updates and ``apply_updates``
  on a parameter tuple) and ``torchmeta`` (``MetaModule`` networks and
  ``gradient_update_parameters``), each as its documentation writes MAML.

Cases (``--cases``; all by default):

* sinusoid (MAML protocol): MLP 1-40-40-1, meta-batch 25, K=10 support and
  10 query rows, inner SGD at 0.01, outer Adam at 1e-3: second- and
  first-order MAML at 1 and 5 inner steps, Meta-SGD (1 step, learned
  per-entry step sizes), Reptile (5 SGD steps on all 20 rows, outer SGD
  0.1; skmeta and the loop);
* Omniglot 28x28, conv4 (4 x [3x3 conv 64, batch norm, ReLU, 2x2 max-pool]):
  MAML and Meta-SGD 5-way 1-shot 1-query (meta-batch 32, inner SGD at 0.4,
  as learn2learn's ``maml_omniglot`` example) second and first order at 1
  and 5 steps; ProtoNet training episodes (one episode per iteration,
  60-way 5-shot 5-query and 5-way 1-shot 15-query, Adam 1e-3) and
  evaluation episodes (5-way 1-shot 15-query and 60-way 5-shot 5-query,
  ``evaluate_tasks`` on a block of episodes against the loop one episode at
  a time, ms per episode); skmeta and the loop.

What "identical" means here, where the libraries differ:

* batch norm: skmeta normalises a task's query rows with the statistics of
  its support rows (never of the query batch, DESIGN.md section 5), so every
  peer's conv4 uses one batch-norm layer that does the same (the query
  forward embeds support and query rows together, statistics from the
  support rows); ProtoNet training episodes use the whole episode's
  statistics, as skmeta and the paper's code do;
* the classification head of MAML: skmeta's ``MAMLClassifier`` gives each
  task its own head; ``head_init="zero"`` starts it at zero and adapts it in
  the inner loop. The peers use the usual linear head (``Linear(256, 5)``:
  skmeta's conv4 pools with ``ceil_mode``, so a 28x28 image ends as 64 x 2 x 2
  values), zero and left out of the outer optimiser, which is the same
  computation (its meta-gradient is computed and dropped). skmeta's Meta-SGD learns one step
  size per head tensor (the head is per task), the peers one per entry: the
  check compares skmeta's with the sum of the peers'.

Before any timing, every method's meta-gradient (Reptile: outer direction;
ProtoNet evaluation: class probabilities) on the same first meta-batch from
the same weights is checked against the plain loop's, and the script stops
if one differs (``max |a - b| > 1e-3 max(max |b|, 1e-3)``, tensor by
tensor). Where a float32 check fails for a method with
a float64 version (skmeta, the loop), the check is repeated in float64 with
the same computation: if that passes, the float32 difference is rounding,
recorded in the table and its notes, and timing goes on; otherwise the
script stops.

Run in the peers' environment (``bash benchmarks/peers/setup_peers.sh``)::

    /work/peers-venv/bin/python benchmarks/bench_peers.py           # all cases
    /work/peers-venv/bin/python benchmarks/bench_peers.py --quick   # a correctness run

Threads: every method runs with torch's intra-op threads of the run (all
logical cores, or ``SKMETA_BENCH_THREADS``), except that skmeta's engine
applies its own policy (one thread for small networks such as the sinusoid
MLP; see ``skmeta/_torch/_threads.py``). ``SKMETA_BENCH_THREADS=1`` gives
every method one thread.

Peers that do not import are left out with the reason. Results go to
``benchmarks/results/peers.{json,md}`` (``--quick`` writes nothing unless
``--results-dir`` is given). Time it alone on the machine: other processes
on 2 cores make every figure false.
"""

import argparse
import contextlib
import copy
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call
from torch.utils._pytree import tree_map

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent / "peers"))

import _harness as H  # noqa: E402
from _compat import import_peers, versions  # noqa: E402

from skmeta import EpisodeSampler, MAMLClassifier, MAMLRegressor, ProtoNetClassifier  # noqa: E402
from skmeta import ReptileRegressor, Task  # noqa: E402
from skmeta._torch._batches import Episodes  # noqa: E402
from skmeta._torch._engine import maybe_compile, train  # noqa: E402
from skmeta._torch._threads import intra_op_threads, threads_for  # noqa: E402
from skmeta.model_selection import evaluate_tasks  # noqa: E402

#: A check passes when max |a - b| <= RTOL * max(max |b|, FLOOR), tensor by tensor
#: (FLOOR keeps gradients that are zero in exact arithmetic, such as a conv bias
#: before batch norm, from being judged relative to their rounding).
RTOL, FLOOR = 1e-3, 1e-3
OUTER_LR = 1e-3


# ----------------------------------------------------------------- the cases
class Case:
    """One benchmark case: data, network, algorithm and its settings."""

    def __init__(self, name, label, data, algo, steps=1, first_order=False, meta_sgd=False,
                 batch=25, inner_lr=0.01, n_way=5, k_shot=1, n_query=1):
        self.name, self.label, self.data, self.algo = name, label, data, algo
        self.steps, self.first_order, self.meta_sgd = steps, first_order, meta_sgd
        self.batch, self.inner_lr = batch, inner_lr
        self.n_way, self.k_shot, self.n_query = n_way, k_shot, n_query

    @property
    def conv(self):
        return self.data == "omniglot"


def _cases():
    out = []
    for steps in (1, 5):
        for fo in (False, True):
            order = "first" if fo else "second"
            out.append(Case(f"sin-maml{1 if fo else 2}-{steps}",
                            f"sinusoid MAML {order} order, {steps} step{'s' * (steps > 1)}",
                            "sinusoid", "maml", steps, fo))
    out.append(Case("sin-metasgd", "sinusoid Meta-SGD, 1 step", "sinusoid", "maml", 1,
                    meta_sgd=True))
    out.append(Case("sin-reptile", "sinusoid Reptile, 5 SGD steps", "sinusoid", "reptile", 5))
    conv = dict(batch=32, inner_lr=0.4, n_way=5, k_shot=1, n_query=1)
    for steps in (1, 5):
        for fo in (False, True):
            order = "first" if fo else "second"
            out.append(Case(f"conv-maml{1 if fo else 2}-{steps}",
                            f"conv4 5-way 1-shot MAML {order} order, {steps} "
                            f"step{'s' * (steps > 1)}", "omniglot", "maml", steps, fo, **conv))
    out.append(Case("conv-metasgd", "conv4 5-way 1-shot Meta-SGD, 1 step", "omniglot",
                    "maml", 1, meta_sgd=True, **conv))
    for way, shot, q in ((60, 5, 5), (5, 1, 15)):
        out.append(Case(f"proto-train-{way}w{shot}s",
                        f"conv4 ProtoNet training episode {way}-way {shot}-shot {q}-query",
                        "omniglot", "proto-train", batch=1, n_way=way, k_shot=shot,
                        n_query=q))
    for way, shot, q in ((5, 1, 15), (60, 5, 5)):
        out.append(Case(f"proto-eval-{way}w{shot}s",
                        f"conv4 ProtoNet evaluation episode {way}-way {shot}-shot {q}-query",
                        "omniglot", "proto-eval", batch=1, n_way=way, k_shot=shot,
                        n_query=q))
    return {c.name: c for c in out}


CASES = _cases()


# ---------------------------------------------------------------- the networks
_REF = [None]


@contextlib.contextmanager
def support_statistics(n):
    """Within the block, :class:`RefNorm` layers normalise with the statistics
    of the first ``n`` rows (the support set), as skmeta's TaskNorm does."""
    _REF[0] = n
    try:
        yield
    finally:
        _REF[0] = None


def ref_norm(x, weight, bias, eps=1e-5):
    """Batch norm without running statistics; statistics of the first
    ``_REF[0]`` rows inside :func:`support_statistics`, of all rows otherwise."""
    n = _REF[0]
    if n is None:
        return F.batch_norm(x, None, None, weight, bias, True, 0.0, eps)
    var, mean = torch.var_mean(x[:n], dim=(0, 2, 3), keepdim=True, correction=0)
    scale = torch.rsqrt(var + eps) * weight.view(1, -1, 1, 1)
    return torch.addcmul(bias.view(1, -1, 1, 1) - mean * scale, x, scale)


class RefNorm(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x):
        return ref_norm(x, self.weight, self.bias)


@torch.no_grad()
def embed_width(blocks):
    """Width of the flattened conv4 embedding of a 28x28 image: 64 x 2 x 2 with
    skmeta's ``ceil_mode`` pooling (28, 14, 7, 4, 2)."""
    return blocks(torch.zeros(2, 1, 28, 28)).flatten(1).shape[1]


class Conv4(nn.Module):
    """conv4 with the parameter names of skmeta's (``blocks.*``) and a head."""

    def __init__(self, n_way=None, channels=64):
        super().__init__()
        layers, width = [], 1
        for _ in range(4):
            layers += [nn.Conv2d(width, channels, 3, padding=1), RefNorm(channels), nn.ReLU(),
                       nn.MaxPool2d(2, ceil_mode=True)]
            width = channels
        self.blocks = nn.Sequential(*layers)
        self.head = nn.Linear(embed_width(self.blocks), n_way) if n_way else None
        if self.head is not None:
            nn.init.zeros_(self.head.weight)
            nn.init.zeros_(self.head.bias)

    def forward(self, x):
        e = self.blocks(x).flatten(1)
        return e if self.head is None else self.head(e)


def mlp():
    return nn.Sequential(nn.Linear(1, 40), nn.ReLU(), nn.Linear(40, 40), nn.ReLU(),
                         nn.Linear(40, 1))


def initial_weights(case, seed=0):
    """The weights every method starts from (body only for conv4: the head is zero)."""
    torch.manual_seed(seed)
    net = Conv4() if case.conv else mlp()
    return {k: v.detach().clone() for k, v in net.named_parameters()}


def build_net(case, w0):
    net = Conv4(case.n_way if case.algo == "maml" else None) if case.conv else mlp()
    with torch.no_grad():
        for k, p in net.named_parameters():
            if k in w0:
                p.copy_(w0[k])
    return net


def _torchmeta_nets():
    from torchmeta.modules import MetaConv2d, MetaLinear, MetaModule, MetaSequential

    class MetaRefNorm(MetaModule):
        def __init__(self, channels):
            super().__init__()
            self.weight = nn.Parameter(torch.ones(channels))
            self.bias = nn.Parameter(torch.zeros(channels))

        def forward(self, x, params=None):
            if params is None:
                params = dict(self.named_parameters())
            return ref_norm(x, params["weight"], params["bias"])

    class MetaConv4(MetaModule):
        def __init__(self, n_way, channels=64):
            super().__init__()
            layers, width = [], 1
            for _ in range(4):
                layers += [MetaConv2d(width, channels, 3, padding=1), MetaRefNorm(channels),
                           nn.ReLU(), nn.MaxPool2d(2, ceil_mode=True)]
                width = channels
            self.blocks = MetaSequential(*layers)
            self.head = MetaLinear(embed_width(self.blocks), n_way)

        def forward(self, x, params=None):
            e = self.blocks(x, params=self.get_subdict(params, "blocks")).flatten(1)
            return self.head(e, params=self.get_subdict(params, "head"))

    def meta_mlp():
        return MetaSequential(MetaLinear(1, 40), nn.ReLU(), MetaLinear(40, 40), nn.ReLU(),
                              MetaLinear(40, 1))

    return MetaConv4, meta_mlp


def build_meta_net(case, w0):
    MetaConv4, meta_mlp = _torchmeta_nets()
    net = MetaConv4(case.n_way) if case.conv else meta_mlp()
    with torch.no_grad():
        for k, p in net.named_parameters():
            if k in w0:
                p.copy_(w0[k])
            else:
                p.zero_()  # the head
    return net


def loss_fn(case, out, y):
    return F.cross_entropy(out, y) if case.conv else ((out - y) ** 2).mean()


def query_out(case, call, xs, xq):
    """Query outputs of ``call`` (the adapted network); conv4 embeds the
    support rows with the query rows for their batch-norm statistics."""
    if not case.conv:
        return call(xq)
    with support_statistics(len(xs)):
        return call(torch.cat([xs, xq]))[len(xs):]


def outer_params(named):
    """The meta-parameters the outer optimiser updates: all but the zero head."""
    return [p for k, p in named if ".head." not in f".{k}"]


# ---------------------------------------------------------------------- data
def make_data(case, n_batches, seed=0, batch=None):
    """``(batches, tasks)``: meta-batches as stacked tensors ``(xs, ys, xq, yq)``
    (images ``(T, rows, 1, 28, 28)``, labels as positions) and, for the
    ProtoNet evaluation, the same episodes as :class:`skmeta.Task` lists."""
    batch = batch or case.batch
    if not case.conv:
        return H.sinusoid_batches(n_batches, batch, 10, 10, seed=seed), None
    X, y, _ = DATA["omniglot"]
    sampler = EpisodeSampler(X, y, n_way=case.n_way, k_shot=case.k_shot, n_query=case.n_query)
    rng = np.random.RandomState(seed)
    batches, task_lists = [], []
    for _ in range(n_batches):
        tasks = []
        for t in sampler.sample(batch, rng):
            labels, ys = np.unique(t.y_support, return_inverse=True)
            yq = np.searchsorted(labels, t.y_query)
            tasks.append(Task(t.X_support[:, None], ys, t.X_query[:, None], yq))
        task_lists.append(tasks)
        batches.append(tuple(torch.as_tensor(np.stack([getattr(t, f) for t in tasks]))
                             for f in ("X_support", "y_support", "X_query", "y_query")))
    return batches, task_lists


def as_float64(batch):
    return tuple(t.double() if t.is_floating_point() else t for t in batch)


def episodes(case, batch):
    xs, ys, xq, yq = batch
    return Episodes(xs, ys, xq, yq, case.n_way if case.conv else 0)


# ------------------------------------------------------------------ methods
class Method:
    """One implementation of a case: its meta-gradient, and one meta-iteration."""

    name = "?"

    def __init__(self, case, w0):
        self.case = case

    def meta_grad(self, batch):
        """``{name: tensor}`` at the current weights, without a step."""
        raise NotImplementedError

    def iteration(self, batch):
        raise NotImplementedError

    def time(self, batches, warmup, repeat):
        it = iter(range(10**9))
        return H.time_calls(lambda: self.iteration(batches[next(it) % len(batches)]),
                            repeat=repeat, warmup=warmup)


class TorchMethod(Method):
    """A method whose meta-gradient lands in ``.grad`` of ``self.named()``."""

    def named(self):
        raise NotImplementedError

    def accumulate(self, batch):
        raise NotImplementedError

    def meta_grad(self, batch):
        for _, p in self.named():
            p.grad = None
        self.accumulate(batch)
        return {k: p.grad.detach().clone() for k, p in self.named() if p.grad is not None}

    def iteration(self, batch):
        self.opt.zero_grad(set_to_none=True)
        self.accumulate(batch)
        self.opt.step()


class Loop(TorchMethod):
    name = "plain loop"

    def __init__(self, case, w0):
        super().__init__(case, w0)
        self.net = build_net(case, w0)
        self.params = dict(self.net.named_parameters())
        self.lrs = None
        if case.meta_sgd:
            self.lrs = {k: torch.full_like(p, case.inner_lr, requires_grad=True)
                        for k, p in self.params.items()}
        if case.algo == "reptile":
            self.opt = torch.optim.SGD(self.net.parameters(), lr=0.1)
        else:
            extra = [] if self.lrs is None else list(self.lrs.values())
            self.opt = torch.optim.Adam(outer_params(self.params.items()) + extra, lr=OUTER_LR)

    def named(self):
        return list(self.params.items()) + [(f"lr.{k}", v) for k, v in (self.lrs or {}).items()]

    def call(self, w):
        return lambda x: functional_call(self.net, w, (x,))

    def float64(self):
        """A float64 copy, for the float64 check."""
        other = copy.deepcopy(self)
        other.net.double()
        other.params = dict(other.net.named_parameters())
        if other.lrs is not None:
            other.lrs = {k: v.detach().double().requires_grad_(True)
                         for k, v in other.lrs.items()}
        return other

    def grad64(self, batch):
        return self.float64().meta_grad(as_float64(batch))

    def accumulate(self, batch):
        c = self.case
        xs, ys, xq, yq = batch
        n = len(xs)
        if c.algo == "maml":
            for i in range(n):
                fast = self.params
                for _ in range(c.steps):
                    loss = loss_fn(c, self.call(fast)(xs[i]), ys[i])
                    grads = torch.autograd.grad(loss, list(fast.values()),
                                                create_graph=not c.first_order)
                    fast = {k: w - (self.lrs[k] if self.lrs else c.inner_lr) * g
                            for (k, w), g in zip(fast.items(), grads)}
                q = loss_fn(c, query_out(c, self.call(fast), xs[i], xq[i]), yq[i])
                (q / n).backward()
        elif c.algo == "reptile":
            x, y = torch.cat([xs, xq], 1), torch.cat([ys, yq], 1)
            total = {k: torch.zeros_like(p) for k, p in self.params.items()}
            for i in range(n):
                fast = {k: p.detach().requires_grad_(True) for k, p in self.params.items()}
                for _ in range(c.steps):
                    loss = loss_fn(c, self.call(fast)(x[i]), y[i])
                    grads = torch.autograd.grad(loss, list(fast.values()))
                    fast = {k: (w - c.inner_lr * g).detach().requires_grad_(True)
                            for (k, w), g in zip(fast.items(), grads)}
                for k in total:
                    total[k] += self.params[k].detach() - fast[k].detach()
            for k, p in self.params.items():
                p.grad = total[k] / n
        elif c.algo == "proto-train":
            logits = self.proto_logits(xs[0], ys[0], xq[0])
            F.cross_entropy(logits, yq[0]).backward()

    def proto_logits(self, xs, ys, xq, support_stats=False):
        ns = len(xs)
        with support_statistics(ns) if support_stats else contextlib.nullcontext():
            e = self.net(torch.cat([xs, xq]))
        es, eq = e[:ns], e[ns:]
        n_way = int(ys.max()) + 1
        protos = e.new_zeros(n_way, e.shape[1]).index_add_(0, ys, es)
        protos = protos / torch.bincount(ys, minlength=n_way)[:, None]
        return -torch.cdist(eq, protos) ** 2

    @torch.no_grad()
    def eval_episode(self, task):
        """Accuracy and class probabilities of one episode (numpy in, as a user has it)."""
        dtype = self.net.blocks[0].weight.dtype
        xs, xq = (torch.as_tensor(a).to(dtype) for a in (task.X_support, task.X_query))
        ys, yq = torch.as_tensor(task.y_support), torch.as_tensor(task.y_query)
        logits = self.proto_logits(xs, ys, xq, support_stats=True)
        return float((logits.argmax(1) == yq).float().mean()), logits.softmax(1)


class Learn2Learn(TorchMethod):
    name = "learn2learn"

    def __init__(self, case, w0):
        super().__init__(case, w0)
        l2l = PEERS["learn2learn"]
        net = build_net(case, w0)
        if case.meta_sgd:
            self.maml = l2l.algorithms.MetaSGD(net, lr=case.inner_lr, first_order=False)
        else:
            self.maml = l2l.algorithms.MAML(net, lr=case.inner_lr, first_order=case.first_order)
        self.opt = torch.optim.Adam(outer_params(self.maml.named_parameters()), lr=OUTER_LR)

    def named(self):
        names = [k for k, _ in self.maml.module.named_parameters()]
        out = [(k, p) for k, p in self.maml.module.named_parameters()]
        if self.case.meta_sgd:
            out += [(f"lr.{k}", p) for k, p in zip(names, self.maml.lrs)]
        return out

    def accumulate(self, batch):
        c = self.case
        xs, ys, xq, yq = batch
        for i in range(len(xs)):
            learner = self.maml.clone()
            for _ in range(c.steps):
                learner.adapt(loss_fn(c, learner(xs[i]), ys[i]))
            q = loss_fn(c, query_out(c, learner, xs[i], xq[i]), yq[i])
            (q / len(xs)).backward()


class Higher(TorchMethod):
    name = "higher"

    def __init__(self, case, w0):
        super().__init__(case, w0)
        self.net = build_net(case, w0)
        params = list(self.net.parameters())
        self.lrs, self.override = None, None
        if case.meta_sgd:  # one group per tensor, its learned step sizes as the group's lr
            self.inner = torch.optim.SGD([{"params": [p]} for p in params], lr=case.inner_lr)
            self.lrs = [torch.full_like(p, case.inner_lr, requires_grad=True) for p in params]
            self.override = {"lr": self.lrs}
        else:
            self.inner = torch.optim.SGD(params, lr=case.inner_lr)
        self.opt = torch.optim.Adam(outer_params(self.net.named_parameters())
                                    + (self.lrs or []), lr=OUTER_LR)

    def named(self):
        out = list(self.net.named_parameters())
        if self.lrs:
            out += [(f"lr.{k}", v) for (k, _), v in zip(self.net.named_parameters(), self.lrs)]
        return out

    def accumulate(self, batch):
        higher = PEERS["higher"]
        c = self.case
        xs, ys, xq, yq = batch
        n = len(xs)
        params = list(self.net.parameters())
        for i in range(n):
            with higher.innerloop_ctx(self.net, self.inner, copy_initial_weights=False,
                                      track_higher_grads=not c.first_order,
                                      override=self.override) as (fnet, diffopt):
                for _ in range(c.steps):
                    diffopt.step(loss_fn(c, fnet(xs[i]), ys[i]))
                q = loss_fn(c, query_out(c, fnet, xs[i], xq[i]), yq[i]) / n
                if c.first_order:
                    # without higher-order tracking the fast weights are detached:
                    # FOMAML's gradient is the query gradient at the fast weights
                    grads = torch.autograd.grad(q, list(fnet.parameters()))
                    for p, g in zip(params, grads):
                        p.grad = g if p.grad is None else p.grad + g
                else:
                    q.backward()


class TorchOpt(TorchMethod):
    name = "torchopt"

    def __init__(self, case, w0):
        super().__init__(case, w0)
        self.net = build_net(case, w0)
        self.keys = [k for k, _ in self.net.named_parameters()]
        self.params = tuple(p for _, p in self.net.named_parameters())
        self.tx = PEERS["torchopt"].sgd(lr=case.inner_lr)
        self.opt = torch.optim.Adam(outer_params(self.net.named_parameters()), lr=OUTER_LR)

    def named(self):
        return list(self.net.named_parameters())

    def call(self, params):
        w = dict(zip(self.keys, params))
        return lambda x: functional_call(self.net, w, (x,))

    def accumulate(self, batch):
        torchopt = PEERS["torchopt"]
        c = self.case
        xs, ys, xq, yq = batch
        for i in range(len(xs)):
            params = self.params
            state = self.tx.init(params)
            for _ in range(c.steps):
                loss = loss_fn(c, self.call(params)(xs[i]), ys[i])
                grads = torch.autograd.grad(loss, params, create_graph=not c.first_order)
                updates, state = self.tx.update(grads, state, params=params, inplace=False)
                params = torchopt.apply_updates(params, updates, inplace=False)
            q = loss_fn(c, query_out(c, self.call(params), xs[i], xq[i]), yq[i])
            (q / len(xs)).backward()


class TorchMeta(TorchMethod):
    name = "torchmeta"

    def __init__(self, case, w0):
        super().__init__(case, w0)
        self.net = build_meta_net(case, w0)
        self.lrs = None
        if case.meta_sgd:
            self.lrs = {k: torch.full_like(p, case.inner_lr, requires_grad=True)
                        for k, p in self.net.meta_named_parameters()}
        self.opt = torch.optim.Adam(outer_params(self.net.named_parameters())
                                    + list((self.lrs or {}).values()), lr=OUTER_LR)

    def named(self):
        return list(self.net.named_parameters()) + [
            (f"lr.{k}", v) for k, v in (self.lrs or {}).items()]

    def accumulate(self, batch):
        from torchmeta.utils.gradient_based import gradient_update_parameters

        c = self.case
        xs, ys, xq, yq = batch
        for i in range(len(xs)):
            params = None
            for _ in range(c.steps):
                loss = loss_fn(c, self.net(xs[i], params=params), ys[i])
                params = gradient_update_parameters(
                    self.net, loss, params=params, step_size=self.lrs or c.inner_lr,
                    first_order=c.first_order)
            q = loss_fn(c, query_out(c, lambda x: self.net(x, params=params), xs[i], xq[i]),
                        yq[i])
            (q / len(xs)).backward()


class SkMeta(Method):
    """skmeta: the estimator's step object in skmeta's engine."""

    def __init__(self, case, w0, compile, init_tasks):
        super().__init__(case, w0)
        self.compile = compile
        self.name = "skmeta compiled" if compile else "skmeta eager"
        self.compile_s = None
        common = dict(max_iter=1, meta_batch_size=case.batch, compile=False, random_state=0)
        if case.algo == "maml":
            opts = dict(inner_steps=case.steps, first_order=case.first_order,
                        learn_inner_lr=case.meta_sgd, inner_lr=case.inner_lr,
                        meta_lr=OUTER_LR, **common)
            est = (MAMLClassifier(module="conv4", head_init="zero", **opts) if case.conv
                   else MAMLRegressor(**opts))
        elif case.algo == "reptile":
            est = ReptileRegressor(inner_steps=case.steps, inner_lr=case.inner_lr,
                                   outer_lr=0.1, **common)
        else:
            est = ProtoNetClassifier(module="conv4", meta_lr=OUTER_LR, **common)
        est.fit(init_tasks)
        theta = est.meta_params_
        with torch.no_grad():  # the same start as every method
            for k, v in theta["w"].items():
                v.copy_(w0[k])
            for v in theta.get("lr", {}).values():
                v.fill_(case.inner_lr)
        est.optimizer_ = est._make_optimizer(theta)  # fresh: Adam, or Reptile's SGD
        self.est, self.step = est, est._step()
        self.outer = self.step.outer_grad
        if compile and case.algo != "proto-eval":
            self.outer = maybe_compile(self.step.outer_grad)
        if case.algo == "proto-eval":
            est.set_params(compile=compile)

    def meta_grad(self, batch):
        ep = episodes(self.case, batch)
        # with the threads the engine will use: a compiled function is guarded on
        # the thread count, and would compile again in the timed run otherwise
        n = threads_for(self.step.model.module, ep.xs, ep.xq, batch_dims=2)
        t0 = time.perf_counter()
        with intra_op_threads(n):
            direction, _ = self.outer(self.est.meta_params_, ep)
        if self.compile:
            self.compile_s = time.perf_counter() - t0
            if getattr(self.outer, "compiled", True) is None:
                self.name = "skmeta compiled (compile failed: eager)"
        return self._named(direction)

    @staticmethod
    def _named(direction):
        out = {k: v.detach().clone() for k, v in direction["w"].items()}
        for k, v in direction.get("lr", {}).items():  # skmeta's per-task head is "@head"
            out[f"lr.{k.lstrip('@')}"] = v.detach().clone()
        return out

    def grad64(self, batch):
        """The meta-gradient of the same (eager) step in float64."""
        theta = tree_map(lambda t: t.detach().double(), self.est.meta_params_)
        direction, _ = type(self.step).outer_grad(self.step, theta,
                                                  episodes(self.case, as_float64(batch)))
        return self._named(direction)

    def time(self, batches, warmup, repeat):
        eps = [episodes(self.case, b) for b in batches]

        class Cycle:  # the engine's task source: the pre-built meta-batches in turn
            i = 0

            def next(self):
                Cycle.i += 1
                return eps[(Cycle.i - 1) % len(eps)]

        self.step.outer_grad = self.outer  # compiled once already (by the check)
        est = self.est
        n = warmup + repeat
        train(est, self.step, est.meta_params_, est.optimizer_, Cycle(), n,
              eval_every=10**9, compile=False)
        return H.timing([row["dur"] for row in est.history_[-n:]], warmup)


# --------------------------------------------------------------- evaluation
class LoopEval(Loop):
    name = "plain loop"

    def check(self, tasks):
        return torch.cat([self.eval_episode(t)[1] for t in tasks])

    def check64(self, tasks):
        return self.float64().check(tasks)

    def time(self, blocks, warmup, repeat):
        it = iter(range(10**9))

        def block():
            for t in blocks[next(it) % len(blocks)]:
                self.eval_episode(t)
        return H.time_calls(block, repeat=repeat, warmup=warmup)


class SkMetaEval(SkMeta):
    def check(self, tasks):
        t0 = time.perf_counter()
        out = self.est._task_outputs(tasks)
        if self.compile:
            self.compile_s = time.perf_counter() - t0
        return torch.cat([torch.as_tensor(o, dtype=torch.float32).softmax(1) for o in out])

    def check64(self, tasks):
        """The same class probabilities from the (eager) step in float64."""
        step = self.est._step()
        theta = tree_map(lambda t: t.detach().double(), self.est.meta_params_)
        out = []
        with torch.no_grad():
            for t in tasks:
                xs, xq = (torch.as_tensor(a).double()[None] for a in (t.X_support, t.X_query))
                ys, yq = (torch.as_tensor(a)[None] for a in (t.y_support, t.y_query))
                ep = Episodes(xs, ys, xq, yq, int(ys.max()) + 1)
                out.append(step.map_tasks(step.predict_task, theta, ep)[0].softmax(1))
        return torch.cat(out)

    def time(self, blocks, warmup, repeat):
        it = iter(range(10**9))
        return H.time_calls(lambda: evaluate_tasks(self.est, blocks[next(it) % len(blocks)]),
                            repeat=repeat, warmup=warmup)


# ------------------------------------------------------------------ running
def compare(ref, got, case):
    """``(ok, worst relative error, detail)`` of a meta-gradient against the loop's."""
    worst, detail = 0.0, ""
    for k, r in ref.items():
        g = got.get(k)
        if g is None:
            return False, float("inf"), f"{k} missing"
        if g.shape != r.shape:
            if g.numel() == 1:  # skmeta's one step size for a per-task head tensor
                r = r.sum()
            else:
                return False, float("inf"), f"{k}: shape {tuple(g.shape)} vs {tuple(r.shape)}"
        g, r = g.reshape(r.shape).double(), r.double()
        err = float((g - r).abs().max()) / max(float(r.abs().max()), FLOOR)
        if err > worst:
            worst, detail = err, k
        if not err <= RTOL:
            return False, err, f"{k}: max relative error {err:.2e}"
    return True, worst, detail


def method_classes(case):
    if case.algo in ("maml",):
        peers = [("learn2learn", Learn2Learn), ("higher", Higher), ("torchmeta", TorchMeta)]
        if not case.meta_sgd:  # torchopt has no learned per-entry step sizes
            peers.insert(2, ("torchopt", TorchOpt))
        return [(name, cls) for name, cls in peers]
    return []


def relevant_grads(ref, case):
    """The meta-parameters skmeta learns: all but the zero head (conv4 MAML)."""
    return {k: v for k, v in ref.items() if not k.startswith("head.")}


def f64_loop_error(loop, batches, block, eval_case, case):
    """How far the float32 plain loop is from its float64 self."""
    if eval_case:
        return compare({"p": loop.check64(block)}, {"p": loop.check(block)}, case)[1]
    return compare(relevant_grads(loop.grad64(batches[0]), case),
                   relevant_grads(loop.meta_grad(batches[0]), case), case)[1]


def run_case(case, args, notes):
    eval_case = case.algo == "proto-eval"
    warmup, repeat = ((args.conv_warmup, args.conv_repeat) if case.conv and case.algo == "maml"
                      else (args.warmup, args.repeat))
    n_batches = max(2, min(args.batches, warmup + repeat))
    batches, task_lists = make_data(
        case, n_batches, seed=0,
        batch=max(args.eval_block, args.eval_check) if eval_case else None)
    w0 = initial_weights(case)
    init_tasks = (task_lists[0][:4] if case.conv else
                  [Task(xs.numpy(), ys.numpy()[:, 0], xq.numpy(), yq.numpy()[:, 0])
                   for xs, ys, xq, yq in zip(*(t[:4] for t in batches[0]))])
    loop = (LoopEval if eval_case else Loop)(case, w0)
    methods = [loop]
    for compile in ([False, True] if args.compile else [False]):
        methods.append((SkMetaEval if eval_case else SkMeta)(case, w0, compile, init_tasks))
    for name, cls in method_classes(case):
        if isinstance(PEERS.get(name), str) or name not in PEERS:
            notes.setdefault(case.name, []).append(f"{name} skipped: {PEERS.get(name)}")
            continue
        methods.append(cls(case, w0))

    # 1. every method's meta-gradient against the loop's, before any timing
    checks, block = {}, None
    if eval_case:
        block = task_lists[0][:args.eval_check]
        ref = loop.check(block)
        for m in methods[1:]:
            got = m.check(block)
            checks[m.name] = compare({"probabilities": ref}, {"probabilities": got}, case)
    else:
        ref = relevant_grads(loop.meta_grad(batches[0]), case)
        for m in methods[1:]:
            checks[m.name] = compare(ref, m.meta_grad(batches[0]), case)
    # a float32 difference is either another computation or rounding: where a
    # method has a float64 version, the same check in float64 tells which
    by_name, ref64, f64 = {m.name: m for m in methods}, None, {}
    for name, (ok, err, detail) in checks.items():
        m = by_name[name]
        if ok or not hasattr(m, "grad64" if not eval_case else "check64"):
            continue
        if eval_case:
            ref64 = loop.check64(block) if ref64 is None else ref64
            f64[name] = compare({"probabilities": ref64}, {"probabilities": m.check64(block)},
                                case)
        else:
            ref64 = relevant_grads(loop.grad64(batches[0]), case) if ref64 is None else ref64
            f64[name] = compare(ref64, m.grad64(batches[0]), case)
    bad = {}
    for name, (ok, err, detail) in checks.items():
        line = f"  check {name:<28} {'ok' if ok else 'DIFFERS'}  max rel. error {err:.1e}"
        if not ok and name in f64:
            ok64, err64, _ = f64[name]
            line += (f" in float32 ({detail}); float64: {'ok' if ok64 else 'DIFFERS'}, "
                     f"{err64:.1e}")
            if ok64:
                notes.setdefault(case.name, []).append(
                    f"{name}: in float32, {detail} against the plain loop; the same "
                    f"computation in float64 agrees with the loop's to {err64:.0e}, so the "
                    "difference is float32 rounding (the float32 loop is within "
                    f"{float(f64_loop_error(loop, batches, block, eval_case, case)):.0e} of "
                    "its float64 self)")
        elif not ok:
            line += f"  {detail}"
        print(line, flush=True)
        if not ok and not (name in f64 and f64[name][0]):
            bad[name] = (err, detail)
    assert not bad, f"{case.name}: meta-gradients differ from the plain loop's: {bad}"

    # 2. timing, one method after the other on the same meta-batches
    rows = []
    data = [tl[:args.eval_block] for tl in task_lists] if eval_case else batches
    for m in methods:
        t = m.time(data, warmup, repeat)
        per = args.eval_block if eval_case else 1
        row = {"method": m.name, "ms": t.ms / per, "iqr_ms": 1e3 * t.iqr / per, "n": t.n,
               "first_s": t.first / per, "compile_s": getattr(m, "compile_s", None),
               "check_rel_error": checks.get(m.name, (True, 0.0, ""))[1],
               "check_rel_error_float64": f64.get(m.name, (None, None))[1]}
        rows.append(row)
        print(f"  {m.name:<30} {row['ms']:9.2f} ms  (IQR {row['iqr_ms']:.2f})", flush=True)
    base = {r["method"]: r["ms"] for r in rows}
    for r in rows:
        r["x_loop"] = base["plain loop"] / r["ms"]
        r["x_l2l"] = base["learn2learn"] / r["ms"] if "learn2learn" in base else None
    return rows


#: Issue 10's goals on 2 CPU cores: (case prefix, ratio column, target, what).
GOALS = [
    ("sin-maml2-", "x_l2l", 15, "MAML second order: at least 15x learn2learn"),
    ("conv-maml2-", "x_l2l", 15, "MAML second order: at least 15x learn2learn"),
    ("sin-maml2-", "x_loop", 10, "MAML second order: at least 10x the plain loop"),
    ("conv-maml2-", "x_loop", 10, "MAML second order: at least 10x the plain loop"),
    ("sin-reptile", "x_loop", 10, "Reptile: at least 10x the plain loop"),
    ("proto-train-", "x_loop", 1, "ProtoNet training: at least the plain loop"),
    ("proto-eval-", "x_loop", 3, "ProtoNet evaluation: at least 3x the plain loop"),
]


def goals(results):
    """One row per goal and case: skmeta's better variant against the target."""
    rows = []
    for prefix, col, target, what in GOALS:
        for name, case_rows in results.items():
            if not name.startswith(prefix):
                continue
            sk = [r for r in case_rows if r["method"].startswith("skmeta") and r.get(col)]
            if not sk:
                continue
            best = max(sk, key=lambda r: r[col])
            rows.append({"goal": what, "case": CASES[name].label, "method": best["method"],
                         "ratio": best[col], "target": target,
                         "met": "yes" if best[col] >= target else "no"})
    return rows


def markdown(results, notes, info, args, peer_versions, compat_notes):
    unit = {True: "ms per episode", False: "ms per meta-iteration"}
    lines = [
        "Side by side in one process on identical tasks, networks and initial weights "
        f"(see `benchmarks/bench_peers.py`); median after {args.warmup} warm-up "
        f"iterations of {args.repeat} timed ones ({args.conv_warmup} and {args.conv_repeat} "
        "for the conv4 MAML cases, whose iterations take seconds), IQR in brackets. `x loop` and `x l2l`: "
        "how many times faster than the plain PyTorch loop and than learn2learn. Every "
        "meta-gradient was checked equal to the plain loop's before timing "
        "(`check`: largest error relative to the largest entry of a tensor; where the "
        "float32 check failed, `check in float64` is the same comparison in float64, "
        "which passed: the float32 difference is rounding, said under the table).",
        "",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in peer_versions.items() if v) + ".",
    ]
    for n in compat_notes:
        lines.append(f"Note: {n}.")
    summary = goals(results)
    if summary:
        lines += ["", "## Goals (issue 10, 2 CPU cores)", "", H.markdown_table(summary, [
            ("goal", "goal", ""), ("case", "case", ""), ("skmeta", "method", ""),
            ("ratio", "ratio", ".1f"), ("target", "target", "d"), ("met", "met", "")])]
    for case_name, rows in results.items():
        case = CASES[case_name]
        batch = f", meta-batch {case.batch}" if not case.algo.startswith("proto") else ""
        lines += ["", f"## {case.label}{batch}", ""]
        columns = [
            ("method", "method", ""),
            (unit[case.algo == "proto-eval"], "ms", ".2f"),
            ("IQR", "iqr_ms", ".2f"),
            ("x loop", "x_loop", ".2f"),
            ("x l2l", "x_l2l", ".2f"),
            ("compile (s)", "compile_s", ".1f"),
            ("check", "check_rel_error", ".0e"),
            ("check in float64", "check_rel_error_float64", ".0e"),
        ]
        lines.append(H.markdown_table(rows, [c for c in columns if any(
            r.get(c[1]) is not None for r in rows)]))
        for n in notes.get(case_name, []):
            lines += ["", f"- {n}"]
    return "\n".join(lines)


PEERS = {}
DATA = {}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="correctness run: every check, a few iterations, nothing written")
    parser.add_argument("--cases", nargs="*", default=None, choices=sorted(CASES),
                        metavar="CASE", help=f"cases to run (default all): {', '.join(CASES)}")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--conv-warmup", type=int, default=2,
                        help="warm-up iterations of the conv4 MAML cases (seconds each)")
    parser.add_argument("--conv-repeat", type=int, default=10,
                        help="timed iterations of the conv4 MAML cases")
    parser.add_argument("--batches", type=int, default=10,
                        help="distinct meta-batches cycled through")
    parser.add_argument("--eval-block", type=int, default=20,
                        help="evaluation episodes per timed block (ProtoNet evaluation)")
    parser.add_argument("--eval-check", type=int, default=5)
    parser.add_argument("--conv-meta-batch", type=int, default=None,
                        help="tasks per meta-batch of the conv4 MAML cases (default 32; "
                             "8 with --quick)")
    parser.add_argument("--no-compile", dest="compile", action="store_false",
                        help="leave out skmeta compiled")
    parser.add_argument("--data-home", default=None)
    parser.add_argument("--results-dir", default=None)
    args = parser.parse_args()
    if args.quick:
        args.warmup, args.repeat, args.batches, args.eval_block = 1, 2, 2, 4
        args.conv_warmup, args.conv_repeat = 1, 2
        if args.conv_meta_batch is None:
            args.conv_meta_batch = 8  # the checks do not depend on it; the time does
    if args.conv_meta_batch:
        for c in CASES.values():
            if c.conv and c.algo == "maml":
                c.batch = args.conv_meta_batch
    threads = H.bench_threads()
    peers, compat_notes = import_peers()
    PEERS.update(peers)
    DATA["omniglot"] = H.load_omniglot_or_random("background", data_home=args.data_home)
    info = H.machine()
    peer_versions = {"skmeta": __import__("skmeta").__version__, **versions(peers)}
    print(H.machine_line(info))
    print("peers:", peer_versions, "| data:", DATA["omniglot"][2], flush=True)
    for n in compat_notes:
        print("note:", n)
    names = args.cases or list(CASES)
    results, notes = {}, {}
    for name in names:
        print(f"{CASES[name].label}", flush=True)
        torch.set_num_threads(threads)
        results[name] = run_case(CASES[name], args, notes)
    md = markdown(results, notes, info, args, peer_versions, compat_notes)
    print(md)
    if not args.quick or args.results_dir:
        data = {"cases": {k: {"label": CASES[k].label, "rows": v} for k, v in results.items()},
                "goals": goals(results),
                "versions": peer_versions, "notes": notes, "compat_notes": compat_notes,
                "settings": vars(args), "data": DATA["omniglot"][2]}
        paths = H.write_results("peers", data, md, title="Speed against the peers",
                                info=info, results_dir=args.results_dir)
        print("wrote", *paths)


if __name__ == "__main__":
    main()
