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
