"""The two stages of the two-stage VAE, each a balanced Gaussian VAE.

Asperti, "Variance Loss in Variational Autoencoders" (LOD 2020), on Dai &
Wipf's two-stage VAE (ICLR 2019) with the balancing of Asperti & Trentin
(2020), as in the authors' BalancingVAE code:

- `FirstStage`: the authors' ResNet VAE on images; loss k * KL + Gaussian
  NLL with gamma_x = sqrt(mse estimate), k = (2 * image_side /
  latent_dim)^2 (`first_stage_kl_weight`).
- `SecondStage`: a dense VAE on the first stage's latents z, same loss with
  gamma_z and k = 1, trained on z = mu + sigma * eps drawn afresh.

Both output log-variances (2 * the authors' log-sd, through a
parameter-free rescaling). `keras_vaes.models.two_stage` trains them in
sequence (`TwoStageVAE`).
"""

import itertools

import keras
import numpy as np
from keras import layers

from keras_vaes import blocks
from keras_vaes.layers import PACKAGE, Sampling
from keras_vaes.losses import balanced_gaussian_vae_loss
from keras_vaes.models.base import BalancedVAE
from keras_vaes.utils import check_non_negative_float, check_positive_int


def first_stage_kl_weight(image_side, latent_dim):
    """k = (2 * image_side / latent_dim)^2, the authors' stage-1 KL weight.

    Example:
    >>> first_stage_kl_weight(32, 64)
    1.0
    """
    return (2.0 * image_side / latent_dim) ** 2


def _kernel_initializers(seed):
    """Glorot-uniform initializers (Keras's default) seeded from `seed`, one per layer.

    None gives Keras's default, which draws from the global state
    (`keras.utils.set_random_seed`); an int makes the weights a function of it.
    """
    if seed is None:
        while True:
            yield "glorot_uniform"
    for index in itertools.count():
        state = np.random.SeedSequence([seed, index]).generate_state(1)[0]
        yield keras.initializers.GlorotUniform(seed=int(state) >> 1)


def _mean_and_log_var(features, latent_dim, prefix, initializers=None):
    """Dense -> mean and Dense -> log-sd (the authors' layers), as log-var."""
    initializers = initializers or _kernel_initializers(None)
    # Float32 under a mixed-precision policy (the KL needs it).
    mean = layers.Dense(latent_dim, dtype="float32", kernel_initializer=next(initializers),
                        name=f"{prefix}_mean")(features)
    log_sd = layers.Dense(latent_dim, dtype="float32", kernel_initializer=next(initializers),
                          name=f"{prefix}_log_sd")(features)
    log_var = layers.Rescaling(2.0, dtype="float32", name=f"{prefix}_log_var")(log_sd)
    return mean, log_var


class GaussianVAE(BalancedVAE):
    """A VAE with the two-stage balancing loss; the base of both stages.

    Subclasses build the networks and set `kl_weight`; the loss is
    `kl_weight * KL + sum(((x - x_hat) / gamma)^2 / 2 + log gamma
    + log(2 pi) / 2) / batch` (`losses.balanced_gaussian_vae_loss`), gamma
    = sqrt of the running-min MSE (`GammaBalancer(rule="two_stage")`).
    """

    balancing_rule = "two_stage"
    _gamma_restored = False

    def vae_loss_terms(self, x, outputs):
        """`{"loss", "kl"}` at the current gamma (`losses.balanced_gaussian_vae_loss`)."""
        rec_key, mean_key, log_var_key = self.output_keys
        loss, _, kl = balanced_gaussian_vae_loss(
            x,
            outputs[rec_key],
            outputs[mean_key],
            outputs[log_var_key],
            self.balancer.current_gamma(),
            self.kl_weight,
        )
        return {"loss": loss, "kl": kl}

    @property
    def gamma_restored(self):
        """Whether the last `load_weights` (of the stage or of a model holding it) restored gamma.

        False for a file without the balancing state: then call
        `estimate_gamma` on training data before resuming, as the authors.
        """
        return self._gamma_restored

    def load_own_variables(self, store):
        self._gamma_restored = "balancer_gamma" in store.keys()
        super().load_own_variables(store)

    def load_weights(self, filepath, *args, **kwargs):
        """Loads a `.weights.h5` file of the same configuration; returns `gamma_restored`."""
        self._gamma_restored = False
        super().load_weights(filepath, *args, **kwargs)
        return self._gamma_restored

    def copy_balancing_to(self, other):
        """Gives `other` (a stage of the same kind) this stage's gamma and MSE estimate."""
        state = {}
        self.balancer.save_to(state)
        other.balancer.load_from(state)


@keras.saving.register_keras_serializable(package=PACKAGE)
class FirstStage(GaussianVAE):
    """First stage: the authors' ResNet VAE on images, balanced.

    Calling the model on images returns `{"x_hat", "z_mean", "z_log_var"}`.

    Args:
        input_shape: tuple (H, W, C), H = W = 2 * 2^k.
        latent_dim: int. Dimension of z. Defaults to 64.
        fc_dim: int. Width of the dense block. Defaults to 512.
        l2_reg: float or None. L2 weight on the strided (transposed)
            convolutions, added to the training loss. None (default)
            reproduces the authors' runs, which are unregularised (see the
            two-stage paper page); a float is an opt-in extension.
        kl_weight: float or None. Weight of the KL term; None gives the
            authors' k = (2 * H / latent_dim)^2.
        initial_mse: float. Starting MSE estimate (gamma = its square
            root). Defaults to 1 as the authors; a lower start shortens
            the early phase where the KL term dominates (short runs).
        zero_debias: bool. Batch norm with TF1's bias-corrected moving
            statistics, as the authors' TF1 code (`FusedBatchNormalization`).
            Defaults to True; False gives Keras's plain moving average,
            whose inference mode needs `recalibrate_batch_norm` after a
            short run.
        seed: int or None. Seed of the sampling layer, and of `generate`
            and `reconstruct(sample=True)` when they get no seed.
        **kwargs: the ResNet's settings (`blocks.ResNetSettings`, with the
            authors' defaults: `base_dim=32`, `num_scale=4` scale blocks,
            i.e. 3 downsamplings, `kernel_size=3`, `block_per_scale=1`,
            `depth_per_block=2`), and `keras.Model`'s (`name`, `dtype`).

    Example:
    >>> stage = FirstStage((16, 16, 1), 8, base_dim=8, num_scale=2, fc_dim=16)
    >>> stage.decode(np.zeros((2, 8), "float32"))["x_hat"].shape
    (2, 16, 16, 1)
    """

    def __init__(
        self,
        input_shape,
        latent_dim=64,
        fc_dim=512,
        l2_reg=None,
        kl_weight=None,
        initial_mse=1.0,
        zero_debias=True,
        seed=None,
        **kwargs,
    ):
        network, kwargs = blocks.ResNetSettings.pop(kwargs, base_dim=32)
        # A stem at full resolution, then num_scale - 1 downsamplings; the
        # decoder starts from 2x2.
        input_shape = blocks.check_input_shape(input_shape, downsamplings=network.num_scale - 1, base_size=2)
        latent_dim = check_positive_int(latent_dim, "latent_dim")
        fc_dim = check_positive_int(fc_dim, "fc_dim")
        regularizer = keras.regularizers.L2(l2_reg) if l2_reg else None
        style = dict(activation="relu", zero_debias=zero_debias)

        # === Layers ===
        images = keras.Input(shape=input_shape, name="images")
        embedding = blocks.conv_encoder(
            input_shape, emb_dim=fc_dim, stem_strides=1, final_scale_block=True,
            dense_batch_norm=False, downsample_regularizer=regularizer, name="embedding",
            **style, **network.as_dict(),
        )(images)
        encoder = keras.Model(
            images, _mean_and_log_var(embedding, latent_dim, "z"), name="encoder"
        )
        decoder = blocks.conv_decoder(
            input_shape, input_shape[-1], emb_dim=latent_dim, base_size=2,
            upsample_regularizer=regularizer, name="decoder", **style, **network.decoder_kwargs(),
        )

        # === Functional model ===
        self._build_graph(encoder, decoder, seed, initial_mse, **kwargs)

        # === Config ===
        self.image_shape = input_shape
        self.latent_dim = latent_dim
        self.fc_dim = fc_dim
        self.l2_reg = l2_reg
        self.kl_weight_argument = kl_weight
        self.zero_debias = zero_debias
        self.seed = seed
        self.network = network
        self.kl_weight = (
            first_stage_kl_weight(input_shape[0], latent_dim)
            if kl_weight is None
            else check_non_negative_float(kl_weight, "kl_weight")
        )

    def get_config(self):
        return {
            **super().get_config(),
            "input_shape": self.image_shape,
            "latent_dim": self.latent_dim,
            "fc_dim": self.fc_dim,
            "l2_reg": self.l2_reg,
            "kl_weight": self.kl_weight_argument,
            "initial_mse": self.initial_mse,
            "zero_debias": self.zero_debias,
            "seed": self.seed,
            **self.network.as_dict(),
        }


@keras.saving.register_keras_serializable(package=PACKAGE)
class SecondStage(GaussianVAE):
    """Second stage: a dense VAE on the latent space of the first stage.

    Calling the model on z returns `{"z_hat", "u_mean", "u_log_var"}`.
    `fit` takes either latents z `(N, latent_dim)` or the first stage's
    posterior as a dict `{"z_mean": ..., "z_log_var": ...}`; then every
    training draw is z = mean + exp(log_var / 2) * eps with fresh eps, so
    each epoch sees a new sample of the aggregate posterior.

    Args:
        latent_dim: int. Dimension of z (and of u). Defaults to 64.
        second_dim: int. Width of the dense layers. Defaults to 1024.
        second_depth: int. Dense layers per side. Defaults to 3.
        kl_weight: float. Weight of the KL term. Defaults to 1.
        initial_mse: float. Starting MSE estimate (gamma_z = its square
            root). Defaults to 1, as the authors.
        seed: int or None. Seed of the initial weights, of the sampling
            of u and of z, and of `generate` when it gets no seed. None:
            Keras's and NumPy's global state (`keras.utils.set_random_seed`).

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
        latent_dim = check_positive_int(latent_dim, "latent_dim")
        second_dim = check_positive_int(second_dim, "second_dim")
        second_depth = check_positive_int(second_depth, "second_depth")

        # === Layers ===
        initializers = _kernel_initializers(seed)
        encoder = self._dense_side(latent_dim, second_dim, second_depth, "encoder", initializers)
        decoder = self._dense_side(latent_dim, second_dim, second_depth, "decoder", initializers)

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

    def get_config(self):
        return {
            **super().get_config(),
            "latent_dim": self.latent_dim,
            "second_dim": self.second_dim,
            "second_depth": self.second_depth,
            "kl_weight": self.kl_weight,
            "initial_mse": self.initial_mse,
            "seed": self.seed,
        }

    @staticmethod
    def _dense_side(latent_dim, second_dim, second_depth, name, initializers):
        # The second stage is float32 under any dtype policy: it is cheap,
        # and it models latent codes whose fine structure bfloat16 (8-bit
        # mantissa) would round away.
        inputs = keras.Input(shape=(latent_dim,), name=f"{name}_input")
        t = inputs
        for i in range(second_depth):
            t = layers.Dense(
                second_dim, activation="relu", dtype="float32",
                kernel_initializer=next(initializers), name=f"{name}_fc{i}",
            )(t)
        t = layers.Concatenate(dtype="float32", name=f"{name}_concat")([inputs, t])
        if name == "encoder":
            outputs = _mean_and_log_var(t, latent_dim, "u", initializers)
        else:
            outputs = layers.Dense(
                latent_dim, dtype="float32", kernel_initializer=next(initializers), name="z_hat"
            )(t)
        return keras.Model(inputs, outputs, name=name)

    def _check_data(self, data, name="z"):
        data = np.asarray(data, dtype="float32")
        if data.ndim != 2 or data.shape[1] != self.latent_dim:
            raise ValueError(
                f"Expected {name} of shape (N, {self.latent_dim}). "
                f"Received: {name}.shape={data.shape}"
            )
        return data

    def call(self, inputs, training=None):
        # A posterior {"z_mean", "z_log_var"} (what `fit` trains on): draw
        # z inside the step, fresh at every call on every backend, and
        # return it under "z" as the target of the reconstruction.
        if isinstance(inputs, dict):
            z = self.z_sampling([inputs["z_mean"], inputs["z_log_var"]])
            return {**super().call(z, training=training), "z": z}
        return super().call(inputs, training=training)

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
