"""An offline image-quality measure: Fréchet distance of classifier features.

The papers' FID uses InceptionV3 with ImageNet weights, which machines
without a model hub cannot load. `classifier_feature_model("mnist")` (or
`"fashion_mnist"`) returns instead the penultimate layer (128 features) of a
small convolutional classifier trained by this repository
(`examples/train_feature_classifier.py`) on the training split of that
dataset and shipped in `weights/` with its SHA-256.
`keras_vaes.metrics.classifier_extractor(dataset)` wraps it for the
package's FID code (`fid_score`, `extract_features`, `compute_statistics`,
the evaluation tables), which applies the Fréchet distance of Split-VAE
eq. (5) to its features.

**The result is NOT comparable with the papers' FIDs**: other features,
other scale. Call it "FD (classifier features)". It ranks models and
settings trained and evaluated here (lower is better; real vs real is
near 0), the way the papers use FID.

Example:

>>> import numpy as np
>>> from keras_vaes import metrics
>>> extractor = metrics.classifier_extractor("mnist")  # doctest: +SKIP
>>> images = np.random.default_rng(0).uniform(size=(200, 32, 32, 1))
>>> metrics.fid_score(images[:100], images[100:], extractor)  # doctest: +SKIP
"""

import os

import keras

from keras_vaes.weights_dir import WEIGHTS_DIR
from keras_vaes.utils import check_positive_int, sha256

INPUT_SHAPE = (32, 32, 1)
FEATURE_DIM = 128
NUM_CLASSES = 10
NOT_COMPARABLE = (
    "FD (classifier features): Fréchet distance of the penultimate features of "
    "this repository's {dataset} classifier; NOT comparable with the papers' "
    "Inception FIDs"
)

# name -> the shipped classifier: file, SHA-256, test accuracy, command.
CLASSIFIERS = {
    "mnist": {
        "file": "classifier_mnist.weights.h5",
        "sha256": "5e474dd81afad66a55320dea1e7ccb43a8477b0e596f8741e96800297fdd3d61",
        "test_accuracy": 0.9919,  # 10,000 MNIST test images
        "command": (
            "python examples/train_feature_classifier.py --dataset mnist "
            "--data path/to/mnist.npz --epochs 3 --seed 0 --output weights"
        ),
    },
    "fashion_mnist": {
        "file": "classifier_fashion_mnist.weights.h5",
        "sha256": "b8809adb6ea9b1466ef82dd302e3d7f6a0d906270fabacfa5d71232ab6166577",
        "test_accuracy": 0.8975,  # 10,000 Fashion-MNIST test images
        "command": (
            "python examples/train_feature_classifier.py --dataset fashion_mnist "
            "--data path/to/fashion_mnist.npz --epochs 3 --seed 0 --output weights"
        ),
    },
}


def build_classifier(feature_dim=FEATURE_DIM, num_classes=NUM_CLASSES, name="feature_classifier"):
    """The small convnet behind the classifier features.

    32x32x1 images in [0, 1] -> three [Conv3x3 + ReLU, MaxPool 2] stages
    (32, 64, 128 channels) -> Flatten -> Dense(`feature_dim`, ReLU), the
    layer named `"features"` -> Dropout(0.3) -> Dense(`num_classes`)
    logits. Float32 whatever the global dtype policy.

    Args:
        feature_dim: int. Width of the feature layer. Defaults to 128.
        num_classes: int. Defaults to 10.
        name: str. Model name.

    Returns:
        An uncompiled `keras.Model` returning logits.
    """
    check_positive_int(feature_dim, "feature_dim")
    check_positive_int(num_classes, "num_classes", minimum=2)
    dtype = "float32"
    images = keras.Input(INPUT_SHAPE, name="images")
    x = images
    for i, channels in enumerate((32, 64, 128)):
        x = keras.layers.Conv2D(channels, 3, padding="same", activation="relu",
                                dtype=dtype, name=f"conv{i + 1}")(x)
        x = keras.layers.MaxPooling2D(2, dtype=dtype, name=f"pool{i + 1}")(x)
    x = keras.layers.Flatten(dtype=dtype, name="flatten")(x)
    features = keras.layers.Dense(feature_dim, activation="relu", dtype=dtype, name="features")(x)
    x = keras.layers.Dropout(0.3, dtype=dtype, name="dropout")(features)
    logits = keras.layers.Dense(num_classes, dtype=dtype, name="logits")(x)
    return keras.Model(images, logits, name=name)


def _check_name(dataset):
    if dataset not in CLASSIFIERS:
        raise ValueError(
            f"No shipped feature classifier for this dataset. Expected one of "
            f"{sorted(CLASSIFIERS)}. Received: dataset={dataset!r}"
        )
    return CLASSIFIERS[dataset]


def load_classifier(dataset, weights_dir=None):
    """The shipped classifier of `dataset` (logits), checksum verified.

    Args:
        dataset: `"mnist"` or `"fashion_mnist"`.
        weights_dir: str or None. Folder holding the file; defaults to the
            repository's `weights/`.

    Returns:
        A `keras.Model`: (N, 32, 32, 1) images in [0, 1] -> (N, 10) logits.
    """
    entry = _check_name(dataset)
    path = os.path.join(weights_dir or WEIGHTS_DIR, entry["file"])
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"The {dataset} feature classifier is not at {path!r}. It ships in the "
            "repository's weights/ folder (pass weights_dir= if you moved it); "
            f"retrain it with: {entry['command']}"
        )
    if entry["sha256"] is not None and sha256(path) != entry["sha256"]:
        raise ValueError(
            f"{path!r} does not match the checksum of the {dataset} feature "
            f"classifier (expected sha256 {entry['sha256']}): the file is corrupt "
            "or another model's."
        )
    model = build_classifier(name=f"feature_classifier_{dataset}")
    model.load_weights(path)
    return model


def features_from_classifier(classifier, name=None):
    """The `"features"` layer of a `build_classifier` model, as its own model.

    (N, 32, 32, 1) images in [0, 1] -> (N, 128) ReLU features.
    """
    return keras.Model(classifier.inputs, classifier.get_layer("features").output,
                       name=name or f"{classifier.name}_features")


def classifier_feature_model(dataset, weights_dir=None):
    """Feature extractor for an offline "FD (classifier features)".

    The penultimate layer (128 ReLU features) of the shipped classifier of
    `dataset`, trained by `examples/train_feature_classifier.py` on the
    training split (its test accuracy is in `CLASSIFIERS`). Pass it as
    `feature_model` to `fid_score`, `compute_statistics`, or the
    evaluation functions: the Fréchet distance (Split-VAE eq. (5)) of
    these features is NOT comparable with the papers' Inception FIDs.

    Args:
        dataset: `"mnist"` or `"fashion_mnist"`.
        weights_dir: str or None. Defaults to the repository's `weights/`.

    Returns:
        A `keras.Model` taking (N, 32, 32, 1) images in [0, 1] and
        returning (N, 128) features. It takes [0, 1] itself, not the
        [-1, 1] of Inception: give the FID functions
        `keras_vaes.metrics.classifier_extractor(dataset)`, which wraps
        it with that input range.
    """
    entry = _check_name(dataset)
    classifier = load_classifier(dataset, weights_dir)
    digest = (entry["sha256"] or "unchecked")[:12]
    return features_from_classifier(classifier, name=f"classifier_features_{dataset}_{digest}")


def describe(dataset):
    """The label of a classifier-feature FD column, for tables."""
    entry = _check_name(dataset)
    text = NOT_COMPARABLE.format(dataset=dataset)
    if entry["test_accuracy"] is not None:
        text += f" (classifier test accuracy {100 * entry['test_accuracy']:.2f}%)"
    return text
