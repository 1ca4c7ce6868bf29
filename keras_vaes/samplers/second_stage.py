"""The second stage of a two-stage VAE as an ex-post latent sampler.

Dai & Wipf, "Diagnosing and enhancing VAE models" (ICLR 2019), section 4:
a second VAE (`keras_vaes.models.stages.SecondStage`) is fitted on the
codes of a trained first stage; sampling draws u ~ N(0, I) and decodes it
into z. Asperti, "Variance Loss in Variational Autoencoders" (LOD 2020),
section 4, adds the balancing of gamma_z and, when the second stage shows
a variance loss (var_loss2 / mse2 > 0.25), renormalises the generated z
to the target std (their adjust2). Fitted on the codes of ANY model of the
package, it is a sampler like `GMMSampler`.
"""

import dataclasses
import typing

import numpy as np

from keras_vaes.metrics import diagnostics
from keras_vaes.models.stage_training import EpochBatches, fit_stage
from keras_vaes.models.stages import SecondStage
from keras_vaes.samplers.base import (
    LatentSampler,
    Posterior,
    _check_count,
    _check_latent_matrix,
    _rng,
    encode_images,
    seeded_generator,
)
from keras_vaes.samplers.renormalization import (
    RENORMALIZATION_TARGETS,
    renormalization_target_std,
    renormalize_latents,
    should_renormalize_latents,
)
from keras_vaes.utils import check_positive_int


@dataclasses.dataclass
class Renormalization:
    """What the renormalisation at generation needs, measured on data.

    Attributes:
        variance_law: float. Mean variance law of the codes
            (`diagnostics.variance_law`, with sigma^2).
        latent_variance_loss: float. Variance loss of the second stage's
            reconstruction of the code means (var_loss2).
        latent_mse: float. MSE of that reconstruction (mse2).
        renormalize_latents: bool. var_loss2 / mse2 > 0.25
            (`should_renormalize_latents`).
        data_std: float or None. Mean per-pixel std of the reference images
            (set by `TwoStageVAE.fit_renormalization`; None for codes only).
        target_std: float. Std the renormalised latents get (the authors'
            adjust2; `renormalization_target_std`).
        target: str. How `target_std` was computed: "authors" (sigma in
            the variance-law sum, as their code) or "variance_law"
            (sigma^2).
    """

    variance_law: float
    latent_variance_loss: float
    latent_mse: float
    renormalize_latents: bool
    data_std: typing.Optional[float] = None
    target_std: typing.Optional[float] = None
    target: str = "authors"

    @property
    def ratio(self):
        """var_loss2 / mse2, what the authors' rule compares with 0.25."""
        return self.latent_variance_loss / self.latent_mse if self.latent_mse > 0 else float("nan")


def _posterior_parts(codes):
    """`(mean, log_var or None)` of a Posterior, a (mean, log_var) dict, or a matrix."""
    if isinstance(codes, Posterior):
        mean, log_var = codes.mean, codes.log_var
    elif isinstance(codes, dict):
        if set(codes) != {"z_mean", "z_log_var"}:
            raise ValueError(
                "Expected codes as {'z_mean': ..., 'z_log_var': ...}. "
                f"Received keys: {sorted(codes)}"
            )
        mean, log_var = codes["z_mean"], codes["z_log_var"]
    else:
        mean, log_var = codes, None
    mean = _check_latent_matrix(mean, "codes").astype(np.float32)
    if log_var is not None:
        log_var = _check_latent_matrix(log_var, "log_var").astype(np.float32)
        if log_var.shape != mean.shape:
            raise ValueError(
                "The codes' mean and log_var must have the same shape. Received: "
                f"{mean.shape} and {log_var.shape}"
            )
    return mean, log_var


class SecondStageSampler(LatentSampler):
    """A second-stage VAE fitted on codes, sampled through its decoder.

    `fit(codes)` trains the second stage as the authors' scripts: on
    z = mu + sigma * eps drawn afresh (when the codes are a `Posterior`
    with `log_var`; on the means otherwise), its own MSE estimate starting
    at `initial_mse` (1), Adam(epsilon 1e-8), batches of `batch_size` with
    the last partial one dropped, lr * lr_factor^floor(epoch / lr_epochs).
    `sample(n)` decodes u ~ N(0, I): the second decoder's mean (Asperti),
    plus gamma_z noise with `latent_noise=True` (Dai & Wipf's
    z ~ N(f_2(u), gamma_z I)), renormalised with `renormalize=True` when
    the authors' rule fires.

    Args:
        latent_dim: int or None. Dimension of the codes; None takes it from
            the first `fit`.
        second_dim: int. Width of the dense layers. Defaults to 1024.
        second_depth: int. Dense layers per side. Defaults to 3.
        epochs: int. Defaults to 100.
        batch_size: int. Defaults to 100.
        learning_rate: float. Defaults to 1e-4.
        lr_epochs: int. Step of the decay (0: constant). Defaults to 0.
        lr_factor: float. Defaults to 0.5.
        initial_mse: float. Starting MSE estimate of gamma_z. Defaults to 1.
        renormalize: bool. Apply the authors' latent renormalisation in
            `sample` (statistics from `fit_renormalization`, else measured
            on the training codes at the end of `fit`). Defaults to False.
        target: str. "authors" or "variance_law" (see
            `renormalization_target_std`). Defaults to "authors".
        renormalization_batch: int or None. Vectors per std measurement
            (the authors' generation batch, 100), None for the whole sample.
        latent_noise: bool. Add gamma_z * eps to the decoded z (Dai & Wipf).
            Defaults to False (Asperti's BalancingVAE).
        seed: int or None. Seed of the network's initial weights, of
            training noise and order, and of the sampler's own generator;
            None draws from the global state (`keras.utils.set_random_seed`).
        model: a `SecondStage` to use (e.g. a trained one) instead of a new one.
        verbose: Keras `fit` verbosity. Defaults to 0.

    Example:
    >>> codes = np.random.default_rng(0).normal(size=(200, 4)).astype("float32")
    >>> sampler = SecondStageSampler(second_dim=8, epochs=1, batch_size=50, seed=0)
    >>> sampler.fit(codes).sample(3, seed=0).shape
    (3, 4)
    """

    def __init__(self, latent_dim=None, second_dim=1024, second_depth=3, epochs=100,
                 batch_size=100, learning_rate=1e-4, lr_epochs=0, lr_factor=0.5,
                 initial_mse=1.0, renormalize=False, target="authors",
                 renormalization_batch=100, latent_noise=False, seed=None, model=None,
                 verbose=0):
        if target not in RENORMALIZATION_TARGETS:
            raise ValueError(
                f"`target` must be one of {RENORMALIZATION_TARGETS}. Received: target={target!r}"
            )
        if renormalization_batch is not None:
            check_positive_int(renormalization_batch, "renormalization_batch", minimum=2)
        self.second_dim = check_positive_int(second_dim, "second_dim")
        self.second_depth = check_positive_int(second_depth, "second_depth")
        self.epochs = check_positive_int(epochs, "epochs", minimum=0)
        self.batch_size = check_positive_int(batch_size, "batch_size")
        self.learning_rate = float(learning_rate)
        self.lr_epochs = lr_epochs
        self.lr_factor = float(lr_factor)
        self.initial_mse = float(initial_mse)
        self.renormalize = bool(renormalize)
        self.target = target
        self.renormalization_batch = renormalization_batch
        self.latent_noise = bool(latent_noise)
        self.seed = seed
        self.verbose = verbose
        self._rng = seeded_generator(seed)
        self.renormalization = None
        self.model = model
        self.latent_dim = None
        if model is not None:
            self.latent_dim = model.latent_dim
        elif latent_dim is not None:
            self.latent_dim = check_positive_int(latent_dim, "latent_dim")
        self.fitted = model is not None

    # --- The second-stage network ---------------------------------------------

    def _ensure_model(self, latent_dim):
        if self.latent_dim is not None and latent_dim != self.latent_dim:
            raise ValueError(
                f"Expected codes of dimension {self.latent_dim}. Received: codes of dimension "
                f"{latent_dim}"
            )
        if self.model is None:
            self.model = SecondStage(
                latent_dim, second_dim=self.second_dim, second_depth=self.second_depth,
                initial_mse=self.initial_mse, seed=self.seed, name="second_stage",
            )
        self.latent_dim = latent_dim
        return self.model

    @property
    def gamma(self):
        """gamma_z, the second stage's current decoder std (`SecondStage.gamma`)."""
        self._require_fitted(self.model is not None)
        return self.model.gamma

    # --- Fitting ----------------------------------------------------------------

    def train(self, codes, epochs=None, *, batch_size=None, learning_rate=None, lr_epochs=None,
              lr_factor=None, initial_epoch=0, initial_mse=None, callbacks=None, verbose=None,
              seed=None):
        """Trains the second stage on `codes`; returns Keras's `History`.

        The arguments default to the constructor's; `initial_mse` restarts
        the stage's MSE estimate (e.g. at the measured mse2 when resuming
        from weights without a stored gamma, as the authors), None keeps
        its state (1 from scratch); `initial_epoch` resumes the schedule.
        """
        mean, log_var = _posterior_parts(codes)
        model = self._ensure_model(mean.shape[1])
        if initial_mse is not None:
            model.balancer.reset(float(initial_mse))
        data = mean if log_var is None else {"z_mean": mean, "z_log_var": log_var}
        batch_size = self.batch_size if batch_size is None else batch_size
        history = fit_stage(
            model, EpochBatches(data, batch_size, self.seed if seed is None else seed),
            self.epochs if epochs is None else epochs,
            self.learning_rate if learning_rate is None else learning_rate,
            self.lr_epochs if lr_epochs is None else lr_epochs,
            self.lr_factor if lr_factor is None else lr_factor,
            callbacks, self.verbose if verbose is None else verbose, initial_epoch,
        )
        self.fitted = True
        return history

    def fit(self, codes):
        """Trains on `codes` with the constructor's settings.

        Args:
            codes: posterior means `(N, latent_dim)`, or a `Posterior` with
                `log_var` (trained on mu + sigma * eps, as the authors).

        Returns:
            `self`.
        """
        self.train(codes)
        if self.renormalize and self.renormalization is None:
            self.fit_renormalization(codes)
        return self

    def fit_on_encodings(self, model, images, batch_size=100):
        """Fits on `model.encode(images)`: its Posterior (mu + sigma * eps when it has log_var)."""
        return self.fit(encode_images(model, images, batch_size=batch_size))

    def fit_renormalization(self, codes, seed=None, batch_size=100):
        """Measures the renormalisation statistics on reference codes.

        As the authors' `computed_gamma.py` on the evaluation images: the
        target std of the latents (`self.target`), the second stage's
        variance loss and MSE on the code means (decoded from a sample of
        u, as their `reconstruct2`), and the rule var_loss2 / mse2 > 0.25.

        Args:
            codes: a `Posterior` (or a mean matrix: sigma is then taken as 0).
            seed: int or None. Seed of the second stage's sample of u.

        Returns:
            The stored `Renormalization`.
        """
        self._require_fitted(self.fitted)
        mean, log_var = _posterior_parts(codes)
        if log_var is None:
            # A deterministic encoder: no posterior spread (exp(log_var) = 0).
            log_var = np.full_like(mean, -np.inf)
        target_std = renormalization_target_std(mean, log_var, self.target)
        z_hat = self.model.reconstruct(mean, sample=True, seed=seed,
                                       batch_size=batch_size)["z_hat"]
        latent = diagnostics.variance_loss(mean, z_hat)
        self.renormalization = Renormalization(
            variance_law=diagnostics.variance_law(mean, log_var).mean,
            latent_variance_loss=latent["variance_loss"],
            latent_mse=latent["mse"],
            renormalize_latents=should_renormalize_latents(latent["variance_loss"], latent["mse"]),
            target_std=target_std,
            target=self.target,
        )
        return self.renormalization

    # --- Sampling ---------------------------------------------------------------

    def sample(self, n, seed=None, *, renormalize=None, latent_noise=None,
               renormalization_batch="default", batch_size=100):
        """`n` codes: u ~ N(0, I) through the second decoder, float32 `(n, latent_dim)`.

        Args:
            n: int.
            seed: int or None. Same seed, same codes (u, then the noise).
            renormalize: bool or None (the constructor's). With statistics
                whose rule fired (var_loss2 / mse2 > 0.25), each block of
                `renormalization_batch` codes is rescaled around 0 to the
                target std (`renormalize_latents`); extra codes are drawn to
                fill the last block, as the authors, and dropped.
            latent_noise: bool or None (the constructor's). Add gamma_z * eps.
            renormalization_batch: int, None, or "default" (the constructor's).
            batch_size: int. Decoding batch size.
        """
        self._require_fitted(self.fitted)
        n = _check_count(n)
        renormalize = self.renormalize if renormalize is None else renormalize
        latent_noise = self.latent_noise if latent_noise is None else latent_noise
        if renormalization_batch == "default":
            renormalization_batch = self.renormalization_batch
        stats = self._require_renormalization() if renormalize else None
        count = n
        if stats is not None and stats.renormalize_latents and renormalization_batch:
            count = -(-n // renormalization_batch) * renormalization_batch
        rng = _rng(seed, self._rng)
        u = rng.standard_normal((count, self.latent_dim)).astype(np.float32)
        z = self.model.decode(u, batch_size=batch_size)["z_hat"]
        if latent_noise:
            z = z + self.model.gamma * rng.standard_normal(z.shape)
        if stats is not None and stats.renormalize_latents:
            # Without a stored target std, the variance law's (its mean, sigma^2).
            variance = stats.target_std**2 if stats.target_std else stats.variance_law
            z = renormalize_latents(z, variance, batch_size=renormalization_batch)
        return np.asarray(z[:n], dtype=np.float32)

    def _require_renormalization(self):
        if self.renormalization is None:
            raise ValueError(
                "renormalize=True needs the statistics of reference data: call "
                "`fit_renormalization(codes)` (or `TwoStageVAE.fit_renormalization(images)`) "
                "first."
            )
        return self.renormalization
