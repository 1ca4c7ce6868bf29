"""GAMIX-VAE's batch-mixture KL as a layer for users' own encoders."""

import keras
from keras import ops

from keras_vaes.layers.core import PACKAGE, full_precision_policy
from keras_vaes.losses.gamix import batch_mixture_kl


@keras.saving.register_keras_serializable(package=PACKAGE)
class BatchMixtureKL(keras.layers.Layer):
    """Adds `weight * batch_mixture_kl(z_mean)` to the model's losses.

    GAMIX-VAE eq. (8)-(10) (see `keras_vaes.losses.batch_mixture_kl`): the
    KL to N(0, I) of the Gaussian with the mean and population variance of
    the encoder means over the batch. The layer passes `z_mean` through
    unchanged, so it can sit on an encoder's mean head of any model; the
    loss is added in training and inference calls alike (as Keras's
    `ActivityRegularization`), and appears in `model.losses`.

    Args:
        weight: float. Weight of the term (the author's code: 1.0).
            Defaults to 1.0.
        dtype: dtype policy. Defaults to `full_precision_policy()`, so that
            under mixed precision the means are not rounded to 16 bits
            before the KL (a sum of logs of batch variances).

    Example:
    >>> import numpy as np
    >>> layer = BatchMixtureKL()
    >>> _ = layer(np.array([[1.0], [-1.0]], "float32"))
    >>> round(float(layer.losses[0]), 4)  # 0.5 * (1 + 0 - 1 - log 1)
    0.0
    """

    def __init__(self, weight=1.0, dtype=None, **kwargs):
        super().__init__(dtype=full_precision_policy(dtype), **kwargs)
        self.weight = float(weight)

    def call(self, z_mean):
        # Computed in float32; added in the layer's dtype, which Keras sums
        # with the compiled loss (float64 under a float64 policy).
        self.add_loss(ops.cast(self.weight * batch_mixture_kl(z_mean), self.compute_dtype))
        return z_mean

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "weight": self.weight}


@keras.saving.register_keras_serializable(package=PACKAGE)
class SpatialLayerNormalization(keras.layers.LayerNormalization):
    """`LayerNormalization(axis=(1, 2))` that also runs on the PyTorch backend.

    The GAMIX encoder's first layer normalises each image and channel over
    height and width, with gamma and beta of shape (H, W) (the author's
    `LayerNormalization(axis=(1, 2))`). Same variables and maths as the
    Keras layer; on PyTorch it is computed with `keras.ops` means, since
    `torch.layer_norm` takes trailing axes only.

    Args:
        axis: the normalised axes. Defaults to (1, 2), height and width.
        epsilon: float. Added to the variance. Defaults to 1e-3 (Keras's
            default, the author's).
        **kwargs: the other arguments of `keras.layers.LayerNormalization`.
    """

    def __init__(self, axis=(1, 2), epsilon=1e-3, **kwargs):
        super().__init__(axis=axis, epsilon=epsilon, **kwargs)

    def call(self, inputs):
        if keras.backend.backend() != "torch":
            # Keras's own path (the composite below is for PyTorch only; see
            # docs/development.md, "Implementation notes").
            return super().call(inputs)
        x = ops.cast(inputs, self.compute_dtype)
        axes = [a % len(x.shape) for a in self.axis]
        mean = ops.mean(x, axis=axes, keepdims=True)
        variance = ops.mean(ops.square(x - mean), axis=axes, keepdims=True)
        shape = [1] * len(x.shape)
        for a in axes:
            shape[a] = x.shape[a]
        y = (x - mean) * ops.rsqrt(variance + self.epsilon)
        if self.scale:
            y = y * ops.reshape(ops.cast(self.gamma, y.dtype), shape)
        if self.center:
            y = y + ops.reshape(ops.cast(self.beta, y.dtype), shape)
        return y
