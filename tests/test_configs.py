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
