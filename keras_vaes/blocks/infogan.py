"""InfoGAN-style encoder and decoder of the learned-priors paper.

"Empirical observations pertaining to learned priors", section 4.1: "the
autoencoder architecture was the same for all models; we implemented the
network architectures used for MNIST and CIFAR-10 described in Chen et al.
(2016); Lucic et al. (2018)". Lucic et al.'s InfoGAN discriminator and
generator (their Table 7), here as encoder and decoder:

- encoder: Conv4x4/2(64) LReLU(0.2) -> Conv4x4/2(128) BN LReLU ->
  Dense(1024) BN LReLU -> Dense(output_dim);
- decoder: Dense(1024) BN ReLU -> Dense(128 * H/4 * W/4) BN ReLU ->
  ConvT4x4/2(64) BN ReLU -> ConvT4x4/2(C) sigmoid.

`filters` generalises the two convolutions to more stages (one stride-2
convolution per entry, the decoder mirroring them): the CelebA 128x128
configuration `CELEBA_128` uses four, since the paper's supplementary with
its CelebA network is lost and two stages at 128x128 would put a
1024 x 131072 dense layer in the decoder. Every model of the paper (VAE,
FP-VAE, AAE, Prior-AAE) builds its networks here, so comparisons are fair.
"""

import keras
from keras import layers

from keras_vaes.layers import conv
from keras_vaes.layers.core import FusedBatchNormalization
from keras_vaes.utils import check_input_shape

# Lucic et al.'s InfoGAN network (MNIST, Fashion-MNIST, CIFAR-10).
INFOGAN_FILTERS = (64, 128)
DENSE_UNITS = 1024
LEAKY_SLOPE = 0.2
BN_MOMENTUM = 0.99
BN_EPSILON = 1e-5

# The paper's latent sizes (section 4.1 and 5).
LATENT_DIMS = {"mnist": 8, "fashion_mnist": 8, "cifar10": 64, "celeba": 128}

# CelebA 128x128 (section 5): latent 128, four stride-2 stages (128 -> 8).
CELEBA_128 = {
    "input_shape": (128, 128, 3),
    "latent_dim": 128,
    "filters": (64, 128, 256, 512),
    "dense_units": DENSE_UNITS,
}


def _batch_norm(name):
    return FusedBatchNormalization(momentum=BN_MOMENTUM, epsilon=BN_EPSILON, name=name)


def check_infogan_shape(input_shape, filters=INFOGAN_FILTERS):
    """Validates an image shape (H, W, C) for `len(filters)` halvings.

    Height and width must be multiples of `2 ** len(filters)`
    (`keras_vaes.utils.check_input_shape`).
    """
    return check_input_shape(input_shape, multiple_of=2 ** len(filters))


def _check_filters(filters):
    filters = tuple(int(f) for f in filters)
    if not filters or min(filters) < 1:
        raise ValueError(
            f"Expected a non-empty list of positive filter counts. Received: filters={filters}"
        )
    return filters


def _conditioned_dense(x, first_input, num_classes, dense_units, activation, name):
    """[x, one-hot label] when `num_classes` (section 6), then Dense -> BN -> activation.

    Returns the output and the model inputs (`first_input`, or it and the
    `labels` input).
    """
    inputs = first_input
    if num_classes:
        labels = keras.Input(shape=(num_classes,), name="labels")
        x = layers.Concatenate(name=f"{name}_condition")([x, labels])
        inputs = [first_input, labels]
    x = layers.Dense(dense_units, name=f"{name}_dense")(x)
    x = _batch_norm(f"{name}_dense_bn")(x)
    return activation(x), inputs


def infogan_encoder(
    input_shape,
    output_dim,
    filters=INFOGAN_FILTERS,
    dense_units=DENSE_UNITS,
    num_classes=None,
    name="infogan_encoder",
):
    """InfoGAN encoder (Chen et al. 2016; Lucic et al. 2018, Table 7).

    Args:
        input_shape: tuple (H, W, C), H and W multiples of 2^len(filters).
        output_dim: int. Width of the last (linear) Dense layer: 2 * latent
            for a Gaussian posterior (mean, log-variance), latent for a
            deterministic encoder.
        filters: tuple of ints. Channels of the stride-2 4x4 convolutions.
            Defaults to (64, 128).
        dense_units: int. Width of the hidden Dense layer. Defaults to 1024.
        num_classes: int or None. When set, the model takes a second input,
            a one-hot label (num_classes,), concatenated to the flattened
            features (conditional encoder q(z | x, y), section 6).
        name: str. Model name and prefix of the layer names.

    Returns:
        A `keras.Model` images (or [images, one_hot]) -> (N, output_dim).

    Example:
    >>> infogan_encoder((32, 32, 1), 16).count_params()
    8542928
    """
    filters = _check_filters(filters)
    input_shape = check_infogan_shape(input_shape, filters)
    images = keras.Input(shape=input_shape, name="images")
    x = images
    for i, f in enumerate(filters):
        x = conv.Conv2D(f, 4, strides=2, padding="same", name=f"{name}_conv{i}")(x)
        if i > 0:  # InfoGAN: no BN after the first convolution
            x = _batch_norm(f"{name}_conv{i}_bn")(x)
        x = layers.LeakyReLU(LEAKY_SLOPE, name=f"{name}_conv{i}_lrelu")(x)
    x = layers.Flatten(name=f"{name}_flatten")(x)
    activation = layers.LeakyReLU(LEAKY_SLOPE, name=f"{name}_dense_lrelu")
    x, inputs = _conditioned_dense(x, images, num_classes, dense_units, activation, name)
    outputs = layers.Dense(output_dim, dtype="float32", name=f"{name}_out")(x)
    return keras.Model(inputs, outputs, name=name)


def infogan_decoder(
    latent_dim,
    output_shape,
    filters=INFOGAN_FILTERS,
    dense_units=DENSE_UNITS,
    num_classes=None,
    name="infogan_decoder",
):
    """InfoGAN decoder / generator (Chen et al. 2016; Lucic et al. 2018).

    Args:
        latent_dim: int. Size of z.
        output_shape: tuple (H, W, C) of the images.
        filters: tuple of ints. The encoder's filters; the transposed
            convolutions use them in reverse order, the last one emits C
            channels with a sigmoid. Defaults to (64, 128).
        dense_units: int. Width of the first Dense layer. Defaults to 1024.
        num_classes: int or None. When set, a one-hot label is concatenated
            to z (conditional decoder p(x | z, y), section 6).
        name: str. Model name and prefix of the layer names.

    Returns:
        A `keras.Model` z (or [z, one_hot]) -> images in [0, 1].

    Example:
    >>> infogan_decoder(8, (32, 32, 1)).count_params()
    8575297
    """
    filters = _check_filters(filters)
    output_shape = check_infogan_shape(output_shape, filters)
    height, width, channels = output_shape
    factor = 2 ** len(filters)
    z = keras.Input(shape=(latent_dim,), name="z")
    activation = layers.ReLU(name=f"{name}_dense_relu")
    x, inputs = _conditioned_dense(z, z, num_classes, dense_units, activation, name)
    x = layers.Dense(filters[-1] * (height // factor) * (width // factor), name=f"{name}_project")(x)
    x = _batch_norm(f"{name}_project_bn")(x)
    x = layers.ReLU(name=f"{name}_project_relu")(x)
    x = layers.Reshape((height // factor, width // factor, filters[-1]), name=f"{name}_reshape")(x)
    for i, f in enumerate(reversed(filters[:-1])):
        x = conv.Conv2DTranspose(f, 4, strides=2, padding="same", name=f"{name}_deconv{i}")(x)
        x = _batch_norm(f"{name}_deconv{i}_bn")(x)
        x = layers.ReLU(name=f"{name}_deconv{i}_relu")(x)
    outputs = conv.Conv2DTranspose(
        channels, 4, strides=2, padding="same", activation="sigmoid",
        dtype="float32", name=f"{name}_out",
    )(x)
    return keras.Model(inputs, outputs, name=name)
