"""Linear separability (Karras et al. 2019) and nearest neighbours."""

import numpy as np
import pytest

from keras_vaes.metrics.neighbours import nearest_neighbours, train_test_neighbours
from keras_vaes.metrics.separability import (
    conditional_entropy_bits,
    linear_separability,
    one_vs_rest_attributes,
)


def test_conditional_entropy_of_a_hand_computed_table():
    # X (SVM) / Y (classifier) pairs: (0,0) x3, (0,1) x1, (1,1) x4.
    x = [0, 0, 0, 0, 1, 1, 1, 1]
    y = [0, 0, 0, 1, 1, 1, 1, 1]
    # p(x=0) = 1/2 with Y|x=0 = (3/4, 1/4); p(x=1) = 1/2 with Y|x=1 = (0, 1):
    # H(Y|X) = 1/2 * (-(3/4) log2(3/4) - (1/4) log2(1/4)) + 1/2 * 0.
    hand = 0.5 * (-0.75 * np.log2(0.75) - 0.25 * np.log2(0.25))
    assert conditional_entropy_bits(x, y) == pytest.approx(hand, abs=1e-12)
    assert conditional_entropy_bits(y, y) == 0.0
    # Independent X and Y, both fair coins: H(Y|X) = H(Y) = 1 bit.
    assert conditional_entropy_bits([0, 0, 1, 1], [0, 1, 0, 1]) == pytest.approx(1.0)


def test_separability_of_a_tiny_case_computed_by_hand():
    # A 1-D latent with two clusters of identical codes, so any linear
    # classifier gives one prediction per cluster: the majority label.
    # Attribute 0: z = -2 labelled 0, 0, 1; z = +2 labelled 0, 1, 1.
    # Attribute 1: z = -2 labelled 0, 0, 0; z = +2 labelled 1, 1, 1.
    z = np.array([-2.0, -2.0, -2.0, 2.0, 2.0, 2.0])[:, None]
    labels = np.array([[0, 0], [0, 0], [1, 0], [0, 1], [1, 1], [1, 1]], dtype=float)
    score, entropies = linear_separability(z, labels, keep=1.0, return_entropies=True)
    # Attribute 0, pairs (X, Y): X=0 -> Y=0,0,1; X=1 -> Y=0,1,1:
    # H(Y|X) = 1/2 H(1/3, 2/3) + 1/2 H(1/3, 2/3) = H(1/3, 2/3).
    h0 = -(1 / 3) * np.log2(1 / 3) - (2 / 3) * np.log2(2 / 3)
    # Attribute 1 is perfectly separated by the sign of z: H = 0.
    np.testing.assert_allclose(entropies, [h0, 0.0], atol=1e-9)
    assert score == pytest.approx(2.0 ** h0, abs=1e-9)  # 1.8899...


def test_keep_drops_the_least_confident_half():
    # The four confident samples are separable; the two ambiguous ones
    # (p = 0.45, 0.55) sit on the wrong sides and are dropped by keep.
    z = np.array([[-3.0], [-2.0], [2.0], [3.0], [5.0], [-5.0]])
    p = np.array([[0.0], [0.1], [0.9], [1.0], [0.45], [0.55]])
    assert linear_separability(z, p, keep=4 / 6) == pytest.approx(1.0)
    assert linear_separability(z, p, keep=1.0) > 1.0


def test_perfectly_separable_attributes_score_one_and_sum_over_attributes():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(400, 3))
    signed = np.stack([z[:, 0], z[:, 1] + z[:, 2] - 0.3], axis=1)
    margin = np.all(np.abs(signed) > 0.5, axis=1)  # a margin LinearSVC() finds exactly
    z, attributes = z[margin], (signed[margin] > 0).astype(float)
    score, entropies = linear_separability(z, attributes, return_entropies=True)
    assert score == pytest.approx(1.0) and entropies.shape == (2,)
    # Random labels: each attribute carries up to one bit; score = 2^sum.
    random_labels = rng.integers(0, 2, size=(len(z), 2)).astype(float)
    score, entropies = linear_separability(z, random_labels, return_entropies=True)
    assert score == pytest.approx(2.0 ** entropies.sum())
    assert np.all(entropies > 0.8) and score > 3.0


def test_single_class_after_pruning_counts_as_perfect():
    z = np.arange(6.0)[:, None]
    assert linear_separability(z, np.ones((6, 1))) == 1.0


def test_one_vs_rest_attributes():
    np.testing.assert_array_equal(one_vs_rest_attributes(labels=[2, 0], num_classes=3),
                                  [[0, 0, 1], [1, 0, 0]])
    with pytest.raises(ValueError, match="class indices"):
        one_vs_rest_attributes(labels=[3], num_classes=3)


@pytest.mark.parametrize(
    "latents, attributes, keep, match",
    [
        (np.zeros((10, 2)), np.zeros(10), 0.5, r"attributes.shape=\(10,\)"),
        (np.zeros((10, 2)), np.zeros((9, 1)), 0.5, r"attributes.shape=\(9, 1\)"),
        (np.zeros(10), np.zeros((10, 1)), 0.5, r"latents.shape=\(10,\)"),
        (np.zeros((10, 2)), np.full((10, 1), 2.0), 0.5, r"in \[0, 1\]"),
        (np.zeros((10, 2)), np.zeros((10, 1)), 0.0, "keep"),
        (np.zeros((10, 2)), np.zeros((10, 1)), 0.1, "at least 2"),
    ],
)
def test_bad_separability_input(latents, attributes, keep, match):
    with pytest.raises(ValueError, match=match):
        linear_separability(latents, attributes, keep=keep)


def test_nearest_neighbours_match_brute_force():
    rng = np.random.default_rng(1)
    queries, references = rng.random((7, 4, 4, 1)), rng.random((20, 4, 4, 1))
    indices, distances = nearest_neighbours(queries, references, k=3, batch_size=3)
    brute = np.linalg.norm(queries.reshape(7, 1, -1) - references.reshape(1, 20, -1), axis=-1)
    np.testing.assert_array_equal(indices, np.argsort(brute, axis=1)[:, :3])
    np.testing.assert_allclose(distances, np.sort(brute, axis=1)[:, :3], rtol=1e-9)
    # A query that is a reference finds itself at distance 0.
    indices, distances = nearest_neighbours(references[5:6], references)
    assert indices[0, 0] == 5 and distances[0, 0] == pytest.approx(0.0, abs=1e-7)
    with pytest.raises(ValueError, match="k"):
        nearest_neighbours(queries, references, k=21)
    with pytest.raises(ValueError, match="item shape"):
        nearest_neighbours(queries, rng.random((5, 3, 3, 1)))


def test_train_test_neighbours_reports_the_closer_set():
    rng = np.random.default_rng(2)
    train, test = rng.random((30, 3, 3, 1)), rng.random((10, 3, 3, 1))
    # Samples copied from the test set: always closer to the test set.
    report = train_test_neighbours(test[:4] + 1e-3, train, test, seed=0)
    assert report["closer_to_test"] == 1.0 and report["train_size"] == 10
    np.testing.assert_array_equal(report["test_index"], [0, 1, 2, 3])
    # Copies of training images are found in the full training set.
    report = train_test_neighbours(train[:3], train, test, equal_size=False)
    np.testing.assert_array_equal(report["train_index"], [0, 1, 2])
    assert report["closer_to_test"] == 0.0


def test_single_class_attributes_counts_unfittable_attributes():
    from keras_vaes.metrics.separability import single_class_attributes

    # Attribute 0: the confident half is all "present"; attribute 1 is mixed.
    p = np.array([[1.0, 0.0], [0.99, 1.0], [0.6, 0.9], [0.4, 0.2]])
    assert single_class_attributes(p, keep=0.5) == 1
    assert single_class_attributes(p, keep=1.0) == 0
    # Such an attribute adds H = 0 to the score, as in the StyleGAN code.
    _, entropies = linear_separability(np.arange(4.0)[:, None], p, keep=0.5, return_entropies=True)
    assert entropies[0] == 0.0
