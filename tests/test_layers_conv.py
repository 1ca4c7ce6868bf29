"""The strided convolutions of keras_vaes.layers.conv equal Keras's, values and gradients."""

import keras
import numpy as np
import pytest
from keras import ops

from keras_vaes.layers import conv


def _value_and_grads(layer, x):
    """Outputs and the gradients of sum(y^2) w.r.t. input and kernel, on any backend."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        x = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x)
            loss = tf.reduce_sum(y * y)
        gx, gk = tape.gradient(loss, [x, layer.kernel])
        return y.numpy(), gx.numpy(), gk.numpy()
    if backend == "jax":
        import jax
        import jax.numpy as jnp

        def loss(weights, inputs):
            y, _ = layer.stateless_call(weights, [], inputs)
            return jnp.sum(y * y), y

        weights = [v.value for v in layer.trainable_variables]
        (_, y), grads = jax.value_and_grad(loss, argnums=(0, 1), has_aux=True)(weights, jnp.asarray(x))
        kernel_index = [v.path for v in layer.trainable_variables].index(layer.kernel.path)
        return np.asarray(y), np.asarray(grads[1]), np.asarray(grads[0][kernel_index])
    import torch

    x = torch.tensor(x, requires_grad=True)
    y = layer(x)
    (y * y).sum().backward()
    return (ops.convert_to_numpy(y), x.grad.numpy(), ops.convert_to_numpy(layer.kernel.value.grad))


@pytest.mark.parametrize("transpose", [False, True], ids=["conv", "transpose"])
@pytest.mark.parametrize("kernel,strides", [(1, 2), (2, 2), (3, 2), (4, 2), (5, 2), (3, 3), (3, (2, 1))])
def test_rewrite_equals_keras_in_values_and_gradients(transpose, kernel, strides):
    cls = conv.Conv2DTranspose if transpose else conv.Conv2D
    keras_cls = keras.layers.Conv2DTranspose if transpose else keras.layers.Conv2D
    # Input sizes divisible by the strides (2, 3, or (2, 1)): 6 x 12, or 3 x 4 before a transpose.
    shape = (2, 3, 4, 3) if transpose else (2, 6, 12, 3)
    x = np.random.default_rng(0).standard_normal(shape).astype("float32")
    reference = keras_cls(5, kernel, strides=strides, padding="same", activation="tanh")
    reference.build(shape)
    layer = cls(5, kernel, strides=strides, padding="same", activation="tanh")
    layer.build(shape)
    layer.set_weights(reference.get_weights())
    layer.rewrite = True
    got, want = _value_and_grads(layer, x), _value_and_grads(reference, x)
    for name, a, b in zip(["outputs", "input gradient", "kernel gradient"], got, want):
        assert a.shape == b.shape, name
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5, err_msg=name)


def test_unsupported_configurations_use_keras_computation():
    x = np.ones((1, 7, 7, 2), "float32")  # 7 is not divisible by the stride
    layer = conv.Conv2D(3, 3, strides=2, padding="same")
    layer.rewrite = True
    assert not conv._rewrite_applies(layer, x)
    assert layer(x).shape == (1, 4, 4, 3)
    valid = conv.Conv2DTranspose(3, 3, strides=2, padding="valid")
    valid.rewrite = True
    assert not conv._rewrite_applies(valid, np.ones((1, 4, 4, 2), "float32"))
    unstrided = conv.Conv2D(3, 3, padding="same")
    unstrided.rewrite = True
    assert not conv._rewrite_applies(unstrided, x)


def test_auto_rewrites_on_jax_only():
    layer = conv.Conv2D(3, 3, strides=2, padding="same")
    expected = keras.backend.backend() == "jax"
    assert conv._rewrite_applies(layer, np.ones((1, 8, 8, 2), "float32")) is expected


def test_same_variables_as_keras_layers():
    ours = conv.Conv2DTranspose(4, 3, strides=2, padding="same", name="up")
    theirs = keras.layers.Conv2DTranspose(4, 3, strides=2, padding="same", name="up")
    ours.build((None, 4, 4, 2))
    theirs.build((None, 4, 4, 2))
    assert [(v.path, v.shape) for v in ours.weights] == [(v.path, v.shape) for v in theirs.weights]
    restored = keras.layers.deserialize(keras.layers.serialize(ours))
    assert type(restored) is conv.Conv2DTranspose


def test_every_block_builds_the_package_convolutions():
    import keras_vaes as kv

    model = kv.build_svae((16, 16, 1), 4, base_dim=8, emb_dim=16, num_scale=2)
    convolutions = [layer for layer in model._flatten_layers()
                    if isinstance(layer, keras.layers.Conv2D | keras.layers.Conv2DTranspose)]
    assert convolutions
    assert all(isinstance(layer, conv.Conv2D | conv.Conv2DTranspose) for layer in convolutions)
    assert any(isinstance(layer, conv.Conv2DTranspose) for layer in convolutions)
