"""Loss terms of the learned-priors paper, each written once with `keras.ops`.

"Empirical observations pertaining to learned priors for deep latent
variable models": the change of variables of the flow prior (eq. 4), the
split FP-VAE objective (eq. 5-8) with its KL annealing (section 4.1), and
the non-saturating adversarial terms of the AAE and Prior-AAE (section 2.1
and 3). Shapes: per-sample terms return (N,), objectives return scalars
(batch means). Everything is computed in float32.
"""

import math
import warnings

from keras import ops

from keras_vaes.losses.adversarial import binary_cross_entropy_logits
from keras_vaes.losses.gaussian import squared_error

LOG_2PI = math.log(2.0 * math.pi)


def _float32(x):
    return ops.cast(x, "float32")


def gaussian_log_density(z, mean, log_var):
    """log N(z; mean, diag(exp(log_var))) per sample, summed over latents.

    The posterior's log q(z|x) in eq. 5 and 7 (a diagonal Gaussian), also
    the base density of the flow with `log_var = 0`:
    -0.5 * sum(log 2 pi + log_var + (z - mean)^2 / exp(log_var)).

    Returns:
        Tensor (N,).
    """
    z, mean, log_var = _float32(z), _float32(mean), _float32(log_var)
    return -0.5 * ops.sum(
        LOG_2PI + log_var + ops.square(z - mean) * ops.exp(-log_var), axis=-1
    )


def flow_log_prob(z_0, log_det, base_mean=None):
    """log p(z_T) by the change of variables (learned-priors paper, eq. 4).

    log p(z_T) = log N(f(z_T); mu, I) + log|det df/dz_T|, with z_0 = f(z_T)
    and mu = 0 (or the label's mean for the conditional prior, section 6).

    Args:
        z_0: tensor (N, d), f(z_T).
        log_det: tensor (N,), log|det df/dz_T|.
        base_mean: tensor (N, d) or None (zero).

    Returns:
        Tensor (N,).
    """
    z_0 = _float32(z_0)
    mean = ops.zeros_like(z_0) if base_mean is None else _float32(base_mean)
    return gaussian_log_density(z_0, mean, ops.zeros_like(z_0)) + _float32(log_det)


def kl_annealing(step, anneal_steps):
    """Annealing factor a_t = min(1, t / anneal_steps) (section 4.1).

    "We linearly anneal the KL divergence term from 0 to gamma over the
    first 50k iterations"; `anneal_steps = 0` disables annealing (a_t = 1).
    """
    if not anneal_steps:
        return ops.ones_like(_float32(step))
    return ops.minimum(1.0, _float32(step) / float(anneal_steps))


def reconstruction_error(x, x_hat):
    """-log p(x|z) of a Gaussian decoder of unit variance, up to a constant:
    0.5 * sum((x - x_hat)^2) per sample (eq. 5, 7 and 8).
    """
    return 0.5 * squared_error(x, x_hat)


def fp_vae_loss(x, x_hat, z, z_mean, z_log_var, log_prior, kl_weight, rec=None):
    """The split FP-VAE objective (eq. 5-8) as ONE loss, batch-averaged.

    Encoder/decoder (phi, psi) minimise eq. 7 negated,
    rec + c * (log q(z|x) - log p_theta(z)), with c = gamma * beta * a_t;
    the prior (theta) minimises -log p_theta(z) (eq. 6) with weight 1,
    whatever c is, never annealed. One flow evaluation gives both: the
    caller evaluates `log_prior` at z' = c * z + (1 - c) * sg(z), whose
    value is z but whose gradient reaches z (hence phi) scaled by c, so

        loss = mean[rec + c * log q(z|x) - log p_theta(z')]

    has d/dtheta = -d log p/dtheta and d/dphi = d rec/dphi + c * d(log q -
    log p)/dphi. At beta = 0 (eq. 8) the encoder gets no gradient from the
    prior: an unregularised autoencoder beside a density estimator.

    Args:
        x, x_hat: images (N, H, W, C).
        z: the posterior sample z = mean + sigma * eps (N, d).
        z_mean, z_log_var: posterior parameters (N, d).
        log_prior: tensor (N,), log p_theta(z') (see above).
        kl_weight: scalar c = gamma * beta * a_t.
        rec: tensor (N,) or None. The per-sample reconstruction term when
            it is not the Gaussian 0.5 * ||x - x_hat||^2 (e.g. the
            perceptual loss of section 5); None computes the Gaussian one.

    Returns:
        `(loss, rec, kl, prior_nll)`: the loss, the batch means of the
        reconstruction term, of the Monte Carlo KL log q(z|x) - log p(z)
        and of -log p_theta(z).
    """
    rec = reconstruction_error(x, x_hat) if rec is None else _float32(rec)
    log_q = gaussian_log_density(z, z_mean, z_log_var)
    log_prior = _float32(log_prior)
    loss = ops.mean(rec + kl_weight * log_q - log_prior)
    return loss, ops.mean(rec), ops.mean(log_q - log_prior), ops.mean(-log_prior)


def merged_prior_input(z, kl_weight):
    """z' = c * z + (1 - c) * sg(z): z, with its gradient scaled by c (eq. 7)."""
    return kl_weight * z + (1.0 - kl_weight) * ops.stop_gradient(z)


def latent_discriminator_loss(logits_prior, logits_posterior):
    """Discriminator loss of the AAE / Prior-AAE (Makhzani et al. 2016).

    Codes of the prior (N(0, I) for the AAE, the generator's G(z_0) for the
    Prior-AAE) are labelled 1, the encoder's codes 0:
    mean[BCE(1, D(z_prior))] + mean[BCE(0, D(E(x)))].
    """
    return ops.mean(binary_cross_entropy_logits(1.0, logits_prior)) + ops.mean(
        binary_cross_entropy_logits(0.0, logits_posterior)
    )


def encoder_adversarial_loss(logits_posterior):
    """Non-saturating regulariser of the encoder: mean[BCE(1, D(E(x)))].

    Pushes the encoder's codes toward the prior (AAE); the paper weights it
    by beta (section 3, "apply a hyperparameter beta to control the strength
    of the adversarial loss applied to q_phi(z)").
    """
    return ops.mean(binary_cross_entropy_logits(1.0, logits_posterior))


def code_generator_loss(logits_generated):
    """The Prior-AAE code generator's non-saturating loss mean[BCE(0, D(G(z_0)))].

    Prior codes are labelled 1 and the encoder's 0, so G learns to produce
    codes the discriminator takes for the encoder's (section 2.1, "a GAN is
    used to learn the prior"): the target is 0, the opposite of a data GAN's.
    """
    return ops.mean(binary_cross_entropy_logits(0.0, logits_generated))


def generator_adversarial_loss(logits_generated):
    """Deprecated name of `code_generator_loss` (same value)."""
    warnings.warn(
        "keras_vaes.losses.learned_priors.generator_adversarial_loss is deprecated: use "
        "code_generator_loss (GAMIX-VAE's opposite term is "
        "keras_vaes.losses.gamix.patch_generator_loss).",
        DeprecationWarning, stacklevel=2,
    )
    return code_generator_loss(logits_generated)
