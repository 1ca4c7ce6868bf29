"""`keras.callbacks.BackupAndRestore` continues the same run, for every model (issue 30).

A run interrupted after its first epoch and resumed by a NEW model with the
same backup folder ends with the weights, optimizer state, seed generators
and model state (gamma and the MSE estimate of the balancing, the flow
prior's annealing step) of the uninterrupted run. Keras's own shuffle of
array data draws from the global state, which a new process does not
share: the runs use `shuffle=False`, as a resumable pipeline would use a
seeded dataset.
"""

import keras
import numpy as np
import pytest
from keras import ops

import keras_vaes as kv
from keras_vaes.models.stages import SecondStage

SHAPE = (8, 8, 1)


class _Interrupt(keras.callbacks.Callback):
    """Raises at the start of `epoch`, as a killed job (the Keras docs' example)."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise RuntimeError("interrupted")


def _svae(seed=None):
    model = kv.build_svae(SHAPE, 4, base_dim=4, emb_dim=8, num_scale=1, seed=seed)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    return model


def _gamix(seed=None):
    model = kv.build_gamix_vae(SHAPE, 8, filters=4, discriminator_strides=(2, 1, 1, 1, 1, 1),
                               seed=seed)
    model.compile()  # Adam for the VAE and for the PatchGAN
    return model


def _fp_vae(seed=None):
    model = kv.build_flow_prior_vae(SHAPE, 2, num_couplings=2, hidden_units=8, filters=(4, 8),
                                    dense_units=16, anneal_steps=10, seed=0 if seed is None else seed)
    model.compile()
    return model


def _prior_aae(seed=None):
    model = kv.build_prior_aae(SHAPE, 2, filters=(4, 8), dense_units=16,
                               discriminator_units=(8,), generator_units=(8,), seed=seed)
    model.compile()
    return model


def _second_stage(seed=None):
    model = SecondStage(4, second_dim=8, seed=seed)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    return model


BUILDERS = {"split_vae": _svae, "gamix": _gamix, "fp_vae": _fp_vae, "prior_aae": _prior_aae,
            "second_stage": _second_stage}


def _data(name, n=16):
    rng = np.random.default_rng(0)
    if name == "second_stage":  # the first stage's posterior: z drawn in every step
        mean = rng.normal(size=(n, 4)).astype("float32")
        return {"z_mean": mean, "z_log_var": np.full_like(mean, -1.0)}
    images = rng.uniform(size=(n,) + SHAPE).astype("float32")
    return 2.0 * images - 1.0 if name == "gamix" else images


def _state(model):
    """Every number the run carries, in order: variables (seed generators' included),
    the optimizers', and the balancing's gamma and MSE estimate."""
    variables = list(model.variables) + list(model.optimizer.variables)
    values = [(v.path, np.array(ops.convert_to_numpy(v))) for v in variables]
    if hasattr(model, "balancer"):
        values += [("gamma", np.array(model.gamma)), ("mse_estimate", np.array(model.mse_estimate))]
    return values


def _fit(model, name, epochs, callbacks=()):
    return model.fit(_data(name), batch_size=4, epochs=epochs, shuffle=False, verbose=0,
                     callbacks=list(callbacks))


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_backup_and_restore_continues_the_uninterrupted_run(name, tmp_path):
    build = BUILDERS[name]
    keras.utils.set_random_seed(0)
    reference = build()
    _fit(reference, name, 2)

    backup = str(tmp_path / "backup")
    keras.utils.set_random_seed(0)
    interrupted = build()
    with pytest.raises(RuntimeError, match="interrupted"):
        _fit(interrupted, name, 2, [keras.callbacks.BackupAndRestore(backup), _Interrupt(1)])

    keras.utils.set_random_seed(123)  # a new process: another global state, other initial weights
    resumed = build()
    history = _fit(resumed, name, 2, [keras.callbacks.BackupAndRestore(backup)])
    assert history.epoch == [1]  # only the second epoch ran

    expected, got = _state(reference), _state(resumed)
    assert [value.shape for _, value in expected] == [value.shape for _, value in got]
    assert any("seed_generator_state" in path for path, _ in got)  # every model samples
    for (path, want), (_, value) in zip(expected, got):
        np.testing.assert_allclose(value, want, atol=1e-6, err_msg=path)


def test_seed_generators_are_saved_with_the_weights_and_restored(tmp_path):
    model = _svae(seed=3)
    model.fit(_data("split_vae"), batch_size=4, epochs=1, verbose=0)
    state = np.array(ops.convert_to_numpy(model.sampling.seed_generator.state))
    assert state[1] > 0  # the generator advanced during training
    path = str(tmp_path / "m.weights.h5")
    model.save_weights(path)
    fresh = _svae(seed=3)
    fresh.load_weights(path)
    np.testing.assert_array_equal(ops.convert_to_numpy(fresh.sampling.seed_generator.state), state)


def test_a_file_without_seed_generator_state_still_loads(tmp_path):
    # Files written before the seed generators were saved (presets) load as before.
    model = _svae(seed=3)
    model._all_seed_generators = lambda: []  # writes the file as the package did before
    path = str(tmp_path / "old.weights.h5")
    model.save_weights(path)
    fresh = _svae(seed=5)
    before = np.array(ops.convert_to_numpy(fresh.sampling.seed_generator.state))
    fresh.load_weights(path)
    np.testing.assert_array_equal(ops.convert_to_numpy(fresh.sampling.seed_generator.state), before)
    for a, b in zip(model.get_weights(), fresh.get_weights()):
        np.testing.assert_array_equal(a, b)


def _weights(model):
    return [np.array(ops.convert_to_numpy(v)) for v in model.variables]


def test_the_two_stage_fits_resume_with_backup_and_restore(tmp_path):
    # TwoStageVAE trains its stages in sequence: each stage's `fit` takes
    # BackupAndRestore (the stage's weights, Adam, gamma, seed generators),
    # and `EpochBatches` gives a resumed epoch the order of the
    # uninterrupted one.
    images = np.random.default_rng(0).uniform(size=(16, 8, 8, 1)).astype("float32")

    def build():
        return kv.build_two_stage_vae((8, 8, 1), 4, base_dim=4, num_scale=2, fc_dim=8,
                                      second_dim=8, seed=0)

    def fit(model, stage, callbacks=()):
        if stage == "first":
            return model.fit_first_stage(images, 3, batch_size=4, seed=1, verbose=0,
                                         callbacks=list(callbacks))
        return model.fit_second_stage(images, 3, batch_size=4, seed=1, verbose=0,
                                      callbacks=list(callbacks))

    keras.utils.set_random_seed(0)
    reference = build()
    fit(reference, "first")
    expected = {"first": _weights(reference.first_stage)}
    fit(reference, "second")  # its recalibration of BN draws through the first stage's sampling
    expected["second"] = _weights(reference.second_stage)

    keras.utils.set_random_seed(0)
    resumed = build()
    for stage in ("first", "second"):
        backup = str(tmp_path / stage)
        with pytest.raises(RuntimeError, match="interrupted"):
            fit(resumed, stage, [keras.callbacks.BackupAndRestore(backup), _Interrupt(2)])
        keras.utils.set_random_seed(123)  # a new process: a new network of the stage
        fresh = build()
        if stage == "first":
            resumed = kv.TwoStageVAE(fresh.first_stage, resumed.second_stage)
        else:
            resumed = kv.TwoStageVAE(resumed.first_stage, fresh.second_stage)
        history = fit(resumed, stage, [keras.callbacks.BackupAndRestore(backup)])
        assert history.epoch == [2]
        network = resumed.first_stage if stage == "first" else resumed.second_stage
        for want, got in zip(expected[stage], _weights(network)):
            np.testing.assert_allclose(got, want, atol=1e-6, err_msg=stage)
