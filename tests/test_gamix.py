"""GAMIX-VAE: architecture counts, loss terms vs NumPy, training step, saving, errors, data."""

import os

import keras
import numpy as np
import pytest
from keras import ops

from keras_vaes import datasets, pretrained
from keras_vaes.blocks import resnet_v2
from keras_vaes.layers import BatchMixtureKL
from keras_vaes.losses import gamix as gl
from keras_vaes.models.gamix import GamixVAE, build_gamix_vae, to_unit_range

TINY = dict(filters=4, discriminator_strides=(2, 2, 1, 1, 1, 1), seed=0)


def tiny(**kwargs):
    return build_gamix_vae((8, 8, 1), 8, **{**TINY, **kwargs})


def signed(n, shape=(8, 8, 1), seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (n,) + shape).astype("float32")


def np_values(variables):
    return [np.array(ops.convert_to_numpy(v)) for v in variables]


def changed(before, variables):
    return any(not np.array_equal(a, b) for a, b in zip(before, np_values(variables)))


# --- Architecture -----------------------------------------------------------


def test_paper_configuration_parameter_counts():
    # ~10 s to build on an idle 2-core CPU (the 256x256 graph, no forward pass).
    model = build_gamix_vae((256, 256, 3), 512)
    assert model.encoder.count_params() == 6_932_544
    assert model.decoder.count_params() == 4_049_522
    assert model.encoder.count_params() + model.decoder.count_params() == 10_982_066
    assert model.discriminator.count_params() == 412_101
    assert model.discriminator.output_shape == (None, 32, 32, 1)
    assert resnet_v2.num_stages((256, 256, 3)) == 6


def test_cpu_configuration_parameter_counts():
    model = build_gamix_vae((32, 32, 1), 32, filters=32, discriminator_strides=(2, 2, 1, 1, 1, 1))
    assert model.encoder.count_params() + model.decoder.count_params() == 293_206
    assert model.discriminator.count_params() == 26_421
    assert model.discriminator.output_shape == (None, 8, 8, 1)


def test_block_shapes():
    x = keras.Input((8, 8, 4))
    assert tuple(resnet_v2.identity_block(4)(x).shape) == (None, 8, 8, 4)
    assert tuple(resnet_v2.down_block(6)(x).shape) == (None, 4, 4, 6)
    assert tuple(resnet_v2.up_block(3)(x).shape) == (None, 16, 16, 3)


def test_spatial_layer_norm_equals_keras_layer_norm():
    from keras_vaes.layers import SpatialLayerNormalization

    x = np.random.default_rng(3).normal(2, 3, (2, 4, 4, 3)).astype("float32")
    ours, theirs = SpatialLayerNormalization(), keras.layers.LayerNormalization(axis=(1, 2), epsilon=1e-3)
    ours.build(x.shape), theirs.build(x.shape)
    weights = [np.random.default_rng(4).normal(size=w.shape) for w in theirs.get_weights()]
    ours.set_weights(weights), theirs.set_weights(weights)
    np.testing.assert_allclose(ops.convert_to_numpy(ours(x)), ops.convert_to_numpy(theirs(x)), atol=1e-5)
    mean, var = x.mean(axis=(1, 2), keepdims=True), x.var(axis=(1, 2), keepdims=True)
    expected = (x - mean) / np.sqrt(var + 1e-3) * weights[0][None, :, :, None] + weights[1][None, :, :, None]
    np.testing.assert_allclose(ops.convert_to_numpy(ours(x)), expected, atol=1e-4)


# --- Loss terms against NumPy -----------------------------------------------


def test_batch_mixture_kl_against_numpy_and_known_values():
    z = np.random.default_rng(1).normal(0.3, 1.7, (16, 5))
    m, v = z.mean(0), z.var(0)  # population variance (eq. 10)
    expected = 0.5 * np.sum(v + m**2 - 1 - np.log(v))
    assert float(gl.batch_mixture_kl(z)) == pytest.approx(expected, rel=1e-5)
    # Known values: means {1, -1} -> m = 0, v = 1 -> KL 0; {2, 0} -> m = 1, v = 1 -> 0.5.
    assert float(gl.batch_mixture_kl(np.array([[1.0], [-1.0]]))) == pytest.approx(0.0, abs=1e-7)
    assert float(gl.batch_mixture_kl(np.array([[2.0], [0.0]]))) == pytest.approx(0.5, rel=1e-6)
    layer = BatchMixtureKL(weight=2.0)
    out = layer(z.astype("float32"))
    np.testing.assert_array_equal(ops.convert_to_numpy(out), z.astype("float32"))
    assert float(layer.losses[0]) == pytest.approx(2 * expected, rel=1e-5)
    assert BatchMixtureKL.from_config(layer.get_config()).weight == 2.0


def test_variance_regularizer_l1_and_adversarial_terms_against_numpy():
    rng = np.random.default_rng(2)
    lv = rng.normal(0, 1, (6, 4))
    expected = np.mean(np.sum(np.exp(lv) - 1 - lv, axis=1))
    assert float(gl.variance_regularizer(lv)) == pytest.approx(expected, rel=1e-5)
    assert float(gl.variance_regularizer(np.zeros((3, 4)))) == pytest.approx(0.0, abs=1e-7)
    x, x_hat = rng.uniform(-1, 1, (2, 4, 4, 3)), rng.uniform(-1, 1, (2, 4, 4, 3))
    assert float(gl.l1_reconstruction(x, x_hat)) == pytest.approx(np.mean(np.abs(x - x_hat)), rel=1e-5)
    real, fake = rng.normal(0, 3, (2, 4, 4, 1)), rng.normal(0, 3, (2, 4, 4, 1))
    log_sigmoid = lambda t: -np.log1p(np.exp(-t))  # noqa: E731
    d_expected = -np.mean(log_sigmoid(real)) - np.mean(log_sigmoid(-fake))
    assert float(gl.discriminator_loss(real, fake)) == pytest.approx(d_expected, rel=1e-5)
    assert float(gl.generator_adversarial_loss(fake)) == pytest.approx(-np.mean(log_sigmoid(fake)), rel=1e-5)
    # Known value: logits 0 -> each BCE is log 2.
    zeros = np.zeros((2, 2, 2, 1))
    assert float(gl.discriminator_loss(zeros, zeros)) == pytest.approx(2 * np.log(2), rel=1e-6)


# --- Training step -----------------------------------------------------------


def test_one_step_trains_both_networks_and_default_keeps_bn_statistics():
    model = tiny()
    model.compile()
    x = signed(8)
    nets = (model.encoder, model.decoder, model.discriminator)
    trainable = [np_values(n.trainable_variables) for n in nets]
    moving = [np_values(n.non_trainable_variables) for n in nets]
    logs = model.fit(x, batch_size=8, epochs=1, verbose=0).history
    for net, before in zip(nets, trainable):
        assert changed(before, net.trainable_variables), net.name
    for net, before in zip(nets, moving):  # author's quirk: BN in inference mode
        assert not changed(before, net.non_trainable_variables), net.name
    expected = {"loss", "l1", "kl", "var_reg", "g_adv", "d_loss", "d_acc", "batch_mean_sq", "batch_var", "sigma_sq"}
    assert expected == set(logs)
    assert [int(ops.convert_to_numpy(o.iterations)) for o in model.optimizer.optimizers] == [1, 1]


def test_bn_training_option_updates_moving_statistics():
    model = tiny(bn_training=True)
    model.compile()
    before = np_values(model.encoder.non_trainable_variables)
    d_before = np_values(model.discriminator.non_trainable_variables)
    model.fit(signed(8), batch_size=8, epochs=1, verbose=0)
    assert changed(before, model.encoder.non_trainable_variables)
    assert changed(d_before, model.discriminator.non_trainable_variables)


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="uses tf.GradientTape")
def test_single_scalar_gives_each_network_its_own_gradient():
    import tensorflow as tf

    model = tiny()
    model.compile()
    x = ops.convert_to_tensor(signed(4))
    vae_vars = model.encoder.trainable_variables + model.decoder.trainable_variables
    d_vars = model.discriminator.trainable_variables
    with tf.GradientTape(persistent=True) as tape:
        y_pred = model(x, training=True)
        total = model.compute_loss(x, None, y_pred, training=True)
        x_hat = y_pred["x_hat"]
        d_own = 100.0 * gl.discriminator_loss(model.discriminator(x), model.discriminator(x_hat))
        g_own = (
            5000.0 * gl.l1_reconstruction(x, x_hat)
            + gl.batch_mixture_kl(y_pred["z_mean"])
            + 0.1 * gl.variance_regularizer(y_pred["z_log_var"])
            + 100.0 * gl.generator_adversarial_loss(model.discriminator(x_hat))
        )
    for a, b in zip(tape.gradient(total, d_vars), tape.gradient(d_own, d_vars)):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-6)
    for a, b in zip(tape.gradient(total, vae_vars), tape.gradient(g_own, vae_vars)):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-5)


def test_standard_vae_baseline():
    model = tiny(kl="standard", adversarial=False)
    assert model.discriminator is None
    model.compile()
    x = signed(8)
    before = np_values(model.encoder.trainable_variables)
    logs = model.fit(x, batch_size=4, epochs=1, verbose=0).history
    assert set(logs) == {"loss", "l1", "kl", "batch_mean_sq", "batch_var", "sigma_sq"}
    assert changed(before, model.encoder.trainable_variables)
    mean, log_var = model.encode(x[:4])
    expected_kl = np.mean(0.5 * np.sum(mean**2 + np.exp(log_var) - 1 - log_var, axis=1))
    y = model(x[:4])
    got = model.compute_loss(x[:4], None, y, training=False)
    rec = np.mean(np.abs(x[:4] - ops.convert_to_numpy(y["x_hat"])))
    assert float(got) == pytest.approx(5000 * rec + expected_kl, rel=1e-4)


# --- API ---------------------------------------------------------------------


def test_generate_reconstruct_variants_and_interpolation():
    model = tiny()
    x = signed(3)
    assert model.generate(5, seed=0)["x_hat"].shape == (5, 8, 8, 1)
    rec = model.reconstruct(x)["x_hat"]
    np.testing.assert_allclose(rec, model.decode(model.encode(x)[0])["x_hat"], atol=1e-6)
    variants = model.latent_variants(x[0], dims=(0, 3))
    assert variants.shape == (9, 8, 8, 1)
    np.testing.assert_allclose(variants[4], rec[0], atol=1e-5)  # centre: both steps 0
    rows = model.interpolate(x[:2], x[1:3], steps=6)
    assert rows.shape == (2, 6, 8, 8, 1)
    np.testing.assert_allclose(rows[:, 0], rec[:2], atol=1e-5)  # alpha_0 = 0 (eq. 14)
    np.testing.assert_allclose(rows[:, -1], rec[1:3], atol=1e-5)  # alpha_5 = 1
    z1, z2 = model.encode(x[:1])[0], model.encode(x[1:2])[0]
    mid = model.decode(0.6 * z1 + 0.4 * z2)["x_hat"]  # k = 2: alpha = 2/5
    np.testing.assert_allclose(rows[0, 2], mid[0], atol=1e-5)
    assert to_unit_range(np.array([-2.0, -1.0, 0.0, 1.0])).tolist() == [0.0, 0.0, 0.5, 1.0]


# --- Saving --------------------------------------------------------------------


# Keras warns about weightless containers of the functional sub-models; the
# test checks that every weight is restored.
@pytest.mark.filterwarnings("ignore:Skipping nested container")
def test_weights_and_keras_round_trips_of_all_three_networks(tmp_path):
    model = tiny()
    model.compile()
    x = signed(8)
    model.fit(x, batch_size=8, epochs=1, verbose=0)
    path = str(tmp_path / "g.weights.h5")
    model.save_weights(path)
    other = tiny(seed=1)
    other.load_weights(path)
    for a, b in zip(model.get_weights(), other.get_weights()):
        np.testing.assert_array_equal(a, b)
    outputs = lambda m: [  # noqa: E731
        *m.encode(x), m.decode(np.ones((2, 8), "float32"))["x_hat"],
        ops.convert_to_numpy(m.discriminator(x, training=False)),
    ]
    for a, b in zip(outputs(model), outputs(other)):
        np.testing.assert_array_equal(a, b)
    kpath = str(tmp_path / "g.keras")
    model.save(kpath)
    loaded = keras.saving.load_model(kpath)
    assert isinstance(loaded, GamixVAE) and loaded.get_config() == model.get_config()
    for a, b in zip(outputs(model), outputs(loaded)):
        np.testing.assert_array_equal(a, b)
    # Recompiled with both optimizers and their state, and trains on.
    assert [int(ops.convert_to_numpy(o.iterations)) for o in loaded.optimizer.optimizers] == [1, 1]
    loaded.fit(x, batch_size=8, epochs=1, verbose=0)
    # A preset: the same weights without both optimizers' state.
    bare = str(tmp_path / "preset.weights.h5")
    assert model.export_weights(bare) == pretrained.sha256(bare)
    assert os.path.getsize(bare) < 0.6 * os.path.getsize(path)
    fresh = tiny(seed=2)
    fresh.load_weights(bare)
    for a, b in zip(outputs(model), outputs(fresh)):
        np.testing.assert_array_equal(a, b)
    # A wrong configuration is refused with what it was.
    with pytest.raises(ValueError, match="different configuration"):
        build_gamix_vae((8, 8, 1), 16, **TINY).load_weights(path)


def test_never_writes_nan_weights(tmp_path):
    model = tiny()
    path = str(tmp_path / "g.weights.h5")
    model.save_weights(path)
    before = open(path, "rb").read()
    kernel = model.discriminator.trainable_variables[0]
    kernel.assign(np.full(kernel.shape, np.nan, "float32"))
    with pytest.raises(ValueError, match="NaN"):
        model.save_weights(path)
    with pytest.raises(ValueError, match="NaN"):
        model.save(str(tmp_path / "g.keras"))
    assert open(path, "rb").read() == before
    assert not os.path.exists(tmp_path / "g.keras")


# --- Errors --------------------------------------------------------------------


def test_errors_name_what_was_received():
    model = tiny()
    model.compile()
    with pytest.raises(ValueError, match=r"batch of one.*x.shape=\(1, 8, 8, 1\)"):
        model.fit(signed(1), batch_size=1, verbose=0)
    with pytest.raises(ValueError, match=r"batch_size=4"):
        model.fit(signed(9), batch_size=4, verbose=0)  # last batch of one
    with pytest.raises(ValueError, match=r"at least two samples.*z_mean.shape=\(1, 3\)"):
        gl.batch_mixture_kl(np.zeros((1, 3), "float32"))
    with pytest.raises(ValueError, match=r"\[-1, 1\]. Received: values in \[0, 255\]"):
        model.fit(np.concatenate([np.zeros((4, 8, 8, 1)), np.full((4, 8, 8, 1), 255.0)]), batch_size=4, verbose=0)
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        model.encode(np.full((2, 8, 8, 1), 1.5, "float32"))
    with pytest.raises(ValueError, match=r"shape \(8, 8, 1\). Received: images.shape=\(2, 16, 16, 1\)"):
        model.encode(np.zeros((2, 16, 16, 1), "float32"))
    with pytest.raises(ValueError, match=r"4\*2\^k.*input_shape=\(30, 30, 1\)"):
        build_gamix_vae((30, 30, 1), 8)
    with pytest.raises(ValueError, match=r"4\*2\^k.*input_shape=\(32, 16, 1\)"):
        build_gamix_vae((32, 16, 1), 8)
    with pytest.raises(ValueError, match=r"multiple of 8.*latent_dim=12"):
        build_gamix_vae((8, 8, 1), 12)
    with pytest.raises(ValueError, match=r"kl='gaussian'"):
        build_gamix_vae((8, 8, 1), 8, kl="gaussian")


# --- Data ----------------------------------------------------------------------


def test_signed_mnist_loader(tmp_path):
    rng = np.random.default_rng(0)
    path = str(tmp_path / "fm.npz")
    np.savez(path, x_train=rng.integers(0, 256, (5, 28, 28), dtype=np.uint8), y_train=np.arange(5),
             x_test=rng.integers(0, 256, (3, 28, 28), dtype=np.uint8), y_test=np.arange(3))
    (x, y), (xt, _) = datasets.load_fashion_mnist_signed(path)
    assert x.shape == (5, 32, 32, 1) and xt.shape == (3, 32, 32, 1) and x.dtype == np.float32
    assert x.min() >= -1 and x.max() <= 1 and np.all(x[:, :2] == -1.0)  # padding is black
    raw = np.load(path)["x_train"]
    np.testing.assert_allclose(x[:, 2:30, 2:30, 0], raw / 127.5 - 1.0, atol=1e-6)


def test_celeba_hq_streaming_loader(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    folder = tmp_path / "hq"
    folder.mkdir()
    for i in range(10):
        image = rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)
        Image.fromarray(image).save(folder / f"{i:05d}.jpg", quality=95)
    (folder / "notes.txt").write_text("not an image")
    train, val = datasets.celeba_hq_split(str(folder))
    assert len(train) == 8 and len(val) == 2 and not set(train) & set(val)
    order = np.arange(10)
    np.random.RandomState(1967).shuffle(order)  # the author's split
    assert [os.path.basename(p) for p in train + val] == [f"{i:05d}.jpg" for i in order]
    data = datasets.CelebAHQDataset(train, batch_size=3, side=16, training=True, seed=0)
    assert len(data) == 2  # 8 images, batches of 3, last incomplete dropped
    batch = data[0]
    assert batch.shape == (3, 16, 16, 3) and batch.dtype == np.float32
    assert batch.min() >= -1 and batch.max() <= 1
    plain = datasets.CelebAHQDataset(train, batch_size=8, side=16, training=False)
    reference = plain[0]
    chosen = data._order[:3]
    for image, index in zip(batch, chosen):  # each image is itself or its mirror
        assert np.array_equal(image, reference[index]) or np.array_equal(image, reference[index][:, ::-1])
    assert datasets.read_jpeg(train[0], 16).shape == (16, 16, 3)
    # Trains from the stream. (8x8: at 16x16 this tiny model's training step
    # crashes TensorFlow 2.21's oneDNN kernels here, with or without the
    # stream; TF_ENABLE_ONEDNN_OPTS=0 runs it.)
    model = build_gamix_vae((8, 8, 3), 8, **TINY)
    model.compile()
    model.fit(datasets.CelebAHQDataset(train, batch_size=4, side=8, seed=0), epochs=1, verbose=0)
    with pytest.raises(FileNotFoundError, match="CelebA-HQ"):
        datasets.celeba_hq_split(str(tmp_path / "missing"))


def test_pretrained_fashion_mnist_preset_loads():
    from keras_vaes.pretrained import PRESETS, load_pretrained

    model = load_pretrained("gamix_fashion_mnist")  # checksum verified
    assert isinstance(model, GamixVAE) and PRESETS["gamix_fashion_mnist"]["config"]["latent_dim"] == 32
    fresh = build_gamix_vae(**PRESETS["gamix_fashion_mnist"]["config"])
    assert any(not np.array_equal(a, b) for a, b in zip(model.get_weights(), fresh.get_weights()))
    images = model.generate(4, seed=0)["x_hat"]
    assert images.shape == (4, 32, 32, 1) and np.all(np.isfinite(images))
