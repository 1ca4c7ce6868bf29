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
- `TwoStageVAE`: holds both, trains them in sequence, generates images
  (GEN-1: z ~ N(0, I); GEN-2: u ~ N(0, I) -> second decoder -> z) with or
  without the paper's renormalisation (section 4, `keras_vaes.samplers`)
  as the authors' latest code runs it: latents rescaled (target std with
  sigma in the variance-law sum), generated images not rescaled, REC
  decoded from a sampled z and rescaled. Each difference from the paper's
  text is a named switch (`target`, `rescale_images`, `sample`,
  `renormalization_batch`).

Both stages output log-variances (2 * the authors' log-sd, through a
parameter-free rescaling), so every diagnostic uses log sigma^2.
"""

import dataclasses
import math
import os

import keras
import numpy as np
from keras import layers

from keras_vaes import blocks, samplers
from keras_vaes.layers import PACKAGE, Sampling
from keras_vaes.losses import balanced_gaussian_vae_loss
from keras_vaes.metrics import diagnostics
from keras_vaes.models.base import BalancedVAE
from keras_vaes.utils import check_images


def first_stage_kl_weight(image_side, latent_dim):
    """k = (2 * image_side / latent_dim)^2, the authors' stage-1 KL weight."""
    return (2.0 * image_side / latent_dim) ** 2


def _check_positive_int(**values):
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value!r}")


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
        seed=None,
        **kwargs,
    ):
        input_shape = tuple(int(d) for d in input_shape)
        _check_first_stage_config(input_shape, latent_dim, num_scale)
        _check_positive_int(base_dim=base_dim, fc_dim=fc_dim)
        regularizer = keras.regularizers.L2(l2_reg) if l2_reg else None
        net = dict(
            kernel_size=kernel_size,
            block_per_scale=block_per_scale,
            depth_per_block=depth_per_block,
            activation="relu",
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
        self.kl_weight_arg = kl_weight
        self.kl_weight = (
            first_stage_kl_weight(input_shape[0], latent_dim)
            if kl_weight is None
            else float(kl_weight)
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
        self.kl_weight = float(kl_weight)
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


@dataclasses.dataclass
class Renormalization:
    """What the renormalisation at generation needs, measured on data.

    Attributes:
        variance_law: float. Mean variance law of the first stage
            (`diagnostics.variance_law`, with sigma^2).
        latent_variance_loss: float. Variance loss of the second stage's
            reconstruction of the latent means (var_loss2).
        latent_mse: float. MSE of that reconstruction (mse2).
        renormalize_latents: bool. var_loss2 / mse2 > 0.25
            (`samplers.should_renormalize_latents`).
        data_std: float. Mean per-pixel std of the reference images.
        target_std: float. Std the renormalised latents get (the
            authors' adjust2; `samplers.renormalization_target_std`).
        target: str. How `target_std` was computed: "authors" (sigma in
            the variance-law sum, as their code) or "variance_law"
            (sigma^2).
    """

    variance_law: float
    latent_variance_loss: float
    latent_mse: float
    renormalize_latents: bool
    data_std: float
    target_std: float = None
    target: str = "authors"


def _learning_rate_schedule(learning_rate, lr_epochs, lr_factor):
    def schedule(epoch, lr=None):
        if lr_epochs and lr_epochs > 0:
            return learning_rate * lr_factor ** math.floor(epoch / lr_epochs)
        return learning_rate

    return keras.callbacks.LearningRateScheduler(schedule)


class TwoStageVAE:
    """The two stages, their training in sequence, and generation.

    Built by `build_two_stage_vae`. Each stage is a `keras.Model` with its
    own `fit`; `fit_first_stage` and `fit_second_stage` add the authors'
    optimiser (Adam) and step learning-rate schedule.
    """

    def __init__(self, first_stage, second_stage):
        if first_stage.latent_dim != second_stage.latent_dim:
            raise ValueError(
                "The second stage must model the first stage's latents. Received: "
                f"latent_dim {first_stage.latent_dim} and {second_stage.latent_dim}"
            )
        self.first_stage = first_stage
        self.second_stage = second_stage
        self.renormalization = None

    @property
    def latent_dim(self):
        return self.first_stage.latent_dim

    @property
    def image_shape(self):
        return self.first_stage.image_shape

    def count_params(self):
        return self.first_stage.count_params() + self.second_stage.count_params()

    # --- Training ---------------------------------------------------------

    @staticmethod
    def _fit(model, x, epochs, batch_size, learning_rate, lr_epochs, lr_factor,
             callbacks, verbose):
        if not model.compiled:
            model.compile(optimizer=keras.optimizers.Adam(learning_rate))
        callbacks = [_learning_rate_schedule(learning_rate, lr_epochs, lr_factor)] + list(
            callbacks or []
        )
        return model.fit(
            x, epochs=epochs, batch_size=batch_size, shuffle=True,
            callbacks=callbacks, verbose=verbose,
        )

    def fit_first_stage(self, images, epochs, batch_size=100, learning_rate=1e-4,
                        lr_epochs=0, lr_factor=0.5, callbacks=None, verbose="auto"):
        """Trains the first stage on images (Adam, lr x lr_factor every lr_epochs)."""
        return self._fit(self.first_stage, images, epochs, batch_size, learning_rate,
                         lr_epochs, lr_factor, callbacks, verbose)

    def fit_second_stage(self, images, epochs, batch_size=100, learning_rate=1e-4,
                         lr_epochs=0, lr_factor=0.5, callbacks=None, verbose="auto"):
        """Trains the second stage on the frozen first stage's posterior of images."""
        z_mean, z_log_var = self.first_stage.encode(images, batch_size=batch_size)
        return self._fit(self.second_stage, {"z_mean": z_mean, "z_log_var": z_log_var},
                         epochs, batch_size, learning_rate, lr_epochs, lr_factor,
                         callbacks, verbose)

    # --- Renormalisation and generation -----------------------------------

    def fit_renormalization(self, images, batch_size=100, seed=None, target="authors"):
        """Measures the renormalisation statistics on reference images.

        As the authors' latest code (BalancingVAE `computed_gamma.py`),
        which measures them on the 10,000 evaluation images (shuffled test
        split): the target std of the latents (`target`, see
        `samplers.renormalization_target_std`), the second stage's variance
        loss and MSE on the latent means (decoded from a sample of u, as
        their `reconstruct2`), and the data's mean per-pixel std.

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
        images = check_images(images, self.image_shape)
        z_mean, z_log_var = self.first_stage.encode(images, batch_size=batch_size)
        target_std = samplers.renormalization_target_std(z_mean, z_log_var, target)
        law = diagnostics.variance_law(z_mean, z_log_var)
        z_hat = self.second_stage.reconstruct(z_mean, sample=True, seed=seed,
                                              batch_size=batch_size)["z_hat"]
        latent = diagnostics.variance_loss(z_mean, z_hat)
        self.renormalization = Renormalization(
            variance_law=law.mean,
            latent_variance_loss=latent["variance_loss"],
            latent_mse=latent["mse"],
            renormalize_latents=samplers.should_renormalize_latents(
                latent["variance_loss"], latent["mse"]
            ),
            data_std=samplers.mean_std(images),
            target_std=target_std,
            target=target,
        )
        return self.renormalization

    def _require_renormalization(self):
        if self.renormalization is None:
            raise ValueError(
                "renormalize=True needs the statistics of reference data: call "
                "`fit_renormalization(images)` first."
            )
        return self.renormalization

    def sample_latents(self, n, stage=2, renormalize=False, seed=None, batch_size=100,
                       renormalization_batch=100):
        """Latents z for generation: N(0, I) (stage 1) or the second decoder's.

        With `renormalize` and an evident variance loss of the second stage
        (var_loss2 / mse2 > 0.25), as the authors' `generate`: GEN-1
        latents are multiplied by the target std (`z * adjust2`); GEN-2
        latents are rescaled to it around 0, each generation batch of
        `renormalization_batch` by its own std
        (`samplers.renormalize_latents`).

        Args:
            n: int. Number of latent vectors.
            stage: 1 or 2.
            renormalize: bool. Defaults to False.
            seed: int or None. Seed of the N(0, I) draw.
            batch_size: int. Decoding batch size.
            renormalization_batch: int or None. Vectors per std measurement
                of GEN-2: 100, the authors' generation batch (default), or
                None for the whole sample (the package's earlier rule).
                Extra vectors are drawn to fill the last batch, as the
                authors, and dropped.
        """
        if stage not in (1, 2):
            raise ValueError(f"`stage` must be 1 or 2. Received: stage={stage!r}")
        stats = self._require_renormalization() if renormalize else None
        count = n
        if stats is not None and stage == 2 and renormalization_batch:
            count = -(-n // renormalization_batch) * renormalization_batch
        z = samplers.NormalSampler(self.latent_dim).sample(count, seed=seed)
        if stage == 2:
            z = self.second_stage.decode(z, batch_size=batch_size)["z_hat"]
        if stats is not None and stats.renormalize_latents:
            target_std = stats.target_std or math.sqrt(stats.variance_law)
            if stage == 1:
                z = (z * target_std).astype("float32")
            else:
                z = samplers.renormalize_latents(z, target_std**2, batch_size=renormalization_batch)
        return z[:n]

    def generate(self, n, stage=2, renormalize=False, seed=None, batch_size=100,
                 rescale_images=False, renormalization_batch=100):
        """Generates `n` images: GEN-1 (`stage=1`) or GEN-2 (`stage=2`).

        Args:
            n: int. Number of images.
            stage: 1 (z ~ N(0, I)) or 2 (through the second stage).
            renormalize: bool. Renormalise the latents (`sample_latents`).
            seed: int or None.
            batch_size: int. Decoding batch size.
            rescale_images: bool. Also rescale the images around their
                per-pixel mean to the data's mean per-pixel std, then clip
                (`samplers.renormalize_images`). False (default) is the
                authors' protocol: their `generate` never rescales
                generated images (its test `type(adjust1) == np.float` is
                False for the ndarray it gets); True is the package's
                extension, reported as its own row.
            renormalization_batch: int or None. See `sample_latents`.

        Returns:
            Float32 array `(n, H, W, C)` in [0, 1].
        """
        z = self.sample_latents(n, stage, renormalize, seed, batch_size, renormalization_batch)
        images = self.first_stage.decode(z, batch_size=batch_size)["x_hat"]
        if rescale_images:
            images = samplers.renormalize_images(images, self._require_renormalization().data_std)
        return images

    def reconstruct(self, images, renormalize=False, batch_size=100, sample=True, seed=None):
        """Reconstructions (REC), optionally rescaled as the authors'.

        Args:
            images: array `(N, H, W, C)` in [0, 1].
            renormalize: bool. Rescale the reconstructions around their
                per-pixel mean to the data's mean per-pixel std and clip
                (the authors do, whenever they renormalise).
            batch_size: int.
            sample: bool. Decode a sampled z = mu + sigma * eps (True,
                default: the authors' code in both papers) or the
                posterior mean (False).
            seed: int or None. Seed of eps.
        """
        rec = self.first_stage.reconstruct(images, sample=sample, seed=seed,
                                           batch_size=batch_size)["x_hat"]
        if renormalize:
            rec = samplers.renormalize_images(rec, self._require_renormalization().data_std)
        return rec

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

    def load_weights(self, prefix):
        """Loads the files written by `save_weights(prefix)`."""
        first, second = self.weights_paths(prefix)
        for path in (first, second):
            if not os.path.exists(path):
                raise FileNotFoundError(f"Weights file {path!r} does not exist.")
        self.first_stage.load_weights(first)
        self.second_stage.load_weights(second)


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
    seed=None,
):
    """Builds the authors' two-stage VAE (BalancingVAE code).

    Their configurations (latent 64, base_dim 32, fc_dim 512, second_depth
    3): CIFAR-10 `((32, 32, 3), num_scale=3, second_dim=2048)`; CelebA
    `((64, 64, 3), num_scale=4, second_dim=4096)` (their script sets
    l2_reg=0.001, which never reaches their loss: `l2_reg=None` reproduces
    their runs).

    Returns:
        A `TwoStageVAE` with `.first_stage` (`FirstStage`) and
        `.second_stage` (`SecondStage`).

    Example:
    >>> model = build_two_stage_vae((16, 16, 1), 8, base_dim=8, num_scale=2,
    ...                             fc_dim=16, second_dim=16)
    >>> model.generate(4, stage=2, seed=0).shape
    (4, 16, 16, 1)
    """
    first = FirstStage(
        input_shape, latent_dim, base_dim=base_dim, num_scale=num_scale,
        fc_dim=fc_dim, kernel_size=kernel_size, block_per_scale=block_per_scale,
        depth_per_block=depth_per_block, l2_reg=l2_reg, initial_mse=initial_mse,
        seed=seed, name="first_stage",
    )
    second = SecondStage(
        latent_dim, second_dim=second_dim, second_depth=second_depth,
        initial_mse=initial_mse, seed=None if seed is None else seed + 1, name="second_stage",
    )
    return TwoStageVAE(first, second)
