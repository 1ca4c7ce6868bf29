"""AAE and Prior-AAE of the learned-priors paper (section 2.1 and 3).

A deterministic autoencoder whose code distribution is matched
adversarially by a latent discriminator D(z): to the fixed N(0, I) (the
AAE of Makhzani et al. 2016), or to a learned generator of codes G: z_0 ->
z_T (the Prior-AAE: "train an unregularized autoencoder and separately
learn a generator which attempts to generate samples from the same
distribution as the autoencoder's latent space, i.e. a GAN is used to learn
the prior"). beta weights only the adversarial regulariser on the encoder
(section 3); beta = 0 leaves an unregularised autoencoder.

The three networks train in one step of Keras's own `train_step`: the
losses are in `compute_loss`, and a `GroupedOptimizer` gives each network
its own optimizer. Terms that pass through D without training it call D
with stop-gradient weights (`stateless_call`); D's own term sees
stop-gradient codes.
"""

import keras
import numpy as np
from keras import layers, ops

from keras_vaes.blocks.infogan import INFOGAN_FILTERS, DENSE_UNITS
from keras_vaes.blocks.infogan import LEAKY_SLOPE, infogan_decoder, infogan_encoder
from keras_vaes.layers.core import PACKAGE
from keras_vaes.losses.learned_priors import code_generator_loss, encoder_adversarial_loss
from keras_vaes.losses.learned_priors import latent_discriminator_loss
from keras_vaes.models.image_model import ImageModelAPI, check_network_arguments
from keras_vaes.samplers.base import _rng


def latent_discriminator(latent_dim, units=(512, 256), name="discriminator"):
    """MLP D(z) -> logit: d -> 512 -> 256 -> 1, LeakyReLU(0.2)."""
    z = keras.Input(shape=(latent_dim,), name="z")
    x = z
    for i, width in enumerate(units):
        x = layers.Dense(width, name=f"{name}_dense{i}")(x)
        x = layers.LeakyReLU(LEAKY_SLOPE, name=f"{name}_lrelu{i}")(x)
    logit = layers.Dense(1, dtype="float32", name=f"{name}_logit")(x)
    return keras.Model(z, logit, name=name)


def code_generator(latent_dim, units=(512, 512), name="code_generator"):
    """MLP G: z_0 -> z_T, d -> 512 -> 512 -> d, ReLU, linear output."""
    z_0 = keras.Input(shape=(latent_dim,), name="z_0")
    x = z_0
    for i, width in enumerate(units):
        x = layers.Dense(width, activation="relu", name=f"{name}_dense{i}")(x)
    z_T = layers.Dense(latent_dim, dtype="float32", name=f"{name}_out")(x)
    return keras.Model(z_0, z_T, name=name)


class CodeGeneratorPrior:
    """The Prior-AAE's learned prior: codes G(z_0), z_0 ~ N(0, I) (a `models.contract.Prior`).

    Args:
        code_generator: the network G (`code_generator`).
        latent_dim: int.
        rng: the NumPy generator drawing z_0 when `sample` gets no seed.
    """

    def __init__(self, code_generator, latent_dim, rng):
        self.code_generator = code_generator
        self.latent_dim = latent_dim
        self.rng = rng

    def sample(self, num_samples, seed=None):
        """`num_samples` codes G(z_0); the same seed, the same codes."""
        z_0 = _rng(seed, self.rng).standard_normal((num_samples, self.latent_dim)).astype("float32")
        return np.asarray(ops.convert_to_numpy(self.code_generator(z_0, training=False)), dtype="float32")


@keras.saving.register_keras_serializable(package=PACKAGE)
class PriorAAE(ImageModelAPI):
    """Adversarial autoencoder with a fixed (AAE) or learned (Prior-AAE) prior.

    Calling the model on images returns `{"x_hat": ..., "z": ...}` (z the
    deterministic code E(x)). `fit` minimises, in one step, with z_p the
    prior's codes (N(0, I) noise, or G(z_0) with z_0 ~ N(0, I)):

    - encoder and decoder: mean[0.5 ||x - D(E(x))||^2] + beta *
      mean[BCE(1, D(E(x)))] (non-saturating: codes look like the prior's);
    - discriminator: mean[BCE(1, D(z_p))] + mean[BCE(0, D(E(x)))];
    - code generator (learned prior): mean[BCE(0, D(G(z_0)))] (its codes
      look like the encoder's).

    Args:
        input_shape: tuple (H, W, C).
        latent_dim: int >= 2.
        beta: float >= 0. Weight of the encoder's adversarial term.
            Defaults to 1.0.
        prior: "learned" (Prior-AAE) or "normal" (AAE). Defaults to
            "learned".
        filters, dense_units: the InfoGAN network (`blocks.infogan`).
        discriminator_units: hidden widths of D. Defaults to (512, 256).
        generator_units: hidden widths of G. Defaults to (512, 512).
        seed: int or None. Seeds the prior's noise in training and
            `generate` when it gets no seed.
        reconstruction, perceptual_model: the reconstruction term, `"l2"`
            or `"perceptual"` (VGG19, section 5), as for `FlowPriorVAE`.

    Example:
    >>> model = PriorAAE((8, 8, 1), 2, filters=(4, 8), dense_units=16,
    ...                  discriminator_units=(8,), generator_units=(8,))
    >>> codes, log_var = model.encode(np.zeros((3, 8, 8, 1), "float32"))
    >>> codes.shape, log_var  # a deterministic encoder
    ((3, 2), None)
    """

    def __init__(
        self,
        input_shape,
        latent_dim,
        beta=1.0,
        prior="learned",
        filters=INFOGAN_FILTERS,
        dense_units=DENSE_UNITS,
        discriminator_units=(512, 256),
        generator_units=(512, 512),
        seed=None,
        reconstruction="l2",
        perceptual_model=None,
        **kwargs,
    ):
        input_shape, latent_dim, beta, filters, dense_units = check_network_arguments(
            input_shape, latent_dim, beta, filters, dense_units
        )
        discriminator_units = tuple(int(u) for u in discriminator_units)
        generator_units = tuple(int(u) for u in generator_units)
        if prior not in ("learned", "normal"):
            raise ValueError(f"`prior` must be 'learned' or 'normal'. Received: prior={prior!r}")
        super().__init__(input_shape, latent_dim, beta, filters, dense_units, seed, reconstruction,
                         perceptual_model, **kwargs)

        # === Layers ===
        self.encoder = infogan_encoder(input_shape, latent_dim, filters, dense_units, name="encoder")
        self.decoder = infogan_decoder(latent_dim, input_shape, filters, dense_units, name="decoder")
        self.discriminator = latent_discriminator(latent_dim, discriminator_units)
        self.code_generator = None
        if prior == "learned":
            self.code_generator = code_generator(latent_dim, generator_units)
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.track_loss_terms(("loss", "reconstruction", "adversarial", "discriminator", "generator"))
        self.built = True

        # === Config ===
        self.discriminator_units = discriminator_units
        self.generator_units = generator_units
        # The declared prior (a plain object, not tracked: G is saved once,
        # as `code_generator`); None for the AAE's N(0, I).
        if self.code_generator is not None:
            self.prior = CodeGeneratorPrior(self.code_generator, latent_dim, self._generator)

    def get_config(self):
        return {
            **super().get_config(),
            "prior": "normal" if self.code_generator is None else "learned",
            "discriminator_units": self.discriminator_units,
            "generator_units": self.generator_units,
        }

    # --- Forward pass and loss --------------------------------------------

    def call(self, inputs, training=None):
        z = self.encoder(inputs, training=training)
        return {"x_hat": self.decoder(z, training=training), "z": z}

    def prior_codes(self, z_0, training=False):
        """The prior's codes for noise z_0: G(z_0), or z_0 itself (AAE)."""
        if self.code_generator is None:
            return ops.cast(z_0, "float32")
        return self.code_generator(z_0, training=training)

    def _frozen_discriminator(self, codes):
        # D's weights enter as constants: the term trains what feeds D only.
        frozen = [ops.stop_gradient(v) for v in self.discriminator.trainable_variables]
        logits, _ = self.discriminator.stateless_call(
            frozen, self.discriminator.non_trainable_variables, codes
        )
        return logits

    def loss_terms(self, x, y_pred, training=False, z_0=None):
        """The summed objective `"loss"` and its terms, for prior noise `z_0`.

        `z_0` defaults to a draw of N(0, I) from the model's seed generator.
        """
        z = y_pred["z"]
        if z_0 is None:
            z_0 = keras.random.normal(ops.shape(z), seed=self.seed_generator)
        z_prior = self.prior_codes(z_0, training=training)
        rec = ops.mean(self.reconstruction_terms(x, y_pred["x_hat"]))
        adversarial = encoder_adversarial_loss(self._frozen_discriminator(z))
        d_loss = latent_discriminator_loss(
            self.discriminator(ops.stop_gradient(z_prior)),
            self.discriminator(ops.stop_gradient(z)),
        )
        g_loss = ops.zeros_like(rec)
        if self.code_generator is not None:
            g_loss = code_generator_loss(self._frozen_discriminator(z_prior))
        loss = rec + self.beta * adversarial + d_loss + g_loss
        return {"loss": loss, "reconstruction": rec, "adversarial": adversarial,
                "discriminator": d_loss, "generator": g_loss}

    # --- Optimizers -------------------------------------------------------

    @property
    def optimizer_roles(self):
        """`("vae", "discriminator", "generator")`; no `"generator"` for the AAE."""
        roles = ("vae", "discriminator")
        return roles + ("generator",) if self.code_generator is not None else roles

    def optimizer_variables(self):
        groups = {
            "vae": self.encoder.trainable_variables + self.decoder.trainable_variables,
            "discriminator": self.discriminator.trainable_variables,
        }
        if self.code_generator is not None:
            groups["generator"] = self.code_generator.trainable_variables
        return groups

    # --- Public API -------------------------------------------------------

    def _encode_arrays(self, images, labels, batch_size):
        # A deterministic encoder: the posterior is the code E(x).
        return self.encoder.predict(images, batch_size=batch_size, verbose=0), None



def build_prior_aae(input_shape, latent_dim, **kwargs):
    """Builds a Prior-AAE (`prior="learned"`) or an AAE (`prior="normal"`).

    The same InfoGAN encoder / decoder as `build_flow_prior_vae`, with a
    deterministic encoder. See `PriorAAE` for the arguments.

    Example:
    >>> model = build_prior_aae((32, 32, 1), 8, beta=0.0)
    >>> model.compile()  # Adam(1e-4, beta_1=0.5) for each network
    >>> model.optimizer_roles
    ('vae', 'discriminator', 'generator')
    """
    kwargs.setdefault("name", "prior_aae" if kwargs.get("prior", "learned") == "learned" else "aae")
    return PriorAAE(input_shape, latent_dim, **kwargs)
