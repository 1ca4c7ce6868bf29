"""Every model, layer, loss and sampler under the float32, float64 and mixed_bfloat16 policies.

For each policy, set as a Keras user sets it (`keras.config.set_floatx` /
`keras.mixed_precision.set_dtype_policy`): build, one `fit` step, generate,
and a weights round trip into a fresh object. What the papers compute in
float32 or wider does so under every policy: the flow prior (its
log-determinants) runs in the policy's variable dtype
(`layers.core.full_precision_policy`), the losses, KL sums and gamma in
float32. float64 on JAX needs JAX_ENABLE_X64=1 (skipped otherwise).
Mixed-precision numerics of the Split-VAE step are in test_mixed_precision.py.
"""

import keras
import numpy as np
import pytest
from keras import ops

import keras_vaes as kv
from keras_vaes import layers as kv_layers
from keras_vaes import losses, samplers

POLICIES = ("float32", "float64", "mixed_bfloat16")
SHAPE = (8, 8, 1)
LATENT = 4


@pytest.fixture(params=POLICIES)
def policy(request):
    """Sets the global policy as a user does; restores float32 after the test."""
    if request.param == "float64" and keras.backend.backend() == "jax":
        import jax

        if not jax.config.jax_enable_x64:
            pytest.skip("float64 on JAX needs 64-bit mode (JAX_ENABLE_X64=1); "
                        "without it JAX makes every float64 array float32.")
    keras.config.set_floatx("float32")
    keras.mixed_precision.set_dtype_policy("float32")
    try:
        if request.param == "float64":
            keras.config.set_floatx("float64")
            keras.mixed_precision.set_dtype_policy("float64")
        elif request.param == "mixed_bfloat16":
            keras.mixed_precision.set_dtype_policy("mixed_bfloat16")
        yield request.param
    finally:
        keras.config.set_floatx("float32")
        keras.mixed_precision.set_dtype_policy("float32")


def compute_dtype(policy):
    return {"float32": "float32", "float64": "float64", "mixed_bfloat16": "bfloat16"}[policy]


def full_dtype(policy):
    """The full_precision_policy() dtype: the flow's, its log-determinants', BatchMixtureKL's."""
    return "float64" if policy == "float64" else "float32"


# --- Models ------------------------------------------------------------------

MODELS = {
    "split_vae": lambda: kv.build_svae(SHAPE, LATENT, base_dim=4, emb_dim=8, num_scale=1, seed=0),
    "first_stage": lambda: kv.FirstStage(SHAPE, LATENT, base_dim=4, num_scale=2, fc_dim=8, seed=0),
    "gamix": lambda: kv.build_gamix_vae(SHAPE, 8, filters=4, discriminator_filters=4,
                                        discriminator_strides=(2, 1, 1, 1, 1, 1)),
    "flow_prior_vae": lambda: kv.build_flow_prior_vae(
        SHAPE, LATENT, beta=1.0, num_couplings=2, hidden_units=8, filters=(4, 8),
        dense_units=16, seed=0),
    "prior_aae": lambda: kv.build_prior_aae(
        SHAPE, LATENT, filters=(4, 8), dense_units=16, discriminator_units=(8,),
        generator_units=(8,), seed=0),
}


def images(model, n=4):
    low, high = model.value_range
    x = np.random.default_rng(0).random((n,) + SHAPE)
    return (low + (high - low) * x).astype("float32")


def check_policy_applied(model, policy):
    # The body runs in the policy's compute dtype (else the test proves
    # nothing), and every variable is float32 or the policy's variable dtype.
    computes = {layer.compute_dtype for layer in model._flatten_layers()}
    assert compute_dtype(policy) in computes, computes
    assert {w.dtype for w in model.weights} <= {"float32", full_dtype(policy)}


def _model_cases():
    # float32 is every other test file's policy, and GAMIX's step takes ~8 s
    # to trace: those run with the slow tests (CI), the others by default.
    for name in sorted(MODELS):
        for policy in POLICIES:
            slow = name == "gamix" or policy == "float32"
            yield pytest.param(policy, name, id=f"{policy}-{name}",
                               marks=[pytest.mark.slow] if slow else [])


@pytest.mark.parametrize(("policy", "name"), list(_model_cases()), indirect=["policy"])
def test_model_builds_fits_generates_and_round_trips(policy, name, tmp_path):
    model = MODELS[name]()
    check_policy_applied(model, policy)
    x = images(model)
    model.compile()
    history = model.fit(x, epochs=1, batch_size=4, verbose=0)
    assert history.history and all(np.isfinite(v[-1]) for v in history.history.values())
    generated = model.generate(2, seed=0)["x_hat"]
    assert generated.shape == (2,) + SHAPE and generated.dtype == np.float32
    assert np.all(np.isfinite(generated))

    path = tmp_path / f"{name}.weights.h5"
    model.save_weights(path)
    fresh = MODELS[name]()
    fresh.load_weights(path)
    for a, b in zip(model.get_weights(), fresh.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(fresh.generate(2, seed=0)["x_hat"], generated)


def test_flow_prior_vae_runs_its_prior_in_full_precision(policy):
    model = MODELS["flow_prior_vae"]()
    dtype = full_dtype(policy)
    prior_layers = list(model.prior._flatten_layers())
    assert len(prior_layers) > 4
    assert {layer.compute_dtype for layer in prior_layers} == {dtype}
    assert {w.dtype for w in model.prior.weights} == {dtype}
    head = model.encoder.get_layer("posterior")
    assert head.compute_dtype == dtype


def test_second_stage_fits_generates_and_round_trips(policy, tmp_path):
    build = lambda: kv.SecondStage(LATENT, second_dim=8, second_depth=2, seed=0)  # noqa: E731
    stage = build()
    z = np.random.default_rng(0).normal(size=(8, LATENT)).astype("float32")
    stage.compile()
    history = stage.fit(z, epochs=1, batch_size=4, verbose=0)
    assert np.isfinite(history.history["loss"][-1])
    z_hat = stage.generate(2, seed=0)["z_hat"]
    assert z_hat.shape == (2, LATENT) and z_hat.dtype == np.float32 and np.all(np.isfinite(z_hat))
    path = tmp_path / "second.weights.h5"
    stage.save_weights(path)
    fresh = build()
    fresh.load_weights(path)
    np.testing.assert_array_equal(fresh.generate(2, seed=0)["z_hat"], z_hat)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:Reconstruction health")  # one epoch of 8 images
def test_two_stage_vae_fits_both_stages_generates_and_round_trips(policy, tmp_path):
    def build():
        return kv.build_two_stage_vae(SHAPE, LATENT, base_dim=4, num_scale=2, fc_dim=8,
                                      second_dim=8, second_depth=2, seed=0)

    model = build()
    x = images(model, n=8)
    model.fit_first_stage(x, 1, batch_size=4, verbose=0)
    model.fit_second_stage(x, 1, batch_size=4, verbose=0)
    generated = model.generate(2, seed=0)["x_hat"]
    assert generated.shape == (2,) + SHAPE and generated.dtype == np.float32
    assert np.all(np.isfinite(generated))
    model.save_weights(tmp_path / "two.weights.h5")
    fresh = build()
    fresh.load_weights(tmp_path / "two.weights.h5")
    np.testing.assert_array_equal(fresh.generate(2, seed=0)["x_hat"], generated)


# --- The flow prior ------------------------------------------------------------


def _prior():
    return kv.RealNVPPrior(LATENT, num_couplings=2, hidden_units=8, num_classes=3, seed=0)


def test_realnvp_prior_fits_samples_and_round_trips(policy, tmp_path):
    prior = _prior()
    dtype = full_dtype(policy)
    assert prior.compute_dtype == dtype and {w.dtype for w in prior.weights} == {dtype}
    rng = np.random.default_rng(0)
    z = rng.normal(size=(8, LATENT)).astype("float32")
    labels = rng.integers(0, 3, 8)
    history = prior.fit_encodings(z, labels=labels, epochs=1, batch_size=4)
    assert np.isfinite(history.history["nll"][-1])
    drawn = prior.sample(2, seed=0, labels=1)
    assert drawn.shape == (2, LATENT) and drawn.dtype == np.float32 and np.all(np.isfinite(drawn))
    log_p = prior.log_prob(z, labels)
    assert ops.convert_to_numpy(log_p).dtype == np.float32
    path = tmp_path / "prior.weights.h5"
    prior.save_weights(path)
    fresh = _prior()
    fresh.load_weights(path)
    np.testing.assert_array_equal(fresh.sample(2, seed=0, labels=1), drawn)
    np.testing.assert_array_equal(ops.convert_to_numpy(fresh.log_prob(z, labels)),
                                  ops.convert_to_numpy(log_p))


def test_realnvp_log_prob_is_float32_exact_under_mixed_precision():
    # The log-determinants are not computed in bfloat16: under the mixed
    # policy the prior gives the float32 prior's numbers on the same weights.
    rng = np.random.default_rng(0)
    reference = _prior()
    for w in reference.trainable_weights:
        w.assign(rng.normal(scale=0.3, size=w.shape).astype("float32"))
    reference.normalizer.initialize_from(rng.normal(size=(20, LATENT)).astype("float32"))
    z = rng.normal(size=(16, LATENT)).astype("float32") * 3.0
    labels = rng.integers(0, 3, 16)
    expected = ops.convert_to_numpy(reference.log_prob(z, labels))
    keras.mixed_precision.set_dtype_policy("mixed_bfloat16")
    try:
        mixed = _prior()
        mixed.set_weights(reference.get_weights())
        got = ops.convert_to_numpy(mixed.log_prob(z, labels, training=False))
        inverse = mixed.inverse(mixed.forward(z, labels), labels)
    finally:
        keras.mixed_precision.set_dtype_policy("float32")
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_allclose(ops.convert_to_numpy(inverse), z, rtol=1e-5, atol=1e-5)


# --- Layers --------------------------------------------------------------------


def _layer_cases():
    """name -> (make, a training call, a deterministic inference call)."""
    rng = np.random.default_rng(0)
    z = rng.normal(size=(6, LATENT)).astype("float32")
    images_ = rng.random((6, 4, 4, 3)).astype("float32")
    one_hot = np.eye(3, dtype="float32")[rng.integers(0, 3, 6)]
    certain = np.full_like(z, -200.0)  # sigma = exp(-100): z is the mean
    return {
        "sampling": (lambda: kv_layers.Sampling(seed=0),
                     lambda l: l([z, z]), lambda l: l([z, certain])),
        "split_composition": (lambda: kv_layers.SplitComposition(1),
                              lambda l: l(images_)["x_hat"], lambda l: l(images_)["x_hat"]),
        "fused_batch_norm": (
            lambda: kv_layers.FusedBatchNormalization(momentum=0.9, zero_debias=True),
            lambda l: l(images_, training=True), lambda l: l(images_, training=False)),
        "batch_mixture_kl": (lambda: kv_layers.BatchMixtureKL(), lambda l: l(z), lambda l: l(z)),
        "affine_coupling": (
            lambda: kv_layers.AffineCoupling(LATENT, hidden_units=8, num_classes=3),
            lambda l: l(z, labels=one_hot)[0], lambda l: l(z, labels=one_hot)[1]),
        "act_norm": (lambda: kv_layers.ActNorm(LATENT),
                     lambda l: l(z, training=True)[1], lambda l: l(z, inverse=True)[0]),
    }


# The layers whose maths needs float32: they default to the full precision.
FULL_PRECISION_LAYERS = {"batch_mixture_kl", "affine_coupling", "act_norm"}


def dtype_of(x):
    return keras.backend.standardize_dtype(ops.convert_to_tensor(x).dtype)


def _as_float32(x):
    return ops.convert_to_numpy(ops.cast(x, "float32"))


@pytest.mark.parametrize("name", sorted(_layer_cases()))
def test_layer_under_policy(policy, name):
    make, train_call, infer_call = _layer_cases()[name]
    layer = make()
    expected = full_dtype(policy) if name in FULL_PRECISION_LAYERS else compute_dtype(policy)
    assert layer.compute_dtype == expected
    out = train_call(layer)
    assert dtype_of(out) == expected
    assert np.all(np.isfinite(_as_float32(out)))
    for loss in layer.losses:  # in the layer's dtype, as Keras sums it with the compiled loss
        assert dtype_of(loss) == expected
    weights = layer.get_weights()
    assert all(w.dtype in (np.float32, np.dtype(full_dtype(policy))) for w in weights)
    if name in ("affine_coupling", "act_norm"):  # perturb the identity at start
        weights = [w + 0.1 * np.arange(w.size, dtype=w.dtype).reshape(w.shape) / w.size
                   for w in weights]
        layer.set_weights(weights)
    # The weights round trip: a fresh layer given them computes the same.
    fresh = make()
    train_call(fresh)
    fresh.set_weights(weights)
    np.testing.assert_array_equal(_as_float32(infer_call(fresh)), _as_float32(infer_call(layer)))


def test_batch_mixture_kl_trains_in_a_model(policy):
    inputs = keras.Input((LATENT,))
    h = keras.layers.Dense(LATENT)(inputs)
    h = kv_layers.BatchMixtureKL()(h)
    model = keras.Model(inputs, keras.layers.Dense(LATENT)(h))
    model.compile(optimizer="sgd", loss="mse")
    x = np.random.default_rng(0).normal(size=(8, LATENT)).astype("float32")
    logs = model.train_on_batch(x, x, return_dict=True)
    assert np.isfinite(logs["loss"])


# --- Losses --------------------------------------------------------------------


def test_losses_are_float32_and_equal_across_input_dtypes():
    rng = np.random.default_rng(0)
    x = rng.random((4, 4, 4, 1)).astype("float32")
    x_hat = rng.random((4, 4, 4, 1)).astype("float32")
    mean = rng.normal(size=(4, LATENT)).astype("float32")
    log_var = rng.normal(size=(4, LATENT)).astype("float32") * 0.1
    terms = {
        "gaussian_kl": lambda c: losses.gaussian_kl(c(mean), c(log_var)),
        "squared_error": lambda c: losses.squared_error(c(x), c(x_hat)),
        "batch_mixture_kl": lambda c: losses.batch_mixture_kl(c(mean)),
        "variance_regularizer": lambda c: losses.variance_regularizer(c(log_var)),
        "flow_log_prob": lambda c: losses.flow_log_prob(c(mean), c(log_var[:, 0])),
        "gaussian_log_density": lambda c: losses.gaussian_log_density(c(mean), c(mean), c(log_var)),
    }
    for name, term in terms.items():
        reference = ops.convert_to_numpy(term(lambda a: ops.convert_to_tensor(a, "float32")))
        for dtype, rtol in (("float64", 1e-6), ("bfloat16", 2e-2)):
            value = term(lambda a: ops.cast(ops.convert_to_tensor(a, "float32"), dtype))
            assert keras.backend.standardize_dtype(value.dtype) == "float32", (name, dtype)
            np.testing.assert_allclose(ops.convert_to_numpy(value), reference, rtol=rtol,
                                       atol=rtol, err_msg=f"{name} from {dtype}")


# --- Samplers ------------------------------------------------------------------

SAMPLERS = {
    "normal": lambda: samplers.NormalSampler(LATENT, seed=0),
    "gmm": lambda: samplers.GMMSampler(2, seed=0),
    "flow": lambda: samplers.FlowSampler(num_couplings=2, hidden_units=8, epochs=1,
                                         batch_size=8, seed=0),
    "second_stage": lambda: samplers.SecondStageSampler(LATENT, second_dim=8, second_depth=2,
                                                        epochs=1, batch_size=8, seed=0),
}


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_sampler_fits_and_samples(policy, name):
    codes = np.random.default_rng(0).normal(size=(32, LATENT)).astype("float32")
    sampler = SAMPLERS[name]().fit(codes)
    z = sampler.sample(2, seed=0)
    assert z.shape == (2, LATENT) and z.dtype == np.float32 and np.all(np.isfinite(z))
    np.testing.assert_array_equal(sampler.sample(2, seed=0), z)
