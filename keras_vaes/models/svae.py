"""Split Variational Autoencoder (Asperti, Bugo, Filippini, IEEE Access 2022).

The decoder emits a map sigma and two images x1, x2; the output is
x_hat = sigma * x1 + (1 - sigma) * x2 (section III). `split=False` gives the
vanilla VAE of the ablation (section VI), identical but for the last layer.
"""

import keras
from keras import layers

from keras_vaes import blocks
from keras_vaes.layers import PACKAGE, SplitComposition
from keras_vaes.losses import balanced_split_vae_loss
from keras_vaes.models.base import BalancedVAE
from keras_vaes.utils import check_non_negative_float, check_positive_int


@keras.saving.register_keras_serializable(package=PACKAGE)
class SplitVAE(BalancedVAE):
    """Split-VAE with the authors' ResNet and gamma balancing.

    Calling the model on images returns a dict with `"x_hat"` (and, when
    `split=True`, `"sigma"`, `"x1"`, `"x2"`), `"z_mean"` and `"z_log_var"`.
    `fit` trains with the loss 0.5 * sum((x - x_hat)^2) / gamma + beta * KL
    and updates gamma after every step (`keras_vaes.balancing`, rule
    `"split_vae"`); the progress bar shows loss, mse, kl and gamma.

    Args:
        input_shape: tuple (H, W, C), H = W = 4 * 2^k.
        latent_dim: int. Number of latent variables.
        emb_dim: int. Width of the dense embedding. Defaults to 512.
        beta: float. Weight of the KL term. Defaults to 3.0.
        split: bool. Split-VAE output (True) or vanilla VAE (False).
        seed: int or None. Seed of the sampling layer, and of `generate`
            and `reconstruct(sample=True)` when they get no seed (None:
            NumPy's global state, see `keras_vaes.models.contract`).
        **kwargs: the ResNet's settings (`blocks.ResNetSettings`, with its
            defaults: `base_dim=64`, `num_scale=4` downsamplings,
            `kernel_size=3`, `block_per_scale=1`, `depth_per_block=2`),
            and `keras.Model`'s (`name`, `dtype`).

    Example:
    >>> import numpy as np
    >>> model = SplitVAE((16, 16, 1), 4, base_dim=8, emb_dim=16, num_scale=2)
    >>> out = model.decode(np.zeros((2, 4), "float32"))
    >>> sorted(out)
    ['sigma', 'x1', 'x2', 'x_hat']
    """

    balancing_rule = "split_vae"

    def __init__(
        self,
        input_shape,
        latent_dim,
        emb_dim=512,
        beta=3.0,
        split=True,
        seed=None,
        **kwargs,
    ):
        network, kwargs = blocks.ResNetSettings.pop(kwargs)
        input_shape = blocks.check_input_shape(input_shape, downsamplings=network.num_scale)
        latent_dim = check_positive_int(latent_dim, "latent_dim")
        emb_dim = check_positive_int(emb_dim, "emb_dim")
        beta = check_non_negative_float(beta, "beta")

        # === Layers ===
        encoder = self._build_encoder(input_shape, latent_dim, emb_dim, network)
        decoder = self._build_decoder(input_shape, latent_dim, emb_dim, split, network)

        # === Model: data -> encoder -> sample -> decoder (and gamma, rule "split_vae") ===
        self._build_graph(encoder, decoder, seed, **kwargs)

        # === Config ===
        self.image_shape = input_shape
        self.latent_dim = latent_dim
        self.emb_dim = emb_dim
        self.beta = beta
        self.split = split
        self.seed = seed
        self.network = network

    def get_config(self):
        return {
            **super().get_config(),
            "input_shape": self.image_shape,
            "latent_dim": self.latent_dim,
            "emb_dim": self.emb_dim,
            "beta": self.beta,
            "split": self.split,
            "seed": self.seed,
            **self.network.as_dict(),
        }

    @staticmethod
    def _build_encoder(input_shape, latent_dim, emb_dim, network):
        images = keras.Input(shape=input_shape, name="images")
        embedding = blocks.conv_encoder(
            input_shape, emb_dim=emb_dim, name="embedding", **network.as_dict()
        )(images)
        # Float32 heads under a mixed-precision policy (exp(z_log_var) and
        # the KL need float32); the rest of the network follows the policy.
        z_mean = layers.Dense(latent_dim, dtype="float32", name="z_mean")(embedding)
        z_log_var = layers.Dense(latent_dim, dtype="float32", name="z_log_var")(embedding)
        return keras.Model(images, [z_mean, z_log_var], name="encoder")

    @staticmethod
    def _build_decoder(input_shape, latent_dim, emb_dim, split, network):
        channels = input_shape[-1]
        z = keras.Input(shape=(latent_dim,), name="z")
        # The authors map z back to the embedding with ONE Dense layer,
        # shared by reconstruction and generation.
        embedding = layers.Dense(emb_dim, name="latent_to_embedding")(z)
        decoded = blocks.conv_decoder(
            input_shape,
            2 * channels + 1 if split else channels,
            emb_dim=emb_dim, name="synthesis", **network.decoder_kwargs(),
        )(embedding)
        if split:
            outputs = SplitComposition(
                channels, dtype="float32", name="split_composition"
            )(decoded)
        else:
            outputs = {"x_hat": decoded}
        return keras.Model(z, outputs, name="decoder")

    # --- Training ---------------------------------------------------------

    def default_optimizer(self, role):
        """Adam(1e-4), the authors' script's (the paper's 1e-3 diverges)."""
        return keras.optimizers.Adam(1e-4)

    def vae_loss_terms(self, x, outputs):
        """0.5 * sum((x - x_hat)^2) / gamma + beta * KL (`balanced_split_vae_loss`)."""
        loss, _, kl = balanced_split_vae_loss(
            x,
            outputs["x_hat"],
            outputs["z_mean"],
            outputs["z_log_var"],
            self.balancer.current_gamma(),
            self.beta,
        )
        return {"loss": loss, "kl": kl}


def build_svae(input_shape, latent_dim, **kwargs):
    """Builds the authors' Split-VAE (or vanilla VAE with `split=False`).

    Paper configurations: MNIST `((32, 32, 1), 32, beta=8)`, CIFAR-10
    `((32, 32, 3), 200, beta=3)`, CelebA `((64, 64, 3), 150, beta=3)`, with
    the defaults for the rest. See `SplitVAE` for the arguments.

    Example:
    >>> model = build_svae((32, 32, 1), 32, beta=8)
    >>> model.count_params()
    12799299
    """
    kwargs.setdefault("name", "split_vae")
    return SplitVAE(input_shape, latent_dim, **kwargs)
