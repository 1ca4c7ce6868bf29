"""Latent samplers fitted after training, and variance renormalisation.

As in pythae, what is fitted after training is kept apart from the models:
a sampler has `fit(z)` and `sample(n)`, and `generate_images` decodes its
samples with any model exposing `decode(z) -> dict`.

- `NormalSampler`: the prior N(0, I).
- `GMMSampler`: ex-post Gaussian mixture on the latent means (Split-VAE,
  section IV; after Ghosh et al., "From variational to deterministic
  autoencoders"): sklearn `GaussianMixture(n_components=20 or 100,
  max_iter=200)` fitted on `z_mean` of the 10k reference images.
- Renormalisation at generation ("Variance Loss in Variational
  Autoencoders", section 4, as the authors' latest code runs it):
  `renormalization_target_std` (their adjust2, or the variance law),
  `should_renormalize_latents`, `renormalize_latents` (per generation
  batch, as theirs), and `renormalize_images` (their rescaling of
  reconstructions; applied to generated images it is an extension).
"""

import copy

import keras
import numpy as np


def _rng(seed, default):
    # An explicit seed gives a fresh, reproducible stream; otherwise the
    # sampler's own generator advances, so successive calls differ but a
    # whole session is reproducible from the constructor's seed.
    return np.random.default_rng(seed) if seed is not None else default


def _check_count(n):
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"`n` must be a positive integer. Received: n={n!r}")
    return int(n)


def _check_latent_matrix(z, name="z"):
    z = np.asarray(keras.ops.convert_to_numpy(z))
    if z.ndim != 2 or z.shape[0] < 1:
        raise ValueError(
            f"`{name}` must have shape (num_samples, latent_dim). "
            f"Received: {name}.shape={z.shape}"
        )
    return z


def encode_images(model, images, batch_size=100):
    """Posterior means and log-variances of images, batch by batch.

    Args:
        model: object with `encode(images) -> (z_mean, z_log_var)`.
        images: array `(N, H, W, C)`.
        batch_size: int. Defaults to 100.

    Returns:
        A tuple `(z_mean, z_log_var)` of float32 NumPy arrays `(N, latent_dim)`.
    """
    if batch_size < 1:
        raise ValueError(f"`batch_size` must be >= 1. Received: batch_size={batch_size}")
    means, log_vars = [], []
    for start in range(0, len(images), batch_size):
        z_mean, z_log_var = model.encode(images[start : start + batch_size])[:2]
        means.append(keras.ops.convert_to_numpy(z_mean).astype(np.float32))
        log_vars.append(keras.ops.convert_to_numpy(z_log_var).astype(np.float32))
    if not means:
        raise ValueError("`images` is empty. Received: len(images)=0")
    return np.concatenate(means), np.concatenate(log_vars)


class NormalSampler:
    """Samples the standard normal prior N(0, I).

    Args:
        latent_dim: int. Dimension of the latent space.
        seed: int or None. Seed of the sampler's own generator, used when
            `sample` gets no seed. Defaults to None.

    Example:

    >>> NormalSampler(8).sample(4, seed=0).shape
    (4, 8)
    """

    def __init__(self, latent_dim, seed=None):
        if isinstance(latent_dim, bool) or not isinstance(latent_dim, (int, np.integer)) or latent_dim < 1:
            raise ValueError(
                f"`latent_dim` must be a positive integer. Received: latent_dim={latent_dim!r}"
            )
        self.latent_dim = int(latent_dim)
        self.seed = seed
        self._rng = np.random.default_rng(seed)

    def fit(self, z=None):
        """Nothing to fit: the prior is fixed. Returns `self`."""
        return self

    def sample(self, n, seed=None):
        """`n` latent vectors from N(0, I), float32 `(n, latent_dim)`."""
        rng = _rng(seed, self._rng)
        n = _check_count(n)
        return rng.standard_normal((n, self.latent_dim)).astype(np.float32)


class GMMSampler:
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
            sampler's own generator used when `sample` gets no seed.
            Defaults to None.

    Example:

    >>> import numpy as np
    >>> z = np.random.default_rng(0).normal(size=(200, 2))
    >>> GMMSampler(3, seed=0).fit(z).sample(5, seed=1).shape
    (5, 2)
    """

    def __init__(self, n_components, max_iter=200, covariance_type="full", seed=None):
        if isinstance(n_components, bool) or not isinstance(n_components, (int, np.integer)) or n_components < 1:
            raise ValueError(
                "`n_components` must be a positive integer. "
                f"Received: n_components={n_components!r}"
            )
        if covariance_type not in ("full", "tied", "diag", "spherical"):
            raise ValueError(
                "`covariance_type` must be one of 'full', 'tied', 'diag', "
                f"'spherical'. Received: covariance_type={covariance_type!r}"
            )
        self.n_components = int(n_components)
        self.max_iter = int(max_iter)
        self.covariance_type = covariance_type
        self.seed = seed
        self._rng = np.random.default_rng(seed)
        self.mixture = None
        self.latent_dim = None

    def fit(self, z):
        """Fits the mixture on latent vectors `z` `(num_samples, latent_dim)`.

        Returns:
            `self`.
        """
        from sklearn.mixture import GaussianMixture

        z = _check_latent_matrix(z).astype(np.float64)
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

    def fit_on_encodings(self, model, images, batch_size=100):
        """Fits on `z_mean` of `model.encode(images)`, as the authors do.

        Args:
            model: object with `encode(images) -> (z_mean, z_log_var)`.
            images: array `(N, H, W, C)`, e.g. the 10k test images.
            batch_size: int. Defaults to 100.

        Returns:
            `self`.
        """
        z_mean, _ = encode_images(model, images, batch_size=batch_size)
        return self.fit(z_mean)

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
            raise ValueError("The GMMSampler is not fitted: call `fit(z)` first.")
        n = _check_count(n)
        rng = _rng(seed, self._rng)
        # sklearn draws from the mixture's `random_state`; a copy with a
        # state derived from `rng` keeps the fitted object untouched.
        mixture = copy.copy(self.mixture)
        mixture.random_state = np.random.RandomState(rng.integers(2**32 - 1))
        z, _ = mixture.sample(n)
        order = rng.permutation(n)
        return (z[order] if shuffle else z).astype(np.float32)


def decode_latents(model, z, batch_size=100):
    """Decodes latent vectors batch by batch into a dict of NumPy arrays.

    Args:
        model: object with `decode(z)` returning a dict (e.g. "x_hat" and,
            for Split-VAE, "sigma", "x1", "x2") or a single array, taken
            as "x_hat".
        z: array `(n, latent_dim)`.
        batch_size: int. Defaults to 100.

    Returns:
        Dict mapping each output name to the concatenated NumPy array.
    """
    z = _check_latent_matrix(z)
    if batch_size < 1:
        raise ValueError(f"`batch_size` must be >= 1. Received: batch_size={batch_size}")
    outputs = {}
    for start in range(0, z.shape[0], batch_size):
        decoded = model.decode(z[start : start + batch_size])
        if not isinstance(decoded, dict):
            decoded = {"x_hat": decoded}
        for name, value in decoded.items():
            outputs.setdefault(name, []).append(keras.ops.convert_to_numpy(value))
    return {name: np.concatenate(values) for name, values in outputs.items()}


def generate_images(model, sampler, n, seed=None, batch_size=100):
    """Samples `n` latent vectors with `sampler` and decodes them.

    Args:
        model: object with `decode(z)`, see `decode_latents`.
        sampler: fitted sampler with `sample(n, seed=None)`.
        n: int. Number of images.
        seed: int or None. Passed to `sampler.sample`. Defaults to None.
        batch_size: int. Decoding batch size. Defaults to 100.

    Returns:
        Dict of NumPy arrays, e.g. {"x_hat": (n, H, W, C), ...}.
    """
    z = sampler.sample(n, seed=seed)
    return decode_latents(model, z, batch_size=batch_size)


def should_renormalize_latents(var_loss, mse, threshold=0.25):
    """Whether the second stage loses enough variance to renormalise.

    The BalancingVAE authors' rule (DESIGN.md "Renormalisation at
    generation"): renormalise the generated latents only when the second
    stage shows an evident variance loss, `var_loss / mse > 0.25`, both
    measured on the reconstruction of the latent means
    (`metrics.variance_loss(z_mean, z_hat)`).

    Args:
        var_loss: float. Variance loss ("Variance Loss in VAEs", section 3).
        mse: float. Mean squared error of the same reconstruction.
        threshold: float. Defaults to 0.25.

    Returns:
        bool. False when `mse == 0` (perfect reconstruction).
    """
    if mse < 0:
        raise ValueError(f"`mse` must be >= 0. Received: mse={mse}")
    if mse == 0:
        return False
    return bool(var_loss / mse > threshold)


def mean_std(x):
    """Mean over features of the std across samples: mean_j std_i(x[i, j]).

    The spread the renormalisation rules match ("Variance Loss in VAEs",
    section 4): per latent variable for z, per pixel for images.
    """
    x = np.asarray(x, dtype=np.float64)
    return float(np.mean(np.std(x.reshape(x.shape[0], -1), axis=0)))


RENORMALIZATION_TARGETS = ("authors", "variance_law")


def renormalization_target_std(z_mean, z_log_var, target="authors"):
    """Standard deviation the renormalised latents are given (adjust2).

    "Variance Loss in VAEs", section 4: the generated latents are rescaled
    to the spread the variance law (eq. (4)) predicts for the aggregate
    posterior, `var(z_mean) + mean(sigma^2)` per latent variable (~1).

    - `target="authors"` (default): what the authors' latest code
      (BalancingVAE `computed_gamma.py`) computes, `adjust2 =
      sqrt(mean_j(var_i(mu_ij) + mean_i(sigma_ij)))`: their encoder's
      "log-var" output is a log-sd, so sigma, not sigma^2, enters the sum.
    - `target="variance_law"`: the variance law itself,
      `sqrt(mean_j(var_i(mu_ij) + mean_i(sigma_ij^2)))`.

    Args:
        z_mean: array `(N, latent_dim)`. Posterior means of reference images.
        z_log_var: array `(N, latent_dim)`. Their log-variances.
        target: str. "authors" or "variance_law". Defaults to "authors".

    Returns:
        The target std, a Python float.
    """
    if target not in RENORMALIZATION_TARGETS:
        raise ValueError(
            f"`target` must be one of {RENORMALIZATION_TARGETS}. Received: target={target!r}"
        )
    z_mean = _check_latent_matrix(z_mean, "z_mean").astype(np.float64)
    z_log_var = _check_latent_matrix(z_log_var, "z_log_var").astype(np.float64)
    if z_mean.shape != z_log_var.shape:
        raise ValueError(
            "`z_mean` and `z_log_var` must have the same shape. Received: "
            f"z_mean.shape={z_mean.shape}, z_log_var.shape={z_log_var.shape}"
        )
    # sigma = exp(log_var / 2) (authors), sigma^2 = exp(log_var) (variance law).
    posterior = np.exp(z_log_var / 2.0) if target == "authors" else np.exp(z_log_var)
    return float(np.sqrt(np.mean(np.var(z_mean, axis=0) + np.mean(posterior, axis=0))))


def renormalize_latents(z, variance_law_mean, batch_size=None):
    """Rescales generated latents to the standard deviation the variance law expects.

    "Variance Loss in VAEs", section 4: a multiplicative factor restores the
    variance lost by the second stage. As in the authors' code, the scaling
    is around 0 (the prior's mean), not around the sample mean:

        z' = z * sqrt(variance_law_mean) / mean_j(std_i(z[i, j]))

    so that the mean per-variable standard deviation of `z'` is
    `sqrt(variance_law_mean)` (the target variance: the variance law, or
    the authors' value, see `renormalization_target_std`).

    Args:
        z: array `(n, latent_dim)`, n >= 2. Generated latent vectors.
        variance_law_mean: float > 0. The target variance (e.g.
            `metrics.variance_law(...).mean`, or the square of
            `renormalization_target_std`).
        batch_size: int or None. The authors measure the std on each
            generation batch of 100 separately; with `batch_size` every
            consecutive block of that many vectors is rescaled by its own
            std (every block needs >= 2 vectors). None (default) uses the
            whole `z`.

    Returns:
        Float32 array of the shape of `z`.
    """
    z = _check_latent_matrix(z).astype(np.float64)
    if not variance_law_mean > 0:
        raise ValueError(
            f"`variance_law_mean` must be > 0. Received: variance_law_mean={variance_law_mean}"
        )
    step = z.shape[0] if batch_size is None else int(batch_size)
    if step < 1:
        raise ValueError(f"`batch_size` must be None or >= 1. Received: batch_size={batch_size}")
    out = np.empty_like(z)
    for start in range(0, z.shape[0], step):
        block = z[start : start + step]
        if block.shape[0] < 2:
            raise ValueError(
                "Need at least 2 vectors per block to measure a std. Received: "
                f"z.shape={z.shape}, batch_size={batch_size}"
            )
        spread = mean_std(block)
        if spread == 0:
            raise ValueError("All generated latents are identical: nothing to rescale.")
        out[start : start + step] = block * (np.sqrt(variance_law_mean) / spread)
    return out.astype(np.float32)


def renormalize_images(images, data_std):
    """Rescales generated images to the per-pixel spread of the data.

    "Variance Loss in VAEs", section 4: images are scaled around their
    per-pixel mean so that their mean per-pixel standard deviation equals
    the data's, then clipped to [0, 1]. The authors' code does this to
    reconstructions (REC); the same branch for generated images exists in
    their `generate` but never runs (`type(adjust1) == np.float` is False
    for their ndarray), so on generations it is the package's extension
    (`TwoStageVAE.generate(rescale_images=True)`):

        m = mean_i(images[i]);  s = mean_pixels(std_i(images[i]))
        images' = clip((images - m) * data_std / s + m, 0, 1)

    Args:
        images: array `(n, H, W, C)` (any rank >= 2), n >= 2, values in
            [0, 1]. Generated images.
        data_std: float, or the per-pixel std array of the training data
            (`np.std(x_train, axis=0)`), whose mean is then used.

    Returns:
        Array of the shape of `images` (float32 unless the input is float64).
    """
    images = np.asarray(images)
    if images.ndim < 2 or images.shape[0] < 2:
        raise ValueError(
            "`images` must have shape (n, ...) with n >= 2. "
            f"Received: images.shape={images.shape}"
        )
    dtype = images.dtype if images.dtype == np.float64 else np.float32
    images = images.astype(np.float64)
    target = float(np.mean(data_std))
    if not target >= 0:
        raise ValueError(f"`data_std` must be >= 0. Received: data_std={data_std}")
    mean_image = np.mean(images, axis=0)
    spread = mean_std(images)
    if spread == 0:
        raise ValueError("All generated images are identical: nothing to rescale.")
    rescaled = (images - mean_image) * (target / spread) + mean_image
    return np.clip(rescaled, 0.0, 1.0).astype(dtype)


def _interpolation_inputs(z_a, z_b, t):
    z_a = np.asarray(keras.ops.convert_to_numpy(z_a), dtype=np.float64)
    z_b = np.asarray(keras.ops.convert_to_numpy(z_b), dtype=np.float64)
    if z_a.ndim == 0 or z_b.ndim == 0 or z_a.shape[-1] != z_b.shape[-1]:
        raise ValueError(
            "`z_a` and `z_b` must be latent vectors of the same size (last axis). "
            f"Received: z_a.shape={z_a.shape}, z_b.shape={z_b.shape}"
        )
    try:
        np.broadcast_shapes(z_a.shape, z_b.shape)
    except ValueError:
        raise ValueError(
            "`z_a` and `z_b` must broadcast against each other. "
            f"Received: z_a.shape={z_a.shape}, z_b.shape={z_b.shape}"
        ) from None
    t = np.asarray(t, dtype=np.float64)
    if t.ndim > 1 or not np.all(np.isfinite(t)):
        raise ValueError(
            "`t` must be a finite scalar or a 1-D array of interpolation "
            f"positions. Received: t={t!r}"
        )
    # t of shape (T,) -> (T, 1, ..., 1, 1) so that the output is (T, ..., d).
    t_b = np.reshape(t, t.shape + (1,) * max(z_a.ndim, z_b.ndim))
    return z_a, z_b, t, t_b


def lerp(z_a, z_b, t):
    """Linear interpolation `(1 - t) z_a + t z_b`.

    The interpolation in Z_T of "Empirical observations pertaining to
    learned priors" (section 5.2): `D(lerp(E(x_a), E(x_b), t))`.

    Args:
        z_a: array `(..., d)`. Start point(s).
        z_b: array `(..., d)`, broadcastable with `z_a`. End point(s).
        t: float or 1-D array of positions (0 gives `z_a`, 1 gives `z_b`).

    Returns:
        Float32 array of shape `np.shape(t) + broadcast(z_a, z_b).shape`.

    Example:

    >>> lerp(np.zeros(2), np.ones(2), [0.0, 0.5]).tolist()
    [[0.0, 0.0], [0.5, 0.5]]
    """
    z_a, z_b, _, t_b = _interpolation_inputs(z_a, z_b, t)
    return ((1.0 - t_b) * z_a + t_b * z_b).astype(np.float32)


def slerp(z_a, z_b, t):
    """Spherical linear interpolation (White 2016, "Sampling generative networks").

    With `omega` the angle between `z_a` and `z_b` (per vector, along the
    last axis):

        slerp(z_a, z_b; t) = sin((1 - t) omega) / sin(omega) z_a
                             + sin(t omega) / sin(omega) z_b

    As in White's code, vectors with `sin(omega) = 0` (same or opposite
    direction, or a zero vector) fall back to `lerp`. Used for the Z_0
    interpolation of the learned-priors paper (section 4 and 5.2):
    `D(f^-1(slerp(f(E(x_a)), f(E(x_b)), t)))`.

    Args:
        z_a: array `(..., d)`. Start point(s).
        z_b: array `(..., d)`, broadcastable with `z_a`. End point(s).
        t: float or 1-D array of positions in [0, 1] (0 gives `z_a`).

    Returns:
        Float32 array of shape `np.shape(t) + broadcast(z_a, z_b).shape`.

    Example:

    >>> [round(float(v), 4) for v in slerp([1.0, 0.0], [0.0, 1.0], 0.5)]
    [0.7071, 0.7071]
    """
    z_a, z_b, _, t_b = _interpolation_inputs(z_a, z_b, t)
    norm_a = np.linalg.norm(z_a, axis=-1, keepdims=True)
    norm_b = np.linalg.norm(z_b, axis=-1, keepdims=True)
    denominator = norm_a * norm_b
    safe = np.where(denominator > 0, denominator, 1.0)
    cosine = np.clip(np.sum(z_a * z_b, axis=-1, keepdims=True) / safe, -1.0, 1.0)
    omega = np.arccos(cosine)
    sin_omega = np.sin(omega)
    # Exactly parallel vectors give sin(omega) ~ 1e-8 through arccos round-off.
    degenerate = (denominator == 0) | (np.abs(sin_omega) < 1e-6)
    sin_safe = np.where(degenerate, 1.0, sin_omega)
    spherical = (
        np.sin((1.0 - t_b) * omega) / sin_safe * z_a
        + np.sin(t_b * omega) / sin_safe * z_b
    )
    linear = (1.0 - t_b) * z_a + t_b * z_b
    return np.where(degenerate, linear, spherical).astype(np.float32)
from keras_vaes.priors import FlowSampler  # noqa: E402,F401  (learned-priors paper; defined in keras_vaes.priors)
