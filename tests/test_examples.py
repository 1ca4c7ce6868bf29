"""The example scripts run end to end on tiny data and write what they promise."""

import csv
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = ["split_vae_mnist.py", "two_stage_vae.py", "variance_loss.py"]


def run(script, *args):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", KERAS_VAES_INCEPTION_WEIGHTS="")
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, "examples", script), *args],
        capture_output=True, text=True, env=env, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


@pytest.fixture(scope="module")
def tiny_mnist(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(0)
    path = folder / "mnist.npz"
    np.savez(
        path,
        x_train=rng.integers(0, 256, (40, 28, 28), dtype=np.uint8),
        y_train=rng.integers(0, 10, 40, dtype=np.uint8),
        x_test=rng.integers(0, 256, (30, 28, 28), dtype=np.uint8),
        y_test=rng.integers(0, 10, 30, dtype=np.uint8),
    )
    inputs = keras.Input((32, 32, 3))
    pooled = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3, strides=2)(inputs))
    features = keras.Model(inputs, keras.layers.Dense(5)(pooled), name="tiny_features")
    features.save(folder / "features.keras")
    return str(path), str(folder / "features.keras")


@pytest.mark.parametrize("script", EXAMPLES)
def test_help(script):
    assert "--output" in run(script, "--help")


def test_split_vae_mnist_trains_evaluates_and_writes(tiny_mnist, tmp_path):
    data, features = tiny_mnist
    small = ["--data", data, "--latent-dim", "4", "--base-dim", "8", "--emb-dim", "16",
             "--num-scale", "2", "--batch-size", "20", "--fid-samples", "30",
             "--gmm-components", "2", "--seed", "3"]
    out = tmp_path / "run"
    run("split_vae_mnist.py", *small, "--epochs", "1", "--output", str(out))
    for name in ["svae_mnist.weights.h5", "split_rows.png", "generated.png", "curves.png",
                 "variance_law.png", "generated_gmm-2.png", "results.md", "results.csv"]:
        assert (out / name).stat().st_size > 0, name
    text = (out / "results.md").read_text()
    assert "FID cells are empty" in text  # no Inception weights here
    # Evaluate the saved (float32-trained) weights with a small feature model,
    # under the opt-in mixed_bfloat16 policy: the file loads, FID cells fill.
    out2 = tmp_path / "eval"
    stdout = run("split_vae_mnist.py", *small, "--weights", str(out / "svae_mnist.weights.h5"),
                 "--feature-model", features, "--output", str(out2),
                 "--dtype-policy", "mixed_bfloat16")
    assert "dtype policy mixed_bfloat16" in stdout
    rows = {r[0]: r for r in csv.reader(open(out2 / "results.csv"))}
    assert set(rows) >= {"REC", "GEN", "GMM-2", "mse_rec", "variance_law_mean"}
    assert all(float(v) >= 0 for v in rows["GMM-2"][1:5])
    assert not (out2 / "svae_mnist.weights.h5").exists()  # loaded, not retrained


def test_two_stage_vae_runs(tiny_mnist, tmp_path):
    data, features = tiny_mnist
    out = tmp_path / "ts"
    run("two_stage_vae.py", "--dataset", "mnist", "--data", data, "--epochs", "1",
        "--epochs2", "1", "--fid-samples", "20", "--feature-model", features,
        "--output", str(out))
    assert (out / "two_stage_mnist.first_stage.weights.h5").exists()
    assert (out / "two_stage_mnist.second_stage.weights.h5").exists()
    text = (out / "results.md").read_text()
    assert "GEN-2" in text and "variance" in text.lower()
    assert any(name.endswith(".png") for name in os.listdir(out))


def test_variance_loss_runs(tiny_mnist, tmp_path):
    data, _ = tiny_mnist
    out = tmp_path / "vl"
    run("variance_loss.py", "--data", data, "--epochs", "1", "--train-size", "40",
        "--test-size", "20", "--batch-size", "20", "--output", str(out))
    names = os.listdir(out)
    assert any(n.endswith(".csv") for n in names) and any(n.endswith(".png") for n in names)


def test_split_vae_mnist_diverging_run_says_so_and_writes_no_weights(tiny_mnist, tmp_path):
    data, _ = tiny_mnist
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, "examples", "split_vae_mnist.py"), "--data", data,
         "--latent-dim", "4", "--base-dim", "8", "--emb-dim", "16", "--num-scale", "2",
         "--batch-size", "20", "--epochs", "2", "--learning-rate", "1e30", "--no-eval",
         "--output", str(tmp_path)],
        capture_output=True, text=True, env=env, timeout=600,
    )
    assert result.returncode != 0
    assert "Training diverged" in result.stderr
    assert not (tmp_path / "svae_mnist.weights.h5").exists()
