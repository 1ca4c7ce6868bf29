"""Latent-space and reconstruction diagnostics of the reproduced papers.

- Variance law: Asperti, "Variance Loss in Variational Autoencoders"
  (LOD 2020), section 2.1 eq. (4); Asperti & Trentin, "Balancing
  reconstruction error and Kullback-Leibler divergence in Variational
  Autoencoders" (2020).
- Inactive (collapsed) latent variables: the criteria of the Split-VAE
  authors' script.
- Variance loss: "Variance Loss in Variational Autoencoders", section 3.
- Reconstruction health: inference-mode reconstructions compared with the
  mean image and the training MSE (catches stale batch-norm statistics).

The functions take NumPy arrays (or tensors convertible with `np.asarray`)
and compute in float64, except `model_reconstruction_health`, which takes a
model of the package. Latent log-variances are log sigma^2 throughout.
"""

import dataclasses
import typing

import numpy as np


def _check_latents(z_mean, z_log_var):
    z_mean = np.asarray(z_mean, dtype=np.float64)
    z_log_var = np.asarray(z_log_var, dtype=np.float64)
    if z_mean.ndim != 2 or z_mean.shape != z_log_var.shape or z_mean.shape[0] < 1:
        raise ValueError(
            "`z_mean` and `z_log_var` must both have shape "
            "(num_samples, latent_dim), num_samples >= 1. Received: "
            f"z_mean.shape={z_mean.shape}, z_log_var.shape={z_log_var.shape}"
        )
    return z_mean, z_log_var


class VarianceLaw(typing.NamedTuple):
    """Result of `variance_law`.

    Attributes:
        per_variable: array `(latent_dim,)`, `var(z_mean) + mean(sigma^2)`.
        mean: float, the mean of `per_variable` (expected close to 1).
    """

    per_variable: np.ndarray
    mean: float


def variance_law(z_mean, z_log_var):
    """Variance law of the aggregate posterior, per latent variable.

    "Variance Loss in VAEs", eq. (4) (after Asperti & Trentin 2020):
    `E_X mu_z(X)^2 + E_X sigma_z^2(X) = 1` when the KL term works, with
    `E_X mu_z(X) = 0` (eq. (3)). As in the authors' code, the first term is
    computed as the variance of `z_mean` over the samples:

        per_variable[j] = var_i(z_mean[i, j]) + mean_i(exp(z_log_var[i, j]))

    Args:
        z_mean: array `(num_samples, latent_dim)`. Posterior means.
        z_log_var: array `(num_samples, latent_dim)`. Posterior log-variances.

    Returns:
        A `VarianceLaw` `(per_variable, mean)`; unpacks as a tuple.

    Example:

    >>> import numpy as np
    >>> law = variance_law(np.array([[1.0], [-1.0]]), np.zeros((2, 1)))
    >>> law.per_variable, law.mean
    (array([2.]), 2.0)
    """
    z_mean, z_log_var = _check_latents(z_mean, z_log_var)
    per_variable = np.var(z_mean, axis=0) + np.mean(np.exp(z_log_var), axis=0)
    return VarianceLaw(per_variable=per_variable, mean=float(np.mean(per_variable)))


@dataclasses.dataclass(frozen=True)
class InactiveVariables:
    """Result of `inactive_variables`.

    Attributes:
        count: int. Variables with `var(z_mean) < threshold`.
        mask: bool array `(latent_dim,)`, True for those variables.
        count_by_posterior_variance: int. Variables with
            `mean(exp(z_log_var)) > log_var_threshold` (second view).
        mask_by_posterior_variance: bool array `(latent_dim,)`.
        mean_variance: array `(latent_dim,)`, `var(z_mean)` per variable.
        posterior_variance: array `(latent_dim,)`, `mean(exp(z_log_var))`.
    """

    count: int
    mask: np.ndarray
    count_by_posterior_variance: int
    mask_by_posterior_variance: np.ndarray
    mean_variance: np.ndarray
    posterior_variance: np.ndarray


def inactive_variables(z_mean, z_log_var, threshold=0.05, log_var_threshold=0.95):
    """Counts inactive (collapsed) latent variables, two ways.

    A collapsed variable carries no information: its posterior mean barely
    moves across inputs, and (by the variance law) its posterior variance
    is close to the prior's 1. The Split-VAE authors' script counts
    `var(z_mean) < 0.05`, and as a second view `mean(exp(z_log_var)) > 0.95`.

    Args:
        z_mean: array `(num_samples, latent_dim)`. Posterior means.
        z_log_var: array `(num_samples, latent_dim)`. Posterior log-variances.
        threshold: float. Bound on `var(z_mean)`. Defaults to 0.05.
        log_var_threshold: float. Bound on the mean posterior variance
            `mean(exp(z_log_var))` (a variance, not a log-variance).
            Defaults to 0.95.

    Returns:
        An `InactiveVariables` with both counts and boolean masks.
    """
    z_mean, z_log_var = _check_latents(z_mean, z_log_var)
    mean_variance = np.var(z_mean, axis=0)
    posterior_variance = np.mean(np.exp(z_log_var), axis=0)
    mask = mean_variance < threshold
    mask_posterior = posterior_variance > log_var_threshold
    return InactiveVariables(
        count=int(np.sum(mask)),
        mask=mask,
        count_by_posterior_variance=int(np.sum(mask_posterior)),
        mask_by_posterior_variance=mask_posterior,
        mean_variance=mean_variance,
        posterior_variance=posterior_variance,
    )


def _check_pair(x, x_hat, same_count=True):
    x = np.asarray(x, dtype=np.float64)
    x_hat = np.asarray(x_hat, dtype=np.float64)
    if same_count:
        valid = x.shape == x_hat.shape
        expected = "the same shape (num_samples, ...)"
    else:
        valid = x.shape[1:] == x_hat.shape[1:] and x_hat.ndim >= 1 and x_hat.shape[0] >= 2
        expected = "the same feature shape (num_samples, ...), >= 2 samples each"
    if not valid or x.ndim < 2 or x.shape[0] < (1 if same_count else 2):
        raise ValueError(
            f"`x` and `x_hat` must have {expected}, rank >= 2. "
            f"Received: x.shape={x.shape}, x_hat.shape={x_hat.shape}"
        )
    # Samples along axis 0, features (pixels, channels) flattened on axis 1.
    return x.reshape(x.shape[0], -1), x_hat.reshape(x_hat.shape[0], -1)


def mse(x, x_hat):
    """Mean squared error over all axes, "Variance Loss in VAEs", section 3.

    Args:
        x: array `(num_samples, ...)`. Data.
        x_hat: array of the same shape. Reconstructions.

    Returns:
        `mean((x - x_hat)^2)`, a Python float.
    """
    x, x_hat = _check_pair(x, x_hat)
    return float(np.mean(np.square(x - x_hat)))


def variance_loss(x, x_hat):
    """Variance loss of reconstructed data, with the MSE it is compared to.

    "Variance Loss in Variational Autoencoders", section 3: for n data with
    m features, `mean(var(X) - var(X_hat))`, the variance of each feature
    taken across the data (axis 0, population variance as `np.var`) and
    averaged over the features; the paper observes it is close to
    `mse(X, X_hat) = mean((X - X_hat)^2)`. Equal to the authors'
    `mean(var(z, axis=0)) - mean(var(z_hat, axis=0))`. Features of images
    are their flattened pixels and channels.

    Args:
        x: array `(num_samples, ...)`. Data (images or latents).
        x_hat: array `(num_samples_hat, ...)`, same feature shape.
            Reconstructions of `x`, or generated samples (then the number
            of samples may differ).

    Returns:
        A dict with floats "variance_loss", "mse" and "ratio"
        (`variance_loss / mse`, the quantity the renormalisation test of
        `samplers.should_renormalize_latents` uses). "mse" and "ratio" are
        NaN when the sample counts differ (no pairing) and "ratio" is NaN
        when mse is 0.

    Example:

    >>> import numpy as np
    >>> x = np.array([[0.0], [2.0]])
    >>> variance_loss(x, np.ones_like(x))  # predicting the mean
    {'variance_loss': 1.0, 'mse': 1.0, 'ratio': 1.0}
    """
    x, x_hat = _check_pair(x, x_hat, same_count=False)
    loss = float(np.mean(np.var(x, axis=0) - np.var(x_hat, axis=0)))
    if x.shape == x_hat.shape:
        error = float(np.mean(np.square(x - x_hat)))
    else:
        error = float("nan")
    ratio = loss / error if error > 0 else float("nan")
    return {"variance_loss": loss, "mse": error, "ratio": ratio}


# --- Inference-mode health of a model ---------------------------------------

# Reconstructions with an MSE above this fraction of the mean image's are
# reported as carrying (almost) no information.
MEAN_IMAGE_FRACTION = 0.9
# Inference-mode MSE above this multiple of the training MSE is reported.
TRAINING_RATIO = 1.5


@dataclasses.dataclass(frozen=True)
class ReconstructionHealth:
    """Result of `reconstruction_health`.

    Attributes:
        mse: float. MSE of the inference-mode reconstructions.
        mean_image_mse: float. MSE of predicting the mean image of the data
            for every image (what reconstructions carrying no information
            score).
        training_mse: float or None. The last training MSE it is compared with.
        problems: tuple of str. What is wrong; empty when healthy.
    """

    mse: float
    mean_image_mse: float
    training_mse: typing.Optional[float]
    problems: tuple

    @property
    def healthy(self):
        return not self.problems

    def summary(self):
        """One line for a results file."""
        parts = [f"inference-mode reconstruction MSE {self.mse:.5g}",
                 f"mean-image MSE {self.mean_image_mse:.5g}"]
        if self.training_mse is not None:
            parts.append(f"last training MSE {self.training_mse:.5g}")
        verdict = "OK" if self.healthy else "WARNING: " + "; ".join(self.problems)
        return ", ".join(parts) + f" -> {verdict}"


def reconstruction_health(images, reconstructions, training_mse=None, *,
                          mean_image_fraction=MEAN_IMAGE_FRACTION, training_ratio=TRAINING_RATIO,
                          warn=True, name="the model"):
    """Checks that inference-mode reconstructions carry information.

    Two symptoms of a broken inference mode (e.g. stale batch-norm moving
    statistics): the reconstruction MSE is no better than predicting the
    mean image, `mse > mean_image_fraction * mean((x - mean_i x_i)^2)`; or
    it is far above the training MSE, `mse > training_ratio * training_mse`.
    Either is reported with `warnings.warn` (when `warn`) and in `problems`.

    Args:
        images: array `(N, ...)`, N >= 2. The data.
        reconstructions: array of the same shape, from inference mode.
        training_mse: float or None. The last training MSE (e.g. a balanced
            VAE's `mse_estimate`).
        mean_image_fraction: float. Defaults to 0.9.
        training_ratio: float. Defaults to 1.5.
        warn: bool. Defaults to True.
        name: str. What the warning names.

    Returns:
        A `ReconstructionHealth`.
    """
    x, x_hat = _check_pair(images, reconstructions)
    if x.shape[0] < 2:
        raise ValueError(f"Need at least 2 images for a mean image. Received: {x.shape[0]}")
    error = float(np.mean(np.square(x - x_hat)))
    baseline = float(np.mean(np.square(x - np.mean(x, axis=0))))
    problems = []
    if error > mean_image_fraction * baseline:
        problems.append(
            f"reconstructions are no better than the mean image (MSE {error:.5g} vs "
            f"{baseline:.5g} for the mean image): the inference mode carries no information "
            "(stale batch-norm statistics? recalibrate_batch_norm, or zero_debias=True)"
        )
    if training_mse is not None:
        training_mse = float(training_mse)
        if error > training_ratio * training_mse:
            problems.append(
                f"inference-mode MSE {error:.5g} is {error / training_mse:.2g}x the last "
                f"training MSE {training_mse:.5g} (more than {training_ratio:g}x)"
            )
    health = ReconstructionHealth(error, baseline, training_mse, tuple(problems))
    if warn and problems:
        import warnings

        warnings.warn(f"Reconstruction health of {name}: " + "; ".join(problems), stacklevel=2)
    return health


def model_reconstruction_health(model, images, training_mse="auto", *, batch_size=100,
                                warn=True, **kwargs):
    """`reconstruction_health` of `model.reconstruct(images)` (posterior means).

    Args:
        model: any model of the package (`reconstruct(images) -> {"x_hat"}`).
        images: array `(N, H, W, C)` in the model's value range.
        training_mse: float, None, or "auto" (default): the model's
            `mse_estimate` when it has one (balanced VAEs: the running
            estimate of the training MSE).
        batch_size: int. Defaults to 100.
        warn: bool. Defaults to True.
        **kwargs: thresholds of `reconstruction_health`.
    """
    if training_mse == "auto":
        training_mse = getattr(model, "mse_estimate", None)
    rec = model.reconstruct(images, batch_size=batch_size)["x_hat"]
    return reconstruction_health(images, rec, training_mse, warn=warn,
                                 name=type(model).__name__, **kwargs)
