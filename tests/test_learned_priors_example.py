"""examples/learned_priors.py end to end on tiny data, and its result tables."""

import csv
import importlib.util
import os
import sys

import keras
import numpy as np
import pytest

import keras_vaes as kv
from keras_vaes.evaluation import learned_priors as lp

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "examples", "learned_priors.py")


def load_script():
    """The module of examples/learned_priors.py, its folder first on sys.path as `python` puts it."""
    if os.path.dirname(SCRIPT) not in sys.path:
        sys.path.insert(0, os.path.dirname(SCRIPT))
    spec = importlib.util.spec_from_file_location("learned_priors_example", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_in_process(capsys, *args):
    """main(argv) of the script in this process (no second TensorFlow start-up)."""
    module = load_script()
    module.main(list(args))
    return capsys.readouterr().out


def available_models():
    return [m for m, builder in (("vae", "build_flow_prior_vae"), ("fp_vae", "build_flow_prior_vae"),
                                 ("aae", "build_prior_aae"), ("prior_aae", "build_prior_aae"))
            if hasattr(kv, builder)]


@pytest.fixture(scope="module")
def tiny_mnist(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(0)
    path = folder / "mnist.npz"
    np.savez(path, x_train=rng.integers(0, 256, (48, 28, 28), dtype=np.uint8),
             y_train=np.arange(48) % 10, x_test=rng.integers(0, 256, (40, 28, 28), dtype=np.uint8),
             y_test=np.arange(40) % 10)
    inputs = keras.Input((32, 32, 1))
    pooled = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3, strides=2)(inputs))
    features = keras.Model(inputs, keras.layers.Dense(5)(pooled), name="tiny_features")
    features.save(folder / "features.keras")
    return str(path), str(folder / "features.keras")


def test_help_names_every_flag(capsys):
    module = load_script()
    with pytest.raises(SystemExit):
        module.parse_args(["--help"])
    text = capsys.readouterr().out
    for flag in ("--dataset", "--models", "--betas", "--data", "--epochs", "--steps", "--output",
                 "--seed", "--feature-model", "--resume"):
        assert flag in text
    with pytest.raises(SystemExit):
        module.parse_args(["--models", "vae,gan"])
    assert "--models must list some of" in capsys.readouterr().err


def test_example_end_to_end_on_tiny_data(tiny_mnist, tmp_path, capsys):
    data, features = tiny_mnist
    models = available_models()
    out = tmp_path / "run"
    tiny = ["--data", data, "--feature-model", features, "--steps", "2", "--batch-size", "16",
            "--latent-dim", "2", "--filters", "4", "8", "--dense-units", "16",
            "--num-couplings", "2", "--hidden-units", "8", "--fid-samples", "20",
            "--separability-samples", "20", "--pairs", "2", "--interpolation-steps", "3",
            "--seed", "1", "--verbose", "0", "--output", str(out)]
    run_in_process(capsys, *tiny, "--models", ",".join(models), "--betas", "0")
    names = ["results.md", "results.csv", "fid_vs_beta.png", "interpolation.png", "neighbours.png",
             "latents_2d.png", "fp_vae_beta0.weights.h5"]
    names += [f"samples_{m}_beta0.png" for m in models]
    for name in names:
        assert (out / name).stat().st_size > 0, name
    # --resume keeps the finished runs and trains only the new (model, beta).
    stdout = run_in_process(capsys, *tiny, "--models", "fp_vae", "--betas", "0", "1",
                            "--resume", "--skip-figure2")
    assert stdout.count("kept from") == 1 and "=== fp_vae_beta1 ===" in stdout
    with open(out / "results.csv") as f:
        rows = list(csv.DictReader(f))
    assert [(r["model"], float(r["beta"])) for r in rows] == (
        [(m, 0.0) for m in models] + [("fp_vae", 1.0)])
    assert all(float(r["fid"]) >= 0 for r in rows)
    assert all(0 <= float(r["precision"]) <= 1 and 0 <= float(r["recall"]) <= 1 for r in rows)
    assert len(lp.sweep_ledger(str(out)).read()) == len(rows)  # the resumable ledger, one record a run
    fp = [r for r in rows if r["model"] == "fp_vae"]
    assert all(float(r["separability_z0"]) >= 1 and float(r["separability_zT"]) >= 1 for r in fp)
    text = (out / "results.md").read_text()
    assert "2.82" in text and "1.67" in text and "41.4" in text  # the paper's Table 1 beside
    assert "TRUE class labels" in text and "beta = 0 drawn at 0.1" in text
    assert "| FP-VAE (flow prior) |" in text and "Command: `python examples/learned_priors.py" in text


def make_rows():
    fids = {"vae": [50.0, 40.0, 30.0], "fp_vae": [10.0, 20.0, 30.0]}
    return [{"model": m, "beta": b, "fid": f, "separability_z": 3.0 if m == "vae" else None,
             "separability_z0": 4.0 if m == "fp_vae" else None,
             "separability_zT": 2.0 if m == "fp_vae" else None}
            for m, values in fids.items() for b, f in zip((0.0, 0.1, 1.0), values)]


def test_beta_trend_is_the_rank_correlation():
    rows = make_rows()
    assert lp.beta_trend(rows, "fp_vae") == (1.0, 10.0, 30.0)  # lower beta, lower FID
    assert lp.beta_trend(rows, "vae") == (-1.0, 50.0, 30.0)
    assert lp.beta_trend(rows, "aae") is None


def test_table1_layout_puts_the_paper_beside(tmp_path):
    table = {t["row"]: t for t in lp.table1_rows(make_rows())}
    assert table["VAE"]["beta"] == 1.0 and table["VAE"]["separability"] == 3.0
    assert table["VAE"]["fid"] == 30.0 and table["VAE"]["paper_fid"] == 41.4
    assert table["proposed (z_0)"]["beta"] == 0.0 and table["proposed (z_0)"]["fid"] == 10.0
    assert table["proposed (z_0)"]["paper_separability"] == 2.82
    assert table["proposed (z_T)"]["separability"] == 2.0
    assert table["beta-VAE"]["beta"] is None
    text = lp.write_sweep_results(make_rows(), str(tmp_path), header="# test", notes=["a note"])
    assert "| proposed (z_T) | 0.00 | 2.00 | 1.67 |" in text and "- a note" in text
    assert (tmp_path / "results.csv").read_text().startswith("model,beta,")


def test_celeba_attributes_follow_the_loader_selection(tmp_path):
    folder = tmp_path / "img_align_celeba"
    folder.mkdir()
    for number in (1, 2, 182638, 182639):
        (folder / f"{number:06d}.jpg").write_bytes(b"")
    (tmp_path / "list_attr_celeba.txt").write_text(
        "4\nEyeglasses Male\n000001.jpg -1 1\n000002.jpg 1 1\n182638.jpg 1 -1\n182639.jpg -1 -1\n")
    names, test = lp.celeba_split_attributes(str(tmp_path / "list_attr_celeba.txt"), str(folder), "test")
    assert names == ["Eyeglasses", "Male"]
    np.testing.assert_array_equal(test, [[1, 0], [0, 0]])
    (tmp_path / "bad.txt").write_text("no header\n")
    with pytest.raises(ValueError, match="list_attr_celeba"):
        lp.read_celeba_attributes(str(tmp_path / "bad.txt"))


def test_celeba_branch_table1_and_attribute_interpolation(tmp_path, capsys):
    """CelebA: separability of z_0, z_T and the VAE's z with the annotated
    attributes, and the eyeglasses vector of Figure 7, on eight tiny jpgs."""
    from PIL import Image

    folder = tmp_path / "img_align_celeba"
    folder.mkdir()
    rng = np.random.default_rng(0)
    numbers = [1, 2, 3, 4, 182638, 182639, 182640, 182641]
    lines = [str(len(numbers)), "Eyeglasses Male"]
    for i, number in enumerate(numbers):
        Image.fromarray(rng.integers(0, 256, (218, 178, 3), dtype=np.uint8)).save(
            folder / f"{number:06d}.jpg")
        lines.append(f"{number:06d}.jpg {1 if i % 2 else -1} {1 if i % 3 else -1}")
    (tmp_path / "list_attr_celeba.txt").write_text("\n".join(lines) + "\n")
    inputs = keras.Input((64, 64, 3))
    pooled = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3, strides=4)(inputs))
    keras.Model(inputs, keras.layers.Dense(3)(pooled), name="tiny_rgb").save(tmp_path / "f.keras")
    out = tmp_path / "run"
    run_in_process(capsys, "--dataset", "celeba", "--data", str(folder), "--image-size", "64",
                   "--feature-model", str(tmp_path / "f.keras"), "--models", "vae,fp_vae",
                   "--betas", "0", "--steps", "1", "--batch-size", "4", "--latent-dim", "2",
                   "--filters", "4", "8", "--dense-units", "8", "--num-couplings", "2",
                   "--hidden-units", "4", "--fid-samples", "4", "--separability-samples", "4",
                   "--pairs", "1", "--interpolation-steps", "3", "--verbose", "0",
                   "--reconstruction", "l2", "--output", str(out))
    for name in ("attribute_interpolation.png", "interpolation.png", "results.md"):
        assert (out / name).stat().st_size > 0, name
    text = (out / "results.md").read_text()
    assert "CelebA test images with their 2 annotated attributes" in text
    with open(out / "results.csv") as f:
        rows = {r["model"]: r for r in csv.DictReader(f)}
    assert float(rows["vae"]["separability_z"]) >= 1
    assert float(rows["fp_vae"]["separability_z0"]) >= 1 and float(rows["fp_vae"]["separability_zT"]) >= 1


def test_celeba_trains_with_the_perceptual_loss_by_default():
    script = load_script()
    assert script.parse_args(["--dataset", "celeba"]).reconstruction == "perceptual"
    assert script.parse_args(["--dataset", "mnist"]).reconstruction == "l2"
    assert script.parse_args(["--dataset", "celeba", "--reconstruction", "l2"]).reconstruction == "l2"


@pytest.mark.parametrize("kind, keys", [("vae", {"z"}), ("fp_vae", {"z_T", "z_0"}), ("prior_aae", {"z_T", "z_0"})])
def test_generated_separability_follows_the_declared_prior(kind, keys):
    """z_T from the model's declared prior: N(0, I) (one latent), its flow or its code generator (two)."""
    from keras_vaes.configs import learned_priors as paper

    model = paper.build_model(kind, 0.0, (32, 32, 1), 2, filters=(4, 8), dense_units=8, num_couplings=2,
                              hidden_units=4)
    rng = np.random.default_rng(0)

    def classify(images):  # two attributes, both values present
        return np.stack([rng.random(len(images)), rng.random(len(images))], axis=1)

    scores = lp.generated_separability(model, classify, 40, seed=0)
    assert keys <= set(scores) and not ({"z", "z_T"} - keys) & set(scores)
    assert all(np.isfinite(scores[k]) for k in keys)
