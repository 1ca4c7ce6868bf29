"""Tests of keras_vaes.samplers."""

import copy

import numpy as np
import pytest

from keras_vaes import samplers
from keras_vaes.models.contract import ModelContract


def _clusters(seed=0, per_cluster=200):
    rng = np.random.default_rng(seed)
    centres = np.array([[-10.0, 0.0, 0.0], [10.0, 0.0, 0.0], [0.0, 10.0, 5.0]])
    z = np.concatenate([c + 0.3 * rng.normal(size=(per_cluster, 3)) for c in centres])
    return centres, z


class _FakeModel(ModelContract):
    """Linear 'VAE' speaking the model contract through its three hooks."""

    def __init__(self, latent_dim=3, side=4):
        rng = np.random.default_rng(0)
        self.side = side
        self.latent_dim = latent_dim
        self.image_shape = (side, side, 1)
        self.w_enc = rng.normal(size=(side * side, latent_dim))
        self.w_dec = rng.normal(size=(latent_dim, side * side))
        self.decoded_batches = []

    def _encode_arrays(self, images, labels, batch_size):
        flat = np.reshape(images, (len(images), -1))
        z_mean = flat @ self.w_enc
        return z_mean, np.full_like(z_mean, -2.0)

    def _decode_arrays(self, z, labels, batch_size):
        outputs = []
        for start in range(0, len(z), batch_size):
            batch = z[start : start + batch_size]
            self.decoded_batches.append(len(batch))
            outputs.append(1.0 / (1.0 + np.exp(-(np.asarray(batch) @ self.w_dec))))
        x = np.concatenate(outputs).reshape(len(z), self.side, self.side, 1)
        sigma = np.full_like(x, 0.25)
        return {"x_hat": x, "sigma": sigma, "x1": x, "x2": 1 - x}


# --- NormalSampler ----------------------------------------------------------


def test_normal_sampler_shapes_and_reproducibility():
    sampler = samplers.NormalSampler(5).fit()
    z = sampler.sample(1000, seed=3)
    assert z.shape == (1000, 5) and z.dtype == np.float32
    np.testing.assert_array_equal(z, sampler.sample(1000, seed=3))
    assert not np.array_equal(z, sampler.sample(1000, seed=4))
    np.testing.assert_array_equal(z, np.random.default_rng(3).standard_normal((1000, 5)).astype(np.float32))
    # Without a seed, calls differ but the sequence follows the constructor seed.
    a, b = samplers.NormalSampler(5, seed=1), samplers.NormalSampler(5, seed=1)
    first = a.sample(10)
    assert not np.array_equal(first, a.sample(10))
    np.testing.assert_array_equal(first, b.sample(10))
    with pytest.raises(ValueError, match="latent_dim"):
        samplers.NormalSampler(0)
    with pytest.raises(ValueError, match="n=0"):
        sampler.sample(0)


# --- GMMSampler -------------------------------------------------------------


def test_gmm_recovers_well_separated_means():
    centres, z = _clusters()
    sampler = samplers.GMMSampler(3, seed=0).fit(z)
    means = sampler.mixture.means_[np.argsort(sampler.mixture.means_[:, 0])]
    np.testing.assert_allclose(means, centres[np.argsort(centres[:, 0])], atol=0.1)
    samples = sampler.sample(3000, seed=1)
    assert samples.shape == (3000, 3) and samples.dtype == np.float32
    nearest = np.argmin(((samples[:, None, :] - centres[None]) ** 2).sum(-1), axis=1)
    np.testing.assert_allclose(np.bincount(nearest, minlength=3) / 3000, 1 / 3, atol=0.05)


def test_gmm_samples_are_shuffled_across_components():
    centres, z = _clusters()
    sampler = samplers.GMMSampler(3, seed=0).fit(z)
    samples = sampler.sample(300, seed=2)
    nearest = np.argmin(((samples[:, None, :] - centres[None]) ** 2).sum(-1), axis=1)
    # Grouped output would change component only twice; shuffled, ~200 times.
    assert np.count_nonzero(np.diff(nearest)) > 100
    assert len(set(nearest[:30])) == 3  # any prefix covers the mixture


def test_gmm_reproducible_with_seed():
    _, z = _clusters()
    sampler = samplers.GMMSampler(3, seed=0).fit(z)
    np.testing.assert_array_equal(sampler.sample(50, seed=7), sampler.sample(50, seed=7))
    assert not np.array_equal(sampler.sample(50, seed=7), sampler.sample(50, seed=8))
    # Unseeded calls differ; two samplers built with the same seed agree.
    other = samplers.GMMSampler(3, seed=0).fit(z)
    first = sampler.sample(50)
    assert not np.array_equal(first, sampler.sample(50))
    np.testing.assert_array_equal(first, other.sample(50))
    np.testing.assert_array_equal(sampler.mixture.means_, other.mixture.means_)


def test_gmm_errors():
    with pytest.raises(ValueError, match="not fitted"):
        samplers.GMMSampler(2).sample(5)
    with pytest.raises(ValueError, match="n_components=10"):
        samplers.GMMSampler(10).fit(np.zeros((5, 2)))
    with pytest.raises(ValueError, match="z.shape=\\(5,\\)"):
        samplers.GMMSampler(2).fit(np.zeros(5))
    with pytest.raises(ValueError, match="covariance_type"):
        samplers.GMMSampler(2, covariance_type="banana")


def test_gmm_fit_on_encodings_uses_z_mean():
    model = _FakeModel()
    images = np.random.default_rng(4).uniform(size=(60, 4, 4, 1))
    sampler = samplers.GMMSampler(2, seed=0).fit_on_encodings(model, images, batch_size=25)
    direct = samplers.GMMSampler(2, seed=0).fit(images.reshape(60, -1) @ model.w_enc)
    np.testing.assert_allclose(sampler.mixture.means_, direct.mixture.means_, rtol=1e-6)
    z_mean, z_log_var = samplers.encode_images(model, images, batch_size=25)
    assert z_mean.shape == z_log_var.shape == (60, 3)


# --- generation -------------------------------------------------------------


def test_generate_images_decodes_in_batches_and_concatenates():
    model = _FakeModel()
    sampler = samplers.NormalSampler(3)
    out = samplers.generate_images(model, sampler, 250, seed=5, batch_size=100)
    assert model.decoded_batches == [100, 100, 50]
    assert set(out) == {"x_hat", "sigma", "x1", "x2"}
    assert all(v.shape == (250, 4, 4, 1) for v in out.values())
    expected = model.decode(sampler.sample(250, seed=5), batch_size=1000)["x_hat"]
    np.testing.assert_allclose(out["x_hat"], expected, rtol=1e-6)


def test_decode_latents_wraps_a_plain_output():
    class Plain(_FakeModel):
        def _decode_arrays(self, z, labels, batch_size):
            return np.asarray(z) * 2

    out = samplers.decode_latents(Plain(), np.ones((7, 3)), batch_size=3)
    np.testing.assert_array_equal(out["x_hat"], 2 * np.ones((7, 3)))


# --- renormalisation --------------------------------------------------------


def test_should_renormalize_latents_threshold_both_ways():
    assert samplers.should_renormalize_latents(0.3, 1.0) is True
    assert samplers.should_renormalize_latents(0.2, 1.0) is False
    assert samplers.should_renormalize_latents(0.25, 1.0) is False  # strict >
    assert samplers.should_renormalize_latents(0.3, 1.0, threshold=0.5) is False
    assert samplers.should_renormalize_latents(0.0, 0.0) is False
    with pytest.raises(ValueError, match="mse=-1"):
        samplers.should_renormalize_latents(0.1, -1.0)


def test_renormalize_latents_matches_numpy():
    rng = np.random.default_rng(6)
    z = rng.normal(0.2, 0.7, size=(100, 4)) * np.array([1.0, 0.5, 2.0, 1.5])
    stds = [np.sqrt(np.mean((z[:, j] - z[:, j].mean()) ** 2)) for j in range(4)]
    expected = z * np.sqrt(0.9) / (sum(stds) / 4)
    got = samplers.renormalize_latents(z, 0.9)
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    np.testing.assert_allclose(np.mean(np.std(got, axis=0)), np.sqrt(0.9), rtol=1e-6)
    with pytest.raises(ValueError, match="variance_law_mean"):
        samplers.renormalize_latents(z, 0.0)


def test_renormalize_latents_per_generation_batch_as_the_authors():
    rng = np.random.default_rng(9)
    z = rng.normal(0.1, 0.6, size=(300, 5))
    got = samplers.renormalize_latents(z, 0.81, batch_size=100)
    # The authors' generate(): rescale = adjust2 / np.mean(np.std(z, axis=0))
    # on each batch of 100 second-stage latents.
    expected = np.concatenate([
        z[i:i + 100] * (0.9 / np.mean(np.std(z[i:i + 100], axis=0))) for i in range(0, 300, 100)
    ])
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    assert not np.allclose(got, samplers.renormalize_latents(z, 0.81))  # whole-sample std
    with pytest.raises(ValueError, match="at least 2"):
        samplers.renormalize_latents(z[:101], 0.81, batch_size=100)


def test_renormalization_target_authors_sigma_and_variance_law_sigma_squared():
    rng = np.random.default_rng(10)
    z_mean = rng.normal(0, 0.8, size=(200, 6)).astype(np.float32)
    z_log_var = rng.normal(-1.0, 0.5, size=(200, 6)).astype(np.float32)
    # The authors' computed_gamma.py, fed their log-sd output (= log_var / 2):
    zlogvar = z_log_var / 2.0
    zsum = np.var(z_mean, axis=0) + np.mean(np.exp(zlogvar), axis=0)
    adjust2 = np.sqrt(np.mean(zsum))
    assert samplers.renormalization_target_std(z_mean, z_log_var) == pytest.approx(adjust2, rel=1e-6)
    law = np.var(z_mean, axis=0) + np.mean(np.exp(z_log_var), axis=0)
    assert samplers.renormalization_target_std(z_mean, z_log_var, "variance_law") == pytest.approx(
        np.sqrt(np.mean(law)), rel=1e-6)
    assert adjust2 > np.sqrt(np.mean(law))  # sigma > sigma^2 for sigma < 1
    with pytest.raises(ValueError, match="target='sigma'"):
        samplers.renormalization_target_std(z_mean, z_log_var, "sigma")


def test_gmm_unshuffled_samples_are_sklearns_grouped_order():
    centres, z = _clusters()
    sampler = samplers.GMMSampler(3, seed=0).fit(z)
    grouped = sampler.sample(300, seed=2, shuffle=False)
    shuffled = sampler.sample(300, seed=2)
    # Same draws, other order; sklearn's own output for the same state.
    mixture = copy.copy(sampler.mixture)
    mixture.random_state = np.random.RandomState(np.random.default_rng(2).integers(2**32 - 1))
    np.testing.assert_allclose(grouped, mixture.sample(300)[0], rtol=1e-6)
    np.testing.assert_allclose(np.sort(grouped, axis=0), np.sort(shuffled, axis=0))
    nearest = np.argmin(((grouped[:, None, :] - centres[None]) ** 2).sum(-1), axis=1)
    assert np.count_nonzero(np.diff(nearest)) == 2  # grouped by component


def test_renormalize_images_matches_numpy():
    rng = np.random.default_rng(7)
    images = (0.5 + 0.1 * rng.normal(size=(40, 3, 3, 2))).astype(np.float32)
    data = rng.uniform(size=(80, 3, 3, 2))
    data_std = np.std(data, axis=0)
    flat = images.reshape(40, -1).astype(np.float64)
    mean = flat.mean(0)
    spread = np.mean([flat[:, j].std() for j in range(flat.shape[1])])
    expected = np.clip((flat - mean) * data_std.mean() / spread + mean, 0, 1).reshape(images.shape)
    for target in (data_std, float(data_std.mean())):  # per-pixel array or scalar
        got = samplers.renormalize_images(images, target)
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    assert got.min() >= 0 and got.max() <= 1 and (got == 0).any() and (got == 1).any()


def test_mean_std_by_hand():
    x = np.random.default_rng(3).normal(size=(7, 2, 3, 1))
    flat = x.reshape(7, -1)
    by_hand = np.mean([np.sqrt(np.mean((flat[:, j] - flat[:, j].mean()) ** 2)) for j in range(6)])
    assert samplers.mean_std(x) == pytest.approx(by_hand, rel=1e-12)
