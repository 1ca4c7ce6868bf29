"""GMMFIDHistory: FIDs after GMM resampling along training, into the history."""

import csv
import math

import keras
import numpy as np
import pytest

import keras_vaes as kv
from keras_vaes import plotting
from keras_vaes.callbacks import GMMFIDHistory, TimeBudget, aggregate_fid_histories
from keras_vaes.metrics import fid
from keras_vaes.samplers import GMMSampler

TINY = dict(base_dim=8, emb_dim=16, num_scale=2)


def tiny_features():
    inputs = keras.Input((16, 16, 1))
    x = keras.layers.Conv2D(4, 3, strides=2, name="c")(inputs)
    return keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(x), name="tiny_features")


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(0)
    return rng.uniform(size=(60, 16, 16, 1)).astype("float32")


def test_fids_every_n_epochs_into_history_and_csv(images, tmp_path):
    keras.utils.set_random_seed(0)
    model = kv.build_svae((16, 16, 1), 4, seed=0, **TINY)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    features = tiny_features()
    callback = GMMFIDHistory(images[:30], features, every=2, components=2, num_samples=20,
                             seed=5, verbose=0)
    log = tmp_path / "history.csv"
    history = model.fit(images, batch_size=20, epochs=3, verbose=0,
                        callbacks=[callback, keras.callbacks.CSVLogger(str(log))]).history
    keys = ["fid_gmm2_x_hat", "fid_gmm2_x1", "fid_gmm2_x2"]
    for key in keys:
        values = history[key]
        assert len(values) == 3
        assert math.isnan(values[0])  # epoch 1: not an evaluation epoch
        assert np.isfinite(values[1]) and np.isfinite(values[2])  # epoch 2 and the last
        assert values[1] >= 0
    assert sorted(callback.scores) == [2, 3]

    # The last value, recomputed independently on the final weights.
    z_mean, _ = model.encode(images[:30])
    sampler = GMMSampler(2, max_iter=200, seed=5).fit(z_mean)
    decoded = model.decode(sampler.sample(20, seed=5))
    for output in ("x_hat", "x1", "x2"):
        expected = fid.fid_score(images[:30], np.clip(decoded[output], 0, 1), features)
        np.testing.assert_allclose(history[f"fid_gmm2_{output}"][2], expected, rtol=1e-6, atol=1e-9)

    rows = list(csv.DictReader(open(log)))
    assert len(rows) == 3 and set(keys) <= set(rows[0])
    assert float(rows[1]["fid_gmm2_x1"]) == pytest.approx(history["fid_gmm2_x1"][1])


def test_vanilla_model_scores_x_hat_only(images):
    model = kv.build_svae((16, 16, 1), 4, split=False, seed=1, **TINY)
    model.compile(optimizer="adam")
    callback = GMMFIDHistory(images[:30], tiny_features(), every=1, components=2, verbose=0)
    history = model.fit(images[:40], batch_size=20, epochs=1, verbose=0, callbacks=[callback]).history
    assert [k for k in history if k.startswith("fid_")] == ["fid_gmm2_x_hat"]
    with pytest.raises(ValueError, match="no output 'x1'"):
        callback = GMMFIDHistory(images[:30], tiny_features(), components=2, outputs=("x1",))
        callback.set_model(model)
        callback.evaluate()


def test_bad_arguments(images):
    with pytest.raises(ValueError, match="every"):
        GMMFIDHistory(images, tiny_features(), every=0)
    with pytest.raises(ValueError, match="100 components.*Received: 60 images"):
        GMMFIDHistory(images, tiny_features(), components=100)
    with pytest.raises(ValueError, match="outputs.*Received: outputs=\\('sigma',\\)"):
        GMMFIDHistory(images, tiny_features(), components=2, outputs=("sigma",))
    with pytest.raises(ValueError, match="values in"):
        GMMFIDHistory(images * 255, tiny_features(), components=2)


def test_aggregate_over_seeds_matches_numpy_and_plots(tmp_path):
    nan = math.nan
    histories = [
        {"fid_gmm100_x1": [nan, 10.0, nan, 6.0]},
        {"fid_gmm100_x1": [nan, 14.0, nan, 8.0]},
        {"fid_gmm100_x1": [nan, 12.0, nan, 4.0, 3.0]},  # one epoch longer: cut
    ]
    epochs, mean, std = aggregate_fid_histories(histories, "fid_gmm100_x1")
    np.testing.assert_array_equal(epochs, [2, 4])
    # A training resumed with fit(initial_epoch=2) numbers its epochs 3, 4, ...
    np.testing.assert_array_equal(aggregate_fid_histories(histories, "fid_gmm100_x1", first_epoch=3)[0], [4, 6])
    np.testing.assert_allclose(mean, [np.mean([10, 14, 12]), np.mean([6, 8, 4])])
    np.testing.assert_allclose(std, [np.std([10, 14, 12]), np.std([6, 8, 4])])
    with pytest.raises(ValueError, match="lacks 'fid_gmm100_x2'"):
        aggregate_fid_histories(histories, "fid_gmm100_x2")
    with pytest.raises(ValueError, match="No histories"):
        aggregate_fid_histories([], "fid_gmm100_x1")
    path = plotting.save_fid_evolution(
        {"split x1": (epochs, mean, std), "vanilla x_hat": (epochs, mean + 1, std)},
        str(tmp_path / "fid.png"), ylabel="FD", std_for=["split x1"])
    assert (tmp_path / "fid.png").stat().st_size > 0 and path.endswith("fid.png")
    with pytest.raises(ValueError, match="at least one curve"):
        plotting.save_fid_evolution({}, str(tmp_path / "none.png"))


def test_sample_grid_writes_one_png_per_epoch_for_any_value_range(tmp_path, monkeypatch):
    from keras_vaes import plotting

    seen = []
    monkeypatch.setattr(plotting, "save_image_grid",
                        lambda images, path, ncols, title: seen.append((images.copy(), path, ncols)))
    model = kv.build_gamix_vae((8, 8, 1), 8, filters=4, discriminator_filters=4,
                               discriminator_strides=(2, 1, 1, 1, 1, 1))
    grid = kv.callbacks.SampleGrid(tmp_path / "grids", "gamix", n=6, seed=3, ncols=3)
    grid.set_model(model)
    grid.on_epoch_end(0)
    grid.on_epoch_end(1)
    assert [p for _, p, _ in seen] == [str(tmp_path / "grids" / f"gamix_epoch_{e}.png") for e in (1, 2)]
    raw = model.generate(6, seed=3)["x_hat"]
    np.testing.assert_allclose(seen[0][0], np.clip((raw + 1.0) / 2.0, 0.0, 1.0), rtol=1e-6)
    np.testing.assert_allclose(seen[0][0], seen[1][0])  # the same draw every epoch
    assert seen[0][2] == 3 and (tmp_path / "grids").is_dir()
    with pytest.raises(ValueError, match="n=0"):
        kv.callbacks.SampleGrid(tmp_path, n=0)


def test_time_budget_stops_after_its_minutes_and_refuses_a_negative_budget():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x = np.zeros((40, 2), "float32")
    history = model.fit(x, x[:, :1], batch_size=4, epochs=5, verbose=0, callbacks=[TimeBudget(1e-9)])
    assert len(history.history["loss"]) == 1  # stopped after the first batch of the first epoch
    history = model.fit(x, x[:, :1], batch_size=4, epochs=3, verbose=0, callbacks=[TimeBudget(0)])
    assert len(history.history["loss"]) == 3  # 0: no limit
    with pytest.raises(ValueError, match="Received: minutes=-1.0"):
        TimeBudget(-1)
