import csv
import os

import keras
import numpy as np
import pytest

import keras_vaes as kv
from keras_vaes import evaluation
from keras_vaes import metrics


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
    table = evaluation.evaluate_split_vae(
        model, images, feature_model=features, gmm_components=(2,),
        num_samples=30, seed=0, batch_size=10, verbose=0,
        classifier=metrics.FeatureExtractor(features, input_range=(0.0, 1.0), description="stand-in"),
    )
    return model, images, features, table


def test_mix_is_x1_then_x2():
    outputs = {"x1": np.zeros((4, 2, 2, 1)), "x2": np.ones((4, 2, 2, 1))}
    mixed = evaluation.mix_halves(outputs)
    np.testing.assert_array_equal(mixed[:, 0, 0, 0], [0, 0, 1, 1])


def test_table_rows_columns_and_fid_values(evaluated):
    model, images, features, table = evaluated
    assert isinstance(table, evaluation.ResultTable)
    assert table.rows == ["REC", "GEN", "GMM-2"] and table.columns == ["x_hat", "x1", "x2", "mix"]
    for row in table.rows:
        for column in table.columns:
            cell = table.cell(row, column)
            assert np.isfinite(cell["fd"]) and cell["fd"] >= 0
            assert 0.0 <= cell["precision"] <= 1.0 and 0.0 <= cell["recall"] <= 1.0
    gen_x2 = table.images[("GEN", "x2")]
    assert gen_x2.shape == (30, 16, 16, 1)
    expected = metrics.fid_score(images[:30], gen_x2, features)
    assert table.cell("GEN", "x2")["fd"] == pytest.approx(expected, rel=1e-6)
    # GEN decodes the N(0, I) draw of the given seed.
    z = kv.samplers.NormalSampler(4).sample(30, seed=0)
    np.testing.assert_allclose(model.decode(z)["x_hat"], table.images[("GEN", "x_hat")], atol=1e-6)


def test_diagnostics_match_numpy(evaluated):
    model, images, _, table = evaluated
    z_mean, z_log_var = model.encode(images[:30])
    law = np.var(z_mean, axis=0) + np.mean(np.exp(z_log_var), axis=0)
    np.testing.assert_allclose(table.arrays["variance_law"], law, rtol=1e-5)
    assert table.diagnostics["inactive variables (var(z_mean) < 0.05)"] == int(np.sum(np.var(z_mean, axis=0) < 0.05))
    # REC decodes a sampled z, as the authors' through_latent.
    z = keras.ops.convert_to_numpy(kv.Sampling(seed=0, dtype="float32")([z_mean, z_log_var]))
    x_hat = model.decode(z)["x_hat"]
    assert not np.allclose(z, z_mean)
    assert table.extras["REC"]["x_hat MSE"] == pytest.approx(np.mean((images[:30] - x_hat) ** 2), rel=1e-5)
    assert set(table.extras["GEN"]) == set()  # the MSE and variance loss belong to REC only


def test_results_files_with_and_without_fid(evaluated, tmp_path):
    model, images, _, table = evaluated
    table.paper = evaluation.PAPER_CELEBA[3.0]
    try:
        paths = evaluation.write_results(table, str(tmp_path / "a"))
    finally:
        table.paper = {}
    text = (tmp_path / "a" / "results.md").read_text()
    gen_line = next(line for line in text.splitlines() if line.startswith("| GEN |"))
    assert f"{table.cell('GEN', 'x_hat')['fd']:.2f} [54.8]" in gen_line and "[45.7]" in gen_line
    rows = list(csv.reader(open(tmp_path / "a" / "results.csv")))
    by_key = {tuple(r[:3]): r[3] for r in rows[1:]}
    assert float(by_key[("GEN", "x_hat", "FID")]) == pytest.approx(table.cell("GEN", "x_hat")["fd"], rel=1e-9)
    assert float(by_key[("GEN", "x1", "paper FID")]) == 49.0
    assert float(by_key[("GMM-2", "mix", "FD (classifier features) recall")]) == pytest.approx(
        table.cell("GMM-2", "mix", evaluation.tables.FD)["recall"])
    assert (tmp_path / "a" / "variance_law.png").exists() and (tmp_path / "a" / "images_gmm_2.png").exists()
    assert all(os.path.getsize(p) > 1000 for p in paths if p.endswith(".png"))
    no_fid = evaluation.evaluate_split_vae(model, images, gmm_components=(), num_samples=30, batch_size=10,
                                           verbose=0, fid_unavailable="no weights: put the file in ~/.keras/models")
    assert no_fid.fid_unavailable.startswith("no weights") and no_fid.values() == {}
    evaluation.write_results(no_fid, str(tmp_path / "b"), figures=False)
    text = (tmp_path / "b" / "results.md").read_text()
    assert text.count("FID cells are empty: no weights: put the file") == 1 and "—" in text


def test_feature_model_resolution(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_VAES_INCEPTION_WEIGHTS", str(tmp_path / "missing.h5"))
    model, description, reason = metrics.feature_model_from_spec("inception")
    assert model is None and "InceptionV3" in description and "missing.h5" in reason
    path = str(tmp_path / "f.keras")
    tiny_feature_model().save(path)
    model, description, reason = metrics.feature_model_from_spec(path)
    assert reason is None and model.model.output_shape == (None, 6)
    with pytest.raises(FileNotFoundError, match="--feature-model"):
        metrics.feature_model_from_spec(str(tmp_path / "nope.keras"))


# --- the Split-VAE mix and the FD column ------------------------------------


def test_mix_modes_against_numpy():
    outputs = {"x1": np.zeros((10, 1)), "x2": np.ones((10, 1))}
    np.testing.assert_array_equal(evaluation.mix_halves(outputs, "authors")[:, 0], [0] * 5 + [1] * 5)
    mixed = evaluation.mix_halves(outputs, "random", seed=3)[:, 0]
    second = np.zeros(10, bool)
    second[np.random.default_rng(3).permutation(10)[5:]] = True
    np.testing.assert_array_equal(mixed, second.astype(float))
    with pytest.raises(ValueError, match="mix='coin'"):
        evaluation.mix_halves(outputs, "coin")


@pytest.mark.parametrize("mix", ["authors", "random"])
def test_gmm_mix_as_the_authors_or_random(evaluated, mix):
    model, images, features, table = evaluated
    if mix == "random":
        table = evaluation.evaluate_split_vae(
            model, images, feature_model=features, gmm_components=(2,), num_samples=30,
            seed=0, batch_size=10, verbose=0, mix=mix)
    assert any("grouped by component" in note for note in table.notes) == (mix == "authors")
    z_mean, _ = model.encode(images[:30])
    sampler = kv.samplers.GMMSampler(2, max_iter=200, seed=0).fit(z_mean)
    # authors: scikit-learn's order (grouped by component); random: shuffled.
    z = sampler.sample(30, seed=0, shuffle=(mix == "random"))
    decoded = model.decode(z)
    np.testing.assert_allclose(table.images[("GMM-2", "x1")], decoded["x1"], atol=1e-5)
    mixed = np.copy(decoded["x1"])
    if mix == "authors":
        mixed[15:] = decoded["x2"][15:]  # img_mix[5000:] = img2[5000:]
    else:
        pick = np.random.default_rng(0).permutation(30)[15:]
        mixed[pick] = decoded["x2"][pick]
    expected = metrics.fid_score(images[:30], np.clip(mixed, 0, 1), features)
    assert table.cell("GMM-2", "mix")["fd"] == pytest.approx(expected, rel=1e-4)


def test_fd_column_rows_computed_one_at_a_time(evaluated, tmp_path):
    model, images, features, table = evaluated
    classifier = metrics.FeatureExtractor(features, input_range=(0.0, 1.0))
    assert list(table.measures) == [evaluation.tables.FID, evaluation.tables.FD]
    assert table.measures[evaluation.tables.FD] == "stand-in"
    gen = table.images[("GEN", "x1")]
    assert table.cell("GEN", "x1", evaluation.tables.FD)["fd"] == pytest.approx(
        metrics.fid_score(images[:30], gen, classifier), rel=1e-4)
    # Only `keep_images` images per set are kept; the scores do not change.
    kept = evaluation.evaluate_split_vae(
        model, images, feature_model=features, gmm_components=(2,), num_samples=30,
        seed=0, batch_size=10, verbose=0, keep_images=4, k=None)
    assert all(v.shape[0] == 4 for v in kept.images.values())
    # ... evenly spaced over the set, so a grid of grouped GMM samples shows every component.
    z = kv.samplers.NormalSampler(4).sample(30, seed=0)[[0, 10, 19, 29]]
    np.testing.assert_allclose(kept.images[("GEN", "x_hat")], model.decode(z)["x_hat"], atol=1e-6)
    assert kept.cell("GMM-2", "x2")["fd"] == pytest.approx(table.cell("GMM-2", "x2")["fd"], rel=1e-6)
    assert kept.cell("GMM-2", "x2")["precision"] is None  # k=None: no precision / recall
    assert list(kept.measures) == [evaluation.tables.FID]
    evaluation.write_results(table, str(tmp_path), figures=False)
    text = (tmp_path / "results.md").read_text()
    assert "FD (classifier features) x_hat" in text and "NOT comparable" in text
    assert "grouped by component" in text and "sampled z" in text


# --- the two-stage tables (authors' protocol) ------------------------------


def test_evaluation_images_shuffled_test_split_or_first_training():
    x_train, x_test = np.arange(50)[:, None], np.arange(100, 140)[:, None]
    got = evaluation.evaluation_images(x_train, x_test, "test", count=10, seed=2)
    np.testing.assert_array_equal(got, x_test[np.random.default_rng(2).permutation(40)[:10]])
    np.testing.assert_array_equal(evaluation.evaluation_images(x_train, x_test, "train", 10), x_train[:10])
    with pytest.raises(ValueError, match="split='val'"):
        evaluation.evaluation_images(x_train, x_test, "val")


def test_two_stage_rows_authors_protocol_and_extension(tmp_path):
    from keras_vaes.evaluation import two_stage

    keras.utils.set_random_seed(0)
    model = kv.build_two_stage_vae((16, 16, 1), 4, base_dim=8, num_scale=2, fc_dim=16,
                                   second_dim=16, seed=0)
    images = np.random.default_rng(1).uniform(0, 1, (40, 16, 16, 1)).astype("float32")
    features = tiny_feature_model()
    classifier = metrics.FeatureExtractor(features, input_range=(0.0, 1.0), description="stand-in")
    table = two_stage.evaluate_two_stage(
        model, images, features, seed=3, batch_size=20, classifier=classifier,
        feature_description="tiny extractor", dataset="cifar10", notes=["a note"])
    names = [name for name, *_ in two_stage.ROWS]
    assert table.rows == names and table.columns == list(two_stage.COLUMNS)
    plain, authors, extension, noise = names
    assert model.renormalization.target == "authors"
    # Authors' row: REC rescaled, generated images not rescaled.
    rec = model.reconstruct(images, renormalize=True, sample=True, seed=3, batch_size=20)["x_hat"]
    assert table.cell(authors, "REC")["fd"] == pytest.approx(metrics.fid_score(images, rec, features), rel=1e-4)
    gen2 = model.generate(40, stage=2, renormalize=True, seed=3, batch_size=20)["x_hat"]
    assert table.cell(authors, "GEN-2")["fd"] == pytest.approx(metrics.fid_score(images, gen2, features), rel=1e-4)
    assert table.cell(authors, "GEN-2", evaluation.tables.FD)["fd"] == pytest.approx(
        metrics.fid_score(images, gen2, classifier), rel=1e-4)
    rescaled = model.generate(40, stage=2, renormalize=True, seed=3, batch_size=20,
                              rescale_images=True)["x_hat"]
    assert table.cell(extension, "GEN-2")["fd"] == pytest.approx(metrics.fid_score(images, rescaled, features), rel=1e-4)
    assert table.cell(extension, "REC")["fd"] == pytest.approx(table.cell(authors, "REC")["fd"], rel=1e-6)
    assert table.extras[plain]["GEN-1 pixel std"] == pytest.approx(
        kv.samplers.mean_std(model.generate(40, stage=1, seed=3, batch_size=20)["x_hat"]), rel=1e-5)
    assert table.extras[authors]["REC MSE"] == pytest.approx(np.mean((images - rec) ** 2), rel=1e-5)
    assert table.extras[extension]["renormalize"] is True and table.extras[plain]["renormalize"] is False
    noisy = model.generate(40, seed=3, batch_size=20, latent_noise=True)["x_hat"]
    assert table.cell(noise, "GEN-2")["fd"] == pytest.approx(metrics.fid_score(images, noisy, features), rel=1e-4)
    assert table.cell(noise, "REC")["fd"] is None and "REC MSE" not in table.extras[noise]
    md_path, csv_path, *_ = evaluation.write_results(table, str(tmp_path), figures=False)
    text = open(md_path).read()
    assert "FID: tiny extractor." in text and "NOT comparable" in text and "- a note" in text
    assert "— [69.4±1.0]" in text and "image rescaling (extension)" in text
    assert "renormalisation target: authors" in text and "REC decodes a sampled z" in text
    rows = list(csv.reader(open(csv_path)))
    assert [authors, "GEN-2", "FID", str(table.cell(authors, "GEN-2")["fd"])] in rows
    assert ["ours with normalization", "GEN-2", "paper FID", "69.4±1.0"] in rows


def test_split_vae_rec_from_the_posterior_mean_option(evaluated):
    model, images, features, table = evaluated
    mean = evaluation.evaluate_split_vae(
        model, images, feature_model=None, gmm_components=(), num_samples=30,
        seed=0, batch_size=10, verbose=0, rec_latent="mean")
    z_mean, _ = model.encode(images[:30])
    x_hat = model.decode(z_mean)["x_hat"]
    mse = mean.extras["REC"]["x_hat MSE"]
    assert mse == pytest.approx(np.mean((images[:30] - x_hat) ** 2), rel=1e-5)
    assert mse != pytest.approx(table.extras["REC"]["x_hat MSE"], rel=1e-6)
    assert mean.values() == {} and mean.rows == ["REC", "GEN"]
    with pytest.raises(ValueError, match="rec_latent='z'"):
        evaluation.evaluate_split_vae(model, images, rec_latent="z")


def test_only_one_decoded_row_is_alive_at_a_time(evaluated, monkeypatch):
    """The evaluation's memory is flat in the number of rows: each row's images are freed before the next."""
    import gc
    import weakref

    from keras_vaes.evaluation import split_vae

    model, images, features, _ = evaluated
    decode = split_vae.decode_latents
    earlier, alive_at_call = [], []

    def tracked(*args, **kwargs):
        gc.collect()
        alive_at_call.append(sum(ref() is not None for ref in earlier))
        outputs = decode(*args, **kwargs)
        earlier.extend(weakref.ref(array) for array in outputs.values())
        return outputs

    monkeypatch.setattr(split_vae, "decode_latents", tracked)
    vanilla = kv.build_svae((16, 16, 1), 4, base_dim=8, emb_dim=16, num_scale=2, split=False, seed=0)
    for evaluated_model in (model, vanilla):
        earlier.clear(), alive_at_call.clear()
        split_vae.evaluate_split_vae(evaluated_model, images, feature_model=features,
                                     gmm_components=(2, 3), num_samples=30, seed=0,
                                     batch_size=10, verbose=0)
        # the one-code probe of the outputs, then REC, GEN, GMM-2, GMM-3: none of the earlier rows left
        assert alive_at_call == [0, 0, 0, 0, 0]


def test_category_table_is_a_result_table(tmp_path):
    from keras_vaes.evaluation import split_vae_categories as categories

    rng = np.random.default_rng(4)
    images = rng.uniform(0, 1, (60, 16, 16, 3)).astype("float32")
    labels = np.repeat([0, 1, 2], 20)
    reference = rng.uniform(0, 1, (30, 16, 16, 3)).astype("float32")
    features = tiny_feature_model()
    table = categories.category_fid_table(images, labels, reference, features, class_names=("a", "b", "c"),
                                          per_category=30, batch_size=10, paper={"a": 80.7, "mix": 5.3})
    assert table.rows == ["a", "b", "c", "mix"] and table.columns == ["images"]
    b = categories.category_images(images, labels, 1, 30)
    assert table.extras["b"]["images"] == 30 and table.extras["mix"]["images"] == 30
    assert table.cell("b", "images")["fd"] == pytest.approx(metrics.fid_score(reference, b, features), rel=1e-6)
    md_path, csv_path = evaluation.write_results(table, str(tmp_path), name="table2", figures=False)
    assert md_path.endswith("table2.md") and not (tmp_path / "results.md").exists()
    line = next(line for line in open(md_path) if line.startswith("| a |"))
    assert f"{table.cell('a', 'images')['fd']:.2f} [80.7]" in line
