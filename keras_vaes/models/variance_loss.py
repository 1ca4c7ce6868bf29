"""The dense and convolutional VAEs of the variance-loss paper's Figure 4.

Asperti, "Variance Loss in Variational Autoencoders" (LOD 2020), section 3,
Figure 4: the MSE against the variance loss of reconstructions and
generations for dense, convolutional and ResNet VAEs. The ResNet one is
`FirstStage`; `VarianceLossVAE` is the other two with the same balanced
loss (`GaussianVAE`: k * KL + Gaussian NLL with gamma_x = sqrt(mse
estimate), k = (2 * image_side / latent_dim)^2).

Example:

>>> model = VarianceLossVAE((32, 32, 1), 8, architecture="dense", units=(32, 16))
>>> model.decode(np.zeros((2, 8), "float32"))["x_hat"].shape
(2, 32, 32, 1)
"""

import keras
import numpy as np
from keras import layers

from keras_vaes.layers import PACKAGE
from keras_vaes.models.stages import GaussianVAE, first_stage_kl_weight
from keras_vaes.utils import check_input_shape, check_positive_int

ARCHITECTURES = ("dense", "convolutional")


@keras.saving.register_keras_serializable(package=PACKAGE)
class VarianceLossVAE(GaussianVAE):
    """A balanced Gaussian VAE on a dense or a small convolutional network (Figure 4).

    dense: Flatten -> Dense(units[0]) -> Dense(units[1]) -> (mean, log-var);
    the decoder mirrors it, sigmoid outputs. convolutional: two stride-2
    4x4 convolutions (`filters`) -> Dense(units[-1]); the decoder a Dense
    to `(H/4, W/4, filters[-1])` and two stride-2 transposed convolutions.

    Args:
        input_shape: tuple (H, W, C); H and W divisible by 4 for
            "convolutional".
        latent_dim: int. Dimension of z.
        architecture: str. "dense" or "convolutional". Defaults to "dense".
        units: tuple of two ints. Dense widths. Defaults to (512, 256).
        filters: tuple of two ints. Convolution widths. Defaults to (32, 64).
        initial_mse: float. Starting MSE estimate of the balancing.
            Defaults to 1 (the authors'); short runs start lower.
        seed: int or None. Seed of the sampling layer.
        **kwargs: `keras.Model`'s (`name`, `dtype`).
    """

    def __init__(self, input_shape, latent_dim, architecture="dense", units=(512, 256),
                 filters=(32, 64), initial_mse=1.0, seed=None, **kwargs):
        input_shape = check_input_shape(input_shape)
        latent_dim = check_positive_int(latent_dim, "latent_dim")
        if architecture not in ARCHITECTURES:
            raise ValueError(f"Expected `architecture` among {ARCHITECTURES}. "
                             f"Received: architecture={architecture!r}")
        units = tuple(check_positive_int(u, "units") for u in units)
        filters = tuple(check_positive_int(f, "filters") for f in filters)
        if len(units) != 2 or len(filters) != 2:
            raise ValueError(f"Expected two `units` and two `filters`. Received: units={units}, "
                             f"filters={filters}")
        if architecture == "convolutional" and (input_shape[0] % 4 or input_shape[1] % 4):
            raise ValueError("The convolutional network halves the image twice: H and W must be "
                             f"divisible by 4. Received: input_shape={input_shape}")

        # === Layers ===
        images = keras.Input(input_shape, name="images")
        codes = keras.Input((latent_dim,), name="codes")
        if architecture == "dense":
            h = layers.Flatten()(images)
            for width in units:
                h = layers.Dense(width, activation="relu")(h)
            y = codes
            for width in reversed(units):
                y = layers.Dense(width, activation="relu")(y)
            y = layers.Dense(int(np.prod(input_shape)), activation="sigmoid")(y)
            y = layers.Reshape(input_shape)(y)
        else:
            h = images
            for width in filters:
                h = layers.Conv2D(width, 4, strides=2, padding="same", activation="relu")(h)
            h = layers.Dense(units[-1], activation="relu")(layers.Flatten()(h))
            side = (input_shape[0] // 4, input_shape[1] // 4, filters[-1])
            y = layers.Reshape(side)(layers.Dense(int(np.prod(side)), activation="relu")(codes))
            y = layers.Conv2DTranspose(filters[0], 4, strides=2, padding="same", activation="relu")(y)
            y = layers.Conv2DTranspose(input_shape[-1], 4, strides=2, padding="same",
                                       activation="sigmoid")(y)
        heads = [layers.Dense(latent_dim, name="z_mean")(h), layers.Dense(latent_dim, name="z_log_var")(h)]

        # === Functional model ===
        self._build_graph(keras.Model(images, heads, name="encoder"), keras.Model(codes, y, name="decoder"),
                          seed, initial_mse, **kwargs)

        # === Config ===
        self.image_shape = input_shape
        self.latent_dim = latent_dim
        self.architecture = architecture
        self.units = units
        self.filters = filters
        self.seed = seed
        self.kl_weight = first_stage_kl_weight(input_shape[0], latent_dim)

    def get_config(self):
        return {
            **super().get_config(),
            "architecture": self.architecture,
            "input_shape": self.image_shape,
            "latent_dim": self.latent_dim,
            "units": self.units,
            "filters": self.filters,
            "initial_mse": self.initial_mse,
            "seed": self.seed,
        }
