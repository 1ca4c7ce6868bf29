"""benchmarks/claims.py: statistics, the gate in verdicts, --rescore, the quick and GPU-profile smoke runs."""

import importlib.util
import json
import math
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
from scipy import stats

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(REPO, "benchmarks", "claims.py")
DATA_DIR = os.path.join(os.path.dirname(REPO), "shared", "data")
HAS_DATA = os.path.exists(os.path.join(DATA_DIR, "mnist.npz"))


def _load():
    spec = importlib.util.spec_from_file_location("bench_claims", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


claims = _load()


def test_paired_statistics_match_scipy():
    diffs = [1.5, 2.0, 0.7, 1.1]
    stat = claims.paired_statistics(diffs)
    n, mean, sd = 4, np.mean(diffs), np.std(diffs, ddof=1)
    half = stats.t.ppf(0.975, n - 1) * sd / math.sqrt(n)
    assert stat["mean"] == pytest.approx(mean)
    assert stat["ci"] == pytest.approx((mean - half, mean + half))
    assert stat["p"] == pytest.approx(stats.ttest_1samp(diffs, 0.0).pvalue)
    assert claims.paired_statistics([None, 2.0])["ci"] is None


def test_holm_by_hand():
    # p sorted 0.01, 0.02, 0.04 of m = 3: 0.03, max(0.03, 0.04), max(0.04, 0.04); None stays None.
    assert claims.holm([0.04, None, 0.01, 0.02]) == pytest.approx([0.04, None, 0.03, 0.04])


def test_verdicts_need_the_gate_and_an_interval():
    holds = claims.paired_statistics([1.0, 1.2, 0.9])
    against = claims.paired_statistics([-1.0, -1.2, -0.9])
    straddles = claims.paired_statistics([1.0, -1.2, 0.3])
    assert claims.verdict(holds, gated=True) == "holds"
    assert claims.verdict(against, gated=True) == "does not hold"
    assert claims.verdict(straddles, gated=True) == "inconclusive"
    assert claims.verdict(holds, gated=False) == "not trained at this budget — no verdict"
    # The interval excludes 0 but the Holm-adjusted p does not reach 5%: the family decides.
    assert claims.verdict({**against, "p_holm": 0.30}, gated=True) == (
        "inconclusive after Holm (unadjusted: does not hold)")
    assert claims.verdict({**holds, "p_holm": 0.01}, gated=True) == "holds"


def _record(dataset, claim, arm, seed, config, scores, passed=True):
    return {"key": claims.run_key(dataset, claim, arm, seed, config[claim], config["name"]), "dataset": dataset,
            "claim": claim, "arm": arm, "seed": seed, "scores": scores, "wall_seconds": 1.0,
            "gate": {"passed": passed, "mse_ratio": 0.2 if passed else 0.9, "recall": 0.8 if passed else 0.1}}


def test_summary_withholds_verdicts_of_untrained_arms():
    config = claims.tiny(claims.CPU)
    config["seeds"] = (0, 1, 2)
    records = {}
    for seed in config["seeds"]:
        for arm, fd, passed in (("gamix", 10.0 + seed, True), ("standard", 20.0, seed != 2)):
            r = _record("mnist", "C3", arm, seed, config, {"normal": {"fd": fd, "recall": 0.5}, "rec": {"fd": fd}},
                        passed)
            records[r["key"]] = r
    entry = claims.summarise(records, config, "mnist", ["C3"])[0]
    fd = next(c for c in entry["comparisons"] if c["label"] == "FD of N(0, I) samples")
    assert fd["diffs"] == pytest.approx([10.0, 9.0, 8.0])  # baseline minus claimed: + favours GAMIX
    assert not fd["gated"] and fd["verdict"].startswith("not trained at this budget")
    # With every run through the gate the same numbers give a verdict.
    for r in records.values():
        r["gate"]["passed"] = True
    entry = claims.summarise(records, config, "mnist", ["C3"])[0]
    fd = next(c for c in entry["comparisons"] if c["label"] == "FD of N(0, I) samples")
    assert fd["verdict"] == "holds" and fd["p_holm"] is not None


def test_rescore_rejudges_saved_images_with_another_feature_model(tmp_path):
    """--rescore reads claims_samples/*.npz and scores every set with the named feature model, training nothing."""
    config = claims.tiny(claims.CPU)
    rng = np.random.default_rng(0)
    test_images = rng.uniform(size=(config["eval_images"], 32, 32, 1)).astype("float32")
    data = tmp_path / "data"
    data.mkdir()
    # A Keras-layout npz of 28x28 uint8 images (the loader pads them to 32x32).
    np.savez(data / "mnist.npz", x_train=rng.integers(0, 255, (100, 28, 28), dtype=np.uint8),
             y_train=np.zeros(100, np.uint8), x_test=(test_images[:, 2:30, 2:30, 0] * 255).astype(np.uint8),
             y_test=np.zeros(len(test_images), np.uint8))
    inputs = keras.Input((32, 32, 1))
    judge = keras.Model(inputs, keras.layers.Flatten()(keras.layers.AveragePooling2D(8)(inputs)))
    judge_path = tmp_path / "judge.keras"
    judge.save(judge_path)
    record = _record("mnist", "C4", "vae_beta1", 0, config, {"prior": {"fd": 1.0}})
    records = {record["key"]: record}
    saved = {"prior": rng.uniform(size=(20, 32, 32, 1)), "rec": rng.uniform(size=(20, 32, 32, 1))}
    path = claims.samples_path(str(tmp_path), record["key"])
    claims.save_samples(path, saved, config["saved_images"])
    with np.load(path) as npz:
        assert sorted(npz.files) == ["prior", "rec"]
        assert npz["prior"].dtype == np.uint8 and npz["prior"].shape == (20, 32, 32, 1)
    out, written = claims.rescore(records, config, str(data), str(tmp_path), str(judge_path))
    assert written == 1
    line = json.loads(open(out).read())
    assert line["key"] == record["key"] and set(line["scores"]) == {"prior", "rec"}
    assert all(s["fd"] is not None and 0.0 <= s["recall"] <= 1.0 for s in line["scores"].values())
    # Resumable: nothing is scored twice.
    assert claims.rescore(records, config, str(data), str(tmp_path), str(judge_path))[1] == 0


def test_command_line_errors_name_the_flag():
    for argv, flag in ((["--claims", "C9"], "--claims"), (["--datasets", "cifar"], "--datasets"),
                       (["--rescore"], "--feature-model"), (["--minutes", "0"], "--minutes"),
                       (["--seeds", "a,b"], "--seeds"), (["--data-dir", "/nonexistent"], "--data-dir")):
        result = subprocess.run([sys.executable, SCRIPT, *argv], capture_output=True, text=True, timeout=120)
        assert result.returncode == 2 and flag in result.stderr, (argv, result.stderr[-500:])


def _run(output, *extra):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run(
        [sys.executable, SCRIPT, "--data-dir", DATA_DIR, "--output", str(output), "--datasets", "mnist", *extra],
        capture_output=True, text=True, timeout=600, env=env, cwd=REPO,
    )


@pytest.mark.slow
@pytest.mark.skipif(not HAS_DATA, reason=f"MNIST not at {DATA_DIR}")
def test_quick_ledger_runs_gates_saves_images_and_resumes(tmp_path):
    result = _run(tmp_path, "--quick")
    assert result.returncode == 0, result.stderr[-3000:]
    lines = [json.loads(line) for line in open(tmp_path / "claims.jsonl")]
    arms = {(r["claim"], r["arm"]) for r in lines}
    assert {("C1", "split"), ("C1", "plain"), ("C2", "two_stage"), ("C3", "gamix"), ("C3", "standard"),
            ("C4", "vae_beta0"), ("C4", "fp_vae_beta1"), ("C4", "aae_beta0"), ("C4", "prior_aae_beta1")} <= arms
    for record in lines:
        assert record["gate"] is not None and not record["gate"]["passed"]  # 2 steps: untrained
        npz = claims.samples_path(str(tmp_path), record["key"])
        with np.load(npz) as saved:
            assert "rec" in saved.files and saved["rec"].dtype == np.uint8
    split_key = next(r["key"] for r in lines if (r["claim"], r["arm"], r["seed"]) == ("C1", "split", 0))
    with np.load(claims.samples_path(str(tmp_path), split_key)) as saved:
        assert {"gmm100", "gmm100_x1", "gmm100_x2", "gmm100_mix", "normal", "normal_x1"} <= set(saved.files)
    text = open(tmp_path / "claims.md").read()
    assert "not trained at this budget — no verdict" in text and "### mnist C4" in text
    assert open(tmp_path / "claims.csv").readline().startswith("dataset,claim,arm,seed,set,fd,precision,recall,gate")
    again = _run(tmp_path, "--quick", "--claims", "C1")
    assert again.returncode == 0 and "[claims] mnist C1" not in again.stdout
    assert len(open(tmp_path / "claims.jsonl").readlines()) == len(lines)


@pytest.mark.slow
@pytest.mark.skipif(not HAS_DATA, reason=f"MNIST not at {DATA_DIR}")
def test_gpu_profile_smoke_on_cpu_records_device_and_stops_by_the_clock(tmp_path):
    result = _run(tmp_path, "--profile", "gpu", "--tiny", "--claims", "C1,C3", "--minutes", "0.001")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "stopped by --minutes" in result.stdout
    lines = [json.loads(line) for line in open(tmp_path / "claims.jsonl")]
    assert len(lines) == 1  # the run in progress finished, no new one started
    env = lines[0]["environment"]
    assert env["device"] == "CPU" and env["keras"] == keras.__version__ and lines[0]["images_per_second"] > 0
    assert lines[0]["profile"] == "gpu-tiny"
    calibration = _run(tmp_path, "--profile", "gpu", "--tiny", "--claims", "C1", "--calibrate")
    assert calibration.returncode == 0, calibration.stderr[-3000:]
    points = [json.loads(line) for line in open(tmp_path / "calibration.jsonl")]
    assert [p["units"] for p in points] == [1, 2] and all("gate" in p for p in points)
    # --seeds: each seed calibrated under its own keys; a finished seed is not run again.
    again = _run(tmp_path, "--profile", "gpu", "--tiny", "--claims", "C1", "--calibrate", "--seeds", "0,1")
    assert again.returncode == 0, again.stderr[-3000:]
    points = [json.loads(line) for line in open(tmp_path / "calibration.jsonl")]
    assert [(p["seed"], p["units"]) for p in points] == [(0, 1), (0, 2), (1, 1), (1, 2)]
    assert len({p["key"] for p in points}) == 4


def test_renormalisation_row_says_when_the_rule_never_fired():
    config = claims.tiny(claims.CPU)
    config["seeds"] = (0, 1, 2)
    records = {}
    for seed in config["seeds"]:
        scores = {"gen1": {"fd": 50.0}, "gen2": {"fd": 40.0 + seed}, "gen2_renorm": {"fd": 40.0 + seed},
                  "gen2_forced_renorm": {"fd": 45.0}}
        r = _record("mnist", "C2", "two_stage", seed, config, scores)
        r["renormalization"] = {"ratio": 0.1, "rule_fired": False}
        records[r["key"]] = r
    entry = claims.summarise(records, config, "mnist", ["C2"])[0]
    verdicts = {c["label"]: c["verdict"] for c in entry["comparisons"]}
    assert verdicts["FD, GEN-2 vs GEN-1"] == "holds"
    assert verdicts["FD, GEN-2 renormalised (authors' rule) vs GEN-2"] == "rule not triggered — not exercised"
    assert verdicts["FD, GEN-2 renormalisation forced vs GEN-2 (rule not triggered)"] == "does not hold"


def test_split_pair_is_compared_as_its_better_and_worse_member():
    record = {"scores": {"gmm100_x1": {"fd": 30.0, "recall": 0.2}, "gmm100_x2": {"fd": 10.0, "recall": 0.6}}}
    assert claims._value(record, "gmm100_x12best", "fd") == 10.0
    assert claims._value(record, "gmm100_x12worst", "fd") == 30.0
    assert claims._value(record, "gmm100_x12best", "recall") == 0.6
    assert claims._value(record, "gmm100_x12worst", "recall") == 0.2
    assert claims._value({"scores": {"gmm100_x1": {"fd": 1.0}}}, "gmm100_x12best", "fd") is None


def test_budget_description_states_the_settings_the_runs_train_with():
    """The report's budget line reads the config the runs use (it once said steps // 4 for the KL ramp)."""
    config = claims.for_dataset(claims.CPU, "mnist")
    text = claims.describe_budget("C4", config)
    assert f"KL annealed over the first {config['C4']['anneal_steps']} steps" in text
    assert f"{config['C4']['steps']} steps" in text
    changed = claims.copy.deepcopy(config)
    changed["C4"]["anneal_steps"] = 123
    assert "KL annealed over the first 123 steps" in claims.describe_budget("C4", changed)


def test_gpu_session_script_refuses_an_unknown_verb():
    script = os.path.join(os.path.dirname(SCRIPT), "gpu_session.sh")
    result = subprocess.run(["bash", script, "upload"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "prepare|restore (received: 'upload')" in result.stderr


def _calibration_point(claim, arm, units, recall, seed, finished):
    key = f"mnist/{claim}/calibrate/float32/w/abc123/seed{seed}/{units}"
    return key, {"key": key, "dataset": "mnist", "claim": claim, "arm": arm, "policy": "float32", "seed": seed,
                 "units": units, "unit": "steps", "finished_utc": finished,
                 "gate": {"passed": recall >= 0.5, "mse_ratio": 0.3, "recall": recall}}


def test_untrained_arms_say_what_more_training_would_do():
    """A failing arm's report line reads its latest calibration: a plateau, or where a straight line crosses the gate."""
    config = claims.for_dataset(claims.CPU, "mnist")
    config["C3"]["policy"] = "float32"
    steps = config["C3"]["steps"]
    failing = _record("mnist", "C3", "standard", 0, config, {}, passed=False)
    entry = {"claim": "C3", "by_arm": {"gamix": {0: _record("mnist", "C3", "gamix", 0, config, {})},
                                       "standard": {0: failing}}}
    # Rising 0.1 per 1,000 steps: recall 0.40 at 4,000 crosses 0.5 at 5,000.
    calibration = dict(_calibration_point("C3", "standard", u, r, 0, f"2026-12-0{i + 1}")
                       for i, (u, r) in enumerate([(1000, 0.1), (2000, 0.2), (3000, 0.3), (4000, 0.4)]))
    lines = claims.untrained_lines(entry, calibration, "mnist", config)
    assert len(lines) == 4 and "gamix" not in lines[2]  # the passing arm has no line
    assert "**standard** fails the gate on seed 0 (1 of 1 run): MSE 0.900x" in lines[2]
    assert "rec recall 0.100 at 1,000 -> 0.400 at 4,000 steps (+0.100 per 1,000 steps)" in lines[2]
    expected = "still rising" if 5000 <= 3 * steps else "a plateau"
    assert expected in lines[2] and "~5,000 steps" in lines[2]
    # Flat over its last four checkpoints: a plateau, never crossing.
    flat = dict(_calibration_point("C3", "standard", u, 0.03, 0, f"2026-12-1{i}")
                for i, u in enumerate([5000, 6000, 7000, 8000]))
    lines = claims.untrained_lines(entry, {**calibration, **flat}, "mnist", config)
    assert "a plateau: a straight line reaches recall 0.5 never" in lines[2]
    assert "not a matter of more steps" in lines[2]
    # Every arm through the gate: no section.
    failing["gate"]["passed"] = True
    assert claims.untrained_lines(entry, calibration, "mnist", config) == []


def test_calibration_budget_reads_both_key_layouts():
    assert claims.calibration_budget("mnist/C2/calibrate/float32/base 16, fc 256/69534993eb/9") == "69534993eb"
    assert claims.calibration_budget("mnist/C2/calibrate/float32/base 16, fc 256/69534993eb/seed1/9") == "69534993eb"
