"""The GAMIX-VAE, flow-prior VAE and (Prior-)AAE train on JAX and PyTorch too.

Each backend runs in a subprocess (the backend is fixed per process; skipped
when its package is missing or it is this process's backend). One `fit`
step must change every network of each model (the encoder, decoder and
discriminator of GAMIX; the encoder, decoder and flow of the FP-VAE; the
autoencoder, discriminator and code generator of the Prior-AAE) and leave
every weight finite.
"""

import json
import os
import subprocess
import sys
import textwrap

import keras
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SCRIPT = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import keras
    import keras_vaes as kv

    def changed(model, networks, x):
        before = {n: [np.array(w) for w in getattr(model, n).get_weights()] for n in networks}
        model.compile()
        model.fit(x, batch_size=8, epochs=1, verbose=0)
        result = {}
        for n in networks:
            after = getattr(model, n).get_weights()
            result[n] = bool(any(np.any(a != b) for a, b in zip(after, before[n])))
        result["finite"] = bool(all(np.all(np.isfinite(w)) for w in model.get_weights()))
        return result

    rng = np.random.default_rng(0)
    unit = rng.random((16, 8, 8, 1)).astype("float32")
    out = {
        "gamix": changed(
            kv.build_gamix_vae((8, 8, 1), 8, filters=4, discriminator_filters=4,
                               discriminator_strides=(2, 1, 1, 1, 1, 1)),
            ["encoder", "decoder", "discriminator"], 2.0 * unit - 1.0),
        "fp_vae": changed(
            kv.build_flow_prior_vae((8, 8, 1), 2, beta=0.0, num_couplings=2, hidden_units=8,
                                    filters=(4, 8), dense_units=16, seed=0),
            ["encoder", "decoder", "prior"], unit),
        "prior_aae": changed(
            kv.build_prior_aae((8, 8, 1), 2, filters=(4, 8), dense_units=16,
                               discriminator_units=(8,), generator_units=(8,), seed=0),
            ["encoder", "decoder", "discriminator", "code_generator"], unit),
    }
    print("RESULT" + json.dumps(out))
    """
)


@pytest.mark.parametrize("backend", ["jax", "torch", "tensorflow"])
def test_new_models_train_on_backend(backend, tmp_path):
    if backend == keras.backend.backend():
        pytest.skip("this process's backend: tests/test_gamix.py, test_flow_prior.py, test_prior_aae.py cover it")
    pytest.importorskip(backend)
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=ROOT)
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                            env=env, timeout=900, cwd=str(tmp_path))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    line = [l for l in result.stdout.splitlines() if l.startswith("RESULT")][-1]
    out = json.loads(line[len("RESULT"):])
    for model, networks in out.items():
        assert networks.pop("finite"), f"{model} on {backend}: non-finite weights"
        assert all(networks.values()), f"{model} on {backend}: unchanged networks {networks}"
