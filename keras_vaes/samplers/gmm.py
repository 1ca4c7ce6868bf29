"""Ex-post Gaussian mixture on the latent space (Split-VAE, section IV)."""

import copy

import numpy as np

from keras_vaes.samplers.base import LatentSampler, _check_count, _rng, codes_of, seeded_generator
from keras_vaes.utils import check_positive_int


class GMMSampler(LatentSampler):
    """Ex-post Gaussian mixture on the latent space (Split-VAE, section IV).

    Fitted with `sklearn.mixture.GaussianMixture` on the posterior means of
    reference images (the authors use the 10k test images, 20 components
    for MNIST, 100 for CIFAR-10 and CelebA, `max_iter=200`).

    Args:
        n_components: int. Number of Gaussians.
        max_iter: int. EM iterations. Defaults to 200.
        covariance_type: str. "full", "tied", "diag" or "spherical".
            Defaults to "full".
        seed: int or None. `random_state` of the fit, and seed of the
            sampler's own generator used when `sample` gets no seed; None
            draws from NumPy's global state (`seeded_generator`).
            Defaults to None.

    Example:

    >>> import numpy as np
    >>> z = np.random.default_rng(0).normal(size=(200, 2))
    >>> GMMSampler(3, seed=0).fit(z).sample(5, seed=1).shape
    (5, 2)
    """

    def __init__(self, n_components, max_iter=200, covariance_type="full", seed=None):
        if covariance_type not in ("full", "tied", "diag", "spherical"):
            raise ValueError(
                "`covariance_type` must be one of 'full', 'tied', 'diag', "
                f"'spherical'. Received: covariance_type={covariance_type!r}"
            )
        self.n_components = check_positive_int(n_components, "n_components")
        self.max_iter = check_positive_int(max_iter, "max_iter")
        self.covariance_type = covariance_type
        self.seed = seed
        self._rng = seeded_generator(seed)
        self.mixture = None
        self.latent_dim = None

    def fit(self, z):
        """Fits the mixture on codes `z` `(num_samples, latent_dim)` or a `Posterior`'s means.

        Returns:
            `self`.
        """
        from sklearn.mixture import GaussianMixture

        z = codes_of(z).astype(np.float64)
        if self.n_components > z.shape[0]:
            raise ValueError(
                "`n_components` cannot exceed the number of points. Received: "
                f"n_components={self.n_components}, z.shape={z.shape}"
            )
        self.mixture = GaussianMixture(
            n_components=self.n_components,
            covariance_type=self.covariance_type,
            max_iter=self.max_iter,
            random_state=self.seed,
        ).fit(z)
        self.latent_dim = z.shape[1]
        return self

    def sample(self, n, seed=None, shuffle=True):
        """`n` latent vectors from the fitted mixture, float32.

        sklearn returns the samples grouped by component (all draws of
        component 0, then of component 1, ...). With `shuffle` they are
        permuted so that any prefix (or batch) is a sample of the whole
        mixture; `shuffle=False` returns them in sklearn's order, as the
        Split-VAE authors use them (their "mix" takes x1 for the first
        half and x2 for the second, i.e. splits by component).

        Args:
            n: int. Number of vectors.
            seed: int or None. Same seed, same array. Defaults to None
                (the sampler's own generator).
            shuffle: bool. Defaults to True. The same seed gives the same
                vectors either way, only their order differs.

        Returns:
            Float32 array `(n, latent_dim)`.
        """
        if self.mixture is None:
            self._require_fitted(False)
        n = _check_count(n)
        rng = _rng(seed, self._rng)
        # sklearn draws from the mixture's `random_state`; a copy with a
        # state derived from `rng` keeps the fitted object untouched.
        mixture = copy.copy(self.mixture)
        mixture.random_state = np.random.RandomState(rng.integers(2**32 - 1))
        z, _ = mixture.sample(n)
        order = rng.permutation(n)
        return (z[order] if shuffle else z).astype(np.float32)


