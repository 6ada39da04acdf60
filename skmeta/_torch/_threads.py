"""Intra-op thread policy for meta-training on the CPU.

Policy
------
A fit runs its meta-iterations with **one intra-op thread when the forward
pass of one meta-batch is small** (fewer than :data:`SERIAL_MACS`, 10 million,
multiply-adds over all tasks and rows of the meta-batch), and with the
calling thread's current count (``torch.get_num_threads()``: torch's default,
``OMP_NUM_THREADS`` or the user's own ``torch.set_num_threads``) otherwise.
The count is set with :class:`intra_op_threads` around the outer loop and
the caller's count is restored afterwards, also on an exception. The
policy only lowers the count, never raises it above the user's setting, and
leaves GPU fits alone.

Why
---
Every torch CPU kernel that runs in parallel opens an OpenMP region and
ends at a barrier. A small network (MAML's 2x40 MLP: a (25, 10, 40) x
(40, 40) batched matmul is 0.4 M multiply-adds) gains nothing from a second
thread when the machine is idle, but when another process is busy on the
cores, the sibling thread is often descheduled and every region waits for it
for up to a scheduler time slice. scikit-learn limits the threads of KMeans
with threadpoolctl for the same reason. Measured on 2 cores (AMD EPYC, torch
2.13.0 CPU, OpenMP backend; other test processes were running, load average
1.5 to 3, so absolute times are rough), median time per meta-iteration,
``compile=False``:

===============================================  ========  =========  =====
workload (forward multiply-adds per meta-batch)  1 thread  2 threads  2 / 1
===============================================  ========  =========  =====
MAMLRegressor sinusoid, 2x40, mb 25 (0.8 M)      12 ms     268 ms     22
MAMLClassifier tabular, 2x40, mb 25 (3.3 M)      17.7 ms   18.3 ms    1.04
MAMLRegressor sinusoid, 2x256, mb 25 (33 M)      75 ms     40 ms      0.53
ProtoNet conv4, 5-way 1+1, 28x28 (100 M)         28 ms     22 ms      0.79
ProtoNet conv4, 5-way 5+15, 28x28 (1 G)          231 ms    816 ms     3.5
ProtoNet conv4, 20-way 5+15, 28x28 (4 G)         1.6 s     2.1 s      1.3
===============================================  ========  =========  =====

(tabular: 20 features, 5-way 5+5 rows.)

Small MLP workloads are never faster with more threads and are up to 20x
slower beside busy processes, so they get one thread. Larger workloads can
use more threads (the 2x256 MLP and the smallest conv4 episodes were faster
with 2 threads even at load 2); the larger conv4 episodes were slower with 2
threads when the 2 cores were oversubscribed (load 2.5 to 4.5). For large
workloads the policy keeps the user's count, so on a shared machine the user
lowers it (``torch.set_num_threads(1)`` or ``OMP_NUM_THREADS=1``), and the
policy respects that. ``benchmarks/bench_busy_neighbour.py`` measures
MAML on sinusoids (and conv4 episodes) alone and beside one busy process,
with the engine's policy off (torch's default count, the behaviour before
it) and on. On an otherwise idle machine (load 0.9 at start; AMD EPYC, 2
cores) it gave for MAML 11.8 ms alone / 19.1 ms busy per meta-iteration
with 2 threads against 11.8 ms / 12.2 ms with the policy (1 thread): busy /
alone 1.04 instead of 1.61, nothing lost alone. For conv4 5-way 5+15
episodes, 2 threads took 139.5 ms alone and 330.2 ms busy, 1 thread
165.0 ms and 161.9 ms: the policy keeps the count there, 18% faster alone
and 2x slower beside a busy process; a user who shares the machine sets
``torch.set_num_threads(1)``.

Thread safety (checked on torch 2.13.0, OpenMP backend)
-------------------------------------------------------
``torch.set_num_threads(n)`` sets the *calling* thread's OpenMP ICV
(``omp_set_num_threads``) and MKL's thread-local count, and stores ``n`` as
a process-wide default. ``at::get_num_threads`` reads ``omp_get_max_threads``
after a per-thread lazy initialisation that copies that default. Hence:

* a thread that has already run a torch op (or called
  ``torch.get_num_threads``) keeps its own count while another thread is
  inside :class:`intra_op_threads` (checked by thread CPU time: a 1024x1024
  matmul, a conv and an ``exp`` still use two threads there);
* a thread whose *first* torch op (or ``torch.get_num_threads`` call) falls
  inside another thread's :class:`intra_op_threads` copies the lowered count
  and keeps it; ``torch.set_num_threads`` alone does not initialise a thread,
  so a thread that only called it is in the same case. This is the only
  leak; it lowers, never raises, a count. :class:`intra_op_threads` reads the
  count before changing it, so each skmeta fit running in a joblib or Dask
  thread sets and restores its own count.

``threadpoolctl.threadpool_limits(1, user_api="openmp")`` does find torch's
bundled ``torch/lib/libgomp.so.1`` and sets the calling thread's ICV
(``torch.get_num_threads()`` then reports 1), but once
``torch.set_num_threads`` has been called anywhere in the process (the test
suite's conftest and the benchmarks do), torch's lazy initialisation has set
MKL's thread-local count, and MKL's sgemm keeps using two threads under the
limit. So this module uses ``torch.set_num_threads`` from the thread that
runs the fit, and never calls it for another thread.
"""

import threading

import torch

__all__ = ["SERIAL_MACS", "intra_op_threads", "choose_num_threads", "forward_macs",
           "threads_for"]

#: Forward multiply-adds per meta-batch below which a fit uses one thread.
SERIAL_MACS = 10_000_000


class intra_op_threads:
    """Run a block with ``n`` torch intra-op threads in the calling thread.

    Restores the calling thread's previous count on exit, also on an
    exception; other threads that have run a torch op keep theirs (see the
    module docstring). Must be exited in the thread that entered it.

    Parameters
    ----------
    n : int or None, default=None
        Threads for the block; ``None`` leaves the count as it is until
        :meth:`set` is called.

    Examples
    --------
    >>> import torch
    >>> before = torch.get_num_threads()
    >>> with intra_op_threads(1):
    ...     torch.get_num_threads()
    1
    >>> torch.get_num_threads() == before
    True
    """

    def __init__(self, n=None):
        if n is not None and int(n) < 1:
            raise ValueError(f"n must be a positive number of threads, got {n!r}")
        self.n = None if n is None else int(n)
        self._prev = None
        self._owner = None

    def set(self, n):
        """Change the count inside the block (same thread only)."""
        if self._owner is None:
            raise RuntimeError("intra_op_threads.set is only valid inside the block")
        self._check_owner()
        n = int(n)
        if n < 1:
            raise ValueError(f"n must be a positive number of threads, got {n!r}")
        self.n = n
        if torch.get_num_threads() != n:
            torch.set_num_threads(n)

    def _check_owner(self):
        if threading.get_ident() != self._owner:
            raise RuntimeError("intra_op_threads must be used from the thread that "
                               "entered it: the count is per thread")

    def __enter__(self):
        if self._owner is not None:
            raise RuntimeError("intra_op_threads is not reentrant; use a new instance")
        self._owner = threading.get_ident()
        # reading the count first runs torch's per-thread lazy initialisation,
        # so the value restored is this thread's own
        self._prev = torch.get_num_threads()
        if self.n is not None and self.n != self._prev:
            torch.set_num_threads(self.n)
        return self

    def __exit__(self, *exc):
        self._check_owner()
        try:
            if torch.get_num_threads() != self._prev:
                torch.set_num_threads(self._prev)
        finally:
            self._owner = None
        return False


def choose_num_threads(macs, available=None):
    """Intra-op threads for a meta-batch whose forward pass costs ``macs``.

    Parameters
    ----------
    macs : float
        Forward multiply-adds of one meta-batch (all tasks, all rows).
    available : int, default=None
        The count to use for large workloads; ``None``: the calling thread's
        ``torch.get_num_threads()``.

    Returns
    -------
    n : int
        1 below :data:`SERIAL_MACS`, else ``available``.
    """
    if available is None:
        available = torch.get_num_threads()
    available = max(1, int(available))
    return 1 if macs < SERIAL_MACS else available


def _count_macs(module, example):
    from torch.utils.flop_counter import FlopCounterMode

    modes = [(m, m.training) for m in module.modules()]
    try:
        module.eval()  # no batch-norm running statistics updated
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            module(example)
    finally:
        for m, training in modes:
            m.training = training
    return counter.get_total_flops() / 2


def forward_macs(module, example):
    """Multiply-adds per row of ``module`` on rows shaped like ``example``.

    ``example`` is a batch of rows (its first axis is rows); at most two are
    run, in eval mode and without gradients, so the module's state is left
    unchanged. Where the module cannot be run this way, the number of its
    parameters (an MLP's multiply-adds per row) is returned.
    """
    rows = example[:2]
    try:
        macs = _count_macs(module, rows)
    except Exception:  # a module that needs more than a plain forward
        macs = 0.0
    if macs <= 0:
        return float(sum(p.numel() for p in module.parameters()))
    return macs / len(rows)


def threads_for(module, *inputs, batch_dims=1, available=None):
    """Intra-op threads for meta-training ``module`` on ``inputs``.

    Parameters
    ----------
    module : torch.nn.Module
        The network.
    *inputs : tensors
        The inputs of one meta-batch, e.g. the stacked support and query
        rows; the first ``batch_dims`` axes count rows (``batch_dims=2`` for
        tensors of shape ``(n_tasks, n_rows, *features)``). Inputs off the
        CPU leave the count at ``available``.
    batch_dims : int, default=1
    available : int, default=None
        As in :func:`choose_num_threads`.

    Returns
    -------
    n : int
    """
    if available is None:
        available = torch.get_num_threads()
    inputs = [x for x in inputs if isinstance(x, torch.Tensor) and x.numel()]
    if not inputs or inputs[0].device.type != "cpu":
        return max(1, int(available))
    x0 = inputs[0]
    per_row = forward_macs(module, x0.reshape(-1, *x0.shape[batch_dims:]))
    rows = sum(x.shape[:batch_dims].numel() for x in inputs)
    return choose_num_threads(per_row * rows, available)
