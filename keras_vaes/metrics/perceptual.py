"""VGG19 feature model for the perceptual loss of the learned-priors paper.

"Empirical observations pertaining to learned priors" (section 5), after
Hou et al. 2017 (DFC-VAE): on CelebA the reconstruction term is the VGG19
perceptual loss of Johnson et al. 2016 on the `relu1_1`, `relu2_1`,
`relu3_1` and `relu4_1` activations. In `keras.applications.VGG19` these
are the outputs of `block1_conv1` ... `block4_conv1` (the ReLU is the
convolution's activation).

The feature model is pluggable: `keras_vaes.losses.perceptual_loss` takes
any Keras model mapping images in [0, 1] to a list of feature maps. The
ImageNet weights are resolved like InceptionV3's for FID
(`keras_vaes.metrics.inception_feature_model`): the `weights`
argument, then the environment variable `KERAS_VAES_VGG19_WEIGHTS`, then
Keras's own "imagenet" weights (`~/.keras/models/`, downloaded if
missing). Offline without them: `VGG19WeightsUnavailable`, saying how to
provide them.
"""

import os

import keras

from keras_vaes.metrics.extractors import load_application

VGG19_WEIGHTS_ENV = "KERAS_VAES_VGG19_WEIGHTS"
VGG19_WEIGHTS_FILENAME = "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
# Where and how keras.applications.VGG19 fetches them (its URL and MD5).
VGG19_WEIGHTS_FILE = (
    VGG19_WEIGHTS_FILENAME,
    "https://storage.googleapis.com/tensorflow/keras-applications/vgg19/" + VGG19_WEIGHTS_FILENAME,
    "253f8cb515780f3b799900260a226db6",
)
# relu1_1, relu2_1, relu3_1, relu4_1 (learned priors, section 5).
PERCEPTUAL_LAYERS = ("block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1")
# keras.applications.vgg19.preprocess_input ("caffe"): BGR, ImageNet means.
IMAGENET_BGR_MEAN = (103.939, 116.779, 123.68)


class VGG19WeightsUnavailable(RuntimeError):
    """The ImageNet weights of VGG19 could not be found or loaded."""


@keras.saving.register_keras_serializable(package="keras_vaes")
class VGGPreprocessing(keras.layers.Layer):
    """Images in [0, 1] -> VGG19's "caffe" input (BGR, 0-255, mean removed).

    The same map as `keras.applications.vgg19.preprocess_input(255 * x)`;
    one channel (grayscale) is repeated to three. Differentiable, so a
    perceptual loss back-propagates through it.
    """

    def call(self, images):
        if images.shape[-1] == 1:
            images = keras.ops.repeat(images, 3, axis=-1)
        bgr = keras.ops.flip(images, axis=-1) * 255.0
        mean = keras.ops.convert_to_tensor(IMAGENET_BGR_MEAN, dtype=bgr.dtype)
        return bgr - mean

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (3,)


def _weights_help():
    home = os.path.expanduser(os.environ.get("KERAS_HOME", os.path.join("~", ".keras")))
    return (
        "To use the VGG19 perceptual loss, provide its ImageNet weights "
        f"'{VGG19_WEIGHTS_FILENAME}' (from https://storage.googleapis.com/"
        "tensorflow/keras-applications/vgg19/) in one of these ways: put the "
        f"file in {os.path.join(home, 'models')}/ ; or pass "
        "`weights='/path/to/file.h5'`; or set the environment variable "
        f"{VGG19_WEIGHTS_ENV}=/path/to/file.h5. Alternatively pass your own "
        "`feature_model` (any Keras model mapping [0, 1] images to a list of "
        "feature maps), or `weights=None` for a randomly initialised VGG19."
    )


def vgg19_feature_model(weights="default", layers=PERCEPTUAL_LAYERS, input_shape=(None, None, 3)):
    """Frozen VGG19 returning the perceptual-loss activations.

    Args:
        weights: `"default"` (resolve: `KERAS_VAES_VGG19_WEIGHTS`, then
            Keras's "imagenet"), `"imagenet"`, a path to
            `vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5`, or None
            (random initialisation: architecture only, e.g. for tests).
            Defaults to `"default"`.
        layers: tuple of VGG19 layer names. Defaults to relu1_1, relu2_1,
            relu3_1, relu4_1 (`PERCEPTUAL_LAYERS`).
        input_shape: `(H, W, C)` of the images, C in {1, 3}. Defaults to
            `(None, None, 3)`.

    Returns:
        A non-trainable float32 `keras.Model`: images in [0, 1] -> list of
        feature maps, one per layer.

    Raises:
        VGG19WeightsUnavailable: the weights cannot be found, loaded or
            downloaded; the message says how to provide them.
    """
    if len(input_shape) != 3 or input_shape[-1] not in (1, 3):
        raise ValueError(
            "`input_shape` must be (H, W, C) with C in {1, 3}. "
            f"Received: input_shape={input_shape}"
        )
    vgg = load_application(
        lambda w: keras.applications.VGG19(include_top=False, weights=w, input_shape=(None, None, 3)),
        weights, VGG19_WEIGHTS_ENV, VGG19WeightsUnavailable, "VGG19", _weights_help(),
        imagenet_file=VGG19_WEIGHTS_FILE,
    )
    names = [layer.name for layer in vgg.layers]
    unknown = [name for name in layers if name not in names]
    if unknown or not layers:
        raise ValueError(
            f"`layers` must name VGG19 layers, e.g. {PERCEPTUAL_LAYERS}. "
            f"Received: layers={tuple(layers)}"
        )
    trunk = keras.Model(vgg.inputs, [vgg.get_layer(name).output for name in layers])
    trunk.trainable = False
    images = keras.Input(input_shape, name="images", dtype="float32")
    outputs = trunk(VGGPreprocessing(dtype="float32", name="vgg_preprocessing")(images))
    model = keras.Model(images, list(outputs), name="vgg19_perceptual")
    model.trainable = False
    return model
