"""RealNVP prior: invertibility, change of variables, normalisation, fitting."""

import math

import keras
import numpy as np
import pytest
from keras import ops

from keras_vaes.layers.flow import ActNorm, AffineCoupling
from keras_vaes.models.priors import RealNVPPrior, coupling_permutations
from keras_vaes.samplers.flow import FlowSampler


def randomized(prior, scale=0.3, seed=1):
    """Random weights everywhere (a new flow is the identity)."""
    rng = np.random.default_rng(seed)
    for w in prior.trainable_weights:
        w.assign(rng.normal(scale=scale, size=w.shape).astype("float32"))
    return prior


def to_np(x):
    return np.asarray(ops.convert_to_numpy(x), dtype="float64")


def test_new_flow_is_the_normaliser_only():
    prior = RealNVPPrior(4, num_couplings=3, hidden_units=8, seed=0)
    z = np.random.default_rng(0).normal(2.0, 3.0, (16, 4)).astype("float32")
    prior.normalizer.initialize_from(z)
    z0, log_det = prior.forward_and_log_det(z)
    # Couplings are the identity at start, permutations reorder only.
    standard = (z - z.mean(0)) / np.sqrt(z.var(0) + 1e-6)
    perm = np.arange(4)
    for p in prior.permutations:
        perm = perm[p]
    np.testing.assert_allclose(to_np(z0), standard[:, perm], atol=1e-5)
    np.testing.assert_allclose(to_np(log_det), -np.sum(0.5 * np.log(z.var(0) + 1e-6)), rtol=1e-5)


@pytest.mark.parametrize("latent_dim,num_classes", [(6, None), (5, 3)])
def test_flow_is_invertible_to_float_tolerance(latent_dim, num_classes):
    prior = randomized(RealNVPPrior(latent_dim, num_couplings=4, hidden_units=16, num_classes=num_classes, seed=0))
    rng = np.random.default_rng(0)
    z = rng.normal(1.0, 2.0, (32, latent_dim)).astype("float32")
    prior.normalizer.initialize_from(z)
    labels = None if num_classes is None else rng.integers(0, num_classes, 32)
    z0 = prior.forward(z, labels)
    assert np.max(np.abs(to_np(z0) - z)) > 0.1  # a real transformation
    np.testing.assert_allclose(to_np(prior.inverse(z0, labels)), z, atol=2e-5)
    base = rng.normal(size=(32, latent_dim)).astype("float32")
    np.testing.assert_allclose(to_np(prior.forward(prior.inverse(base, labels), labels)), base, atol=2e-5)


@pytest.mark.parametrize("num_classes", [None, 2])
def test_log_prob_is_the_change_of_variables_with_finite_difference_jacobian(num_classes):
    d = 3
    prior = randomized(RealNVPPrior(d, num_couplings=3, hidden_units=8, num_classes=num_classes, seed=2))
    rng = np.random.default_rng(3)
    z = rng.normal(size=(5, d)).astype("float32")
    prior.normalizer.initialize_from(rng.normal(0.5, 2.0, (50, d)).astype("float32"))
    labels = None if num_classes is None else np.array([0, 1, 1, 0, 1])
    if num_classes:
        prior.class_means.embeddings.assign(rng.normal(size=(num_classes, d)).astype("float32"))
    expected = []
    eps = 1e-2
    for i in range(len(z)):
        lab = None if labels is None else labels[i : i + 1]
        f = lambda v: to_np(prior.forward(v[None].astype("float32"), lab))[0]
        jac = np.stack([(f(z[i] + eps * e) - f(z[i] - eps * e)) / (2 * eps) for e in np.eye(d)], axis=1)
        mu = 0.0 if labels is None else to_np(prior.class_means.embeddings)[labels[i]]
        z0 = f(z[i].astype("float64"))
        log_normal = -0.5 * np.sum((z0 - mu) ** 2) - 0.5 * d * math.log(2 * math.pi)
        expected.append(log_normal + np.log(abs(np.linalg.det(jac))))
    np.testing.assert_allclose(to_np(prior.log_prob(z, labels)), expected, atol=2e-3)


def test_two_dimensional_density_integrates_to_one():
    prior = randomized(RealNVPPrior(2, num_couplings=4, hidden_units=16, seed=0), scale=0.2)
    prior.normalizer.initialize_from(np.random.default_rng(0).normal(1.0, 1.5, (100, 2)).astype("float32"))
    grid = np.linspace(-14.0, 16.0, 601)
    step = grid[1] - grid[0]
    xx, yy = np.meshgrid(grid, grid)
    points = np.stack([xx.ravel(), yy.ravel()], axis=1).astype("float32")
    density = np.exp(to_np(prior.log_prob(points)))
    assert abs(density.sum() * step * step - 1.0) < 5e-3


def test_coupling_layer_against_numpy():
    layer = AffineCoupling(5, hidden_units=4, num_hidden=1, scale_bound=1.5)
    layer.build((None, 5))
    rng = np.random.default_rng(0)
    for w in layer.trainable_weights:
        w.assign(rng.normal(size=w.shape).astype("float32"))
    x = rng.normal(size=(3, 5)).astype("float32")
    y, log_det = layer(x)
    w0, b0, w1, b1 = [to_np(w) for w in layer.trainable_weights]
    h = np.maximum(x[:, :2] @ w0 + b0, 0.0) @ w1 + b1
    s = 1.5 * np.tanh(h[:, :3] / 1.5)
    t = h[:, 3:]
    np.testing.assert_allclose(to_np(y)[:, :2], x[:, :2])
    np.testing.assert_allclose(to_np(y)[:, 2:], x[:, 2:] * np.exp(s) + t, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(to_np(log_det), s.sum(1), rtol=1e-5, atol=1e-6)
    back, inv_log_det = layer(y, inverse=True)
    np.testing.assert_allclose(to_np(back), x, atol=1e-5)
    np.testing.assert_allclose(to_np(inv_log_det), -s.sum(1), rtol=1e-5, atol=1e-6)
    assert np.all(np.abs(s) <= 1.5)


def test_actnorm_initialises_then_follows_moving_statistics():
    layer = ActNorm(2, momentum=0.9)
    layer.build((None, 2))
    rng = np.random.default_rng(0)
    a = rng.normal([1.0, -2.0], [2.0, 0.5], (64, 2)).astype("float32")
    b = rng.normal([3.0, 0.0], [1.0, 1.0], (64, 2)).astype("float32")
    y, _ = layer(a, training=True)
    np.testing.assert_allclose(to_np(y).mean(0), 0.0, atol=1e-5)
    np.testing.assert_allclose(to_np(y).std(0), 1.0, atol=1e-4)
    layer(b, training=True)
    loc = 0.9 * a.mean(0) + 0.1 * b.mean(0)
    log_scale = 0.9 * 0.5 * np.log(a.var(0) + 1e-6) + 0.1 * 0.5 * np.log(b.var(0) + 1e-6)
    np.testing.assert_allclose(to_np(layer.loc), loc, rtol=1e-5)
    np.testing.assert_allclose(to_np(layer.log_scale), log_scale, rtol=1e-5)
    y, log_det = layer(b)  # inference: stored statistics, no update
    np.testing.assert_allclose(to_np(y), (b - loc) / np.exp(log_scale), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(to_np(log_det), -log_scale.sum(), rtol=1e-5)
    np.testing.assert_allclose(to_np(layer.loc), loc, rtol=1e-6)


def test_permutations_are_seeded_mix_halves_and_stored():
    assert coupling_permutations(2, 4, seed=0) == [[1, 0]] * 3
    perms = coupling_permutations(8, 8, seed=3)
    assert perms == coupling_permutations(8, 8, seed=3)
    assert all(set(p[4:]) & set(range(4)) for p in perms)
    prior = RealNVPPrior(8, num_couplings=8, hidden_units=8, seed=3)
    assert prior.get_config()["permutations"] == perms


def test_keras_round_trip_and_config(tmp_path):
    prior = randomized(RealNVPPrior(4, num_couplings=3, hidden_units=8, num_classes=2, seed=5))
    z = np.random.default_rng(0).normal(size=(10, 4)).astype("float32")
    prior.normalizer.initialize_from(z * 2.0)
    labels = np.arange(10) % 2
    path = str(tmp_path / "prior.keras")
    prior.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(to_np(loaded.log_prob(z, labels)), to_np(prior.log_prob(z, labels)))
    np.testing.assert_array_equal(loaded.sample(4, seed=1, labels=1), prior.sample(4, seed=1, labels=1))
    weights = str(tmp_path / "prior.weights.h5")
    prior.save_weights(weights)
    fresh = RealNVPPrior.from_config(prior.get_config())
    fresh.load_weights(weights)
    np.testing.assert_array_equal(to_np(fresh.forward(z, labels)), to_np(prior.forward(z, labels)))


def test_fit_encodings_learns_a_two_moons_like_density():
    rng = np.random.default_rng(0)
    angle = rng.uniform(0, np.pi, 600)
    z = np.stack([np.cos(angle), np.sin(angle)], 1) * 3.0 + rng.normal(scale=0.2, size=(600, 2))
    z = z.astype("float32")
    keras.utils.set_random_seed(0)
    prior = RealNVPPrior(2, num_couplings=4, hidden_units=32, seed=0)
    history = prior.fit_encodings(z, epochs=15, batch_size=100, learning_rate=3e-3)
    nll = history.history["nll"]
    assert nll[-1] < nll[0] - 0.3
    samples = prior.sample(500, seed=0)
    assert samples.shape == (500, 2) and np.all(np.isfinite(samples))
    # Samples lie on the arc: their radius is about 3.
    assert abs(np.median(np.linalg.norm(samples, axis=1)) - 3.0) < 0.5


def test_flow_sampler_like_gmm_sampler():
    z = np.random.default_rng(0).normal(1.0, 2.0, size=(200, 3)).astype("float32")
    sampler = FlowSampler(num_couplings=2, hidden_units=8, epochs=2, seed=0).fit(z)
    a, b = sampler.sample(7, seed=1), sampler.sample(7, seed=1)
    assert a.shape == (7, 3) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    assert sampler.log_prob(z[:4]).shape == (4,)
    with pytest.raises(ValueError, match="not fitted"):
        FlowSampler().sample(3)
    import keras_vaes.samplers as samplers

    assert samplers.FlowSampler is FlowSampler


def test_errors_name_what_was_received():
    with pytest.raises(ValueError, match="latent_dim=1"):
        RealNVPPrior(1)
    with pytest.raises(ValueError, match="num_couplings=0"):
        RealNVPPrior(4, num_couplings=0)
    with pytest.raises(ValueError, match="permutations"):
        RealNVPPrior(3, num_couplings=2, permutations=[[0, 1, 1]])
    prior = RealNVPPrior(4, num_couplings=2, hidden_units=4)
    with pytest.raises(ValueError, match=r"\(N, 4\).*z_T.shape=\(2, 3\)"):
        prior.forward(np.zeros((2, 3), "float32"))
    with pytest.raises(ValueError, match="unconditional"):
        prior.log_prob(np.zeros((2, 4), "float32"), labels=np.zeros(2))
    conditional = RealNVPPrior(4, num_couplings=2, hidden_units=4, num_classes=3)
    with pytest.raises(ValueError, match="pass `labels`"):
        conditional.sample(2)
    with pytest.raises(ValueError, match=r"labels.shape=\(2, 5\)"):
        conditional.forward(np.zeros((2, 4), "float32"), np.zeros((2, 5)))
    with pytest.raises(ValueError, match="NaN"):
        prior.fit_encodings(np.full((4, 4), np.nan, "float32"))


def test_config_is_the_constructors_arguments_and_the_top_level_name_stays():
    import inspect

    import keras_vaes as kv

    assert kv.RealNVPPrior is RealNVPPrior and kv.FlowSampler is FlowSampler
    prior = RealNVPPrior(4, num_couplings=3, hidden_units=8, num_classes=2, seed=7, scale_bound=1.5,
                         name="flow")
    config = prior.get_config()
    arguments = set(inspect.signature(RealNVPPrior.__init__).parameters) - {"self", "kwargs"}
    assert set(config) == arguments | {"name", "trainable"}
    assert (config["latent_dim"], config["num_couplings"], config["hidden_units"], config["num_classes"],
            config["seed"], config["scale_bound"], config["name"]) == (4, 3, 8, 2, 7, 1.5, "flow")
    assert config["permutations"] == prior.permutations and len(config["permutations"]) == 2
    rebuilt = RealNVPPrior.from_config(config)
    assert rebuilt.get_config() == config
    z = prior.sample(5, seed=0, labels=1)
    assert z.shape == (5, 4) and z.dtype == np.float32
    rebuilt.set_weights(prior.get_weights())
    np.testing.assert_allclose(rebuilt.sample(5, seed=0, labels=1), z, atol=1e-6)
