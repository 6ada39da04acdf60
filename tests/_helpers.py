"""Helpers shared by the tests: float64 copies of the engine's inputs."""

import torch

from skmeta._torch._batches import TaskBank


def double_tree(tree):
    """A float64 copy of a (nested) dict of tensors."""
    return {k: (double_tree(v) if isinstance(v, dict) else v.detach().double())
            for k, v in tree.items()}


def episodes(est, tasks, dtype=torch.float64):
    """The engine's meta-batch of ``tasks`` (one :class:`Episodes`, padded where
    the tasks differ in size), with floating tensors in ``dtype``."""
    ep = TaskBank(tasks, est._encode, torch.device("cpu")).take()
    return ep.map(lambda t: t.to(dtype) if t.is_floating_point() else t)
