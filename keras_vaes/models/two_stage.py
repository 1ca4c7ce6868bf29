"""Two-stage VAE with gamma balancing and variance renormalisation.

Asperti, "Variance Loss in Variational Autoencoders" (LOD 2020), built on
Dai & Wipf's two-stage VAE ("Diagnosing and enhancing VAE models", ICLR
2019) with the balancing of Asperti & Trentin (2020), as in the authors'
BalancingVAE code:

- `FirstStage`: the authors' ResNet VAE on images (ReLU, 3x3 stem at full
  resolution, `num_scale` scale blocks with strided downsampling, global
  pooling, a dense block without BN, Dense -> mean and log-sd; decoder from
  a 2x2 map with transposed convolutions, sigmoid output). Loss
  k * KL + Gaussian NLL with gamma_x = sqrt(mse estimate),
  k = (2 * image_side / latent_dim)^2.
- `SecondStage`: a dense VAE on the latents z of the first stage (encoder
  `second_depth` x Dense(second_dim, relu), concatenated with its input,
  Dense -> mean and log-sd; decoder symmetric), same loss with gamma_z and
  k = 1, trained on z = mu + sigma * eps with fresh noise at every draw.
- `TwoStageVAE`: the first stage and a `samplers.SecondStageSampler`
  holding the second; follows the model contract (`generate(n)` is GEN-2)
  and trains them in sequence as the authors' scripts (Adam epsilon 1e-8,
  the last partial batch dropped, step decay, stage 2 with its own MSE
  estimate from 1, on codes from a checked inference mode). It generates
  GEN-1 (z ~ N(0, I)) and GEN-2 (u ~ N(0, I) -> second decoder -> z, plus
  Dai & Wipf's gamma_z noise with `latent_noise=True`) with or without the
  paper's renormalisation (section 4) as the authors' latest code runs it:
  latents rescaled (target std with sigma in the variance-law sum),
  generated images not rescaled, REC decoded from a sampled z and
  rescaled. Each difference from the paper's text is a named switch
  (`target`, `rescale_images`, `sample`, `renormalization_batch`).

The first stage's batch norm keeps TF1's bias-corrected moving statistics
(`zero_debias=True`), as the authors' TF1 code.

Both stages output log-variances (2 * the authors' log-sd, through a
parameter-free rescaling), so every diagnostic uses log sigma^2.
"""

import json
import math
import os
import time

import keras
import numpy as np
from keras import layers

from keras_vaes import blocks, samplers
from keras_vaes.layers import PACKAGE, Sampling
from keras_vaes.losses import balanced_gaussian_vae_loss
from keras_vaes.metrics import diagnostics
from keras_vaes.models.base import BalancedVAE
from keras_vaes.models.contract import GenerativeModel
from keras_vaes.samplers.renormalization import RENORMALIZATION_TARGETS
from keras_vaes.samplers.second_stage import Renormalization, SecondStageSampler  # noqa: F401
from keras_vaes.utils import atomic_write, check_input_shape, check_non_negative_float, check_positive_int, sha256


def first_stage_kl_weight(image_side, latent_dim):
    """k = (2 * image_side / latent_dim)^2, the authors' stage-1 KL weight."""
    return (2.0 * image_side / latent_dim) ** 2


def _check_positive_int(**values):
    for name, value in values.items():
        check_positive_int(value, name)


def _check_first_stage_config(input_shape, latent_dim, num_scale):
    _check_positive_int(latent_dim=latent_dim, num_scale=num_scale)
    # A stem at full resolution, then num_scale - 1 downsamplings; the
    # decoder starts from 2x2.
    blocks.check_input_shape(input_shape, downsamplings=num_scale - 1, base_size=2)


def _mean_and_log_var(features, latent_dim, prefix):
    """Dense -> mean and Dense -> log-sd (the authors' layers), as log-var."""
    # Float32 under a mixed-precision policy (the KL needs it).
    mean = layers.Dense(latent_dim, dtype="float32", name=f"{prefix}_mean")(features)
    log_sd = layers.Dense(latent_dim, dtype="float32", name=f"{prefix}_log_sd")(features)
    log_var = layers.Rescaling(2.0, dtype="float32", name=f"{prefix}_log_var")(log_sd)
    return mean, log_var


class GaussianVAE(BalancedVAE):
    """A VAE with the two-stage balancing loss; base of both stages.

    `kl_weight * KL + sum(((x - x_hat) / gamma)^2 / 2 + log gamma
    + log(2 pi) / 2) / batch` (`losses.balanced_gaussian_vae_loss`), gamma
    = sqrt of the running-min MSE (`GammaBalancer(rule="two_stage")`).
    """

    balancing_rule = "two_stage"

    def loss_terms(self, x, outputs):
        rec_key, mean_key, log_var_key = self.output_keys
        loss, _, kl = balanced_gaussian_vae_loss(
            x,
            outputs[rec_key],
            outputs[mean_key],
            outputs[log_var_key],
            self.balancer.current_gamma(),
            self.kl_weight,
        )
        return loss, kl


@keras.saving.register_keras_serializable(package=PACKAGE)
class FirstStage(GaussianVAE):
    """First stage: the authors' ResNet VAE on images, balanced.

    Calling the model on images returns `{"x_hat", "z_mean", "z_log_var"}`.

    Args:
        input_shape: tuple (H, W, C), H = W = 2 * 2^k.
        latent_dim: int. Defaults to 64.
        base_dim: int. Channels at full resolution. Defaults to 32.
        num_scale: int. Scale blocks of the encoder (num_scale - 1
            downsamplings). Defaults to 4.
        fc_dim: int. Width of the dense block. Defaults to 512.
        kernel_size: int. Defaults to 3.
        block_per_scale: int. Defaults to 1.
        depth_per_block: int. Defaults to 2.
        l2_reg: float or None. L2 weight on the strided (transposed)
            convolutions, added to the training loss. The authors' CelebA
            script sets 0.001, but their Keras regularizers never reach the
            loss they minimise, so their runs are unregularised: None
            (default, and the package's CelebA configuration) reproduces
            them; a float is an opt-in extension.
        kl_weight: float or None. None gives k = (2 * H / latent_dim)^2.
        initial_mse: float. Starting MSE estimate (gamma = its square
            root). Defaults to 1 as the authors; a lower start shortens
            the early phase where the KL term dominates (short runs).
        zero_debias: bool. Batch norm with TF1's bias-corrected moving
            statistics, as the authors' TF1 code (`FusedBatchNormalization`).
            Defaults to True; False gives Keras's plain moving average,
            whose inference mode needs `recalibrate_batch_norm` after a
            short run.
        seed: int or None. Seed of the sampling layer.

    Example:
    >>> stage = FirstStage((16, 16, 1), 8, base_dim=8, num_scale=2, fc_dim=16)
    >>> stage.decode(np.zeros((2, 8), "float32"))["x_hat"].shape
    (2, 16, 16, 1)
    """

    def __init__(
        self,
        input_shape,
        latent_dim=64,
        base_dim=32,
        num_scale=4,
        fc_dim=512,
        kernel_size=3,
        block_per_scale=1,
        depth_per_block=2,
        l2_reg=None,
        kl_weight=None,
        initial_mse=1.0,
        zero_debias=True,
        seed=None,
        **kwargs,
    ):
        input_shape = check_input_shape(input_shape)
        _check_first_stage_config(input_shape, latent_dim, num_scale)
        _check_positive_int(base_dim=base_dim, fc_dim=fc_dim)
        regularizer = keras.regularizers.L2(l2_reg) if l2_reg else None
        net = dict(
            kernel_size=kernel_size,
            block_per_scale=block_per_scale,
            depth_per_block=depth_per_block,
            activation="relu",
            zero_debias=zero_debias,
        )

        # === Layers ===
        images = keras.Input(shape=input_shape, name="images")
        embedding = blocks.conv_encoder(
            input_shape, base_dim, num_scale, emb_dim=fc_dim, stem_strides=1,
            final_scale_block=True, dense_batch_norm=False,
            downsample_regularizer=regularizer, name="embedding", **net,
        )(images)
        encoder = keras.Model(
            images, _mean_and_log_var(embedding, latent_dim, "z"), name="encoder"
        )
        decoder = blocks.conv_decoder(
            input_shape, input_shape[-1], emb_dim=latent_dim, base_dim=base_dim,
            base_size=2, upsample_regularizer=regularizer, name="decoder", **net,
        )

        # === Functional model ===
        self._build_graph(encoder, decoder, seed, initial_mse, **kwargs)

        # === Config ===
        self.image_shape = input_shape
        self.latent_dim = latent_dim
        self.base_dim = base_dim
        self.num_scale = num_scale
        self.fc_dim = fc_dim
        self.kernel_size = kernel_size
        self.block_per_scale = block_per_scale
        self.depth_per_block = depth_per_block
        self.l2_reg = l2_reg
        self.zero_debias = zero_debias
        self.kl_weight_arg = kl_weight
        self.kl_weight = (
            first_stage_kl_weight(input_shape[0], latent_dim)
            if kl_weight is None
            else check_non_negative_float(kl_weight, "kl_weight")
        )
        self.seed = seed

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "input_shape": self.image_shape,
            "latent_dim": self.latent_dim,
            "base_dim": self.base_dim,
            "num_scale": self.num_scale,
            "fc_dim": self.fc_dim,
            "kernel_size": self.kernel_size,
            "block_per_scale": self.block_per_scale,
            "depth_per_block": self.depth_per_block,
            "l2_reg": self.l2_reg,
            "kl_weight": self.kl_weight_arg,
            "initial_mse": self.initial_mse,
            "zero_debias": self.zero_debias,
            "seed": self.seed,
        }


@keras.saving.register_keras_serializable(package=PACKAGE)
class SecondStage(GaussianVAE):
    """Second stage: a dense VAE on the latent space of the first stage.

    Calling the model on z returns `{"z_hat", "u_mean", "u_log_var"}`.
    `fit` takes either latents z `(N, latent_dim)` or the first stage's
    posterior as a dict `{"z_mean": ..., "z_log_var": ...}`; then every
    training draw is z = mean + exp(log_var / 2) * eps with fresh eps, so
    each epoch sees a new sample of the aggregate posterior (the authors
    resample once per epoch; the distribution is the same).

    Args:
        latent_dim: int. Dimension of z (and of u). Defaults to 64.
        second_dim: int. Width of the dense layers. Defaults to 1024.
        second_depth: int. Dense layers per side. Defaults to 3.
        kl_weight: float. Defaults to 1.
        initial_mse: float. Starting MSE estimate. Defaults to 1.
        seed: int or None. Seed of the sampling of u and of z.

    Example:
    >>> stage = SecondStage(8, second_dim=16)
    >>> stage.decode(np.zeros((2, 8), "float32"))["z_hat"].shape
    (2, 8)
    """

    output_keys = ("z_hat", "u_mean", "u_log_var")

    def __init__(
        self,
        latent_dim=64,
        second_dim=1024,
        second_depth=3,
        kl_weight=1.0,
        initial_mse=1.0,
        seed=None,
        **kwargs,
    ):
        _check_positive_int(
            latent_dim=latent_dim, second_dim=second_dim, second_depth=second_depth
        )

        # === Layers ===
        encoder = self._dense_side(latent_dim, second_dim, second_depth, "encoder")
        decoder = self._dense_side(latent_dim, second_dim, second_depth, "decoder")

        # === Functional model ===
        self._build_graph(encoder, decoder, seed, initial_mse, **kwargs)

        # === Config ===
        self.latent_dim = latent_dim
        self.second_dim = second_dim
        self.second_depth = second_depth
        self.kl_weight = check_non_negative_float(kl_weight, "kl_weight")
        self.seed = seed
        # `call` also takes a posterior dict, which the single input's spec
        # would reject.
        self.input_spec = None
        # Draws the training z from the first stage's posterior.
        self.z_sampling = Sampling(
            seed=None if seed is None else seed + 1, dtype="float32", name="z_sampling"
        )

    @staticmethod
    def _dense_side(latent_dim, second_dim, second_depth, name):
        # The second stage is float32 under any dtype policy: it is cheap,
        # and it models latent codes whose fine structure bfloat16 (8-bit
        # mantissa) would round away.
        inputs = keras.Input(shape=(latent_dim,), name=f"{name}_input")
        t = inputs
        for i in range(second_depth):
            t = layers.Dense(
                second_dim, activation="relu", dtype="float32", name=f"{name}_fc{i}"
            )(t)
        t = layers.Concatenate(dtype="float32", name=f"{name}_concat")([inputs, t])
        if name == "encoder":
            outputs = _mean_and_log_var(t, latent_dim, "u")
        else:
            outputs = layers.Dense(latent_dim, dtype="float32", name="z_hat")(t)
        return keras.Model(inputs, outputs, name=name)

    def _check_data(self, data, name="z"):
        data = np.asarray(data, dtype="float32")
        if data.ndim != 2 or data.shape[1] != self.latent_dim:
            raise ValueError(
                f"Expected {name} of shape (N, {self.latent_dim}). "
                f"Received: {name}.shape={data.shape}"
            )
        return data

    def call(self, inputs, training=None, mask=None):
        # A posterior {"z_mean", "z_log_var"} (what `fit` trains on): draw
        # z inside the step, fresh at every call on every backend, and
        # return it under "z" as the target of the reconstruction.
        if isinstance(inputs, dict):
            z = self.z_sampling([inputs["z_mean"], inputs["z_log_var"]])
            return {**super().call(z, training=training, mask=mask), "z": z}
        return super().call(inputs, training=training, mask=mask)

    def _training_target(self, x, y_pred):
        return y_pred["z"] if isinstance(x, dict) else x

    def fit(self, x=None, *args, **kwargs):
        if isinstance(x, dict):
            if set(x) != {"z_mean", "z_log_var"}:
                raise ValueError(
                    "Expected x={'z_mean': ..., 'z_log_var': ...}. "
                    f"Received keys: {sorted(x)}"
                )
            x = {k: self._check_data(v, name=k) for k, v in x.items()}
            if x["z_mean"].shape != x["z_log_var"].shape:
                raise ValueError(
                    "z_mean and z_log_var must have the same shape. Received: "
                    f"{x['z_mean'].shape} and {x['z_log_var'].shape}"
                )
        elif isinstance(x, np.ndarray):
            self._check_data(x, name="x")
        return super().fit(x, *args, **kwargs)

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "latent_dim": self.latent_dim,
            "second_dim": self.second_dim,
            "second_depth": self.second_depth,
            "kl_weight": self.kl_weight,
            "initial_mse": self.initial_mse,
            "seed": self.seed,
        }


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
    `len // batch_size` batches, the last partial batch dropped.
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
        self._rng = np.random.default_rng(seed)
        self.order = self._rng.permutation(self.count)

    def __len__(self):
        return self.count // self.batch_size

    def __getitem__(self, index):
        rows = np.sort(self.order[index * self.batch_size : (index + 1) * self.batch_size])
        batch = {k: v[rows] for k, v in self.arrays.items()}
        return batch[None] if None in batch else batch

    def on_epoch_end(self):
        self.order = self._rng.permutation(self.count)


class EpochCheckpoint(keras.callbacks.Callback):
    """After every epoch: the stage's weights (with Adam's state) and one JSON line.

    The line holds the stage, the 1-based epoch, its logs and the wall time,
    so an interrupted run resumes from the last finished epoch
    (`TwoStageVAE.fit_first_stage(..., initial_epoch=...)`).
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
    callbacks = [_learning_rate_schedule(learning_rate, lr_epochs, lr_factor)] + list(
        callbacks or []
    )
    return stage.fit(batches, epochs=epochs, initial_epoch=initial_epoch,
                     callbacks=callbacks, verbose=verbose)


# Positional arguments of the pre-contract `generate` / `sample_latents`.
_OLD_GENERATE_ARGS = ("stage", "renormalize", "seed", "batch_size", "rescale_images",
                      "renormalization_batch")


def _old_positional(method, args, names, kwargs):
    if not args:
        return kwargs
    if len(args) > len(names):
        raise TypeError(
            f"{method}() takes at most {len(names)} options after n positionally (deprecated). "
            f"Received: {len(args)}"
        )
    import warnings

    warnings.warn(
        f"Positional options of TwoStageVAE.{method} are deprecated: pass "
        + ", ".join(f"{k}=" for k in names[: len(args)]) + " by keyword.",
        DeprecationWarning, stacklevel=3,
    )
    for name, value in zip(names, args):
        if name in kwargs:
            raise TypeError(f"{method}() got multiple values for {name!r}")
        kwargs[name] = value
    return kwargs


class TwoStageVAE(GenerativeModel):
    """The two stages, their training in sequence, and generation.

    Built by `build_two_stage_vae`. Follows the model contract
    (`keras_vaes.models.contract`): `encode` / `decode` / `reconstruct`
    are the first stage's; `generate(n)` decodes the second stage's codes
    (`sampler=None`), or those of any fitted sampler. The second stage is a
    `keras_vaes.samplers.SecondStageSampler` (`self.sampler`) whose network
    is `self.second_stage`. `fit_first_stage` / `fit_second_stage` train
    as the authors' scripts.
    """

    value_range = (0.0, 1.0)

    def __init__(self, first_stage, second_stage=None, *, sampler=None):
        from keras_vaes.samplers.second_stage import SecondStageSampler

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

    @property
    def latent_dim(self):
        return self.first_stage.latent_dim

    @property
    def image_shape(self):
        return self.first_stage.image_shape

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

        As the authors' latest code (BalancingVAE `computed_gamma.py`),
        which measures them on the 10,000 evaluation images (shuffled test
        split): `SecondStageSampler.fit_renormalization` on their posterior
        (target std, var_loss2, mse2, the rule) and the data's mean
        per-pixel std (`samplers.mean_std`).

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

    def sample_latents(self, n, *args, sampler=None, seed=None, labels=None, stage=None,
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
        if args:
            options = _old_positional("sample_latents", args, _OLD_GENERATE_ARGS[:4], {})
            stage = options.get("stage", stage)
            renormalize = options.get("renormalize", renormalize)
            seed = options.get("seed", seed)
            batch_size = options.get("batch_size", batch_size)
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

    def generate(self, n, *args, sampler=None, seed=None, labels=None, batch_size=100,
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
                authors' protocol: their `generate` never rescales
                generated images (its test `type(adjust1) == np.float` is
                False for the ndarray it gets); True is the package's
                extension, reported as its own row.
            renormalization_batch: int or None. See `sample_latents`.
            latent_noise: bool. Dai & Wipf's gamma_z noise at GEN-2.

        Returns:
            A dict with `"x_hat"`, float32 `(n, H, W, C)` in [0, 1].
        """
        if args:
            options = _old_positional("generate", args, _OLD_GENERATE_ARGS, {})
            stage = options.get("stage", stage)
            renormalize = options.get("renormalize", renormalize)
            seed = options.get("seed", seed)
            batch_size = options.get("batch_size", batch_size)
            rescale_images = options.get("rescale_images", rescale_images)
            renormalization_batch = options.get("renormalization_batch", renormalization_batch)
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

    def reconstruct(self, images, *args, sample=False, seed=None, labels=None, batch_size=100,
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
        if args:
            options = _old_positional("reconstruct", args, ("renormalize", "batch_size",
                                                            "sample", "seed"), {})
            renormalize = options.get("renormalize", renormalize)
            batch_size = options.get("batch_size", batch_size)
            sample = options.get("sample", sample)
            seed = options.get("seed", seed)
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
        if path.endswith(".weights.h5") and os.path.isfile(path):
            from keras.src.saving import saving_lib

            for stage in (self.first_stage, self.second_stage):
                stage._restored_gamma = False
            try:
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


def build_two_stage_vae(
    input_shape,
    latent_dim=64,
    *,
    base_dim=32,
    num_scale=4,
    fc_dim=512,
    kernel_size=3,
    block_per_scale=1,
    depth_per_block=2,
    second_dim=1024,
    second_depth=3,
    l2_reg=None,
    initial_mse=1.0,
    second_initial_mse=1.0,
    zero_debias=True,
    seed=None,
):
    """Builds the authors' two-stage VAE (BalancingVAE code).

    Their configurations (latent 64, base_dim 32, fc_dim 512, second_depth
    3): CIFAR-10 `((32, 32, 3), num_scale=3, second_dim=2048)`; CelebA
    `((64, 64, 3), num_scale=4, second_dim=4096)` (their script sets
    l2_reg=0.001, which never reaches their loss: `l2_reg=None` reproduces
    their runs). `initial_mse` starts the first stage's MSE estimate,
    `second_initial_mse` the second stage's (1 in the authors' scripts,
    whatever the first stage's); `zero_debias` is the first stage's batch
    norm (see `FirstStage`).

    Returns:
        A `TwoStageVAE` with `.first_stage` (`FirstStage`) and
        `.second_stage` (`SecondStage`).

    Example:
    >>> model = build_two_stage_vae((16, 16, 1), 8, base_dim=8, num_scale=2,
    ...                             fc_dim=16, second_dim=16)
    >>> model.generate(4, seed=0)["x_hat"].shape
    (4, 16, 16, 1)
    """
    first = FirstStage(
        input_shape, latent_dim, base_dim=base_dim, num_scale=num_scale,
        fc_dim=fc_dim, kernel_size=kernel_size, block_per_scale=block_per_scale,
        depth_per_block=depth_per_block, l2_reg=l2_reg, initial_mse=initial_mse,
        zero_debias=zero_debias, seed=seed, name="first_stage",
    )
    second = SecondStage(
        latent_dim, second_dim=second_dim, second_depth=second_depth,
        initial_mse=second_initial_mse, seed=None if seed is None else seed + 1,
        name="second_stage",
    )
    return TwoStageVAE(first, second)
