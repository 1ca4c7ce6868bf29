"""ResNetV2 encoder / decoder and PatchGAN of GAMIX-VAE, each block once.

Rivera, "GAMIX-VAE: a VAE with Gaussian mixture based posterior", section 3.2
(ResNetV2 encoder and decoder, He et al. 2016; a PatchGAN discriminator,
Isola et al. 2017). The paper gives no layer list; the blocks below are those
of the author's public Keras 3 code (marianorivera/How2TrainUrVAE,
`reader.py` and `discriminator.py`; docs/papers/gamix.md):

- `triple_conv`: pre-activation BN-ReLU-Conv3x3, BN-ReLU-Conv3x3,
  BN-ReLU-Conv1x1, all of the same width.
- `identity_block`: x + triple_conv(x).
- `down_block`: triple_conv with the stride 2 on the last 1x1, plus a 1x1
  stride-2 shortcut of ReLU(BN(x)).
- `up_block`: ConvT3x3/2(ReLU(BN(Conv1x1(ReLU(BN(x)))))) +
  ConvT3x3/2(ReLU(BN(x))).

Keras defaults as in the author's code: BN momentum 0.99, epsilon 1e-3;
LayerNormalization epsilon 1e-3. Each block is a function `block(x) -> y`
creating its layers on call, so the networks are plain functional models.
"""

import math

import keras
from keras import layers

from keras_vaes.layers import conv
from keras_vaes.layers.core import FusedBatchNormalization
from keras_vaes.layers.gamix import SpatialLayerNormalization
from keras_vaes.utils import check_input_shape, check_positive_int

# Keras's BatchNormalization defaults, which the author's code keeps.
BN_MOMENTUM = 0.99
BN_EPSILON = 1e-3
# Side of the decoder's first feature map (and the encoder's last).
BASE_SIZE = 4


def _bn(name):
    return FusedBatchNormalization(momentum=BN_MOMENTUM, epsilon=BN_EPSILON, name=name)


def _bn_relu(x, name):
    return layers.Activation("relu", name=f"{name}_relu")(_bn(f"{name}_bn")(x))


def triple_conv(filters, strides=1, name="triple"):
    """Pre-activation triple convolution of the author's ResNetV2.

    BN-ReLU-Conv3x3(filters) -> BN-ReLU-Conv3x3(filters) ->
    BN-ReLU-Conv1x1(filters, strides). `strides` applies to the last 1x1
    convolution only, as in the author's `ConvTriBlockV2`.
    """

    def apply(x):
        y = conv.Conv2D(filters, 3, padding="same", name=f"{name}_conv1")(_bn_relu(x, f"{name}_a1"))
        y = conv.Conv2D(filters, 3, padding="same", name=f"{name}_conv2")(_bn_relu(y, f"{name}_a2"))
        return conv.Conv2D(
            filters, 1, strides=strides, padding="same", name=f"{name}_conv3"
        )(_bn_relu(y, f"{name}_a3"))

    return apply


def identity_block(filters, name="identity"):
    """x + triple_conv(x); the input must have `filters` channels."""

    def apply(x):
        return layers.Add(name=f"{name}_add")([triple_conv(filters, name=name)(x), x])

    return apply


def down_block(filters, name="down"):
    """Halves the side: triple_conv(stride 2) + Conv1x1/2(ReLU(BN(x)))."""

    def apply(x):
        y = triple_conv(filters, strides=2, name=name)(x)
        shortcut = conv.Conv2D(
            filters, 1, strides=2, padding="same", name=f"{name}_shortcut"
        )(_bn_relu(x, f"{name}_s"))
        return layers.Add(name=f"{name}_add")([y, shortcut])

    return apply


def up_block(filters, name="up"):
    """Doubles the side with two transposed 3x3 convolutions, summed.

    ConvT3x3/2(ReLU(BN(Conv1x1(ReLU(BN(x)))))) + ConvT3x3/2(ReLU(BN(x))),
    all with `filters` channels (the author's `ResBlockConvTV2`).
    """

    def apply(x):
        y = conv.Conv2D(filters, 1, padding="same", name=f"{name}_conv1")(_bn_relu(x, f"{name}_a1"))
        y = conv.Conv2DTranspose(
            filters, 3, strides=2, padding="same", name=f"{name}_convt1"
        )(_bn_relu(y, f"{name}_a2"))
        shortcut = conv.Conv2DTranspose(
            filters, 3, strides=2, padding="same", name=f"{name}_convt2"
        )(_bn_relu(x, f"{name}_s"))
        return layers.Add(name=f"{name}_add")([y, shortcut])

    return apply


def num_stages(input_shape):
    """Stages S of the encoder / decoder: side = 4 * 2^S (256 -> 6).

    Raises a ValueError naming `input_shape` unless it is (H, H, C) with
    H = 4 * 2^k, k >= 1 (`keras_vaes.utils.check_input_shape`).
    """
    height, _, _ = check_input_shape(input_shape, base_size=BASE_SIZE)
    return int(round(math.log2(height / BASE_SIZE)))


def check_latent_dim(latent_dim):
    """The latent size must be a positive multiple of 8 (4x4x(latent/8) map)."""
    check_positive_int(latent_dim, "latent_dim")
    if latent_dim < 8 or latent_dim % 8:
        raise ValueError(
            "latent_dim must be a positive multiple of 8: the encoder's last map "
            f"and the decoder's first are 4x4x(latent_dim/8). Received: latent_dim={latent_dim}"
        )


def resnet_v2_encoder(input_shape, latent_dim, filters=128, identity_blocks=2, name="encoder"):
    """The author's ResNetV2 encoder: images -> [z_mean, z_log_var].

    LayerNormalization over (H, W) -> Conv3x3(filters) -> S stages of
    [`identity_blocks` identity blocks + 1 down block] (S from the image
    side, 4x4 at the end) -> Conv1x1(latent_dim/8) -> Flatten ->
    Dense(latent_dim) mean and Dense(latent_dim) log-variance (float32
    heads).
    """
    stages = num_stages(input_shape)
    check_latent_dim(latent_dim)
    images = keras.Input(shape=input_shape, name="images")
    x = SpatialLayerNormalization(axis=(1, 2), epsilon=1e-3, name=f"{name}_layer_norm")(images)
    x = conv.Conv2D(filters, 3, padding="same", name=f"{name}_stem")(x)
    for s in range(stages):
        for i in range(identity_blocks):
            x = identity_block(filters, name=f"{name}_s{s}_id{i}")(x)
        x = down_block(filters, name=f"{name}_s{s}_down")(x)
    x = conv.Conv2D(latent_dim // 8, 1, padding="same", name=f"{name}_to_latent")(x)
    x = layers.Flatten(name=f"{name}_flatten")(x)
    z_mean = layers.Dense(latent_dim, dtype="float32", name="z_mean")(x)
    z_log_var = layers.Dense(latent_dim, dtype="float32", name="z_log_var")(x)
    return keras.Model(images, [z_mean, z_log_var], name=name)


def resnet_v2_decoder(input_shape, latent_dim, filters=128, identity_blocks=1, name="decoder"):
    """The author's ResNetV2 decoder: z -> image (linear output).

    Dense(4*4*latent_dim/8) -> reshape 4x4 -> Conv3x3(filters) -> S stages
    of [`identity_blocks` identity blocks + 1 up block], the last up block
    with C channels -> Conv1x1(C), linear (no tanh, as the author's code:
    images are clipped to [-1, 1] only for display).
    """
    stages = num_stages(input_shape)
    check_latent_dim(latent_dim)
    channels = input_shape[-1]
    z = keras.Input(shape=(latent_dim,), name="z")
    x = layers.Dense(BASE_SIZE * BASE_SIZE * (latent_dim // 8), name=f"{name}_dense")(z)
    x = layers.Reshape((BASE_SIZE, BASE_SIZE, latent_dim // 8), name=f"{name}_reshape")(x)
    x = conv.Conv2D(filters, 3, padding="same", name=f"{name}_stem")(x)
    for s in range(stages):
        for i in range(identity_blocks):
            x = identity_block(filters, name=f"{name}_s{s}_id{i}")(x)
        x = up_block(filters if s < stages - 1 else channels, name=f"{name}_s{s}_up")(x)
    x = conv.Conv2D(channels, 1, padding="same", dtype="float32", name=f"{name}_output")(x)
    return keras.Model(z, x, name=name)


def patchgan_discriminator(
    input_shape,
    filters=128,
    strides=(2, 2, 2, 1, 1, 1),
    dropout=0.25,
    negative_slope=0.3,
    name="discriminator",
):
    """The author's PatchGAN: a map of real/fake logits, one per patch.

    Six times [Conv3x3(f_i, s_i) -> BN -> LeakyReLU(0.3) -> Dropout(0.25)],
    filters [F, F, F, F/2, F/2, 1], no LeakyReLU after the last
    convolution (its BN and Dropout stay, as in the author's code). With
    strides [2, 2, 2, 1, 1, 1] the map is (H/8, W/8, 1).
    """
    filters_list = [filters, filters, filters, filters // 2, filters // 2, 1]
    if len(strides) != len(filters_list):
        raise ValueError(
            f"Expected {len(filters_list)} discriminator strides. Received: strides={strides}"
        )
    images = keras.Input(shape=input_shape, name="images")
    x = images
    for i, (f, s) in enumerate(zip(filters_list, strides)):
        x = conv.Conv2D(f, 3, strides=s, padding="same", name=f"{name}_conv{i}")(x)
        x = _bn(f"{name}_bn{i}")(x)
        if i < len(filters_list) - 1:
            x = layers.LeakyReLU(negative_slope, name=f"{name}_lrelu{i}")(x)
        x = layers.Dropout(dropout, name=f"{name}_dropout{i}")(x)
    logits = layers.Activation("linear", dtype="float32", name=f"{name}_logits")(x)
    return keras.Model(images, logits, name=name)
