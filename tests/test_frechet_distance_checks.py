"""`frechet_distance` refuses what is no covariance instead of returning a number."""

from unittest import mock

import numpy as np
import pytest

from keras_vaes.metrics import fid


def _covariance(d, n, seed=0):
    return np.cov(np.random.default_rng(seed).normal(size=(n, d)), rowvar=False)


@pytest.mark.parametrize("sigma, smallest", [
    (-np.eye(3), "-1"),  # was 0.0: the factorisation of -I is empty
    (np.array([[1.0, 2.0, 0.0], [2.0, 1.0, 0.0], [0.0, 0.0, 1.0]]), "-1"),  # eigenvalues 3, 1, -1
    (np.diag([1.0, 1.0, -1e-3]), "-0.001"),
    (np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]]), "-1"),  # zero diagonal
])
@pytest.mark.parametrize("which", ["sigma1", "sigma2"])
def test_a_covariance_that_is_not_positive_semi_definite_is_refused(sigma, smallest, which):
    mu = np.zeros(3)
    args = (mu, sigma, mu, np.eye(3)) if which == "sigma1" else (mu, np.eye(3), mu, sigma)
    with pytest.raises(ValueError, match=rf"`{which}` must be a covariance matrix \(positive "
                                         rf"semi-definite\)\. Received: .*smallest eigenvalue {smallest} "):
        fid.frechet_distance(*args)


def test_round_off_below_the_tolerance_is_accepted():
    # -1e-9 of the largest eigenvalue: round-off, not a broken covariance.
    sigma = np.diag([1.0, 1.0, -1e-9])
    assert fid.frechet_distance(np.zeros(3), sigma, np.zeros(3), sigma) == pytest.approx(0.0, abs=1e-8)
    # A rank-deficient covariance (fewer samples than dimensions) computed in
    # float32 has negative eigenvalues of ~1e-7 of the largest: accepted.
    features = np.random.default_rng(0).normal(size=(40, 64)).astype("float32")
    centred = features - features.mean(axis=0)
    sigma32 = (centred.T @ centred / 39).astype("float64")
    sigma32 = 0.5 * (sigma32 + sigma32.T)
    assert np.linalg.eigvalsh(sigma32)[0] < 0
    assert np.isfinite(fid.frechet_distance(np.zeros(64), sigma32, np.zeros(64), np.eye(64)))


@pytest.mark.parametrize("d, n", [(64, 20), (64, 500), (16, 2)])
def test_real_covariances_take_no_eigendecomposition(d, n):
    # The check costs nothing on what np.cov gives (full or rank-deficient):
    # the pivoted Cholesky's remainder decides, no O(d^3) eigvalsh.
    s1, s2 = _covariance(d, n, seed=1), _covariance(d, n, seed=2)
    with mock.patch.object(np.linalg, "eigvalsh", wraps=np.linalg.eigvalsh) as eigvalsh:
        distance = fid.frechet_distance(np.zeros(d), s1, np.ones(d), s2)
    assert eigvalsh.call_count == 1  # the one of the distance itself
    assert np.isfinite(distance) and distance > d  # ||mu1 - mu2||^2 = d, plus the covariances' part


def test_not_symmetric_and_mismatched_shapes_are_refused():
    mu = np.zeros(3)
    lower = np.tril(np.ones((3, 3)))
    with pytest.raises(ValueError, match=r"`sigma1` must be a symmetric covariance matrix"):
        fid.frechet_distance(mu, lower, mu, np.eye(3))
    with pytest.raises(ValueError, match=r"Received: sigma2.shape=\(2, 2\), mu2.shape=\(3,\)"):
        fid.frechet_distance(mu, np.eye(3), mu, np.eye(2))
    with pytest.raises(ValueError, match=r"Received: mu1.shape=\(3,\), mu2.shape=\(2,\)"):
        fid.frechet_distance(mu, np.eye(3), np.zeros(2), np.eye(2))


def test_feature_statistics_of_features_are_accepted():
    stats = fid.FeatureStatistics.from_features(np.random.default_rng(0).normal(size=(5, 8)))
    assert fid.frechet_distance(stats.mu, stats.sigma, stats.mu, stats.sigma) == pytest.approx(0.0, abs=1e-8)
