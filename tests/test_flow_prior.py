"""Flow-prior VAE: loss against NumPy, gradient routing at beta = 0, saving."""

import math
import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

import keras_vaes as kv
from keras_vaes.blocks.infogan import CELEBA_128, infogan_decoder, infogan_encoder
from keras_vaes.models.flow_prior import conditional_diversity, mean_pairwise_distance

TINY = dict(num_couplings=2, hidden_units=8, filters=(4, 8), dense_units=16, seed=1)
SHAPE = (8, 8, 1)


def tiny(**kwargs):
    return kv.build_flow_prior_vae(SHAPE, 2, **{**TINY, **kwargs})


def images(n=6, seed=0):
    return np.random.default_rng(seed).uniform(size=(n,) + SHAPE).astype("float32")


def to_np(x):
    return np.asarray(ops.convert_to_numpy(x), dtype="float64")


def randomize_prior(model, seed=0):
    rng = np.random.default_rng(seed)
    for w in model.prior.trainable_weights:
        w.assign(rng.normal(scale=0.3, size=w.shape).astype("float32"))
    model.prior.normalizer.initialize_from(rng.normal(size=(20, model.latent_dim)).astype("float32"))


# --- networks --------------------------------------------------------------


def test_infogan_networks_have_lucic_layers_and_counts():
    enc, dec = infogan_encoder((32, 32, 1), 16), infogan_decoder(8, (32, 32, 1))
    # conv 4x4x1x64+64, conv 4x4x64x128+128, BN 4x128, dense 8192x1024+1024,
    # BN 4x1024, out 1024x16+16.
    assert enc.count_params() == 1088 + 131200 + 512 + 8389632 + 4096 + 16400
    # dense 8x1024+1024, BN, dense 1024x8192+8192, BN 4x8192,
    # convT 4x4x128x64+64, BN 4x64, convT 4x4x64x1+1.
    assert dec.count_params() == 9216 + 4096 + 8396800 + 32768 + 131136 + 256 + 1025
    assert dec.output_shape == (None, 32, 32, 1) and enc.output_shape == (None, 16)
    big = infogan_decoder(128, CELEBA_128["input_shape"], CELEBA_128["filters"])
    assert big.output_shape == (None, 128, 128, 3)
    cond = infogan_encoder((32, 32, 1), 16, num_classes=10)
    assert cond.count_params() == enc.count_params() + 10 * 1024


# --- loss ------------------------------------------------------------------


def numpy_log_normal(z, mean, log_var):
    return -0.5 * np.sum(np.log(2 * np.pi) + log_var + (z - mean) ** 2 / np.exp(log_var), axis=1)


def test_flow_loss_against_numpy():
    model = tiny(beta=0.5, gamma=2.0, anneal_steps=4)
    randomize_prior(model)
    model.anneal_step.assign(2.0)  # a_t = 0.5, so c = gamma * beta * a_t = 0.5
    x = images()
    out = model(x, training=False)
    loss = to_np(model.compute_loss(x, None, out, training=False))
    x_hat, z, mean, log_var = (to_np(out[k]) for k in ("x_hat", "z", "z_mean", "z_log_var"))
    z0, log_det = (to_np(v) for v in model.prior.forward_and_log_det(z.astype("float32")))
    log_p = -0.5 * np.sum(z0**2, 1) - math.log(2 * math.pi) + log_det
    rec = 0.5 * np.sum((x - x_hat) ** 2, axis=(1, 2, 3))
    expected = np.mean(rec + 0.5 * numpy_log_normal(z, mean, log_var) - log_p)
    np.testing.assert_allclose(loss, expected, rtol=1e-5)
    logs = {m.name: float(to_np(m.result())) for m in model.metrics}
    np.testing.assert_allclose(logs["kl"], np.mean(numpy_log_normal(z, mean, log_var) - log_p), rtol=1e-4)
    np.testing.assert_allclose(logs["kl_weight"], 0.5, rtol=1e-6)


def test_normal_prior_loss_against_numpy():
    model = tiny(beta=3.0, prior="normal", anneal_steps=0)
    assert model.prior is None
    x = images()
    out = model(x, training=False)
    loss = to_np(model.compute_loss(x, None, out, training=False))
    x_hat, mean, log_var = (to_np(out[k]) for k in ("x_hat", "z_mean", "z_log_var"))
    kl = 0.5 * np.sum(mean**2 + np.exp(log_var) - 1 - log_var, axis=1)
    rec = 0.5 * np.sum((x - x_hat) ** 2, axis=(1, 2, 3))
    np.testing.assert_allclose(loss, np.mean(rec + 3.0 * kl), rtol=1e-5)


def gradients(model, x, loss_fns):
    """Gradients of each loss on ONE forward pass (the same sample z)."""
    variables = model.encoder.trainable_variables + model.prior.trainable_variables
    n = len(model.encoder.trainable_variables)
    with tf.GradientTape(persistent=True) as tape:
        out = model(x, training=False)
        losses = [fn(out) for fn in loss_fns]
    result = []
    for loss in losses:
        grads = [np.zeros(v.shape) if g is None else to_np(g) for g, v in zip(tape.gradient(loss, variables), variables)]
        result.append((grads[:n], grads[n:]))
    return result


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="GradientTape")
def test_beta_zero_leaves_the_encoder_without_prior_gradient():
    x = images()
    model = tiny(beta=0.0, anneal_steps=0)
    randomize_prior(model)

    def full(out):
        return model.compute_loss(x, None, out, training=False)

    def reconstruction(out):
        return ops.mean(0.5 * ops.sum(ops.square(x - out["x_hat"]), axis=(1, 2, 3)))

    def prior_only(out):
        return -ops.mean(model.prior.log_prob(ops.stop_gradient(out["z"])))

    (enc_full, prior_full), (enc_rec, _), (_, prior_nll) = gradients(model, x, [full, reconstruction, prior_only])
    for a, b in zip(enc_full, enc_rec):  # eq. 8: the encoder sees only rec
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    for a, b in zip(prior_full, prior_nll):  # eq. 6 with weight 1
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    assert max(np.abs(g).max() for g in prior_full) > 0

    # beta > 0: the prior term reaches the encoder (scaled by c), the
    # prior's own gradient is unchanged (weight 1 whatever beta is).
    model.beta = 0.5
    (enc_beta, prior_beta), (enc_rec, _), (_, prior_nll) = gradients(model, x, [full, reconstruction, prior_only])
    assert max(np.abs(a - b).max() for a, b in zip(enc_beta, enc_rec)) > 1e-4
    for a, b in zip(prior_beta, prior_nll):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_annealing_counts_training_steps():
    model = tiny(beta=1.0, anneal_steps=4)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    history = model.fit(images(12), batch_size=4, epochs=2, verbose=0)
    assert float(to_np(model.anneal_step)) == 6.0
    # Steps 0, 1, 2 then 3, 4, 5: mean a_t per epoch 0.25 and min(1, t/4).
    np.testing.assert_allclose(history.history["kl_weight"], [0.25, (0.75 + 1 + 1) / 3], rtol=1e-5)
    model.evaluate(images(4), batch_size=4, verbose=0)
    assert float(to_np(model.anneal_step)) == 6.0  # evaluation does not count


def test_beta_zero_trains_stably_and_generates():
    keras.utils.set_random_seed(0)
    model = tiny(beta=0.0)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    # Near-binary images, as MNIST: nothing bounds sigma at beta = 0.
    x = (images(64) > 0.7).astype("float32")
    history = model.fit(x, batch_size=16, epochs=4, verbose=0)
    for values in history.history.values():
        assert np.all(np.isfinite(values))
    assert all(np.all(np.isfinite(to_np(w))) for w in model.weights)
    _, log_var = model.encode(x)
    assert log_var.min() >= -20.0 and log_var.max() <= 10.0
    out = model.generate(5, seed=0)["x_hat"]
    assert out.shape == (5,) + SHAPE and np.all((out >= 0) & (out <= 1))
    np.testing.assert_array_equal(out, model.generate(5, seed=0)["x_hat"])
    assert model.reconstruct(x[:3])["x_hat"].shape == (3,) + SHAPE
    z0 = model.encode_z0(x[:5])
    np.testing.assert_allclose(to_np(model.prior.inverse(z0)), model.encode(x[:5]).mean, atol=1e-4)


# --- saving ----------------------------------------------------------------


def test_weights_and_keras_round_trips(tmp_path):
    model = tiny(beta=0.1, anneal_steps=10)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    x = images(8)
    model.fit(x, batch_size=4, epochs=1, verbose=0)
    path = str(tmp_path / "fp.weights.h5")
    model.save_weights(path)
    loaded = tiny(beta=0.1, anneal_steps=10)
    loaded.load_weights(path)
    assert float(to_np(loaded.anneal_step)) == 2.0
    np.testing.assert_array_equal(loaded.generate(3, seed=2)["x_hat"], model.generate(3, seed=2)["x_hat"])
    np.testing.assert_array_equal(loaded.encode(x).mean, model.encode(x).mean)
    keras_path = str(tmp_path / "fp.keras")
    model.save(keras_path)
    restored = keras.saving.load_model(keras_path)
    assert restored.get_config() == model.get_config()
    np.testing.assert_array_equal(restored.encode_z0(x), model.encode_z0(x))
    np.testing.assert_array_equal(restored.generate(3, seed=2)["x_hat"], model.generate(3, seed=2)["x_hat"])
    exported = str(tmp_path / "bare.weights.h5")
    model.export_weights(exported)
    assert os.path.getsize(exported) < os.path.getsize(path)
    with pytest.raises(ValueError, match="different configuration"):
        tiny(beta=0.1, num_couplings=3).load_weights(path)


def test_nan_weights_are_never_written(tmp_path):
    model = tiny()
    path = tmp_path / "fp.weights.h5"
    model.save_weights(str(path))
    before = path.read_bytes()
    weight = model.decoder.trainable_weights[0]
    weight.assign(np.full(weight.shape, np.nan, "float32"))
    with pytest.raises(ValueError, match="Refusing to write"):
        model.save_weights(str(path))
    assert path.read_bytes() == before


# --- conditional model (section 6) -----------------------------------------


@pytest.mark.parametrize("prior", ["flow", "normal"])
def test_conditional_model_trains_and_generates_per_class(prior):
    model = tiny(beta=0.0 if prior == "flow" else 1.0, prior=prior, num_classes=3, anneal_steps=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    x, y = images(12), np.arange(12) % 3
    history = model.fit((x, y), batch_size=6, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert model.generate(4, seed=0, labels=2)["x_hat"].shape == (4,) + SHAPE
    assert model.encode(x, labels=y).mean.shape == (12, 2)
    mean, per_class = conditional_diversity(model, samples_per_class=4, seed=0)
    assert sorted(per_class) == [0, 1, 2] and np.isclose(mean, np.mean(list(per_class.values())))
    with pytest.raises(ValueError, match="pass `labels`"):
        model.generate(2)
    with pytest.raises(ValueError, match=r"class indices in \[0, 3\).*range \[0, 5\]"):
        model.encode(x[:2], labels=np.array([0, 5]))


def test_mean_pairwise_distance_by_hand():
    a = np.array([[0.0, 0.0], [3.0, 4.0], [0.0, 1.0]])
    assert np.isclose(mean_pairwise_distance(a), (5.0 + 1.0 + math.sqrt(9 + 9)) / 3)
    with pytest.raises(ValueError, match="at least 2"):
        mean_pairwise_distance(a[:1])


# --- bad input ------------------------------------------------------------


def test_bad_input_errors():
    with pytest.raises(ValueError, match="latent_dim=1"):
        kv.build_flow_prior_vae(SHAPE, 1)
    with pytest.raises(ValueError, match="beta=-0.5"):
        kv.build_flow_prior_vae(SHAPE, 2, beta=-0.5)
    with pytest.raises(ValueError, match="prior='gmm'"):
        kv.build_flow_prior_vae(SHAPE, 2, prior="gmm")
    with pytest.raises(ValueError, match=r"input_shape=\(30, 30, 1\)"):
        kv.build_flow_prior_vae((30, 30, 1), 8)
    model = tiny()
    with pytest.raises(ValueError, match=r"images.shape=\(2, 16, 16, 1\)"):
        model.encode(np.zeros((2, 16, 16, 1), "float32"))
    with pytest.raises(ValueError, match="divide by 255"):
        model.encode(np.full((2,) + SHAPE, 200.0, "float32"))
    with pytest.raises(ValueError, match=r"z.shape=\(2, 3\)"):
        model.decode(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="unconditional"):
        model.generate(2, labels=1)
    with pytest.raises(ValueError, match="n=0"):
        model.generate(0)


# --- shipped preset (issue 10 item 8) ---------------------------------------


def test_shipped_beta_zero_preset_loads_and_reconstructs_mnist():
    from keras_vaes import pretrained

    preset = pretrained.PRESETS["fp_vae_mnist_beta0"]
    path = os.path.join(pretrained.WEIGHTS_DIR, preset["file"])
    assert pretrained.sha256(path) == preset["sha256"]
    model = kv.load_pretrained("fp_vae_mnist_beta0")
    assert model.beta == 0.0 and model.prior is not None and model.latent_dim == 8
    assert float(to_np(model.anneal_step)) > 1500  # trained steps are stored
    out = model.generate(8, seed=0)["x_hat"]
    assert out.shape == (8, 32, 32, 1) and np.all((out >= 0) & (out <= 1))
    data = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "mnist.npz")
    if os.path.exists(data):
        (_, _), (x_test, _) = kv.datasets.load_mnist(data)
        x = x_test[:200]
        assert float(np.mean((model.reconstruct(x)["x_hat"] - x) ** 2)) < 0.03
        nll = -np.mean(to_np(model.prior.log_prob(model.encode(x).mean)))
        assert np.isfinite(nll)


def test_perceptual_reconstruction_replaces_the_l2_term():
    """reconstruction='perceptual' puts the feature loss where 0.5||x - x_hat||^2 was."""
    from keras_vaes import build_flow_prior_vae, build_prior_aae
    from keras_vaes.losses import perceptual_loss

    inputs = keras.Input((8, 8, 1))
    features = keras.Model(inputs, keras.layers.Conv2D(2, 3, name="feat")(inputs))
    features.trainable = False
    model = build_flow_prior_vae(
        (8, 8, 1), 2, beta=0.0, prior="normal", filters=(4, 8), dense_units=16,
        reconstruction="perceptual", perceptual_model=features, seed=0,
    )
    x = np.random.default_rng(0).random((4, 8, 8, 1)).astype("float32")
    x_hat = np.random.default_rng(1).random((4, 8, 8, 1)).astype("float32")
    expected = ops.convert_to_numpy(perceptual_loss(x, x_hat, features))
    np.testing.assert_allclose(ops.convert_to_numpy(model.reconstruction_terms(x, x_hat)), expected, rtol=1e-6)
    # The frozen feature network is neither trained, counted nor saved.
    assert not any("feat" in w.path for w in model.weights)
    assert model.get_config()["reconstruction"] == "perceptual"
    model.compile()
    model.fit(x, batch_size=4, epochs=1, verbose=0)
    aae = build_prior_aae(
        (8, 8, 1), 2, filters=(4, 8), dense_units=16, discriminator_units=(8,),
        generator_units=(8,), reconstruction="perceptual", perceptual_model=features,
    )
    np.testing.assert_allclose(ops.convert_to_numpy(aae.reconstruction_terms(x, x_hat)), expected, rtol=1e-6)
    with pytest.raises(ValueError, match="'l2' or 'perceptual'"):
        build_flow_prior_vae((8, 8, 1), 2, filters=(4, 8), dense_units=16, reconstruction="l1")
