"""The offline quality measure: FD of the shipped classifiers' features."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import scipy.ndimage

import keras_vaes as kv
from keras_vaes.metrics import classifier, fid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The real MNIST test images, where this checkout has them (not shipped).
MNIST = os.environ.get("KERAS_VAES_MNIST", os.path.join(ROOT, "..", "shared", "data", "mnist.npz"))


@pytest.mark.parametrize("dataset", ["mnist", "fashion_mnist"])
def test_shipped_classifier_loads_offline_with_its_checksum(dataset):
    entry = classifier.CLASSIFIERS[dataset]
    path = os.path.join(kv.pretrained.WEIGHTS_DIR, entry["file"])
    assert kv.pretrained.sha256(path) == entry["sha256"]
    assert 0.85 < entry["test_accuracy"] <= 1.0
    model = kv.metrics.classifier_feature_model(dataset)
    assert model.input_shape == (None, 32, 32, 1) and model.output_shape == (None, 128)
    assert entry["sha256"][:12] in model.name
    features = model.predict(np.zeros((2, 32, 32, 1), "float32"), verbose=0)
    assert features.shape == (2, 128) and np.all(features >= 0)  # ReLU features
    assert "NOT comparable" in classifier.describe(dataset)


def test_features_are_the_classifier_penultimate_layer():
    full = classifier.load_classifier("mnist")
    features = kv.metrics.classifier_feature_model("mnist")
    x = np.random.default_rng(0).uniform(size=(4, 32, 32, 1)).astype("float32")
    hidden = features.predict(x, verbose=0)
    # logits = hidden @ W + b (Dropout is the identity at inference)
    kernel, bias = full.get_layer("logits").get_weights()
    np.testing.assert_allclose(hidden @ kernel + bias, full.predict(x, verbose=0), rtol=1e-4, atol=1e-4)


def test_errors(tmp_path):
    with pytest.raises(ValueError, match="Received: dataset='cifar10'"):
        kv.metrics.classifier_feature_model("cifar10")
    with pytest.raises(FileNotFoundError, match="train_feature_classifier.py"):
        kv.metrics.classifier_feature_model("mnist", weights_dir=str(tmp_path))
    entry = classifier.CLASSIFIERS["mnist"]
    copy = tmp_path / entry["file"]
    shutil.copy(os.path.join(kv.pretrained.WEIGHTS_DIR, entry["file"]), copy)
    with open(copy, "r+b") as f:
        f.seek(-64, os.SEEK_END)
        byte = f.read(1)
        f.seek(-64, os.SEEK_END)
        f.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(ValueError, match="checksum"):
        kv.metrics.classifier_feature_model("mnist", weights_dir=str(tmp_path))
    with pytest.raises(ValueError, match="feature_dim"):
        classifier.build_classifier(feature_dim=0)


@pytest.mark.skipif(not os.path.exists(MNIST), reason="real MNIST not available (KERAS_VAES_MNIST)")
def test_fd_orders_real_blurred_noise():
    (_, _), (x_test, y_test) = kv.datasets.load_mnist(MNIST)
    real_a, real_b = x_test[:1000], x_test[1000:2000]
    model = classifier.load_classifier("mnist")
    accuracy = np.mean(np.argmax(model.predict(real_a, verbose=0), axis=1) == y_test[:1000])
    assert accuracy > 0.95
    extractor = kv.metrics.classifier_extractor("mnist")
    reference = fid.compute_statistics(real_a, extractor)
    blurred = scipy.ndimage.gaussian_filter(real_b, sigma=(0, 1.5, 1.5, 0))
    noise = np.random.default_rng(0).uniform(size=real_b.shape).astype("float32")
    scores = [fid.fid_score(reference, images, extractor) for images in (real_b, blurred, noise)]
    assert scores[0] < 0.5 * scores[1] and scores[1] < scores[2], scores
    # The same distance from the features directly (NumPy/SciPy, eq. (5)).
    features = classifier.classifier_feature_model("mnist")
    fa = features.predict(real_a, verbose=0).astype(np.float64)
    fb = features.predict(blurred, verbose=0).astype(np.float64)
    ca, cb = np.cov(fa, rowvar=False), np.cov(fb, rowvar=False)
    covmean = scipy.linalg.sqrtm(ca @ cb).real
    expected = np.sum((fa.mean(0) - fb.mean(0)) ** 2) + np.trace(ca + cb - 2 * covmean)
    assert scores[1] == pytest.approx(expected, rel=1e-3)


def test_training_script_writes_weights_accuracy_and_checksum(tmp_path):
    rng = np.random.default_rng(0)
    data = tmp_path / "mnist.npz"
    np.savez(data, x_train=rng.integers(0, 256, (64, 28, 28), dtype=np.uint8),
             y_train=rng.integers(0, 10, 64, dtype=np.uint8),
             x_test=rng.integers(0, 256, (20, 28, 28), dtype=np.uint8),
             y_test=rng.integers(0, 10, 20, dtype=np.uint8))
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, "examples", "train_feature_classifier.py"),
         "--dataset", "mnist", "--data", str(data), "--epochs", "1", "--batch-size", "32",
         "--output", str(tmp_path / "out")],
        capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "test accuracy (20 test images)" in result.stdout
    record = json.load(open(tmp_path / "out" / "classifier_mnist.json"))
    weights = tmp_path / "out" / "classifier_mnist.weights.h5"
    assert record["sha256"] == kv.pretrained.sha256(str(weights))
    assert 0.0 <= record["test_accuracy"] <= 1.0 and record["train_images"] == 64
    loaded = classifier.build_classifier()
    loaded.load_weights(str(weights))  # a plain weights file, no optimizer state
