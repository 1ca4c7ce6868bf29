"""AAE / Prior-AAE: losses against NumPy, gradient routing, optimizers, saving."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

import keras_vaes as kv
from keras_vaes.models.prior_aae import code_generator, latent_discriminator

TINY = dict(filters=(4, 8), dense_units=16, discriminator_units=(8, 4), generator_units=(8,), seed=1)
SHAPE = (8, 8, 1)


def tiny(**kwargs):
    return kv.build_prior_aae(SHAPE, 2, **{**TINY, **kwargs})


def images(n=6, seed=0):
    return np.random.default_rng(seed).uniform(size=(n,) + SHAPE).astype("float32")


def to_np(x):
    return np.asarray(ops.convert_to_numpy(x), dtype="float64")


def test_latent_networks_have_the_stated_widths():
    d = 8
    assert latent_discriminator(d).count_params() == (d * 512 + 512) + (512 * 256 + 256) + (256 + 1)
    assert code_generator(d).count_params() == (d * 512 + 512) + (512 * 512 + 512) + (512 * d + d)
    model = kv.build_prior_aae((32, 32, 1), d)
    assert model.encoder.output_shape == (None, d)  # deterministic encoder
    assert kv.build_prior_aae((32, 32, 1), d, prior="normal").code_generator is None


def numpy_mlp(x, weights, activation):
    for i in range(0, len(weights), 2):
        x = x @ weights[i] + weights[i + 1]
        if i + 2 < len(weights):
            x = activation(x)
    return x


def bce(target, logits):
    p = 1 / (1 + np.exp(-logits))
    return -np.mean(target * np.log(p) + (1 - target) * np.log(1 - p))


@pytest.mark.parametrize("prior", ["learned", "normal"])
def test_losses_against_numpy(prior):
    model = tiny(beta=0.7, prior=prior)
    x = images()
    z_0 = np.random.default_rng(2).normal(size=(6, 2)).astype("float32")
    out = model(x, training=False)
    values = model.loss_terms(x, out, z_0=z_0)
    assert list(values) == ["loss", "reconstruction", "adversarial", "discriminator", "generator"]
    terms = [float(to_np(t)) for t in values.values()]
    z, x_hat = to_np(out["z"]), to_np(out["x_hat"])
    leaky = lambda v: np.where(v > 0, v, 0.2 * v)
    relu = lambda v: np.maximum(v, 0)
    disc = lambda v: numpy_mlp(v, [to_np(w) for w in model.discriminator.weights], leaky)
    z_prior = z_0 if prior == "normal" else numpy_mlp(z_0, [to_np(w) for w in model.code_generator.weights], relu)
    rec = np.mean(0.5 * np.sum((x - x_hat) ** 2, axis=(1, 2, 3)))
    adversarial = bce(1, disc(z))
    d_loss = bce(1, disc(z_prior)) + bce(0, disc(z))
    g_loss = bce(0, disc(z_prior)) if prior == "learned" else 0.0
    expected = [rec + 0.7 * adversarial + d_loss + g_loss, rec, adversarial, d_loss, g_loss]
    np.testing.assert_allclose(terms, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="GradientTape")
@pytest.mark.parametrize("beta", [0.0, 0.5])
def test_each_network_gets_only_its_own_term(beta):
    model = tiny(beta=beta)
    x = images()
    z_0 = np.random.default_rng(2).normal(size=(6, 2)).astype("float32")
    groups = {
        "ae": model.encoder.trainable_variables + model.decoder.trainable_variables,
        "d": model.discriminator.trainable_variables,
        "g": model.code_generator.trainable_variables,
    }
    with tf.GradientTape(persistent=True) as tape:
        out = model(x, training=False)
        terms = model.loss_terms(x, out, z_0=z_0)
        loss, rec, adversarial = terms["loss"], terms["reconstruction"], terms["adversarial"]
        d_loss, g_loss = terms["discriminator"], terms["generator"]
        own = {"ae": rec + beta * adversarial, "d": d_loss, "g": g_loss}
    for name, variables in groups.items():
        full = tape.gradient(loss, variables)
        alone = tape.gradient(own[name], variables)
        for a, b in zip(full, alone):
            np.testing.assert_allclose(to_np(a), to_np(b), rtol=1e-5, atol=1e-7)
    if beta == 0:  # beta = 0: an unregularised autoencoder
        for a, b in zip(tape.gradient(loss, groups["ae"]), tape.gradient(rec, groups["ae"])):
            np.testing.assert_allclose(to_np(a), to_np(b), rtol=1e-5, atol=1e-7)


def test_bare_compile_trains_every_network_with_its_optimizer():
    model = tiny(beta=0.5)
    model.compile()
    assert [type(o).__name__ for o in model.optimizer.optimizers] == ["Adam"] * 3
    assert float(model.optimizer.optimizers[0].learning_rate) == pytest.approx(1e-4)
    before = {k: [to_np(w).copy() for w in net.trainable_weights]
              for k, net in [("e", model.encoder), ("d", model.discriminator), ("g", model.code_generator)]}
    history = model.fit(images(16), batch_size=8, epochs=2, verbose=0)
    for key in ("loss", "reconstruction", "adversarial", "discriminator", "generator"):
        assert np.all(np.isfinite(history.history[key]))
    assert [int(to_np(o.iterations)) for o in model.optimizer.optimizers] == [4, 4, 4]
    for key, net in [("e", model.encoder), ("d", model.discriminator), ("g", model.code_generator)]:
        assert any(np.abs(to_np(w) - b).max() > 0 for w, b in zip(net.trainable_weights, before[key]))
    out = model.generate(5, seed=0)["x_hat"]
    assert out.shape == (5,) + SHAPE and np.all((out >= 0) & (out <= 1))
    np.testing.assert_array_equal(out, model.generate(5, seed=0)["x_hat"])
    codes, log_var = model.encode(images(3))
    assert codes.shape == (3, 2) and log_var is None
    assert model.reconstruct(images(3))["x_hat"].shape == (3,) + SHAPE
    aae = tiny(prior="normal")
    aae.compile({"vae": keras.optimizers.Adam(1e-3), "discriminator": "sgd"})
    assert aae.optimizer_roles == ("vae", "discriminator") and aae.prior is None
    assert [type(o).__name__ for o in aae.optimizer.optimizers] == ["Adam", "SGD"]
    aae.fit(images(8), batch_size=8, epochs=1, verbose=0)
    np.testing.assert_allclose(aae.sample_latents(3, seed=4), np.random.default_rng(4).standard_normal((3, 2)), rtol=1e-6)
    np.testing.assert_allclose(aae.generate(3, seed=4)["x_hat"], aae.decode(aae.sample_latents(3, seed=4))["x_hat"], rtol=1e-6)


def test_weights_and_keras_round_trips(tmp_path):
    model = tiny(beta=0.3)
    model.compile()
    x = images(8)
    model.fit(x, batch_size=4, epochs=1, verbose=0)
    path = str(tmp_path / "aae.weights.h5")
    model.save_weights(path)
    loaded = tiny(beta=0.3)
    loaded.load_weights(path)
    np.testing.assert_array_equal(loaded.generate(3, seed=2)["x_hat"], model.generate(3, seed=2)["x_hat"])
    keras_path = str(tmp_path / "aae.keras")
    model.save(keras_path)
    restored = keras.saving.load_model(keras_path)
    assert restored.get_config() == model.get_config()
    np.testing.assert_array_equal(restored.encode(x).mean, model.encode(x).mean)
    assert [int(to_np(o.iterations)) for o in restored.optimizer.optimizers] == [2, 2, 2]
    restored.fit(x, batch_size=4, epochs=1, verbose=0)  # resumes
    weight = model.discriminator.trainable_weights[0]
    weight.assign(np.full(weight.shape, np.nan, "float32"))
    with pytest.raises(ValueError, match="Refusing to write"):
        model.save_weights(path)


def test_bad_input_errors():
    with pytest.raises(ValueError, match="latent_dim=1"):
        kv.build_prior_aae(SHAPE, 1)
    with pytest.raises(ValueError, match="beta=-1"):
        kv.build_prior_aae(SHAPE, 2, beta=-1)
    with pytest.raises(ValueError, match="prior='flow'"):
        kv.build_prior_aae(SHAPE, 2, prior="flow")
    model = tiny()
    with pytest.raises(ValueError, match=r"unknown optimizer role\(s\) \['ae'\].*Received: optimizer keys \['ae'\]"):
        model.compile(optimizer={"ae": "adam"})
    with pytest.raises(ValueError, match="own loss"):
        model.compile(loss="mse")
    with pytest.raises(ValueError, match=r"images.shape=\(2, 8, 8, 3\)"):
        model.encode(np.zeros((2, 8, 8, 3), "float32"))
    with pytest.raises(ValueError, match=r"z.shape=\(2, 5\)"):
        model.decode(np.zeros((2, 5)))
