"""Feature extractors of the FID protocol, their identity, and feature-model choices.

- `inception_extractor`: Keras InceptionV3, ImageNet weights, average pool
  (2048 features), the Split-VAE paper's FID.
- `tfgan_inception_extractor`: the TF-GAN/TTUR 2015 Inception graph
  (`pool_3` of a frozen `.pb` file), the variance-loss paper's FID;
  TensorFlow only.
- `classifier_extractor`: penultimate features of a classifier shipped
  with the package ("FD (classifier features)"), offline, not comparable
  with the papers' FIDs.
- `FeatureExtractor`: any Keras model (or `.keras` file) with the protocol's
  preprocessing: grayscale repeated to 3 channels, bilinear resize to the
  network's input size, [0, 1] mapped to its `input_range`.

An extractor is identified by a hash of its weights and preprocessing
(`FeatureExtractor.identity`), never by its name.
"""

import hashlib
import os
import socket

import keras
import numpy as np

from keras_vaes import utils
from keras_vaes.metrics import classifier

INCEPTION_WEIGHTS_ENV = "KERAS_VAES_INCEPTION_WEIGHTS"
INCEPTION_WEIGHTS_FILENAME = (
    "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"
)
# Where and how keras.applications.InceptionV3 fetches them (its URL and MD5).
INCEPTION_WEIGHTS_FILE = (
    INCEPTION_WEIGHTS_FILENAME,
    "https://storage.googleapis.com/tensorflow/keras-applications/inception_v3/"
    + INCEPTION_WEIGHTS_FILENAME,
    "bcbd6486424b2319ff4ef7d526e38f63",
)
INCEPTION_INPUT_SIZE = 299
# The images the extractors take (`utils.check_images(images, channels=
# IMAGE_CHANNELS, tolerance=RANGE_TOLERANCE)`): grayscale or RGB in [0, 1];
# values this much above 1 mean they are not (e.g. 0-255).
IMAGE_CHANNELS = (1, 3)
RANGE_TOLERANCE = 1e-3
# Network timeout for the ImageNet weights download, so offline machines
# fail instead of hanging.
_DOWNLOAD_TIMEOUT_S = 60


class InceptionWeightsUnavailable(RuntimeError):
    """The ImageNet weights of InceptionV3 could not be found or loaded."""


# ---------------------------------------------------------------------------
# Feature extractors and their identity
# ---------------------------------------------------------------------------


def _keras_models_dir():
    home = os.environ.get("KERAS_HOME", os.path.join("~", ".keras"))
    return os.path.join(os.path.expanduser(home), "models")


def _weights_help():
    return (
        "To compute FID with InceptionV3, provide its ImageNet weights "
        f"'{INCEPTION_WEIGHTS_FILENAME}' (from https://storage.googleapis.com"
        "/tensorflow/keras-applications/inception_v3/) in one of these ways: "
        f"put the file in {_keras_models_dir()}/ ; or pass "
        "`weights='/path/to/file.h5'`; or set the environment variable "
        f"{INCEPTION_WEIGHTS_ENV}=/path/to/file.h5. Alternatively pass your "
        "own `feature_model`."
    )


def weights_hash(model):
    """SHA-256 of a Keras model's weights, shapes, dtypes and I/O shapes.

    What identifies a feature extractor: two networks
    with the same name but different weights (e.g. InceptionV3 with random
    and with ImageNet weights) get different hashes, so their feature
    statistics are never mixed up; renaming a model does not change it.

    Args:
        model: `keras.Model` (anything with `weights`).

    Returns:
        A 64-character hexadecimal string.
    """
    digest = hashlib.sha256()
    digest.update(type(model).__name__.encode())
    for attribute in ("input_shape", "output_shape"):
        digest.update(repr(getattr(model, attribute, None)).encode())
    for variable in model.weights:
        array = np.ascontiguousarray(keras.ops.convert_to_numpy(variable))
        digest.update(f"{array.shape}{array.dtype.str}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()

class FeatureExtractor:
    """A feature network, the preprocessing it expects, and its identity.

    Images in [0, 1] are prepared as the FID protocol of the papers
    prepares them (`preprocess`): grayscale repeated to 3 channels when the
    network takes 3, bilinear resize to its fixed input size, then the
    affine map [0, 1] -> `input_range`. The extractor is identified by a
    hash of its weights and of that preprocessing (`identity`), never by
    its name: statistics computed by one extractor are never compared with
    another's features, nor served from the cache for another.

    Args:
        model: `keras.Model` mapping a batch to features `(N, ...)`.
        input_range: tuple `(low, high)`. Range [0, 1] images are mapped to.
            Defaults to `(-1.0, 1.0)` (Keras InceptionV3).
        description: str or None. How tables name the extractor. Defaults
            to the model's name.
        batch_size: int or None. A fixed extraction batch size (None: the
            caller's). Defaults to None.
        drop_remainder: bool. Drop the last incomplete batch, as the
            authors' TF-GAN FID code does. Defaults to False.

    Example:

    >>> import keras, numpy as np
    >>> inputs = keras.Input((8, 8, 1))
    >>> net = keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(inputs))
    >>> extractor = FeatureExtractor(net, input_range=(0.0, 1.0))
    >>> extract_features(np.ones((3, 8, 8, 1), "float32"), extractor, verbose=0)
    array([[1.],
           [1.],
           [1.]])
    """

    def __init__(self, model, input_range=(-1.0, 1.0), description=None,
                 batch_size=None, drop_remainder=False):
        low, high = (float(v) for v in input_range)
        if not high > low:
            raise ValueError(
                f"`input_range` must be (low, high) with high > low. Received: input_range={input_range}"
            )
        self.model = model
        self.input_range = (low, high)
        self.description = description or getattr(model, "name", type(model).__name__)
        self.batch_size = None if batch_size is None else utils.check_positive_int(batch_size, "batch_size")
        self.drop_remainder = bool(drop_remainder)
        self._identity = None

    def input_spec(self):
        """(height, width, channels) the network expects; None where free."""
        shape = getattr(self.model, "input_shape", None)
        if isinstance(shape, list):  # multi-input models list their shapes
            shape = shape[0]
        if shape is None or len(shape) != 4:
            return None, None, None
        return shape[1], shape[2], shape[3]

    def preprocess(self, images):
        """One batch of [0, 1] images -> float32 network input (see class doc)."""
        batch = np.asarray(images, dtype=np.float32)
        height, width, channels = self.input_spec()
        if channels == 3 and batch.shape[-1] == 1:
            batch = np.repeat(batch, 3, axis=-1)
        elif channels is not None and channels != batch.shape[-1]:
            raise ValueError(
                f"The feature model takes {channels} channels, images have "
                f"{batch.shape[-1]}. Received: images.shape={batch.shape}"
            )
        if height is not None and width is not None and batch.shape[1:3] != (height, width):
            batch = self.resize(batch, (height, width))
        low, high = self.input_range
        return (high - low) * batch + low

    @staticmethod
    def resize(batch, size):
        """Bilinear resize (Keras, half-pixel centres)."""
        return keras.ops.convert_to_numpy(
            keras.ops.image.resize(batch, size, interpolation="bilinear")
        )

    def features(self, batch):
        """Network output of a preprocessed batch, flattened to `(N, d)` float64."""
        if hasattr(self.model, "predict_on_batch"):
            output = self.model.predict_on_batch(batch)
        else:
            output = self.model(batch)
        output = keras.ops.convert_to_numpy(output)
        return np.reshape(output, (batch.shape[0], -1)).astype(np.float64)

    def _weights_identity(self):
        if hasattr(self.model, "weights"):
            return f"weights-sha256:{weights_hash(self.model)}"
        raise ValueError(
            "A feature extractor is identified by a hash of its weights; this "
            f"model has no `weights`. Received: {type(self.model).__name__}"
        )

    def identity(self):
        """String identifying the extractor: weight hash + preprocessing.

        Computed once per extractor object (the weights of a feature
        network are not meant to change).
        """
        if self._identity is None:
            low, high = self.input_range
            self._identity = (
                f"{self._weights_identity()}; input [0,1]->[{low:g},{high:g}]; "
                f"{self.input_spec()} {self._resize_name()}"
                + (f"; batches of {self.batch_size}, remainder dropped" if self.drop_remainder else "")
            )
        return self._identity

    def _resize_name(self):
        return "bilinear resize (half-pixel)"


def inception_feature_model(weights=None):
    """InceptionV3 feature extractor of the FID protocol (2048 features).

    `keras.applications.InceptionV3(include_top=False, pooling="avg",
    input_shape=(299, 299, 3))` with ImageNet weights. The weights are
    resolved in this order: the `weights` argument (a path, or "imagenet"),
    the environment variable `KERAS_VAES_INCEPTION_WEIGHTS`, then Keras'
    own "imagenet" weights (cached in `~/.keras/models/`, downloaded if
    missing).

    Args:
        weights: str or None. Path to
            `inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5`, or
            "imagenet". Defaults to None (see the resolution order above).

    Returns:
        A float32 `keras.Model` (under any global dtype policy) mapping
        `(N, 299, 299, 3)` images in [-1, 1] to `(N, 2048)` features.

    Raises:
        InceptionWeightsUnavailable: the weights file does not exist, cannot
            be loaded, or cannot be downloaded (e.g. offline). The message
            says how to provide it.
    """
    if weights is None:
        weights = "default"
    return load_application(
        lambda w: keras.applications.InceptionV3(
            include_top=False,
            weights=w,
            input_shape=(INCEPTION_INPUT_SIZE, INCEPTION_INPUT_SIZE, 3),
            pooling="avg",
        ),
        weights, INCEPTION_WEIGHTS_ENV, InceptionWeightsUnavailable, "InceptionV3", _weights_help(),
        imagenet_file=INCEPTION_WEIGHTS_FILE,
    )


def load_application(build, weights, env_var, error_class, label, help_text, imagenet_file=None):
    """Builds a `keras.applications` network with its ImageNet weights.

    One resolution for every pretrained extractor of the package (InceptionV3
    for FID, VGG19 for the perceptual loss): `weights="default"` reads the
    file named by `env_var`, else Keras's "imagenet" (cache, or a download
    with a timeout); a path must exist; None builds random weights. The
    network is built in float32 whatever the user's dtype policy. With
    `imagenet_file` (`(filename, url, md5)`, as the application fetches
    them), "imagenet" weights are fetched before the network is built, so
    that offline the error comes at once, not after building it.

    Raises:
        error_class: the weights cannot be found, loaded or downloaded; the
            message names where they were looked for and `help_text`.
    """
    if weights == "default":
        weights = os.environ.get(env_var) or "imagenet"
        origin = (
            f"environment variable {env_var}" if weights != "imagenet"
            else "keras.applications 'imagenet'"
        )
    else:
        origin = "argument `weights`"
    if weights not in (None, "imagenet") and not os.path.isfile(weights):
        raise error_class(
            f"{label} weights file not found: {weights!r} (from the {origin}). {help_text}"
        )
    previous_timeout = socket.getdefaulttimeout()
    if weights == "imagenet" and previous_timeout is None:
        socket.setdefaulttimeout(_DOWNLOAD_TIMEOUT_S)
    previous_policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy("float32")
    try:
        if weights == "imagenet" and imagenet_file is not None:
            filename, url, md5 = imagenet_file
            weights = keras.utils.get_file(filename, url, cache_subdir="models", file_hash=md5)
        return build(weights)
    except Exception as error:  # download (URL/OS) or h5 loading errors
        raise error_class(
            f"Could not load the {label} ImageNet weights (from the {origin}: "
            f"{weights!r}): {type(error).__name__}: {error}. {help_text}"
        ) from error
    finally:
        socket.setdefaulttimeout(previous_timeout)
        keras.config.set_dtype_policy(previous_policy)


def inception_extractor(weights=None):
    """`FeatureExtractor` of Keras InceptionV3 (Split-VAE paper's FID)."""
    return FeatureExtractor(inception_feature_model(weights), description=INCEPTION_DESCRIPTION)


# --- The TF-GAN / TTUR 2015 Inception graph (variance-loss paper's FID) ----

TFGAN_INCEPTION_FILENAME = "inceptionv1_for_inception_score.pb"
TFGAN_INCEPTION_ENV = "KERAS_VAES_TFGAN_INCEPTION_GRAPH"
TFGAN_INCEPTION_URL = "http://download.tensorflow.org/models/frozen_inception_v1_2015_12_05.tar.gz"
TFGAN_DESCRIPTION = "TF-GAN/TTUR 2015 Inception graph (pool_3, 2048)"
INCEPTION_DESCRIPTION = "Keras InceptionV3 (ImageNet, avg pool, 2048)"


def _tfgan_help():
    return (
        f"The TF-GAN Inception graph is the frozen graph '{TFGAN_INCEPTION_FILENAME}' "
        f"inside {TFGAN_INCEPTION_URL} (the file TF-GAN's `run_inception` and the "
        "authors' fid.py download). Download and extract it where a network is "
        f"available, then pass its path (`--feature-model tfgan:/path/{TFGAN_INCEPTION_FILENAME}`, "
        f"`tfgan_inception_extractor(path)`) or set {TFGAN_INCEPTION_ENV}=/path/to/file.pb."
    )


def _legacy_resize_bilinear(tf, batch, size):
    # tf.compat.v1.image.resize_bilinear: align_corners=False,
    # half_pixel_centers=False, the resize of the authors' fid.py.
    return tf.compat.v1.image.resize_bilinear(batch, size).numpy()


class FrozenGraphExtractor(FeatureExtractor):
    """The TF-GAN / TTUR Inception graph as the variance-loss authors run it.

    The BalancingVAE authors' `fid.py` (after TF-GAN's `run_inception`):
    images in [0, 1] mapped to [-1, 1], resized to 299x299 with
    TensorFlow 1's `resize_bilinear` (no half-pixel centres), fed to the
    2015 Inception frozen graph at `Mul:0`, features read at `pool_3:0`
    (2048), in batches of 64 with the last incomplete batch dropped (10,000
    images give 9,984 features). Grayscale images are repeated to 3
    channels (the authors only ran RGB data).

    This extractor runs TensorFlow directly (`tf.compat.v1.import_graph_def`
    in a wrapped function): it needs TensorFlow installed whatever the
    Keras backend, and it is the only TF-only piece of the package.

    Args:
        path: str. The frozen GraphDef `.pb` file (`inceptionv1_for_inception_score.pb`).
        input_tensor: str. Defaults to "Mul:0" (TF-GAN's `INCEPTION_INPUT`).
        output_tensor: str. Defaults to "pool_3:0" (TF-GAN's `INCEPTION_FINAL_POOL`).
        image_size: int. Side the images are resized to. Defaults to 299.
        batch_size: int. Defaults to 64 (the authors').
        drop_remainder: bool. Defaults to True (the authors').
        description: str. Defaults to the TF-GAN graph's name.

    Raises:
        InceptionWeightsUnavailable: the file does not exist or is not a
            GraphDef with the two tensors.
    """

    def __init__(self, path, input_tensor="Mul:0", output_tensor="pool_3:0",
                 image_size=INCEPTION_INPUT_SIZE, batch_size=64, drop_remainder=True,
                 description=TFGAN_DESCRIPTION):
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise InceptionWeightsUnavailable(
                f"TF-GAN Inception graph file not found: {path!r}. {_tfgan_help()}"
            )
        try:
            import tensorflow as tf
        except ImportError as error:
            raise ImportError(
                "The TF-GAN Inception graph extractor runs TensorFlow (a frozen "
                "GraphDef); install tensorflow to use it, whatever the Keras backend."
            ) from error
        self._tf = tf
        try:
            graph_def = tf.compat.v1.GraphDef()
            with open(path, "rb") as f:
                graph_def.ParseFromString(f.read())

            def run(images):
                return tf.compat.v1.import_graph_def(
                    graph_def, input_map={input_tensor: images},
                    return_elements=[output_tensor], name="inception",
                )[0]

            spec = tf.TensorSpec([None, image_size, image_size, 3], tf.float32)
            self._function = tf.compat.v1.wrap_function(run, [spec])
        except Exception as error:  # a corrupt file, or missing tensors
            raise InceptionWeightsUnavailable(
                f"Could not import the frozen graph {path!r} with tensors "
                f"{input_tensor!r} -> {output_tensor!r}: {type(error).__name__}: "
                f"{error}. {_tfgan_help()}"
            ) from error
        super().__init__(None, input_range=(-1.0, 1.0), description=description,
                         batch_size=batch_size, drop_remainder=drop_remainder)
        self.path = path
        self.input_tensor = input_tensor
        self.output_tensor = output_tensor
        self.image_size = int(image_size)

    def input_spec(self):
        return self.image_size, self.image_size, 3

    def resize(self, batch, size):
        return _legacy_resize_bilinear(self._tf, batch, size)

    def _resize_name(self):
        return "tf.compat.v1 resize_bilinear (align_corners=False)"

    def features(self, batch):
        output = self._function(self._tf.constant(batch, self._tf.float32)).numpy()
        return np.reshape(output, (batch.shape[0], -1)).astype(np.float64)

    def _weights_identity(self):
        return f"graph-sha256:{utils.sha256(self.path)} {self.input_tensor}->{self.output_tensor}"


def tfgan_inception_extractor(path=None):
    """The TF-GAN 2015 Inception graph extractor (`FrozenGraphExtractor`).

    Args:
        path: str or None. The `.pb` file; None reads the environment
            variable `KERAS_VAES_TFGAN_INCEPTION_GRAPH`.

    Raises:
        InceptionWeightsUnavailable: no file given, or it cannot be loaded.
    """
    path = path or os.environ.get(TFGAN_INCEPTION_ENV)
    if not path:
        raise InceptionWeightsUnavailable(
            f"No TF-GAN Inception graph file given. {_tfgan_help()}"
        )
    return FrozenGraphExtractor(path)


# --- Classifier features (offline Fréchet distance) -----------------------

CLASSIFIER_NOTE = (
    "FD (classifier features): Fréchet distance on the penultimate features of a "
    "small classifier trained by this repository; it works offline but is NOT "
    "comparable with the papers' FIDs (Inception features)."
)


def classifier_extractor(dataset):
    """`FeatureExtractor` of `keras_vaes.metrics.classifier_feature_model(dataset)`.

    The classifier takes images in [0, 1] (no [-1, 1] map). Its Fréchet
    distances are not comparable with the papers' FIDs (`CLASSIFIER_NOTE`).

    Args:
        dataset: str. "mnist" or "fashion_mnist".
    """
    model = classifier.classifier_feature_model(dataset)
    return FeatureExtractor(model, input_range=(0.0, 1.0),
                            description=f"classifier features ({dataset})")


def classifier_extractor_or_reason(dataset):
    """`(extractor, None)`, or `(None, reason)` when no classifier is shipped for `dataset`."""
    try:
        return classifier_extractor(dataset), None
    except (ImportError, AttributeError, ValueError, OSError) as error:
        return None, f"no classifier feature model for {dataset!r}: {type(error).__name__}: {error}"


def feature_model_from_spec(spec):
    """A command-line feature-model choice -> `(extractor, description, reason)`.

    Args:
        spec: `"inception"` (or None) for Keras InceptionV3 with ImageNet
            weights; `"tfgan"` or `"tfgan:/path/graph.pb"` (or a path
            ending in `.pb`) for the TF-GAN 2015 Inception graph; or a path
            to a saved `.keras` feature extractor.

    Returns:
        `(extractor, description, None)`, or `(None, description, reason)`
        when the Inception weights / graph are not available, so that an
        evaluation can complete every other column and say why its FID
        cells are empty.
    """
    if spec in (None, "inception"):
        try:
            return inception_extractor(), INCEPTION_DESCRIPTION, None
        except InceptionWeightsUnavailable as error:
            return None, INCEPTION_DESCRIPTION, str(error)
    if spec == "tfgan" or spec.startswith("tfgan:") or spec.endswith(".pb"):
        path = spec.split(":", 1)[1] if spec.startswith("tfgan:") else (None if spec == "tfgan" else spec)
        try:
            return tfgan_inception_extractor(path), TFGAN_DESCRIPTION, None
        except InceptionWeightsUnavailable as error:
            return None, TFGAN_DESCRIPTION, str(error)
    if not os.path.exists(spec):
        raise FileNotFoundError(
            "--feature-model must be 'inception', 'tfgan[:path.pb]' or a path to a "
            f"saved .keras model. Received: {spec!r}, which does not exist."
        )
    model = keras.saving.load_model(spec, compile=False)
    description = f"{os.path.basename(spec)} ({model.count_params():,} params)"
    return FeatureExtractor(model, description=description), description, None


def as_extractor(feature_model):
    """`FeatureExtractor` for any accepted feature model.

    Args:
        feature_model: a `FeatureExtractor`; a `keras.Model` (Inception
            preprocessing: [0, 1] -> [-1, 1]); a path to a `.keras` model;
            or None for Keras InceptionV3 with ImageNet weights.
    """
    if isinstance(feature_model, FeatureExtractor):
        return feature_model
    if feature_model is None:
        return inception_extractor()
    if isinstance(feature_model, (str, os.PathLike)):
        model = keras.saving.load_model(os.fspath(feature_model), compile=False)
        return FeatureExtractor(model, description=os.path.basename(os.fspath(feature_model)))
    return FeatureExtractor(feature_model)


def extractor_identity(feature_model):
    """The identity string of `as_extractor(feature_model)` (weights hash + preprocessing)."""
    return as_extractor(feature_model).identity()


def preprocess_images(images, feature_model):
    """Prepares one batch of [0, 1] images for `feature_model`.

    The FID protocol of the papers: grayscale repeated to 3 channels when
    the model takes 3, bilinear resize to the model's fixed input size
    (299x299 for InceptionV3; no resize when the model's spatial size is
    free), then the affine map [0, 1] -> [-1, 1] (`2 * x - 1`), the input
    range of Keras' InceptionV3, or the `input_range` of a
    `FeatureExtractor`.

    Args:
        images: array of shape `(N, H, W, C)`, values in [0, 1].
        feature_model: `keras.Model` or `FeatureExtractor`.

    Returns:
        A float32 NumPy array ready for the network.
    """
    return as_extractor(feature_model).preprocess(images)


def extract_features(images, feature_model, batch_size=100, verbose=1):
    """Feature activations of images, batch by batch (FID protocol).

    Only one preprocessed batch exists at a time, so memory is bounded by
    `batch_size` resized images plus the `(N, d)` features. An extractor
    with its own batch size uses it (the TF-GAN graph: 64, remainder
    dropped, as the authors).

    Args:
        images: array of shape `(N, H, W, C)`, C in {1, 3}, values in
            [0, 1].
        feature_model: `keras.Model` or `FeatureExtractor`.
        batch_size: int. Images per forward pass. Defaults to 100.
        verbose: int. 1 shows a progress bar. Defaults to 1.

    Returns:
        Float64 array of shape `(N, d)` (fewer rows when the extractor
        drops an incomplete last batch).
    """
    images = utils.check_images(images, channels=IMAGE_CHANNELS, tolerance=RANGE_TOLERANCE)
    extractor = as_extractor(feature_model)
    batch_size = extractor.batch_size or utils.check_positive_int(batch_size, "batch_size")
    count = images.shape[0]
    if extractor.drop_remainder:
        count -= count % batch_size
        if count == 0:
            raise ValueError(
                f"The extractor drops incomplete batches of {batch_size}: need at least "
                f"{batch_size} images. Received: images.shape={images.shape}"
            )
    progbar = keras.utils.Progbar(count) if verbose else None
    features = []
    for start in range(0, count, batch_size):
        batch = extractor.preprocess(images[start : min(start + batch_size, count)])
        features.append(extractor.features(batch))
        if progbar is not None:
            progbar.add(batch.shape[0])
    return np.concatenate(features, axis=0)


def resolve_feature_model(spec, dataset=None):
    """A feature-model choice, falling back to the dataset's shipped classifier.

    Args:
        spec: str or None. `"classifier"`: the shipped classifier of
            `dataset` (an "FD (classifier features)", not comparable with
            the papers' FIDs). `"inception"`, `"auto"` or None: Keras
            InceptionV3, or, where its weights are unavailable and a
            classifier is shipped for `dataset`, that classifier. Anything
            else as in `feature_model_from_spec` (`"tfgan[:graph.pb]"`, a
            `.keras` path).
        dataset: str or None. The dataset whose classifier is the fallback.

    Returns:
        `(extractor, description, None)`, or `(None, description, reason)`
        when no feature model is available (FID cells stay empty, saying
        why).

    Example:

    >>> extractor, description, reason = resolve_feature_model("classifier", "mnist")
    >>> description.startswith("FD (classifier features)")
    True
    """
    if spec == "classifier":
        extractor, reason = classifier_extractor_or_reason(dataset)
        described = classifier.describe(dataset) if extractor is not None else "classifier features"
        return extractor, described, reason
    if spec == "auto":
        spec = "inception"
    extractor, description, reason = feature_model_from_spec(spec)
    if extractor is None and spec in (None, "inception") and dataset in classifier.CLASSIFIERS:
        fallback, why = classifier_extractor_or_reason(dataset)
        if fallback is not None:
            return fallback, classifier.describe(dataset) + " (InceptionV3 weights unavailable)", None
        reason = f"{reason}; {why}"
    return extractor, description, reason
