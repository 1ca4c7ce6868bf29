import os
import shutil

import numpy as np
import pytest

import keras_vaes as kv
from keras_vaes import pretrained


def test_shipped_preset_loads_with_its_gamma_and_samples():
    preset = pretrained.PRESETS["svae_mnist_10ep"]
    path = os.path.join(pretrained.WEIGHTS_DIR, preset["file"])
    assert pretrained.sha256(path) == preset["sha256"]
    model = kv.load_pretrained("svae_mnist_10ep")
    assert model.count_params() == 12_799_299
    assert 0.0 < model.gamma < 0.05  # trained: gamma fell from 1
    out = model.generate(4, seed=0)
    assert out["x_hat"].shape == (4, 32, 32, 1)
    assert np.all((out["x_hat"] >= 0) & (out["x_hat"] <= 1))


def test_preset_errors(tmp_path):
    with pytest.raises(ValueError, match="Unknown preset.*'nope'"):
        kv.load_pretrained("nope")
    with pytest.raises(FileNotFoundError, match="weights_dir"):
        kv.load_pretrained("svae_mnist_10ep", weights_dir=str(tmp_path))
    preset = pretrained.PRESETS["svae_mnist_10ep"]
    copy = tmp_path / preset["file"]
    shutil.copy(os.path.join(pretrained.WEIGHTS_DIR, preset["file"]), copy)
    with open(copy, "r+b") as f:  # corrupt one byte near the end
        f.seek(-100, os.SEEK_END)
        byte = f.read(1)
        f.seek(-100, os.SEEK_END)
        f.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(ValueError, match="checksum"):
        kv.load_pretrained("svae_mnist_10ep", weights_dir=str(tmp_path))


def test_export_weights_drops_optimizer_state(tmp_path):
    model = kv.build_svae((16, 16, 1), 4, base_dim=8, emb_dim=16, num_scale=2)
    model.compile(optimizer="adam")
    x = np.random.default_rng(0).uniform(size=(20, 16, 16, 1)).astype("float32")
    model.fit(x, batch_size=10, epochs=1, verbose=0)
    full, bare = str(tmp_path / "full.weights.h5"), str(tmp_path / "bare.weights.h5")
    model.save_weights(full)
    digest = pretrained.export_weights(model, bare)
    assert digest == pretrained.sha256(bare)
    assert os.path.getsize(bare) < 0.6 * os.path.getsize(full)  # no Adam moments
    loaded = kv.build_svae((16, 16, 1), 4, base_dim=8, emb_dim=16, num_scale=2)
    assert loaded.load_weights(bare) is True and loaded.gamma == model.gamma
    z = np.random.default_rng(1).normal(size=(3, 4)).astype("float32")
    np.testing.assert_array_equal(loaded.decode(z)["x_hat"], model.decode(z)["x_hat"])
