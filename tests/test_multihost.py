"""Training on two hosts, simulated by two processes on 127.0.0.1, computes what one process does.

A real multi-host job starts one process per host; each joins the others
over the network and feeds only its own shard of the data. Here both hosts
are processes on this machine talking over the loopback interface on ports
chosen free at run time, each under a hard timeout:

- JAX: `keras.distribution.initialize(job_addresses="127.0.0.1:PORT",
  num_processes=2, process_id=i)` (JAX's coordination service; CPU
  collectives over gloo/TCP), then `keras.distribution.DataParallel` over
  the two processes' devices with `auto_shard_dataset=False`: each process
  passes its own half of every global batch to `fit`, and Keras assembles the
  global batch (`jax.make_array_from_process_local_data`).
- TensorFlow: `tf.distribute.MultiWorkerMirroredStrategy` from `TF_CONFIG`
  (two workers, gRPC and collective all-reduce on CPU); each worker's
  `tf.data.Dataset` holds its own shard only (auto-sharding off). Keras 3's
  `fit` cannot run under this strategy as released (its reduction of the
  scalar logs fails, tensorflow/tensorflow#72388): the worker replaces that
  one reduction, see SCRIPT. (`distribute_datasets_from_function`, the other
  way to feed per-worker data, is refused by keras_vaes's `fit` input check,
  which expects images or a `tf.data.Dataset`.)

The same tiny Split-VAE as in tests/test_distribution.py (seeded init,
SGD(2e-3), every global batch half blank images, half noise, the blank half
being process 0's shard) trains two epochs once in a single process on the
global batches of 20 and once on the two processes with 10 images each. The
per-step gamma, MSE and loss and the final weights must agree to the
two-device test's tolerances, and both processes must end with the same
weights.
"""

import json
import os
import socket
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Seconds one worker process may run (start, join, two epochs, save).
WORKER_TIMEOUT = 240

SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    import numpy as np

    backend, role, out = sys.argv[1], sys.argv[2], sys.argv[3]
    ports = [int(p) for p in sys.argv[4].split(",")]
    addresses = [f"127.0.0.1:{p}" for p in ports]
    rank = 0 if role == "single" else int(role)
    processes = 1 if role == "single" else 2

    if backend == "tensorflow":
        import tensorflow as tf

        if processes == 2:
            # TF_CONFIG must be in place before the strategy (the first TF
            # op) is created: the strategy starts this worker's gRPC server.
            os.environ["TF_CONFIG"] = json.dumps({
                "cluster": {"worker": addresses},
                "task": {"type": "worker", "index": rank},
            })
            strategy = tf.distribute.MultiWorkerMirroredStrategy()
            assert strategy.num_replicas_in_sync == 2, strategy.num_replicas_in_sync
            # Keras 3's fit fails under a multi-worker strategy: it reduces
            # every (scalar) log with strategy.reduce("MEAN", v, axis=0),
            # "ValueError: Invalid reduction dimension 0 for input with 0
            # dimensions" (tensorflow/tensorflow#72388, Keras 3.15). Reduce
            # them as the single-worker path does: the mean over replicas,
            # gathered across the workers.
            from keras.src.backend.tensorflow import trainer as tf_trainer

            keras_reduce = tf_trainer.reduce_per_replica

            def reduce_per_replica(values, strategy, reduction):
                if reduction not in ("auto", "mean") or not (
                        tf_trainer._collective_all_reduce_multi_worker(strategy)):
                    return keras_reduce(values, strategy, reduction)

                def mean(v):
                    one = strategy.run(lambda t: tf.reshape(t, [1]), args=(v,))
                    return tf.reduce_mean(strategy.gather(one, axis=0))

                return tf.nest.map_structure(mean, values)

            tf_trainer.reduce_per_replica = reduce_per_replica
        else:
            strategy = tf.distribute.get_strategy()
    import keras

    if backend == "jax" and processes == 2:
        # Before any JAX computation: joins the coordination service that
        # process 0 serves on addresses[0].
        keras.distribution.initialize(job_addresses=addresses[0], num_processes=2,
                                      process_id=rank)
        import jax

        assert jax.process_count() == 2 and jax.device_count() == 2, jax.devices()
        keras.distribution.set_distribution(keras.distribution.DataParallel(
            devices=keras.distribution.list_devices(), auto_shard_dataset=False))
    import keras_vaes as kv

    keras.utils.set_random_seed(0)
    x = np.random.default_rng(0).random((40, 16, 16, 1)).astype("float32")
    x[np.arange(40) % 20 < 10] = 0.0  # process 0's half of every global batch
    global_batch = 20
    half = global_batch // 2
    if processes == 2:
        # This process's shard: its half of each global batch, in order.
        x = np.concatenate([x[start + rank * half : start + (rank + 1) * half]
                            for start in range(0, len(x), global_batch)])

    class Record(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.logs = []

        def on_train_batch_end(self, batch, logs=None):
            self.logs.append({k: float(logs[k]) for k in ("gamma", "mse", "loss")})

    def build():
        model = kv.build_svae((16, 16, 1), 4, base_dim=8, emb_dim=16, num_scale=2,
                              beta=2.0, seed=1)
        model.compile(optimizer=keras.optimizers.SGD(2e-3))
        return model

    if backend == "tensorflow":
        with strategy.scope():
            model = build()
        if processes == 2:
            # This worker's own images only, batched by the global batch size
            # as tf.distribute expects; with auto-sharding off, the strategy
            # splits each batch of 20 into per-replica batches of 10, which
            # this worker's one replica takes in turn: its half of each
            # global batch.
            data = tf.data.Dataset.from_tensor_slices(x).batch(global_batch).repeat()
            options = tf.data.Options()
            options.experimental_distribute.auto_shard_policy = (
                tf.data.experimental.AutoShardPolicy.OFF)
            # Repeated, with the steps of one epoch given: Keras would count
            # the batches of 20 (one), and keeps one iterator over epochs.
            fit_kwargs = dict(x=data.with_options(options), steps_per_epoch=len(x) // half)
        else:
            fit_kwargs = dict(x=x, batch_size=global_batch)
    else:
        model = build()
        fit_kwargs = dict(x=x, batch_size=global_batch // processes)  # JAX: the local half
    record = Record()
    start = model.get_weights()
    model.fit(epochs=2, shuffle=False, verbose=0, callbacks=[record], **fit_kwargs)
    end = model.get_weights()
    np.savez(os.path.join(out, f"{role}.npz"), *(start + end))
    with open(os.path.join(out, f"{role}.json"), "w") as f:
        json.dump({"logs": record.logs, "n": len(end)}, f)
    """
)


def _free_ports(n):
    """n distinct TCP ports on 127.0.0.1 that are free now."""
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _run(backend, tmp_path):
    pytest.importorskip(backend)
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3",
               PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    for name in ("TF_CONFIG", "XLA_FLAGS", "KERAS_DISTRIBUTION_JOB_ADDRESSES"):
        env.pop(name, None)
    script = tmp_path / "multihost.py"
    script.write_text(SCRIPT)
    ports = ",".join(map(str, _free_ports(2)))
    # The single-process reference and the two workers run at once.
    procs = {
        role: subprocess.Popen([sys.executable, str(script), backend, role, str(tmp_path), ports],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        for role in ("single", "0", "1")
    }
    deadline = time.monotonic() + WORKER_TIMEOUT
    failures = []
    try:
        for role, proc in procs.items():
            try:
                output, _ = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                output, _ = proc.communicate()
                failures.append(f"{role}: timed out after {WORKER_TIMEOUT} s\n{output[-3000:]}")
                continue
            if proc.returncode != 0:
                failures.append(f"{role}: exit {proc.returncode}\n{output[-3000:]}")
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert not failures, "\n\n".join(failures)
    results = {}
    for role in procs:
        info = json.loads((tmp_path / f"{role}.json").read_text())
        arrays = np.load(tmp_path / f"{role}.npz")
        arrays = [arrays[f"arr_{i}"] for i in range(len(arrays.files))]
        n = info["n"]
        results[role] = info["logs"], arrays[:n], arrays[n:]
    return results


def _check(results):
    one, w_start, w_one = results["single"]
    two, w_start_two, w_two = results["0"]
    two_b, w_start_b, w_two_b = results["1"]
    assert len(one) == len(two) == len(two_b) == 4
    # Every process starts from the same initial weights (seeded build).
    for a, b, c in zip(w_start, w_start_two, w_start_b):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)
    gammas = [step["gamma"] for step in one]
    assert gammas[-1] < gammas[0] < 1.0  # gamma moved
    for step_one, step_two, step_b in zip(one, two, two_b):
        # Tolerances as in tests/test_distribution.py (the two-device test).
        for key, rtol in (("gamma", 1e-4), ("mse", 1e-3), ("loss", 1e-3)):
            np.testing.assert_allclose(step_two[key], step_one[key], rtol=rtol, err_msg=key)
            np.testing.assert_allclose(step_b[key], step_one[key], rtol=rtol, err_msg=key)
    # gamma from the global batch MSE, by hand (as in the two-device test):
    # a process updating it from its own shard's MSE would differ at step 1.
    means = [step["mse"] for step in two[:2]]
    batch = [means[0], 2 * means[1] - means[0]]
    estimate, gamma = 1.0, 1.0
    for mse, step in zip(batch, two[:2]):
        estimate = 0.99 * estimate + 0.01 * mse
        gamma = min(gamma, estimate)
        assert step["gamma"] == pytest.approx(gamma, rel=1e-6)
    assert len(w_start) == len(w_one) == len(w_two) == len(w_two_b)
    moved = 0
    for a0, a, b, c in zip(w_start, w_one, w_two, w_two_b):
        update = np.linalg.norm(a - a0)
        moved += update > 0
        assert np.linalg.norm(b - a) <= 1e-2 * update + 1e-6, (a.shape, np.linalg.norm(b - a), update)
        # The two processes hold one model: their copies agree to round-off.
        assert np.linalg.norm(c - b) <= 1e-5 * np.linalg.norm(b) + 1e-6, a.shape
    assert moved > len(w_start) // 2


@pytest.mark.slow
def test_jax_two_processes_match_one_process(tmp_path):
    _check(_run("jax", tmp_path))


@pytest.mark.slow
def test_tensorflow_multi_worker_mirrored_matches_one_process(tmp_path):
    _check(_run("tensorflow", tmp_path))
