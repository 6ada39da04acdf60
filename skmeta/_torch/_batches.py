"""Tasks as stacked tensors: padded task banks, meta-batches, and task sources.

A meta-batch is one :class:`Episodes`: the support and query sets of its
tasks stacked on a leading task axis, so one ``vmap`` call (and one compiled
graph) serves it. Tasks of equal shapes stack as they are. Tasks of unequal
sizes (the normal case for real grouped data) are padded to a common shape,
with row masks ``ms``/``mq`` that every loss, class mean, batch-norm
statistic and inner gradient respects; when compiling, the padded sizes are
rounded up to a few bucket sizes so that one fit sees a handful of shapes.
Classification tasks with fewer classes than the meta-batch's widest are
padded with empty classes, which the heads mask out.
"""

from typing import NamedTuple, Optional

import numpy as np
import torch
from torch.nn.utils.rnn import pad_sequence

__all__ = ["Episodes", "TaskBank", "ListSource", "SamplerSource", "bucket"]


class Episodes(NamedTuple):
    """Tasks stacked over a leading axis: what the engine vmaps over.

    ``xs``/``xq`` are inputs ``(n_tasks, rows, ...)``, ``ys``/``yq`` targets
    (class positions for classifiers, 2-D floats for regression), ``n_way``
    the (padded) number of classes, and ``ms``/``mq`` float row masks
    ``(n_tasks, rows)`` where tasks were padded, else ``None``.
    """

    xs: torch.Tensor
    ys: torch.Tensor
    xq: torch.Tensor
    yq: torch.Tensor
    n_way: int
    ms: Optional[torch.Tensor] = None
    mq: Optional[torch.Tensor] = None

    @property
    def n_tasks(self):
        return self.xs.shape[0]

    @property
    def padded(self):
        return self.ms is not None

    def tensors(self):
        """The per-task tensors, in the order of the step functions' arguments."""
        return (self.xs, self.ys, self.xq, self.yq) + ((self.ms, self.mq) if self.padded else ())

    def map(self, fn):
        """The same episodes with ``fn`` applied to every tensor."""
        return self._replace(**{k: fn(getattr(self, k)) for k in ("xs", "ys", "xq", "yq", "ms", "mq")
                                if getattr(self, k) is not None})


_LADDER = np.array(sorted({int(b) for k in range(0, 20)
                           for b in (2 ** k, 3 * 2 ** k // 2) if b >= 1}))


def bucket(n):
    """``n`` rounded up to the next of 1, 2, 3, 4, 6, 8, 12, 16, 24, ... (at most
    1.5x), so padded shapes take few distinct values."""
    return int(_LADDER[np.searchsorted(_LADDER, n)])


class _Rows:
    """One field (support inputs, say) of every task of a bank, on a device.

    Stored as one padded tensor ``(n_tasks, width, ...)`` where that costs at
    most twice the real rows (the usual case: equal or similar sizes, one
    ``index_select`` per meta-batch), else as one tensor per task, padded when
    a meta-batch is taken (a few very large tasks among small ones would
    otherwise make every task as large as the largest).
    """

    def __init__(self, arrays, lengths, width, dtype, device):
        npdtype = np.int64 if dtype == torch.int64 else np.float32
        tail = np.asarray(arrays[0]).shape[1:]
        self.dense = len(arrays) * width <= 2 * max(int(lengths.sum()), 1)
        if self.dense:
            out = np.zeros((len(arrays), width) + tail, dtype=npdtype)
            for i, a in enumerate(arrays):
                out[i, :len(a)] = a
            self.data = torch.as_tensor(out).to(device)
        else:
            self.parts = [torch.as_tensor(np.asarray(a, dtype=npdtype)).to(device)
                          for a in arrays]

    @classmethod
    def of(cls, tensor):
        rows = cls.__new__(cls)
        rows.dense, rows.data = True, tensor
        return rows

    @property
    def width(self):
        return self.data.shape[1] if self.dense else max(len(p) for p in self.parts)

    def take(self, idx, sel, full, width):
        if self.dense:
            t = self.data if full else self.data.index_select(0, sel)
        else:
            t = pad_sequence([self.parts[i] for i in idx], batch_first=True)
        if t.shape[1] < width:  # bucketed beyond the stored (or longest selected) rows
            t = torch.cat([t, t.new_zeros((len(t), width - t.shape[1]) + t.shape[2:])], 1)
        return t[:, :width]


class TaskBank:
    """Tasks with query sets, stacked (and padded where sizes differ) on a device.

    Parameters
    ----------
    tasks : list of Task
        Validated tasks, each with a query set.
    encode : callable
        ``encode(task) -> (ys, yq, n_way)`` as numpy arrays (targets of
        regression tasks as 2-D floats, class positions for classifiers).
    device : torch.device
        Where the tensors live.
    buckets : bool, default=False
        Round padded sizes up with :func:`bucket` (for compiled functions,
        which specialise on shapes).
    """

    def __init__(self, tasks, encode, device, buckets=False):
        self.device, self.buckets = device, buckets
        if not tasks:
            return
        encoded = [encode(t) for t in tasks]
        self.ns = np.array([len(t.X_support) for t in tasks])
        self.nq = np.array([len(t.X_query) for t in tasks])
        self.n_way = np.array([e[2] for e in encoded])
        classifier = bool(self.n_way[0])
        ydtype = torch.int64 if classifier else torch.float32

        def stack(arrays, lengths, dtype):
            return _Rows(arrays, lengths, self._width(lengths), dtype, device)

        self.Xs = stack([t.X_support for t in tasks], self.ns, torch.float32)
        self.Xq = stack([t.X_query for t in tasks], self.nq, torch.float32)
        self.Ys = stack([e[0] for e in encoded], self.ns, ydtype)
        self.Yq = stack([e[1] for e in encoded], self.nq, ydtype)

    @classmethod
    def stacked(cls, Xs, ys, Xq, yq, device):
        """A bank of equal-size regression tasks already stacked over tasks."""
        bank = cls([], None, device)

        def tensor(a, targets=False):
            a = np.asarray(a, dtype=np.float32)
            if targets and a.ndim == 2:
                a = a[..., None]
            return _Rows.of(torch.as_tensor(a).to(device))

        bank.Xs, bank.Ys, bank.Xq, bank.Yq = tensor(Xs), tensor(ys, True), tensor(Xq), tensor(yq, True)
        n = len(bank.Xs.data)
        bank.ns = np.full(n, bank.Xs.width)
        bank.nq = np.full(n, bank.Xq.width)
        bank.n_way = np.zeros(n, dtype=np.int64)
        return bank

    def __len__(self):
        return len(self.ns)

    def _width(self, lengths):
        n = int(lengths.max())
        return bucket(n) if self.buckets and lengths.min() != n else n

    def take(self, idx=None):
        """The tasks ``idx`` (all by default) as one :class:`Episodes`, padded
        to the largest of them (bucketed), with masks only where needed."""
        if idx is None:
            idx = np.arange(len(self))
        idx = np.asarray(idx)
        ns, nq, n_way = self.ns[idx], self.nq[idx], self.n_way[idx]
        sel = torch.as_tensor(idx, device=self.device)
        full = len(idx) == len(self) and (idx == np.arange(len(self))).all()

        def rows(field, lengths):
            return field.take(idx, sel, full, self._width(lengths))

        ep = Episodes(rows(self.Xs, ns), rows(self.Ys, ns), rows(self.Xq, nq),
                      rows(self.Yq, nq), int(n_way.max()))
        if ns.min() == ep.xs.shape[1] and nq.min() == ep.xq.shape[1]:
            return ep  # no row padding (empty classes are masked by the heads)

        def mask(lengths, width):
            m = np.arange(width)[None] < lengths[:, None]
            return torch.as_tensor(m, dtype=torch.float32, device=self.device)

        return ep._replace(ms=mask(ns, ep.xs.shape[1]), mq=mask(nq, ep.xq.shape[1]))

    def unpad(self, i, out):
        """Task ``i``'s query outputs without padded rows and classes."""
        out = out[:self.nq[i]]
        return out[:, :self.n_way[i]] if self.n_way[i] else out


class ListSource:
    """Meta-batches from a fixed list of tasks, reshuffled every pass.

    Pools (tasks without a query set) are split afresh each time they are
    drawn, with ``split(task, rng)``.
    """

    def __init__(self, tasks, encode, device, batch_size, rng, split, buckets=False):
        self.tasks, self.encode, self.device = tasks, encode, device
        self.batch_size = min(batch_size, len(tasks))
        self.rng, self.split, self.buckets = rng, split, buckets
        self.has_pools = any(t.is_pool for t in tasks)
        self.bank = None if self.has_pools else TaskBank(tasks, encode, device, buckets)
        self._order, self._cursor = None, len(tasks)

    def _next_indices(self):
        if self._cursor + self.batch_size > len(self.tasks):
            self._order = self.rng.permutation(len(self.tasks))
            self._cursor = 0
        idx = self._order[self._cursor:self._cursor + self.batch_size]
        self._cursor += self.batch_size
        return idx

    def next(self):
        idx = self._next_indices()
        if self.bank is not None:
            return self.bank.take(idx)
        tasks = [self.split(self.tasks[i], self.rng) for i in idx]
        return TaskBank(tasks, self.encode, self.device, self.buckets).take()

    def all(self):
        """Every task once (pools split once), for evaluation."""
        if self.bank is not None:
            return self.bank.take()
        tasks = [self.split(t, self.rng) for t in self.tasks]
        return TaskBank(tasks, self.encode, self.device, self.buckets).take()


class SamplerSource:
    """Meta-batches of fresh tasks from a sampler, drawn in chunks.

    Parameters
    ----------
    sampler : TaskSampler
        Anything with ``sample(n_tasks, random_state)``.
    check : callable
        ``check(tasks) -> tasks``: normalisation and validation.
    chunk : int
        Meta-batches drawn at once (fewer, larger calls to the sampler).
    """

    def __init__(self, sampler, check, encode, device, batch_size, rng, split, chunk=16,
                 check_batch=None, buckets=False):
        self.sampler, self.check, self.encode = sampler, check, encode
        self.check_batch, self.buckets = check_batch, buckets
        self.device, self.batch_size, self.rng = device, batch_size, rng
        self.split, self.chunk = split, chunk
        self.bank, self._cursor = None, 0

    def next(self):
        if self.bank is None or self._cursor + self.batch_size > len(self.bank):
            self._refill()
        idx = np.arange(self._cursor, self._cursor + self.batch_size)
        self._cursor += self.batch_size
        return self.bank.take(idx)

    def _refill(self):
        n = self.batch_size * self.chunk
        if self.check_batch is not None and callable(getattr(self.sampler, "sample_batch", None)):
            arrays = self.check_batch(*self.sampler.sample_batch(n, self.rng))
            self.bank, self._cursor = TaskBank.stacked(*arrays, self.device), 0
        else:
            tasks = self.check(self.sampler.sample(n, self.rng))
            tasks = [self.split(t, self.rng) for t in tasks]
            self.bank = TaskBank(tasks, self.encode, self.device, self.buckets)
            self._cursor = 0
