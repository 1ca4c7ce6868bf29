"""Split Variational Autoencoder (Asperti, Bugo, Filippini, IEEE Access 2022).

The decoder emits a map sigma and two images x1, x2; the output is
x_hat = sigma * x1 + (1 - sigma) * x2 (section III). `split=False` gives the
vanilla VAE of the ablation (section VI), identical but for the last layer.
"""

import keras
import numpy as np
from keras import layers, ops

from keras_vaes import blocks
from keras_vaes.balancing import GammaBalancer
from keras_vaes.layers import PACKAGE, Sampling, SplitComposition
from keras_vaes.losses import balanced_split_vae_loss
from keras_vaes.utils import atomic_write, check_images


def _check_config(input_shape, latent_dim, num_scale):
    if len(input_shape) != 3:
        raise ValueError(
            "Expected input_shape=(height, width, channels). "
            f"Received: input_shape={input_shape}"
        )
    height, width, channels = input_shape
    if height != width:
        raise ValueError(
            f"Expected square images. Received: input_shape={input_shape}"
        )
    blocks.check_image_size(height)
    if height // 2**num_scale < 1:
        raise ValueError(
            f"num_scale={num_scale} downsamples a {height}x{width} image "
            f"below 1x1; use num_scale <= {int(np.log2(height))}."
        )
    if latent_dim < 1 or channels < 1:
        raise ValueError(
            "latent_dim and channels must be positive. Received: "
            f"latent_dim={latent_dim}, input_shape={input_shape}"
        )


@keras.saving.register_keras_serializable(package=PACKAGE)
class SplitVAE(keras.Model):
    """Split-VAE with the authors' ResNet and gamma balancing.

    Calling the model on images returns a dict with `"x_hat"` (and, when
    `split=True`, `"sigma"`, `"x1"`, `"x2"`), `"z_mean"` and `"z_log_var"`.
    `fit` trains with the loss 0.5 * sum((x - x_hat)^2) / gamma + beta * KL
    and updates gamma after every step (`keras_vaes.balancing`, rule
    `"split_vae"`); the progress bar shows loss, mse, kl and gamma.

    Args:
        input_shape: tuple (H, W, C), H = W = 4 * 2^k.
        latent_dim: int. Number of latent variables.
        base_dim: int. Channels at full resolution. Defaults to 64.
        emb_dim: int. Width of the dense embedding. Defaults to 512.
        num_scale: int. Number of downsamplings of the encoder. Defaults
            to 4.
        kernel_size: int. Defaults to 3.
        block_per_scale: int. Residual blocks per scale block. Defaults
            to 1.
        depth_per_block: int. Convolutions per residual block. Defaults
            to 2.
        beta: float. Weight of the KL term. Defaults to 3.0.
        split: bool. Split-VAE output (True) or vanilla VAE (False).
        seed: int or None. Seed of the sampling layer.

    Example:
    >>> model = SplitVAE((16, 16, 1), 4, base_dim=8, emb_dim=16, num_scale=2)
    >>> out = model.decode(np.zeros((2, 4), "float32"))
    >>> sorted(out)
    ['sigma', 'x1', 'x2', 'x_hat']
    """

    def __init__(
        self,
        input_shape,
        latent_dim,
        base_dim=64,
        emb_dim=512,
        num_scale=4,
        kernel_size=3,
        block_per_scale=1,
        depth_per_block=2,
        beta=3.0,
        split=True,
        seed=None,
        **kwargs,
    ):
        input_shape = tuple(int(d) for d in input_shape)
        _check_config(input_shape, latent_dim, num_scale)
        channels = input_shape[-1]
        net = dict(
            kernel_size=kernel_size,
            block_per_scale=block_per_scale,
            depth_per_block=depth_per_block,
        )

        # === Layers ===
        encoder = self._build_encoder(
            input_shape, latent_dim, base_dim, num_scale, emb_dim, net
        )
        decoder = self._build_decoder(
            input_shape, latent_dim, base_dim, emb_dim, split, net
        )
        sampling = Sampling(seed=seed, name="sampling")

        # === Functional model ===
        images = keras.Input(shape=input_shape, name="images")
        z_mean, z_log_var = encoder(images)
        z = sampling([z_mean, z_log_var])
        outputs = dict(decoder(z))
        outputs.update(z_mean=z_mean, z_log_var=z_log_var)
        super().__init__(inputs=images, outputs=outputs, **kwargs)

        # === Config ===
        self.encoder = encoder
        self.decoder = decoder
        self.sampling = sampling
        self.image_shape = input_shape
        self.latent_dim = latent_dim
        self.base_dim = base_dim
        self.emb_dim = emb_dim
        self.num_scale = num_scale
        self.kernel_size = kernel_size
        self.block_per_scale = block_per_scale
        self.depth_per_block = depth_per_block
        self.beta = beta
        self.split = split
        self.seed = seed

        # === Training state ===
        self.balancer = GammaBalancer(rule="split_vae")
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.mse_tracker = keras.metrics.Mean(name="mse")
        self.kl_tracker = keras.metrics.Mean(name="kl")

    @staticmethod
    def _build_encoder(input_shape, latent_dim, base_dim, num_scale, emb_dim, net):
        images = keras.Input(shape=input_shape, name="images")
        embedding = blocks.conv_encoder(
            input_shape, base_dim, num_scale, emb_dim=emb_dim,
            name="embedding", **net,
        )(images)
        z_mean = layers.Dense(latent_dim, name="z_mean")(embedding)
        z_log_var = layers.Dense(latent_dim, name="z_log_var")(embedding)
        return keras.Model(images, [z_mean, z_log_var], name="encoder")

    @staticmethod
    def _build_decoder(input_shape, latent_dim, base_dim, emb_dim, split, net):
        channels = input_shape[-1]
        z = keras.Input(shape=(latent_dim,), name="z")
        # The authors map z back to the embedding with ONE Dense layer,
        # shared by reconstruction and generation.
        embedding = layers.Dense(emb_dim, name="latent_to_embedding")(z)
        decoded = blocks.conv_decoder(
            input_shape,
            2 * channels + 1 if split else channels,
            emb_dim=emb_dim, base_dim=base_dim, name="synthesis", **net,
        )(embedding)
        if split:
            outputs = SplitComposition(channels, name="split_composition")(decoded)
        else:
            outputs = {"x_hat": decoded}
        return keras.Model(z, outputs, name="decoder")

    # --- Public API -------------------------------------------------------

    @property
    def gamma(self):
        """Current gamma of the balancing rule (a float)."""
        return float(ops.convert_to_numpy(self.balancer.gamma))

    def encode(self, images, batch_size=100):
        """Encodes images; returns `(z_mean, z_log_var)` as NumPy arrays."""
        images = check_images(images, self.image_shape)
        z_mean, z_log_var = self.encoder.predict(
            images, batch_size=batch_size, verbose=0
        )
        return z_mean, z_log_var

    def decode(self, z, batch_size=100):
        """Decodes latents; returns a dict of NumPy arrays.

        Keys: `"x_hat"` and, for a Split-VAE, `"sigma"`, `"x1"`, `"x2"`.
        """
        z = np.asarray(z, dtype="float32")
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(
                f"Expected z of shape (N, {self.latent_dim}). "
                f"Received: z.shape={z.shape}"
            )
        return self.decoder.predict(z, batch_size=batch_size, verbose=0)

    def reconstruct(self, images, batch_size=100):
        """Decodes the posterior means of `images` (no sampling)."""
        z_mean, _ = self.encode(images, batch_size=batch_size)
        return self.decode(z_mean, batch_size=batch_size)

    def generate(self, n, seed=None, sampler=None, batch_size=100):
        """Generates `n` images from z ~ N(0, I), or from `sampler`.

        Args:
            n: int. Number of images.
            seed: int or None. Seed of the latent draw.
            sampler: an object with `sample(n, seed=None)` returning latents
                (e.g. a fitted `keras_vaes.samplers.GMMSampler`), or None
                for the standard normal prior.
        """
        if sampler is None:
            rng = np.random.default_rng(seed)
            z = rng.standard_normal((n, self.latent_dim)).astype("float32")
        else:
            z = sampler.sample(n, seed=seed)
        return self.decode(z, batch_size=batch_size)

    # --- Training ---------------------------------------------------------

    @property
    def metrics(self):
        return [self.loss_tracker, self.mse_tracker, self.kl_tracker]

    def _loss_terms(self, images, training):
        outputs = self(images, training=training)
        loss, _, kl = balanced_split_vae_loss(
            images,
            outputs["x_hat"],
            outputs["z_mean"],
            outputs["z_log_var"],
            ops.convert_to_tensor(self.balancer.gamma),
            self.beta,
        )
        mse = ops.mean(ops.square(images - outputs["x_hat"]))
        return loss, mse, kl

    def _logs(self):
        logs = {m.name: m.result() for m in self.metrics}
        logs["gamma"] = ops.convert_to_tensor(self.balancer.gamma)
        return logs

    def train_step(self, data):
        if keras.backend.backend() != "tensorflow":
            raise NotImplementedError(
                "SplitVAE.train_step is implemented for the TensorFlow "
                f"backend. Received: backend={keras.backend.backend()!r}"
            )
        import tensorflow as tf

        images = data[0] if isinstance(data, (tuple, list)) else data
        with tf.GradientTape() as tape:
            loss, mse, kl = self._loss_terms(images, training=True)
            total = loss + ops.sum(self.losses) if self.losses else loss
        gradients = tape.gradient(total, self.trainable_variables)
        self.optimizer.apply_gradients(zip(gradients, self.trainable_variables))
        # Gamma is updated after the step, from the batch MSE (authors' loop).
        self.balancer.update(mse)
        self.loss_tracker.update_state(loss)
        self.mse_tracker.update_state(mse)
        self.kl_tracker.update_state(kl)
        return self._logs()

    def test_step(self, data):
        images = data[0] if isinstance(data, (tuple, list)) else data
        loss, mse, kl = self._loss_terms(images, training=False)
        self.loss_tracker.update_state(loss)
        self.mse_tracker.update_state(mse)
        self.kl_tracker.update_state(kl)
        return self._logs()

    def fit(self, x=None, *args, **kwargs):
        if isinstance(x, np.ndarray):
            check_images(x, self.image_shape, name="x")
        return super().fit(x, *args, **kwargs)

    def estimate_gamma(self, images, batch_size=100):
        """Restarts gamma from the MSE of `images` (the authors' resume).

        The authors' script, loading weights without a stored gamma,
        re-estimates the MSE on 10,000 training images and starts from it.
        Returns the measured MSE.
        """
        images = check_images(images, self.image_shape)
        x_hat = self.predict(images, batch_size=batch_size, verbose=0)["x_hat"]
        mse = float(np.mean(np.square(images - x_hat)))
        self.balancer.reset(mse)
        return mse

    # --- Saving -----------------------------------------------------------

    def save_own_variables(self, store):
        super().save_own_variables(store)
        self.balancer.save_to(store)

    def load_own_variables(self, store):
        self.balancer.load_from(store)
        own = {k: store[k] for k in store.keys() if not k.startswith("balancer_")}
        super().load_own_variables(own)

    def save_weights(self, filepath, overwrite=True, **kwargs):
        """Saves weights (and gamma) atomically to a `.weights.h5` file."""
        if not str(filepath).endswith(".weights.h5"):
            raise ValueError(
                "The weights file name must end in `.weights.h5`. "
                f"Received: filepath={filepath}"
            )
        if not overwrite and keras.utils.file_utils.exists(filepath):
            return super().save_weights(filepath, overwrite=False, **kwargs)
        atomic_write(filepath, lambda tmp: super(SplitVAE, self).save_weights(tmp, **kwargs))

    def load_weights(self, filepath, *args, **kwargs):
        """Loads a `.weights.h5` file written by the same configuration."""
        try:
            super().load_weights(filepath, *args, **kwargs)
        except FileNotFoundError:
            raise
        except (ValueError, KeyError) as error:
            raise ValueError(
                f"Could not load {filepath} into this SplitVAE "
                f"({self._describe()}): the file was written by a model "
                f"of a different configuration. Keras said: {error}"
            ) from error

    def _describe(self):
        return (
            f"input_shape={self.image_shape}, latent_dim={self.latent_dim}, "
            f"base_dim={self.base_dim}, emb_dim={self.emb_dim}, "
            f"num_scale={self.num_scale}, split={self.split}"
        )

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "input_shape": self.image_shape,
            "latent_dim": self.latent_dim,
            "base_dim": self.base_dim,
            "emb_dim": self.emb_dim,
            "num_scale": self.num_scale,
            "kernel_size": self.kernel_size,
            "block_per_scale": self.block_per_scale,
            "depth_per_block": self.depth_per_block,
            "beta": self.beta,
            "split": self.split,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def build_svae(
    input_shape,
    latent_dim,
    *,
    base_dim=64,
    emb_dim=512,
    num_scale=4,
    kernel_size=3,
    block_per_scale=1,
    depth_per_block=2,
    beta=3.0,
    split=True,
    seed=None,
    name="split_vae",
):
    """Builds the authors' Split-VAE (or vanilla VAE with `split=False`).

    Paper configurations: MNIST `((32, 32, 1), 32, beta=8)`, CIFAR-10
    `((32, 32, 3), 200, beta=3)`, CelebA `((64, 64, 3), 150, beta=3)`, with
    the defaults for the rest. See `SplitVAE` for the arguments.

    Example:
    >>> model = build_svae((32, 32, 1), 32, beta=8)
    >>> model.count_params()
    12799299
    """
    return SplitVAE(
        input_shape,
        latent_dim,
        base_dim=base_dim,
        emb_dim=emb_dim,
        num_scale=num_scale,
        kernel_size=kernel_size,
        block_per_scale=block_per_scale,
        depth_per_block=depth_per_block,
        beta=beta,
        split=split,
        seed=seed,
        name=name,
    )
