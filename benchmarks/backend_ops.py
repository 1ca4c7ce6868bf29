"""Where each Keras backend's training time goes: the paper Split-VAE's layers, one by one.

For the paper MNIST Split-VAE (batch 100), every distinct convolution of
the network (Conv2D / Conv2DTranspose; same input shape, filters, kernel
and strides counted once, with how many times it occurs), plus its batch
norm, is timed on its own as a training step runs it: the forward pass and
the gradients with respect to the input and the kernel, through the Keras
layer itself (so each backend lowers it exactly as in the model), compiled
the way the backend's `fit` compiles it (TensorFlow: `tf.function`; JAX:
`jax.jit` of `stateless_call` under `jax.vjp`; PyTorch: eager autograd).
Summed over the network and set beside the whole `fit` step of the same
worker, it says how much of a step is convolution, per backend, and which
convolutions a backend is slow at.

Each backend setting runs in its own worker process (XLA flags and thread
pools are fixed per process); the workers stay alive and the timed rounds
are interleaved across them (round r times every worker once), so a
change of machine load falls on all alike. The table gives the median
round and the spread (max/min - 1) per setting.

Settings: `tensorflow`, `jax` (XLA's defaults), `torch` (eager); with
`--jax-flags`, one more JAX worker per XLA_FLAGS string (e.g. oneDNN's
`--xla_cpu_use_onednn=true`); a flag this jaxlib does not know is
reported, not fatal. With `--jax-keras-strided`, each JAX setting once more
with `keras_vaes.layers.conv`'s strided rewrite off (Keras's own strided and
transposed convolutions): whether the rewrite still pays under those flags.

Usage:
    python benchmarks/backend_ops.py
    python benchmarks/backend_ops.py --backends tensorflow,jax --rounds 3
    python benchmarks/backend_ops.py --jax-flags="--xla_cpu_use_onednn=true"
    python benchmarks/backend_ops.py --quick      # tiny network, a smoke run
"""

import argparse
import json
import os
import subprocess
import sys
import time

_REPLY = "@@result "

CONFIGS = {
    "mnist": dict(input_shape=(32, 32, 1), latent_dim=32, beta=8.0),
    "quick": dict(input_shape=(16, 16, 1), latent_dim=8, base_dim=8, emb_dim=16, num_scale=2),
}


def positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, received {text!r}")
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, received {text!r}")
    return value


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backends", default="tensorflow,jax,torch",
                        help="comma-separated Keras backends (default tensorflow,jax,torch)")
    parser.add_argument("--jax-flags", action="append", default=[],
                        help="an extra JAX worker with this XLA_FLAGS (repeatable)")
    parser.add_argument("--rounds", type=positive_int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--repeats", type=positive_int, default=3,
                        help="best of this many calls per layer and round (default 3)")
    parser.add_argument("--batch-size", type=positive_int, default=100)
    parser.add_argument("--steps", type=positive_int, default=3, help="timed fit steps per round (default 3)")
    parser.add_argument("--jax-nchw", action="store_true",
                        help="JAX workers also time each Conv2D as a channels-first "
                             "lax.conv_general_dilated (NCHW / OIHW), the layout question")
    parser.add_argument("--jax-keras-strided", action="store_true",
                        help="each JAX setting also runs with keras_vaes.layers.conv's strided "
                             "rewrite off (Keras's own strided and transposed convolutions)")
    parser.add_argument("--quick", action="store_true", help="the tiny 16x16 network: a smoke run")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON to FILE")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--no-rewrite", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    known = {"tensorflow", "jax", "torch"}
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = [b for b in backends if b not in known]
    if unknown or not backends:
        parser.error(f"--backends takes names from {sorted(known)}; received {args.backends!r}")
    args.backend_list = backends
    return args


# --- worker -----------------------------------------------------------------


def _conv_layers(model):
    import keras

    found = {}
    for layer in _walk(model):
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.Conv2DTranspose)):
            key = (type(layer).__name__, tuple(layer.input.shape[1:]), layer.filters,
                   tuple(layer.kernel_size), tuple(layer.strides))
            found.setdefault(key, []).append(layer)
    return found


def _walk(layer):
    yield layer
    for child in getattr(layer, "layers", []) or []:
        yield from _walk(child)


def _layer_step(layer, x):
    """A zero-argument callable running forward + input and kernel gradients of `layer` on `x`."""
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        x = tf.constant(x)

        @tf.function
        def step():
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = layer(x)
                loss = tf.reduce_sum(y * y)
            return tape.gradient(loss, [x, layer.kernel])

        return lambda: [g.numpy() for g in step()]
    if backend == "jax":
        import jax
        import jax.numpy as jnp

        # Copies: `fit` donates the variables' buffers to its step.
        trainable = [jnp.array(v.value) for v in layer.trainable_variables]
        non_trainable = [jnp.array(v.value) for v in layer.non_trainable_variables]
        x = jnp.asarray(x)

        def loss(weights, inputs):
            y, _ = layer.stateless_call(weights, non_trainable, inputs)
            return jnp.sum(y * y)

        grad = jax.jit(jax.grad(loss, argnums=(0, 1)))
        return lambda: jax.block_until_ready(grad(trainable, x))
    import torch

    x = torch.tensor(x, requires_grad=True)

    def step():
        x.grad = None
        layer.kernel.value.grad = None
        y = layer(x)
        (y * y).sum().backward()
        return x.grad

    return step


def _jax_nchw_step(layer, x):
    """Forward + both gradients of a Conv2D `layer` computed channels-first in JAX."""
    import jax
    import jax.numpy as jnp

    x = jnp.asarray(x.transpose(0, 3, 1, 2))  # NHWC -> NCHW, outside the timed call
    kernel = jnp.asarray(layer.kernel.numpy()).transpose(3, 2, 0, 1)  # HWIO -> OIHW

    def loss(w, inputs):
        y = jax.lax.conv_general_dilated(inputs, w, layer.strides, "SAME",
                                         dimension_numbers=("NCHW", "OIHW", "NCHW"))
        return jnp.sum(y * y)

    grad = jax.jit(jax.grad(loss, argnums=(0, 1)))
    return lambda: jax.block_until_ready(grad(kernel, x))


def _best_seconds(fn, repeats):
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def serve(args):
    import keras
    import numpy as np

    from keras_vaes import build_svae

    config = "quick" if args.quick else "mnist"
    if args.no_rewrite:
        from keras_vaes.layers import conv

        conv.Conv2D.rewrite = conv.Conv2DTranspose.rewrite = False
    keras.utils.set_random_seed(0)
    model = build_svae(seed=0, **CONFIGS[config])
    model.compile(optimizer=keras.optimizers.Adam(1e-4))
    rng = np.random.default_rng(0)
    batch = args.batch_size
    images = rng.random((batch * (args.steps + 1),) + CONFIGS[config]["input_shape"], dtype="float32")

    convs = _conv_layers(model)
    runners = {}
    for key, layers in convs.items():
        layer = layers[0]
        x = rng.standard_normal((batch,) + key[1]).astype("float32")
        fn = _layer_step(layer, x)
        fn()  # trace / compile
        kind, shape, filters, kernel, strides = key
        flop = 2 * batch * np.prod(layer.output.shape[1:3] if kind == "Conv2D" else shape[:2]) \
            * np.prod(kernel) * shape[-1] * filters
        nchw = None
        if args.jax_nchw and keras.backend.backend() == "jax" and kind == "Conv2D":
            nchw = _jax_nchw_step(layer, x)
            nchw()
        runners[key] = (fn, len(layers), 3 * float(flop), nchw)  # forward + 2 gradients

    step_times = []

    class Timer(keras.callbacks.Callback):
        def on_train_batch_end(self, index, logs=None):
            step_times.append(time.perf_counter())

    model.fit(images[: 2 * batch], batch_size=batch, epochs=1, verbose=0)  # trace
    print(_REPLY + json.dumps({"ready": True, "layers": len(convs)}), flush=True)
    for line in sys.stdin:
        if line.strip() != "round":
            break
        layers = []
        for key, (fn, count, flop, nchw) in runners.items():
            seconds = _best_seconds(fn, args.repeats)
            kind, shape, filters, kernel, strides = key
            layers.append(dict(layer=f"{kind} {shape[0]}x{shape[1]}x{shape[2]}->{filters} "
                                     f"k{kernel[0]} s{strides[0]}",
                               count=count, ms=1e3 * seconds, gflops=flop / seconds / 1e9,
                               nchw_ms=None if nchw is None else 1e3 * _best_seconds(nchw, args.repeats)))
        step_times.clear()
        model.fit(images, batch_size=batch, epochs=1, verbose=0, shuffle=False, callbacks=[Timer()])
        per_step = float(np.median(np.diff(step_times))) if len(step_times) > 2 else float("nan")
        print(_REPLY + json.dumps({"layers": layers, "step_ms": 1e3 * per_step}), flush=True)


# --- driver -----------------------------------------------------------------


def _read_reply(proc):
    for line in proc.stdout:
        if line.startswith(_REPLY):
            return json.loads(line[len(_REPLY):])
    return None


def _settings(args):
    """(row name, backend, extra environment, extra worker arguments) per worker."""
    # Each JAX row runs exactly its XLA_FLAGS (none: XLA's defaults): `import keras_vaes` adds nothing.
    no_package_flags = {"KERAS_VAES_NO_XLA_FLAGS": "1"}
    settings = [(backend, backend, dict(no_package_flags) if backend == "jax" else {}, [])
                for backend in args.backend_list]
    for flags in args.jax_flags:
        settings.append((f"jax {flags}", "jax", {"XLA_FLAGS": flags, **no_package_flags}, []))
    if args.jax_keras_strided:
        settings += [(f"{name}, Keras strided convs", backend, env, ["--no-rewrite"])
                     for name, backend, env, _ in list(settings) if backend == "jax"]
    return settings


def main(argv=None):
    args = parse_args(argv)
    if args.worker:
        return serve(args)
    worker_argv = [sys.executable, os.path.abspath(__file__), "--worker",
                   *(["--jax-nchw"] if args.jax_nchw else []),
                   "--repeats", str(args.repeats), "--batch-size", str(args.batch_size),
                   "--steps", str(args.steps), *(["--quick"] if args.quick else [])]
    workers = {}
    for name, backend, extra_env, extra_argv in _settings(args):
        start = time.perf_counter()
        env = {**os.environ, "KERAS_BACKEND": backend, **extra_env}
        proc = subprocess.Popen(worker_argv + extra_argv, env=env, text=True, stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE)
        reply = _read_reply(proc)
        if reply is None:
            print(f"# {name}: the worker did not start (see its error above); left out", flush=True)
            continue
        workers[name] = proc
        print(f"# {name}: {reply['layers']} distinct convolutions, ready in "
              f"{time.perf_counter() - start:.0f} s", flush=True)
    if not workers:
        raise SystemExit("no worker started")
    results = {name: [] for name in workers}
    names = list(workers)
    for r in range(args.rounds):
        order = names[r % len(names):] + names[: r % len(names)]
        for name in order:
            proc = workers[name]
            if proc.poll() is not None:
                continue
            proc.stdin.write("round\n")
            proc.stdin.flush()
            reply = _read_reply(proc)
            if reply is None:
                print(f"# {name}: the worker died in round {r}", flush=True)
                proc.wait()
                continue
            results[name].append(reply)
            total = sum(layer["ms"] * layer["count"] for layer in reply["layers"])
            print(f"# round {r} {name}: convolutions {total:.0f} ms, fit step {reply['step_ms']:.0f} ms",
                  flush=True)
    for proc in workers.values():
        if proc.poll() is None:
            proc.stdin.close()
            proc.wait(timeout=60)
    report(results, args)


def _median(values):
    values = sorted(values)
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else 0.5 * (values[mid - 1] + values[mid])


def report(results, args):
    import platform

    names = [name for name in results if results[name]]
    if not names:
        raise SystemExit("no round finished")
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                if line.startswith("model name")), platform.processor())
    print(f"\nCPU: {cpu}, {os.cpu_count()} cores; batch {args.batch_size}; "
          f"median of {args.rounds} interleaved rounds (best of {args.repeats} calls per layer)\n")
    reference = names[0]
    layer_names = [layer["layer"] for layer in results[reference][0]["layers"]]
    header = "| layer (forward + both gradients) | count | " + " | ".join(
        f"{name} ms" for name in names) + " | " + " | ".join(
        f"{name} / {reference}" for name in names[1:]) + " |"
    print(header)
    print("|" + "---|" * (2 + 2 * len(names) - 1))
    medians = {}
    for i, layer_name in enumerate(layer_names):
        row = {}
        for name in names:
            row[name] = _median([rnd["layers"][i]["ms"] for rnd in results[name]])
        medians[layer_name] = row
        count = results[reference][0]["layers"][i]["count"]
        cells = [f"{row[n]:.1f}" for n in names] + [f"{row[n] / row[reference]:.2f}" for n in names[1:]]
        print(f"| {layer_name} | {count} | " + " | ".join(cells) + " |")
    print()
    print("| setting | convolutions per step, ms (sum x count) | fit step, ms | convolution share | "
          "step spread (max/min - 1) | step / " + reference + " |")
    print("|---|---|---|---|---|---|")
    summary = {}
    for name in names:
        conv_total = [sum(layer["ms"] * layer["count"] for layer in rnd["layers"]) for rnd in results[name]]
        steps = [rnd["step_ms"] for rnd in results[name]]
        summary[name] = dict(conv_ms=_median(conv_total), step_ms=_median(steps),
                             spread=max(steps) / min(steps) - 1)
    for name in names:
        s = summary[name]
        print(f"| {name} | {s['conv_ms']:.0f} | {s['step_ms']:.0f} | {s['conv_ms'] / s['step_ms']:.0%} | "
              f"{s['spread']:.1%} | {s['step_ms'] / summary[reference]['step_ms']:.2f} |")
    for name in names:
        if results[name][0]["layers"][0].get("nchw_ms") is None and not any(
                layer.get("nchw_ms") for layer in results[name][0]["layers"]):
            continue
        print(f"\n{name}: each Conv2D as the Keras layer lowers it (NHWC / HWIO) and channels-first "
              f"(NCHW / OIHW), ms, median of rounds\n")
        print("| layer | NHWC (Keras) | NCHW | NCHW / NHWC |")
        print("|---|---|---|---|")
        for i, layer_name in enumerate(layer_names):
            values = [rnd["layers"][i].get("nchw_ms") for rnd in results[name]]
            if values[0] is None:
                continue
            nhwc, nchw = medians[layer_name][name], _median(values)
            print(f"| {layer_name} | {nhwc:.1f} | {nchw:.1f} | {nchw / nhwc:.2f} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"cpu": cpu, "results": results, "summary": summary}, f, indent=1)


if __name__ == "__main__":
    main()
