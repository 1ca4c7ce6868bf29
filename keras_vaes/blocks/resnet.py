"""ResNet building blocks shared by every model of the package.

One implementation of the authors' residual, dense residual, scale and dense
scale blocks (Split-VAE paper, section III-A and Figure 6; the same blocks are
used by the two-stage / balancing VAE of the variance-loss paper). Each block
is a function `block(x) -> y` that creates its layers on call, in the style of
`keras.applications`, so that the models stay plain functional graphs and the
parameter counts equal those of the authors' Keras 2 code.
"""

import dataclasses
import functools

import keras
from keras import layers

from keras_vaes.layers import conv
from keras_vaes.layers.core import FusedBatchNormalization
from keras_vaes.utils import check_positive_int, checks

# The authors' BatchNormalization: momentum 0.999, epsilon 1e-5.
BN_MOMENTUM = 0.999
BN_EPSILON = 1e-5


def _batch_norm(name, zero_debias=False):
    # zero_debias: TF1's bias-corrected moving statistics (the two-stage
    # authors' TF1 code); False: Keras 2's plain average (Split-VAE authors).
    # The option is passed only when set, so the layer class can be swapped
    # for Keras's own BatchNormalization (tests/test_train_equivalence.py).
    extra = {"zero_debias": True} if zero_debias else {}
    return FusedBatchNormalization(momentum=BN_MOMENTUM, epsilon=BN_EPSILON, name=name, **extra)


def _residual(make_layer, kind, depth, activation, name, batch_norm, zero_debias):
    # `depth` x [BN -> activation -> layer] plus a layer on the shortcut; the
    # layer names (`{name}_{kind}{i}`, `{name}_shortcut`) are those of the
    # shipped weights.
    def apply(x):
        y = x
        for i in range(depth):
            if batch_norm:
                y = _batch_norm(f"{name}_bn{i}", zero_debias)(y)
            y = layers.Activation(activation, name=f"{name}_act{i}")(y)
            y = make_layer(f"{name}_{kind}{i}")(y)
        shortcut = make_layer(f"{name}_shortcut")(x)
        return layers.Add(name=f"{name}_add")([y, shortcut])

    return apply


def _in_sequence(block, count, name):
    # `count` blocks `block(name=...)` applied one after the other.
    def apply(x):
        for i in range(count):
            x = block(name=f"{name}_res{i}")(x)
        return x

    return apply


def residual_block(
    filters,
    depth=2,
    kernel_size=3,
    activation="swish",
    name="residual_block",
    zero_debias=False,
):
    """Convolutional residual block.

    `depth` times [BatchNormalization -> activation -> Conv2D(kernel_size,
    "same")], plus a Conv2D(kernel_size) shortcut of the block input; the
    output is their sum.

    Args:
        filters: int. Output channels.
        depth: int. Number of BN-activation-convolution units. Defaults to 2.
        kernel_size: int. Convolution kernel size. Defaults to 3.
        activation: str. Non-linearity. Defaults to `"swish"` as the
            authors' Split-VAE code.
        name: str. Prefix of the layer names.
        zero_debias: bool. Batch norm with TF1's bias-corrected moving
            statistics (`FusedBatchNormalization`). Defaults to False.

    Returns:
        A function mapping a 4D tensor to a 4D tensor with `filters`
        channels.
    """

    def convolution(layer_name):
        return conv.Conv2D(filters, kernel_size, padding="same", name=layer_name)

    return _residual(convolution, "conv", depth, activation, name, True, zero_debias)


def dense_residual_block(
    units,
    depth=2,
    activation="swish",
    name="dense_residual_block",
    batch_norm=True,
    zero_debias=False,
):
    """Dense residual block: `residual_block` with Dense layers.

    Args:
        units: int. Output width.
        depth: int. Number of BN-activation-Dense units. Defaults to 2.
        activation: str. Non-linearity. Defaults to `"swish"`.
        name: str. Prefix of the layer names.
        batch_norm: bool. Normalise before each activation. Defaults to
            True (Split-VAE); the BalancingVAE code has no BN here.
        zero_debias: bool. See `residual_block`. Defaults to False.

    Returns:
        A function mapping a 2D tensor to a 2D tensor of width `units`.
    """

    def dense(layer_name):
        return layers.Dense(units, name=layer_name)

    return _residual(dense, "dense", depth, activation, name, batch_norm, zero_debias)


def scale_block(
    filters,
    block_per_scale=1,
    depth_per_block=2,
    kernel_size=3,
    activation="swish",
    name="scale_block",
    zero_debias=False,
):
    """Scale block: `block_per_scale` residual blocks in sequence.

    Args:
        filters: int. Channels of every block.
        block_per_scale: int. Number of residual blocks. Defaults to 1.
        depth_per_block: int. `depth` of each `residual_block`. Defaults
            to 2.
        kernel_size: int. Convolution kernel size. Defaults to 3.
        activation: str. Non-linearity. Defaults to `"swish"`.
        name: str. Prefix of the layer names (block i is `{name}_res{i}`).
        zero_debias: bool. See `residual_block`. Defaults to False.

    Returns:
        A function mapping a 4D tensor to a 4D tensor with `filters`
        channels.
    """
    block = functools.partial(
        residual_block, filters, depth=depth_per_block, kernel_size=kernel_size,
        activation=activation, zero_debias=zero_debias,
    )
    return _in_sequence(block, block_per_scale, name)


def dense_scale_block(
    units,
    block_per_scale=1,
    depth_per_block=2,
    activation="swish",
    name="dense_scale_block",
    batch_norm=True,
    zero_debias=False,
):
    """Dense scale block: `block_per_scale` dense residual blocks in sequence.

    Args:
        units: int. Width of every block.
        block_per_scale: int. Number of dense residual blocks. Defaults to 1.
        depth_per_block: int. `depth` of each `dense_residual_block`.
            Defaults to 2.
        activation: str. Non-linearity. Defaults to `"swish"`.
        name: str. Prefix of the layer names (block i is `{name}_res{i}`).
        batch_norm: bool. See `dense_residual_block`. Defaults to True.
        zero_debias: bool. See `residual_block`. Defaults to False.

    Returns:
        A function mapping a 2D tensor to a 2D tensor of width `units`.
    """
    block = functools.partial(
        dense_residual_block, units, depth=depth_per_block, activation=activation,
        batch_norm=batch_norm, zero_debias=zero_debias,
    )
    return _in_sequence(block, block_per_scale, name)


def decoder_channels(image_size, base_dim, max_dim=1024, base_size=4):
    """Channel list of the decoder, from `base_size` up to `image_size`.

    Starts at `base_dim` at the output scale and doubles (capped at
    `max_dim`) toward the `base_size` x `base_size` map, as the authors'
    `FullModel`. Returned in decoding order (coarsest first).
    """
    dims = []
    size, dim = base_size, base_dim
    while size <= image_size:
        dims.append(dim)
        size *= 2
        dim = min(dim * 2, max_dim)
    return list(reversed(dims))


def check_input_shape(input_shape, downsamplings, base_size=4):
    """Checks `(H, W, C)` for the ResNet encoder/decoder of this module.

    Square, side `base_size * 2**k` (the decoder doubles from `base_size`),
    and not downsampled below 1x1 by the encoder's `downsamplings` stride-2
    convolutions: `keras_vaes.utils.check_input_shape` with this network's
    constraints.

    Returns:
        The shape as a tuple of ints.
    """
    return checks.check_input_shape(input_shape, base_size=base_size, downsamplings=downsamplings)


@dataclasses.dataclass(frozen=True)
class ResNetSettings:
    """The ResNet settings a model built on `conv_encoder` / `conv_decoder` takes as keywords.

    `SplitVAE` and `FirstStage` accept these names in their `**kwargs`,
    check them here once and pass them on to the encoder and the decoder.

    Args:
        base_dim: int. Channels at full resolution, doubled at each
            downsampling. Defaults to 64.
        num_scale: int. Number of scales of the encoder. Defaults to 4.
        kernel_size: int. Convolution kernel size. Defaults to 3.
        block_per_scale: int. Residual blocks per scale block. Defaults to 1.
        depth_per_block: int. Convolutions per residual block. Defaults to 2.

    Example:
    >>> settings, rest = ResNetSettings.pop({"base_dim": 8, "name": "vae"}, num_scale=2)
    >>> settings
    ResNetSettings(base_dim=8, num_scale=2, kernel_size=3, block_per_scale=1, depth_per_block=2)
    >>> rest
    {'name': 'vae'}
    """

    base_dim: int = 64
    num_scale: int = 4
    kernel_size: int = 3
    block_per_scale: int = 1
    depth_per_block: int = 2

    def __post_init__(self):
        for field in dataclasses.fields(self):
            value = check_positive_int(getattr(self, field.name), field.name)
            object.__setattr__(self, field.name, value)

    @classmethod
    def pop(cls, kwargs, **defaults):
        """Splits `kwargs` into the settings (`defaults` filling the gaps) and the rest.

        Returns:
            `(settings, rest)`: a `ResNetSettings` and a new dict of the
            other keywords.
        """
        names = {field.name for field in dataclasses.fields(cls)}
        given = {key: value for key, value in kwargs.items() if key in names}
        rest = {key: value for key, value in kwargs.items() if key not in names}
        return cls(**{**defaults, **given}), rest

    def as_dict(self):
        """The settings as keywords of `conv_encoder` (and of a model's config)."""
        return dataclasses.asdict(self)

    def decoder_kwargs(self):
        """The settings `conv_decoder` takes (all but `num_scale`)."""
        return {key: value for key, value in self.as_dict().items() if key != "num_scale"}


def conv_encoder(
    input_shape,
    base_dim=64,
    num_scale=4,
    kernel_size=3,
    block_per_scale=1,
    depth_per_block=2,
    emb_dim=512,
    activation="swish",
    stem_strides=2,
    name="encoder",
    final_scale_block=False,
    dense_batch_norm=True,
    downsample_regularizer=None,
    zero_debias=False,
):
    """The authors' ResNet encoder, from images to the embedding.

    Conv2D(base_dim, stride `stem_strides`); then `num_scale - 1` times
    [scale block, channels x2, Conv2D stride 2]; global average pooling;
    one dense scale block of width `emb_dim`. The defaults are the
    Split-VAE encoder; the BalancingVAE (two-stage) encoder is
    `stem_strides=1, activation="relu", final_scale_block=True,
    dense_batch_norm=False, zero_debias=True`, optionally with an L2
    `downsample_regularizer`.

    Args:
        input_shape: tuple `(H, W, C)`, square, side `4 * 2**k`.
        base_dim: int. Channels of the stem; doubled at each downsampling.
            Defaults to 64.
        num_scale: int. Number of scales (`num_scale - 1` stride-2
            downsamplings). Defaults to 4.
        kernel_size: int. Convolution kernel size. Defaults to 3.
        block_per_scale: int. Residual blocks per scale block. Defaults to 1.
        depth_per_block: int. BN-activation-convolution units per residual
            block. Defaults to 2.
        emb_dim: int. Width of the embedding. Defaults to 512.
        activation: str. Non-linearity. Defaults to `"swish"`.
        stem_strides: int. Stride of the first convolution. Defaults to 2.
        name: str. Model name and prefix of the layer names.
        final_scale_block: bool. Also a scale block after the last
            downsampling (`num_scale` scale blocks in all). Defaults to False.
        dense_batch_norm: bool. Batch norm in the dense scale block.
            Defaults to True.
        downsample_regularizer: regularizer or None. Kernel regularizer of
            the stride-2 convolutions. Defaults to None.
        zero_debias: bool. TF1's bias-corrected moving statistics in every
            batch norm (`FusedBatchNormalization`). Defaults to False.

    Returns:
        A `keras.Model` images -> `(N, emb_dim)`.

    Example:
    >>> conv_encoder((32, 32, 1), base_dim=8, num_scale=2, emb_dim=16).output_shape
    (None, 16)
    """
    inputs = keras.Input(shape=input_shape, name=f"{name}_input")
    dim = base_dim
    x = conv.Conv2D(
        dim, kernel_size, strides=stem_strides, padding="same",
        name=f"{name}_stem",
    )(inputs)
    for i in range(num_scale - 1):
        x = scale_block(
            dim, block_per_scale, depth_per_block, kernel_size, activation,
            name=f"{name}_scale{i}", zero_debias=zero_debias,
        )(x)
        dim *= 2
        x = conv.Conv2D(
            dim, kernel_size, strides=2, padding="same",
            name=f"{name}_down{i}",
            kernel_regularizer=downsample_regularizer,
        )(x)
    if final_scale_block:
        x = scale_block(
            dim, block_per_scale, depth_per_block, kernel_size, activation,
            name=f"{name}_scale{num_scale - 1}", zero_debias=zero_debias,
        )(x)
    x = layers.GlobalAveragePooling2D(name=f"{name}_pool")(x)
    x = dense_scale_block(
        emb_dim, 1, depth_per_block, activation, name=f"{name}_dense",
        batch_norm=dense_batch_norm, zero_debias=zero_debias,
    )(x)
    return keras.Model(inputs, x, name=name)


def conv_decoder(
    image_shape,
    output_channels,
    emb_dim=512,
    base_dim=64,
    kernel_size=3,
    block_per_scale=1,
    depth_per_block=2,
    activation="swish",
    name="decoder",
    base_size=4,
    upsample_regularizer=None,
    zero_debias=False,
):
    """The authors' ResNet decoder, from the embedding to a sigmoid map.

    Dense(base_size^2 * dims[0]) reshaped to `base_size` x `base_size`;
    per scale Conv2DTranspose(stride 2) then a scale block; a final
    Conv2D(kernel_size, sigmoid) with `output_channels` channels, in
    float32 under any dtype policy. The defaults are the Split-VAE decoder;
    the BalancingVAE (two-stage) decoder is `base_size=2,
    activation="relu", zero_debias=True`, optionally with an L2
    `upsample_regularizer`.

    Args:
        image_shape: tuple `(H, W, C)` of the images; H = W = `base_size * 2**k`.
        output_channels: int. Channels of the output map (C, or 2C + 1
            for the Split-VAE's sigma, x1, x2).
        emb_dim: int. Width of the input embedding. Defaults to 512.
        base_dim: int. Channels at the output scale; doubled (up to 1024)
            toward the coarsest map (`decoder_channels`). Defaults to 64.
        kernel_size: int. Convolution kernel size. Defaults to 3.
        block_per_scale: int. Residual blocks per scale block. Defaults to 1.
        depth_per_block: int. BN-activation-convolution units per residual
            block. Defaults to 2.
        activation: str. Non-linearity. Defaults to `"swish"`.
        name: str. Model name and prefix of the layer names.
        base_size: int. Side of the first map. Defaults to 4.
        upsample_regularizer: regularizer or None. Kernel regularizer of
            the transposed convolutions. Defaults to None.
        zero_debias: bool. See `conv_encoder`. Defaults to False.

    Returns:
        A `keras.Model` `(N, emb_dim)` -> `(N, H, W, output_channels)` in [0, 1].

    Example:
    >>> conv_decoder((16, 16, 1), 1, emb_dim=8, base_dim=4).output_shape
    (None, 16, 16, 1)
    """
    dims = decoder_channels(image_shape[0], base_dim, base_size=base_size)
    inputs = keras.Input(shape=(emb_dim,), name=f"{name}_input")
    x = layers.Dense(base_size * base_size * dims[0], name=f"{name}_dense")(inputs)
    x = layers.Reshape((base_size, base_size, dims[0]), name=f"{name}_reshape")(x)
    for i, dim in enumerate(dims[1:]):
        x = conv.Conv2DTranspose(
            dim, kernel_size, strides=2, padding="same", name=f"{name}_up{i}",
            kernel_regularizer=upsample_regularizer,
        )(x)
        x = scale_block(
            dim, block_per_scale, depth_per_block, kernel_size, activation,
            name=f"{name}_scale{i}", zero_debias=zero_debias,
        )(x)
    # Float32 even under a mixed-precision policy: the output feeds the
    # loss (Keras's mixed-precision guide: keep the last layer float32).
    outputs = conv.Conv2D(
        output_channels, kernel_size, padding="same", activation="sigmoid",
        dtype="float32", name=f"{name}_output",
    )(x)
    return keras.Model(inputs, outputs, name=name)
