"""What every latent sampler shares: argument checks and the sampler protocol.

A sampler is fitted after training on a model's codes and draws new ones:
`fit(codes) -> self`, `fit_on_encodings(model, images) -> self` (fits on
the posterior means of `model.encode(images)`) and `sample(n, seed=None)`
-> float32 `(n, latent_dim)`. Any model of the package decodes them:
`model.generate(n, sampler=sampler)`.

This module sits below the models in the import graph: `Posterior`, what
every model's `encode` returns, lives here, and nothing here imports a
model.
"""

import collections

import keras
import numpy as np

from keras_vaes.utils import check_latents, check_positive_int


class _GlobalStateGenerator:
    """A `np.random.Generator` stand-in drawing from NumPy's global state.

    Each method call runs on a fresh Generator seeded by one draw from
    `np.random`, which `keras.utils.set_random_seed` seeds: unseeded
    draws then repeat after `set_random_seed(s)`, as Keras's own.
    """

    def __getattr__(self, name):
        return getattr(np.random.default_rng(np.random.randint(2**63 - 1, dtype=np.int64)), name)

    def __repr__(self):
        return "<generator drawing from NumPy's global state>"


def seeded_generator(seed=None):
    """The NumPy generator of an object built with `seed`.

    An int gives its own `np.random.Generator`: calls advance it, so
    successive draws differ and a session repeats from the seed. None
    gives a generator that draws from NumPy's global state at each call,
    so `keras.utils.set_random_seed(s)` makes the draws repeat (never the
    operating system's entropy, which nothing could repeat).

    Example:

    >>> a = seeded_generator(0).standard_normal(2)
    >>> bool((a == seeded_generator(0).standard_normal(2)).all())
    True
    >>> np.random.seed(1); b = seeded_generator().standard_normal(2)
    >>> np.random.seed(1); bool((b == seeded_generator().standard_normal(2)).all())
    True
    """
    return np.random.default_rng(seed) if seed is not None else _GlobalStateGenerator()


class Posterior(collections.namedtuple("Posterior", ["mean", "log_var"])):
    """What `encode` returns: `mean, log_var = model.encode(images)`.

    Attributes:
        mean: float32 NumPy array `(N, latent_dim)`, the posterior means
            (the codes E(x) of a deterministic encoder).
        log_var: float32 NumPy array `(N, latent_dim)` of log sigma^2, or
            None for a deterministic encoder.
    """

    __slots__ = ()

    def sample(self, seed=None):
        """One draw z = mean + exp(log_var / 2) * eps (the mean when deterministic).

        `seed=None` draws from NumPy's global state (`seeded_generator`).
        """
        if self.log_var is None:
            return self.mean
        eps = seeded_generator(seed).standard_normal(self.mean.shape)
        return (self.mean + np.exp(0.5 * self.log_var) * eps).astype("float32")


def _rng(seed, default):
    # An explicit seed gives a fresh, reproducible stream; otherwise the
    # object's own generator (`seeded_generator` of its constructor's seed).
    return np.random.default_rng(seed) if seed is not None else default


def _check_count(n):
    return check_positive_int(n, "n")


def _check_latent_matrix(z, name="z"):
    z = np.asarray(keras.ops.convert_to_numpy(z))
    if z.ndim != 2 or z.shape[0] < 1:
        raise ValueError(
            f"`{name}` must have shape (num_samples, latent_dim). "
            f"Received: {name}.shape={z.shape}"
        )
    return check_latents(z, z.shape[1], name=name)


def encode_images(model, images, batch_size=100):
    """The posterior of `images` under `model`, as a `Posterior`.

    Args:
        model: a model of the package (`encode(images) -> Posterior`).
        images: array `(N, H, W, C)` in the model's `value_range`.
        batch_size: int. Defaults to 100.

    Returns:
        `Posterior(mean, log_var)` of float32 NumPy arrays `(N, latent_dim)`;
        `log_var` is None for deterministic encoders (AAE, Prior-AAE).
    """
    check_positive_int(batch_size, "batch_size")
    if len(images) == 0:
        raise ValueError("`images` is empty. Received: len(images)=0")
    posterior = model.encode(images, batch_size=batch_size)
    if not isinstance(posterior, Posterior):
        raise TypeError(
            "`model.encode` must return a `keras_vaes.samplers.base.Posterior`. "
            f"Received: {type(posterior).__name__} from {type(model).__name__}"
        )
    return posterior


def codes_of(codes, name="z"):
    """`codes` as a float32 matrix: a Posterior gives its means."""
    if isinstance(codes, Posterior):
        codes = codes.mean
    return _check_latent_matrix(codes, name).astype(np.float32)


class LatentSampler:
    """Base of the samplers: `fit_on_encodings` and the fitted-state check."""

    latent_dim = None

    def fit(self, codes):
        raise NotImplementedError

    def fit_on_encodings(self, model, images, batch_size=100):
        """Fits on the posterior means of `model.encode(images)`.

        Args:
            model: any model of the package.
            images: array `(N, H, W, C)`, e.g. the training images.
            batch_size: int. Encoding batch size. Defaults to 100.

        Returns:
            `self`.
        """
        return self.fit(encode_images(model, images, batch_size=batch_size))

    def _require_fitted(self, fitted):
        if not fitted:
            raise ValueError(
                f"The {type(self).__name__} is not fitted: call `fit(codes)` "
                "or `fit_on_encodings(model, images)` first."
            )


def decode_latents(model, z, batch_size=100):
    """`model.decode(z)`: a dict of NumPy arrays with at least "x_hat"."""
    return model.decode(_check_latent_matrix(z), batch_size=batch_size)


def generate_images(model, sampler, n, seed=None, batch_size=100):
    """`model.generate(n, sampler=sampler, seed=seed)`: decoded samples of `sampler`."""
    return model.generate(n, sampler=sampler, seed=seed, batch_size=batch_size)
