"""Ex-post RealNVP sampler (learned-priors paper, eq. 4), fitted on a model's codes."""

import keras
import numpy as np
from keras import ops

from keras_vaes.models.priors import RealNVPPrior
from keras_vaes.samplers.base import LatentSampler, codes_of
from keras_vaes.utils import check_positive_int


class FlowSampler(LatentSampler):
    """Ex-post RealNVP sampler, fitted on a model's codes like `GMMSampler`.

    Args:
        num_couplings: int. Defaults to 8.
        hidden_units: int. Defaults to 256.
        epochs: int. Maximum-likelihood epochs of `fit`. Defaults to 50.
        batch_size: int. Defaults to 256.
        learning_rate: float. Adam's. Defaults to 1e-3.
        seed: int or None. Seeds the permutations, the weights and `sample`
            when it gets no seed.

    Example:
    >>> import numpy as np
    >>> z = np.random.default_rng(0).normal(size=(200, 2))
    >>> FlowSampler(num_couplings=2, hidden_units=8, epochs=1, seed=0).fit(z).sample(5, seed=1).shape
    (5, 2)
    """

    def __init__(self, num_couplings=8, hidden_units=256, epochs=50, batch_size=256, learning_rate=1e-3, seed=None):
        self.num_couplings = check_positive_int(num_couplings, "num_couplings")
        self.hidden_units = check_positive_int(hidden_units, "hidden_units")
        self.epochs = check_positive_int(epochs, "epochs")
        self.batch_size = check_positive_int(batch_size, "batch_size")
        self.learning_rate = float(learning_rate)
        self.seed = seed
        self.prior = None
        self.latent_dim = None
        self.history = None

    def fit(self, z):
        """Fits a `RealNVPPrior` on codes `z` (N, d). Returns `self`."""
        z = codes_of(z)
        if z.shape[0] < 2:
            raise ValueError(f"`z` must have shape (num_samples >= 2, latent_dim). Received: z.shape={z.shape}")
        if self.seed is not None:
            keras.utils.set_random_seed(self.seed)
        self.prior = RealNVPPrior(
            z.shape[1], num_couplings=self.num_couplings,
            hidden_units=self.hidden_units, seed=self.seed,
        )
        self.history = self.prior.fit_encodings(
            z, epochs=self.epochs, batch_size=self.batch_size,
            learning_rate=self.learning_rate,
        )
        self.latent_dim = z.shape[1]
        return self

    def sample(self, n, seed=None):
        """`n` codes from the fitted flow, float32 (n, latent_dim)."""
        if self.prior is None:
            self._require_fitted(False)
        return self.prior.sample(n, seed=seed).astype("float32")

    def log_prob(self, z):
        """log-density of codes under the fitted flow, NumPy (N,)."""
        if self.prior is None:
            self._require_fitted(False)
        return ops.convert_to_numpy(self.prior.log_prob(np.asarray(z, "float32")))
