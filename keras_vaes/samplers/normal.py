"""The standard normal prior N(0, I) as a sampler."""

import numpy as np

from keras_vaes.samplers.base import LatentSampler, _check_count, _rng, seeded_generator
from keras_vaes.utils import check_positive_int


class NormalSampler(LatentSampler):
    """Samples the standard normal prior N(0, I).

    Args:
        latent_dim: int. Dimension of the latent space.
        seed: int or None. Seed of the sampler's own generator, used when
            `sample` gets no seed; None draws from NumPy's global state
            (`seeded_generator`). Defaults to None.

    Example:

    >>> NormalSampler(8).sample(4, seed=0).shape
    (4, 8)
    """

    def __init__(self, latent_dim, seed=None):
        self.latent_dim = check_positive_int(latent_dim, "latent_dim")
        self.seed = seed
        self._rng = seeded_generator(seed)

    def fit(self, z=None):
        """Nothing to fit: the prior is fixed. Returns `self`."""
        return self

    def sample(self, n, seed=None):
        """`n` latent vectors from N(0, I), float32 `(n, latent_dim)`."""
        rng = _rng(seed, self._rng)
        n = _check_count(n)
        return rng.standard_normal((n, self.latent_dim)).astype(np.float32)


