"""GAMIX-VAE loss terms (Rivera, "GAMIX-VAE"), unweighted, `keras.ops` only.

The model (`keras_vaes.models.gamix.GamixVAE`) applies the weights of eq.
(13) as the author's code does: reconstruction 5000, mixture KL 1,
regulariser 0.1, adversarial 100.
"""

import warnings

from keras import ops

from keras_vaes.losses.adversarial import binary_cross_entropy_logits


def _float32(x):
    return ops.cast(x, "float32")


def check_batch_of_two(z, name):
    """Raises when the (static) batch has one sample: its variance is undefined."""
    batch = z.shape[0] if len(z.shape) else None
    if batch is not None and batch < 2:
        raise ValueError(
            "The batch-mixture KL (GAMIX-VAE eq. (8)-(10)) needs at least two "
            "samples per batch: the variance of the encoder means over a batch "
            f"of one is zero and log(0) is -inf. Received: {name}.shape={tuple(z.shape)}"
        )


def batch_mixture_moments(z_mean):
    """Mean and population variance of the encoder means over the batch.

    GAMIX-VAE eq. (9): mu_bar_j = (1/b) sum_i mu_ij; eq. (10):
    sigma_bar_j^2 = (1/b) sum_i (mu_ij - mu_bar_j)^2.

    Args:
        z_mean: tensor (b, d), b >= 2.

    Returns:
        `(mu_bar, sigma_bar_sq)`, two tensors of shape (d,).
    """
    check_batch_of_two(z_mean, "z_mean")
    z_mean = _float32(z_mean)
    mu_bar = ops.mean(z_mean, axis=0)
    sigma_bar_sq = ops.mean(ops.square(z_mean - mu_bar), axis=0)
    return mu_bar, sigma_bar_sq


def batch_mixture_kl(z_mean):
    """KL of the batch's Gaussian mixture posterior to N(0, I).

    GAMIX-VAE eq. (8): 0.5 * sum_j (sigma_bar_j^2 + mu_bar_j^2 - 1 -
    log sigma_bar_j^2), with mu_bar and sigma_bar^2 the mean and population
    variance of the encoder MEANS over the batch (eq. (9)-(10)); the
    individual variances do not enter. No epsilon in the log, as the
    author's code.

    Args:
        z_mean: tensor (b, d), b >= 2.

    Returns:
        A scalar tensor.
    """
    mu_bar, sigma_bar_sq = batch_mixture_moments(z_mean)
    return 0.5 * ops.sum(sigma_bar_sq + ops.square(mu_bar) - 1.0 - ops.log(sigma_bar_sq))


def variance_regularizer(z_log_var):
    """Penalty on collapsing individual posterior variances.

    GAMIX-VAE eq. (11), as the author's code computes it: the batch MEAN
    (the paper writes a sum over i) of the per-sample sum over latents of
    sigma_ij^2 - 1 - log sigma_ij^2 (no factor 1/2).

    Args:
        z_log_var: tensor (b, d), log sigma^2.

    Returns:
        A scalar tensor.
    """
    z_log_var = _float32(z_log_var)
    return ops.mean(ops.sum(ops.exp(z_log_var) - 1.0 - z_log_var, axis=-1))


def l1_reconstruction(x, x_hat):
    """Laplacian log-likelihood term: mean |x - x_hat| over all elements.

    GAMIX-VAE eq. (12) (a sum in the paper; the author's code takes the
    mean over pixels, channels and batch, and weighs it by 5000).
    """
    return ops.mean(ops.abs(_float32(x) - _float32(x_hat)))


def _bce(target, logits):
    # Averaged over every patch and the batch, as the author's code.
    return ops.mean(binary_cross_entropy_logits(target, logits))


def discriminator_loss(real_logits, fake_logits):
    """PatchGAN discriminator loss: BCE(1, D(x)) + BCE(0, D(x_hat)).

    GAMIX-VAE section 3.2 (the PatchGAN of Isola et al. 2017); binary
    cross-entropy on logits averaged over the patches, as the author's code.
    """
    return _bce(1.0, real_logits) + _bce(0.0, fake_logits)


def patch_generator_loss(fake_logits):
    """The decoder's non-saturating PatchGAN term BCE(1, D(x_hat)): reconstructions should pass for data.

    GAMIX-VAE section 3.2 (the loss "that evaluates how realistic each
    reconstruction region appears"), averaged over the patches.
    """
    return _bce(1.0, fake_logits)


def generator_adversarial_loss(fake_logits):
    """Deprecated name of `patch_generator_loss` (same value)."""
    warnings.warn(
        "keras_vaes.losses.gamix.generator_adversarial_loss is deprecated: use "
        "patch_generator_loss (the Prior-AAE's opposite term is "
        "keras_vaes.losses.learned_priors.code_generator_loss).",
        DeprecationWarning, stacklevel=2,
    )
    return patch_generator_loss(fake_logits)
