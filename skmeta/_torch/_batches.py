"""Tasks as stacked tensors: banks of equal-shape groups, and task sources.

A *group* is a tuple ``(Xs, ys, Xq, yq, n_way)`` of tensors stacked over
tasks of identical shapes, so one ``vmap`` call serves the whole group. A
meta-batch is a list of groups: one group when every task has the same
shape, several otherwise (the engine loops over them).
"""

from collections import defaultdict

import numpy as np
import torch

__all__ = ["TaskBank", "ListSource", "SamplerSource"]


class TaskBank:
    """Tasks with query sets, grouped by shape and stacked on a device.

    Parameters
    ----------
    tasks : list of Task
        Validated tasks, each with a query set.
    encode : callable
        ``encode(task) -> (ys, yq, n_way)`` as numpy arrays (targets of
        regression tasks as 2-D floats, class positions for classifiers).
    device : torch.device
        Where the tensors live.
    """

    def __init__(self, tasks, encode, device):
        members = defaultdict(list)
        encoded = []
        for i, t in enumerate(tasks):
            ys, yq, n_way = encode(t)
            encoded.append((ys, yq))
            key = (t.X_support.shape, t.X_query.shape, ys.shape, yq.shape, n_way)
            members[key].append(i)
        self.groups = []
        self.group_of = np.empty(len(tasks), dtype=np.int64)
        self.pos = np.empty(len(tasks), dtype=np.int64)
        for g, (key, idx) in enumerate(members.items()):
            self.group_of[idx] = g
            self.pos[idx] = np.arange(len(idx))
            ydtype = torch.int64 if key[4] else torch.float32

            def stack(arrays, dtype):
                return torch.as_tensor(np.stack(arrays), dtype=dtype).to(device)

            self.groups.append((
                stack([tasks[i].X_support for i in idx], torch.float32),
                stack([encoded[i][0] for i in idx], ydtype),
                stack([tasks[i].X_query for i in idx], torch.float32),
                stack([encoded[i][1] for i in idx], ydtype),
                key[4],
            ))
        self.device = device

    @classmethod
    def stacked(cls, Xs, ys, Xq, yq, device):
        """A one-group bank of regression tasks already stacked over tasks."""
        bank = cls([], None, device)

        def tensor(a, targets=False):
            a = np.asarray(a, dtype=np.float32)
            if targets and a.ndim == 2:
                a = a[..., None]
            return torch.as_tensor(a).to(device)

        bank.groups = [(tensor(Xs), tensor(ys, True), tensor(Xq), tensor(yq, True), 0)]
        bank.group_of = np.zeros(len(Xs), dtype=np.int64)
        bank.pos = np.arange(len(Xs))
        return bank

    def __len__(self):
        return len(self.group_of)

    def take(self, idx):
        """The groups holding tasks ``idx``."""
        if len(self.groups) == 1 and len(idx) == len(self):
            return self.groups
        out = []
        gid = self.group_of[idx]
        for g in np.unique(gid):
            sel = torch.as_tensor(self.pos[idx[gid == g]], device=self.device)
            *tensors, n_way = self.groups[g]
            out.append(tuple(t.index_select(0, sel) for t in tensors) + (n_way,))
        return out


class ListSource:
    """Meta-batches from a fixed list of tasks, reshuffled every pass.

    Pools (tasks without a query set) are split afresh each time they are
    drawn, with ``split(task, rng)``.
    """

    def __init__(self, tasks, encode, device, batch_size, rng, split):
        self.tasks, self.encode, self.device = tasks, encode, device
        self.batch_size = min(batch_size, len(tasks))
        self.rng, self.split = rng, split
        self.has_pools = any(t.is_pool for t in tasks)
        self.bank = None if self.has_pools else TaskBank(tasks, encode, device)
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
        return TaskBank(tasks, self.encode, self.device).groups

    def all(self):
        """Every task once (pools split once), for evaluation."""
        if self.bank is not None:
            return self.bank.groups
        tasks = [self.split(t, self.rng) for t in self.tasks]
        return TaskBank(tasks, self.encode, self.device).groups


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
                 check_batch=None):
        self.sampler, self.check, self.encode = sampler, check, encode
        self.check_batch = check_batch
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
            self.bank, self._cursor = TaskBank(tasks, self.encode, self.device), 0
