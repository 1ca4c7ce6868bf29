"""keras_vaes.configs: each paper's configurations in one module, as the papers state them."""

import pytest

from keras_vaes import configs
from keras_vaes.evaluation import split_vae as split_vae_evaluation


def test_split_vae_tables_1_3_4():
    assert configs.split_vae.model_kwargs("mnist") == {"input_shape": (32, 32, 1), "latent_dim": 32, "beta": 8.0}
    cifar, celeba = configs.split_vae.CONFIGS["cifar10"], configs.split_vae.CONFIGS["celeba"]
    assert (cifar["latent_dim"], cifar["epochs"], cifar["gmm_components"]) == (200, 110, (100,))
    assert (celeba["input_shape"], celeba["latent_dim"], celeba["epochs"]) == ((64, 64, 3), 150, 160)
    assert cifar["paper"] is split_vae_evaluation.PAPER_CIFAR10 and celeba["table"] == "Table 4"
    with pytest.raises(ValueError, match="dataset='svhn'"):
        configs.split_vae.model_kwargs("svhn")


def test_two_stage_authors_scripts():
    celeba = configs.two_stage.model_kwargs("celeba")
    assert celeba == {"latent_dim": 64, "base_dim": 32, "num_scale": 4, "fc_dim": 512, "second_dim": 4096,
                      "second_depth": 3, "l2_reg": None}
    cifar = configs.two_stage.CONFIGS["cifar10"]
    assert (cifar["epochs"], cifar["epochs2"], cifar["lr_epochs"], cifar["lr_epochs2"]) == (700, 1400, 250, 400)
    assert configs.two_stage.CONFIGS["fashion_mnist"] is configs.two_stage.CONFIGS["mnist"]


def test_gamix_paper_and_cpu_networks():
    assert configs.gamix.model_kwargs("celeba_hq") == {
        "input_shape": (256, 256, 3), "latent_dim": 512, "filters": 128,
        "discriminator_strides": (2, 2, 2, 1, 1, 1)}
    assert configs.gamix.CONFIGS["celeba_hq"]["batch_size"] == 10
    assert configs.gamix.model_kwargs("mnist") == configs.gamix.model_kwargs("fashion_mnist")


def test_learned_priors_networks_and_plan():
    lp = configs.learned_priors
    assert [lp.LATENT_DIMS[d] for d in lp.DATASETS] == [8, 8, 64, 128]
    assert lp.FILTERS["celeba"] == (64, 128, 256, 512) and lp.BATCH_SIZE == 64
    assert lp.anneal_steps(1_000_000) == 50_000 and lp.anneal_steps(100) == 50
    assert lp.training_plan(100, 64, epochs=3) == (3, None, 6)  # 2 steps per epoch
    assert lp.training_plan(100, 64, steps=5) == (3, 2, 6)  # whole epochs covering 5 steps
    with pytest.raises(ValueError, match="kind='gan'"):
        lp.build_model("gan", 0.0, (32, 32, 1), 2)
    aae = lp.build_model("aae", 0.5, (32, 32, 1), 2, filters=(4, 8), dense_units=8)
    assert aae.prior is None and aae.latent_dim == 2


def test_split_vae_build_model_and_loading_a_run(tmp_path):
    import numpy as np

    svae = configs.split_vae
    assert svae.NETWORK == {"base_dim": 64, "emb_dim": 512, "num_scale": 4, "block_per_scale": 1,
                            "depth_per_block": 2}
    model = svae.build_model("mnist", base_dim=8, emb_dim=16, num_scale=1, split=False, seed=0)
    assert (model.image_shape, model.latent_dim, model.beta, model.split) == ((32, 32, 1), 32, 8.0, False)
    with pytest.raises(ValueError, match=r"Received: \['widht'\]"):
        svae.build_model("mnist", widht=8)
    path = str(tmp_path / "run.weights.h5")
    model.export_weights(path)
    images = np.random.default_rng(0).random((4, 32, 32, 1)).astype("float32")
    fresh = svae.build_model("mnist", base_dim=8, emb_dim=16, num_scale=1, split=False, seed=1)
    assert svae.load_run_weights(fresh, path, images) == {"adam_step": None, "gamma_mse": None}
    resumed = svae.load_run_weights(fresh, path, images, resume=True, learning_rate=1e-4)
    assert resumed == {"adam_step": 0, "gamma_mse": None}  # a preset's file: Adam starts afresh


def test_two_stage_train_refuses_an_unknown_dataset():
    with pytest.raises(ValueError, match="dataset='svhn'"):
        configs.two_stage.train(None, None, "svhn", "out")


def test_gamix_model_names_cover_build_models():
    assert set(configs.gamix.MODEL_NAMES) == {"gamix", "baseline"}


# --- learned_priors.sweep / figure2: tiny runs, what they write and return


@pytest.fixture(scope="module")
def tiny_digits():
    """16 training and 12 test images of 32x32x1 with labels, and a judge of tiny features."""
    import keras
    import numpy as np

    from keras_vaes.evaluation.tables import QualityMeasures

    rng = np.random.default_rng(0)
    x_train, x_test = (rng.random((n, 32, 32, 1)).astype("float32") for n in (16, 12))
    inputs = keras.Input((32, 32, 1))
    pooled = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3, strides=2)(inputs))
    judge = QualityMeasures(x_test, keras.Model(inputs, keras.layers.Dense(3)(pooled)), "tiny features")
    return x_train, x_test, np.arange(12) % 2, judge


LP_TINY = dict(latent_dim=2, epochs=1, steps_per_epoch=1, batch_size=8, filters=(4, 8), dense_units=8,
               num_couplings=2, hidden_units=4, anneal_steps=1)


def test_learned_priors_sweep_records_resumes_and_returns_the_figures_model(tiny_digits, tmp_path, capsys):
    import numpy as np

    lp = configs.learned_priors
    x_train, x_test, labels, judge = tiny_digits
    run = dict(steps=1, features="tiny features", labels=labels, num_samples=12, separability_samples=12,
               header="# tiny", fid_label="FID", title="tiny: FID vs beta", fit_verbose=0, **LP_TINY)
    rows, model = lp.sweep(["vae", "fp_vae"], [0.0], x_train, x_test, judge, str(tmp_path), **run)
    assert [(r["model"], r["beta"], r["steps"]) for r in rows] == [("vae", 0.0, 1), ("fp_vae", 0.0, 1)]
    assert all(r["fid"] >= 0 for r in rows) and all(r["seconds"] >= 0 for r in rows)
    assert model.prior is not None and model.latent_dim == 2  # the FP-VAE at the lowest beta
    for name in ("results.md", "results.csv", "fid_vs_beta.png", "samples_vae_beta0.png",
                 "samples_fp_vae_beta0.png", "vae_beta0_history.csv", "fp_vae_beta0.weights.h5"):
        assert (tmp_path / name).stat().st_size > 0, name
    assert not (tmp_path / "vae_beta0.weights.h5").exists()  # only the figures' model is saved
    assert "=== vae_beta0 ===" in capsys.readouterr().out
    # Resumed with one more beta: the two runs kept, one trained; the figures' model read back.
    rows, again = lp.sweep(["fp_vae", "vae"], [1.0, 0.0], x_train, x_test, judge, str(tmp_path), resume=True,
                           **run)
    out = capsys.readouterr().out
    assert out.count("kept from") == 2 and "=== fp_vae_beta1 ===" in out and "=== vae_beta1" in out
    assert [(r["model"], r["beta"]) for r in rows] == [("vae", 0.0), ("fp_vae", 0.0), ("fp_vae", 1.0),
                                                       ("vae", 1.0)]
    for a, b in zip(again.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert "| VAE (N(0, I) prior) |" in (tmp_path / "results.md").read_text()
    # All kept: nothing trains, the other models' records stay in the results; verbose=0 prints nothing.
    rows, none = lp.sweep(["vae"], [0.0, 1.0], x_train, x_test, judge, str(tmp_path), resume=True, verbose=0,
                          **run)
    assert len(rows) == 4 and none is None and capsys.readouterr().out == ""


def test_learned_priors_figure2_trains_a_2d_fp_vae(tiny_digits, tmp_path):
    x_train, x_test, labels, _ = tiny_digits
    tiny = {k: v for k, v in LP_TINY.items() if k != "latent_dim"}
    model = configs.learned_priors.figure2(x_train, x_test, labels, str(tmp_path), "mnist", verbose=0, **tiny)
    assert model.latent_dim == 2 and model.beta == 0.0 and model.prior is not None
    assert (tmp_path / "latents_2d.png").stat().st_size > 0
    assert len((tmp_path / "latent2d_history.csv").read_text().strip().splitlines()) == 2  # header, 1 epoch


# --- split_vae: a run's settings, data, model, training and table


def test_split_vae_run_settings_fill_the_papers_values():
    svae = configs.split_vae
    assert set(svae.NETWORK_DESCRIPTIONS) == set(svae.NETWORK)
    assert svae.run_settings("mnist") == {"latent_dim": 32, "beta": 8.0, "gmm_components": [20, 100],
                                          "epochs": 300}
    assert svae.run_settings("celeba", latent_dim=8, beta=0.0, gmm_components=(5,), epochs=2) == {
        "latent_dim": 8, "beta": 0.0, "gmm_components": [5], "epochs": 2}
    assert svae.run_settings("cifar10", loading=True)["epochs"] == 0  # a weights file: evaluate it
    preset = svae.run_settings("mnist", latent_dim=4, beta=1.0, preset="svae_mnist_10ep")
    assert (preset["latent_dim"], preset["beta"], preset["epochs"]) == (32, 8.0, 0)  # the preset's network
    with pytest.raises(ValueError, match=r"not cifar10's \(32, 32, 3\)"):
        svae.run_settings("cifar10", preset="svae_mnist_10ep")
    with pytest.raises(ValueError, match="preset='two_stage_mnist'"):
        svae.run_settings("mnist", preset="two_stage_mnist")
    with pytest.raises(ValueError, match="dataset='svhn'"):
        svae.run_settings("svhn")


def test_split_vae_load_data_cuts_images_and_labels(tmp_path):
    import numpy as np

    rng = np.random.default_rng(0)
    path = tmp_path / "mnist.npz"
    np.savez(path, x_train=rng.integers(0, 256, (10, 28, 28), dtype=np.uint8), y_train=np.arange(10),
             x_test=rng.integers(0, 256, (6, 28, 28), dtype=np.uint8), y_test=np.arange(6))
    (x_train, y_train), (x_test, y_test) = configs.split_vae.load_data("mnist", str(path), train_size=4)
    assert x_train.shape == (4, 32, 32, 1) and list(y_train) == [0, 1, 2, 3]  # zero-padded to 32x32
    assert x_test.shape == (6, 32, 32, 1) and 0 <= x_train.min() and x_train.max() <= 1
    (_, _), (x_test, y_test) = configs.split_vae.load_data("mnist", str(path), test_size=2)
    assert len(x_test) == len(y_test) == 2
    np.savez(tmp_path / "rgb.npz", x_train=np.zeros((2, 32, 32, 3)), y_train=np.zeros(2),
             x_test=np.zeros((2, 32, 32, 3)), y_test=np.zeros(2))
    with pytest.raises(ValueError, match="Expected mnist images of shape"):
        configs.split_vae.load_data("mnist", str(tmp_path / "rgb.npz"))


SVAE_TINY = dict(latent_dim=4, base_dim=8, emb_dim=16, num_scale=1)


def test_split_vae_load_model_builds_or_loads_and_reports(tmp_path, capsys):
    import numpy as np

    svae = configs.split_vae
    model = svae.load_model("mnist", split=False, seed=0, **SVAE_TINY)
    assert (model.split, model.latent_dim, model.beta) == (False, 4, 8.0) and capsys.readouterr().out == ""
    path = str(tmp_path / "preset.weights.h5")
    model.export_weights(path)
    images = np.random.default_rng(0).random((4, 32, 32, 1)).astype("float32")
    loaded = svae.load_model("mnist", weights=path, gamma_images=images, resume=True, learning_rate=1e-3,
                             split=False, seed=1, verbose=1, **SVAE_TINY)
    out = capsys.readouterr().out
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert float(loaded.optimizer.learning_rate) == pytest.approx(1e-3)  # compiled for resuming
    assert "vanilla VAE: " in out and " trainable parameters" in out
    assert f"{path}: no optimizer state (a preset or export_weights file): Adam starts afresh" in out
    assert f"loaded {path}; gamma = {model.gamma:.5f}" in out


@pytest.fixture(scope="module")
def tiny_svae_judge(tmp_path_factory):
    """Images 32x32x1 and a tiny .keras feature model (the FIDs' judge)."""
    import keras
    import numpy as np

    images = np.random.default_rng(1).random((20, 32, 32, 1)).astype("float32")
    inputs = keras.Input((32, 32, 3))
    pooled = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3, strides=2)(inputs))
    path = tmp_path_factory.mktemp("judge") / "features.keras"
    keras.Model(inputs, keras.layers.Dense(5)(pooled)).save(path)
    return images, str(path)


def test_split_vae_train_run_writes_checkpoint_log_curves_and_fids(tiny_svae_judge, tmp_path, capsys):
    import csv

    from keras_vaes.metrics import extractors

    svae = configs.split_vae
    images, features = tiny_svae_judge
    extractor = extractors.feature_model_from_spec(features)[0]
    model = svae.build_model("mnist", seed=0, **SVAE_TINY)
    history = svae.train_run(model, images, images[:4], str(tmp_path), "mnist", epochs=2, batch_size=10,
                             initial_epoch=3, fid_every=1, reference=images[:10], feature_model=extractor,
                             fid_components=2, fid_samples=10, feature_description="tiny", verbose=1)
    assert len(history["loss"]) == 2 and history["fid_gmm2_x1"][-1] >= 0  # the FIDs in the history
    assert f"wrote {svae.weights_path(str(tmp_path), 'mnist')}" in capsys.readouterr().out
    for name in ("svae_mnist.weights.h5", "history.csv", "curves.png", "fid_evolution.png"):
        assert (tmp_path / name).stat().st_size > 0, name
    rows = list(csv.DictReader(open(tmp_path / "fid_evolution.csv")))
    assert {r["curve"] for r in rows} == {"split x_hat", "split x1", "split x2"}
    assert {r["epoch"] for r in rows} == {"4", "5"}  # resumed after epoch 3: numbered from 4
    with pytest.raises(ValueError, match="need reference images and a feature model"):
        svae.train_run(model, images, images[:4], str(tmp_path), "mnist", epochs=1, fid_every=1)


def test_split_vae_evaluate_writes_the_papers_table(tiny_svae_judge, tmp_path):
    import csv

    images, features = tiny_svae_judge
    model = configs.split_vae.build_model("mnist", seed=0, **SVAE_TINY)
    path = configs.split_vae.evaluate(model, images, "mnist", str(tmp_path), feature_model=features,
                                      gmm_components=[2], num_samples=10, weights="untrained", verbose=0)
    assert path == str(tmp_path / "results.md")
    text = (tmp_path / "results.md").read_text()
    assert "Split-VAE, mnist (latent 4, beta 8" in text and "Weights: untrained" in text
    cells = {(r["row"], r["column"], r["quantity"]): r["value"] for r in csv.DictReader(open(tmp_path / "results.csv"))}
    assert {row for row, *_ in cells} >= {"REC", "GEN", "GMM-2"}
    assert all(float(cells[("GMM-2", c, "FID")]) >= 0 for c in ("x_hat", "x1", "x2", "mix"))


def test_split_vae_category_table_writes_table2(tmp_path):
    import csv

    import keras
    import numpy as np

    rng = np.random.default_rng(0)
    x_train, reference = rng.random((40, 32, 32, 3)).astype("float32"), rng.random((20, 32, 32, 3)).astype("float32")
    inputs = keras.Input((32, 32, 3))
    pooled = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3, strides=2)(inputs))
    features = keras.Model(inputs, keras.layers.Dense(5)(pooled))
    path = configs.split_vae.category_table("cifar10", x_train, np.arange(40) % 10, reference, features,
                                            str(tmp_path), per_category=20, feature_description="tiny")
    assert path == str(tmp_path / "table2.md") and (tmp_path / "table2.md").stat().st_size > 0
    cells = {(r["row"], r["column"], r["quantity"]): r["value"] for r in csv.DictReader(open(tmp_path / "table2.csv"))}
    assert {row for row, *_ in cells} == {"plane", "car", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
                                          "truck", "mix"}
    assert cells[("plane", "", "images")] == "8" and float(cells[("plane", "images", "FID")]) >= 0  # 4 + 4 flips
    with pytest.raises(ValueError, match="celeba has none"):
        configs.split_vae.category_table("celeba", x_train, None, reference, features, str(tmp_path))
