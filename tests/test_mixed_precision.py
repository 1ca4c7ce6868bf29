"""Opt-in mixed precision (`keras.config.set_dtype_policy("mixed_bfloat16")`).

Never the default (it changes the numerics); where it is chosen, the
convolutions run in bfloat16 while the heads the loss reads (z_mean,
z_log_var, the decoder output and the split composition) stay float32, so
the loss is float32 and close to the float32 model's on the same weights.
Weights are float32 either way and files are interchangeable.
"""

import numpy as np
import pytest

import keras

from keras_vaes.models.svae import SplitVAE
from keras_vaes.models.two_stage import build_two_stage_vae

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="bfloat16 kernels checked on the TensorFlow backend.",
)

TINY = dict(base_dim=8, emb_dim=16, num_scale=2, beta=8.0, seed=3)
SHAPE = (16, 16, 1)


@pytest.fixture
def mixed_policy():
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def test_default_policy_is_float32_everywhere():
    model = SplitVAE(SHAPE, 4, **TINY)
    policies = {layer.dtype_policy.name for layer in model._flatten_layers()}
    assert policies == {"float32"}


def test_mixed_policy_runs_body_in_bfloat16_and_heads_in_float32(mixed_policy):
    model = SplitVAE(SHAPE, 4, **TINY)
    layers = {layer.name: layer for layer in model._flatten_layers()}
    assert layers["embedding_stem"].compute_dtype == "bfloat16"
    assert layers["synthesis_scale0_res0_conv0"].compute_dtype == "bfloat16"
    for name in ("z_mean", "z_log_var", "synthesis_output", "split_composition", "sampling"):
        assert layers[name].compute_dtype == "float32", name
    # Variables stay float32: weight files are the same as the float32 model's.
    assert {w.dtype for w in model.weights} == {"float32"}
    out = model(np.zeros((2,) + SHAPE, "float32"), training=False)
    assert {key: str(value.dtype) for key, value in out.items()} == {
        key: "<dtype: 'float32'>" for key in out
    }


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_mixed_policy_step_close_to_float32_on_same_weights(policy):
    reference = SplitVAE(SHAPE, 4, **TINY)
    keras.config.set_dtype_policy(policy)
    try:
        mixed = SplitVAE(SHAPE, 4, **TINY)
    finally:
        keras.config.set_dtype_policy("float32")
    reference_start = reference.get_weights()
    mixed.set_weights(reference_start)
    x = np.random.default_rng(0).random((8,) + SHAPE).astype("float32")
    reference.compile(keras.optimizers.SGD(1e-3))
    if policy == "mixed_float16":
        # compile() would wrap SGD with a loss scale of 2^15, which overflows
        # float16 on the first step here (skipped step, then a smaller
        # scale). A scale of 8 keeps the step: a train_step that forgot
        # `scale_loss` would then move the weights 8x too little.
        mixed.compile(keras.optimizers.LossScaleOptimizer(keras.optimizers.SGD(1e-3), initial_scale=8.0))
    else:
        mixed.compile(keras.optimizers.SGD(1e-3))
    logs_ref = reference.train_on_batch(x, return_dict=True)
    logs_mixed = mixed.train_on_batch(x, return_dict=True)
    for key in ("loss", "mse", "kl"):
        assert np.isfinite(logs_mixed[key])
        # bfloat16 keeps 8 bits of mantissa: ~0.4% per rounding.
        np.testing.assert_allclose(logs_mixed[key], logs_ref[key], rtol=2e-2)
    # The update itself matches: float16 gradients were scaled by the
    # LossScaleOptimizer and unscaled before SGD applied them.
    moved_ref = [b - a for a, b in zip(reference_start, reference.get_weights())]
    moved_mixed = [b - a for a, b in zip(reference_start, mixed.get_weights())]
    step_ref = np.concatenate([m.ravel() for m in moved_ref])
    step_mixed = np.concatenate([m.ravel() for m in moved_mixed])
    # Same direction and length (a forgotten or doubled scale would change
    # the length 8x); bfloat16 gradients differ by a few percent.
    cosine = step_ref @ step_mixed / (np.linalg.norm(step_ref) * np.linalg.norm(step_mixed))
    assert cosine > 0.95
    assert 0.8 < np.linalg.norm(step_mixed) / np.linalg.norm(step_ref) < 1.25
    # The BN moving statistics stay float32 and were updated.
    bn = mixed.get_layer("encoder").get_layer("embedding").get_layer("embedding_scale0_res0_bn0")
    assert bn.moving_mean.dtype == "float32"
    assert np.any(np.asarray(bn.moving_mean) != 0.0)


def test_mixed_weights_load_into_float32_model(tmp_path, mixed_policy):
    mixed = SplitVAE(SHAPE, 4, **TINY)
    path = tmp_path / "mixed.weights.h5"
    mixed.save_weights(path)
    keras.config.set_dtype_policy("float32")
    plain = SplitVAE(SHAPE, 4, **TINY)
    plain.load_weights(path)
    for a, b in zip(mixed.get_weights(), plain.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_two_stage_under_mixed_policy_trains_and_generates(mixed_policy):
    model = build_two_stage_vae((16, 16, 1), 8, base_dim=8, num_scale=2, fc_dim=16,
                                second_dim=16, seed=1)
    first = {layer.name: layer for layer in model.first_stage._flatten_layers()}
    assert first["embedding_scale0_res0_conv0"].compute_dtype == "bfloat16"
    assert first["decoder_scale0_res0_conv0"].compute_dtype == "bfloat16"
    for name in ("z_mean", "z_log_sd", "z_log_var", "sampling", "decoder_output"):
        assert first[name].compute_dtype == "float32", name
    # The whole second stage stays float32 (cheap; latents need the mantissa).
    second = {
        layer.name: layer.compute_dtype
        for layer in model.second_stage._flatten_layers()
        if not isinstance(layer, (keras.layers.InputLayer, keras.Model))
    }
    assert len(second) >= 10 and set(second.values()) == {"float32"}, second
    out = model.first_stage(np.zeros((2, 16, 16, 1), "float32"), training=False)
    assert {str(value.dtype) for value in out.values()} == {"<dtype: 'float32'>"}

    data = np.random.default_rng(0).random((32, 16, 16, 1)).astype("float32")
    h1 = model.fit_first_stage(data, 1, batch_size=8, verbose=0)
    h2 = model.fit_second_stage(data, 1, batch_size=8, verbose=0)
    assert np.isfinite(h1.history["loss"]).all() and np.isfinite(h2.history["loss"]).all()
    images = model.generate(6, stage=2, seed=0)["x_hat"]
    assert images.shape == (6, 16, 16, 1) and images.dtype == np.float32
    assert np.isfinite(images).all() and images.min() >= 0.0 and images.max() <= 1.0


def test_fused_bn_takes_bfloat16_and_matches_keras_bn():
    import tensorflow as tf

    from keras_vaes.layers import FusedBatchNormalization

    rng = np.random.default_rng(0)
    shape = (6, 5, 4, 3)
    x = tf.cast(2.0 + 3.0 * rng.normal(size=shape), tf.bfloat16)
    upstream = tf.cast(rng.normal(size=shape), tf.float32)
    kwargs = dict(momentum=0.9, epsilon=1e-5, dtype="mixed_bfloat16")
    fused, plain = FusedBatchNormalization(**kwargs), keras.layers.BatchNormalization(**kwargs)
    fused.build(shape)
    plain.build(shape)
    weights = [rng.normal(size=3).astype("float32") for _ in range(2)]
    weights += [rng.normal(size=3).astype("float32"), rng.random(3).astype("float32") + 0.5]
    fused.set_weights(weights)
    plain.set_weights(weights)
    assert fused._use_fused(x, None)  # the fused kernel, not the fallback
    results = []
    for layer in (fused, plain):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, training=True)
            objective = tf.reduce_sum(tf.cast(y, tf.float32) * upstream)
        dx, dgamma, dbeta = tape.gradient(objective, [x, layer.gamma, layer.beta])
        assert y.dtype == tf.bfloat16 and layer.moving_mean.dtype == "float32"
        results.append([y, dx, dgamma, dbeta, layer.moving_mean, layer.moving_variance])
    as_float = lambda t: np.asarray(tf.cast(t, tf.float32))  # noqa: E731
    # Outputs and dx are bfloat16 (8-bit mantissa); the statistics, dgamma
    # and dbeta are accumulated in float32 by both layers.
    for name, a, b, tol in zip(["y", "dx", "dgamma", "dbeta", "moving_mean", "moving_variance"],
                               *results, [2e-2, 2e-2, 1e-4, 1e-4, 1e-5, 1e-5]):
        np.testing.assert_allclose(as_float(a), as_float(b), rtol=tol, atol=tol, err_msg=name)
    np.testing.assert_allclose(as_float(fused(x, training=False)),
                               as_float(plain(x, training=False)), rtol=2e-2, atol=2e-2)


def test_second_stage_sampled_reconstruction_is_float32_exact_under_mixed_policy():
    # fit_renormalization measures var_loss2 / mse2 on
    # second_stage.reconstruct(z, sample=True): under a mixed policy it must
    # give the float32 numbers (the second stage and its sampling are float32).
    from keras_vaes.models.two_stage import SecondStage

    reference = SecondStage(8, second_dim=16, second_depth=2, seed=1)
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        mixed = SecondStage(8, second_dim=16, second_depth=2, seed=1)
        mixed.set_weights(reference.get_weights())
        z = np.random.default_rng(0).normal(size=(16, 8)).astype("float32") * 1.2345
        got = mixed.reconstruct(z, sample=True, seed=0)["z_hat"]
    finally:
        keras.config.set_dtype_policy("float32")
    expected = reference.reconstruct(z, sample=True, seed=0)["z_hat"]
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)
