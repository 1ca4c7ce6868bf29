import os

import keras
import numpy as np
import pytest

import keras_vaes as kv
from keras_vaes.layers import SplitComposition, split_composition
from keras_vaes.models.base import TrainingDivergedError

TINY = dict(base_dim=8, emb_dim=16, num_scale=2, beta=2.0, seed=1)


def tiny_model(split=True, **kwargs):
    return kv.build_svae((16, 16, 1), 4, split=split, **{**TINY, **kwargs})


def tiny_data(n=20, seed=0, channels=1):
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 1, (n, 16, 16, channels)).astype("float32")


# --- architecture --------------------------------------------------------


@pytest.mark.parametrize(
    "shape,latent,trainable,total",
    [
        ((32, 32, 1), 32, 12_793_667, 12_799_299),
        ((32, 32, 3), 200, None, 13_061_143),
        ((64, 64, 3), 150, None, 28_989_363),
    ],
)
def test_parameter_counts_match_papers(shape, latent, trainable, total):
    model = kv.build_svae(shape, latent)
    assert model.count_params() == total
    if trainable is not None:
        n = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
        assert n == trainable


def test_vanilla_differs_only_in_last_layer():
    split, vanilla = tiny_model(True), tiny_model(False)
    # Last conv: 3x3 kernel, 8 input channels; 2C+1 = 3 vs C = 1 outputs.
    assert split.count_params() - vanilla.count_params() == (3 * 3 * 8 + 1) * 2
    assert sorted(vanilla.decode(np.zeros((2, 4)))) == ["x_hat"]


def test_split_composition_against_numpy():
    rng = np.random.default_rng(0)
    sigma = rng.uniform(size=(2, 5, 5, 1)).astype("float32")
    x1 = rng.uniform(size=(2, 5, 5, 3)).astype("float32")
    x2 = rng.uniform(size=(2, 5, 5, 3)).astype("float32")
    expected = np.empty_like(x1)
    for c in range(3):  # broadcast over channels, by hand
        expected[..., c] = sigma[..., 0] * x1[..., c] + (1 - sigma[..., 0]) * x2[..., c]
    np.testing.assert_allclose(split_composition(sigma, x1, x2), expected, rtol=1e-6)
    out = SplitComposition(3)(np.concatenate([sigma, x1, x2], axis=-1))
    np.testing.assert_allclose(out["x_hat"], expected, rtol=1e-6)
    np.testing.assert_array_equal(out["x2"], x2)


def test_encode_decode_generate_shapes_and_ranges():
    model = tiny_model()
    z_mean, z_log_var = model.encode(tiny_data(6))
    assert z_mean.shape == z_log_var.shape == (6, 4)
    out = model.generate(5, seed=3)
    assert out["x_hat"].shape == out["x1"].shape == (5, 16, 16, 1)
    assert out["sigma"].shape == (5, 16, 16, 1)
    assert 0.0 <= out["x_hat"].min() and out["x_hat"].max() <= 1.0
    np.testing.assert_allclose(
        out["x_hat"], out["sigma"] * out["x1"] + (1 - out["sigma"]) * out["x2"], atol=1e-6
    )
    np.testing.assert_array_equal(model.generate(5, seed=3)["x_hat"], out["x_hat"])


def test_rgb_split_channels():
    model = kv.build_svae((16, 16, 3), 4, **TINY)
    out = model.generate(2, seed=0)
    assert out["x1"].shape == (2, 16, 16, 3) and out["sigma"].shape == (2, 16, 16, 1)


# --- training and gamma --------------------------------------------------


class BatchLogs(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.logs = []

    def on_train_batch_end(self, batch, logs=None):
        self.logs.append({k: float(v) for k, v in logs.items()})


def test_fit_shows_metrics_and_gamma_follows_rule():
    model = tiny_model()
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    record = BatchLogs()
    history = model.fit(tiny_data(40), batch_size=10, epochs=1, verbose=0,
                        shuffle=False, callbacks=[record])
    assert {"loss", "mse", "kl", "gamma"} <= set(history.history)
    # Per-batch MSE from the running means the progress bar shows.
    means = [log["mse"] for log in record.logs]
    batch_mse = [means[0]] + [
        (k + 1) * means[k] - k * means[k - 1] for k in range(1, len(means))
    ]
    estimate, gamma = 1.0, 1.0
    for mse, log in zip(batch_mse, record.logs):
        estimate = 0.99 * estimate + 0.01 * mse
        gamma = min(gamma, estimate)
        assert log["gamma"] == pytest.approx(gamma, rel=1e-5)
    assert model.gamma == pytest.approx(gamma, rel=1e-5)
    assert gamma < 1.0


def test_loss_matches_numpy_by_hand():
    model = tiny_model(beta=3.0)
    model.balancer.gamma.assign(0.25)
    rng = np.random.default_rng(4)
    x, x_hat = rng.uniform(size=(2, 10, 16, 16, 1)).astype("float32")
    mean, log_var = rng.normal(size=(2, 10, 4)).astype("float32")
    terms = model.loss_terms(x, {"x_hat": x_hat, "z_mean": mean, "z_log_var": log_var})
    assert sorted(terms) == ["kl", "loss", "mse"]  # the progress bar's terms
    assert float(terms["mse"]) == pytest.approx(np.mean((x - x_hat) ** 2), rel=1e-5)
    assert model.gamma == 0.25  # no update outside training
    loss, kl = terms["loss"], terms["kl"]
    expected_kl, expected_loss = [], []
    for i in range(10):  # per sample, by hand
        k = 0.5 * sum(mean[i, j] ** 2 + np.exp(log_var[i, j]) - 1 - log_var[i, j] for j in range(4))
        rec = 0.5 * np.sum((x[i] - x_hat[i]).astype("float64") ** 2) / 0.25
        expected_kl.append(k)
        expected_loss.append(rec + 3.0 * k)
    assert float(kl) == pytest.approx(np.mean(expected_kl), rel=1e-5)
    assert float(loss) == pytest.approx(np.mean(expected_loss), rel=1e-5)


def test_balancing_update_by_hand():
    estimate, gamma = 1.0, 1.0
    for batch_mse in [0.5, 0.2, 3.0, 0.1]:
        new_est, new_gamma = kv.balancing_update("split_vae", estimate, gamma, batch_mse)
        estimate = 0.99 * estimate + 0.01 * batch_mse
        gamma = min(gamma, estimate)
        assert float(new_est) == pytest.approx(estimate)
        assert float(new_gamma) == pytest.approx(gamma)
    new_est, new_gamma = kv.balancing_update("two_stage", 0.04, 0.2, 0.01)
    assert float(new_est) == pytest.approx(min(0.04, 0.99 * 0.04 + 0.01 * 0.01))
    assert float(new_gamma) == pytest.approx(np.sqrt(float(new_est)))
    with pytest.raises(ValueError, match="rule"):
        kv.balancing_update("nope", 1.0, 1.0, 1.0)


@pytest.mark.parametrize("rule", ["split_vae", "two_stage"])
def test_balancer_ignores_non_finite_batch_mse(rule):
    balancer = kv.GammaBalancer(rule=rule, initial_mse=0.5)
    balancer.update(0.1)
    state = (float(balancer.mse_estimate), float(balancer.gamma))
    for bad in (np.nan, np.inf):
        balancer.update(np.float32(bad))
        assert (float(balancer.mse_estimate), float(balancer.gamma)) == state
    balancer.update(0.1)  # finite again: the rule resumes
    assert float(balancer.mse_estimate) == pytest.approx(0.99 * state[0] + 0.01 * 0.1)


def test_standard_callbacks_work(tmp_path):
    model = tiny_model()
    model.compile(optimizer="adam")
    ckpt = str(tmp_path / "ckpt.weights.h5")
    model.fit(
        tiny_data(20), batch_size=10, epochs=2, verbose=0,
        validation_data=(tiny_data(10, seed=1),),
        callbacks=[
            keras.callbacks.ModelCheckpoint(ckpt, save_weights_only=True),
            keras.callbacks.TensorBoard(str(tmp_path / "tb")),
            keras.callbacks.EarlyStopping(monitor="val_loss", patience=5),
        ],
    )
    assert os.path.getsize(ckpt) > 0
    assert any(f.startswith("events") for _, _, fs in os.walk(tmp_path / "tb") for f in fs)


# --- saving ----------------------------------------------------------------


def test_weights_round_trip_restores_outputs_and_gamma(tmp_path):
    model = tiny_model()
    model.compile(optimizer="adam")
    model.fit(tiny_data(20), batch_size=10, epochs=1, verbose=0)
    path = str(tmp_path / "m.weights.h5")
    model.save_weights(path)
    assert not [f for f in os.listdir(tmp_path) if f.startswith(".tmp")]
    other = tiny_model(seed=99)
    other.load_weights(path)
    z = np.random.default_rng(0).normal(size=(3, 4)).astype("float32")
    for key in ("x_hat", "sigma", "x1", "x2"):
        np.testing.assert_array_equal(model.decode(z)[key], other.decode(z)[key])
    np.testing.assert_array_equal(model.encode(tiny_data(3))[0], other.encode(tiny_data(3))[0])
    assert other.gamma == model.gamma < 1.0


def test_resume_training_continues_from_saved_gamma(tmp_path):
    model = tiny_model()
    model.compile(optimizer="adam")
    model.fit(tiny_data(40), batch_size=10, epochs=1, verbose=0)
    path = str(tmp_path / "m.weights.h5")
    model.save_weights(path)
    resumed = tiny_model()
    resumed.load_weights(path)
    resumed.compile(optimizer="adam")
    record = BatchLogs()
    resumed.fit(tiny_data(10), batch_size=10, epochs=1, verbose=0, callbacks=[record])
    saved_est = float(np.asarray(model.balancer.mse_estimate))
    expected = min(model.gamma, 0.99 * saved_est + 0.01 * record.logs[0]["mse"])
    assert record.logs[0]["gamma"] == pytest.approx(expected, rel=1e-5)


def test_diverged_weights_never_overwrite_a_file(tmp_path):
    model = tiny_model()
    path = tmp_path / "m.weights.h5"
    model.save_weights(str(path))
    before = path.read_bytes()
    model.decoder.get_layer("latent_to_embedding").kernel.assign(
        np.full((4, 16), np.nan, "float32")
    )
    with pytest.raises(ValueError, match="NaN or inf.*left as it was"):
        model.save_weights(str(path))
    assert path.read_bytes() == before
    with pytest.raises(ValueError, match="NaN or inf"):
        model.save(str(tmp_path / "m.keras"))
    assert not (tmp_path / "m.keras").exists()


def test_keras_format_round_trip(tmp_path):
    model = tiny_model()
    model.compile(optimizer="adam")
    model.fit(tiny_data(20), batch_size=10, epochs=1, verbose=0)
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, kv.SplitVAE)
    assert loaded.get_config() == model.get_config()
    z = np.random.default_rng(1).normal(size=(3, 4)).astype("float32")
    np.testing.assert_array_equal(model.decode(z)["x_hat"], loaded.decode(z)["x_hat"])
    assert loaded.gamma == model.gamma


def test_file_without_gamma_is_reported_and_gamma_restarts_from_mse(tmp_path):
    import h5py

    model = tiny_model()
    path = str(tmp_path / "m.weights.h5")
    model.balancer.reset(0.01)
    model.save_weights(path)
    assert tiny_model().load_weights(path) is True
    with h5py.File(path, "a") as f:  # a file as the authors' (no gamma)
        removed = []
        f.visit(lambda name: removed.append(name) if name.endswith("balancer_gamma") or name.endswith("balancer_mse_estimate") else None)
        for name in removed:
            del f[name]
    assert len(removed) == 2
    other = tiny_model()
    assert other.load_weights(path) is False
    assert other.gamma == 1.0
    mse = other.estimate_gamma(tiny_data(10))
    assert other.gamma == pytest.approx(mse) and mse < 1.0


def test_estimate_gamma_from_data():
    model = tiny_model()
    x = tiny_data(10)
    mse = model.estimate_gamma(x)
    assert model.gamma == pytest.approx(mse, rel=1e-6)
    assert 0.0 < mse < 1.0


# --- bad input -------------------------------------------------------------


def test_bad_config_errors():
    with pytest.raises(ValueError, match=r"4\*2\^k.*Received: image side 24"):
        kv.build_svae((24, 24, 1), 4)
    with pytest.raises(ValueError, match="square"):
        kv.build_svae((32, 16, 1), 4)
    with pytest.raises(ValueError, match=r"input_shape=\(height, width, channels\)"):
        kv.build_svae((32, 32), 4)


def test_resnet_settings_are_checked_recorded_and_typos_refused():
    with pytest.raises(ValueError, match="Received: base_dim=2.5"):
        kv.build_svae((16, 16, 1), 4, **{**TINY, "base_dim": 2.5})
    with pytest.raises(ValueError, match="depth_per_block"):
        kv.build_svae((16, 16, 1), 4, **{**TINY, "depth_per_block": 0})
    with pytest.raises(TypeError, match="base_dims"):
        kv.build_svae((16, 16, 1), 4, base_dims=8)
    model = kv.build_svae((16, 16, 1), 4, **{**TINY, "kernel_size": 5})
    config = model.get_config()
    assert {k: config[k] for k in kv.blocks.ResNetSettings().as_dict()} == {
        "base_dim": TINY["base_dim"], "num_scale": TINY["num_scale"], "kernel_size": 5,
        "block_per_scale": 1, "depth_per_block": 2}
    kernels = {tuple(w.shape[:2]) for w in model.weights if w.path.endswith("kernel")
               and len(w.shape) == 4}
    assert (5, 5) in kernels and (3, 3) not in kernels


def test_resnet_settings_defaults_are_the_blocks_defaults():
    import inspect

    settings = kv.blocks.ResNetSettings().as_dict()
    encoder = inspect.signature(kv.blocks.conv_encoder).parameters
    decoder = inspect.signature(kv.blocks.conv_decoder).parameters
    assert settings == {k: encoder[k].default for k in settings}
    assert kv.blocks.ResNetSettings().decoder_kwargs() == {
        k: decoder[k].default for k in settings if k != "num_scale"}


def test_bad_images_errors():
    model = tiny_model()
    with pytest.raises(ValueError, match=r"shape \(16, 16, 1\).*\(4, 32, 32, 1\)"):
        model.encode(np.zeros((4, 32, 32, 1), "float32"))
    with pytest.raises(ValueError, match=r"Received: images.shape=\(16, 16, 1\)"):
        model.encode(np.zeros((16, 16, 1), "float32"))
    with pytest.raises(ValueError, match=r"\[0, 1\].*0-255"):
        model.encode(np.full((2, 16, 16, 1), 255.0, "float32"))
    model.compile(optimizer="adam")
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        model.fit(np.full((10, 16, 16, 1), 200.0, "float32"), epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"z of shape \(N, 4\)"):
        model.decode(np.zeros((2, 5)))


@pytest.mark.filterwarnings("ignore:Skipping nested container")
def test_weights_from_other_configuration_error(tmp_path):
    path = str(tmp_path / "big.weights.h5")
    kv.build_svae((16, 16, 1), 8, **{**TINY, "emb_dim": 32}).save_weights(path)
    with pytest.raises(ValueError, match="different configuration"):
        tiny_model().load_weights(path)
    with pytest.raises(ValueError, match=r"\.weights\.h5"):
        tiny_model().save_weights(str(tmp_path / "m.h5"))


def test_compiled_train_step_reads_the_current_gamma():
    model = tiny_model()
    model.compile(optimizer=keras.optimizers.SGD(0.0))  # weights stay put
    x = tiny_data(10)
    first = model.train_on_batch(x, return_dict=True)
    model.balancer.gamma.assign(first["gamma"] / 100.0)
    second = model.train_on_batch(x, return_dict=True)
    # The reconstruction term is 0.5*SSE/gamma: ~100x larger with gamma/100.
    rec_first = first["loss"] - 2.0 * first["kl"]
    rec_second = second["loss"] - 2.0 * second["kl"]
    assert rec_second / rec_first == pytest.approx(100.0, rel=0.1)


def test_recalibrate_batch_norm_averages_batch_statistics():
    model = tiny_model()
    x = tiny_data(30, seed=7)
    assert model.recalibrate_batch_norm(x, batch_size=10) == 3
    embedding = model.encoder.get_layer("embedding")
    stem = keras.Model(embedding.input, embedding.get_layer("embedding_stem").output)
    bn = embedding.get_layer("embedding_scale0_res0_bn0")
    features = np.asarray(stem(x))
    batch_means = [features[i : i + 10].mean(axis=(0, 1, 2)) for i in (0, 10, 20)]
    batch_vars = [features[i : i + 10].var(axis=(0, 1, 2)) for i in (0, 10, 20)]
    np.testing.assert_allclose(bn.moving_mean, np.mean(batch_means, axis=0), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(bn.moving_variance, np.mean(batch_vars, axis=0), rtol=1e-4, atol=1e-6)
    assert bn.momentum == 0.999  # restored


def test_recalibrate_batch_norm_refuses_fewer_images_than_a_batch():
    model = tiny_model()
    with pytest.raises(ValueError, match=r"Received: 7 images, batch_size=10"):
        model.recalibrate_batch_norm(tiny_data(7), batch_size=10)


def test_diverging_fit_stops_with_advice_and_keeps_the_checkpoint(tmp_path):
    model = tiny_model()
    ckpt = tmp_path / "ckpt.weights.h5"
    model.save_weights(str(ckpt))
    before = ckpt.read_bytes()
    model.compile(optimizer=keras.optimizers.SGD(1e30))
    record = BatchLogs()
    with pytest.raises(TrainingDivergedError, match=r"NaN or inf.*lower learning rate than 1e\+30"):
        model.fit(tiny_data(40), batch_size=10, epochs=3, verbose=0, callbacks=[
            record, keras.callbacks.ModelCheckpoint(str(ckpt), save_weights_only=True)])
    # Stopped at the first non-finite loss, before any later callback saw
    # it and before the epoch's end: the checkpoint file is the one before.
    assert len(record.logs) < 4 and all(np.isfinite(log["loss"]) for log in record.logs)
    assert ckpt.read_bytes() == before
    assert issubclass(TrainingDivergedError, ValueError)
