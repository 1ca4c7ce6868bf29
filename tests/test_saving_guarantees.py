"""What every savable object of the package guarantees (keras_vaes.models.saving).

A failed load changes nothing (the RealNVP prior as the models); the
legacy `.h5` format, which cannot revive these classes, is refused with the
fix; the temporary file of a killed save is removed by the next save or load
of the same target, a running writer's never.
"""

import importlib
import inspect
import os
import pkgutil
import re
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

import keras_vaes as kv
from keras_vaes import utils
from keras_vaes.models.saving import SafeSaving, unchanged_on_error


def _prior(latent_dim, seed=0):
    prior = kv.RealNVPPrior(latent_dim, num_couplings=2, hidden_units=8, seed=seed)
    rng = np.random.default_rng(seed)
    for w in prior.weights:  # away from the initial zeros, so a change shows
        w.assign(rng.normal(size=w.shape).astype(w.dtype))
    return prior


def _values(obj):
    return [np.array(keras.ops.convert_to_numpy(v)) for v in obj._state_variables()]


def _package_model_classes():
    classes = set()
    for module in pkgutil.walk_packages(kv.__path__, "keras_vaes."):
        for _, cls in inspect.getmembers(importlib.import_module(module.name), inspect.isclass):
            if issubclass(cls, keras.Model) and cls.__module__.startswith("keras_vaes"):
                classes.add(cls)
    return classes


def test_every_savable_class_of_the_package_saves_through_safe_saving():
    classes = _package_model_classes()
    assert kv.RealNVPPrior in classes and kv.SplitVAE in classes
    assert {cls.__name__ for cls in classes if not issubclass(cls, SafeSaving)} == set()


# --- A failed load changes nothing ----------------------------------------------


@pytest.mark.filterwarnings("ignore:Skipping variable loading")  # the file has no optimizer
def test_realnvp_prior_load_of_another_configuration_changes_nothing(tmp_path):
    path = tmp_path / "two.weights.h5"
    _prior(2, seed=1).save_weights(path)
    # Without the guarantee Keras assigns what fits before it fails.
    bare = _prior(4)
    before = _values(bare)
    with pytest.raises(ValueError):
        keras.Model.load_weights(bare, path)
    assert any(not np.array_equal(a, b) for a, b in zip(before, _values(bare)))

    prior = _prior(4)
    prior.compile(optimizer=keras.optimizers.Adam())
    prior.optimizer.build(prior.trainable_variables)
    prior.optimizer.iterations.assign(7)
    before = _values(prior)
    assert len(before) > 15  # the flow's, Adam's and the metric's variables
    with pytest.raises(ValueError, match=r"two\.weights\.h5.*RealNVPPrior.*different configuration"
                                         r"; the model's weights are unchanged"):
        prior.load_weights(path)
    after = _values(prior)
    assert all(np.array_equal(a, b) for a, b in zip(before, after))


def test_realnvp_prior_round_trips_and_refuses_diverged_weights(tmp_path):
    prior, path = _prior(4), tmp_path / "prior.weights.h5"
    prior.save_weights(path)
    fresh = _prior(4, seed=5)
    fresh.load_weights(path)
    for a, b in zip(_values(prior), _values(fresh)):
        np.testing.assert_array_equal(a, b)
    prior.couplings[0].out.kernel.assign(np.full(prior.couplings[0].out.kernel.shape, np.nan))
    with pytest.raises(ValueError, match="NaN or inf"):
        prior.save_weights(path)
    fresh.load_weights(path)  # the file on disk is the good one
    assert all(np.all(np.isfinite(v)) for v in _values(fresh))


def test_unchanged_on_error_restores_several_objects_at_once():
    first, second = _prior(2), _prior(4)
    before = _values(first) + _values(second)
    with pytest.raises(KeyError):
        with unchanged_on_error(first._state_variables() + second._state_variables()):
            for w in first.weights + second.weights:
                w.assign(np.zeros(w.shape, w.dtype))
            raise KeyError("the second file")
    after = _values(first) + _values(second)
    assert all(np.array_equal(a, b) for a, b in zip(before, after))


# --- The legacy HDF5 format -----------------------------------------------------


@pytest.mark.parametrize("name, stem", [("m.h5", "m"), ("m.hdf5", "m"), ("m.weights.h5", "m"),
                                        ("model", "model")])
def test_save_refuses_what_cannot_be_loaded_back_with_the_fix(tmp_path, name, stem):
    model = kv.build_svae((8, 8, 1), 4, base_dim=4, emb_dim=8, num_scale=1, seed=0)
    target = tmp_path / name
    with pytest.raises(ValueError) as info:
        model.save(target)
    message = str(info.value)
    assert f"Received: filepath='{target}'" in message
    assert f"save('{tmp_path / stem}.keras')" in message
    assert f"save_weights('{tmp_path / stem}.weights.h5')" in message
    assert os.listdir(tmp_path) == []
    with pytest.raises(ValueError, match=r"must end in `\.keras`"):
        _prior(2).save(tmp_path / "prior.h5")
    # The `.keras` file it points to loads back.
    model.save(tmp_path / f"{stem}.keras")
    loaded = keras.saving.load_model(tmp_path / f"{stem}.keras")
    assert type(loaded) is type(model)


# --- Temporaries of killed saves ------------------------------------------------


def _writer_name(target):
    """`(pid, token) -> the temporary name atomic_write gives target in process pid`."""
    names = []

    def write(tmp):
        names.append(os.path.basename(tmp))
        with open(tmp, "wb") as f:
            f.write(b"x")

    utils.atomic_write(target, write)
    match = re.fullmatch(r"(\.tmp-.+)-(\d+)-([0-9a-f]{8})(\.weights\.h5)", names[0])
    assert match and match[2] == str(os.getpid()), names
    return lambda pid, token="0123abcd": f"{match[1]}-{pid}-{token}{match[4]}"


def _dead_pid():
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()  # reaped: the PID is free
    return process.pid


def test_next_save_removes_a_dead_writers_temporary_and_keeps_a_live_ones(tmp_path):
    target = tmp_path / "prior.weights.h5"
    named = _writer_name(target)
    dead = tmp_path / named(_dead_pid())
    live = tmp_path / named(os.getppid())  # a running process, started before the file
    mine = tmp_path / named(os.getpid(), "89abcdef")  # this process's, written now
    other = tmp_path / named(_dead_pid()).replace(".tmp-prior-", ".tmp-other-")  # another target's
    for path in (dead, live, mine, other):
        path.write_bytes(b"half a save")
    _prior(2).save_weights(target)
    assert not dead.exists()
    assert sorted(os.listdir(tmp_path)) == sorted([target.name, live.name, mine.name, other.name])


def test_next_load_removes_a_dead_writers_temporary(tmp_path):
    target = tmp_path / "prior.weights.h5"
    named = _writer_name(target)
    prior = _prior(2)
    prior.save_weights(target)
    dead = tmp_path / named(_dead_pid())
    dead.write_bytes(b"half a save")
    prior.load_weights(target)
    assert sorted(os.listdir(tmp_path)) == [target.name]


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="needs Linux's /proc")
def test_a_zombie_or_a_reused_pid_is_no_writer(tmp_path):
    target = tmp_path / "prior.weights.h5"
    named = _writer_name(target)
    # A writer killed but not yet reaped by its parent: a zombie.
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        deadline = time.time() + 30
        while time.time() < deadline:
            with open(f"/proc/{process.pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    break
            time.sleep(0.05)
        zombie = tmp_path / named(process.pid)
        zombie.write_bytes(b"half a save")
        # Older than the running process of its PID (a container's next run
        # gets the same PID): that process never wrote it.
        reused = tmp_path / named(os.getpid())
        reused.write_bytes(b"half a save")
        os.utime(reused, (1e9, 1e9))  # 2001
        mine = tmp_path / named(os.getpid(), "89abcdef")  # written now: kept
        mine.write_bytes(b"a save under way")
        removed = utils.remove_stale_temporaries(target)
    finally:
        process.wait()
    assert sorted(removed) == sorted([str(zombie), str(reused)])
    assert sorted(os.listdir(tmp_path)) == sorted([target.name, mine.name])
