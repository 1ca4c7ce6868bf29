"""The model contract: every model x every sampler (keras_vaes.models.contract)."""

import inspect

import numpy as np
import pytest
from keras import ops

import keras_vaes as kv
from keras_vaes import samplers
from keras_vaes.models.contract import Posterior

SHAPE = (8, 8, 1)
LATENT = 8


def _svae():
    return kv.build_svae(SHAPE, LATENT, base_dim=4, emb_dim=8, num_scale=1, seed=0)


def _plain_vae():
    return kv.build_svae(SHAPE, LATENT, base_dim=4, emb_dim=8, num_scale=1, split=False, seed=0)


def _gamix():
    return kv.build_gamix_vae(SHAPE, LATENT, filters=4, discriminator_filters=4,
                              discriminator_strides=(2, 1, 1, 1, 1, 1))


def _fp_vae():
    return kv.build_flow_prior_vae(SHAPE, LATENT, beta=0.0, num_couplings=2, hidden_units=8,
                                   filters=(4, 8), dense_units=16, seed=0)


def _normal_prior_vae():
    return kv.build_flow_prior_vae(SHAPE, LATENT, prior="normal", filters=(4, 8),
                                   dense_units=16, seed=0)


def _prior_aae():
    return kv.build_prior_aae(SHAPE, LATENT, filters=(4, 8), dense_units=16,
                              discriminator_units=(8,), generator_units=(8,), seed=0)


def _aae():
    return kv.build_prior_aae(SHAPE, LATENT, prior="normal", filters=(4, 8), dense_units=16,
                              discriminator_units=(8,), seed=0)


def _first_stage():
    return kv.FirstStage((8, 8, 1), LATENT, base_dim=4, num_scale=2, fc_dim=8)


BUILDERS = {
    "split_vae": _svae,
    "plain_vae": _plain_vae,
    "gamix": _gamix,
    "fp_vae": _fp_vae,
    "normal_prior_vae": _normal_prior_vae,
    "prior_aae": _prior_aae,
    "aae": _aae,
    "first_stage": _first_stage,
}

SAMPLERS = {
    "normal": lambda: samplers.NormalSampler(LATENT, seed=0),
    "gmm": lambda: samplers.GMMSampler(2, seed=0),
    "flow": lambda: samplers.FlowSampler(num_couplings=2, hidden_units=8, epochs=1, seed=0),
}


@pytest.fixture(scope="module")
def models():
    return {name: build() for name, build in BUILDERS.items()}


def _images(model, n=12, seed=0):
    x = np.random.default_rng(seed).random((n,) + SHAPE).astype("float32")
    low, high = model.value_range
    return (low + (high - low) * x).astype("float32")


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_encode_returns_a_posterior(models, name):
    model = models[name]
    posterior = model.encode(_images(model), batch_size=5)
    assert isinstance(posterior, Posterior)
    mean, log_var = posterior
    assert mean.shape == (12, LATENT) and mean.dtype == np.float32
    if name in ("prior_aae", "aae"):
        assert log_var is None
        np.testing.assert_array_equal(posterior.sample(seed=0), mean)
    else:
        assert log_var.shape == (12, LATENT)
        drawn = posterior.sample(seed=0)
        eps = np.random.default_rng(0).standard_normal(mean.shape)
        np.testing.assert_allclose(drawn, mean + np.exp(0.5 * log_var) * eps, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_decode_reconstruct_generate_return_dicts(models, name):
    model = models[name]
    images = _images(model)
    decoded = model.decode(np.zeros((3, LATENT), "float32"))
    reconstructed = model.reconstruct(images)
    generated = model.generate(5, seed=1)
    for out, n in ((decoded, 3), (reconstructed, 12), (generated, 5)):
        assert isinstance(out, dict)
        assert out["x_hat"].shape == (n,) + SHAPE
        assert np.all(np.isfinite(out["x_hat"]))
    if name == "split_vae":
        assert {"sigma", "x1", "x2"} <= set(generated)
    # reconstruct decodes the posterior means
    np.testing.assert_allclose(
        reconstructed["x_hat"], model.decode(model.encode(images).mean)["x_hat"], rtol=1e-5, atol=1e-6
    )
    # the same seed gives the same samples
    np.testing.assert_allclose(model.generate(5, seed=1)["x_hat"], generated["x_hat"], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("sampler_name", sorted(SAMPLERS))
@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_every_model_with_every_sampler(models, name, sampler_name):
    model = models[name]
    sampler = SAMPLERS[sampler_name]().fit_on_encodings(model, _images(model, n=20), batch_size=7)
    z = sampler.sample(6, seed=2)
    assert z.shape == (6, LATENT) and z.dtype == np.float32
    out = model.generate(6, sampler=sampler, seed=2)
    assert out["x_hat"].shape == (6,) + SHAPE
    assert np.all(np.isfinite(out["x_hat"]))
    np.testing.assert_allclose(out["x_hat"], model.decode(z)["x_hat"], rtol=1e-5, atol=1e-6)


def test_gmm_on_prior_aae_codes_fits_all_rows(models):
    # The old `encode(batch)[:2]` took two ROWS of an AAE's codes.
    model = models["prior_aae"]
    images = _images(model, n=30)
    sampler = samplers.GMMSampler(3, seed=0).fit_on_encodings(model, images, batch_size=7)
    codes = model.encode(images).mean
    assert sampler.latent_dim == LATENT
    weights = sampler.mixture.weights_
    assert weights.shape == (3,) and abs(weights.sum() - 1) < 1e-6
    # the mixture's mean is the codes' mean (EM preserves the first moment)
    np.testing.assert_allclose(weights @ sampler.mixture.means_, codes.mean(axis=0), atol=1e-4)


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_second_positional_argument_is_refused(models, name):
    model = models[name]
    with pytest.raises(TypeError):
        model.encode(_images(model), 100)
    with pytest.raises(TypeError):
        model.generate(3, 0)


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_value_range_is_checked(models, name):
    model = models[name]
    assert model.value_range in ((0.0, 1.0), (-1.0, 1.0))
    with pytest.raises(ValueError, match=r"Received: values in \[0, 255\]"):
        model.encode(np.full((2,) + SHAPE, 255.0, "float32") * (np.arange(2)[:, None, None, None] > 0))
    if model.value_range == (0.0, 1.0):
        with pytest.raises(ValueError, match=r"\[-1, 1\]"):
            model.encode(-np.ones((2,) + SHAPE, "float32"))
    else:
        with pytest.warns(UserWarning, match=r"look like images in \[0, 1\]"):
            model.encode(np.random.default_rng(0).random((4,) + SHAPE).astype("float32"))


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_bad_latents_and_labels_are_refused(models, name):
    model = models[name]
    with pytest.raises(ValueError, match=r"Received: z.shape=\(3, 9\)"):
        model.decode(np.zeros((3, LATENT + 1), "float32"))
    with pytest.raises(ValueError, match="NaN or infinite"):
        model.decode(np.full((2, LATENT), np.nan, "float32"))
    with pytest.raises(ValueError, match="unconditional"):
        model.generate(2, labels=[0, 1])
    with pytest.raises(ValueError, match="empty"):
        model.encode(_images(model)[:0])
    with pytest.raises(TypeError, match="sample"):
        model.generate(2, sampler=object())


def test_conditional_flow_prior_takes_labels_by_keyword():
    model = kv.build_flow_prior_vae(SHAPE, LATENT, beta=0.0, num_couplings=2, hidden_units=8,
                                    filters=(4, 8), dense_units=16, num_classes=3, seed=0)
    images = _images(model, n=6)
    labels = np.array([0, 1, 2, 0, 1, 2])
    posterior = model.encode(images, labels=labels)
    assert posterior.mean.shape == (6, LATENT)
    assert model.generate(4, labels=2, seed=0)["x_hat"].shape == (4,) + SHAPE
    assert model.reconstruct(images, labels=labels)["x_hat"].shape == (6,) + SHAPE
    with pytest.raises(ValueError, match="conditional"):
        model.generate(4, seed=0)


CONFIGURABLE = {
    **BUILDERS,
    "second_stage": lambda: kv.SecondStage(LATENT, second_dim=8, second_depth=2, seed=0),
    "realnvp_prior": lambda: kv.RealNVPPrior(LATENT, num_couplings=2, hidden_units=8),
}


@pytest.mark.parametrize("name", sorted(CONFIGURABLE))
def test_config_round_trips(name):
    """`from_config(get_config())` rebuilds the same model: same config, same weights, same function."""
    model = CONFIGURABLE[name]()
    config = model.get_config()
    assert {"name", "trainable"} <= set(config)
    # Every named constructor argument is in the config (objects excepted).
    parameters = [p.name for p in inspect.signature(type(model).__init__).parameters.values()
                  if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != "self"]
    missing = set(parameters) - set(config) - set(getattr(model, "unsaved_arguments", ()))
    assert not missing, missing
    copy = type(model).from_config(config)
    assert copy.get_config() == config
    assert [w.shape for w in copy.weights] == [w.shape for w in model.weights]
    copy.set_weights(model.get_weights())
    if name == "realnvp_prior":
        z = np.random.default_rng(0).standard_normal((4, LATENT)).astype("float32")
        np.testing.assert_allclose(ops.convert_to_numpy(copy.log_prob(z)),
                                   ops.convert_to_numpy(model.log_prob(z)), rtol=1e-5, atol=1e-5)
    elif name == "second_stage":
        z = np.zeros((2, LATENT), "float32")
        np.testing.assert_allclose(copy.decode(z)["z_hat"], model.decode(z)["z_hat"], atol=1e-6)
    else:
        z = np.zeros((2, LATENT), "float32")
        np.testing.assert_allclose(copy.decode(z)["x_hat"], model.decode(z)["x_hat"], atol=1e-6)


def test_config_leaves_the_feature_network_out():
    model = _fp_vae()
    assert "perceptual_model" not in model.get_config()


# --- One base: the declared prior, the single compile ------------------------

OWN_PRIOR = {"fp_vae": kv.RealNVPPrior, "prior_aae": object}  # the others: N(0, I)


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_every_model_subclasses_the_one_base(models, name):
    model = models[name]
    assert isinstance(model, kv.GenerativeModel)
    assert "Functional" not in [cls.__name__ for cls in type(model).__mro__]


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_declared_prior(models, name):
    """`model.prior`: None is N(0, I); otherwise `generate(sampler=None)` decodes `prior.sample`."""
    model = models[name]
    if name not in OWN_PRIOR:
        assert model.prior is None
        np.testing.assert_allclose(model.sample_latents(4, seed=3),
                                   np.random.default_rng(3).standard_normal((4, LATENT)), rtol=1e-6)
        return
    assert isinstance(model.prior, OWN_PRIOR[name])
    assert isinstance(model.prior, kv.models.contract.Prior)
    codes = np.asarray(model.prior.sample(4, seed=3))
    assert codes.shape == (4, LATENT)
    np.testing.assert_allclose(model.sample_latents(4, seed=3), codes, rtol=1e-6)
    assert not np.allclose(codes, np.random.default_rng(3).standard_normal((4, LATENT)), atol=1e-3)


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_declared_prior_is_never_a_class_default(models, name):
    """`prior` lives on the instance: on PyTorch a class attribute of that name
    shadows the layer held in the module's `_modules` (the flow prior was None)."""
    for cls in type(models[name]).__mro__:
        if "prior" in vars(cls):
            assert isinstance(vars(cls)["prior"], property), f"{cls.__name__}.prior is a class default"


def _fit_once(model):
    model.fit(_images(model, n=4), batch_size=4, epochs=1, verbose=0)


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_one_compile_single_optimizer(name):
    """One optimizer: the main role's; every further network trains with a copy of it."""
    import keras

    model = BUILDERS[name]()
    roles = model.optimizer_roles
    assert roles[0] == "vae"
    model.compile(keras.optimizers.SGD(0.01))
    assert list(model.role_optimizers) == list(roles)
    optimizers = list(model.role_optimizers.values())
    assert all(type(o).__name__ == "SGD" for o in optimizers)
    assert len({id(o) for o in optimizers}) == len(roles)  # copies, not one shared state
    assert all(float(o.learning_rate) == pytest.approx(0.01) for o in optimizers)
    if len(roles) > 1:
        assert model.optimizer.optimizers == optimizers  # one GroupedOptimizer
    _fit_once(model)
    assert all(int(ops.convert_to_numpy(o.iterations)) == 1 for o in optimizers)


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_one_compile_mapping_default_and_wrong_role(name):
    model = BUILDERS[name]()
    roles = model.optimizer_roles
    model.compile({roles[-1]: "sgd"})
    assert type(model.role_optimizers[roles[-1]]).__name__ == "SGD"
    if len(roles) > 1:  # a role left out gets the authors' default
        assert type(model.role_optimizers[roles[0]]).__name__ == "Adam"
    model.compile()
    assert [type(o).__name__ for o in model.role_optimizers.values()] == ["Adam"] * len(roles)
    with pytest.raises(ValueError, match=r"Expected keys among .*Received: optimizer keys \['critic'\]"):
        model.compile({"critic": "adam"})
    with pytest.raises(ValueError, match="Received: loss='mse'"):
        model.compile("adam", loss="mse")


def test_compile_config_round_trips_the_role_optimizers(tmp_path):
    import keras

    model = _prior_aae()
    model.compile({"vae": keras.optimizers.Adam(2e-3), "discriminator": "sgd"}, jit_compile=False)
    config = model.get_compile_config()
    assert sorted(config["optimizer"]) == ["discriminator", "generator", "vae"]
    assert config["jit_compile"] is False
    copy = _prior_aae()
    copy.compile_from_config(config)
    assert [type(o).__name__ for o in copy.role_optimizers.values()] == ["Adam", "SGD", "Adam"]
    assert float(copy.role_optimizers["vae"].learning_rate) == pytest.approx(2e-3)


@pytest.mark.parametrize("name", ["split_vae", "gamix", "fp_vae", "prior_aae"])
def test_progress_bar_shows_every_loss_term(name):
    """One tracker per key of `loss_terms`, `loss` first, and the history has each of them."""
    model = BUILDERS[name]()
    model.compile()
    x = _images(model, n=4)
    terms = model.loss_terms(x, model(x, training=False), training=False)
    assert [t.name for t in model.loss_trackers] == list(terms) or sorted(
        t.name for t in model.loss_trackers) == sorted(terms)
    assert model.loss_trackers[0].name == "loss"
    history = model.fit(x, batch_size=4, epochs=1, verbose=0).history
    assert set(terms) <= set(history)
    assert np.isfinite(history["loss"][0])


def test_config_is_explicit_not_read_from_a_frame():
    """The config holds the checked arguments (a tuple shape, floats), whatever the call's locals."""
    model = kv.build_svae([8, 8, 1], LATENT, beta=2, base_dim=4, emb_dim=8, num_scale=1)
    config = model.get_config()
    assert config["input_shape"] == (8, 8, 1) and config["beta"] == 2.0
    assert isinstance(config["beta"], float)
