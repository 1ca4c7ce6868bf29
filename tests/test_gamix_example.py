"""GAMIX-VAE evaluation (sharpness, table) and examples/gamix_vae.py end to end."""

import csv
import importlib.util
import os
import sys

import keras
import numpy as np
import pytest

from keras_vaes.evaluation import gamix as gamix_eval
from keras_vaes.evaluation.protocol import write_results
from keras_vaes.models.gamix import build_gamix_vae

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_laplacian_energy_closed_forms():
    i = np.arange(10, dtype=np.float64)
    ramp = np.broadcast_to((0.01 * i**2)[:, None], (10, 10))[None, ..., None]
    # Second difference of 0.01 i^2 is 0.02 everywhere: energy 0.02^2.
    assert gamix_eval.laplacian_energy(ramp) == pytest.approx(4e-4, rel=1e-9)
    checker = ((i[:, None] + i[None, :]) % 2)[None, ..., None]
    assert gamix_eval.laplacian_energy(checker) == pytest.approx(16.0)  # |L| = 4 everywhere
    assert gamix_eval.laplacian_energy(np.ones((2, 5, 5, 3))) == 0.0
    with pytest.raises(ValueError, match=r"images.shape=\(2, 2, 5, 1\)"):
        gamix_eval.laplacian_energy(np.zeros((2, 2, 5, 1)))


def test_evaluation_table_with_a_pluggable_extractor(tmp_path):
    models = {
        "GAMIX-VAE": build_gamix_vae((8, 8, 1), 8, filters=4, discriminator_strides=(2, 2, 1, 1, 1, 1), seed=0),
        "baseline": build_gamix_vae((8, 8, 1), 8, filters=4, kl="standard", adversarial=False, seed=0),
    }
    data = np.random.default_rng(0).uniform(-1, 1, (40, 8, 8, 1)).astype("float32")
    inputs = keras.Input((8, 8, 1))
    extractor = keras.Model(inputs, keras.layers.Flatten()(keras.layers.Conv2D(2, 3, strides=2)(inputs)),
                            name="tiny_features")
    table = gamix_eval.evaluate_gamix(models, data, feature_model=extractor, seed=0, notes=["tiny"])
    assert table.rows == ["GAMIX-VAE", "baseline"] and table.columns == list(gamix_eval.COLUMNS)
    assert table.cell("GAMIX-VAE", "reconstructions")["fd"] > 0
    assert table.cell("GAMIX-VAE", "samples")["fd"] > 0
    extras = table.extras["GAMIX-VAE"]
    z_mean, _ = models["GAMIX-VAE"].encode(data)
    assert extras["mean over dims of var(mu_j)"] == pytest.approx(np.mean(z_mean.var(axis=0)), rel=1e-5)
    assert extras["inactive dims (var(mu) < 0.05)"] == int(np.sum(z_mean.var(axis=0) < 0.05))
    assert table.diagnostics["sharpness data"] == pytest.approx(gamix_eval.laplacian_energy((data + 1) / 2))
    np.testing.assert_allclose(table.arrays["GAMIX-VAE: variance of mu_j"], z_mean.var(axis=0), rtol=1e-5)
    md = write_results(table, str(tmp_path))[0]
    text = open(md).read()
    assert "reports no numbers" in text and "| baseline |" in text and "- tiny" in text
    dims = list(csv.reader(open(tmp_path / "arrays.csv")))
    assert len(dims) == 1 + 2 * 2 * 8  # mean and variance of mu_j, 8 dims, two models


def _example():
    if os.path.join(ROOT, "examples") not in sys.path:  # as `python examples/gamix_vae.py` has it
        sys.path.insert(0, os.path.join(ROOT, "examples"))
    spec = importlib.util.spec_from_file_location("gamix_example", os.path.join(ROOT, "examples", "gamix_vae.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_example_trains_both_models_and_writes_figures_and_tables(tmp_path):
    # ~2 min of CPU: two 32x32 models traced and trained for 2 steps each.
    rng = np.random.default_rng(0)
    data = str(tmp_path / "fm.npz")
    np.savez(data, x_train=rng.integers(0, 256, (128, 28, 28), dtype=np.uint8), y_train=np.zeros(128),
             x_test=rng.integers(0, 256, (40, 28, 28), dtype=np.uint8), y_test=np.zeros(40))
    out = str(tmp_path / "run")
    _example().main(["--dataset", "fashion_mnist", "--data", data, "--steps", "2", "--eval-size", "32",
                     "--feature-model", "none", "--output", out])
    for key in ("gamix", "baseline"):
        for name in (f"{key}.weights.h5", f"fig2_variants_{key}.png", f"fig3_transitions_{key}.png",
                     f"curves_{key}.png"):
            assert os.path.getsize(os.path.join(out, name)) > 0, name
    for name in ("images_gamix_vae.png", "images_standard_vae_baseline.png", "arrays.csv"):
        assert os.path.getsize(os.path.join(out, name)) > 0, name
    text = open(os.path.join(out, "results.md")).read()
    assert "GAMIX-VAE" in text and "standard VAE (baseline)" in text and "reports no numbers" in text
    # Reload the trained weights instead of training.
    again = str(tmp_path / "again")
    _example().main(["--dataset", "fashion_mnist", "--data", data, "--weights", out, "--eval-size", "32",
                     "--feature-model", "none", "--output", again])
    assert open(os.path.join(again, "results.md")).read().split("## ")[0] != ""


def test_example_arguments():
    args = _example().parse_args(["--dataset", "celeba_hq", "--no-baseline", "--steps", "5"])
    assert args.dataset == "celeba_hq" and args.no_baseline and args.steps == 5 and args.seed == 0
    with pytest.raises(SystemExit):
        _example().parse_args(["--dataset", "cifar10"])
