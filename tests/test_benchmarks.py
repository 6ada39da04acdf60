"""The benchmark scripts of issue 10 still run: each one's ``--quick`` smoke
run, writing into a temporary folder (slow: minutes; ``make test-slow``).

Timing figures never go in tests; these check that a study's command works
end to end and writes its results, so that a change to the library cannot
silently break the evidence.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
OMNIGLOT = BENCH.parents[1] / "shared" / "datasets" / "omniglot" / "omniglot28.npz"


@pytest.mark.slow
@pytest.mark.parametrize("script, name, needs_omniglot", [
    ("bench_papers_sinusoid.py", "papers_sinusoid", False),
    ("bench_scaling.py", "scaling", False),
    ("bench_papers_omniglot.py", "papers_omniglot", True),
])
def test_study_quick_run_writes_its_results(tmp_path, script, name, needs_omniglot):
    if needs_omniglot and not OMNIGLOT.exists():
        pytest.skip("needs ../shared/datasets/omniglot")
    out = subprocess.run([sys.executable, str(BENCH / script), "--quick", "--results-dir",
                          str(tmp_path)], capture_output=True, text=True, cwd=BENCH)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads((tmp_path / f"{name}.json").read_text())
    assert result["machine"]["logical_cores"] >= 1 and result["data"]
    assert (tmp_path / f"{name}.md").read_text().count("|") > 10
    assert (tmp_path / f"{name}.png").stat().st_size > 10_000


def _omniglot_results(path, learners, minutes=3.0):
    """A results file of ``bench_papers_omniglot.py`` as one run writes it."""
    protocols = ("5-way 1-shot", "5-way 5-shot", "20-way 1-shot", "20-way 5-shot")
    rows = [{"learner": n, "protocol": p, "accuracy": 0.5 + 0.01 * i, "ci": 0.01,
             "paper": None, "gap": None, "iterations": 10, "train_s": 60.0, "n_tasks": 600}
            for n in learners for i, p in enumerate(protocols)]
    curves = {n: [{"train_s": 60.0 * j, "iterations": 10 * j, "5-way 1-shot": 0.4 + 0.1 * j,
                   "20-way 1-shot": 0.2 + 0.1 * j} for j in (1, 2)] for n in learners}
    machine = {"cpu": "test CPU", "physical_cores": 2, "logical_cores": 2, "torch": "2",
               "torch_threads": 2, "gpu": None, "python": "3", "date": f"run of {learners[0]}",
               "load_at_start": [0.5, 0.5, 0.5], "load_at_end": [1.0, 1.0, 1.0]}
    settings = {"quick": False, "minutes": minutes, "checkpoints": 2, "n_test": 600,
                "n_check": 50, "learners": learners, "data_home": "x", "results_dir": None}
    path.write_text(json.dumps({"study": "papers_omniglot", "title": "t", "machine": machine,
                                "data": {"rows": rows, "curves": curves,
                                         "settings": settings}}))
    return path


def test_omniglot_study_merges_runs_of_separate_learners(tmp_path):
    """``--merge`` combines runs into one page in the study's learner order,
    names each run's machine, lets a later run replace a learner, and refuses
    runs with other settings."""
    first = _omniglot_results(tmp_path / "a.json", ["ProtoNet", "MAML"])
    second = _omniglot_results(tmp_path / "b.json", ["Reptile", "MAML"])
    out = tmp_path / "merged"
    run = subprocess.run([sys.executable, str(BENCH / "bench_papers_omniglot.py"), "--merge",
                          str(first), str(second), "--results-dir", str(out)],
                         capture_output=True, text=True, cwd=BENCH)
    assert run.returncode == 0, run.stderr[-3000:]
    data = json.loads((out / "papers_omniglot.json").read_text())["data"]
    assert list(data["curves"]) == ["ProtoNet", "MAML", "Reptile"]
    assert [r["learner"] for r in data["rows"]] == ["ProtoNet"] * 4 + ["MAML"] * 4 + ["Reptile"] * 4
    assert [r["learners"] for r in data["runs"]] == [["ProtoNet", "MAML"], ["Reptile", "MAML"]]
    md = (out / "papers_omniglot.md").read_text()
    assert "Merged from 2 runs" in md and "- Reptile, MAML: run of Reptile" in md
    assert md.count("| Reptile | 20-way 5-shot |") == 1

    other = _omniglot_results(tmp_path / "c.json", ["Siamese"], minutes=6.0)
    run = subprocess.run([sys.executable, str(BENCH / "bench_papers_omniglot.py"), "--merge",
                          str(first), str(other), "--results-dir", str(tmp_path / "no")],
                         capture_output=True, text=True, cwd=BENCH)
    assert run.returncode != 0 and "c.json: settings" in run.stderr
    assert not (tmp_path / "no").exists()


@pytest.mark.slow
def test_allocator_study_times_both_environments(tmp_path):
    out = subprocess.run([sys.executable, str(BENCH / "bench_allocator.py"), "--repeat", "1",
                          "--results-dir", str(tmp_path)], capture_output=True, text=True,
                         cwd=BENCH)
    assert out.returncode == 0, out.stderr[-3000:]
    rows = json.loads((tmp_path / "allocator.json").read_text())["data"]["rows"]
    assert [r["case"] for r in rows] == ["train 60-way 5-shot 5-query",
                                         "evaluate 60-way 5-shot 5-query",
                                         "evaluate 5-way 1-shot 15-query"]
    assert all(r["default"] > 0 and r["keep"] > 0 for r in rows)
