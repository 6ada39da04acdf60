"""The benchmarks' shared harness: machine, timing, memory, intervals, results.

Every study script in ``benchmarks/`` uses these pieces, so that its numbers
are taken and reported the same way:

* :func:`machine`: what the numbers were measured on (CPU model, physical
  and logical cores, torch version and intra-op threads, GPU, date, load
  average at the start), and :func:`machine_line`, the same as one line of
  Markdown;
* :func:`bench_threads`: torch's intra-op threads for a run, from
  ``$SKMETA_BENCH_THREADS`` (default: all logical cores);
* :func:`time_calls` and :func:`timing`: seconds per call or per iteration,
  warm-up excluded, as a :class:`Timing` (median, quartiles and IQR, mean);
* :func:`peak_rss_mib`, :func:`run_peak_rss`, :func:`call_peak_rss`: CPU peak
  resident memory of this process, of a command, or of one function call in
  a fresh process; :func:`cuda_peak_mib`: torch's peak allocated GPU memory
  during a call;
* :func:`evaluate` (per-task scores of a meta-learner, through
  :func:`skmeta.model_selection.evaluate_tasks`) and :func:`interval` (mean and
  95% interval of per-task scores computed elsewhere, through the same
  function, so the project has one definition of its intervals);
* :func:`sinusoid_batches` and :func:`load_omniglot_or_random`: the task data
  the studies share;
* :func:`markdown_table` and :func:`write_results`: ``results/NAME.json``,
  ``results/NAME.md`` and optionally ``results/NAME.png``, each stamped with
  the machine description and the date.

The harness imports numpy, torch and scikit-learn at the top (skmeta and
matplotlib where used), so it also serves the peers' environment of
``benchmarks/bench_peers.py``.
"""

import datetime
import json
import math
import multiprocessing as mp
import os
import platform
import resource
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from sklearn.base import BaseEstimator
from skorch.callbacks import Callback

__all__ = [
    "RESULTS", "OMNIGLOT", "machine", "machine_line", "bench_threads", "Timing", "timing",
    "time_calls", "peak_rss_mib", "run_peak_rss", "call_peak_rss", "cuda_peak_mib",
    "evaluate", "interval", "sinusoid_batches", "load_omniglot_or_random",
    "maml_conv4_net", "TimeBudget", "markdown_table", "write_results",
]

RESULTS = Path(__file__).resolve().parent / "results"
#: The prepared Omniglot file of the shared datasets, beside the repository.
OMNIGLOT = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "omniglot"


# ------------------------------------------------------------------ machine
def _cpuinfo():
    """``(model name, physical cores, logical cores)`` from /proc/cpuinfo."""
    model, cores, logical = None, set(), 0
    try:
        with open("/proc/cpuinfo") as f:
            phys = "0"
            for line in f:
                key, _, value = line.partition(":")
                key, value = key.strip(), value.strip()
                if key == "processor":
                    logical += 1
                elif key == "model name" and model is None:
                    model = value
                elif key == "physical id":
                    phys = value
                elif key == "core id":
                    cores.add((phys, value))
    except OSError:
        pass
    logical = logical or os.cpu_count()
    return (model or platform.processor() or platform.machine(),
            len(cores) or logical, logical)


def loadavg():
    """The 1, 5 and 15 minute load averages, rounded (``None`` where the
    platform has none)."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def machine(device=None):
    """What a benchmark runs on, as a JSON-ready dict.

    Parameters
    ----------
    device : str or torch.device, optional
        The device of the run; the GPU is described when it is a CUDA one
        (or, with ``None``, whenever CUDA is available).

    Returns
    -------
    info : dict
        ``cpu`` (model name from /proc/cpuinfo), ``physical_cores``,
        ``logical_cores``, ``torch``, ``torch_threads``
        (``torch.get_num_threads()`` now), ``gpu`` (name or ``None``),
        ``python``, ``date`` (UTC, ISO format) and ``load_at_start`` (1, 5
        and 15 minute load averages).
    """
    model, physical, logical = _cpuinfo()
    gpu = None
    cuda = (torch.device(device).type == "cuda") if device is not None else True
    if cuda and torch.cuda.is_available():
        idx = torch.device(device).index if device is not None else None
        gpu = torch.cuda.get_device_name(idx or 0)
    return {
        "cpu": model, "physical_cores": physical, "logical_cores": logical,
        "torch": torch.__version__, "torch_threads": torch.get_num_threads(), "gpu": gpu,
        "python": platform.python_version(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "load_at_start": loadavg(),
    }


def machine_line(info):
    """``info`` from :func:`machine` as one Markdown line."""
    gpu = f", GPU {info['gpu']}" if info.get("gpu") else ", no GPU"
    load = info.get("load_at_start")
    load = f"; load average {load[0]:.2f} at start" if load else ""
    end = info.get("load_at_end")
    end = f", {end[0]:.2f} at end" if end else ""
    return (f"{info['date']}; {info['cpu']}, {info['physical_cores']} physical / "
            f"{info['logical_cores']} logical cores{gpu}; torch {info['torch']} with "
            f"{info['torch_threads']} intra-op threads; Python {info['python']}{load}{end}.")


def bench_threads(default=None):
    """Set torch's intra-op threads for a benchmark run and return them:
    ``$SKMETA_BENCH_THREADS`` where set, else ``default`` (all logical cores)."""
    n = int(os.environ.get("SKMETA_BENCH_THREADS", default or os.cpu_count()))
    torch.set_num_threads(n)
    return n


# ------------------------------------------------------------------- timing
@dataclass
class Timing:
    """Seconds per call (or per iteration) after the warm-up.

    ``median``, ``q1``, ``q3`` and ``iqr`` (= q3 - q1) in seconds, ``mean``,
    ``n`` timed samples, ``warmup`` samples left out, and ``first`` (the
    first sample of all, which holds one-off costs such as compilation).
    """

    median: float
    q1: float
    q3: float
    iqr: float
    mean: float
    n: int
    warmup: int
    first: float
    samples: list = field(default_factory=list, repr=False)

    @property
    def ms(self):
        """The median in milliseconds."""
        return 1e3 * self.median

    def to_dict(self, samples=False):
        """JSON-ready; per-sample seconds only when ``samples``."""
        d = asdict(self)
        if not samples:
            d.pop("samples")
        return d

    def __str__(self):
        return f"{self.ms:.2f} ms (IQR {1e3 * self.iqr:.2f}, n={self.n})"


def timing(durations, warmup=0):
    """A :class:`Timing` from recorded durations, the first ``warmup`` left out
    (for example an estimator's ``history_[:, "dur"]``)."""
    d = np.asarray(durations, dtype=float)
    if len(d) <= warmup:
        raise ValueError(f"{len(d)} durations leave nothing after a warm-up of {warmup}")
    kept = d[warmup:]
    q1, med, q3 = np.percentile(kept, [25, 50, 75])
    return Timing(median=float(med), q1=float(q1), q3=float(q3), iqr=float(q3 - q1),
                  mean=float(kept.mean()), n=len(kept), warmup=warmup, first=float(d[0]),
                  samples=[float(v) for v in kept])


def _sync(device):
    if device is not None and torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def time_calls(fn, repeat, warmup=3, device=None, number=1):
    """Time ``fn()``: ``warmup`` untimed calls, then ``repeat`` timed samples.

    Parameters
    ----------
    fn : callable
        Called without arguments; one call is one unit of work (a
        meta-iteration, an episode).
    repeat : int
        Timed samples.
    warmup : int, default=3
        Calls before timing (one-off costs: allocation, compilation). The
        first of them is kept as :attr:`Timing.first`.
    device : str or torch.device, optional
        A CUDA device is synchronised around each sample, so that queued
        kernels are counted.
    number : int, default=1
        Calls per sample; the sample is their mean (for calls too short
        for the clock).

    Returns
    -------
    Timing
    """
    durations = []
    for i in range(warmup + repeat):
        _sync(device)
        t0 = time.perf_counter()
        for _ in range(number if i >= warmup else 1):
            fn()
        _sync(device)
        durations.append((time.perf_counter() - t0) / (number if i >= warmup else 1))
    return timing(durations, warmup)


# ------------------------------------------------------------------- memory
def peak_rss_mib():
    """Peak resident memory of this process image so far, in MiB.

    Linux's ``VmHWM`` (/proc/self/status), which starts afresh at ``exec``;
    elsewhere ``getrusage``, whose figure for a spawned child also counts
    the parent it was forked from.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20


# Runs the command as its child and reports that child's resource.getrusage peak.
# A forked child's ru_maxrss counts the memory of the process it was forked
# from, so the fork happens here, in a bare interpreter (-S, a few MiB), not
# in the benchmark that may hold gigabytes.
_LAUNCHER = """
import os, sys
pid = os.fork()
if pid == 0:
    try:
        os.execvp(sys.argv[1], sys.argv[1:])
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
sys.stderr.write("\\n@@peak_rss_kib %d\\n" % usage.ru_maxrss)
sys.exit(os.waitstatus_to_exitcode(status))
"""
_MARK = "\n@@peak_rss_kib "


def run_peak_rss(argv, timeout=None, **popen_kwargs):
    """Run a command; ``(returncode, peak RSS in MiB, stdout, stderr)``.

    The peak is ``resource.getrusage``'s ``ru_maxrss`` of the command's own
    process (``os.wait4`` on its pid), forked from a bare launcher so that it
    does not count this process's memory (a floor of a few MiB). Output is
    captured as text; on ``timeout`` the command is killed (returncode < 0,
    peak ``nan``).
    """
    argv = [sys.executable, "-S", "-c", _LAUNCHER] + [str(a) for a in argv]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, **popen_kwargs)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        out, err = proc.communicate()
    peak = float("nan")
    if _MARK in err:
        err, _, tail = err.rpartition(_MARK)
        peak = int(tail.split()[0]) / 1024
    return proc.returncode, peak, out, err


def _call_child(conn, fn, args, kwargs):
    base = peak_rss_mib()
    try:
        result = fn(*args, **kwargs)
        conn.send(("ok", result, base, peak_rss_mib()))
    except BaseException as exc:  # reported to the parent
        conn.send(("error", repr(exc), base, peak_rss_mib()))
    finally:
        conn.close()


def call_peak_rss(fn, *args, **kwargs):
    """``fn(*args, **kwargs)`` in a fresh (spawned) process.

    ``fn`` must be importable (a module-level function) and its result
    picklable. Returns ``(result, peak_mib, baseline_mib)``: the child's
    peak RSS (:func:`peak_rss_mib`) after the call, and its peak before it
    (the interpreter plus the imports of ``fn``'s module), whose difference
    is the call's own. An exception in the child is raised here as a
    ``RuntimeError``.
    """
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_call_child, args=(child, fn, args, kwargs))
    proc.start()
    child.close()
    try:
        status, result, base, peak = parent.recv()
    except EOFError:
        proc.join()
        raise RuntimeError(f"the child running {getattr(fn, '__name__', fn)} died "
                           f"(exit code {proc.exitcode})") from None
    proc.join()
    if status != "ok":
        raise RuntimeError(f"{getattr(fn, '__name__', fn)} failed in the child: {result}")
    return result, peak, base


def cuda_peak_mib(fn, device="cuda"):
    """``(fn(), peak MiB)``: ``torch.cuda.max_memory_allocated`` during the
    call, from a reset of the peak statistics (memory already held counts)."""
    torch.cuda.synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    result = fn()
    torch.cuda.synchronize(device)
    return result, torch.cuda.max_memory_allocated(device) / 2**20


# --------------------------------------------------------------- statistics
def evaluate(estimator, tasks, scoring=None, confidence=0.95, **kwargs):
    """Few-shot score of a fitted skmeta estimator on ``tasks`` through
    :func:`skmeta.model_selection.evaluate_tasks`, as a JSON-ready dict:
    ``mean``, ``ci`` (half-width of the interval), ``confidence``,
    ``n_tasks`` and ``scores`` (one per task)."""
    from skmeta.model_selection import evaluate_tasks

    res = evaluate_tasks(estimator, tasks, scoring=scoring, confidence=confidence, **kwargs)
    return {"mean": res.mean, "ci": res.ci, "confidence": res.confidence,
            "n_tasks": len(res.scores), "scores": [float(s) for s in res.scores]}


class _Replay(BaseEstimator):
    """Stands for an estimator whose adaptation to task ``i`` scores ``scores[i]``;
    the task's one feature value is its index."""

    def __init__(self, scores):
        self.scores = scores

    def fit(self, X=None, y=None):
        return self

    def adapt(self, X_support, y_support):
        return _Score(self.scores[int(np.asarray(X_support)[0, 0])])


class _Score:
    def __init__(self, value):
        self.value = value


def _replayed(estimator, X, y):
    return estimator.value


def interval(scores, confidence=0.95):
    """Mean and interval of per-task scores computed outside skmeta (a peer,
    a plain loop), by :func:`skmeta.model_selection.evaluate_tasks` itself.

    The scores are replayed through ``evaluate_tasks`` (each "task" is one
    index, its "adaptation" returns the score given), so that every interval
    of the benchmarks comes from one definition. Returns the same dict as
    :func:`evaluate`.
    """
    from skmeta.model_selection import evaluate_tasks

    scores = np.asarray(scores, dtype=float)
    tasks = [(np.array([[i]], float), np.zeros(1), np.array([[i]], float), np.zeros(1))
             for i in range(len(scores))]
    res = evaluate_tasks(_Replay(scores), tasks, scoring=_replayed, confidence=confidence)
    return {"mean": res.mean, "ci": res.ci, "confidence": res.confidence,
            "n_tasks": len(res.scores), "scores": [float(s) for s in res.scores]}


# ---------------------------------------------------------------- task data
def sinusoid_batches(n_batches, batch_size=25, n_support=10, n_query=10, seed=0):
    """``n_batches`` meta-batches of the MAML sinusoid family as float32 tensors
    ``(xs, ys, xq, yq)`` of shapes ``(batch_size, rows, 1)``."""
    from skmeta.datasets import SinusoidTasks

    sampler, rng = SinusoidTasks(n_support, n_query), np.random.RandomState(seed)
    out = []
    for _ in range(n_batches):
        Xs, ys, Xq, yq = sampler.sample_batch(batch_size, rng)
        out.append(tuple(torch.as_tensor(np.asarray(a, np.float32)).reshape(batch_size, -1, 1)
                         for a in (Xs, ys, Xq, yq)))
    return out


def load_omniglot_or_random(split="background", rotations=False, data_home=None,
                            n_classes=200, per_class=20, seed=0):
    """``(X, y, source)``: the 28x28 Omniglot split from ``data_home`` (default
    :data:`OMNIGLOT`) when its file is there, else random images of
    ``n_classes`` classes (``source`` says which; speed does not depend on the
    pixels, accuracy does)."""
    home = Path(data_home) if data_home is not None else OMNIGLOT
    if (home / "omniglot28.npz").exists():
        from skmeta.datasets import load_omniglot

        X, y = load_omniglot(str(home), split=split, rotations=rotations, return_X_y=True)
        return np.asarray(X, np.float32), np.asarray(y), f"Omniglot ({split})"
    rng = np.random.RandomState(seed)
    X = rng.rand(n_classes * per_class, 28, 28).astype(np.float32)
    return X, np.repeat(np.arange(n_classes), per_class), "random 28x28 images"


def maml_conv4_net(n_way=5):
    """The MAML paper's conv4 as plain PyTorch writes it: 4 x [3x3 conv 64,
    ``BatchNorm2d`` with batch statistics, ReLU, 2x2 max-pool (``ceil_mode``,
    as skmeta's conv4)] and a linear ``n_way`` head on 28x28 images."""
    from torch import nn

    layers, width = [], 1
    for _ in range(4):
        layers += [nn.Conv2d(width, 64, 3, padding=1),
                   nn.BatchNorm2d(64, track_running_stats=False), nn.ReLU(),
                   nn.MaxPool2d(2, ceil_mode=True)]
        width = 64
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(64 * 2 * 2, n_way))


class TimeBudget(Callback):
    """A skmeta (skorch) callback that stops meta-training after ``seconds`` of wall
    time (checked at each evaluation, every ``eval_every`` meta-iterations)."""

    def __init__(self, seconds):
        self.seconds = seconds

    def on_train_begin(self, net, **kwargs):
        self.start_ = time.perf_counter()

    def on_epoch_end(self, net, **kwargs):
        if time.perf_counter() - self.start_ > self.seconds:
            raise KeyboardInterrupt


# ------------------------------------------------------------------ results
def _fmt(value, spec):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if callable(spec):
        return spec(value)
    return format(value, spec) if spec else str(value)


def markdown_table(rows, columns):
    """A Markdown table from dicts.

    ``columns`` is a list of ``(header, key, format)``: ``format`` a format
    spec such as ``".2f"`` (numbers are right-aligned), a callable, or
    ``""`` for ``str``.
    """
    head = "| " + " | ".join(c[0] for c in columns) + " |"
    align = "| " + " | ".join("---:" if c[2] and c[2] != "s" else "---" for c in columns) + " |"
    body = ["| " + " | ".join(_fmt(r.get(c[1]), c[2]) for c in columns) + " |" for r in rows]
    return "\n".join([head, align] + body)


def _json_default(o):
    if isinstance(o, Timing):
        return o.to_dict()
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    return str(o)


def write_results(name, data, markdown, *, title, info=None, figure=None, results_dir=None):
    """Write ``NAME.json``, ``NAME.md`` and, with ``figure``, ``NAME.png``.

    Parameters
    ----------
    name : str
        File stem in ``results_dir`` (default :data:`RESULTS`).
    data : dict
        The study's numbers; stored under ``"data"`` beside ``"machine"``.
    markdown : str
        The body of the Markdown page (tables, notes), below its title and
        machine line.
    title : str
        The page title.
    info : dict, optional
        From :func:`machine` (taken now if omitted); its load average at the
        end is added.
    figure : matplotlib Figure, optional
        Saved as PNG with the machine line and the date written on it.
    results_dir : path, optional
        Where to write (a temporary folder for smoke runs).

    Returns
    -------
    paths : list of Path
    """
    info = dict(info or machine())
    info.setdefault("load_at_end", loadavg())
    out = Path(results_dir) if results_dir is not None else RESULTS
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"{name}.json", out / f"{name}.md"]
    paths[0].write_text(json.dumps({"study": name, "title": title, "machine": info,
                                    "data": data}, indent=2, default=_json_default) + "\n")
    paths[1].write_text(f"# {title}\n\n{machine_line(info)}\n\n{markdown.strip()}\n")
    if figure is not None:
        figure.text(0.01, 0.005, machine_line(info), fontsize=6, color="0.4",
                    ha="left", va="bottom", wrap=True)
        paths.append(out / f"{name}.png")
        figure.savefig(paths[-1], dpi=120, bbox_inches="tight")
    return paths
