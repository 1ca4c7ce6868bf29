"""Every documented seed makes a result repeatable (issue 30, item 7).

`seed=s` repeats a draw; `seed=None` draws from the object's own generator
(its constructor's seed) or, for an object built without one, from NumPy's
global state, which `keras.utils.set_random_seed` seeds: never from the
operating system's entropy.
"""

import keras
import numpy as np
import pytest

import keras_vaes as kv
from keras_vaes import samplers
from keras_vaes.models.contract import Posterior

SHAPE = (8, 8, 1)
LATENT = 8


def _svae(seed):
    return kv.build_svae(SHAPE, LATENT, base_dim=4, emb_dim=8, num_scale=1, seed=seed)


def _gamix(seed):
    return kv.build_gamix_vae(SHAPE, LATENT, filters=4, discriminator_strides=(2, 1, 1, 1, 1, 1),
                              seed=seed)


def _fp_vae(seed):
    return kv.build_flow_prior_vae(SHAPE, LATENT, num_couplings=2, hidden_units=8,
                                   filters=(4, 8), dense_units=16, seed=seed)


def _prior_aae(seed):
    return kv.build_prior_aae(SHAPE, LATENT, filters=(4, 8), dense_units=16,
                              discriminator_units=(8,), generator_units=(8,), seed=seed)


def _two_stage(seed):
    return kv.build_two_stage_vae((8, 8, 1), LATENT, base_dim=4, num_scale=2, fc_dim=8,
                                  second_dim=8, seed=seed)


BUILDERS = {"split_vae": _svae, "gamix": _gamix, "fp_vae": _fp_vae, "prior_aae": _prior_aae,
            "two_stage": _two_stage}


def _generated(model, **kwargs):
    return model.generate(4, **kwargs)["x_hat"]


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_the_issue_case_set_random_seed_then_a_seeded_model_generates_the_same(name):
    # The probe: set_random_seed(0); build_svae(..., seed=0).generate(4), twice.
    runs = []
    for _ in range(2):
        keras.utils.set_random_seed(0)
        runs.append(_generated(BUILDERS[name](0)))
    np.testing.assert_array_equal(runs[0], runs[1])


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_unseeded_generate_repeats_after_set_random_seed_and_differs_otherwise(name):
    model = BUILDERS[name](None)
    keras.utils.set_random_seed(3)
    first = _generated(model)
    keras.utils.set_random_seed(3)
    again = _generated(model)
    np.testing.assert_array_equal(first, again)
    assert np.abs(_generated(model) - again).max() > 1e-6  # successive draws differ


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_a_seed_given_to_generate_always_repeats(name):
    model = BUILDERS[name](0)
    first = _generated(model, seed=5)
    _generated(model)  # advances the model's generator and the global state
    np.random.seed(11)
    np.testing.assert_array_equal(first, _generated(model, seed=5))


@pytest.mark.parametrize("name", ["split_vae", "gamix"])
def test_a_model_seed_makes_generate_without_seed_repeat_across_builds(name):
    keras.utils.set_random_seed(0)
    model = BUILDERS[name](4)
    np.random.seed(1)
    first = _generated(model)
    rebuilt = BUILDERS[name](4)
    rebuilt.set_weights(model.get_weights())
    np.random.seed(2)  # the model's own generator, not the global state
    np.testing.assert_array_equal(first, _generated(rebuilt))


def test_sampled_reconstruction_repeats_after_set_random_seed():
    model = _svae(None)
    images = np.random.default_rng(0).random((3,) + SHAPE).astype("float32")
    keras.utils.set_random_seed(2)
    first = model.reconstruct(images, sample=True)["x_hat"]
    keras.utils.set_random_seed(2)
    np.testing.assert_array_equal(first, model.reconstruct(images, sample=True)["x_hat"])
    assert np.abs(model.reconstruct(images, sample=True)["x_hat"] - first).max() > 1e-5


def test_posterior_sample_without_seed_follows_numpy_global_state():
    posterior = Posterior(np.zeros((2, 3), "float32"), np.zeros((2, 3), "float32"))
    np.random.seed(0)
    first = posterior.sample()
    np.random.seed(0)
    np.testing.assert_array_equal(first, posterior.sample())
    np.testing.assert_array_equal(posterior.sample(4), posterior.sample(4))


@pytest.mark.parametrize("make", [
    lambda seed: samplers.NormalSampler(3, seed=seed),
    lambda seed: samplers.GMMSampler(2, seed=seed).fit(
        np.random.default_rng(0).normal(size=(40, 3))),
], ids=["normal", "gmm"])
def test_unseeded_samplers_repeat_after_set_random_seed(make):
    sampler = make(None)
    keras.utils.set_random_seed(1)
    first = sampler.sample(5)
    keras.utils.set_random_seed(1)
    np.testing.assert_array_equal(first, sampler.sample(5))
    assert not np.array_equal(first, sampler.sample(5))
    # A seeded sampler follows its own generator, whatever the global state.
    keras.utils.set_random_seed(1)
    seeded = make(0).sample(5)
    keras.utils.set_random_seed(2)
    np.testing.assert_array_equal(seeded, make(0).sample(5))


def test_second_stage_samplers_with_one_seed_fitted_on_the_same_codes_sample_the_same():
    codes = np.random.default_rng(0).normal(size=(200, 4)).astype("float32")

    def fitted(seed, global_seed):
        keras.utils.set_random_seed(global_seed)  # the sampler's seed governs, not this
        return samplers.SecondStageSampler(second_dim=8, epochs=2, batch_size=50, seed=seed).fit(codes)

    first, second = fitted(0, 1), fitted(0, 2)
    for a, b in zip(first.model.get_weights(), second.model.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(first.sample(6, seed=3), second.sample(6, seed=3))
    np.testing.assert_array_equal(first.sample(6), second.sample(6))  # own generators
    other = fitted(1, 1)
    assert np.abs(other.sample(6, seed=3) - first.sample(6, seed=3)).max() > 1e-3


def test_a_seeded_second_stage_starts_from_weights_of_its_seed():
    from keras_vaes.models.stages import SecondStage

    keras.utils.set_random_seed(1)
    a = SecondStage(4, second_dim=8, seed=0).get_weights()
    keras.utils.set_random_seed(2)
    b = SecondStage(4, second_dim=8, seed=0).get_weights()
    c = SecondStage(4, second_dim=8, seed=1).get_weights()
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    kernels = [(x, z) for x, z in zip(a, c) if x.ndim == 2]
    assert all(not np.array_equal(x, z) for x, z in kernels)
    # Distinct layers of one shape get distinct weights.
    square = [w for w in a if w.shape == (8, 8)]
    assert len(square) >= 2 and not np.array_equal(square[0], square[1])
