"""Shared test setup: a fixed random state, and which tests are slow.

Every test starts from `keras.utils.set_random_seed(0)`. Without this, Keras
initialisers draw from an unseeded global generator, so each run of the
suite trains its tiny models from other initial weights and a rare unlucky
draw (a learning rate near the edge of stability) fails one run in many.
Seeding per test makes a failure reproducible by rerunning it. Tests that
spawn a process seed it themselves (`--seed`, `set_random_seed`).

The long end-to-end tests are marked `slow` here, in one list, and
deselected by default (`addopts = -m "not slow"` in setup.cfg); CI runs
them with `pytest -m slow` (.ci/run). A test is slow when it runs an
example script or another backend in a subprocess, builds InceptionV3, or
is a round trip / integration test that took over ~9 s on one core of the
CPU that runs CI (`--durations`). The tests of each model's training step
stay in the default suite even when slower (the two-stage fixture, GAMIX's
one step, Split-VAE's gamma rule). Tests can also carry
`@pytest.mark.slow` themselves.
"""

import keras
import pytest

# Whole modules: every test in them starts a subprocess (example scripts,
# other backends) or several devices.
SLOW_MODULES = {
    "tests/test_backends.py",
    "tests/test_backends_models.py",
    "tests/test_distribution.py",
    "tests/test_examples.py",
    "tests/test_multihost.py",
}

# Single tests (any parametrisation), with their time on one core.
SLOW_TESTS = {
    "tests/test_svae.py::test_resume_training_continues_from_saved_gamma",  # 31 s
    "tests/test_svae.py::test_weights_round_trip_restores_outputs_and_gamma",  # 27 s
    "tests/test_svae.py::test_standard_callbacks_work",  # 16 s
    "tests/test_gamix.py::test_weights_and_keras_round_trips_of_all_three_networks",  # 26 s
    "tests/test_gamix.py::test_bn_training_option_updates_moving_statistics",  # 17 s
    "tests/test_gamix.py::test_celeba_hq_streaming_loader",  # 12 s
    "tests/test_callbacks.py::test_vanilla_model_scores_x_hat_only",  # 24 s
    "tests/test_classifier.py::test_training_script_writes_weights_accuracy_and_checksum",  # 10 s, subprocess
    "tests/test_mixed_precision.py::test_two_stage_under_mixed_policy_trains_and_generates",  # 10 s
    "tests/test_flow_prior.py::test_weights_and_keras_round_trips",  # 10 s
    "tests/test_flow_prior.py::test_conditional_model_trains_and_generates_per_class",  # 10 s each
    "tests/test_fid.py::test_weights_hash_tells_apart_random_and_loaded_inception_weights",  # 9 s, InceptionV3
    "tests/test_fid.py::test_inception_is_float32_under_a_mixed_policy_and_loads_a_weights_file",  # 7 s, InceptionV3
}


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects
def pytest_collection_modifyitems(config, items):
    for item in items:
        path, _, name = item.nodeid.partition("::")
        if path in SLOW_MODULES or f"{path}::{name.split('[')[0]}" in SLOW_TESTS:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def seeded():
    keras.utils.set_random_seed(0)


def _squares(n, seed):
    """16x16 images, each a bright 4x4 square at a random position with a random brightness."""
    import numpy as np

    rng = np.random.default_rng(seed)
    images = np.zeros((n, 16, 16, 1), "float32")
    for i in range(n):
        r, c = rng.integers(0, 13, size=2)
        images[i, r: r + 4, c: c + 4, 0] = rng.uniform(0.5, 1.0)
    return images


@pytest.fixture(scope="session")
def squares():
    """`squares(n, seed)`: the 16x16 one-square images of the gate and run-record tests."""
    return _squares


@pytest.fixture(scope="module")
def pool_judge():
    """A fixed judge of the square images: 4x4 average pooling, 16 features (position and brightness)."""
    from keras_vaes.metrics import FeatureExtractor

    inputs = keras.Input((16, 16, 1))
    features = keras.layers.Flatten()(keras.layers.AveragePooling2D(4)(inputs))
    return FeatureExtractor(keras.Model(inputs, features), input_range=(0.0, 1.0), description="pool 4x4")
