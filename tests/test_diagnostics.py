"""Tests of keras_vaes.metrics.diagnostics against by-hand loops."""

import math

import numpy as np
import pytest

from keras_vaes.metrics import diagnostics


def _latents(seed=0, n=200, d=6):
    rng = np.random.default_rng(seed)
    scales = np.array([1.0, 0.5, 0.01, 2.0, 0.001, 0.9])[:d]
    z_mean = rng.normal(size=(n, d)) * scales
    z_log_var = rng.normal(-1.0, 0.3, size=(n, d))
    z_log_var[:, 2] = rng.normal(0.0, 0.01, size=n)  # collapsed: sigma^2 ~ 1
    return z_mean, z_log_var


def _loop_var(values):
    mean = sum(values) / len(values)
    return sum((v - mean) ** 2 for v in values) / len(values)


def test_variance_law_matches_loops():
    z_mean, z_log_var = _latents()
    n, d = z_mean.shape
    expected = []
    for j in range(d):
        posterior = sum(math.exp(z_log_var[i, j]) for i in range(n)) / n
        expected.append(_loop_var([z_mean[i, j] for i in range(n)]) + posterior)
    law = diagnostics.variance_law(z_mean, z_log_var)
    np.testing.assert_allclose(law.per_variable, expected, rtol=1e-10)
    np.testing.assert_allclose(law.mean, sum(expected) / d, rtol=1e-10)
    per_variable, mean = law  # unpacks as a tuple
    assert mean == law.mean and per_variable is law.per_variable


def test_variance_law_of_standard_normal_posterior_is_one():
    # mu ~ N(0, 0.6), sigma^2 = 0.4 everywhere: E mu^2 + E sigma^2 = 1.
    rng = np.random.default_rng(1)
    z_mean = rng.normal(0, math.sqrt(0.6), size=(20000, 3))
    z_log_var = np.full_like(z_mean, math.log(0.4))
    np.testing.assert_allclose(diagnostics.variance_law(z_mean, z_log_var).mean, 1.0, atol=0.02)


def test_inactive_variables_both_criteria():
    z_mean, z_log_var = _latents()
    n, d = z_mean.shape
    by_mean = [_loop_var(list(z_mean[:, j])) < 0.05 for j in range(d)]
    by_posterior = [sum(math.exp(v) for v in z_log_var[:, j]) / n > 0.95 for j in range(d)]
    result = diagnostics.inactive_variables(z_mean, z_log_var)
    assert result.mask.tolist() == by_mean
    assert result.mask_by_posterior_variance.tolist() == by_posterior
    assert result.count == sum(by_mean) == 2  # variables 2 and 4
    assert result.count_by_posterior_variance == sum(by_posterior) == 1  # variable 2
    looser = diagnostics.inactive_variables(z_mean, z_log_var, threshold=0.3, log_var_threshold=0.1)
    assert looser.count == 3 and looser.count_by_posterior_variance == d


def test_variance_loss_and_mse_match_loops():
    rng = np.random.default_rng(2)
    x = rng.uniform(size=(50, 4, 4, 2))
    x_hat = 0.6 * x + 0.4 * x.mean(axis=0) + 0.01 * rng.normal(size=x.shape)
    flat, flat_hat = x.reshape(50, -1), x_hat.reshape(50, -1)
    m = flat.shape[1]
    loss = sum(_loop_var(list(flat[:, j])) - _loop_var(list(flat_hat[:, j])) for j in range(m)) / m
    error = sum((a - b) ** 2 for a, b in zip(flat.ravel(), flat_hat.ravel())) / flat.size
    result = diagnostics.variance_loss(x, x_hat)
    np.testing.assert_allclose(result["variance_loss"], loss, rtol=1e-10)
    np.testing.assert_allclose(result["mse"], error, rtol=1e-10)
    np.testing.assert_allclose(result["ratio"], loss / error, rtol=1e-10)
    np.testing.assert_allclose(diagnostics.mse(x, x_hat), error, rtol=1e-10)
    assert result["variance_loss"] > 0


def test_variance_loss_equals_mse_for_the_mean_and_for_pca():
    # Section 3: reconstructing every point by the mean, or by a PCA
    # projection of centred data, loses exactly the mse in variance.
    rng = np.random.default_rng(3)
    x = rng.normal(size=(300, 8)) @ rng.normal(size=(8, 8))
    mean_only = diagnostics.variance_loss(x, np.broadcast_to(x.mean(0), x.shape))
    np.testing.assert_allclose(mean_only["variance_loss"], mean_only["mse"], rtol=1e-10)
    centred = x - x.mean(0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    projection = centred @ vt[:3].T @ vt[:3]
    pca = diagnostics.variance_loss(centred, projection)
    np.testing.assert_allclose(pca["variance_loss"], pca["mse"], rtol=1e-10)


def test_shape_errors():
    with pytest.raises(ValueError, match="z_log_var.shape=\\(5, 3\\)"):
        diagnostics.variance_law(np.zeros((5, 2)), np.zeros((5, 3)))
    with pytest.raises(ValueError, match="z_mean.shape=\\(5,\\)"):
        diagnostics.inactive_variables(np.zeros(5), np.zeros(5))
    with pytest.raises(ValueError, match="x_hat.shape=\\(4, 3\\)"):
        diagnostics.variance_loss(np.zeros((4, 2)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match="x_hat.shape=\\(3, 2\\)"):
        diagnostics.mse(np.zeros((4, 2)), np.zeros((3, 2)))


def test_variance_loss_of_generated_samples_with_another_count():
    rng = np.random.default_rng(4)
    x, generated = rng.normal(size=(40, 3)), 0.5 * rng.normal(size=(25, 3))
    expected = sum(_loop_var(list(x[:, j])) - _loop_var(list(generated[:, j])) for j in range(3)) / 3
    result = diagnostics.variance_loss(x, generated)
    np.testing.assert_allclose(result["variance_loss"], expected, rtol=1e-10)
    assert math.isnan(result["mse"]) and math.isnan(result["ratio"])
    with pytest.raises(ValueError, match="x.shape=\\(4,\\)"):
        diagnostics.mse(np.zeros(4), np.zeros(4))
