"""Improved precision and recall (Kynkäänniemi et al. 2019) against brute force."""

import numpy as np
import pytest

from keras_vaes import metrics
from keras_vaes.metrics.precision_recall import knn_radii, manifold_membership, precision_recall


def brute_force(real, fake, k):
    """Eq. 1-2 of the paper, written out with explicit pairwise differences."""

    def radii(x):
        d = np.sqrt(((x[:, None, :] - x[None, :, :]) ** 2).sum(-1))
        return np.sort(d, axis=1)[:, k]  # column 0 is the point itself

    def inside(queries, centres, r):
        d = np.sqrt(((queries[:, None, :] - centres[None, :, :]) ** 2).sum(-1))
        return (d <= r[None, :]).any(axis=1)

    precision = inside(fake, real, radii(real)).mean()
    recall = inside(real, fake, radii(fake)).mean()
    return precision, recall


@pytest.mark.parametrize("k", [1, 3, 5])
@pytest.mark.parametrize("batch_size", [7, 1000])
def test_matches_brute_force(k, batch_size):
    rng = np.random.default_rng(k)
    real = rng.normal(size=(120, 6))
    fake = 0.7 * rng.normal(size=(90, 6)) + 0.5
    expected = brute_force(real, fake, k)
    result = precision_recall(real, fake, k=k, batch_size=batch_size)
    assert result.precision == pytest.approx(expected[0], abs=1e-12)
    assert result.recall == pytest.approx(expected[1], abs=1e-12)
    # The case is informative: neither 0 nor 1.
    assert 0.0 < result.precision < 1.0 and 0.0 < result.recall < 1.0


def test_radii_match_brute_force_and_ignore_batching():
    x = np.random.default_rng(1).normal(size=(50, 4))
    d = np.sqrt(((x[:, None] - x[None]) ** 2).sum(-1))
    np.testing.assert_allclose(np.sqrt(knn_radii(x, k=3, batch_size=8)), np.sort(d, axis=1)[:, 3], rtol=1e-9)


def test_identical_sets_give_one_and_one():
    x = np.random.default_rng(2).normal(size=(200, 16))
    assert precision_recall(x, x) == (1.0, 1.0)


def test_far_disjoint_sets_give_zero_and_zero():
    rng = np.random.default_rng(3)
    real = rng.normal(size=(100, 8))
    fake = rng.normal(size=(80, 8)) + 50.0
    assert precision_recall(real, fake) == (0.0, 0.0)


def test_subset_has_full_precision_and_partial_recall():
    # Fakes cover only one of two well-separated clusters of the data: every
    # fake is realistic (precision 1), half the data is missed (recall ~0.5).
    rng = np.random.default_rng(4)
    real = np.concatenate([rng.normal(size=(100, 4)), rng.normal(size=(100, 4)) + 30.0])
    fake = real[:100]
    result = precision_recall(real, fake, k=3)
    assert result.precision == 1.0
    assert result.recall == pytest.approx(0.5, abs=0.05)
    assert result.recall < 1.0


def test_membership_counts_the_boundary():
    centres = np.array([[0.0, 0.0], [10.0, 0.0]])
    radii = np.array([1.0, 0.0])  # squared
    queries = np.array([[1.0, 0.0], [0.0, 1.5], [10.0, 0.0]])
    np.testing.assert_array_equal(manifold_membership(queries, centres, radii), [True, False, True])


def test_exported_from_metrics():
    assert metrics.precision_recall is precision_recall
    result = metrics.precision_recall(np.eye(5), np.eye(5), k=1)
    assert result.precision == 1.0 and result.recall == 1.0


@pytest.mark.parametrize(
    "real, fake, kwargs, message",
    [
        (np.zeros((10,)), np.zeros((10, 2)), {}, r"real_features.shape=\(10,\)"),
        (np.zeros((10, 2)), np.zeros((0, 2)), {}, r"fake_features.shape=\(0, 2\)"),
        (np.zeros((10, 2)), np.zeros((10, 3)), {}, "same feature dimension"),
        (np.zeros((3, 2)), np.zeros((10, 2)), {"k": 3}, "more than k=3 vectors"),
        (np.zeros((10, 2)), np.zeros((10, 2)), {"k": 0}, "k=0"),
        (np.zeros((10, 2)), np.zeros((10, 2)), {"k": 2.5}, "k=2.5"),
        (np.zeros((10, 2)), np.zeros((10, 2)), {"batch_size": 0}, "batch_size=0"),
        (np.full((10, 2), np.nan), np.zeros((10, 2)), {}, "NaN"),
    ],
)
def test_bad_input_says_what_was_received(real, fake, kwargs, message):
    with pytest.raises(ValueError, match=message):
        precision_recall(real, fake, **kwargs)
