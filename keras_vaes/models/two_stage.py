"""The two-stage VAE: both stages, their training in sequence, generation.

Asperti, "Variance Loss in Variational Autoencoders" (LOD 2020), on Dai &
Wipf's two-stage VAE (ICLR 2019), as in the authors' BalancingVAE code.
`TwoStageVAE` holds a `FirstStage` and a `samplers.SecondStageSampler`
whose network is a `SecondStage` (both in `keras_vaes.models.stages`, and
importable from here); it follows the model contract (`generate(n)` is
GEN-2) and trains the stages as the authors' scripts (`fit_first_stage`,
`fit_second_stage`). It generates GEN-1 (z ~ N(0, I)) and GEN-2 (u ~ N(0,
I) -> second decoder -> z), with or without the paper's renormalisation
(section 4); each difference from the paper's text is a named switch
(`target`, `rescale_images`, `sample`, `renormalization_batch`,
`latent_noise`).
"""

import json
import math
import os
import time

import keras
import numpy as np

from keras_vaes import samplers
from keras_vaes.metrics import diagnostics
from keras_vaes.models.contract import ModelContract as GenerativeModel
from keras_vaes.models.saving import unchanged_on_error
# The stages, importable from here as before the split.
from keras_vaes.models.stages import (  # noqa: F401
    FirstStage,
    GaussianVAE,
    SecondStage,
    first_stage_kl_weight,
)
from keras_vaes.samplers.renormalization import RENORMALIZATION_TARGETS
from keras_vaes.samplers.second_stage import Renormalization, SecondStageSampler  # noqa: F401
from keras_vaes.utils import atomic_write, check_positive_int, sha256


def _learning_rate_schedule(learning_rate, lr_epochs, lr_factor):
    # The authors' step decay: lr * lr_factor^floor(epoch / lr_epochs).
    def schedule(epoch, lr=None):
        if lr_epochs and lr_epochs > 0:
            return learning_rate * lr_factor ** math.floor(epoch / lr_epochs)
        return learning_rate

    return keras.callbacks.LearningRateScheduler(schedule)


# TF1's `AdamOptimizer` epsilon, the authors' optimiser (Keras's is 1e-7).
ADAM_EPSILON = 1e-8


def compile_stage(stage, learning_rate):
    """Compiles a stage with the authors' Adam and builds its state.

    Adam(learning_rate, epsilon=1e-8) as TF1's `AdamOptimizer`; building the
    state first lets `load_weights` of a training checkpoint restore Adam's
    moments and step count (resuming).
    """
    stage.compile(optimizer=keras.optimizers.Adam(learning_rate, epsilon=ADAM_EPSILON))
    stage.optimizer.build(stage.trainable_variables)
    return stage


class EpochBatches(keras.utils.PyDataset):
    """Whole batches of a reshuffled array (or dict of arrays), one epoch each.

    As the authors' loops: each epoch the data is shuffled and cut into
    `len // batch_size` batches, the last partial batch dropped. Epoch k's
    order is a function of (seed, k) (`set_epoch`), so a run resumed at
    epoch k (`initial_epoch`, `keras.callbacks.BackupAndRestore`) reads the
    batches of the uninterrupted run.

    Args:
        data: an array `(N, ...)`, or a dict of arrays with N rows each.
        batch_size: int. Rows per batch.
        seed: int or None. Seed of the shuffling (None: one drawn from
            NumPy's global state, which `keras.utils.set_random_seed` seeds).

    Example:
    >>> batches = EpochBatches(np.arange(10), 4, seed=0)
    >>> len(batches), batches[0].shape
    (2, (4,))
    """

    def __init__(self, data, batch_size, seed=None):
        super().__init__()
        arrays = data if isinstance(data, dict) else {None: data}
        sizes = {len(v) for v in arrays.values()}
        if len(sizes) != 1 or min(sizes) < batch_size:
            raise ValueError(
                f"Expected at least one batch of {batch_size} rows, the same number "
                f"in every array. Received: sizes {sorted(sizes)}"
            )
        self.arrays = arrays
        self.batch_size = int(batch_size)
        self.count = sizes.pop()
        self.seed = int(samplers.seeded_generator(None).integers(2**62)) if seed is None else seed
        self.set_epoch(0)

    def set_epoch(self, epoch):
        """Sets the order of the batches to epoch `epoch`'s (0-based)."""
        self.epoch = int(epoch)
        self.order = np.random.default_rng([self.seed, self.epoch]).permutation(self.count)

    def __len__(self):
        return self.count // self.batch_size

    def __getitem__(self, index):
        rows = np.sort(self.order[index * self.batch_size : (index + 1) * self.batch_size])
        batch = {k: v[rows] for k, v in self.arrays.items()}
        return batch[None] if None in batch else batch

    def on_epoch_end(self):
        self.set_epoch(self.epoch + 1)


class _BatchOrderOfEpoch(keras.callbacks.Callback):
    # Keras tells callbacks, not datasets, which epoch starts (a resumed
    # run starts at its `initial_epoch`).
    def __init__(self, batches):
        super().__init__()
        self.batches = batches

    def on_epoch_begin(self, epoch, logs=None):
        self.batches.set_epoch(epoch)


class EpochCheckpoint(keras.callbacks.Callback):
    """After every epoch: the stage's weights (with Adam's state) and one JSON line.

    The line holds the stage, the 1-based epoch, its logs and the wall time,
    so an interrupted run resumes from the last finished epoch
    (`TwoStageVAE.fit_first_stage(..., initial_epoch=...)`).

    Args:
        weights_path: the `.weights.h5` file rewritten after every epoch.
        log_path: the JSON-lines log, appended to.
        stage_name: str. What the log's `"stage"` field says.
    """

    def __init__(self, weights_path, log_path, stage_name):
        super().__init__()
        self.weights_path = os.fspath(weights_path)
        self.log_path = os.fspath(log_path)
        self.stage_name = stage_name

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.time()

    def on_epoch_end(self, epoch, logs=None):
        self.model.save_weights(self.weights_path)
        record = {"stage": self.stage_name, "epoch": epoch + 1,
                  "seconds": round(time.time() - self._start, 1)}
        record.update({k: float(v) for k, v in (logs or {}).items()})
        with open(self.log_path, "a") as f:
            f.write(json.dumps(record) + "\n")


def _fit_stage(stage, batches, epochs, learning_rate, lr_epochs, lr_factor, callbacks, verbose,
               initial_epoch):
    """`stage.fit` on `EpochBatches` with the authors' Adam and step schedule."""
    if not stage.compiled:
        compile_stage(stage, learning_rate)
    callbacks = [_BatchOrderOfEpoch(batches),
                 _learning_rate_schedule(learning_rate, lr_epochs, lr_factor)] + list(callbacks or [])
    # The batches are shuffled by `EpochBatches`' seed; Keras's shuffle of
    # their order would draw from Python's global state instead.
    return stage.fit(batches, epochs=epochs, initial_epoch=initial_epoch,
                     callbacks=callbacks, verbose=verbose, shuffle=False)


class TwoStageVAE(GenerativeModel):
    """The two stages, their training in sequence, and generation.

    Follows the model contract (`keras_vaes.models.contract`): `encode` /
    `decode` / `reconstruct` are the first stage's; `generate(n)` decodes
    the second stage's codes (`sampler=None`), or those of any fitted
    sampler. `fit_first_stage` / `fit_second_stage` train the stages as
    the authors' scripts. `build_two_stage_vae` builds one.

    Args:
        first_stage: a `FirstStage`.
        second_stage: a `SecondStage` on the first stage's latents, or None
            when `sampler` is given.
        sampler: a `samplers.SecondStageSampler` whose network
            (`sampler.model`) is the second stage, or None.

    Example:
    >>> first = FirstStage((16, 16, 1), 8, base_dim=8, num_scale=2, fc_dim=16)
    >>> model = TwoStageVAE(first, SecondStage(8, second_dim=16))
    >>> model.generate(2, stage=1, seed=0)["x_hat"].shape
    (2, 16, 16, 1)
    """

    value_range = (0.0, 1.0)

    def __init__(self, first_stage, second_stage=None, *, sampler=None):
        if (second_stage is None) == (sampler is None):
            raise ValueError(
                "Pass exactly one of `second_stage` (a SecondStage) and `sampler` (a "
                f"SecondStageSampler). Received: second_stage={type(second_stage).__name__}, "
                f"sampler={type(sampler).__name__}"
            )
        if sampler is None:
            sampler = SecondStageSampler(model=second_stage)
        if sampler.model is None or first_stage.latent_dim != sampler.model.latent_dim:
            raise ValueError(
                "The second stage must model the first stage's latents. Received: "
                f"latent_dim {first_stage.latent_dim} and "
                f"{None if sampler.model is None else sampler.model.latent_dim}"
            )
        self.first_stage = first_stage
        self.sampler = sampler
        self.image_shape = first_stage.image_shape
        self.latent_dim = first_stage.latent_dim
        # What was done to make inference work (recalibrations), for reports.
        self.notes = []

    @property
    def second_stage(self):
        """The second-stage network (`SecondStage`) of `self.sampler`."""
        return self.sampler.model

    @property
    def renormalization(self):
        """The `Renormalization` statistics (`fit_renormalization`), or None."""
        return self.sampler.renormalization

    @renormalization.setter
    def renormalization(self, stats):
        self.sampler.renormalization = stats

    def count_params(self):
        return self.first_stage.count_params() + self.second_stage.count_params()

    # --- Contract hooks -----------------------------------------------------

    def _encode_arrays(self, images, labels, batch_size):
        return self.first_stage._encode_arrays(images, labels, batch_size)

    def _decode_arrays(self, z, labels, batch_size):
        return self.first_stage._decode_arrays(z, labels, batch_size)

    def _prior_latents(self, n, seed, labels):
        return self.sampler.sample(n, seed=seed, renormalize=False, latent_noise=False)

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
        return _fit_stage(self.first_stage, EpochBatches(images, batch_size, seed), epochs,
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
        return self.sampler._require_renormalization()

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

    # --- Saving -----------------------------------------------------------

    @staticmethod
    def weights_paths(prefix):
        """`(prefix.first_stage.weights.h5, prefix.second_stage.weights.h5)`."""
        prefix = os.fspath(prefix)
        return (f"{prefix}.first_stage.weights.h5", f"{prefix}.second_stage.weights.h5")

    def save_weights(self, prefix):
        """Saves both stages (with their gammas) next to `prefix`; returns the paths."""
        first, second = self.weights_paths(prefix)
        self.first_stage.save_weights(first)
        self.second_stage.save_weights(second)
        return first, second

    def load_weights(self, path):
        """Loads `export_weights(path)`'s file, or the two files of `save_weights(path)`.

        Args:
            path: a `.weights.h5` file holding both stages (a preset), or the
                prefix P of `P.first_stage.weights.h5` and
                `P.second_stage.weights.h5`.

        Returns:
            True when both stages' gammas were restored.
        """
        path = os.fspath(path)
        # A failed load (the second file, or a stage of the single file) leaves both stages as they were.
        state = self.first_stage._state_variables() + self.second_stage._state_variables()
        if path.endswith(".weights.h5") and os.path.isfile(path):
            from keras.src.saving import saving_lib

            for stage in (self.first_stage, self.second_stage):
                stage._restored_gamma = False
            try:
                with unchanged_on_error(state):
                    saving_lib.load_weights_only(_Stages(self.first_stage, self.second_stage), path)
            except (ValueError, KeyError) as error:
                raise ValueError(
                    f"Could not load {path} into this two-stage VAE "
                    f"(first stage {self.first_stage.get_config()}, second stage "
                    f"{self.second_stage.get_config()}): the file was written by another "
                    f"configuration. Keras said: {error}"
                ) from error
            return bool(self.first_stage._restored_gamma and self.second_stage._restored_gamma)
        first, second = self.weights_paths(path)
        for file in (first, second):
            if not os.path.exists(file):
                raise FileNotFoundError(
                    f"Weights file {file!r} does not exist (expected a .weights.h5 file "
                    f"holding both stages, or the prefix of two stage files). Received: {path!r}"
                )
        with unchanged_on_error(state):
            restored = [self.first_stage.load_weights(first), self.second_stage.load_weights(second)]
        return all(restored)

    def export_weights(self, filepath):
        """Writes both stages (with gammas, without optimizer state) to one file.

        The preset format: one `.weights.h5` that `load_weights` reads.

        Returns:
            The file's SHA-256.
        """
        from keras.src.saving import saving_lib

        filepath = os.fspath(filepath)
        if not filepath.endswith(".weights.h5"):
            raise ValueError(
                f"The weights file name must end in `.weights.h5`. Received: filepath={filepath}"
            )
        bare = []
        for stage in (self.first_stage, self.second_stage):
            stage._check_finite(filepath)
            copy = type(stage).from_config(stage.get_config())
            copy.set_weights(stage.get_weights())
            stage._export_state(copy)
            bare.append(copy)
        atomic_write(filepath, lambda tmp: saving_lib.save_weights_only(_Stages(*bare), tmp))
        return sha256(filepath)


class _Stages(keras.layers.Layer):
    """Container whose weight file holds both stages (`export_weights`)."""

    def __init__(self, first_stage, second_stage):
        super().__init__(name="two_stage_vae")
        self.first_stage = first_stage
        self.second_stage = second_stage
        self.built = True


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
