"""The two-stage VAE: both stages, their training in sequence, generation.

Asperti, "Variance Loss in Variational Autoencoders" (LOD 2020), on Dai &
Wipf's two-stage VAE (ICLR 2019), as in the authors' BalancingVAE code.
`TwoStageVAE`, a `keras.Model`, holds a `FirstStage` and a `SecondStage`
(both in `keras_vaes.models.stages`, and importable from here) and saves
both in one `.weights.h5`; its declared prior is the second stage (a
`samplers.SecondStageSampler` on it), so `generate(n)` is GEN-2. It trains
the stages as the authors' scripts (`fit_first_stage`, `fit_second_stage`,
through `keras_vaes.models.stage_training`). It generates GEN-1 (z ~ N(0, I)) and GEN-2 (u ~ N(0,
I) -> second decoder -> z), with or without the paper's renormalisation
(section 4); each difference from the paper's text is a named switch
(`target`, `rescale_images`, `sample`, `renormalization_batch`,
`latent_noise`).
"""

import math
import types

import keras

from keras_vaes import samplers
from keras_vaes.layers import PACKAGE
from keras_vaes.metrics import diagnostics
from keras_vaes.models.base import GenerativeModel
# The stage training, importable from here (scripts resume runs with it).
from keras_vaes.models.stage_training import (  # noqa: F401
    ADAM_EPSILON,
    EpochBatches,
    EpochCheckpoint,
    compile_stage,
    fit_stage,
)
# The stages, importable from here as before the split.
from keras_vaes.models.stages import (  # noqa: F401
    FirstStage,
    GaussianVAE,
    SecondStage,
    first_stage_kl_weight,
)
from keras_vaes.samplers.renormalization import RENORMALIZATION_TARGETS
from keras_vaes.samplers.second_stage import Renormalization, SecondStageSampler  # noqa: F401
from keras_vaes.utils import check_positive_int


def _architecture(stage):
    """A stage's serialized config, without its compile config (training state, not architecture)."""
    config = keras.saving.serialize_keras_object(stage)
    config.pop("compile_config", None)
    return config


@keras.saving.register_keras_serializable(package=PACKAGE)
class TwoStageVAE(GenerativeModel):
    """The two stages, their training in sequence, and generation.

    A `keras.Model` holding its stages as attributes, as a keras-hub Task
    holds its Backbone: `first_stage` (a `FirstStage`) and `second_stage`
    (a `SecondStage` on the first stage's latents). `save_weights` /
    `load_weights` / `export_weights` write and read ONE `.weights.h5`
    holding both (gammas included); `get_config` holds both stages'
    configs. It follows the model contract (`keras_vaes.models.contract`):
    `encode` / `decode` / `reconstruct` are the first stage's, and the
    declared `prior` is the second stage (a `SecondStageSampler` on it), so
    `generate(n)` is GEN-2. `fit_first_stage` / `fit_second_stage` train
    the stages as the authors' scripts; `model.fit` is refused.
    `build_two_stage_vae` builds one.

    Args:
        first_stage: a `FirstStage`.
        second_stage: a `SecondStage` with the first stage's `latent_dim`.
        **kwargs: `keras.Model`'s (`name`, `trainable`).

    Example:
    >>> first = FirstStage((16, 16, 1), 8, base_dim=8, num_scale=2, fc_dim=16)
    >>> model = TwoStageVAE(first, SecondStage(8, second_dim=16))
    >>> model.generate(2, stage=1, seed=0)["x_hat"].shape
    (2, 16, 16, 1)
    >>> model.prior.sample(3, seed=0).shape
    (3, 8)
    """

    value_range = (0.0, 1.0)
    # `compile` gives each stage its optimizer (Adam with TF1's epsilon by default).
    optimizer_roles = ("first_stage", "second_stage")

    def __init__(self, first_stage, second_stage, **kwargs):
        if not isinstance(first_stage, FirstStage) or not isinstance(second_stage, SecondStage):
            raise TypeError(
                "Expected a FirstStage and a SecondStage. Received: "
                f"first_stage={type(first_stage).__name__}, "
                f"second_stage={type(second_stage).__name__}"
            )
        if first_stage.latent_dim != second_stage.latent_dim:
            raise ValueError(
                "The second stage must model the first stage's latents. Received: "
                f"latent_dim {first_stage.latent_dim} and {second_stage.latent_dim}"
            )
        kwargs.setdefault("name", "two_stage_vae")
        super().__init__(**kwargs)

        # === Layers ===
        self.first_stage = first_stage
        self.second_stage = second_stage
        self.built = True

        # === Config ===
        self.image_shape = first_stage.image_shape
        self.latent_dim = first_stage.latent_dim
        # The second stage as a sampler: GEN-2 and the renormalisation statistics.
        self.sampler = SecondStageSampler(model=second_stage)
        # What was done to make inference work (recalibrations), for reports.
        self.notes = []

    def get_config(self):
        return {
            **super().get_config(),
            "first_stage": _architecture(self.first_stage),
            "second_stage": _architecture(self.second_stage),
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("first_stage", "second_stage"):
            if isinstance(config[key], dict):
                config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)

    @property
    def prior(self):
        """The declared prior: the second stage, as a `SecondStageSampler`.

        `prior.sample(num_samples, seed=None)` draws u ~ N(0, I) and decodes
        it into first-stage latent codes (GEN-2, no renormalisation). An
        untrained second stage is still this prior (its codes then carry no
        information): train it with `fit_second_stage`.
        """
        return self.sampler

    @property
    def renormalization(self):
        """The `Renormalization` statistics (`fit_renormalization`), or None."""
        return self.sampler.renormalization

    @renormalization.setter
    def renormalization(self, stats):
        self.sampler.renormalization = stats

    def count_params(self):
        """The parameters of both stages' networks (gamma is not one)."""
        return self.first_stage.count_params() + self.second_stage.count_params()

    def call(self, images, training=None):
        """The first stage's outputs `{"x_hat", "z_mean", "z_log_var"}` on `images`."""
        return self.first_stage(images, training=training)

    # --- Contract hooks -----------------------------------------------------

    def _encode_arrays(self, images, labels, batch_size):
        posterior = self.first_stage.encode(images, batch_size=batch_size)
        return posterior.mean, posterior.log_var

    def _decode_arrays(self, z, labels, batch_size):
        return self.first_stage.decode(z, batch_size=batch_size)

    def _prior_latents(self, n, seed, labels):
        return self.sampler.sample(n, seed=seed, renormalize=False, latent_noise=False)

    # --- Compiling ------------------------------------------------------------

    def default_optimizer(self, role):
        """Adam(1e-4, epsilon 1e-8), TF1's `AdamOptimizer` as the authors' scripts."""
        return keras.optimizers.Adam(1e-4, epsilon=ADAM_EPSILON)

    def compile(self, optimizer=None, **kwargs):
        """Compiles each stage with its own optimizer (`fit_first_stage` / `fit_second_stage` use them).

        Args:
            optimizer: one optimizer (each stage gets a copy), a mapping
                `{"first_stage": ..., "second_stage": ...}`, or None for
                the authors' Adam (epsilon 1e-8). The fits' learning-rate
                schedule sets the rate every epoch.
            **kwargs: passed to each stage's `compile`.
        """
        optimizers = self._optimizers_for(optimizer)
        self.first_stage.compile(optimizer=optimizers["first_stage"], **kwargs)
        self.second_stage.compile(optimizer=optimizers["second_stage"], **kwargs)
        self.role_optimizers = types.MappingProxyType(optimizers)

    def fit(self, *args, **kwargs):
        """Refused: the stages train in sequence, `fit_first_stage` then `fit_second_stage`."""
        raise TypeError(
            "TwoStageVAE trains its stages in sequence: call fit_first_stage(images, epochs), "
            "then fit_second_stage(images, epochs) (each stage's own `fit` also works). "
            f"Received: fit with {len(args)} positional and keyword arguments {sorted(kwargs)}"
        )

    # --- Training -----------------------------------------------------------

    def fit_first_stage(self, images, epochs, batch_size=100, learning_rate=1e-4,
                        lr_epochs=0, lr_factor=0.5, callbacks=None, verbose="auto",
                        initial_epoch=0, seed=None):
        """Trains the first stage on images, as the authors' loop.

        Adam(epsilon 1e-8), lr * lr_factor^floor(epoch / lr_epochs), data
        reshuffled every epoch, the last partial batch dropped. Epochs run
        from `initial_epoch` to `epochs` (resuming keeps the schedule).

        Args:
            images: training images `(N, H, W, C)` in [0, 1].
            epochs: int. The epoch to stop after.
            batch_size: int. Defaults to 100.
            learning_rate: float. Initial learning rate. Defaults to 1e-4.
            lr_epochs: int. Epochs between decays; 0 (default) keeps it.
            lr_factor: float. Decay factor. Defaults to 0.5.
            callbacks: more Keras callbacks, or None.
            verbose: Keras's `fit` verbosity.
            initial_epoch: int. The epoch to start from (resuming).
            seed: int or None. Seed of the shuffling.

        Returns:
            Keras's `History` of the first stage.
        """
        images = self.first_stage.check_input(images)
        return fit_stage(self.first_stage, EpochBatches(images, batch_size, seed), epochs,
                         learning_rate, lr_epochs, lr_factor, callbacks, verbose, initial_epoch)

    def first_stage_codes(self, images, batch_size=100, recalibrate="auto",
                          check_images=2000, recalibration_images=10000):
        """The first stage's posterior of `images` through a working inference mode.

        The batch norm's moving statistics (TF1's debiased average by
        default, as the authors) average the batch statistics of roughly
        the last 1 / (1 - momentum) = 1,000 steps: after a short run they
        still describe an earlier network. With `recalibrate="auto"` the
        inference mode is checked first on `check_images` of `images`
        (`diagnostics.model_reconstruction_health`: against the mean image
        and the training MSE) and, only if it fails, the statistics are
        recomputed on `recalibration_images` of them
        (`recalibrate_batch_norm`); True always recalibrates, False never.
        What was found and done is appended to `self.notes`.

        Returns:
            The `Posterior` of `images`.
        """
        if recalibrate not in ("auto", True, False):
            raise ValueError(
                f"`recalibrate` must be 'auto', True or False. Received: recalibrate={recalibrate!r}"
            )
        stage = self.first_stage
        images = stage.check_input(images)
        if recalibrate == "auto":
            health = diagnostics.model_reconstruction_health(
                stage, images[:check_images], batch_size=batch_size, warn=False
            )
            recalibrate = not health.healthy
            self.notes.append(f"first-stage inference mode on {min(len(images), check_images)} "
                              f"training images: {health.summary()}")
        if recalibrate:
            count = min(len(images), recalibration_images)
            steps = stage.recalibrate_batch_norm(images[:count], batch_size=batch_size)
            health = diagnostics.model_reconstruction_health(
                stage, images[:check_images], batch_size=batch_size
            )
            self.notes.append(
                f"first-stage batch norm recalibrated on {steps * batch_size} training images "
                f"(zero_debias={stage.zero_debias}); then {health.summary()}"
            )
        return stage.encode(images, batch_size=batch_size)

    def fit_second_stage(self, images, epochs, batch_size=100, learning_rate=1e-4,
                         lr_epochs=0, lr_factor=0.5, callbacks=None, verbose="auto",
                         initial_epoch=0, seed=None, initial_mse=None, recalibrate="auto"):
        """Trains the second stage on the frozen first stage's posterior of `images`.

        As the authors: the posterior of the whole training set in inference
        mode (`first_stage_codes`), z = mu + sigma * eps drawn afresh, the
        last partial batch dropped, Adam(epsilon 1e-8), the step schedule,
        and the stage's OWN MSE estimate: 1 from scratch (or the state
        `load_weights` restored), never the first stage's
        (`SecondStageSampler.train`).

        Args:
            images: training images `(N, H, W, C)` in [0, 1], encoded by the
                first stage.
            epochs, batch_size, learning_rate, lr_epochs, lr_factor,
                callbacks, verbose, initial_epoch, seed: as `fit_first_stage`.
            initial_mse: float or None. Restart the second stage's MSE
                estimate from this value (e.g. the measured mse2 when
                resuming from weights without a stored gamma, as the
                authors); None keeps the stage's own state.
            recalibrate: see `first_stage_codes`.

        Returns:
            Keras's `History` of the second stage.
        """
        posterior = self.first_stage_codes(images, batch_size=batch_size, recalibrate=recalibrate)
        return self.sampler.train(
            posterior, epochs, batch_size=batch_size, learning_rate=learning_rate,
            lr_epochs=lr_epochs, lr_factor=lr_factor, initial_epoch=initial_epoch,
            initial_mse=initial_mse, callbacks=callbacks, verbose=verbose, seed=seed,
        )

    # --- Renormalisation and generation -------------------------------------

    def fit_renormalization(self, images, batch_size=100, seed=None, target="authors"):
        """Measures the renormalisation statistics on reference images.

        `SecondStageSampler.fit_renormalization` on their posterior (target
        std, var_loss2, mse2, the rule) and the data's mean per-pixel std
        (`samplers.mean_std`). The authors' latest code measures them on
        the 10,000 evaluation images (`evaluation.evaluation_images`).

        Args:
            images: reference images `(N, H, W, C)` in [0, 1].
            batch_size: int. Defaults to 100.
            seed: int or None. Seed of the second stage's sample of u.
            target: str. "authors" (default): sigma, not sigma^2, in the
                variance-law sum, as their code computes it;
                "variance_law": the variance law with sigma^2.

        Returns:
            The stored `Renormalization`.
        """
        if target not in RENORMALIZATION_TARGETS:
            raise ValueError(
                f"`target` must be one of {RENORMALIZATION_TARGETS}. "
                f"Received: target={target!r}"
            )
        images = self.check_input(images)
        posterior = self.encode(images, batch_size=batch_size)
        self.sampler.target = target
        stats = self.sampler.fit_renormalization(posterior, seed=seed, batch_size=batch_size)
        stats.data_std = samplers.mean_std(images)
        return stats

    def _require_renormalization(self):
        if self.renormalization is None:
            raise ValueError(
                "renormalize=True and rescale_images=True need the statistics of reference "
                "images: call `fit_renormalization(images)` first."
            )
        return self.renormalization

    def sample_latents(self, n, *, sampler=None, seed=None, labels=None, stage=None,
                       renormalize=False, batch_size=100, renormalization_batch=100,
                       latent_noise=False):
        """Latents z for generation: N(0, I) (stage 1) or the second stage's (stage 2).

        With `renormalize` and an evident variance loss of the second stage
        (var_loss2 / mse2 > 0.25), as the authors' `generate`: GEN-1
        latents are multiplied by the target std (`z * adjust2`); GEN-2
        latents are rescaled to it around 0, each generation batch of
        `renormalization_batch` by its own std
        (`SecondStageSampler.sample`).

        Args:
            n: int. Number of latent vectors.
            sampler: None, or any fitted sampler (then `stage` must be None).
            seed: int or None. Seed of the N(0, I) draw.
            labels: must be None (unconditional).
            stage: 1, 2, or None (2 without a sampler).
            renormalize: bool. Defaults to False.
            batch_size: int. Decoding batch size.
            renormalization_batch: int or None. Vectors per std measurement
                of GEN-2: 100, the authors' generation batch (default), or
                None for the whole sample.
            latent_noise: bool. GEN-2 with Dai & Wipf's gamma_z noise,
                z ~ N(f_2(u), gamma_z^2 I). Defaults to False (BalancingVAE).
        """
        self._labels_for(labels, n)
        if sampler is not None:
            if stage is not None or renormalize or latent_noise:
                raise ValueError(
                    "`stage`, `renormalize` and `latent_noise` choose among the model's own "
                    "latents; with `sampler=` they do not apply. Received: "
                    f"stage={stage!r}, renormalize={renormalize!r}, latent_noise={latent_noise!r}"
                )
            return super().sample_latents(n, sampler=sampler, seed=seed)
        stage = 2 if stage is None else stage
        if stage not in (1, 2):
            raise ValueError(f"`stage` must be 1 or 2. Received: stage={stage!r}")
        n = check_positive_int(n, "n")
        stats = self._require_renormalization() if renormalize else None
        if stage == 2:
            return self.sampler.sample(
                n, seed=seed, renormalize=bool(renormalize), latent_noise=latent_noise,
                renormalization_batch=renormalization_batch, batch_size=batch_size,
            )
        if latent_noise:
            raise ValueError("`latent_noise` is the second stage's gamma_z noise: use stage=2.")
        z = samplers.NormalSampler(self.latent_dim).sample(n, seed=seed)
        if stats is not None and stats.renormalize_latents:
            target_std = stats.target_std or math.sqrt(stats.variance_law)
            z = (z * target_std).astype("float32")
        return z

    def generate(self, n, *, sampler=None, seed=None, labels=None, batch_size=100,
                 stage=None, renormalize=False, rescale_images=False,
                 renormalization_batch=100, latent_noise=False):
        """Generates `n` images: GEN-2 (default), GEN-1 (`stage=1`) or from `sampler`.

        Args:
            n: int. Number of images.
            sampler: None (the model's own prior: the second stage), or any
                fitted sampler of `keras_vaes.samplers`.
            seed: int or None.
            labels: must be None (unconditional).
            batch_size: int. Decoding batch size.
            stage: 1 (z ~ N(0, I)), 2 (through the second stage) or None (2).
            renormalize: bool. Renormalise the latents (`sample_latents`).
            rescale_images: bool. Also rescale the images around their
                per-pixel mean to the data's mean per-pixel std, then clip
                (`samplers.renormalize_images`). False (default) is the
                authors' protocol, which never rescales generated images;
                True is the package's extension.
            renormalization_batch: int or None. See `sample_latents`.
            latent_noise: bool. Dai & Wipf's gamma_z noise at GEN-2.

        Returns:
            A dict with `"x_hat"`, float32 `(n, H, W, C)` in [0, 1].
        """
        z = self.sample_latents(
            n, sampler=sampler, seed=seed, labels=labels, stage=stage, renormalize=renormalize,
            batch_size=batch_size, renormalization_batch=renormalization_batch,
            latent_noise=latent_noise,
        )
        decoded = self.decode(z, batch_size=batch_size)
        if rescale_images:
            decoded["x_hat"] = samplers.renormalize_images(
                decoded["x_hat"], self._require_renormalization().data_std
            )
        return decoded

    def reconstruct(self, images, *, sample=False, seed=None, labels=None, batch_size=100,
                    renormalize=False):
        """Reconstructions (REC), optionally rescaled as the authors'.

        Args:
            images: array `(N, H, W, C)` in [0, 1].
            sample: bool. Decode a sampled z = mu + sigma * eps (the
                authors' REC in both papers' code; the evaluation passes
                True) or the posterior mean (False, the contract's default).
            seed: int or None. Seed of eps.
            labels: must be None.
            batch_size: int.
            renormalize: bool. Rescale the reconstructions around their
                per-pixel mean to the data's mean per-pixel std and clip
                (the authors do, whenever they renormalise).

        Returns:
            A dict with `"x_hat"`.
        """
        decoded = super().reconstruct(images, sample=sample, seed=seed, labels=labels,
                                      batch_size=batch_size)
        if renormalize:
            decoded["x_hat"] = samplers.renormalize_images(
                decoded["x_hat"], self._require_renormalization().data_std
            )
        return decoded

    def reconstruction_health(self, images, batch_size=100, warn=True):
        """`diagnostics.reconstruction_health` of the first stage on `images`."""
        return diagnostics.model_reconstruction_health(
            self.first_stage, images, batch_size=batch_size, warn=warn
        )

    # --- Saving -------------------------------------------------------------

    # `save_weights` / `load_weights` / `export_weights` are the package's
    # (`SafeSaving`): one `.weights.h5` with both stages under `first_stage/`
    # and `second_stage/`, their gammas included.

    def load_weights(self, filepath, *args, **kwargs):
        """Loads one `.weights.h5` of both stages, wholly or not at all.

        Returns:
            True when both stages' gammas were restored (`gamma_restored`).
        """
        super().load_weights(filepath, *args, **kwargs)
        return bool(self.first_stage.gamma_restored and self.second_stage.gamma_restored)

    def _state_variables(self):
        # A failed load restores the stages' gammas and optimizers too.
        found = list(super()._state_variables())
        seen = {id(v) for v in found}
        for stage in (self.first_stage, self.second_stage):
            optimizer = stage.optimizer if stage.compiled else None
            for metric in stage.metrics:
                found += [v for v in metric.variables if id(v) not in seen]
            if optimizer is not None:
                found += [v for v in optimizer.variables if id(v) not in seen]
            seen = {id(v) for v in found}
        return found

    def _export_state(self, bare):
        # Gamma and the MSE estimate live outside `get_weights()`.
        self.first_stage.copy_balancing_to(bare.first_stage)
        self.second_stage.copy_balancing_to(bare.second_stage)


def build_two_stage_vae(input_shape, latent_dim=64, *, second_dim=1024, second_depth=3,
                        second_initial_mse=1.0, seed=None, **first_stage_kwargs):
    """Builds the authors' two-stage VAE (BalancingVAE code).

    Their configurations (latent 64, base_dim 32, fc_dim 512, second_depth
    3): CIFAR-10 `((32, 32, 3), num_scale=3, second_dim=2048)`; CelebA
    `((64, 64, 3), num_scale=4, second_dim=4096)`.

    Args:
        input_shape: tuple (H, W, C) of the images.
        latent_dim: int. Dimension of z. Defaults to 64.
        second_dim: int. Width of the second stage's dense layers.
            Defaults to 1024.
        second_depth: int. Dense layers per side of the second stage.
            Defaults to 3.
        second_initial_mse: float. Starting MSE estimate of the second
            stage (1 in the authors' scripts, whatever the first stage's).
        seed: int or None. Seed of the first stage's sampling (the second
            stage takes seed + 1).
        **first_stage_kwargs: the other arguments of `FirstStage`
            (`base_dim`, `num_scale`, `fc_dim`, `l2_reg`, `initial_mse`,
            `zero_debias`, ...).

    Returns:
        A `TwoStageVAE` with `.first_stage` (`FirstStage`) and
        `.second_stage` (`SecondStage`).

    Example:
    >>> model = build_two_stage_vae((16, 16, 1), 8, base_dim=8, num_scale=2,
    ...                             fc_dim=16, second_dim=16)
    >>> model.generate(4, seed=0)["x_hat"].shape
    (4, 16, 16, 1)
    """
    first = FirstStage(input_shape, latent_dim, seed=seed, name="first_stage", **first_stage_kwargs)
    second = SecondStage(
        latent_dim, second_dim=second_dim, second_depth=second_depth,
        initial_mse=second_initial_mse, seed=None if seed is None else seed + 1,
        name="second_stage",
    )
    return TwoStageVAE(first, second)
