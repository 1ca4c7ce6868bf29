"""Training and weight files on every Keras backend (JAX, PyTorch).

The backend is fixed per process, so each backend runs in a subprocess
(skipped when its package is not installed, or when it is the backend of
this process). There, a tiny Split-VAE trains with Keras's own `fit` (gamma
must follow the balancing rule of the per-batch MSE), both stages of a tiny
two-stage VAE train, and weight files cross backends both ways: the file
this process writes decodes there as here, and the file written there
decodes here as there.
"""

import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

import keras_vaes as kv

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = dict(base_dim=8, emb_dim=16, num_scale=1, beta=2.0, seed=1)
SHAPE = (8, 8, 1)

SCRIPT = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import keras
    import keras_vaes as kv

    out, tiny = sys.argv[1], json.loads(sys.argv[2])
    shape, z = (8, 8, 1), np.load(out + "/z.npy")
    x = np.random.default_rng(0).random((30,) + shape).astype("float32")

    class Record(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.logs = []

        def on_train_batch_end(self, batch, logs=None):
            self.logs.append({k: float(logs[k]) for k in ("gamma", "mse", "loss")})

    # The file written by the parent's backend decodes as there.
    model = kv.build_svae(shape, 4, **tiny)
    assert model.load_weights(out + "/parent.weights.h5") is True
    decoded_parent = model.decode(z)["x_hat"]
    gamma_parent = model.gamma

    # Training from scratch with Keras's own fit.
    model = kv.build_svae(shape, 4, **tiny)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    record = Record()
    model.fit(x, batch_size=10, epochs=1, shuffle=False, verbose=0, callbacks=[record])
    model.save_weights(out + "/child.weights.h5")

    stages = kv.build_two_stage_vae(shape, 4, base_dim=8, num_scale=2, fc_dim=16,
                                    second_dim=16, seed=1)
    h1 = stages.fit_first_stage(x, 1, batch_size=10, verbose=0)
    h2 = stages.fit_second_stage(x, 1, batch_size=10, verbose=0)
    images = stages.generate(4, stage=2, seed=0)["x_hat"]

    np.savez(out + "/child.npz", decoded_parent=decoded_parent,
             decoded_child=model.decode(z)["x_hat"], images=images)
    with open(out + "/child.json", "w") as f:
        json.dump({"logs": record.logs, "gamma": model.gamma, "gamma_parent": gamma_parent,
                   "stage_losses": [h1.history["loss"][-1], h2.history["loss"][-1]],
                   "stage_gammas": [stages.first_stage.gamma, stages.second_stage.gamma]}, f)
    """
)


@pytest.mark.parametrize("backend", ["jax", "torch", "tensorflow"])
def test_train_and_cross_load_on_backend(backend, tmp_path):
    if backend == keras.backend.backend():
        pytest.skip("this process's backend: the rest of the suite covers it")
    pytest.importorskip(backend)
    # The parent's file: a model trained one step, so gamma < 1 is stored.
    parent = kv.build_svae(SHAPE, 4, **TINY)
    parent.compile(optimizer=keras.optimizers.Adam(1e-3))
    parent.fit(np.random.default_rng(1).random((10,) + SHAPE).astype("float32"),
               batch_size=10, epochs=1, verbose=0)
    parent.save_weights(str(tmp_path / "parent.weights.h5"))
    z = np.random.default_rng(2).normal(size=(5, 4)).astype("float32")
    np.save(tmp_path / "z.npy", z)

    script = tmp_path / "child.py"
    script.write_text(SCRIPT)
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3",
               PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    result = subprocess.run([sys.executable, str(script), str(tmp_path), json.dumps(TINY)],
                            capture_output=True, text=True, env=env, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    child = json.loads((tmp_path / "child.json").read_text())
    arrays = np.load(tmp_path / "child.npz")

    # Parent -> child: same decoded images (different kernels: float
    # round-off only) and the stored gamma.
    np.testing.assert_allclose(arrays["decoded_parent"], parent.decode(z)["x_hat"],
                               rtol=1e-5, atol=1e-6)
    assert child["gamma_parent"] == parent.gamma < 1.0

    # Child's training: gamma follows the rule of the per-batch MSE.
    logs = child["logs"]
    assert len(logs) == 3
    means = [log["mse"] for log in logs]
    batch_mse = [means[0]] + [(k + 1) * means[k] - k * means[k - 1] for k in (1, 2)]
    estimate, gamma = 1.0, 1.0
    for mse, log in zip(batch_mse, logs):
        estimate = 0.99 * estimate + 0.01 * mse
        gamma = min(gamma, estimate)
        assert log["gamma"] == pytest.approx(gamma, rel=1e-5)
    assert child["gamma"] == pytest.approx(gamma, rel=1e-5)
    assert all(np.isfinite(log["loss"]) for log in logs)

    # Child -> parent: the child's file decodes here as there, gamma included.
    loaded = kv.build_svae(SHAPE, 4, **TINY)
    assert loaded.load_weights(str(tmp_path / "child.weights.h5")) is True
    np.testing.assert_allclose(loaded.decode(z)["x_hat"], arrays["decoded_child"],
                               rtol=1e-5, atol=1e-6)
    assert loaded.gamma == pytest.approx(child["gamma"], rel=1e-7)

    # Both two-stage stages trained there; the second stage's gamma rule
    # ("two_stage") ran too.
    assert np.all(np.isfinite(child["stage_losses"]))
    assert child["stage_gammas"][0] < 1.0
    images = arrays["images"]
    assert images.shape == (4, 8, 8, 1) and 0.0 <= images.min() and images.max() <= 1.0
