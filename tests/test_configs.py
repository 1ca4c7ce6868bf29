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
