"""VarianceLossVAE (the variance-loss paper's dense / convolutional VAEs) and its Figure 3-4 helpers."""

import numpy as np
import pytest

from keras_vaes.evaluation import variance_loss as figures
from keras_vaes.models.variance_loss import VarianceLossVAE


@pytest.mark.parametrize("architecture", ["dense", "convolutional"])
def test_shapes_config_round_trip_and_one_epoch(architecture):
    model = VarianceLossVAE((8, 8, 1), 3, architecture, units=(16, 8), filters=(4, 8), initial_mse=0.05, seed=1)
    x = np.random.default_rng(0).random((8, 8, 8, 1)).astype("float32")
    outputs = model(x)
    assert outputs["x_hat"].shape == (8, 8, 8, 1) and outputs["z_mean"].shape == (8, 3)
    assert model.kl_weight == pytest.approx((2 * 8 / 3) ** 2)  # the authors' k
    clone = VarianceLossVAE.from_config(model.get_config())
    assert clone.get_config() == model.get_config()
    assert clone.count_params() == model.count_params()
    model.compile(optimizer="adam")
    recorder = figures.VarianceLossRecorder(x, seed=0)
    model.fit(x, epochs=1, batch_size=4, verbose=0, callbacks=[recorder])
    row = recorder.rows[0]
    assert row["epoch"] == 1 and row["mse"] > 0 and np.isfinite(row["variance_loss_generated"])


def test_bad_arguments_say_what_they_received():
    with pytest.raises(ValueError, match="architecture='resnet'"):
        VarianceLossVAE((8, 8, 1), 3, "resnet")
    with pytest.raises(ValueError, match=r"input_shape=\(6, 6, 1\)"):
        VarianceLossVAE((6, 6, 1), 3, "convolutional")


def test_smoothing_keeps_the_mean_and_loses_variance():
    t, curve, smooth, loss = figures.smoothing(seed=0)
    assert smooth.shape == curve.shape and abs(smooth.mean() - curve.mean()) < 1e-9
    assert 0 < loss["variance_loss"] and np.var(smooth) < np.var(curve)
