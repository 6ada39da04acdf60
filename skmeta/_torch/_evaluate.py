"""The batched evaluation kernel: adapt to many tasks and predict their query sets.

The fast path of :func:`skmeta.model_selection.evaluate_tasks`: tasks go
through one function (adapt, then predict) in chunks stacked on a task axis,
padded where their sizes differ, without gradients and in float32.
"""

import numpy as np
import torch

from ._engine import maybe_compile
from ._utils import to_numpy

__all__ = ["task_outputs"]


def eval_function(step, compile=False):
    """``f(theta, episodes)``: query outputs of stacked tasks after adaptation."""
    def fn(theta, episodes):
        return step.map_tasks(step.predict_task, theta, episodes)
    return maybe_compile(fn) if compile else fn


def task_outputs(fn, theta, bank, batch_size, compile=False):
    """Query outputs of every task of ``bank``, ``batch_size`` tasks per call.

    Parameters
    ----------
    fn : callable
        From :func:`eval_function`.
    theta : dict
        Meta-parameters (detached).
    bank : TaskBank
        The tasks (bucketed when compiling).
    batch_size : int
        Tasks per call.
    compile : bool
        Whether ``fn`` is compiled: the last chunk is then padded with
        repeated tasks, so every call has the same number of tasks.

    Returns
    -------
    outputs : list of ndarray
        Per task, float64 query outputs without padded rows or classes.
    """
    outputs = []
    with torch.no_grad():
        for start in range(0, len(bank), batch_size):
            idx = np.arange(start, min(start + batch_size, len(bank)))
            n = len(idx)
            if compile and len(bank) > batch_size:
                idx = np.resize(idx, batch_size)  # one shape, one compilation
            out = to_numpy(fn(theta, bank.take(idx))).astype(np.float64)
            outputs += [bank.unpad(i, o) for i, o in zip(idx[:n], out[:n])]
    return outputs
