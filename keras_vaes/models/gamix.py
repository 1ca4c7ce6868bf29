"""GAMIX-VAE (Rivera, "GAMIX-VAE: a VAE with Gaussian mixture based posterior").

A VAE whose KL term treats the batch's posterior as a Gaussian mixture (eq.
(5)-(10)), with a regulariser on the individual variances (eq. (11)), an L1
reconstruction (eq. (12)), the weighted ELBO of eq. (13), a PatchGAN adversary
(section 3.2) and ResNetV2 encoder / decoder, as the author's public Keras 3
code (marianorivera/How2TrainUrVAE; see the GAMIX-VAE paper page).
"""


import keras
import numpy as np
from keras import ops

from keras_vaes.blocks import resnet_v2
from keras_vaes.layers.core import PACKAGE, Sampling
from keras_vaes.losses.gamix import (
    batch_mixture_moments,
    batch_mixture_kl,
    check_batch_of_two,
    discriminator_loss,
    patch_generator_loss,
    l1_reconstruction,
    variance_regularizer,
)
from keras_vaes.losses.gaussian import gaussian_kl
from keras_vaes.models.base import GenerativeModel
from keras_vaes.utils import (
    check_images,
    check_input_shape,
    check_non_negative_float,
    check_positive_int,
)

KL_CHOICES = ("mixture", "standard")


def check_signed_images(images, expected_shape=None, name="images"):
    """Checks a batch of GAMIX-VAE images: rank 4, shape, values in [-1, 1].

    GAMIX-VAE works on data in [-1, 1] (the author's code), unlike the
    package's other models ([0, 1]). Returns a float32 NumPy array.
    """
    images = check_images(images, expected_shape, name=name, value_range=(-1.0, 1.0), tolerance=1e-6)
    return images.astype("float32", copy=False)


def to_unit_range(images):
    """Maps [-1, 1] images (or decoder outputs) to [0, 1], clipped, for display and FID."""
    return np.clip((np.asarray(images, dtype="float32") + 1.0) / 2.0, 0.0, 1.0)


@keras.saving.register_keras_serializable(package=PACKAGE)
class GamixVAE(GenerativeModel):
    """GAMIX-VAE: batch-mixture KL, variance regulariser, PatchGAN adversary.

    Calling the model on images in [-1, 1] returns a dict with `"x_hat"`
    (decoded from a sampled z, linear output), `"z_mean"` and `"z_log_var"`.
    `fit` minimises the weighted ELBO of eq. (13) plus the adversarial terms,
    with the author's weights: 5000 * L1 (eq. (12), mean |x - x_hat| of data
    in [-1, 1]) + 1 * batch-mixture KL (eq. (8)-(10)) + 0.1 * variance
    regulariser (eq. (11)) + 100 * BCE(1, D(x_hat)) for the encoder and
    decoder, and 100 * [BCE(1, D(x)) + BCE(0, D(x_hat))] for the PatchGAN.

    Keras's own `train_step` trains both networks in one step from one
    forward pass (`optimizer_roles` `("vae", "discriminator")`, one Adam
    per network); the generator term goes through the discriminator with
    frozen weights (`stateless_call`), so no override is needed on any
    backend.

    Args:
        input_shape: tuple (H, W, C), H = W = 4 * 2^k.
        latent_dim: int, a multiple of 8.
        filters: int. Width F of the ResNetV2 encoder / decoder. Defaults
            to 128 (the author's).
        discriminator_filters: int or None. Width of the PatchGAN (filters
            [F, F, F, F/2, F/2, 1]); None uses `filters`.
        discriminator_strides: tuple of 6 ints. Defaults to (2, 2, 2, 1, 1, 1).
        kl: `"mixture"` (eq. (8)-(10), default) or `"standard"` (the
            Gaussian KL to N(0, I) per sample, without the variance
            regulariser). `kl="standard", adversarial=False` is the
            paper's baseline: the same network as a standard VAE.
        adversarial: bool. Train with the PatchGAN. Defaults to True.
        bn_training: bool. Run BatchNormalization and Dropout in training
            mode during training. False (default) is the author's code,
            where they run in inference mode (BN an affine map, no
            dropout); True is the intended training-mode behaviour.
        reconstruction_weight: float. Weight of the L1 term. Defaults to
            5000.
        kl_weight: float. Weight of the KL term. Defaults to 1.
        regularizer_weight: float. Weight of the variance regulariser.
            Defaults to 0.1.
        adversarial_weight: float. Weight of both adversarial terms.
            Defaults to 100.
        seed: int or None. Seed of the sampling layer, and of `generate`
            and `reconstruct(sample=True)` when they get no seed (None:
            NumPy's global state, see `keras_vaes.models.contract`).

    Example:
    >>> import numpy as np
    >>> model = GamixVAE((8, 8, 1), 8, filters=4)
    >>> model.decode(np.zeros((2, 8), "float32"))["x_hat"].shape
    (2, 8, 8, 1)
    """

    value_range = (-1.0, 1.0)
    min_batch_size = 2  # the batch-mixture variance of one image is undefined

    def __init__(
        self,
        input_shape,
        latent_dim,
        filters=128,
        discriminator_filters=None,
        discriminator_strides=(2, 2, 2, 1, 1, 1),
        kl="mixture",
        adversarial=True,
        bn_training=False,
        reconstruction_weight=5000.0,
        kl_weight=1.0,
        regularizer_weight=0.1,
        adversarial_weight=100.0,
        seed=None,
        **kwargs,
    ):
        input_shape = check_input_shape(input_shape)
        resnet_v2.num_stages(input_shape)
        latent_dim = check_positive_int(latent_dim, "latent_dim")
        resnet_v2.check_latent_dim(latent_dim)
        check_positive_int(filters, "filters")
        reconstruction_weight = check_non_negative_float(reconstruction_weight, "reconstruction_weight")
        kl_weight = check_non_negative_float(kl_weight, "kl_weight")
        regularizer_weight = check_non_negative_float(regularizer_weight, "regularizer_weight")
        adversarial_weight = check_non_negative_float(adversarial_weight, "adversarial_weight")
        discriminator_strides = tuple(discriminator_strides)
        adversarial, bn_training = bool(adversarial), bool(bn_training)
        if kl not in KL_CHOICES:
            raise ValueError(f"kl must be one of {KL_CHOICES}. Received: kl={kl!r}")
        super().__init__(**kwargs)

        # === Networks ===
        self.encoder = resnet_v2.resnet_v2_encoder(input_shape, latent_dim, filters)
        self.decoder = resnet_v2.resnet_v2_decoder(input_shape, latent_dim, filters)
        self.sampling = Sampling(seed=seed, dtype="float32", name="sampling")
        self._seed_draws(seed)
        self.discriminator = None
        if adversarial:
            self.discriminator = resnet_v2.patchgan_discriminator(
                input_shape, discriminator_filters or filters, discriminator_strides
            )

        # === Progress-bar trackers (the total and the unweighted terms) ===
        names = ["loss", "l1", "kl"]
        names += ["var_reg"] if kl == "mixture" else []
        names += ["g_adv", "d_loss", "d_acc"] if adversarial else []
        names += ["batch_mean_sq", "batch_var", "sigma_sq"]
        self.track_loss_terms(names)

        # === Config ===
        self.image_shape = input_shape
        self.latent_dim = latent_dim
        self.filters = filters
        self.discriminator_filters = discriminator_filters
        self.discriminator_strides = discriminator_strides
        self.kl = kl
        self.adversarial = adversarial
        self.bn_training = bn_training
        self.reconstruction_weight = reconstruction_weight
        self.kl_weight = kl_weight
        self.regularizer_weight = regularizer_weight
        self.adversarial_weight = adversarial_weight
        self.seed = seed
        self.build(input_shape=(None,) + input_shape)

    def get_config(self):
        return {
            **super().get_config(),
            "input_shape": self.image_shape,
            "latent_dim": self.latent_dim,
            "filters": self.filters,
            "discriminator_filters": self.discriminator_filters,
            "discriminator_strides": self.discriminator_strides,
            "kl": self.kl,
            "adversarial": self.adversarial,
            "bn_training": self.bn_training,
            "reconstruction_weight": self.reconstruction_weight,
            "kl_weight": self.kl_weight,
            "regularizer_weight": self.regularizer_weight,
            "adversarial_weight": self.adversarial_weight,
            "seed": self.seed,
        }

    def build(self, input_shape=None):
        # The networks are functional models, built in __init__.
        self.sampling.build([(None, self.latent_dim)] * 2)
        self.built = True

    def _net_training(self, training):
        return bool(training) and self.bn_training

    def call(self, inputs, training=None):
        net_training = self._net_training(training)
        z_mean, z_log_var = self.encoder(inputs, training=net_training)
        z = self.sampling([z_mean, z_log_var])
        x_hat = self.decoder(z, training=net_training)
        return {"x_hat": x_hat, "z_mean": z_mean, "z_log_var": z_log_var}

    # --- Training ---------------------------------------------------------

    @property
    def optimizer_roles(self):
        """`("vae", "discriminator")`, or `("vae",)` without the PatchGAN."""
        return ("vae", "discriminator") if self.adversarial else ("vae",)

    def default_optimizer(self, role):
        """Adam(1e-4, beta_1=0.5) for each network, the author's."""
        return keras.optimizers.Adam(1e-4, beta_1=0.5)

    def optimizer_variables(self):
        groups = {"vae": self.encoder.trainable_variables + self.decoder.trainable_variables}
        if self.adversarial:
            groups["discriminator"] = self.discriminator.trainable_variables
        return groups

    def loss_terms(self, x, y_pred, training=False):
        """The weighted GAMIX-VAE objective of one batch (eq. (13) + adversary) and its terms.

        `"loss"`: one scalar whose gradient with respect to the encoder and
        decoder is that of their loss, and with respect to the
        discriminator that of the discriminator loss (see the class
        docstring). The other terms are unweighted, for the progress bar.
        """
        check_batch_of_two(x, "x")
        x = ops.cast(x, "float32")
        x_hat, z_mean, z_log_var = y_pred["x_hat"], y_pred["z_mean"], y_pred["z_log_var"]
        values = {"l1": l1_reconstruction(x, x_hat)}
        if self.kl == "mixture":
            values["kl"] = batch_mixture_kl(z_mean)
            values["var_reg"] = variance_regularizer(z_log_var)
            total = self.kl_weight * values["kl"] + self.regularizer_weight * values["var_reg"]
        else:
            values["kl"] = ops.mean(gaussian_kl(z_mean, z_log_var))
            total = self.kl_weight * values["kl"]
        total = total + self.reconstruction_weight * values["l1"]
        if self.adversarial:
            d_training = self._net_training(training)
            discriminator = self.discriminator
            real = discriminator(x, training=d_training)
            fake = discriminator(ops.stop_gradient(x_hat), training=d_training)
            values["d_loss"] = discriminator_loss(real, fake)
            # The generator's term through the discriminator with frozen
            # weights: no gradient reaches the discriminator from it.
            frozen = [ops.stop_gradient(v) for v in discriminator.trainable_variables]
            through, _ = discriminator.stateless_call(
                frozen, discriminator.non_trainable_variables, x_hat, training=d_training
            )
            values["g_adv"] = patch_generator_loss(through)
            values["d_acc"] = 0.5 * (
                ops.mean(ops.cast(real > 0, "float32")) + ops.mean(ops.cast(fake < 0, "float32"))
            )
            total = total + self.adversarial_weight * (values["g_adv"] + values["d_loss"])
        mu_bar, sigma_bar_sq = batch_mixture_moments(z_mean)
        values["batch_mean_sq"] = ops.mean(ops.square(mu_bar))
        values["batch_var"] = ops.mean(sigma_bar_sq)
        values["sigma_sq"] = ops.mean(ops.exp(ops.cast(z_log_var, "float32")))
        values["loss"] = total
        return values

    def evaluate(self, x=None, y=None, batch_size=None, *args, **kwargs):
        x, y = self._checked_fit_input(x, y, batch_size)
        return super().evaluate(x, y, batch_size, *args, **kwargs)

    # --- Public API -------------------------------------------------------

    def latent_variants(self, image, dims=(0, 3), steps=(-20.0, 0.0, 20.0), scale="sigma"):
        """Fig. 2: a grid of variants of one image, two latent entries moved.

        z' is the posterior mean of `image`; entry `dims[0]` takes the
        values of `steps` along the rows and `dims[1]` along the columns.
        `scale="sigma"` moves them by step * sigma from the mean (the
        author's code: -20, 0, +20 sigma on dims 0 and 3); `scale="absolute"`
        sets them to the step values (the paper's text: {-6, 0, 6}).

        Returns:
            Images of shape (len(steps)**2, H, W, C), row-major.
        """
        if scale not in ("sigma", "absolute"):
            raise ValueError(f"scale must be 'sigma' or 'absolute'. Received: scale={scale!r}")
        if len(dims) != 2 or not all(0 <= d < self.latent_dim for d in dims):
            raise ValueError(
                f"Expected two latent indices in [0, {self.latent_dim}). Received: dims={dims}"
            )
        image = np.asarray(image)
        mean, log_var = self.encode(image[None] if image.ndim == 3 else image[:1])
        sigma = np.exp(0.5 * log_var[0])
        z = np.repeat(mean, len(steps) ** 2, axis=0)
        for k, (a, b) in enumerate((a, b) for a in steps for b in steps):
            for dim, step in zip(dims, (a, b)):
                z[k, dim] = mean[0, dim] + step * sigma[dim] if scale == "sigma" else step
        return self.decode(z)["x_hat"]

    def interpolate(self, images_a, images_b, steps=6):
        """Fig. 3: decoded transitions between the encodings of two images.

        GAMIX-VAE eq. (14): z'_k = (1 - alpha_k) z_1 + alpha_k z_2 with
        alpha_k = k / (n - 1), k = 0..n-1, z the posterior means.

        Returns:
            Images of shape (N, steps, H, W, C), one row per pair.
        """
        if steps < 2:
            raise ValueError(f"Interpolation needs at least two steps. Received: steps={steps}")
        z1, _ = self.encode(images_a)
        z2, _ = self.encode(images_b)
        if z1.shape != z2.shape:
            raise ValueError(
                "Expected as many images in both sets. Received: "
                f"images_a.shape={np.shape(images_a)}, images_b.shape={np.shape(images_b)}"
            )
        alpha = (np.arange(steps, dtype="float32") / (steps - 1))[None, :, None]
        z = (1.0 - alpha) * z1[:, None] + alpha * z2[:, None]
        decoded = self.decode(z.reshape(-1, self.latent_dim))["x_hat"]
        return decoded.reshape((len(z1), steps) + self.image_shape)


def build_gamix_vae(input_shape, latent_dim, **kwargs):
    """Builds GAMIX-VAE (or, with `kl="standard", adversarial=False`, the baseline).

    Paper configuration: `build_gamix_vae((256, 256, 3), 512)` (encoder +
    decoder 10,982,066 parameters, PatchGAN 412,101). CPU configuration of
    this package: `build_gamix_vae((32, 32, 1), 32, filters=32,
    discriminator_strides=(2, 2, 1, 1, 1, 1))`. See `GamixVAE`.

    Example:
    >>> model = build_gamix_vae((32, 32, 1), 32, filters=32,
    ...                         discriminator_strides=(2, 2, 1, 1, 1, 1))
    >>> model.encoder.count_params() + model.decoder.count_params()
    293206
    """
    kwargs.setdefault("name", "gamix_vae")
    return GamixVAE(input_shape, latent_dim, **kwargs)
