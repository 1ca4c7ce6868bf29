"""Loss terms of the papers, written once with `keras.ops`."""

import math

from keras import ops


def _float32(x):
    # Losses are summed over many terms: keep them in float32 also when the
    # network runs in mixed precision.
    return ops.cast(x, "float32")


def gaussian_kl(z_mean, z_log_var):
    """KL(N(mu, sigma^2) || N(0, I)) per sample, summed over latents.

    Split-VAE paper, eq. (4):
    0.5 * sum_i (mu_i^2 + sigma_i^2 - log sigma_i^2 - 1).

    Args:
        z_mean: tensor (N, k).
        z_log_var: tensor (N, k), log of the variance.

    Returns:
        Tensor (N,).
    """
    z_mean, z_log_var = _float32(z_mean), _float32(z_log_var)
    return 0.5 * ops.sum(
        ops.square(z_mean) + ops.exp(z_log_var) - 1.0 - z_log_var, axis=-1
    )


def squared_error(x, x_hat):
    """Per-sample sum of squared errors over all non-batch axes."""
    x, x_hat = _float32(x), _float32(x_hat)
    axes = tuple(range(1, len(x.shape)))
    return ops.sum(ops.square(x - x_hat), axis=axes)


def balanced_split_vae_loss(x, x_hat, z_mean, z_log_var, gamma, beta):
    """Loss of the authors' Split-VAE script, averaged over the batch.

    0.5 * sum((x - x_hat)^2) / gamma + beta * KL (Split-VAE paper, sections
    II-A and V-A; gamma from the balancing rule, see `keras_vaes.balancing`).

    Returns:
        `(loss, reconstruction, kl)`: scalars, the two terms batch-averaged.
    """
    reconstruction = 0.5 * squared_error(x, x_hat) / gamma
    kl = gaussian_kl(z_mean, z_log_var)
    loss = ops.mean(reconstruction + beta * kl)
    return loss, ops.mean(reconstruction), ops.mean(kl)


def gaussian_nll(x, x_hat, gamma):
    """Per-sample negative log-likelihood of x under N(x_hat, gamma^2 I).

    sum(((x - x_hat) / gamma)^2 / 2 + log(gamma) + 0.5 * log(2 pi)): the
    stage-1 reconstruction term of the authors' BalancingVAE (variance-loss
    paper, section 2.1, after Dai & Wipf), with gamma the standard deviation.
    """
    x, x_hat = _float32(x), _float32(x_hat)
    axes = tuple(range(1, len(x.shape)))
    terms = (
        0.5 * ops.square((x - x_hat) / gamma)
        + ops.log(gamma)
        + 0.5 * math.log(2.0 * math.pi)
    )
    return ops.sum(terms, axis=axes)


def balanced_gaussian_vae_loss(x, x_hat, z_mean, z_log_var, gamma, kl_weight=1.0):
    """Loss of the authors' two-stage (BalancingVAE) code, batch-averaged.

    kl_weight * KL + sum(((x - x_hat) / gamma)^2 / 2 + log(gamma)
    + 0.5 * log(2 pi)) / batch: the Gaussian negative log-likelihood of
    Dai & Wipf's two-stage VAE ("Diagnosing and enhancing VAE models",
    2019, eq. (1) with a learned scalar gamma) with gamma = sqrt(mse
    estimate) from the balancing rule (Asperti & Trentin 2020; variance-loss
    paper, section 4), and the KL of the variance-loss paper, eq. (2).
    The first stage uses kl_weight = (2 * image_side / latent_dim)^2, the
    second kl_weight = 1.

    Returns:
        `(loss, nll, kl)`: scalars, the two terms batch-averaged.
    """
    nll = gaussian_nll(x, x_hat, gamma)
    kl = gaussian_kl(z_mean, z_log_var)
    loss = ops.mean(kl_weight * kl + nll)
    return loss, ops.mean(nll), ops.mean(kl)
