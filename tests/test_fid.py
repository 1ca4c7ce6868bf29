"""Tests of keras_vaes.metrics.fid (CPU, no InceptionV3 weights needed)."""

import os

import keras
import numpy as np
import pytest
import scipy.linalg

from keras_vaes.metrics import fid


def _random_spd(rng, dim, condition=10.0):
    q, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
    eigenvalues = np.geomspace(1.0, 1.0 / condition, dim)
    return (q * eigenvalues) @ q.T


def _reference_fid(mu1, sigma1, mu2, sigma2):
    """The classic computation: scipy sqrtm of the non-symmetric product."""
    covmean = scipy.linalg.sqrtm(sigma1 @ sigma2)
    covmean = np.real(covmean)
    diff = mu1 - mu2
    return diff @ diff + np.trace(sigma1 + sigma2 - 2.0 * covmean)


def _tiny_feature_model(name="tiny_features"):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Conv2D(8, 3, activation="relu")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(16)(x)
    return keras.Model(inputs, outputs, name=name)


# --- frechet_distance -------------------------------------------------------


def test_diagonal_covariances_closed_form():
    rng = np.random.default_rng(0)
    a, b = rng.uniform(0.1, 3.0, 20), rng.uniform(0.1, 3.0, 20)
    mu1, mu2 = rng.normal(size=20), rng.normal(size=20)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    got = fid.frechet_distance(mu1, np.diag(a), mu2, np.diag(b))
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    # A zero covariance (a single repeated feature vector) is rank 0.
    assert fid.frechet_distance(np.zeros(3), np.zeros((3, 3)), np.ones(3), np.eye(3)) == 6.0


def test_matches_scipy_sqrtm_on_well_conditioned_matrices():
    rng = np.random.default_rng(1)
    for dim in (5, 64):
        sigma1, sigma2 = _random_spd(rng, dim), _random_spd(rng, dim, 100.0)
        mu1, mu2 = rng.normal(size=dim), rng.normal(size=dim)
        expected = _reference_fid(mu1, sigma1, mu2, sigma2)
        got = fid.frechet_distance(mu1, sigma1, mu2, sigma2)
        np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_rank_deficient_covariances_are_finite_real_symmetric():
    rng = np.random.default_rng(2)
    dim = 2048
    mixing = rng.normal(size=(64, dim))  # correlated, low-rank features
    f1 = rng.normal(size=(100, 64)) @ mixing
    f2 = rng.normal(size=(100, 64)) @ mixing + 0.1 * rng.normal(size=(100, dim))
    s1 = fid.FeatureStatistics.from_features(f1)
    s2 = fid.FeatureStatistics.from_features(f2)
    d12 = fid.frechet_distance(s1.mu, s1.sigma, s2.mu, s2.sigma)
    d21 = fid.frechet_distance(s2.mu, s2.sigma, s1.mu, s1.sigma)
    assert isinstance(d12, float) and np.isfinite(d12) and d12 >= 0
    np.testing.assert_allclose(d12, d21, rtol=1e-6)


def test_rank_deficient_matches_symmetric_square_root_reference():
    # 100 samples in 256 dimensions: both covariances have rank 99.
    rng = np.random.default_rng(9)
    f1 = rng.normal(size=(100, 256)) * np.geomspace(1.0, 1e-3, 256)
    f2 = rng.normal(size=(100, 256)) + 0.5
    mu1, sigma1, mu2, sigma2 = f1.mean(0), np.cov(f1.T), f2.mean(0), np.cov(f2.T)
    # Reference: Tr sqrt(S1 C2 S1), S1 = C1^(1/2) from eigh, eigenvalues clipped.
    w, v = np.linalg.eigh(sigma1)
    s1 = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    inner = np.linalg.eigvalsh(s1 @ sigma2 @ s1)
    expected = np.sum((mu1 - mu2) ** 2) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.sum(np.sqrt(np.clip(inner, 0, None)))
    np.testing.assert_allclose(fid.frechet_distance(mu1, sigma1, mu2, sigma2), expected, rtol=1e-6)


def test_identical_statistics_give_zero():
    rng = np.random.default_rng(3)
    stats = fid.FeatureStatistics.from_features(rng.normal(size=(50, 128)))
    distance = fid.frechet_distance(stats.mu, stats.sigma, stats.mu, stats.sigma)
    assert 0.0 <= distance < 1e-6 * np.trace(stats.sigma)


def test_frechet_distance_validates_shapes():
    with pytest.raises(ValueError, match="sigma1.shape=\\(3, 4\\)"):
        fid.frechet_distance(np.zeros(3), np.zeros((3, 4)), np.zeros(3), np.eye(3))
    with pytest.raises(ValueError, match="mu2.shape=\\(4,\\)"):
        fid.frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))
    with pytest.raises(ValueError, match="symmetric"):
        fid.frechet_distance(np.zeros(2), np.array([[1.0, 1.0], [0.0, 1.0]]), np.zeros(2), np.eye(2))


# --- statistics and cache ---------------------------------------------------


def test_statistics_save_load_round_trip_and_key_mismatch(tmp_path):
    rng = np.random.default_rng(4)
    source = {"dataset": "cifar10", "split": "test", "count": 30, "extractor": "x"}
    stats = fid.FeatureStatistics.from_features(rng.normal(size=(30, 6)), source)
    path = str(tmp_path / "stats.npz")
    stats.save(path)
    loaded = fid.FeatureStatistics.load(path, expected_source=dict(reversed(source.items())))
    np.testing.assert_array_equal(loaded.mu, stats.mu)
    np.testing.assert_array_equal(loaded.sigma, stats.sigma)
    assert loaded.count == 30 and loaded.source == stats.source
    assert loaded.key == fid.statistics_key(source)
    with pytest.raises(fid.StatisticsMismatchError, match="train"):
        fid.FeatureStatistics.load(path, expected_source={**source, "split": "train"})
    assert fid.statistics_key(source) != fid.statistics_key({**source, "split": "train"})


def test_cached_statistics_keyed_by_full_description(tmp_path):
    rng = np.random.default_rng(5)
    images = rng.uniform(size=(12, 32, 32, 3)).astype("float32")
    model = _tiny_feature_model()
    first = fid.cached_statistics(images, {"dataset": "toy", "split": "test"}, model, cache_dir=str(tmp_path))
    files = os.listdir(tmp_path)
    assert len(files) == 1
    # A cache hit returns the stored statistics even for other images...
    again = fid.cached_statistics(images[::-1] * 0.5, {"dataset": "toy", "split": "test"}, model, cache_dir=str(tmp_path))
    np.testing.assert_array_equal(again.mu, first.mu)
    # ...but another split, count or extractor gets its own file.
    fid.cached_statistics(images, {"dataset": "toy", "split": "train"}, model, cache_dir=str(tmp_path))
    fid.cached_statistics(images[:10], {"dataset": "toy", "split": "test"}, model, cache_dir=str(tmp_path))
    assert len(os.listdir(tmp_path)) == 3
    # A file whose stored description differs from its name is refused.
    path = os.path.join(tmp_path, files[0])
    fid.FeatureStatistics(first.mu, first.sigma, 12, {"dataset": "other"}).save(path)
    with pytest.raises(fid.StatisticsMismatchError):
        fid.cached_statistics(images, {"dataset": "toy", "split": "test"}, model, cache_dir=str(tmp_path))


# --- feature extraction and fid_score --------------------------------------


def test_fid_score_matches_numpy_on_tiny_model():
    rng = np.random.default_rng(6)
    model = _tiny_feature_model()
    # Grayscale 32x32: exercises the channel repeat, no resize.
    a = rng.uniform(size=(40, 32, 32, 1)).astype("float32")
    b = (rng.uniform(size=(30, 32, 32, 1)) ** 2).astype("float32")
    fa = keras.ops.convert_to_numpy(model(np.repeat(a, 3, -1) * 2 - 1)).astype(np.float64)
    fb = keras.ops.convert_to_numpy(model(np.repeat(b, 3, -1) * 2 - 1)).astype(np.float64)
    expected = fid.frechet_distance(fa.mean(0), np.cov(fa.T), fb.mean(0), np.cov(fb.T))
    got = fid.fid_score(a, b, feature_model=model, batch_size=16)
    np.testing.assert_allclose(got, expected, rtol=1e-4)
    # Precomputed reference statistics give the same score.
    ref = fid.compute_statistics(a, model, source="a", batch_size=7)
    np.testing.assert_allclose(fid.fid_score(ref, b, feature_model=model), expected, rtol=1e-4)
    # Self-distance of a set of images is 0.
    assert fid.fid_score(a, a, feature_model=model) < 1e-6


def test_extract_features_resizes_bilinearly_and_maps_to_minus_one_one():
    rng = np.random.default_rng(7)
    model = _tiny_feature_model()
    images = rng.uniform(size=(5, 16, 16, 3)).astype("float32")
    resized = keras.ops.convert_to_numpy(keras.ops.image.resize(images, (32, 32), interpolation="bilinear"))
    expected = keras.ops.convert_to_numpy(model(2 * resized - 1))
    got = fid.extract_features(images, model, batch_size=2, verbose=0)
    assert got.shape == (5, 16)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_feature_model_from_keras_file(tmp_path):
    model = _tiny_feature_model()
    path = str(tmp_path / "features.keras")
    model.save(path)
    rng = np.random.default_rng(8)
    a = rng.uniform(size=(10, 32, 32, 3)).astype("float32")
    b = rng.uniform(size=(10, 32, 32, 3)).astype("float32") * 0.5
    np.testing.assert_allclose(
        fid.fid_score(a, b, feature_model=path),
        fid.fid_score(a, b, feature_model=model),
        rtol=1e-5,
    )


def test_images_outside_unit_range_are_rejected():
    model = _tiny_feature_model()
    images = np.full((4, 32, 32, 3), 200.0, dtype="float32")
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        fid.extract_features(images, model, verbose=0)
    with pytest.raises(ValueError, match="shape"):
        fid.extract_features(np.zeros((4, 32, 32, 2)), model, verbose=0)
    with pytest.raises(ValueError, match="shape"):
        fid.extract_features(np.zeros((32, 32, 3)), model, verbose=0)


# --- InceptionV3 weights ----------------------------------------------------


def test_missing_inception_weights_file_gives_clear_error(tmp_path):
    missing = str(tmp_path / "nowhere.h5")
    with pytest.raises(fid.InceptionWeightsUnavailable) as info:
        fid.inception_feature_model(weights=missing)
    message = str(info.value)
    assert fid.INCEPTION_WEIGHTS_FILENAME in message
    assert fid.INCEPTION_WEIGHTS_ENV in message and missing in message


def test_missing_inception_weights_env_var_gives_clear_error(tmp_path, monkeypatch):
    missing = str(tmp_path / "env_nowhere.h5")
    monkeypatch.setenv(fid.INCEPTION_WEIGHTS_ENV, missing)
    with pytest.raises(fid.InceptionWeightsUnavailable, match="environment variable"):
        fid.inception_feature_model()
    # fid_score with the default extractor raises the same clear error.
    images = np.zeros((4, 8, 8, 1), dtype="float32")
    with pytest.raises(fid.InceptionWeightsUnavailable, match=fid.INCEPTION_WEIGHTS_FILENAME):
        fid.fid_score(images, images)


def test_corrupt_inception_weights_file_gives_clear_error(tmp_path):
    corrupt = tmp_path / fid.INCEPTION_WEIGHTS_FILENAME
    corrupt.write_bytes(b"not an h5 file")
    with pytest.raises(fid.InceptionWeightsUnavailable, match="Could not load"):
        fid.inception_feature_model(weights=str(corrupt))


def test_inception_is_float32_under_a_mixed_policy_and_loads_a_weights_file(tmp_path):
    # Random weights stand in for ImageNet's (same architecture and file
    # layout): the FID extractor must be float32 whatever the user's policy.
    source = keras.applications.InceptionV3(
        include_top=False, weights=None, input_shape=(299, 299, 3), pooling="avg"
    )
    path = str(tmp_path / "inception_notop.weights.h5")
    source.save_weights(path)
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        model = fid.inception_feature_model(weights=path)
        assert keras.config.dtype_policy().name == "mixed_bfloat16"  # restored
    finally:
        keras.config.set_dtype_policy(previous)
    assert {layer.compute_dtype for layer in model.layers} == {"float32"}
    assert model.output_shape == (None, 2048)
    np.testing.assert_array_equal(model.get_weights()[0], source.get_weights()[0])


def test_precomputed_statistics_from_another_extractor_are_refused():
    def features(name):
        inputs = keras.Input((8, 8, 3))
        pooled = keras.layers.GlobalAveragePooling2D()(inputs)
        return keras.Model(inputs, keras.layers.Dense(4)(pooled), name=name)

    images = np.random.default_rng(0).uniform(size=(12, 8, 8, 3)).astype("float32")
    first, second = features("first"), features("second")
    stats = fid.compute_statistics(images, first)
    assert stats.source["extractor"] == "model:first"
    assert fid.fid_score(stats, images, first) == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(fid.StatisticsMismatchError, match="'model:first'.*'model:second'"):
        fid.fid_score(stats, images, second)
