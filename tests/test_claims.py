"""benchmarks/claims.py --quick runs end to end, writes the ledger and resumes."""

import json
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(REPO, "benchmarks", "claims.py")
DATA = os.path.join(os.path.dirname(REPO), "shared", "data", "mnist.npz")

# A subprocess training ten tiny models (about 50 s on one loaded core): slow.
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not os.path.exists(DATA), reason=f"MNIST not at {DATA}"),
]


def _run(output, *extra):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run(
        [sys.executable, SCRIPT, "--quick", "--data", DATA, "--output", str(output), *extra],
        capture_output=True, text=True, timeout=240, env=env, cwd=REPO,
    )


def test_quick_ledger_runs_and_resumes(tmp_path):
    result = _run(tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = [json.loads(line) for line in open(tmp_path / "claims.jsonl")]
    arms = {(r["claim"], r["arm"]) for r in lines}
    assert {("C1", "split"), ("C1", "plain"), ("C3", "gamix"), ("C3", "standard"),
            ("C4", "flow_beta0"), ("C4", "normal_beta1")} <= arms
    for record in lines:
        assert record["profile"] == "quick" and record["seed"] == 0
    text = open(tmp_path / "claims.md").read()
    for claim in ("## C1", "## C3", "## C4", "Widths and budgets are reduced"):
        assert claim in text
    assert "inconclusive (only 1 seed(s))" in text  # one seed: no verdict
    for claim in ("C1", "C3", "C4"):
        assert os.path.getsize(tmp_path / f"claims_{claim}.png") > 0
    assert open(tmp_path / "claims.csv").readline().startswith("claim,arm,seed,score,fd")

    # Resuming: every run is found in claims.jsonl, nothing is trained again.
    again = _run(tmp_path, "--claims", "C1,C3")
    assert again.returncode == 0, again.stderr[-3000:]
    assert len(open(tmp_path / "claims.jsonl").readlines()) == len(lines)
    assert "[claims] C1 split seed 0:" not in again.stdout
