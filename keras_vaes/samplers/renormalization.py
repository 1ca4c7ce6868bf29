"""Renormalisation at generation ("Variance Loss in Variational Autoencoders", section 4).

As the authors' latest code runs it: `renormalization_target_std` (their
adjust2, or the variance law), `should_renormalize_latents`,
`renormalize_latents` (per generation batch, as theirs) and
`renormalize_images` (their rescaling of reconstructions; applied to
generated images it is an extension).
"""

import numpy as np

from keras_vaes.samplers.base import _check_latent_matrix
from keras_vaes.utils import check_positive_int


def should_renormalize_latents(var_loss, mse, threshold=0.25):
    """Whether the second stage loses enough variance to renormalise.

    The BalancingVAE authors' rule: renormalise the generated latents only
    when the second stage shows an evident variance loss, `var_loss / mse >
    0.25`, both measured on the reconstruction of the latent means
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

    - `target="authors"` (default): the authors' code's adjust2,
      `sqrt(mean_j(var_i(mu_ij) + mean_i(sigma_ij)))`, sigma in the sum.
    - `target="variance_law"`: the paper's reading, eq. (4),
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
    step = z.shape[0] if batch_size is None else check_positive_int(batch_size, "batch_size")
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
    the data's, then clipped to [0, 1]. The authors apply it to
    reconstructions (REC); on generated images it is the package's
    extension (`TwoStageVAE.generate(rescale_images=True)`):

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


