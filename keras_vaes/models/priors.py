"""Learned priors: a RealNVP flow, trained jointly or fitted ex post.

"Empirical observations pertaining to learned priors", section 2.2 and 3: a
bijection f_theta: Z_T -> Z_0 built from affine couplings that split the
vector in half (Dinh et al. 2017), with permutations between them; z_0 ~
N(0, I) and log p_theta(z_T) by the change of variables (eq. 4). The same
`RealNVPPrior` is the prior inside `FlowPriorVAE` training and, through
`fit_encodings` / `keras_vaes.samplers.FlowSampler`, an ex-post sampler fitted to any model's
codes (beside `keras_vaes.samplers.GMMSampler`).
"""

import keras
import numpy as np
from keras import ops

from keras_vaes.layers.core import PACKAGE, full_precision_policy
from keras_vaes.layers.flow import ActNorm, AffineCoupling, _check_dim
from keras_vaes.losses.learned_priors import flow_log_prob
from keras_vaes.models.saving import SafeSaving
from keras_vaes.utils import check_positive_int


def coupling_permutations(latent_dim, num_couplings, seed=None):
    """Fixed random permutations placed between couplings.

    Each is drawn (seeded) until it moves at least one of the entries the
    previous coupling left unchanged (its first half) into the half the
    next coupling transforms, so every entry is transformed somewhere (for
    d = 2 this makes each permutation the swap).

    Returns:
        A list of `num_couplings - 1` lists of ints.

    Example:
    >>> coupling_permutations(2, 3, seed=0)  # for d = 2, the swap
    [[1, 0], [1, 0]]
    """
    rng = np.random.default_rng(seed)
    split = latent_dim // 2
    permutations = []
    for _ in range(num_couplings - 1):
        while True:
            perm = rng.permutation(latent_dim)
            if set(perm[split:].tolist()) & set(range(split)):
                break
        permutations.append(perm.tolist())
    return permutations


@keras.saving.register_keras_serializable(package=PACKAGE)
class RealNVPPrior(SafeSaving, keras.Model):
    """RealNVP prior p_theta(z_T) with f_theta: Z_T -> Z_0 (section 3).

    f = couplings and fixed permutations after an `ActNorm` normalising
    layer (the codes' scale is unbounded at beta = 0); z_0 ~ N(mu_y, I)
    with mu_y = 0, or a learned mean per label for the conditional prior of
    section 6 ("we learn the mean of z_0 conditioned on the pose and
    additionally condition each flow transformation f_t").

    Calling the model on z_T (or `(z_T, labels)`) returns log p(z_T), so
    `fit` maximises the likelihood: that is `fit_encodings`.

    The flow computes in `full_precision_policy()` (float32 under mixed
    precision, float64 under float64); `log_prob` is float32 and `sample`
    returns float32 codes. Saving is the models' (`SafeSaving`): atomic,
    and a weights file that does not fit leaves the prior unchanged.

    Args:
        latent_dim: int >= 2. Size of z.
        num_couplings: int. Number of affine couplings. Defaults to 8.
        hidden_units: int. Width of each coupling's 2-layer MLP. Defaults
            to 256 (`FlowPriorVAE` takes 512 for latent_dim >= 64).
        num_classes: int or None. Number of labels of a conditional prior.
        seed: int or None. Seed of the permutations (and of `sample` when
            it gets none).
        permutations: list of lists, or None to draw them from `seed`.
            Stored in the config, so a reloaded prior is the same function.
        scale_bound: float. Bound of each coupling's log-scale. Defaults
            to 2.0.
        momentum: float. Momentum of the normalising layer. Defaults to
            0.99.
        dtype: dtype policy of the flow. Defaults to
            `full_precision_policy()`.

    Example:
    >>> prior = RealNVPPrior(2, num_couplings=2, hidden_units=8, seed=0)
    >>> z = prior.sample(3, seed=1)
    >>> z.shape, prior.log_prob(z).shape
    ((3, 2), TensorShape([3]))
    """

    def __init__(
        self,
        latent_dim,
        num_couplings=8,
        hidden_units=256,
        num_classes=None,
        seed=None,
        permutations=None,
        scale_bound=2.0,
        momentum=0.99,
        **kwargs,
    ):
        latent_dim = _check_dim(latent_dim)
        num_couplings = check_positive_int(num_couplings, "num_couplings")
        hidden_units = check_positive_int(hidden_units, "hidden_units")
        if num_classes is not None:
            num_classes = check_positive_int(num_classes, "num_classes")
        if permutations is None:
            permutations = coupling_permutations(latent_dim, num_couplings, seed)
        permutations = [[int(i) for i in p] for p in permutations]
        scale_bound, momentum = float(scale_bound), float(momentum)
        if len(permutations) != num_couplings - 1 or any(
            sorted(p) != list(range(latent_dim)) for p in permutations
        ):
            raise ValueError(
                f"Expected {num_couplings - 1} permutations of range({latent_dim}). "
                f"Received: permutations={permutations}"
            )
        super().__init__(dtype=full_precision_policy(kwargs.pop("dtype", None)), **kwargs)

        # === Layers ===
        policy = self.dtype_policy
        self.normalizer = ActNorm(latent_dim, momentum=momentum, dtype=policy, name="normalizer")
        self.couplings = [
            AffineCoupling(
                latent_dim, hidden_units, num_classes=num_classes,
                scale_bound=scale_bound, dtype=policy, name=f"coupling_{k}",
            )
            for k in range(num_couplings)
        ]
        self.class_means = None
        if num_classes:
            self.class_means = keras.layers.Embedding(
                num_classes, latent_dim, embeddings_initializer="zeros",
                dtype=policy, name="class_means",
            )
        self.normalizer.build((None, latent_dim))
        for coupling in self.couplings:
            coupling.build((None, latent_dim))
        if self.class_means is not None:
            self.class_means.build((None,))
        self.nll_tracker = keras.metrics.Mean(name="nll")
        self.built = True

        # === Config ===
        self.latent_dim = latent_dim
        self.num_couplings = num_couplings
        self.hidden_units = hidden_units
        self.num_classes = num_classes
        self.seed = seed
        self.permutations = permutations
        self.scale_bound = scale_bound
        self.momentum = momentum
        self.inverse_permutations = [np.argsort(p).tolist() for p in permutations]
        self._rng = np.random.default_rng(seed)

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "latent_dim": self.latent_dim,
            "num_couplings": self.num_couplings,
            "hidden_units": self.hidden_units,
            "num_classes": self.num_classes,
            "seed": self.seed,
            "permutations": [list(p) for p in self.permutations],
            "scale_bound": self.scale_bound,
            "momentum": self.momentum,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    # --- The bijection ----------------------------------------------------

    def _check_latents(self, z, name):
        shape = tuple(z.shape)
        if len(shape) != 2 or (shape[1] is not None and shape[1] != self.latent_dim):
            raise ValueError(
                f"Expected {name} of shape (N, {self.latent_dim}). Received: {name}.shape={shape}"
            )
        return ops.cast(z, self.compute_dtype)

    def one_hot(self, labels, n=None):
        """Labels (N,) ints or (N, num_classes) one-hot -> one-hot in the compute dtype.

        None for an unconditional prior (which refuses labels).
        """
        if self.num_classes is None:
            if labels is not None:
                raise ValueError(
                    "This prior is unconditional (num_classes=None): it takes no labels. "
                    f"Received: labels of shape {tuple(np.shape(labels))}"
                )
            return None
        if labels is None:
            raise ValueError(
                f"This prior is conditional (num_classes={self.num_classes}): pass `labels`."
            )
        shape = tuple(labels.shape) if hasattr(labels, "shape") else np.shape(labels)
        if len(shape) == 1:
            return ops.one_hot(ops.cast(labels, "int32"), self.num_classes, dtype=self.compute_dtype)
        if len(shape) == 2 and shape[1] == self.num_classes:
            return ops.cast(labels, self.compute_dtype)
        raise ValueError(
            f"Expected labels as class indices (N,) or one-hot (N, {self.num_classes}). "
            f"Received: labels.shape={shape}"
        )

    def base_mean(self, one_hot):
        """The mean of z_0: 0, or the label's learned mean (section 6)."""
        if one_hot is None:
            return None
        embeddings = ops.cast(self.class_means.embeddings, self.compute_dtype)
        return ops.matmul(ops.cast(one_hot, self.compute_dtype), embeddings)

    def forward_and_log_det(self, z_T, labels=None, training=False):
        """z_0 = f(z_T) and log|det df/dz_T| (N,)."""
        x = self._check_latents(z_T, "z_T")
        condition = self.one_hot(labels)
        x, log_det = self.normalizer(x, training=training)
        for k, coupling in enumerate(self.couplings):
            x, part = coupling(x, labels=condition)
            log_det = log_det + part
            if k < self.num_couplings - 1:
                x = ops.take(x, self.permutations[k], axis=1)
        return x, log_det

    def forward(self, z_T, labels=None):
        """z_0 = f_theta(z_T): data codes to the base space."""
        return self.forward_and_log_det(z_T, labels)[0]

    def inverse(self, z_0, labels=None):
        """z_T = f_theta^{-1}(z_0): base space to data codes."""
        x = self._check_latents(z_0, "z_0")
        condition = self.one_hot(labels)
        for k in reversed(range(self.num_couplings)):
            if k < self.num_couplings - 1:
                x = ops.take(x, self.inverse_permutations[k], axis=1)
            x, _ = self.couplings[k](x, labels=condition, inverse=True)
        x, _ = self.normalizer(x, inverse=True)
        return x

    def log_prob(self, z_T, labels=None, training=False):
        """log p_theta(z_T) (N,) by the change of variables (eq. 4)."""
        condition = self.one_hot(labels)
        z_0, log_det = self.forward_and_log_det(z_T, condition, training=training)
        return flow_log_prob(z_0, log_det, self.base_mean(condition))

    def sample(self, n, seed=None, labels=None):
        """`n` codes z_T = f^{-1}(z_0), z_0 ~ N(mu_y, I); NumPy float32 (n, d).

        Args:
            n: int.
            seed: int or None. Same seed, same codes; None uses the prior's
                own generator (seeded by the constructor's `seed`).
            labels: for a conditional prior, one int (all samples) or (n,)
                ints / one-hot.
        """
        n = check_positive_int(n, "n")
        rng = np.random.default_rng(seed) if seed is not None else self._rng
        z_0 = rng.standard_normal((n, self.latent_dim)).astype("float32")
        if labels is not None and np.ndim(labels) == 0:
            labels = np.full((n,), int(labels), "int32")
        condition = self.one_hot(labels)
        if condition is not None:
            if int(condition.shape[0]) != n:
                raise ValueError(f"Expected {n} labels. Received: labels of length {condition.shape[0]}")
            z_0 = z_0 + ops.convert_to_numpy(self.base_mean(condition))
        return np.asarray(ops.convert_to_numpy(self.inverse(z_0, condition)), dtype="float32")

    # --- Fitting ----------------------------------------------------------

    def call(self, inputs, training=None):
        z, labels = (inputs if isinstance(inputs, (tuple, list)) else (inputs, None))
        return self.log_prob(z, labels, training=bool(training))

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        nll = -ops.mean(y_pred)
        self.nll_tracker.update_state(nll)
        return nll

    @property
    def metrics(self):
        return [self.nll_tracker]

    def fit_encodings(self, z, labels=None, epochs=20, batch_size=256, learning_rate=1e-3, verbose=0, **kwargs):
        """Fits the prior ex post by maximum likelihood on codes `z` (N, d).

        The normalising layer starts from the statistics of all of `z`;
        then Adam(`learning_rate`) unless the prior is already compiled.

        Returns:
            The `keras.callbacks.History` of `fit`.
        """
        z = np.asarray(ops.convert_to_numpy(z), dtype="float32")
        self._check_latents(z, "z")
        if not np.all(np.isfinite(z)):
            raise ValueError("`z` contains NaN or infinite values.")
        self.normalizer.initialize_from(z)
        if not self.compiled:
            self.compile(optimizer=keras.optimizers.Adam(learning_rate))
        x = z if labels is None else (z, np.asarray(labels))
        return self.fit(x, epochs=epochs, batch_size=batch_size, shuffle=True, verbose=verbose, **kwargs)
