"""The package's training step computes what a plain GradientTape step does.

Issue 5 asks for a faster training step with identical numerics. These tests
pin that down on a tiny Split-VAE:

- `FusedBatchNormalization` (TensorFlow's fused kernel) matches
  `keras.layers.BatchNormalization`: outputs, gradients and moving
  statistics, for 4D and 2D inputs.
- One `train_on_batch` of the package's `SplitVAE` gives the same loss, the
  same updated weights (BN moving statistics included) and the same gamma
  as a hand-written GradientTape step on the same model built with the plain
  Keras BatchNormalization layer, with gamma updated by the balancing rule
  written out by hand.

SGD is used for the weight comparison: Adam's first update is about
lr * sign(gradient), which amplifies float round-off on gradients near zero
and would test the optimizer rather than the step.
"""

import numpy as np
import pytest

import keras

from keras_vaes.blocks import resnet
from keras_vaes.layers import FusedBatchNormalization
from keras_vaes.models.svae import SplitVAE

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="The fused batch normalisation and train_step are TensorFlow's.",
)

TINY = dict(base_dim=8, emb_dim=16, num_scale=2, beta=8.0, seed=3)
SHAPE = (16, 16, 1)
LATENT = 4
ATOL = 1e-5


def _bn_pair(shape, seed=0):
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    x = tf.constant(2.0 + 3.0 * rng.normal(size=shape).astype("float32"))
    kwargs = dict(momentum=0.9, epsilon=1e-5)
    fused = FusedBatchNormalization(**kwargs)
    plain = keras.layers.BatchNormalization(**kwargs)
    fused.build(shape)
    plain.build(shape)
    weights = [
        rng.normal(size=w.shape).astype("float32") if i < 2 else w.numpy()
        for i, w in enumerate(plain.weights)
    ]
    # gamma, beta random; moving stats start from non-trivial values.
    weights[2] = rng.normal(size=weights[2].shape).astype("float32")
    weights[3] = rng.random(size=weights[3].shape).astype("float32") + 0.5
    plain.set_weights(weights)
    fused.set_weights(weights)
    return x, fused, plain


@pytest.mark.parametrize("shape", [(6, 5, 4, 3), (7, 5)])
def test_fused_bn_matches_keras_bn(shape):
    import tensorflow as tf

    x, fused, plain = _bn_pair(shape)
    upstream = tf.constant(
        np.random.default_rng(1).normal(size=shape).astype("float32")
    )
    results = []
    for layer in (fused, plain):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, training=True)
            objective = tf.reduce_sum(y * upstream)
        grads = tape.gradient(objective, [x, layer.gamma, layer.beta])
        results.append(
            [y] + grads + [layer.moving_mean, layer.moving_variance]
        )
    names = ["y", "dx", "dgamma", "dbeta", "moving_mean", "moving_variance"]
    for name, a, b in zip(names, *results):
        np.testing.assert_allclose(
            np.asarray(a), np.asarray(b), rtol=1e-5, atol=ATOL, err_msg=name
        )
    # Inference uses the moving statistics in both layers.
    np.testing.assert_allclose(
        np.asarray(fused(x, training=False)),
        np.asarray(plain(x, training=False)),
        rtol=1e-5,
        atol=ATOL,
    )


def _reference_step(model, images, optimizer, gamma, beta):
    """Plain GradientTape step: 0.5*sum((x - x_hat)^2)/gamma + beta*KL."""
    import tensorflow as tf

    with tf.GradientTape() as tape:
        out = model(images, training=True)
        rec = 0.5 * tf.reduce_sum(
            tf.square(images - out["x_hat"]), axis=[1, 2, 3]
        ) / gamma
        z_mean, z_log_var = out["z_mean"], out["z_log_var"]
        kl = 0.5 * tf.reduce_sum(
            tf.square(z_mean) + tf.exp(z_log_var) - 1.0 - z_log_var, axis=-1
        )
        loss = tf.reduce_mean(rec + beta * kl)
    grads = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
    mse = float(tf.reduce_mean(tf.square(images - out["x_hat"])))
    return float(loss), mse


def test_train_step_matches_gradient_tape_reference(monkeypatch):
    images = np.random.default_rng(0).random((8,) + SHAPE).astype("float32")

    model = SplitVAE(SHAPE, LATENT, **TINY)
    with monkeypatch.context() as patch:
        # The reference network uses Keras' own BatchNormalization layer.
        patch.setattr(
            resnet, "FusedBatchNormalization", keras.layers.BatchNormalization
        )
        reference = SplitVAE(SHAPE, LATENT, **TINY)
    def count(m, cls):
        return sum(
            type(l) is cls
            for l in m._flatten_layers(include_self=False, recursive=True)
        )

    assert count(model, FusedBatchNormalization) > 0
    assert count(model, FusedBatchNormalization) == count(
        reference, keras.layers.BatchNormalization
    )
    reference.set_weights(model.get_weights())
    # Same sampling noise: same seed and the same generator state.
    reference.sampling.seed_generator.state.assign(
        model.sampling.seed_generator.state.value
    )
    gamma0 = 0.5
    model.balancer.reset(gamma0)

    model.compile(optimizer=keras.optimizers.SGD(0.05))
    logs = model.train_on_batch(images, return_dict=True)

    loss, mse = _reference_step(
        reference, images, keras.optimizers.SGD(0.05), gamma0, TINY["beta"]
    )
    np.testing.assert_allclose(logs["loss"], loss, rtol=1e-5)
    np.testing.assert_allclose(logs["mse"], mse, rtol=1e-5)

    # Balancing rule "split_vae", by hand: running MSE, then gamma <- min.
    estimate = 0.99 * gamma0 + 0.01 * mse
    np.testing.assert_allclose(
        float(model.balancer.mse_estimate), estimate, rtol=1e-6
    )
    np.testing.assert_allclose(model.gamma, min(gamma0, estimate), rtol=1e-6)

    # Every weight after the step: trainable ones and BN moving statistics.
    assert len(model.weights) == len(reference.weights)
    for a, b in zip(model.weights, reference.weights):
        assert a.shape == b.shape, (a.path, b.path)
        np.testing.assert_allclose(
            np.asarray(a), np.asarray(b), rtol=1e-4, atol=ATOL, err_msg=a.path
        )
