"""VGG19 perceptual loss (learned priors section 5; Johnson et al. 2016)."""

import os

import keras
import numpy as np
import pytest

from keras_vaes.losses.perceptual import perceptual_loss
from keras_vaes.metrics.perceptual import (
    PERCEPTUAL_LAYERS,
    VGG19_WEIGHTS_ENV,
    VGG19WeightsUnavailable,
    VGGPreprocessing,
    vgg19_feature_model,
)


def test_missing_weights_file_is_a_clear_error():
    with pytest.raises(VGG19WeightsUnavailable, match="not found: '/no/such.h5'.*KERAS_VAES_VGG19"):
        vgg19_feature_model(weights="/no/such.h5")


def test_offline_without_cached_weights_is_a_clear_error(tmp_path, monkeypatch):
    # An empty Keras home: Keras would download; offline this must fail
    # with the package's error, naming the three ways to provide the file.
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.delenv(VGG19_WEIGHTS_ENV, raising=False)
    import keras.src.applications.vgg19 as vgg19_module

    monkeypatch.setattr(vgg19_module.file_utils, "get_file", _offline_get_file)
    with pytest.raises(VGG19WeightsUnavailable) as info:
        vgg19_feature_model()
    message = str(info.value)
    assert "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5" in message
    assert str(tmp_path) in message and VGG19_WEIGHTS_ENV in message
    assert "feature_model" in message


def _offline_get_file(*args, **kwargs):
    raise Exception("URL fetch failure: no network")  # what keras raises offline


def test_environment_variable_is_used(monkeypatch):
    monkeypatch.setenv(VGG19_WEIGHTS_ENV, "/nowhere/vgg.h5")
    with pytest.raises(VGG19WeightsUnavailable, match="environment variable"):
        vgg19_feature_model()


def test_random_vgg19_has_the_four_relu_layers():
    model = vgg19_feature_model(weights=None, input_shape=(32, 32, 1))
    outputs = model(np.random.default_rng(0).random((2, 32, 32, 1)).astype("float32"))
    assert [tuple(o.shape) for o in outputs] == [
        (2, 32, 32, 64), (2, 16, 16, 128), (2, 8, 8, 256), (2, 4, 4, 512)]
    assert PERCEPTUAL_LAYERS == ("block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1")
    assert not model.trainable_weights


def test_preprocessing_matches_keras_vgg19_preprocess_input():
    images = np.random.default_rng(1).random((2, 4, 4, 3)).astype("float32")
    expected = keras.applications.vgg19.preprocess_input(255.0 * images)
    got = keras.ops.convert_to_numpy(VGGPreprocessing()(images))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-3)
    gray = images[..., :1]
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(VGGPreprocessing()(gray)),
        keras.applications.vgg19.preprocess_input(255.0 * np.repeat(gray, 3, -1)),
        atol=1e-3,
    )


def tiny_feature_model():
    inputs = keras.Input((8, 8, 1))
    a = keras.layers.Conv2D(3, 3, padding="same", activation="relu")(inputs)
    b = keras.layers.Conv2D(2, 3, strides=2, padding="same")(a)
    return keras.Model(inputs, [a, b])


def test_perceptual_loss_against_numpy():
    rng = np.random.default_rng(2)
    x, x_hat = rng.random((3, 8, 8, 1)).astype("float32"), rng.random((3, 8, 8, 1)).astype("float32")
    model = tiny_feature_model()
    fa, fb = [keras.ops.convert_to_numpy(f) for f in model(x)]
    ga, gb = [keras.ops.convert_to_numpy(f) for f in model(x_hat)]
    expected = (0.5 * np.sum((ga - fa) ** 2, axis=(1, 2, 3)) / (8 * 8 * 3)
                + 2.0 * np.sum((gb - fb) ** 2, axis=(1, 2, 3)) / (4 * 4 * 2))
    got = keras.ops.convert_to_numpy(perceptual_loss(x, x_hat, model, layer_weights=[0.5, 2.0]))
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    assert np.all(keras.ops.convert_to_numpy(perceptual_loss(x, x, model)) == 0)


def test_perceptual_loss_bad_input():
    model = tiny_feature_model()
    with pytest.raises(ValueError, match="same shape"):
        perceptual_loss(np.zeros((2, 8, 8, 1)), np.zeros((2, 4, 4, 1)), model)
    with pytest.raises(ValueError, match="one weight per feature map"):
        perceptual_loss(np.zeros((2, 8, 8, 1)), np.zeros((2, 8, 8, 1)), model, [1.0])


def test_vgg19_weights_are_fetched_as_keras_fetches_them():
    import inspect

    from keras.src.applications import vgg19

    from keras_vaes.metrics import perceptual

    filename, url, md5 = perceptual.VGG19_WEIGHTS_FILE
    assert url == vgg19.WEIGHTS_PATH_NO_TOP
    assert f'"{filename}"' in inspect.getsource(vgg19)
    assert f'file_hash="{md5}"' in inspect.getsource(vgg19)
