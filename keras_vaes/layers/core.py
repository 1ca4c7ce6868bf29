"""Layers of the package: reparameterised sampling, split composition, BN.

All `call` methods use `keras.ops` (portable across backends); the only
backend-specific code is the optional fused batch-normalisation fast path,
which falls back to the portable implementation elsewhere.
"""

import keras
from keras import ops

PACKAGE = "keras_vaes"


def full_precision_policy(dtype=None):
    """The dtype policy of a layer whose maths needs at least float32.

    `dtype` when given; otherwise the global policy's variable dtype:
    float32 under "float32" and the mixed policies ("mixed_bfloat16",
    "mixed_float16"), float64 under "float64". As Keras's own losses compute
    in floatx, the package's log-determinants, log-densities and KL sums so
    never run in 16 bits, and follow a float64 policy.

    Example:
    >>> full_precision_policy()  # the default float32 policy
    'float32'
    >>> full_precision_policy("float64")
    'float64'
    """
    if dtype is not None:
        return dtype
    return keras.config.dtype_policy().variable_dtype


@keras.saving.register_keras_serializable(package=PACKAGE)
class Sampling(keras.layers.Layer):
    """Reparameterisation trick: z = z_mean + exp(z_log_var / 2) * eps.

    Split-VAE paper, section II-A (Kingma & Welling's reparameterisation);
    `z_log_var` is the log of the variance, as in the authors' code.

    Args:
        seed: int or None. Seed of the layer's own `SeedGenerator`, so that
            sampling is reproducible and works under `jit`.

    In a data-parallel `tf.distribute` step each replica takes its rows of
    the global batch's noise (JAX's `DataParallel` does so by construction),
    so N devices draw what one device draws for the same global batch.

    Example:
    >>> z = Sampling(seed=0)([ops.zeros((2, 3)), ops.zeros((2, 3))])
    >>> tuple(z.shape)
    (2, 3)
    """

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs):
        z_mean, z_log_var = inputs
        if _replicas_in_sync() > 1:
            eps = self._replica_slice_of_global_noise(z_mean)
        else:
            eps = keras.random.normal(
                ops.shape(z_mean), dtype=z_mean.dtype, seed=self.seed_generator
            )
        return z_mean + ops.exp(0.5 * z_log_var) * eps

    def _replica_slice_of_global_noise(self, z_mean):
        # Data-parallel TensorFlow step: every replica's generator holds the
        # same state, so each would draw the same eps for different samples.
        # Draw the global batch's noise and keep this replica's rows: the
        # noise of one device on the same global batch, independent rows.
        import tensorflow as tf

        context = tf.distribute.get_replica_context()
        local = tf.shape(z_mean)[0]
        sizes = context.all_gather(tf.reshape(local, [1]), axis=0)
        replica = tf.cast(context.replica_id_in_sync_group, "int32")
        offset = tf.reduce_sum(sizes[:replica])
        eps = keras.random.normal(
            (tf.reduce_sum(sizes), z_mean.shape[-1]), dtype=z_mean.dtype,
            seed=self.seed_generator,
        )
        return eps[offset : offset + local]

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


def split_composition(sigma, x1, x2):
    """x_hat = sigma * x1 + (1 - sigma) * x2, sigma broadcast over channels.

    Split-VAE paper, section III (the equation defining the SVAE output).

    Args:
        sigma: tensor of shape (N, H, W, 1), the compositional map in [0, 1].
        x1: tensor of shape (N, H, W, C), the first generated image.
        x2: tensor of shape (N, H, W, C), the second generated image.

    Returns:
        The compound image, of shape (N, H, W, C).
    """
    return sigma * x1 + (1.0 - sigma) * x2


@keras.saving.register_keras_serializable(package=PACKAGE)
class SplitComposition(keras.layers.Layer):
    """Splits a (2C+1)-channel decoder map into sigma, x1, x2 and composes.

    Channel 0 is the map sigma, channels 1..C the image x1 and C+1..2C the
    image x2, as the authors' decoder output is laid out.

    Args:
        channels: int. C, the channels of the images.

    Returns (from `call`):
        A dict with `"x_hat"`, `"sigma"`, `"x1"` and `"x2"`.
    """

    def __init__(self, channels, **kwargs):
        super().__init__(**kwargs)
        self.channels = channels

    def call(self, decoded):
        c = self.channels
        sigma = decoded[..., 0:1]
        x1 = decoded[..., 1 : 1 + c]
        x2 = decoded[..., 1 + c : 1 + 2 * c]
        x_hat = split_composition(sigma, x1, x2)
        return {"x_hat": x_hat, "sigma": sigma, "x1": x1, "x2": x2}

    def compute_output_shape(self, input_shape):
        batch_shape = tuple(input_shape[:-1])
        image = batch_shape + (self.channels,)
        return {
            "x_hat": image,
            "sigma": batch_shape + (1,),
            "x1": image,
            "x2": image,
        }

    def get_config(self):
        return {**super().get_config(), "channels": self.channels}


def _replicas_in_sync():
    """Replicas of the current `tf.distribute` replica context, else 1."""
    if keras.backend.backend() != "tensorflow":
        return 1
    import tensorflow as tf

    context = tf.distribute.get_replica_context()
    return 1 if context is None else context.num_replicas_in_sync


@keras.saving.register_keras_serializable(package=PACKAGE)
class FusedBatchNormalization(keras.layers.BatchNormalization):
    """`keras.layers.BatchNormalization` with TensorFlow's fused kernel.

    Same variables, maths and moving-statistics update as the Keras layer
    (biased batch variance, Keras's `momentum`), so weights are
    interchangeable. On the TensorFlow backend, for float32 and bfloat16
    inputs, training and inference run one fused op (`FusedBatchNormV3`,
    as Keras 2's layer did; statistics and scale/offset stay float32);
    elsewhere (other backends, masks, other axes, renorm, float16) it is
    the Keras layer. In a data-parallel `tf.distribute` step it normalises
    with the global batch's statistics (like `synchronized=True`), so N
    devices compute what one device does with the same global batch.

    With `zero_debias=True` the moving statistics are TF1's bias-corrected
    moving average (`tf.compat.v1.train.assign_moving_average(...,
    zero_debias=True)`): a biased accumulator `b <- m * b + (1 - m) *
    batch_stat` started at 0, and `moving_stat = b / (1 - m^t)` after t
    updates. Three non-trainable variables (`b` of the mean and of the
    variance, and `decay_power`, the product of the momenta so far) exist
    only then; otherwise the weights are those of the Keras layer.

    Args:
        zero_debias: bool. TF1's bias-corrected moving statistics, as the
            two-stage authors' TF1 batch norm. Defaults to False (Keras's
            plain moving average, as the Split-VAE authors' Keras 2).
        **kwargs: the arguments of `keras.layers.BatchNormalization`.

    Example:
    >>> layer = FusedBatchNormalization(momentum=0.9, zero_debias=True)
    >>> y = layer(ops.ones((4, 3)), training=True)
    >>> [round(float(v), 4) for v in ops.convert_to_numpy(layer.moving_mean)]
    [1.0, 1.0, 1.0]
    """

    def __init__(self, *args, zero_debias=False, **kwargs):
        super().__init__(*args, **kwargs)
        if not isinstance(zero_debias, bool):
            raise ValueError(
                f"`zero_debias` must be a bool. Received: zero_debias={zero_debias!r}"
            )
        if zero_debias and self.renorm:
            raise ValueError(
                "`zero_debias=True` debiases the plain moving statistics; it "
                "cannot be combined with `renorm=True`. Received: zero_debias=True, renorm=True"
            )
        self.zero_debias = zero_debias

    def build(self, input_shape):
        super().build(input_shape)
        if self.zero_debias:
            shape = tuple(self.moving_mean.shape)
            self.biased_mean = self.add_weight(
                shape=shape, name="biased_mean", initializer="zeros",
                trainable=False, autocast=False,
            )
            self.biased_variance = self.add_weight(
                shape=shape, name="biased_variance", initializer="zeros",
                trainable=False, autocast=False,
            )
            self.decay_power = self.add_weight(
                shape=(), name="decay_power", initializer="ones",
                trainable=False, autocast=False,
            )

    def _update_moving_statistics(self, mean, variance):
        """Moving statistics after one training batch (Keras's or TF1's)."""
        momentum = self.momentum
        mean = ops.cast(mean, self.moving_mean.dtype)
        variance = ops.cast(variance, self.moving_variance.dtype)
        if not self.zero_debias:
            self.moving_mean.assign(self.moving_mean * momentum + mean * (1.0 - momentum))
            self.moving_variance.assign(
                self.moving_variance * momentum + variance * (1.0 - momentum)
            )
            return
        # TF1 `assign_moving_average(zero_debias=True)`, `_zero_debias`:
        # biased -= (biased - value) * (1 - decay); stat = biased / (1 - decay^t).
        read = ops.convert_to_tensor  # variables as tensors (JAX's ops.where needs them)
        biased_mean = read(self.biased_mean) * momentum + mean * (1.0 - momentum)
        biased_variance = read(self.biased_variance) * momentum + variance * (1.0 - momentum)
        power = read(self.decay_power) * momentum
        self.biased_mean.assign(biased_mean)
        self.biased_variance.assign(biased_variance)
        self.decay_power.assign(power)
        correction = 1.0 - power
        # momentum = 1 never moves the statistics (correction 0): keep them.
        safe = ops.where(correction > 0, correction, 1.0)
        self.moving_mean.assign(
            ops.where(correction > 0, biased_mean / safe, read(self.moving_mean))
        )
        self.moving_variance.assign(
            ops.where(correction > 0, biased_variance / safe, read(self.moving_variance))
        )

    def _portable_debiased_call(self, inputs, mask):
        # Keras's composite training path with the debiased update.
        compute_dtype = keras.backend.result_type(inputs.dtype, "float32")
        x = ops.cast(inputs, compute_dtype)
        mean, variance = self._moments(x, mask)
        self._update_moving_statistics(mean, variance)
        gamma = ops.cast(self.gamma, compute_dtype) if self.scale else None
        beta = ops.cast(self.beta, compute_dtype) if self.center else None
        y = ops.batch_normalization(
            x, mean, variance, axis=self.axis, offset=beta, scale=gamma, epsilon=self.epsilon
        )
        return ops.cast(y, self.compute_dtype)

    def get_config(self):
        return {**super().get_config(), "zero_debias": self.zero_debias}

    def _use_fused(self, inputs, mask):
        return (
            mask is None
            and _replicas_in_sync() == 1
            and not self.renorm
            and not self.synchronized
            and keras.backend.backend() == "tensorflow"
            and len(inputs.shape) in (2, 4)
            and self.axis in (-1, len(inputs.shape) - 1)
            and self.scale
            and self.center
            and inputs.dtype in ("float32", "bfloat16")
        )

    def _moments(self, inputs, mask):
        # Data-parallel training on TensorFlow: normalise with the statistics
        # of the GLOBAL batch (all-reduced over the replicas), so that N
        # replicas compute what one device does on the same batch, as JAX's
        # `keras.distribution.DataParallel` does by construction.
        if mask is None and _replicas_in_sync() > 1:
            return ops.moments(inputs, axes=self._reduction_axes, synchronized=True)
        return super()._moments(inputs, mask)

    def call(self, inputs, training=None, mask=None):
        if not self._use_fused(inputs, mask):
            if self.zero_debias and training and self.trainable:
                return self._portable_debiased_call(inputs, mask)
            return super().call(inputs, training=training, mask=mask)
        import tensorflow as tf

        # Keras normalises with the batch statistics only when training a
        # trainable layer; otherwise with the moving statistics.
        training = bool(training) and self.trainable
        x = inputs
        if len(inputs.shape) == 2:
            x = tf.reshape(inputs, [-1, 1, 1, inputs.shape[-1]])
        if training:
            mean = variance = tf.constant([], dtype="float32")
        else:
            mean = tf.convert_to_tensor(self.moving_mean)
            variance = tf.convert_to_tensor(self.moving_variance)
        # The raw op keeps the layer's epsilon exactly (the v1 wrapper clamps
        # it to 1.001e-5).
        y, batch_mean, batch_variance, _, _, _ = tf.raw_ops.FusedBatchNormV3(
            x=x,
            scale=tf.convert_to_tensor(self.gamma),
            offset=tf.convert_to_tensor(self.beta),
            mean=mean,
            variance=variance,
            epsilon=self.epsilon,
            is_training=training,
        )
        if training:
            # The fused op returns the unbiased (Bessel-corrected) variance;
            # Keras 3 keeps the biased one in its moving statistics.
            n = tf.cast(tf.size(x) // tf.shape(x)[-1], batch_variance.dtype)
            batch_variance = batch_variance * (n - 1.0) / n
            self._update_moving_statistics(batch_mean, batch_variance)
        if len(inputs.shape) == 2:
            y = tf.reshape(y, tf.shape(inputs))
        return y
