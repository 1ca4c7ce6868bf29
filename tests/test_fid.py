"""Tests of keras_vaes.metrics.fid (CPU, no InceptionV3 weights needed)."""

import os

import keras
import numpy as np
import pytest
import scipy.linalg

from keras_vaes import utils
from keras_vaes.metrics import extractors, fid, fid_cache


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
    first = fid_cache.cached_statistics(images, {"dataset": "toy", "split": "test"}, model, cache_dir=str(tmp_path))
    files = os.listdir(tmp_path)
    assert len(files) == 1
    # The same images (same content) hit the cache...
    again = fid_cache.cached_statistics(images.copy(), {"dataset": "toy", "split": "test"}, model, cache_dir=str(tmp_path))
    np.testing.assert_array_equal(again.mu, first.mu)
    assert len(os.listdir(tmp_path)) == 1
    # ...other images under the same description do not (content hash)...
    other = fid_cache.cached_statistics(images[::-1] * 0.5, {"dataset": "toy", "split": "test"}, model, cache_dir=str(tmp_path))
    assert not np.allclose(other.mu, first.mu)
    assert other.source["images_sha256"] == fid_cache.images_hash(images[::-1] * 0.5) != first.source["images_sha256"]
    # ...and another split, count or extractor gets its own file.
    fid_cache.cached_statistics(images, {"dataset": "toy", "split": "train"}, model, cache_dir=str(tmp_path))
    fid_cache.cached_statistics(images[:10], {"dataset": "toy", "split": "test"}, model, cache_dir=str(tmp_path))
    assert len(os.listdir(tmp_path)) == 4
    # A file whose stored description differs from its name is refused.
    path = os.path.join(tmp_path, files[0])
    fid.FeatureStatistics(first.mu, first.sigma, 12, {"dataset": "other"}).save(path)
    with pytest.raises(fid.StatisticsMismatchError):
        fid_cache.cached_statistics(images, {"dataset": "toy", "split": "test"}, model, cache_dir=str(tmp_path))


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
    got = extractors.extract_features(images, model, batch_size=2, verbose=0)
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
        extractors.extract_features(images, model, verbose=0)
    with pytest.raises(ValueError, match="shape"):
        extractors.extract_features(np.zeros((4, 32, 32, 2)), model, verbose=0)
    with pytest.raises(ValueError, match="shape"):
        extractors.extract_features(np.zeros((32, 32, 3)), model, verbose=0)


# --- InceptionV3 weights ----------------------------------------------------


def test_missing_inception_weights_file_gives_clear_error(tmp_path):
    missing = str(tmp_path / "nowhere.h5")
    with pytest.raises(extractors.InceptionWeightsUnavailable) as info:
        extractors.inception_feature_model(weights=missing)
    message = str(info.value)
    assert extractors.INCEPTION_WEIGHTS_FILENAME in message
    assert extractors.INCEPTION_WEIGHTS_ENV in message and missing in message


def test_missing_inception_weights_env_var_gives_clear_error(tmp_path, monkeypatch):
    missing = str(tmp_path / "env_nowhere.h5")
    monkeypatch.setenv(extractors.INCEPTION_WEIGHTS_ENV, missing)
    with pytest.raises(extractors.InceptionWeightsUnavailable, match="environment variable"):
        extractors.inception_feature_model()
    # fid_score with the default extractor raises the same clear error.
    images = np.zeros((4, 8, 8, 1), dtype="float32")
    with pytest.raises(extractors.InceptionWeightsUnavailable, match=extractors.INCEPTION_WEIGHTS_FILENAME):
        fid.fid_score(images, images)


def test_inception_weights_are_fetched_as_keras_fetches_them():
    import inspect

    # Keras's own module of InceptionV3, reached from the public function.
    inception_v3 = inspect.getmodule(keras.applications.InceptionV3)

    filename, url, md5 = extractors.INCEPTION_WEIGHTS_FILE
    assert filename == extractors.INCEPTION_WEIGHTS_FILENAME
    assert url == inception_v3.WEIGHTS_PATH_NO_TOP
    assert f'"{filename}"' in inspect.getsource(inception_v3)
    assert f'file_hash="{md5}"' in inspect.getsource(inception_v3)


def test_offline_imagenet_weights_fail_before_the_network_is_built(monkeypatch):
    import urllib.error

    monkeypatch.delenv(extractors.INCEPTION_WEIGHTS_ENV, raising=False)
    fetched = []

    def offline(filename, origin, **kwargs):
        fetched.append((filename, origin, kwargs))
        raise urllib.error.URLError("no network")

    def never_built(*args, **kwargs):
        raise AssertionError("InceptionV3 was built before its weights were fetched")

    monkeypatch.setattr(keras.utils, "get_file", offline)
    monkeypatch.setattr(keras.applications, "InceptionV3", never_built)
    with pytest.raises(extractors.InceptionWeightsUnavailable, match="Could not load.*no network"):
        extractors.inception_feature_model()
    filename, url, md5 = extractors.INCEPTION_WEIGHTS_FILE
    assert fetched == [(filename, url, {"cache_subdir": "models", "file_hash": md5})]


def test_fetched_imagenet_weights_are_built_from_the_cached_file(monkeypatch, tmp_path):
    cached = str(tmp_path / "weights.h5")
    monkeypatch.setattr(keras.utils, "get_file", lambda *args, **kwargs: cached)
    built = []
    result = extractors.load_application(
        lambda w: built.append(w) or "network", "imagenet", "UNUSED_ENV", RuntimeError,
        "Net", "help", imagenet_file=("f.h5", "https://example.invalid/f.h5", "0" * 32))
    assert result == "network" and built == [cached]
    # Without `imagenet_file`, "imagenet" goes to the application itself.
    built.clear()
    extractors.load_application(lambda w: built.append(w), "imagenet", "UNUSED_ENV",
                                RuntimeError, "Net", "help")
    assert built == ["imagenet"]


def test_corrupt_inception_weights_file_gives_clear_error(tmp_path):
    corrupt = tmp_path / extractors.INCEPTION_WEIGHTS_FILENAME
    corrupt.write_bytes(b"not an h5 file")
    with pytest.raises(extractors.InceptionWeightsUnavailable, match="Could not load"):
        extractors.inception_feature_model(weights=str(corrupt))


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
        model = extractors.inception_feature_model(weights=path)
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
    first, second = features("same_name"), features("same_name")
    stats = fid.compute_statistics(images, first)
    assert stats.source["extractor"].startswith("weights-sha256:" + extractors.weights_hash(first))
    assert fid.fid_score(stats, images, first) == pytest.approx(0.0, abs=1e-6)
    # Same name, other weights: refused (identity is the weights' hash).
    with pytest.raises(fid.StatisticsMismatchError, match="weights-sha256"):
        fid.fid_score(stats, images, second)
    # Same weights under another name: the same extractor.
    renamed = features("renamed")
    renamed.set_weights(first.get_weights())
    assert extractors.weights_hash(renamed) == extractors.weights_hash(first)
    assert fid.fid_score(stats, images, renamed) == pytest.approx(0.0, abs=1e-6)


def test_weights_hash_tells_apart_random_and_loaded_inception_weights(tmp_path):
    # Random-weight and "ImageNet" InceptionV3 have the same name and
    # architecture; only the weights tell them apart (issue 11, item 7).
    random_a = keras.applications.InceptionV3(include_top=False, weights=None,
                                              input_shape=(75, 75, 3), pooling="avg")
    random_b = keras.applications.InceptionV3(include_top=False, weights=None,
                                              input_shape=(75, 75, 3), pooling="avg")
    assert random_a.name == random_b.name
    assert extractors.weights_hash(random_a) != extractors.weights_hash(random_b)
    random_b.set_weights(random_a.get_weights())
    assert extractors.weights_hash(random_a) == extractors.weights_hash(random_b)


def test_cache_never_shared_between_extractors_of_the_same_name(tmp_path):
    images = np.random.default_rng(1).uniform(size=(10, 32, 32, 3)).astype("float32")
    a = fid_cache.cached_statistics(images, "toy", _tiny_feature_model("features"), cache_dir=str(tmp_path))
    keras.utils.set_random_seed(1)
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(8, 3, activation="relu")(inputs))
    other = keras.Model(inputs, keras.layers.Dense(16)(x), name="features")
    b = fid_cache.cached_statistics(images, "toy", other, cache_dir=str(tmp_path))
    assert len(os.listdir(tmp_path)) == 2 and a.key != b.key


# --- Feature extractors with their own preprocessing -------------------------


def test_feature_extractor_input_range_and_description():
    model = _tiny_feature_model()
    images = np.random.default_rng(2).uniform(size=(6, 32, 32, 3)).astype("float32")
    extractor = extractors.FeatureExtractor(model, input_range=(0.0, 1.0), description="unit range")
    expected = keras.ops.convert_to_numpy(model(images))
    np.testing.assert_allclose(extractors.extract_features(images, extractor, verbose=0), expected,
                               rtol=1e-4, atol=1e-5)
    assert "[0,1]->[0,1]" in extractor.identity()
    assert extractor.identity() != extractors.FeatureExtractor(model).identity()
    with pytest.raises(ValueError, match="input_range"):
        extractors.FeatureExtractor(model, input_range=(1, 0))


def test_classifier_extractor_uses_unit_range(monkeypatch):
    from keras_vaes.metrics import classifier

    inputs = keras.Input((32, 32, 1))
    stand_in = keras.Model(inputs, keras.layers.Flatten()(keras.layers.AveragePooling2D(8)(inputs)))
    monkeypatch.setattr(classifier, "classifier_feature_model", lambda name: stand_in)
    extractor = extractors.classifier_extractor("mnist")
    images = np.random.default_rng(3).uniform(size=(4, 32, 32, 1)).astype("float32")
    expected = images.reshape(4, 4, 8, 4, 8).mean(axis=(2, 4)).reshape(4, -1)
    np.testing.assert_allclose(extractors.extract_features(images, extractor, verbose=0), expected, rtol=1e-5)
    assert "mnist" in extractor.description
    monkeypatch.setattr(classifier, "classifier_feature_model",
                        lambda name: (_ for _ in ()).throw(ValueError(f"no {name}")))
    extractor, reason = extractors.classifier_extractor_or_reason("cifar10")
    assert extractor is None and "no cifar10" in reason


# --- The TF-GAN / TTUR Inception graph ------------------------------------


def _write_tiny_frozen_graph(path, side, features=5, seed=0):
    """A frozen GraphDef with TF-GAN's tensor names: input `Mul`, output `pool_3`."""
    import tensorflow as tf

    kernel = np.random.default_rng(seed).normal(size=(1, 1, 3, features)).astype("float32")
    graph = tf.Graph()
    with graph.as_default():
        images = tf.compat.v1.placeholder(tf.float32, [1, side, side, 3], name="ExpandDims")
        mul = tf.multiply(images, 1.0, name="Mul")
        conv = tf.nn.relu(tf.nn.conv2d(mul, tf.constant(kernel), 1, "VALID"))
        tf.nn.avg_pool2d(conv, side, side, "VALID", name="pool_3")
    with open(path, "wb") as f:
        f.write(graph.as_graph_def().SerializeToString())
    return kernel


def _legacy_bilinear(images, size):
    """NumPy tf.compat.v1.image.resize_bilinear (align_corners=False, no half-pixel)."""
    _, h, w, _ = images.shape
    ys = np.arange(size) * (h / size)
    xs = np.arange(size) * (w / size)
    y0 = np.floor(ys).astype(int)
    x0 = np.floor(xs).astype(int)
    y1 = np.minimum(y0 + 1, h - 1)
    x1 = np.minimum(x0 + 1, w - 1)
    dy = (ys - y0)[None, :, None, None]
    dx = (xs - x0)[None, None, :, None]
    top = images[:, y0][:, :, x0] * (1 - dx) + images[:, y0][:, :, x1] * dx
    bottom = images[:, y1][:, :, x0] * (1 - dx) + images[:, y1][:, :, x1] * dx
    return top * (1 - dy) + bottom * dy


def test_tfgan_frozen_graph_extractor_matches_the_authors_pipeline(tmp_path):
    path = str(tmp_path / "tiny_inception.pb")
    side = 12
    kernel = _write_tiny_frozen_graph(path, side)
    extractor = extractors.FrozenGraphExtractor(path, image_size=side, batch_size=4)
    rng = np.random.default_rng(4)
    images = rng.uniform(size=(10, 7, 7, 1)).astype("float32")
    got = extractors.extract_features(images, extractor, batch_size=100, verbose=0)
    # The authors' fid.py: batches of 64 (here 4) with the remainder
    # dropped, x * 2 - 1, TF1 resize_bilinear, graph from Mul:0 to pool_3:0.
    kept = images[:8]
    prepared = _legacy_bilinear(np.repeat(kept * 2 - 1, 3, axis=-1).astype(np.float64), side)
    expected = np.maximum(prepared @ kernel[0, 0], 0).mean(axis=(1, 2))
    assert got.shape == (8, 5)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
    # Identified by the file's hash; a FID through it works end to end.
    assert extractor.identity().startswith("graph-sha256:" + utils.sha256(path))
    score = fid.fid_score(images, images[::-1], extractor)
    assert score == pytest.approx(fid.frechet_distance(
        got.mean(0), np.cov(got.T),
        *(lambda f: (f.mean(0), np.cov(f.T)))(extractors.extract_features(images[::-1], extractor, verbose=0)),
    ), rel=1e-6)
    other = str(tmp_path / "other.pb")
    _write_tiny_frozen_graph(other, side, seed=1)
    assert extractors.FrozenGraphExtractor(other, image_size=side).identity() != extractor.identity()


def test_tfgan_graph_missing_or_corrupt_gives_the_inception_error(tmp_path, monkeypatch):
    missing = str(tmp_path / extractors.TFGAN_INCEPTION_FILENAME)
    with pytest.raises(extractors.InceptionWeightsUnavailable, match="frozen_inception_v1_2015_12_05"):
        extractors.tfgan_inception_extractor(missing)
    monkeypatch.delenv(extractors.TFGAN_INCEPTION_ENV, raising=False)
    with pytest.raises(extractors.InceptionWeightsUnavailable, match=extractors.TFGAN_INCEPTION_ENV):
        extractors.tfgan_inception_extractor()
    corrupt = tmp_path / "corrupt.pb"
    corrupt.write_bytes(b"not a graph")
    with pytest.raises(extractors.InceptionWeightsUnavailable, match="Could not import"):
        extractors.FrozenGraphExtractor(str(corrupt))
    extractor, description, reason = extractors.feature_model_from_spec(f"tfgan:{missing}")
    assert extractor is None and "TF-GAN" in description and missing in reason
    good = str(tmp_path / "good.pb")
    _write_tiny_frozen_graph(good, 299)
    extractor, _, reason = extractors.feature_model_from_spec(good)
    assert reason is None and isinstance(extractor, extractors.FrozenGraphExtractor)


def test_fid_module_holds_the_distance_and_statistics_only():
    """Extractors and the cache live beside fid.py; the package exports the names of all three."""
    from keras_vaes import metrics

    assert not hasattr(fid, "__getattr__")
    for name in ("FeatureExtractor", "extract_features", "cached_statistics", "check_images"):
        assert name not in vars(fid)
    assert metrics.cached_statistics is fid_cache.cached_statistics
    assert metrics.FeatureExtractor is extractors.FeatureExtractor
    assert metrics.frechet_distance is fid.frechet_distance


def test_resolve_feature_model_falls_back_to_the_shipped_classifier(tmp_path, monkeypatch):
    monkeypatch.setenv(extractors.INCEPTION_WEIGHTS_ENV, str(tmp_path / "nowhere.h5"))
    extractor, description, reason = extractors.resolve_feature_model("inception", "mnist")
    assert extractor is not None and reason is None
    assert description.startswith("FD (classifier features)") and "InceptionV3 weights unavailable" in description
    extractor, description, reason = extractors.resolve_feature_model("auto", "cifar10")
    assert extractor is None and description == extractors.INCEPTION_DESCRIPTION and "nowhere.h5" in reason
    extractor, description, reason = extractors.resolve_feature_model("classifier", "cifar10")
    assert extractor is None and "cifar10" in reason
    with pytest.raises(FileNotFoundError, match="no_model.keras"):
        extractors.resolve_feature_model(str(tmp_path / "no_model.keras"), "mnist")
