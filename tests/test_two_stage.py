import math
import os

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


def data_like(model, n=4):
    return np.zeros((n,) + tuple(model.first_stage.image_shape), "float32")


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
        plain = model.generate(20, stage=stage, seed=3)["x_hat"]
        renorm = model.generate(20, stage=stage, renormalize=True, seed=3,
                                rescale_images=True)["x_hat"]
        for images in (plain, renorm):
            assert images.shape == (20,) + SHAPE
            assert images.min() >= 0.0 and images.max() <= 1.0
        gap = lambda g: abs(np.mean(np.std(g, axis=0)) - stats.data_std)
        assert gap(renorm) < gap(plain)
    z = model.sample_latents(10, stage=2, seed=0)
    assert z.shape == (10, LATENT)
    rec = model.reconstruct(data[:5], renormalize=True)["x_hat"]
    assert rec.shape == (5,) + SHAPE


# --- saving --------------------------------------------------------------


def test_weights_round_trip_restores_outputs_and_gamma(trained, tmp_path):
    import h5py

    model, data, _, _ = trained
    path = tmp_path / "ts.weights.h5"
    model.save_weights(path)
    # ONE file holding both stages (with their gammas), no other file written.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ts.weights.h5"]
    with h5py.File(path) as f:
        names = []
        f.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
    assert any(n.startswith("first_stage/encoder/") for n in names)
    assert any("second_stage/decoder/" in n for n in names)
    assert sum(n.endswith("balancer_gamma") for n in names) == 2
    other = tiny_model(seed=7)
    assert other.first_stage.gamma == 1.0
    assert other.load_weights(path) is True
    assert other.first_stage.gamma == pytest.approx(model.first_stage.gamma)
    assert other.second_stage.gamma == pytest.approx(model.second_stage.gamma)
    assert other.first_stage.mse_estimate == pytest.approx(model.first_stage.mse_estimate)
    np.testing.assert_allclose(other.first_stage.encode(data[:4])[0],
                               model.first_stage.encode(data[:4])[0], atol=1e-6)
    u = np.random.default_rng(0).standard_normal((4, LATENT)).astype("float32")
    np.testing.assert_allclose(other.second_stage.decode(u)["z_hat"],
                               model.second_stage.decode(u)["z_hat"], atol=1e-6)
    np.testing.assert_allclose(other.generate(4, stage=2, seed=1)["x_hat"],
                               model.generate(4, stage=2, seed=1)["x_hat"], atol=1e-6)
    # The preset file (export_weights): the same layout without the optimizers' state.
    exported = tmp_path / "both.weights.h5"
    model.export_weights(exported)
    assert os.path.getsize(exported) < 0.6 * os.path.getsize(path)
    third = tiny_model(seed=9)
    assert third.load_weights(exported) is True
    assert third.second_stage.gamma == pytest.approx(model.second_stage.gamma)
    np.testing.assert_allclose(third.generate(4, seed=1)["x_hat"],
                               model.generate(4, seed=1)["x_hat"], atol=1e-6)


def test_config_round_trip_rebuilds_both_stages(trained, tmp_path):
    model, data, _, _ = trained
    config = model.get_config()
    assert set(config) == {"name", "trainable", "first_stage", "second_stage"}
    assert config["first_stage"]["config"] == model.first_stage.get_config()
    assert config["second_stage"]["config"] == model.second_stage.get_config()
    assert "compile_config" not in config["first_stage"]  # architecture only
    rebuilt = TwoStageVAE.from_config(config)
    assert type(rebuilt) is TwoStageVAE and rebuilt.get_config() == config
    assert rebuilt.count_params() == model.count_params()
    assert rebuilt.first_stage.get_config() == model.first_stage.get_config()
    # The whole model through Keras's own serialization and `.keras` file.
    revived = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(model))
    assert type(revived) is TwoStageVAE and revived.get_config() == config
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded) is TwoStageVAE
    np.testing.assert_allclose(loaded.generate(4, seed=2)["x_hat"],
                               model.generate(4, seed=2)["x_hat"], atol=1e-6)
    assert loaded.first_stage.gamma == pytest.approx(model.first_stage.gamma)


def test_the_declared_prior_is_the_second_stage(trained):
    from keras_vaes.models.contract import Prior

    model, _, _, _ = trained
    prior = model.prior
    assert isinstance(prior, Prior) and prior.model is model.second_stage
    z = prior.sample(7, seed=3)
    assert z.shape == (7, LATENT) and z.dtype == np.float32
    np.testing.assert_array_equal(z, prior.sample(7, seed=3))
    # u ~ N(0, I) through the second decoder: the codes generate(n) decodes (GEN-2).
    u = np.random.default_rng(3).standard_normal((7, LATENT)).astype("float32")
    np.testing.assert_allclose(z, model.second_stage.decode(u)["z_hat"], atol=1e-6)
    np.testing.assert_allclose(model.generate(7, seed=3)["x_hat"],
                               model.decode(z)["x_hat"], atol=1e-6)


def test_compile_gives_each_stage_its_optimizer_and_fit_is_refused():
    model = tiny_model()
    model.compile()
    assert set(model.role_optimizers) == {"first_stage", "second_stage"}
    assert model.first_stage.optimizer.epsilon == pytest.approx(1e-8)  # TF1's Adam
    assert model.first_stage.optimizer is not model.second_stage.optimizer
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    assert isinstance(model.second_stage.optimizer, keras.optimizers.SGD)
    assert model.first_stage.optimizer is not model.second_stage.optimizer
    with pytest.raises(ValueError, match="unknown optimizer role"):
        model.compile(optimizer={"vae": "adam"})
    with pytest.raises(TypeError, match="fit_first_stage"):
        model.fit(tiny_data(8), epochs=1)


# --- errors --------------------------------------------------------------


@pytest.mark.parametrize(
    "shape,kwargs,match",
    [
        ((16, 8, 1), {}, "square"),
        ((12, 12, 1), {}, "image side"),
        ((16, 16), {}, "height, width, channels"),
        (SHAPE, {"num_scale": 6}, "downsamplings"),
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
    with pytest.raises(ValueError, match="sampler"):
        model.generate(2, stage=1, sampler=model.sampler)
    with pytest.raises(ValueError, match="z_mean"):
        model.second_stage.fit({"z": np.zeros((4, LATENT), "float32")})
    with pytest.raises(ValueError, match="second_dim"):
        SecondStage(LATENT, second_dim=0)
    with pytest.raises(ValueError, match="latent"):
        TwoStageVAE(model.first_stage, SecondStage(LATENT + 1, second_dim=4))
    with pytest.raises(TypeError, match="SecondStage"):
        TwoStageVAE(model.first_stage, model.sampler)
    with pytest.raises(ValueError, match=".weights.h5"):
        model.first_stage.save_weights(tmp_path / "x.h5")
    with pytest.raises(FileNotFoundError):
        model.load_weights(tmp_path / "missing.weights.h5")
    with pytest.raises(ValueError, match=".weights.h5"):
        model.save_weights(tmp_path / "prefix")


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
    np.testing.assert_allclose(model.generate(30, stage=1, renormalize=True, seed=7)["x_hat"],
                               expected1, rtol=1e-5, atol=1e-6)
    # GEN-2: batches of 100 (n rounded up, as their loop), each rescaled by
    # adjust2 / np.mean(np.std(z, axis=0)), then truncated.
    z_hat = model.second_stage.decode(rng_z(200))["z_hat"].astype(np.float64)
    z = np.concatenate([b * 0.8 / np.mean(np.std(b, axis=0)) for b in (z_hat[:100], z_hat[100:])])
    expected2 = model.first_stage.decode(z[:150].astype("float32"))["x_hat"]
    got2 = model.generate(150, stage=2, renormalize=True, seed=7)["x_hat"]
    np.testing.assert_allclose(got2, expected2, rtol=1e-4, atol=1e-5)
    # rescale_images=True (the extension): around the per-pixel mean to the
    # data's std, clipped, as their (never run) adjust1 branch.
    flat = expected2.reshape(150, -1).astype(np.float64)
    scaled = (flat - flat.mean(0)) * 0.2 / np.mean(np.std(flat, axis=0)) + flat.mean(0)
    np.testing.assert_allclose(
        model.generate(150, stage=2, renormalize=True, seed=7, rescale_images=True)["x_hat"],
        np.clip(scaled, 0, 1).reshape(expected2.shape), rtol=1e-4, atol=1e-5)
    # No evident variance loss: latents untouched, as their adjust2=None.
    model.renormalization = _authors_stats(model, renormalize_latents=False)
    np.testing.assert_allclose(model.generate(30, renormalize=True, seed=7)["x_hat"],
                               model.generate(30, seed=7)["x_hat"], atol=1e-6)
    # Dai & Wipf's GEN-2: z ~ N(f_2(u), gamma_z^2 I), the noise drawn after u.
    rng = np.random.default_rng(7)
    u = rng.standard_normal((30, LATENT)).astype("float32")
    z = model.second_stage.decode(u)["z_hat"] + model.second_stage.gamma * rng.standard_normal((30, LATENT))
    np.testing.assert_allclose(model.generate(30, seed=7, latent_noise=True)["x_hat"],
                               model.first_stage.decode(z.astype("float32"))["x_hat"],
                               rtol=1e-4, atol=1e-5)
    # A second positional argument is refused, never read as `stage` (the contract).
    for call in (lambda: model.generate(30, 1), lambda: model.sample_latents(30, 1),
                 lambda: model.reconstruct(data_like(model), True)):
        with pytest.raises(TypeError):
            call()
    model.renormalization = previous


def test_reconstruct_decodes_a_sampled_z_and_rescales_as_the_authors(trained):
    model, data, _, _ = trained
    posterior = model.encode(data)
    z_mean = posterior.mean
    mean_rec = model.first_stage.decode(z_mean)["x_hat"]
    np.testing.assert_allclose(model.reconstruct(data)["x_hat"], mean_rec, atol=1e-6)
    z = posterior.sample(seed=4)
    assert not np.allclose(z, z_mean)
    sampled = model.reconstruct(data, sample=True, seed=4)["x_hat"]  # the authors' REC
    np.testing.assert_allclose(sampled, model.first_stage.decode(z)["x_hat"], rtol=1e-5, atol=1e-6)
    previous = model.renormalization
    model.renormalization = _authors_stats(model, data_std=0.3)
    # computed_gamma.py: rescale = mean(adjust1) / mean(std(img_recons, 0)).
    flat = sampled.reshape(len(data), -1).astype(np.float64)
    expected = np.clip((flat - flat.mean(0)) * 0.3 / np.mean(np.std(flat, axis=0)) + flat.mean(0), 0, 1)
    np.testing.assert_allclose(model.reconstruct(data, renormalize=True, sample=True, seed=4)["x_hat"],
                               expected.reshape(sampled.shape), rtol=1e-4, atol=1e-5)
    model.renormalization = previous


def test_example_configurations_follow_the_authors():
    from keras_vaes.configs import two_stage as example

    # Their CelebA l2_reg never reaches their loss; their CIFAR-10 has none.
    assert example.CONFIGS["celeba"]["l2_reg"] is None
    assert example.CONFIGS["cifar10"]["l2_reg"] is None
    assert (example.CONFIGS["celeba"]["second_dim"], example.CONFIGS["cifar10"]["second_dim"]) == (4096, 2048)


# --- TF1's debiased batch-norm statistics (issue 17) ----------------------


def tf1_assign_moving_average(variable, value, decay, state):
    """NumPy transcription of TF1 `assign_moving_average(..., zero_debias=True)`.

    `moving_averages._zero_debias`: a `biased` accumulator and a `local_step`
    (both starting at 0); `variable` is replaced by biased / (1 - decay^t).
    """
    state["biased"] = state["biased"] - (state["biased"] - value) * (1.0 - decay)
    state["local_step"] += 1
    bias_factor = 1.0 - decay ** state["local_step"]
    return variable - (variable - state["biased"] / bias_factor)


def _reference_statistics(batches, decay):
    channels = batches[0].shape[-1]
    mean, variance = np.zeros(channels), np.ones(channels)
    states = [{"biased": np.zeros(channels), "local_step": 0} for _ in range(2)]
    for x in batches:
        axes = tuple(range(x.ndim - 1))
        mean = tf1_assign_moving_average(mean, x.mean(axes), decay, states[0])
        variance = tf1_assign_moving_average(variance, x.var(axes), decay, states[1])
    return mean, variance


@pytest.mark.parametrize("shape", [(16, 5), (4, 3, 3, 5)])
@pytest.mark.parametrize("fused", [True, False])
def test_debiased_moving_average_matches_tf1(shape, fused):
    from keras_vaes.layers.core import FusedBatchNormalization

    layer = FusedBatchNormalization(momentum=0.999, epsilon=1e-5, zero_debias=True)
    if not fused:  # the portable keras.ops path (JAX, PyTorch)
        layer._use_fused = lambda inputs, mask: False
    rng = np.random.default_rng(0)
    batches = [(3.0 * rng.normal(size=shape) + 2.0).astype("float32") for _ in range(6)]
    for x in batches:
        y = keras.ops.convert_to_numpy(layer(x, training=True))
    mean, variance = _reference_statistics([b.astype("float64") for b in batches], 0.999)
    # The initial 0 / 1 leave no trace (a plain average would still hold 99.4% of them).
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer.moving_mean), mean, rtol=1e-4)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer.moving_variance), variance,
                               rtol=1e-4)
    # Training mode normalises with the batch statistics.
    axes = tuple(range(len(shape) - 1))
    last = batches[-1].astype("float64")
    np.testing.assert_allclose(y, (last - last.mean(axes)) / np.sqrt(last.var(axes) + 1e-5),
                               atol=1e-4)
    assert len(layer.non_trainable_weights) == 5
    config = layer.get_config()
    assert config["zero_debias"] is True
    assert FusedBatchNormalization.from_config(config).zero_debias is True


def test_zero_debias_product_of_momenta_gives_the_exact_average():
    # recalibrate_batch_norm changes the momentum each step ((k - 1) / k):
    # the stored product of momenta keeps the debiased statistic exact.
    from keras_vaes.layers.core import FusedBatchNormalization

    layer = FusedBatchNormalization(momentum=0.999, zero_debias=True)
    rng = np.random.default_rng(1)
    batches = [rng.normal(size=(8, 3)).astype("float32") + k for k in range(4)]
    for k, x in enumerate(batches, start=1):
        layer.momentum = (k - 1) / k
        layer(x, training=True)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer.moving_mean),
                               np.mean([b.mean(0) for b in batches], axis=0), rtol=1e-5)


def test_zero_debias_defaults_two_stage_on_split_vae_off():
    import keras_vaes as kv
    from keras_vaes.layers.core import FusedBatchNormalization

    def norms(model):
        return [l for l in model._flatten_layers() if isinstance(l, FusedBatchNormalization)]

    first = tiny_model().first_stage
    assert first.zero_debias and norms(first)
    assert all(l.zero_debias and len(l.weights) == 7 for l in norms(first))
    assert FirstStage.from_config(first.get_config()).zero_debias is True
    # The Split-VAE keeps Keras 2's plain average and its variables (old files load).
    svae = kv.build_svae((8, 8, 1), 4, base_dim=8, emb_dim=16, num_scale=1, seed=1)
    assert norms(svae) and all(not l.zero_debias and len(l.weights) == 4 for l in norms(svae))
    plain = tiny_model(zero_debias=False).first_stage
    assert len(plain.weights) == len(first.weights) - 3 * len(norms(first))


JAX_SCRIPT = """
import json, sys
import numpy as np, keras
from keras_vaes.layers.core import FusedBatchNormalization
x = np.random.default_rng(0).normal(size=(30, 3)).astype("float32") * 2 + 1
model = keras.Sequential([keras.Input((3,)), FusedBatchNormalization(momentum=0.9, zero_debias=True),
                          keras.layers.Dense(1)])
model.compile(optimizer=keras.optimizers.SGD(0.0), loss="mse")
model.fit(x, np.zeros((30, 1), "float32"), batch_size=10, epochs=1, shuffle=False, verbose=0)
bn = model.layers[0]
print(json.dumps({"backend": keras.backend.backend(),
                  "mean": keras.ops.convert_to_numpy(bn.moving_mean).tolist(),
                  "variance": keras.ops.convert_to_numpy(bn.moving_variance).tolist()}))
"""


def test_debiased_statistics_update_in_jax_fit(tmp_path):
    # JAX's jitted, stateless train step must carry the three extra variables.
    import json
    import os
    import subprocess
    import sys

    pytest.importorskip("jax")
    env = {**os.environ, "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "3"}
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run([sys.executable, "-c", JAX_SCRIPT], env=env, cwd=root,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["backend"] == "jax"
    x = np.random.default_rng(0).normal(size=(30, 3)) * 2 + 1
    mean, variance = _reference_statistics([x[i:i + 10] for i in (0, 10, 20)], 0.9)
    np.testing.assert_allclose(result["mean"], mean, rtol=1e-4)
    np.testing.assert_allclose(result["variance"], variance, rtol=1e-4)


# --- The inference-mode guard, stage 2 as the authors, the sampler ---------


def squares(n, seed=0, side=16, size=6):
    """Images of one white square at a random place: two factors to learn."""
    rng = np.random.default_rng(seed)
    x = np.zeros((n, side, side, 1), "float32")
    for i, (r, c) in enumerate(rng.integers(0, side - size + 1, (n, 2))):
        x[i, r:r + size, c:c + size] = 1.0
    return x


@pytest.fixture(scope="module")
def squares_model():
    """A tiny two-stage VAE trained on squares (stage 1 at a short-run length)."""
    keras.utils.set_random_seed(0)
    first = FirstStage(SHAPE, 4, base_dim=8, num_scale=2, fc_dim=32, kl_weight=1.0,
                       initial_mse=0.05, seed=1)
    model = TwoStageVAE(first, SecondStage(4, second_dim=16, seed=2))
    data = squares(640)
    model.fit_first_stage(data, 3, batch_size=32, learning_rate=3e-3, verbose=0, seed=0)
    log = BatchLog()
    model.fit_second_stage(data, 1, batch_size=32, learning_rate=1e-3, verbose=0,
                           callbacks=[log])
    return model, data, log.logs


def test_reconstruction_health_by_hand():
    from keras_vaes.metrics import diagnostics

    x = squares(20)
    mean_image = np.broadcast_to(x.mean(0), x.shape)
    with pytest.warns(UserWarning, match="no better than the mean image"):
        bad = diagnostics.reconstruction_health(x, mean_image, name="test")
    assert not bad.healthy
    assert bad.mse == pytest.approx(bad.mean_image_mse)
    assert bad.mean_image_mse == pytest.approx(np.mean((x - x.mean(0)) ** 2))
    good = diagnostics.reconstruction_health(x, x, training_mse=0.01)
    assert good.healthy and good.mse == 0.0 and "OK" in good.summary()
    noisy = x + 0.1
    with pytest.warns(UserWarning, match="training MSE"):
        far = diagnostics.reconstruction_health(x, noisy, training_mse=0.001)
    assert len(far.problems) == 1 and "WARNING" in far.summary()
    with pytest.raises(ValueError, match="same shape"):
        diagnostics.reconstruction_health(x, x[:3])


def test_tiny_two_stage_inference_beats_the_mean_image(squares_model):
    model, data, _ = squares_model
    health = model.reconstruction_health(data)
    assert health.healthy, health.summary()
    # Well below the mean image (the bug gave ~1.0x); 0.58x and 0.4x seen on 2 and 1 cores.
    assert health.mse < 0.75 * health.mean_image_mse
    # fit_second_stage checked the inference mode and said what it found.
    assert model.notes and "inference mode" in model.notes[0]


def test_guard_flags_stale_batch_norm_statistics(squares_model):
    from keras_vaes.layers.core import FusedBatchNormalization
    from keras_vaes.metrics import diagnostics

    model, data, _ = squares_model
    stale = FirstStage.from_config({**model.first_stage.get_config(), "zero_debias": False})
    norms = [l for l in model.first_stage._flatten_layers()
             if isinstance(l, FusedBatchNormalization)]
    weights = [w for w in model.first_stage.weights
               if not any(w is getattr(l, name, None) for l in norms
                          for name in ("biased_mean", "biased_variance", "decay_power"))]
    stale.set_weights([keras.ops.convert_to_numpy(w) for w in weights])
    # Keras's plain moving average after a few steps: still the initial 0 / 1.
    for layer in stale._flatten_layers():
        if isinstance(layer, FusedBatchNormalization):
            layer.moving_mean.assign(np.zeros(layer.moving_mean.shape, "float32"))
            layer.moving_variance.assign(np.ones(layer.moving_variance.shape, "float32"))
    stale.balancer.reset(model.first_stage.mse_estimate)
    with pytest.warns(UserWarning, match="Reconstruction health of FirstStage"):
        health = diagnostics.model_reconstruction_health(stale, data)
    assert not health.healthy
    # The two-stage pipeline recalibrates such an encoder before using it.
    fixed = TwoStageVAE(stale, SecondStage(4, second_dim=16))
    fixed.first_stage_codes(data, batch_size=32)
    assert "recalibrated" in fixed.notes[-1] and fixed.notes[-1].endswith("OK")
    assert diagnostics.model_reconstruction_health(stale, data, warn=False).healthy


def test_second_stage_starts_its_own_mse_estimate(squares_model):
    model = tiny_model(initial_mse=0.05)
    assert model.first_stage.mse_estimate == pytest.approx(0.05)
    assert model.second_stage.mse_estimate == 1.0  # never the stage-1 value
    # Trained from 1, as the authors (the balancing replayed by hand from 1).
    _, _, logs = squares_model
    _check_balancing(logs)
    # Resuming: restart from a measured mse2.
    trained, data, _ = squares_model
    log = BatchLog()
    trained.fit_second_stage(data[:64], 1, batch_size=32, initial_mse=0.3, callbacks=[log],
                             verbose=0, recalibrate=False)
    first_batch = log.logs[0]["mse"]
    assert log.logs[0]["gamma"] == pytest.approx(math.sqrt(min(0.3, 0.99 * 0.3 + 0.01 * first_batch)),
                                                 rel=1e-4)
    # Adam as TF1's AdamOptimizer.
    assert trained.second_stage.optimizer.epsilon == pytest.approx(1e-8)


def test_epoch_batches_drop_the_remainder_and_reshuffle():
    from keras_vaes.models.two_stage import EpochBatches

    data = np.arange(25, dtype="float32")[:, None]
    batches = EpochBatches(data, 10, seed=0)
    assert len(batches) == 2
    first = np.concatenate([batches[i] for i in range(2)])
    assert first.shape == (20, 1) and len(np.unique(first)) == 20
    batches.on_epoch_end()
    second = np.concatenate([batches[i] for i in range(2)])
    assert not np.array_equal(first, second)
    paired = EpochBatches({"z_mean": data, "z_log_var": -data}, 5, seed=1)[0]
    np.testing.assert_array_equal(paired["z_log_var"], -paired["z_mean"])
    with pytest.raises(ValueError, match="one batch"):
        EpochBatches(data, 30)


def test_second_stage_sampler_on_codes(squares_model):
    import keras_vaes as kv
    from keras_vaes.models.contract import Posterior
    from keras_vaes.samplers import SecondStageSampler

    rng = np.random.default_rng(0)
    codes = (rng.normal(size=(300, 3)) * [0.5, 0.3, 0.1]).astype("float32")
    sampler = SecondStageSampler(second_dim=16, epochs=2, batch_size=50, learning_rate=1e-3,
                                 seed=0)
    with pytest.raises(ValueError, match="not fitted"):
        sampler.sample(3)
    assert sampler.fit(codes) is sampler and sampler.latent_dim == 3
    assert sampler.model.mse_estimate < 1.0  # its own estimate moved from 1
    z = sampler.sample(40, seed=1)
    assert z.shape == (40, 3) and z.dtype == np.float32 and np.all(np.isfinite(z))
    np.testing.assert_array_equal(z, sampler.sample(40, seed=1))
    assert not np.array_equal(sampler.sample(40), sampler.sample(40))
    with pytest.raises(ValueError, match="dimension 3"):
        sampler.fit(codes[:, :2])
    with pytest.raises(ValueError, match="z_mean"):
        sampler.fit({"mu": codes})
    # A Posterior trains on mu + sigma * eps; the renormalisation rule applies.
    posterior = Posterior(codes, np.full_like(codes, -2.0))
    renorm = SecondStageSampler(second_dim=16, epochs=1, batch_size=50, seed=0,
                                renormalize=True).fit(posterior)
    stats = renorm.renormalization
    assert stats.ratio == pytest.approx(stats.latent_variance_loss / stats.latent_mse)
    expected = np.sqrt(np.mean(np.var(codes, 0) + np.exp(-1.0)))  # the authors' sigma
    assert stats.target_std == pytest.approx(expected, rel=1e-5)
    stats.renormalize_latents = True
    z = renorm.sample(200, seed=0, renormalization_batch=None)
    assert np.mean(np.std(z, axis=0)) == pytest.approx(expected, rel=1e-5)
    # Fitted on any model's encodings, it drives that model's generate.
    model, data, _ = squares_model
    on_model = SecondStageSampler(second_dim=8, epochs=1, batch_size=32, seed=0)
    on_model.fit_on_encodings(model.first_stage, data[:64], batch_size=32)
    images = model.first_stage.generate(5, sampler=on_model, seed=0)["x_hat"]
    assert images.shape == (5,) + SHAPE
    assert isinstance(model.sampler, kv.samplers.SecondStageSampler)


def test_epoch_checkpoint_and_resume(tmp_path):
    import json

    from keras_vaes.models.two_stage import EpochCheckpoint, compile_stage

    data = tiny_data(16)
    model = tiny_model()
    first_path = str(tmp_path / "run.first_stage.weights.h5")
    log_path = tmp_path / "log.jsonl"
    callback = EpochCheckpoint(first_path, log_path, "first_stage")
    model.fit_first_stage(data, 1, batch_size=8, learning_rate=1e-3, lr_epochs=1, lr_factor=0.5,
                          callbacks=[callback], verbose=0)
    resumed = tiny_model()
    compile_stage(resumed.first_stage, 1e-3)
    assert resumed.first_stage.load_weights(first_path) is True
    assert int(resumed.first_stage.optimizer.iterations) == 2  # Adam's state came back
    assert resumed.first_stage.gamma == pytest.approx(model.first_stage.gamma)
    resumed.fit_first_stage(data, 2, batch_size=8, learning_rate=1e-3, lr_epochs=1,
                            lr_factor=0.5, initial_epoch=1, verbose=0,
                            callbacks=[EpochCheckpoint(first_path, log_path, "first_stage")])
    lines = [json.loads(line) for line in open(log_path)]
    assert [line["epoch"] for line in lines] == [1, 2]
    assert lines[1]["learning_rate"] == pytest.approx(5e-4)  # the schedule kept its epoch
    assert int(resumed.first_stage.optimizer.iterations) == 4


def test_evaluation_flags_a_broken_inference_mode_in_results(tmp_path):
    from keras_vaes.evaluation import protocol
    from keras_vaes.evaluation import two_stage as evaluation

    model = tiny_model()  # untrained: reconstructions carry no information
    images = squares(20)
    with pytest.warns(UserWarning, match="no better than the mean image"):
        table = evaluation.evaluate_two_stage(model, images, batch_size=10)
    assert any(w.startswith("inference mode broken") for w in table.warnings)
    paths = protocol.write_results(table, str(tmp_path), figures=False)
    text = open([p for p in paths if p.endswith(".md")][0]).read()
    assert "**WARNING — inference mode broken" in text
    assert "var_loss2 / mse2" in text and "gamma_z noise" in text


def test_build_two_stage_vae_forwards_first_stage_arguments():
    model = tiny_model(kl_weight=2.0, zero_debias=False, second_depth=2, second_initial_mse=0.5)
    first, second = model.first_stage.get_config(), model.second_stage.get_config()
    assert (first["kl_weight"], first["zero_debias"], first["base_dim"]) == (2.0, False, 8)
    assert (second["second_depth"], second["initial_mse"], second["seed"]) == (2, 0.5, 2)
    assert (model.first_stage.name, model.second_stage.name) == ("first_stage", "second_stage")
    with pytest.raises((TypeError, ValueError)):  # Keras refuses unknown keywords
        tiny_model(no_such_argument=1)


def test_a_failed_load_changes_neither_stage(tmp_path):
    """A file whose second stage does not fit: the first stage, read first, is restored too."""
    target = tiny_model(seed=5)
    target.first_stage.balancer.reset(0.5)
    before = [np.array(v) for v in target.first_stage.weights + target.second_stage.weights]
    other = tiny_model(second_dim=24, seed=4)  # another second-stage width
    other.first_stage.balancer.reset(0.1)
    other.export_weights(str(tmp_path / "other.weights.h5"))
    with pytest.raises(ValueError, match="different configuration"):
        target.load_weights(str(tmp_path / "other.weights.h5"))
    after = [np.array(v) for v in target.first_stage.weights + target.second_stage.weights]
    assert all(np.array_equal(a, b) for a, b in zip(before, after))
    assert target.first_stage.mse_estimate == pytest.approx(0.5)  # gamma untouched too
