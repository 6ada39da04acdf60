"""Large conv4 episodes on the CPU and glibc's malloc: the page-fault cost.

glibc's malloc serves blocks over its mmap threshold (at most 32 MiB) with
fresh ``mmap`` pages and unmaps them on free, so a tensor of 120 MiB (one
conv4 activation of a 600-image episode) is page-faulted in again on every
call. This study times the same ProtoNet work in child processes that
differ only in the environment they start with:

* ``default``: glibc's settings, what a user gets;
* ``keep``: ``MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=4294967295`` (no
  ``mmap`` blocks, freed memory kept for reuse).

Cases: a ProtoNet meta-training iteration on 60-way 5-shot 5-query episodes
(eager; the median of the per-iteration durations in ``history_``) and the
compiled evaluation of one episode through ``evaluate_tasks``, 60-way
5-shot 5-query (600 images) and 5-way 1-shot 15-query (80). The children
run one after the other, alone, in one invocation, so their ratios are
side by side. skmeta does not change the allocator of your process (a
library that did would hold its freed memory for the rest of the process);
the user guide says how to start Python with these settings.

Run ``python benchmarks/bench_allocator.py`` (about 4 minutes on 2 CPU cores).
Results: ``benchmarks/results/allocator.{json,md}``.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

import _harness as H

ENVIRONMENTS = {
    "default": {},
    "keep": {"MALLOC_MMAP_MAX_": "0", "MALLOC_TRIM_THRESHOLD_": "4294967295"},
}
EPISODES = {"train 60-way 5-shot 5-query": (60, 5, 5),
            "evaluate 60-way 5-shot 5-query": (60, 5, 5),
            "evaluate 5-way 1-shot 15-query": (5, 1, 15)}


def child(repeat):
    """The timings of one environment, as JSON on stdout."""
    import time

    from skmeta import EpisodeSampler, ProtoNetClassifier
    from skmeta.model_selection import evaluate_tasks

    H.bench_threads()
    X, y, source = H.load_omniglot_or_random()
    out = {"data": source}
    for case, (way, shot, query) in EPISODES.items():
        sampler = EpisodeSampler(X, y, n_way=way, k_shot=shot, n_query=query)
        if case.startswith("train"):
            est = ProtoNetClassifier(module="conv4", max_iter=repeat + 3, eval_every=1,
                                     compile=False, early_stopping=False, random_state=0)
            est.fit(sampler)
            durations = [h["dur"] for h in est.history_[3:]]
        else:
            est = ProtoNetClassifier(module="conv4", max_iter=1, compile=True, random_state=0)
            est.fit(EpisodeSampler(X, y, n_way=5, k_shot=1, n_query=5))
            episodes = sampler.sample(repeat + 3, 1)
            durations = []
            for i, ep in enumerate(episodes):
                t0 = time.perf_counter()
                evaluate_tasks(est, [ep])
                if i >= 3:  # the first compiles and warms up
                    durations.append(time.perf_counter() - t0)
        out[case] = 1e3 * statistics.median(durations)
    print("@@" + json.dumps(out))


def markdown(rows, source):
    return "\n".join([
        f"ProtoNet on conv4, {source}; each environment in its own child process, one after "
        "the other. `default`: glibc's malloc as it comes; `keep`: "
        "`MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=4294967295`. Milliseconds per iteration "
        "or episode (medians).", "",
        H.markdown_table(rows, [("case", "case", ""), ("default (ms)", "default", ".1f"),
                                ("keep (ms)", "keep", ".1f"),
                                ("default / keep", "ratio", ".2f")]),
    ]) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--results-dir", default=None)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.repeat)
    info = H.machine()
    print(H.machine_line(info), flush=True)
    times = {}
    for name, extra in ENVIRONMENTS.items():
        env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
        run = subprocess.run([sys.executable, __file__, "--child", "--repeat", str(args.repeat)],
                             env={**env, **extra}, capture_output=True, text=True, check=True)
        times[name] = json.loads(run.stdout.split("@@")[-1])
        print(name, times[name], flush=True)
    rows = [{"case": case, "default": times["default"][case], "keep": times["keep"][case],
             "ratio": times["default"][case] / times["keep"][case]} for case in EPISODES]
    md = markdown(rows, times["default"]["data"])
    print(md)
    H.write_results("allocator", {"rows": rows, "environments": ENVIRONMENTS}, md,
                    title="Large episodes on the CPU: glibc's malloc", info=info,
                    results_dir=args.results_dir)


if __name__ == "__main__":
    main()
