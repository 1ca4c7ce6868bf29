"""Layers of the RealNVP prior: an affine coupling and a normalising layer.

Both map data space Z_T towards the base space Z_0 (the direction of the
learned-priors paper's f_theta, section 3) and return the log-determinant of
their Jacobian, so that a flow composes them and sums the log-determinants
for the change of variables (learned-priors paper, eq. 4). Each also runs
backwards (`inverse=True`).

Both compute in their own dtype policy, by default
`full_precision_policy()`: float32 under a mixed policy (a log-determinant
is a sum that bfloat16's 8-bit mantissa would round away), float64 under
float64.
"""

import keras
from keras import ops

from keras_vaes.layers.core import PACKAGE, full_precision_policy
from keras_vaes.utils import check_positive_int


def _check_dim(latent_dim, name="latent_dim", minimum=2):
    # An integer >= 2: a coupling splits the vector in two halves.
    return check_positive_int(latent_dim, name, minimum=minimum)


class _FlowStep(keras.layers.Layer):
    # A bijection of (N, latent_dim) vectors whose call returns
    # `(outputs, log_det)`; `get_config` returns the `config_keys` attributes
    # (the constructor's arguments). The policy defaults to float32 or wider.
    config_keys = ()

    def __init__(self, dtype=None, **kwargs):
        super().__init__(dtype=full_precision_policy(dtype), **kwargs)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape), tuple(input_shape[:1])

    def get_config(self):
        return {**super().get_config(), **{key: getattr(self, key) for key in self.config_keys}}


@keras.saving.register_keras_serializable(package=PACKAGE)
class AffineCoupling(_FlowStep):
    """RealNVP affine coupling (Dinh, Sohl-Dickstein, Bengio 2017, eq. 6-7).

    The vector is split in half, x = (x_a, x_b) with x_a the first
    `latent_dim // 2` entries; x_a passes unchanged and conditions an MLP
    that gives a log-scale s and a shift t for x_b:

        y_a = x_a,   y_b = x_b * exp(s(x_a)) + t(x_a),
        log|det dy/dx| = sum(s(x_a)).

    The log-scale is bounded, s = bound * tanh(raw / bound), so a coupling
    never scales by more than exp(+-bound) (numerically safe at any code
    scale); the MLP's last layer is zero-initialised, so a new coupling is
    the identity. With `num_classes` the MLP also reads a one-hot label
    (the conditional flow of section 6: each f_t conditioned on y).

    Args:
        latent_dim: int >= 2. Size of the vector.
        hidden_units: int. Width of the MLP's hidden layers. Defaults to 256.
        num_hidden: int. Number of hidden ReLU layers. Defaults to 2.
        num_classes: int or None. Size of the one-hot condition.
        scale_bound: float > 0. Bound of |s|. Defaults to 2.0.
        dtype: dtype policy of the layer and its MLP. Defaults to
            `full_precision_policy()` (float32 under mixed precision).

    Call arguments:
        inputs: tensor (N, latent_dim).
        labels: one-hot tensor (N, num_classes), when conditional.
        inverse: bool. Run y -> x instead of x -> y.

    Returns:
        `(outputs, log_det)`: (N, latent_dim) and (N,), the log-determinant
        of the map that was run (negated for the inverse).

    Example:
    >>> layer = AffineCoupling(4, hidden_units=8)
    >>> y, log_det = layer(ops.ones((2, 4)))
    >>> [float(v) for v in ops.convert_to_numpy(log_det)]  # identity at start
    [0.0, 0.0]
    """

    config_keys = ("latent_dim", "hidden_units", "num_hidden", "num_classes", "scale_bound")

    def __init__(self, latent_dim, hidden_units=256, num_hidden=2, num_classes=None, scale_bound=2.0, **kwargs):
        super().__init__(**kwargs)
        self.latent_dim = _check_dim(latent_dim)
        if not scale_bound > 0:
            raise ValueError(f"`scale_bound` must be > 0. Received: scale_bound={scale_bound}")
        self.hidden_units = check_positive_int(hidden_units, "hidden_units")
        self.num_hidden = check_positive_int(num_hidden, "num_hidden")
        self.num_classes = int(num_classes) if num_classes else None
        self.scale_bound = float(scale_bound)
        self.split = latent_dim // 2
        self.hidden = [
            keras.layers.Dense(
                self.hidden_units, activation="relu", dtype=self.dtype_policy, name=f"hidden{i}"
            )
            for i in range(self.num_hidden)
        ]
        self.out = keras.layers.Dense(
            2 * (latent_dim - self.split), kernel_initializer="zeros",
            bias_initializer="zeros", dtype=self.dtype_policy, name="scale_shift",
        )

    def build(self, input_shape=None):
        width = self.split + (self.num_classes or 0)
        for layer in self.hidden:
            layer.build((None, width))
            width = self.hidden_units
        self.out.build((None, width))
        self.built = True

    def scale_and_shift(self, x_a, labels=None):
        """The bounded log-scale s and the shift t, each (N, latent_dim - split)."""
        h = x_a
        if self.num_classes:
            if labels is None:
                raise ValueError(f"{self.name} is conditional: pass one-hot `labels`.")
            h = ops.concatenate([h, ops.cast(labels, h.dtype)], axis=-1)
        for layer in self.hidden:
            h = layer(h)
        raw_s, t = ops.split(self.out(h), 2, axis=-1)
        s = self.scale_bound * ops.tanh(raw_s / self.scale_bound)
        return s, t

    def call(self, inputs, labels=None, inverse=False):
        inputs = ops.cast(inputs, self.compute_dtype)
        x_a, x_b = inputs[:, : self.split], inputs[:, self.split :]
        s, t = self.scale_and_shift(x_a, labels)
        if inverse:
            y_b = (x_b - t) * ops.exp(-s)
            log_det = -ops.sum(s, axis=-1)
        else:
            y_b = x_b * ops.exp(s) + t
            log_det = ops.sum(s, axis=-1)
        return ops.concatenate([x_a, y_b], axis=-1), log_det



@keras.saving.register_keras_serializable(package=PACKAGE)
class ActNorm(_FlowStep):
    """Per-dimension standardisation with moving statistics (ActNorm-like).

    y = (x - loc) * exp(-log_scale),  log|det dy/dx| = -sum(log_scale).

    As Glow's ActNorm (Kingma & Dhariwal 2018) the first batch seen in
    training initialises loc and log_scale to its mean and log-std, so the
    flow starts on standardised inputs; unlike it, the two keep following
    the data as moving averages (`momentum`) instead of being learned. At
    beta = 0 nothing bounds the scale of the codes a learned prior models
    (learned-priors paper, eq. 8): the codes move with the autoencoder, and
    this layer keeps the couplings' inputs standardised whatever their
    scale. The statistics are constants for the gradient; in inference the
    stored values are used, so the layer is an exact affine bijection.

    Args:
        latent_dim: int. Size of the vector.
        momentum: float in [0, 1). Weight of the old estimate. Defaults
            to 0.99.
        epsilon: float. Added to the variance. Defaults to 1e-6.
        dtype: dtype policy. Defaults to `full_precision_policy()`
            (float32 under mixed precision).
    """

    config_keys = ("latent_dim", "momentum", "epsilon")

    def __init__(self, latent_dim, momentum=0.99, epsilon=1e-6, **kwargs):
        super().__init__(**kwargs)
        self.latent_dim = int(latent_dim)
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"`momentum` must be in [0, 1). Received: momentum={momentum}")
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)

    def build(self, input_shape=None):
        d = self.latent_dim
        self.loc = self.add_weight(shape=(d,), initializer="zeros", trainable=False, name="loc")
        self.log_scale = self.add_weight(shape=(d,), initializer="zeros", trainable=False, name="log_scale")
        self.initialized = self.add_weight(shape=(), initializer="zeros", trainable=False, name="initialized")
        self.built = True

    def statistics_of(self, x):
        """Mean and log-std of a batch (N, latent_dim), in the compute dtype."""
        mean, variance = ops.moments(ops.cast(x, self.compute_dtype), axes=[0])
        return mean, 0.5 * ops.log(variance + self.epsilon)

    def _assign(self, loc, log_scale):
        self.loc.assign(ops.cast(loc, self.variable_dtype))
        self.log_scale.assign(ops.cast(log_scale, self.variable_dtype))
        self.initialized.assign(ops.ones((), self.variable_dtype))

    def initialize_from(self, x):
        """Sets loc and log_scale to the statistics of `x` (ex-post fits)."""
        self._assign(*self.statistics_of(x))

    def call(self, inputs, inverse=False, training=False):
        inputs = ops.cast(inputs, self.compute_dtype)
        # Read in the compute dtype whatever the autocast scope.
        loc, log_scale, seen = (
            ops.cast(v, self.compute_dtype) for v in (self.loc, self.log_scale, self.initialized)
        )
        if training and not inverse:
            mean, log_std = self.statistics_of(inputs)
            m = self.momentum * seen  # 0 on the first batch: initialise
            loc = ops.stop_gradient(m * loc + (1.0 - m) * mean)
            log_scale = ops.stop_gradient(m * log_scale + (1.0 - m) * log_std)
            self._assign(loc, log_scale)
        log_det = -ops.sum(log_scale) * ops.ones_like(inputs[:, 0])
        if inverse:
            return inputs * ops.exp(log_scale) + loc, -log_det
        return (inputs - loc) * ops.exp(-log_scale), log_det
