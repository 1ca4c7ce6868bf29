"""The example scripts run end to end on tiny data and write what they promise."""

import argparse
import csv
import functools
import importlib.util
import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

import keras_vaes as kv

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES_DIR = os.path.join(ROOT, "examples")
EXAMPLES = ["split_vae_mnist.py", "split_vae.py", "train_feature_classifier.py",
            "two_stage_vae.py", "variance_loss.py", "gamix_vae.py", "learned_priors.py",
            "train_fp_vae.py"]


@functools.cache
def example(name):
    """The module of examples/<name>.py, loaded once (its parser without running it).

    Its folder goes first on sys.path, as `python examples/<name>.py` puts it
    (the scripts import `_common` from beside them).
    """
    if EXAMPLES_DIR not in sys.path:
        sys.path.insert(0, EXAMPLES_DIR)
    spec = importlib.util.spec_from_file_location(f"example_{name}", os.path.join(ROOT, "examples", f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(script, *args):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", KERAS_VAES_INCEPTION_WEIGHTS="")
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, "examples", script), *args],
        capture_output=True, text=True, env=env, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def results_csv(folder, name="results.csv"):
    """`{(row, column, quantity): value}` of a tidy results file (`protocol.write_results`)."""
    with open(folder / name) as f:
        return {(r["row"], r["column"], r["quantity"]): r["value"] for r in csv.DictReader(f)}


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
                 "variance_law.png", "images_gmm_2.png", "results.md", "results.csv"]:
        assert (out / name).stat().st_size > 0, name
    text = (out / "results.md").read_text()
    # No Inception weights here: empty FID cells, offline classifier FD beside.
    assert "FID cells are empty" in text
    assert "FD (classifier features)" in text and "NOT comparable" in text
    values = results_csv(out)
    assert float(values[("GMM-2", "x1", "FD (classifier features)")]) >= 0
    assert ("GMM-2", "x1", "FID") not in values  # no Inception weights: no FID number
    # Evaluate the saved (float32-trained) weights with a small feature model,
    # under the opt-in mixed_bfloat16 policy: the file loads, FID cells fill.
    out2 = tmp_path / "eval"
    stdout = run("split_vae_mnist.py", *small, "--weights", str(out / "svae_mnist.weights.h5"),
                 "--feature-model", features, "--output", str(out2),
                 "--dtype-policy", "mixed_bfloat16")
    assert "dtype policy mixed_bfloat16" in stdout
    values = results_csv(out2)
    assert {row for row, *_ in values} >= {"REC", "GEN", "GMM-2"}
    assert float(values[("REC", "", "x_hat MSE")]) >= 0
    assert float(values[("", "", "variance law (mean over latents, expected ~1)")]) >= 0
    assert all(float(values[("GMM-2", column, "FID")]) >= 0 for column in ("x_hat", "x1", "x2", "mix"))
    assert not (out2 / "svae_mnist.weights.h5").exists()  # loaded, not retrained
    # Resuming after epoch 1: logs and FID curves number the new epoch 2.
    out3 = tmp_path / "resume"
    stdout = run("split_vae_mnist.py", *small, "--weights", str(out / "svae_mnist.weights.h5"),
                 "--initial-epoch", "1", "--epochs", "1", "--fid-every", "1",
                 "--fid-gmm-components", "2", "--feature-model", features,
                 "--no-eval", "--output", str(out3))
    steps = -(-len(np.load(data)["x_train"]) // 20)  # one epoch's Adam steps
    assert f"Adam's state restored (step {steps})" in stdout
    assert [r["epoch"] for r in csv.DictReader(open(out3 / "history.csv"))] == ["1"]  # Keras: 0-based
    assert {r["epoch"] for r in csv.DictReader(open(out3 / "fid_evolution.csv"))} == {"2"}
    with pytest.raises(SystemExit):
        example("split_vae").parse_split_vae_args(["--initial-epoch", "3"], dataset="mnist")  # nothing to resume


def test_two_stage_vae_runs(tiny_mnist, tmp_path):
    data, features = tiny_mnist
    out = tmp_path / "ts"
    run("two_stage_vae.py", "--dataset", "mnist", "--data", data, "--epochs", "1",
        "--epochs2", "1", "--fid-samples", "20", "--feature-model", features,
        "--output", str(out))
    assert (out / "two_stage_mnist.weights.h5").exists()  # both stages in one file
    assert (out / "two_stage_mnist.checkpoint.weights.h5").exists()  # with the optimizers' state
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


def test_train_fp_vae_trains_and_writes(tiny_mnist, tmp_path):
    data, _ = tiny_mnist
    out = tmp_path / "fp"
    run("train_fp_vae.py", "--data", data, "--epochs", "1", "--fd-samples", "0", "--anneal-steps", "1",
        "--output", str(out))
    for name in ("fp_vae.weights.h5", "preset.weights.h5", "history.csv", "samples.png",
                 "reconstructions.png", "results.md"):
        assert (out / name).stat().st_size > 0, name
    row = next(csv.DictReader(open(out / "results.csv")))
    assert row["prior"] == "flow" and float(row["test_mse"]) >= 0 and int(row["steps"]) == 1
    assert len(row["sha256"]) == 64 and "fd_classifier" not in row  # --fd-samples 0: skipped


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


SMALL = ["--latent-dim", "4", "--base-dim", "8", "--emb-dim", "16", "--num-scale", "2",
         "--batch-size", "10"]


def test_paper_configurations_are_the_defaults():
    from keras_vaes.configs.split_vae import DEFAULT_LEARNING_RATE

    parse_split_vae_args = example("split_vae").parse_split_vae_args
    mnist = parse_split_vae_args([], dataset="mnist")
    assert (mnist.latent_dim, mnist.beta, mnist.epochs, mnist.gmm_components) == (32, 8.0, 300, [20, 100])
    cifar = parse_split_vae_args(["--dataset", "cifar10"])
    assert (cifar.latent_dim, cifar.beta, cifar.epochs, cifar.gmm_components) == (200, 3.0, 110, [100])
    celeba = parse_split_vae_args(["--dataset", "celeba"])
    assert (celeba.latent_dim, celeba.beta, celeba.epochs, celeba.gmm_components) == (150, 3.0, 160, [100])
    assert mnist.learning_rate == cifar.learning_rate == DEFAULT_LEARNING_RATE
    assert (mnist.base_dim, mnist.emb_dim, mnist.num_scale, mnist.batch_size) == (64, 512, 4, 100)
    pre = parse_split_vae_args(["--pretrained", "svae_mnist_10ep"], dataset="mnist")
    assert pre.epochs == 0 and pre.latent_dim == 32
    with pytest.raises(SystemExit):
        parse_split_vae_args(["--dataset", "cifar10", "--pretrained", "svae_mnist_10ep"])
    with pytest.raises(SystemExit):
        parse_split_vae_args(["--epochs", "0"], dataset="mnist")  # an untrained network's figures
    table_only = parse_split_vae_args(["--dataset", "cifar10", "--category-table", "--epochs", "0"])
    assert table_only.epochs == 0


def test_fid_curves_name_their_measure():
    from keras_vaes.evaluation.tables import measure_name
    from keras_vaes.metrics import classifier

    assert measure_name(classifier.describe("mnist")) == "FD (classifier features)"
    assert measure_name("Keras InceptionV3 (ImageNet, avg pool, 2048)") == "FID"


@pytest.fixture(scope="module")
def tiny_cifar(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cifar")
    rng = np.random.default_rng(1)
    path = folder / "cifar10.npz"
    np.savez(path, x_train=rng.integers(0, 256, (40, 32, 32, 3), dtype=np.uint8),
             y_train=np.arange(40) % 10, x_test=rng.integers(0, 256, (20, 32, 32, 3), dtype=np.uint8),
             y_test=np.arange(20) % 10)
    return str(path)


def test_split_vae_cifar10_table2_and_ablation_figure(tiny_cifar, tiny_mnist, tmp_path):
    _, features = tiny_mnist
    out = tmp_path / "cifar"
    run("split_vae.py", "--dataset", "cifar10", "--data", tiny_cifar, *SMALL, "--epochs", "2",
        "--fid-samples", "20", "--feature-model", features, "--category-table",
        "--ablation-seeds", "0", "--fid-gmm-components", "2", "--output", str(out))
    table2 = results_csv(out, "table2.csv")
    assert {row for row, *_ in table2} == {"plane", "car", "bird", "cat", "deer", "dog", "frog",
                                           "horse", "ship", "truck", "mix"}
    assert table2[("plane", "", "images")] == "8" and table2[("mix", "", "images")] == "20"  # 4 + 4 flips
    assert float(table2[("plane", "images", "FID")]) >= 0
    assert table2[("plane", "images", "paper FID")] == "80.7"  # the paper's value beside
    rows = list(csv.DictReader(open(out / "fid_evolution.csv")))
    assert {r["curve"] for r in rows} == {"split x_hat", "split x1", "split x2", "vanilla x_hat"}
    assert {r["epoch"] for r in rows} == {"1", "2"}
    assert (out / "fid_evolution.png").stat().st_size > 0
    for run_dir in ("split_seed0", "vanilla_seed0"):
        assert (out / "ablation" / run_dir / "history.csv").exists()
        assert (out / "ablation" / run_dir / "svae_cifar10.weights.h5").exists()


def test_split_vae_celeba_trains_with_fid_every(tmp_path, tiny_mnist):
    from PIL import Image

    _, features = tiny_mnist
    folder = tmp_path / "img_align_celeba"
    folder.mkdir()
    rng = np.random.default_rng(2)
    for number in list(range(1, 21)) + list(range(182638, 182648)):
        image = rng.integers(0, 256, (218, 178, 3), dtype=np.uint8)
        Image.fromarray(image).save(folder / f"{number:06d}.jpg")
    out = tmp_path / "celeba"
    run("split_vae.py", "--dataset", "celeba", "--data", str(folder), *SMALL, "--num-scale", "4",
        "--epochs", "1", "--fid-samples", "10", "--gmm-components", "2", "--fid-every", "1",
        "--fid-gmm-components", "2", "--feature-model", features, "--output", str(out))
    history = list(csv.DictReader(open(out / "history.csv")))
    assert float(history[0]["fid_gmm2_x1"]) >= 0
    assert {"REC", "GEN", "GMM-2"} <= {row for row, *_ in results_csv(out)}
    for name in ("svae_celeba.weights.h5", "fid_evolution.png", "split_rows.png", "results.md"):
        assert (out / name).stat().st_size > 0, name


def test_pretrained_preset_evaluates_without_training(tiny_mnist, tmp_path):
    data, _ = tiny_mnist
    out = tmp_path / "pre"
    stdout = run("split_vae_mnist.py", "--pretrained", "svae_mnist_10ep", "--data", data,
                 "--fid-samples", "30", "--gmm-components", "2", "--output", str(out))
    assert "preset svae_mnist_10ep" in stdout
    text = (out / "results.md").read_text()
    assert "preset svae_mnist_10ep" in text and "NOT comparable" in text
    assert not (out / "svae_mnist.weights.h5").exists()
    assert (out / "split_rows.png").exists() and (out / "images_gmm_2.png").exists()


def test_divergence_benchmark_records_each_run(tiny_mnist, tmp_path):
    data, _ = tiny_mnist
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    command = [sys.executable, os.path.join(ROOT, "benchmarks", "divergence.py"), "--data", data,
               "--base-dim", "8", "--emb-dim", "16", "--latent-dim", "4", "--batch-size", "10",
               "--steps", "3", "--seeds", "0", "--learning-rates", "1e30", "1e-4",
               "--output", str(tmp_path)]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    records = {r["learning_rate"]: r for r in map(json.loads, open(tmp_path / "divergence.jsonl"))}
    assert records[1e30]["diverged"] and 1 <= records[1e30]["divergence_step"] <= 3
    assert not records[1e-4]["diverged"] and len(records[1e-4]["loss_trace"]) == 3
    assert np.isfinite(records[1e-4]["final_mse"])
    table = (tmp_path / "divergence.md").read_text()
    assert "| 1e+30 | 1 | 1/1 |" in table and "| 0.0001 | 1 | 0/1 |" in table
    rerun = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert "skipped" in rerun.stdout  # recorded runs are not repeated


def test_resuming_restores_adam_state_of_a_checkpoint(tmp_path):
    from keras_vaes.configs.split_vae import compile_for_training, load_for_resuming

    def tiny():
        return kv.build_svae((8, 8, 1), 4, base_dim=8, emb_dim=16, num_scale=1, beta=2.0, seed=1)

    x = np.random.default_rng(0).random((30, 8, 8, 1)).astype("float32")
    trained = tiny()
    compile_for_training(trained, 1e-3)
    trained.fit(x, batch_size=10, epochs=1, verbose=0)
    trained.save_weights(str(tmp_path / "checkpoint.weights.h5"))
    trained.export_weights(str(tmp_path / "preset.weights.h5"))

    resumed = tiny()
    has_gamma, restored = load_for_resuming(resumed, str(tmp_path / "checkpoint.weights.h5"), 5e-4)
    assert has_gamma and restored
    assert int(resumed.optimizer.iterations) == 3
    assert any(np.any(np.asarray(v)) for v in trained.optimizer.variables[2:])
    for a, b in zip(resumed.optimizer.variables[2:], trained.optimizer.variables[2:]):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))  # moments
    # The run's learning rate, not the file's 1e-3.
    assert float(resumed.optimizer.learning_rate) == pytest.approx(5e-4)
    assert resumed.gamma == trained.gamma

    fresh = tiny()
    has_gamma, restored = load_for_resuming(fresh, str(tmp_path / "preset.weights.h5"), 5e-4)
    assert has_gamma and not restored
    assert int(fresh.optimizer.iterations) == 0
    assert all(not np.any(np.asarray(v)) for v in fresh.optimizer.variables[2:])


# --- Command lines refuse bad values before any data is read or model built (issue 18, class 8)


def run_refused(script, *args, cwd=None):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", KERAS_VAES_INCEPTION_WEIGHTS="")
    result = subprocess.run([sys.executable, os.path.join(ROOT, "examples", script), *args],
                            capture_output=True, text=True, env=env, timeout=120, cwd=cwd)
    assert result.returncode != 0, result.stdout[-2000:]
    return result


@pytest.mark.parametrize("flag, value, expected", [
    ("--epochs", "-1", "integer >= 0"),
    ("--train-size", "0", "integer >= 1"),
    ("--batch-size", "0", "integer >= 1"),
    ("--fid-samples", "0", "integer >= 2"),
])
def test_split_vae_mnist_refuses_bad_counts_before_training(flag, value, expected, tmp_path):
    out = tmp_path / "run"
    result = run_refused("split_vae_mnist.py", flag, value, "--no-eval", "--output", str(out))
    assert result.returncode == 2  # argparse's usage error
    assert f"argument {flag}: must be an {expected}. Received: '{value}'" in result.stderr
    assert not out.exists()  # nothing ran


@pytest.mark.parametrize("script", EXAMPLES)
def test_every_example_names_a_data_file_that_is_not_an_npz(script, tmp_path):
    notes = tmp_path / "notes.npz"
    notes.write_text("not an archive\n")
    result = run_refused(script, "--data", str(notes), "--output", str(tmp_path / "out"))
    assert str(notes) in result.stderr and "npz" in result.stderr
    assert "allow_pickle" not in result.stderr
    assert not (tmp_path / "out").exists()


# The same flags through each example's own parser, in-process (fast): exit status 2
# and the value received in the message.
PARSERS = {
    "split_vae": lambda argv: example("split_vae").parse_split_vae_args(argv, dataset="mnist"),
    "gamix_vae": lambda argv: example("gamix_vae").parse_args(argv),
    "learned_priors": lambda argv: example("learned_priors").parse_args(argv),
    "train_fp_vae": lambda argv: example("train_fp_vae").parse_args(argv),
    "variance_loss": lambda argv: example("variance_loss").parse_args(argv),
    "train_feature_classifier": lambda argv: example("train_feature_classifier").parse_args(argv),
}
BAD_VALUES = {
    "--epochs": "-1", "--train-size": "0", "--batch-size": "0", "--fid-samples": "0",
    "--fd-samples": "1", "--learning-rate": "nan", "--seed": "-3", "--latent-dim": "2.5",
    "--beta": "-1", "--test-size": "0", "--eval-size": "1", "--steps": "0",
}
@pytest.mark.parametrize("name", sorted(PARSERS))
@pytest.mark.parametrize("flag", sorted(BAD_VALUES))
def test_each_parser_refuses_bad_values_and_says_what_it_received(name, flag, capsys):
    capsys.readouterr()
    with pytest.raises(SystemExit):
        PARSERS[name](["--help"])
    if f"{flag} " not in capsys.readouterr().out:
        pytest.skip(f"{name} has no {flag}")
    value = BAD_VALUES[flag]
    with pytest.raises(SystemExit) as stopped:
        PARSERS[name]([flag, value])
    assert stopped.value.code == 2
    error = capsys.readouterr().err
    assert f"argument {flag}" in error and f"Received: {value!r}" in error, error


def test_common_validators_say_what_they_received(tmp_path):
    _common = example("_common")

    for check, text in [(_common.positive_int, "0"), (_common.positive_int, "three"),
                        (_common.non_negative_int, "-1"), (_common.positive_float, "inf"),
                        (_common.non_negative_float, "-0.5"), (_common.integer_at_least(2), "1"),
                        (_common.zero_or_at_least(2), "1"), (_common.existing_file, str(tmp_path / "x")),
                        (_common.data_path, str(tmp_path / "missing.npz")),
                        (_common.feature_model_spec("inception"), "incepton")]:
        with pytest.raises(argparse.ArgumentTypeError, match=f"Received: {text!r}"):
            check(text)
    assert _common.zero_or_at_least(2)("0") == 0 and _common.integer_at_least(2)("2") == 2
    assert _common.data_path(str(tmp_path)) == str(tmp_path)  # a dataset folder
    (tmp_path / "file").write_text("x")
    with pytest.raises(argparse.ArgumentTypeError, match="must be a folder"):
        _common.output_dir(str(tmp_path / "file"))


# --- A preset of another model, or data of another image size: one line from argparse (issue 30)


@pytest.fixture(scope="module")
def rgb_npz(tmp_path_factory):
    """A Keras-layout npz of 32x32x3 images: the wrong size for MNIST and the 32x32x1 presets."""
    path = tmp_path_factory.mktemp("rgb") / "rgb.npz"
    rng = np.random.default_rng(0)
    np.savez(path, x_train=rng.integers(0, 256, (12, 32, 32, 3), dtype=np.uint8),
             y_train=rng.integers(0, 10, 12, dtype=np.uint8),
             x_test=rng.integers(0, 256, (8, 32, 32, 3), dtype=np.uint8),
             y_test=rng.integers(0, 10, 8, dtype=np.uint8))
    return str(path)


def refused_in_one_line(call, capsys):
    """Runs `call`, which must stop as argparse does (exit status 2); returns the error line."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as stopped:
        call()
    assert stopped.value.code == 2
    error = capsys.readouterr().err
    assert "Traceback" not in error
    return error.strip().splitlines()[-1]


@pytest.mark.parametrize("script, preset, expected", [
    ("split_vae", "two_stage_mnist", "must be a build_svae preset (svae_mnist_10ep)"),
    ("split_vae", "gamix_fashion_mnist", "must be a build_svae preset (svae_mnist_10ep)"),
    ("two_stage_vae", "svae_mnist_10ep", "must be a build_two_stage_vae preset (two_stage_mnist)"),
    ("gamix_vae", "fp_vae_mnist_beta0", "must be a build_gamix_vae preset (gamix_fashion_mnist)"),
    ("gamix_vae", "no_such_preset", "must be a build_gamix_vae preset (gamix_fashion_mnist)"),
])
def test_a_preset_of_another_model_is_refused_by_the_parser(script, preset, expected, capsys):
    parse = (functools.partial(example("split_vae").parse_split_vae_args, dataset="mnist")
             if script == "split_vae" else example(script).parse_args)
    line = refused_in_one_line(lambda: parse(["--pretrained", preset]), capsys)
    assert f"error: argument --pretrained: {expected}; {preset!r} is " in line, line
    assert line.endswith(f"Received: {preset!r}"), line


def test_a_preset_for_other_images_than_the_dataset_is_refused(rgb_npz, tmp_path, capsys):
    parse_split = example("split_vae").parse_split_vae_args
    line = refused_in_one_line(lambda: parse_split(["--dataset", "cifar10", "--pretrained", "svae_mnist_10ep"]),
                               capsys)
    assert ("argument --pretrained: preset 'svae_mnist_10ep' takes images of shape (32, 32, 1), not "
            "cifar10's (32, 32, 3). Received: --pretrained svae_mnist_10ep with --dataset cifar10") in line
    parse_gamix = example("gamix_vae").parse_args
    line = refused_in_one_line(
        lambda: parse_gamix(["--dataset", "celeba_hq", "--pretrained", "gamix_fashion_mnist"]), capsys)
    assert "argument --pretrained: preset 'gamix_fashion_mnist' takes images of shape (32, 32, 1)" in line
    # The two-stage script learns the data's size from the data: refused once loaded, before the preset.
    out = tmp_path / "out"
    line = refused_in_one_line(lambda: example("two_stage_vae").main(
        ["--dataset", "cifar10", "--data", rgb_npz, "--pretrained", "two_stage_mnist", "--output", str(out)]),
        capsys)
    assert line.endswith(f"argument --pretrained: preset 'two_stage_mnist' takes images of shape (32, 32, 1). "
                         f"Received: --dataset cifar10 --data {rgb_npz} images of shape (32, 32, 3)"), line
    assert not out.exists()


MAINS = {
    "split_vae_mnist": lambda argv: example("split_vae").main(argv + ["--epochs", "1"], dataset="mnist"),
    "two_stage_vae": lambda argv: example("two_stage_vae").main(argv),
    "gamix_vae": lambda argv: example("gamix_vae").main(argv + ["--dataset", "mnist"]),
    "learned_priors": lambda argv: example("learned_priors").main(argv),
    "train_fp_vae": lambda argv: example("train_fp_vae").main(argv),
    "variance_loss": lambda argv: example("variance_loss").main(argv),
    "train_feature_classifier": lambda argv: example("train_feature_classifier").main(argv),
}


@pytest.mark.parametrize("name", sorted(MAINS))
def test_data_of_another_image_size_is_refused_in_one_line(name, rgb_npz, tmp_path, capsys):
    line = refused_in_one_line(lambda: MAINS[name](["--data", rgb_npz, "--output", str(tmp_path / "out")]),
                               capsys)
    assert "argument --data: Expected mnist images of shape (N, 28, 28). Received: x_train.shape=(12, 32, 32, 3)" \
        in line and rgb_npz in line, line


@pytest.mark.parametrize("script, preset", [("split_vae.py", "two_stage_mnist"),
                                            ("two_stage_vae.py", "svae_mnist_10ep")])
def test_the_issues_command_lines_end_in_one_line_not_a_traceback(script, preset, tmp_path):
    result = run_refused(script, "--pretrained", preset, "--output", str(tmp_path / "out"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "error: argument --pretrained: " in result.stderr.splitlines()[-1]
    assert f"Received: {preset!r}" in result.stderr
