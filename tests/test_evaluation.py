import csv
import os

import keras
import numpy as np
import pytest

import keras_vaes as kv
from keras_vaes import evaluation
from keras_vaes.metrics import fid


def tiny_feature_model():
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(4, 3, activation="relu")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(6)(x), name="tiny_features")


@pytest.fixture(scope="module")
def evaluated():
    keras.utils.set_random_seed(0)
    model = kv.build_svae((16, 16, 1), 4, base_dim=8, emb_dim=16, num_scale=2, seed=0)
    images = np.random.default_rng(0).uniform(0, 1, (40, 16, 16, 1)).astype("float32")
    features = tiny_feature_model()
    results = evaluation.evaluate_split_vae(
        model, images, feature_model=features, gmm_components=(2,),
        num_samples=30, seed=0, batch_size=10, verbose=0,
    )
    return model, images, features, results


def test_mix_is_x1_then_x2():
    outputs = {"x1": np.zeros((4, 2, 2, 1)), "x2": np.ones((4, 2, 2, 1))}
    mixed = evaluation.mix_halves(outputs)
    np.testing.assert_array_equal(mixed[:, 0, 0, 0], [0, 0, 1, 1])


def test_table_rows_columns_and_fid_values(evaluated):
    model, images, features, results = evaluated
    assert list(results["samples"]) == ["REC", "GEN", "GMM-2"]
    for row in results["fid"].values():
        assert set(row) == {"x_hat", "x1", "x2", "mix"}
        assert all(np.isfinite(v) and v >= 0 for v in row.values())
    gen = results["samples"]["GEN"]
    assert gen["x_hat"].shape == (30, 16, 16, 1)
    expected = fid.fid_score(images[:30], gen["x2"], features)
    assert results["fid"]["GEN"]["x2"] == pytest.approx(expected, rel=1e-6)
    # GEN decodes the N(0, I) draw of the given seed.
    z = kv.samplers.NormalSampler(4).sample(30, seed=0)
    np.testing.assert_allclose(model.decode(z)["x_hat"], gen["x_hat"], atol=1e-6)


def test_diagnostics_match_numpy(evaluated):
    model, images, _, results = evaluated
    z_mean, z_log_var = model.encode(images[:30])
    law = np.var(z_mean, axis=0) + np.mean(np.exp(z_log_var), axis=0)
    d = results["diagnostics"]
    np.testing.assert_allclose(d["variance_law"], law, rtol=1e-5)
    assert d["inactive"] == int(np.sum(np.var(z_mean, axis=0) < 0.05))
    x_hat = model.decode(z_mean)["x_hat"]
    assert d["mse_rec"] == pytest.approx(np.mean((images[:30] - x_hat) ** 2), rel=1e-5)


def test_results_files_with_and_without_fid(evaluated, tmp_path):
    *_, results = evaluated
    evaluation.write_results(results, str(tmp_path / "a"), paper=evaluation.PAPER_CELEBA[3.0],
                             feature_description="tiny")
    text = (tmp_path / "a" / "results.md").read_text()
    gen_line = next(line for line in text.splitlines() if line.startswith("| GEN |"))
    assert "[54.8]" in gen_line and "[45.7]" in gen_line
    rows = list(csv.reader(open(tmp_path / "a" / "results.csv")))
    assert rows[0][:2] == ["samples", "fid_x_hat"] and rows[0][-1] == "paper_mix"
    gen = next(r for r in rows if r[0] == "GEN")
    assert float(gen[1]) == pytest.approx(results["fid"]["GEN"]["x_hat"], rel=1e-3)
    assert float(gen[6]) == 49.0  # paper x1
    no_fid = dict(results, fid={})
    evaluation.write_results(no_fid, str(tmp_path / "b"), fid_reason="no weights: put the file in ~/.keras/models")
    text = (tmp_path / "b" / "results.md").read_text()
    assert "FID cells are empty: no weights" in text and "n/a" in text
    paths = evaluation.save_result_figures(results, str(tmp_path / "b"))
    assert all(os.path.getsize(p) > 1000 for p in paths)


def test_feature_model_resolution(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_VAES_INCEPTION_WEIGHTS", str(tmp_path / "missing.h5"))
    model, description, reason = fid.feature_model_from_spec("inception")
    assert model is None and "InceptionV3" in description and "missing.h5" in reason
    path = str(tmp_path / "f.keras")
    tiny_feature_model().save(path)
    model, description, reason = fid.feature_model_from_spec(path)
    assert reason is None and model.output_shape == (None, 6)
    with pytest.raises(FileNotFoundError, match="--feature-model"):
        fid.feature_model_from_spec(str(tmp_path / "nope.keras"))
