import math

import keras
import numpy as np
import pytest

from keras_vaes import losses
from keras_vaes.models.two_stage import (
    FirstStage,
    SecondStage,
    TwoStageVAE,
    build_two_stage_vae,
    first_stage_kl_weight,
)

SHAPE = (16, 16, 1)
LATENT = 8
TINY = dict(base_dim=8, num_scale=2, fc_dim=16, second_dim=16, seed=1)


def tiny_model(**kwargs):
    return build_two_stage_vae(SHAPE, LATENT, **{**TINY, **kwargs})


def tiny_data(n=32, seed=0):
    return np.random.default_rng(seed).uniform(0, 1, (n,) + SHAPE).astype("float32")


class BatchLog(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.logs = []

    def on_train_batch_end(self, batch, logs=None):
        self.logs.append({k: float(v) for k, v in logs.items()})


@pytest.fixture(scope="module")
def trained():
    """A tiny two-stage VAE trained a few steps, with the per-batch logs."""
    model = tiny_model()
    data = tiny_data()
    log1, log2 = BatchLog(), BatchLog()
    model.fit_first_stage(data, 1, batch_size=8, callbacks=[log1], verbose=0)
    model.fit_second_stage(data, 1, batch_size=8, callbacks=[log2], verbose=0)
    return model, data, log1.logs, log2.logs


# --- architecture --------------------------------------------------------


def test_first_stage_structure():
    stage = tiny_model().first_stage
    layers = {layer.name: layer for layer in stage.encoder.get_layer("embedding").layers}
    # 3x3 stem at full resolution, num_scale scale blocks, num_scale-1 downsamplings.
    assert layers["embedding_stem"].strides == (1, 1)
    assert layers["embedding_stem"].kernel_size == (3, 3)
    downs = [n for n in layers if "_down" in n]
    assert downs == ["embedding_down0"]
    assert {"embedding_scale0_res0_conv0", "embedding_scale1_res0_conv0"} <= set(layers)
    # ReLU everywhere, no batch normalisation in the dense block.
    acts = [l for l in layers.values() if isinstance(l, keras.layers.Activation)]
    assert acts and all(l.get_config()["activation"] == "relu" for l in acts)
    assert not [n for n in layers if n.startswith("embedding_dense") and "_bn" in n]
    # Decoder from a 2x2 map: 2 -> 4 -> 8 -> 16, channels doubling toward 2x2.
    decoder = stage.decoder
    assert decoder.get_layer("decoder_reshape").output.shape[1:] == (2, 2, 64)
    ups = [l for l in decoder.layers if isinstance(l, keras.layers.Conv2DTranspose)]
    assert [l.filters for l in ups] == [32, 16, 8]
    assert decoder.get_layer("decoder_output").get_config()["activation"] == "sigmoid"
    assert stage.kl_weight == first_stage_kl_weight(16, LATENT) == 16.0
    # count_params is the networks only; gamma is not a weight.
    n = sum(int(np.prod(w.shape)) for w in stage.weights)
    assert stage.count_params() == n


def test_second_stage_parameter_count_by_hand():
    latent, width, depth = LATENT, 16, 3
    stage = SecondStage(latent, second_dim=width, second_depth=depth)
    dense = latent * width + width + (depth - 1) * (width * width + width)
    head = (latent + width) * latent + latent
    assert stage.encoder.count_params() == dense + 2 * head
    assert stage.decoder.count_params() == dense + head
    assert stage.count_params() == 2 * dense + 3 * head
    out = stage(np.zeros((3, latent), "float32"))
    assert sorted(out) == ["u_log_var", "u_mean", "z_hat"]


def test_paper_configuration_builds():
    model = build_two_stage_vae((64, 64, 3), 64, num_scale=4, second_dim=4096,
                                l2_reg=0.001)
    assert model.first_stage.kl_weight == 4.0
    assert model.second_stage.encoder.get_layer("encoder_fc0").units == 4096
    assert model.first_stage.count_params() > 0


# --- loss and balancing --------------------------------------------------


def test_stage1_loss_against_numpy():
    stage = tiny_model().first_stage
    x = tiny_data(6)
    out = stage(x, training=False)
    x_hat, mu, log_var = (keras.ops.convert_to_numpy(out[k]).astype("float64")
                          for k in ("x_hat", "z_mean", "z_log_var"))
    gamma, k = 0.3, stage.kl_weight
    loss, nll, kl = losses.balanced_gaussian_vae_loss(
        x, out["x_hat"], out["z_mean"], out["z_log_var"], gamma, k
    )
    kl_np = 0.5 * np.sum(mu**2 + np.exp(log_var) - 1 - log_var, axis=1)
    nll_np = np.sum(((x - x_hat) / gamma) ** 2 / 2 + math.log(gamma)
                    + 0.5 * math.log(2 * math.pi), axis=(1, 2, 3))
    np.testing.assert_allclose(float(kl), kl_np.mean(), rtol=1e-5)
    np.testing.assert_allclose(float(nll), nll_np.mean(), rtol=1e-5)
    np.testing.assert_allclose(float(loss), np.mean(k * kl_np + nll_np), rtol=1e-5)


def _check_balancing(logs):
    estimate, previous_mean = 1.0, 0.0
    assert len(logs) >= 3
    for b, log in enumerate(logs):
        # Batch MSE recovered from the running epoch mean of the progress bar.
        batch_mse = (b + 1) * log["mse"] - b * previous_mean
        previous_mean = log["mse"]
        estimate = min(estimate, 0.99 * estimate + 0.01 * batch_mse)
        np.testing.assert_allclose(log["gamma"], math.sqrt(estimate), rtol=1e-4)
    return estimate


def test_balancing_update_by_hand(trained):
    model, _, logs1, logs2 = trained
    assert {"loss", "mse", "kl", "gamma"} <= set(logs1[0])
    estimate = _check_balancing(logs1)
    assert estimate < 1.0
    np.testing.assert_allclose(model.first_stage.mse_estimate, estimate, rtol=1e-4)
    _check_balancing(logs2)


# --- generation ----------------------------------------------------------


def test_generation_shapes_ranges_and_renormalisation(trained):
    model, data, _, _ = trained
    with pytest.raises(ValueError, match="fit_renormalization"):
        model.generate(4, stage=2, renormalize=True)
    stats = model.fit_renormalization(data, seed=0)
    np.testing.assert_allclose(stats.data_std, np.mean(np.std(data, axis=0)), rtol=1e-5)
    for stage in (1, 2):
        plain = model.generate(20, stage=stage, seed=3)
        renorm = model.generate(20, stage=stage, renormalize=True, seed=3, rescale_images=True)
        for images in (plain, renorm):
            assert images.shape == (20,) + SHAPE
            assert images.min() >= 0.0 and images.max() <= 1.0
        gap = lambda g: abs(np.mean(np.std(g, axis=0)) - stats.data_std)
        assert gap(renorm) < gap(plain)
    z = model.sample_latents(10, stage=2, seed=0)
    assert z.shape == (10, LATENT)
    rec = model.reconstruct(data[:5], renormalize=True)
    assert rec.shape == (5,) + SHAPE


# --- saving --------------------------------------------------------------


def test_weights_round_trip_restores_outputs_and_gamma(trained, tmp_path):
    model, data, _, _ = trained
    prefix = tmp_path / "ts"
    first, second = model.save_weights(prefix)
    assert first.endswith(".first_stage.weights.h5")
    other = tiny_model(seed=7)
    assert other.first_stage.gamma == 1.0
    other.load_weights(prefix)
    assert other.first_stage.gamma == pytest.approx(model.first_stage.gamma)
    assert other.second_stage.gamma == pytest.approx(model.second_stage.gamma)
    assert other.first_stage.mse_estimate == pytest.approx(model.first_stage.mse_estimate)
    np.testing.assert_allclose(other.first_stage.encode(data[:4])[0],
                               model.first_stage.encode(data[:4])[0], atol=1e-6)
    u = np.random.default_rng(0).standard_normal((4, LATENT)).astype("float32")
    np.testing.assert_allclose(other.second_stage.decode(u)["z_hat"],
                               model.second_stage.decode(u)["z_hat"], atol=1e-6)
    np.testing.assert_allclose(other.generate(4, stage=2, seed=1),
                               model.generate(4, stage=2, seed=1), atol=1e-6)


# --- errors --------------------------------------------------------------


@pytest.mark.parametrize(
    "shape,kwargs,match",
    [
        ((16, 8, 1), {}, "square"),
        ((12, 12, 1), {}, "image side"),
        ((16, 16), {}, "height, width, channels"),
        (SHAPE, {"num_scale": 6}, "num_scale"),
        (SHAPE, {"latent_dim": 0}, "latent_dim"),
    ],
)
def test_bad_config_errors(shape, kwargs, match):
    config = {**dict(latent_dim=LATENT, base_dim=8, num_scale=2, fc_dim=16), **kwargs}
    with pytest.raises(ValueError, match=match):
        FirstStage(shape, **config)


def test_bad_inputs_errors(tmp_path):
    model = tiny_model()
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        model.first_stage.encode(255 * tiny_data(2))
    with pytest.raises(ValueError, match="shape"):
        model.first_stage.encode(np.zeros((2, 8, 8, 1), "float32"))
    with pytest.raises(ValueError, match=r"z of shape \(N, 8\)"):
        model.first_stage.decode(np.zeros((2, LATENT + 1), "float32"))
    with pytest.raises(ValueError, match="stage"):
        model.generate(2, stage=3)
    with pytest.raises(ValueError, match="z_mean"):
        model.second_stage.fit({"z": np.zeros((4, LATENT), "float32")})
    with pytest.raises(ValueError, match="second_dim"):
        SecondStage(LATENT, second_dim=0)
    with pytest.raises(ValueError, match="latent"):
        TwoStageVAE(model.first_stage, SecondStage(LATENT + 1, second_dim=4))
    with pytest.raises(ValueError, match=".weights.h5"):
        model.first_stage.save_weights(tmp_path / "x.h5")
    with pytest.raises(FileNotFoundError):
        model.load_weights(tmp_path / "missing")


def test_latent_renormalisation_rule_both_ways(trained):
    from keras_vaes.models.two_stage import Renormalization

    model = trained[0]
    previous = model.renormalization
    plain = model.sample_latents(200, stage=2, seed=5)
    for should in (True, False):  # var_loss2 / mse2 above or below 0.25
        model.renormalization = Renormalization(
            variance_law=0.5, latent_variance_loss=0.3 if should else 0.2,
            latent_mse=1.0, renormalize_latents=should, data_std=0.2,
        )
        z = model.sample_latents(200, stage=2, seed=5, renormalize=True,
                                 renormalization_batch=None)
        if should:
            assert np.mean(np.std(z, axis=0)) == pytest.approx(np.sqrt(0.5), rel=1e-5)
            np.testing.assert_allclose(z / plain, (z / plain)[0, 0], rtol=1e-4)
        else:
            np.testing.assert_array_equal(z, plain)
    model.renormalization = previous


# --- the authors' protocol (BalancingVAE computed_gamma.py) and its switches ---


def _authors_stats(model, renormalize_latents=True, target_std=0.8, data_std=0.2):
    from keras_vaes.models.two_stage import Renormalization

    return Renormalization(
        variance_law=0.5, latent_variance_loss=0.3, latent_mse=1.0,
        renormalize_latents=renormalize_latents, data_std=data_std,
        target_std=target_std, target="authors",
    )


def test_renormalisation_target_authors_and_variance_law(trained):
    model, data, _, _ = trained
    z_mean, z_log_var = model.first_stage.encode(data)
    # Their encoder outputs log-sd, which they feed where log-var belongs:
    logsd = z_log_var / 2.0
    adjust2 = np.sqrt(np.mean(np.var(z_mean, axis=0) + np.mean(np.exp(logsd), axis=0)))
    law = np.sqrt(np.mean(np.var(z_mean, axis=0) + np.mean(np.exp(z_log_var), axis=0)))
    previous = model.renormalization
    authors = model.fit_renormalization(data, seed=0)
    assert authors.target == "authors" and authors.target_std == pytest.approx(adjust2, rel=1e-5)
    correct = model.fit_renormalization(data, seed=0, target="variance_law")
    assert correct.target_std == pytest.approx(law, rel=1e-5)
    assert correct.variance_law == pytest.approx(law**2, rel=1e-5)
    model.renormalization = previous


def test_generate_follows_the_authors_generate(trained):
    model, _, _, _ = trained
    previous = model.renormalization
    model.renormalization = _authors_stats(model)
    rng_z = lambda n: np.random.default_rng(7).standard_normal((n, LATENT)).astype("float32")
    # GEN-1: z = N(0, I) * adjust2; images decoded, NOT rescaled.
    expected1 = model.first_stage.decode(rng_z(30) * np.float32(0.8))["x_hat"]
    np.testing.assert_allclose(model.generate(30, 1, renormalize=True, seed=7), expected1,
                               rtol=1e-5, atol=1e-6)
    # GEN-2: batches of 100 (n rounded up, as their loop), each rescaled by
    # adjust2 / np.mean(np.std(z, axis=0)), then truncated.
    z_hat = model.second_stage.decode(rng_z(200))["z_hat"].astype(np.float64)
    z = np.concatenate([b * 0.8 / np.mean(np.std(b, axis=0)) for b in (z_hat[:100], z_hat[100:])])
    expected2 = model.first_stage.decode(z[:150].astype("float32"))["x_hat"]
    got2 = model.generate(150, 2, renormalize=True, seed=7)
    np.testing.assert_allclose(got2, expected2, rtol=1e-4, atol=1e-5)
    # rescale_images=True (the extension): around the per-pixel mean to the
    # data's std, clipped, as their (never run) adjust1 branch.
    flat = expected2.reshape(150, -1).astype(np.float64)
    scaled = (flat - flat.mean(0)) * 0.2 / np.mean(np.std(flat, axis=0)) + flat.mean(0)
    np.testing.assert_allclose(
        model.generate(150, 2, renormalize=True, seed=7, rescale_images=True),
        np.clip(scaled, 0, 1).reshape(expected2.shape), rtol=1e-4, atol=1e-5)
    # No evident variance loss: latents untouched, as their adjust2=None.
    model.renormalization = _authors_stats(model, renormalize_latents=False)
    np.testing.assert_allclose(model.generate(30, 2, renormalize=True, seed=7),
                               model.generate(30, 2, seed=7), atol=1e-6)
    model.renormalization = previous


def test_reconstruct_decodes_a_sampled_z_and_rescales_as_the_authors(trained):
    from keras_vaes.layers import Sampling

    model, data, _, _ = trained
    z_mean, z_log_var = model.first_stage.encode(data)
    mean_rec = model.first_stage.decode(z_mean)["x_hat"]
    np.testing.assert_allclose(model.reconstruct(data, sample=False), mean_rec, atol=1e-6)
    z = keras.ops.convert_to_numpy(Sampling(seed=4, dtype="float32")([z_mean, z_log_var]))
    assert not np.allclose(z, z_mean)
    sampled = model.reconstruct(data, seed=4)  # default: sampled z
    np.testing.assert_allclose(sampled, model.first_stage.decode(z)["x_hat"], rtol=1e-5, atol=1e-6)
    previous = model.renormalization
    model.renormalization = _authors_stats(model, data_std=0.3)
    # computed_gamma.py: rescale = mean(adjust1) / mean(std(img_recons, 0)).
    flat = sampled.reshape(len(data), -1).astype(np.float64)
    expected = np.clip((flat - flat.mean(0)) * 0.3 / np.mean(np.std(flat, axis=0)) + flat.mean(0), 0, 1)
    np.testing.assert_allclose(model.reconstruct(data, renormalize=True, seed=4),
                               expected.reshape(sampled.shape), rtol=1e-4, atol=1e-5)
    model.renormalization = previous


def test_example_configurations_follow_the_authors():
    import importlib.util
    import os

    path = os.path.join(os.path.dirname(__file__), os.pardir, "examples", "two_stage_vae.py")
    spec = importlib.util.spec_from_file_location("two_stage_example", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    # Their CelebA l2_reg never reaches their loss; their CIFAR-10 has none.
    assert example.CONFIGS["celeba"]["l2_reg"] is None
    assert example.CONFIGS["cifar10"]["l2_reg"] is None
    assert (example.CONFIGS["celeba"]["second_dim"], example.CONFIGS["cifar10"]["second_dim"]) == (4096, 2048)
