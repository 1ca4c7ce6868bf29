"""Training (and predict-path) throughput of the paper's Split-VAE on CPU.

Issue 5: images/s of one training step of the paper configurations
(MNIST 32x32x1, latent 32, beta 8; CIFAR-10 32x32x3, latent 200, beta 3),
batch 100, on random data in [0, 1], after warm-up, median of `--repeats`
repeats of `--steps` timed steps. One run prints, per configuration:

- the package's default path, what users get: `model.compile(Adam(1e-3))`
  then `model.fit(x, epochs=1, batch_size=100, verbose=0)`, timed between
  consecutive `on_train_batch_end` callbacks (data adapter, metrics,
  balancing and callbacks included; the first `--warmup` steps excluded);
- a plain reference: the same network trained by a minimal `tf.function`
  GradientTape loop written here (loss 0.5*sum((x-x_hat)^2)/gamma + beta*KL,
  Adam, fixed in-memory batch), and the ratio default/reference;
- variants side by side, measured in the same process and interleaved
  repeat by repeat (the machine may be shared: interleaving spreads the
  load evenly, and CPU seconds per image are printed next to wall time);
- FLOPs per training image counted from the layer shapes (2 * MACs forward,
  x3 for a training step), achieved GFLOP/s, and peak RSS;
- the float32 arithmetic ceiling of this machine, measured in the same
  run (best of a 4096^3 matmul and a 3x3 convolution with 512 channels),
  the images/s it allows for this model, and the fraction reached;
- with `--predict`, `encode` and `decode` (generation) of 10,000 images;
- with `--profile`, where the time of a default training step goes, from
  the backend's own profiler around `fit` of `--steps` batches (after a
  warm-up `fit`), in ms per step per group of ops, the wall time per step
  under the profiler and the ten costliest ops:
  TensorFlow: `tf.profiler`'s per-op self time, grouped by pass and kernel
  (convolutions: forward, input gradients, weight gradients; dense; batch
  norm; activation kernels; optimizer; other);
  JAX: `jax.profiler.trace`, the self time of each XLA CPU thunk (one HLO
  instruction: a fusion, a convolution, a dot...), grouped into the same
  groups from the compiled HLO of the train step (opcode, fused ops, JAX
  source path: `transpose(jvp(...))` is the backward pass; a weight
  gradient, whose fusion often loses its path, is told by its kernel-shaped
  output), with the convolutions' time per kernel (XLA's own or YNNPACK's);
  PyTorch: `torch.profiler`, self CPU time per aten op (conv forward; conv
  backward, one kernel for both gradients; layout copies, `.contiguous()`
  NHWC -> NCHW before each conv; dense; batch norm and the
  optimizer, told apart by `record_function` labels; activation kernels;
  other). On JAX and PyTorch the TensorFlow-only variants (`reference`,
  `keras_bn`, `train_function`, `keras2_authors`) are not run unless asked
  for (then the script stops).

Process-wide settings (oneDNN, thread pools) cannot change inside one
process: `--env-variants` reruns this script once per setting and prints
those rows too.

With `--backend tensorflow,jax,torch` it runs the package's default path
(`fit`) on each Keras backend, each in its own worker process (the backend
is fixed per process), with each backend's settings side by side
(TensorFlow: fused BN, and the authors' Keras 2 loop; JAX: XLA, Keras's
default there; PyTorch: eager, Keras's default there), and prints one
table. The workers are built and warmed up one after the other, then stay
alive while the timed windows are interleaved across backends (window r
runs every backend once, the order rotating by one each window), so that
a change of machine load falls on every backend alike; the table gives the
median window and the spread (min-max of the windows, and max/min - 1),
images per CPU-second, and each backend's ratio to TensorFlow's `fit` and
to the authors' loop. Peak resident memory (`ru_maxrss`) is measured in
fresh child processes per backend, one per phase: one training epoch
(`--epoch-images` random images, batch 100) and the evaluation of
`--eval-images` (10,000) images as `evaluate_split_vae` does it (encode,
REC/GEN/GMM-20/GMM-100 decodes, the MNIST classifier's FD on x_hat, x1, x2
and mix); each prints its RSS after imports, its peak and its seconds.
`--jax-xla-flags FLAGS` adds a JAX row whose worker runs with
`XLA_FLAGS=FLAGS` (an environment variable XLA reads once per process),
interleaved with the others; e.g.
`--xla_cpu_experimental_ynn_fusion_type=-individual_convolution` takes
convolutions away from jaxlib's YNNPACK (1.8x faster here; docs/performance.md).
`--quick` is a smoke run of every code path on a tiny Split-VAE (16x16,
as in the tests; not the paper network, no authors' loop): two windows of
two steps, 200 training and 500 evaluation images, about two minutes for
the three backends on 2 cores. On PyTorch,
`jit_compile=True` (torch.compile) was tried on this 2-core CPU machine: a
run of one step compiled for about 7 minutes and then failed inside
torch's conv2d, so it is not a variant here (`--variants jit` on a
single-backend run still tries it).

Usage:
    python benchmarks/train_throughput.py --backend tensorflow,jax,torch
    python benchmarks/train_throughput.py --backend tensorflow,jax,torch --quick
    python benchmarks/train_throughput.py --backend tensorflow,jax,torch \
        --jax-xla-flags=--xla_cpu_experimental_ynn_fusion_type=-individual_convolution
    python benchmarks/train_throughput.py --config mnist
    python benchmarks/train_throughput.py --config all --repeats 5 --steps 10
    python benchmarks/train_throughput.py --variants fit,reference,keras2_authors
    python benchmarks/train_throughput.py --variants fit,reference,keras_bn,jit
    python benchmarks/train_throughput.py --profile --no-predict
    KERAS_BACKEND=jax python benchmarks/train_throughput.py --profile --no-predict --no-peak --steps 3
    KERAS_BACKEND=torch python benchmarks/train_throughput.py --profile --no-predict --no-peak --steps 3
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time

from profiling import PROFILERS  # benchmarks/profiling/, beside this script

CONFIG_NAMES = ("mnist", "cifar10", "tiny")
# A tiny Split-VAE (as in the tests), `--quick`'s: a smoke run of every code
# path in about a minute per backend. Not a paper network; not in "all".
TINY_CONFIG = dict(input_shape=(16, 16, 1), latent_dim=4, beta=2.0, base_dim=8, emb_dim=16,
                   num_scale=2)


def model_config(name):
    """`build_svae` arguments of `name`: the paper's (`keras_vaes.configs.split_vae`) or the tiny one.

    Imported when asked, not at the top: Keras loads its backend on import,
    and this script chooses the backend first.
    """
    if name == "tiny":
        return dict(TINY_CONFIG)
    from keras_vaes.configs.split_vae import model_kwargs

    return model_kwargs(name)


PAPER_CONFIGS = ["mnist", "cifar10"]

# name -> help. "fit" is the package default, "reference" the plain loop.
VARIANTS = {
    "fit": "package default: compile(Adam) + fit (fused BN)",
    "reference": "plain tf.function GradientTape loop, same network",
    "keras_bn": "reference loop, network with keras.layers.BatchNormalization",
    "jit": "fit with compile(jit_compile=True) (XLA)",
    "spe": "fit with compile(steps_per_execution=STEPS)",
    "train_function": "model.train_function called per batch (no fit loop)",
    "keras2_authors": "the authors' Keras 2 script: tf_keras functional model + add_loss, "
    "train_on_batch loop (needs `pip install tf-keras`)",
}
# Variants written with TensorFlow itself (tf.function, tf.data, tf_keras).
TF_ONLY_VARIANTS = {"reference", "keras_bn", "train_function", "keras2_authors"}
ENV_VARIANTS = {
    "onednn_off": ({"TF_ENABLE_ONEDNN_OPTS": "0"}, []),
    "inter_op_1": ({}, ["--inter-op", "1"]),
    "intra_op_1": ({}, ["--intra-op", "1"]),
    "mixed_bfloat16": ({}, ["--dtype-policy", "mixed_bfloat16"]),
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Variants: "
        + "; ".join(f"{k}: {v}" for k, v in VARIANTS.items())
        + ". Env variants: "
        + ", ".join(ENV_VARIANTS),
    )
    parser.add_argument("--config", choices=[*CONFIG_NAMES, "all"], default="mnist")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--steps", type=int, default=5, help="timed steps per repeat (default 5)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps per repeat (default 2)")
    parser.add_argument("--repeats", type=int, default=3, help="repeats; the median is reported (default 3)")
    parser.add_argument(
        "--variants",
        default=None,
        help="comma-separated in-process variants (default fit,reference on TensorFlow, fit on "
        "the other backends; 'all' for every one)",
    )
    parser.add_argument(
        "--env-variants",
        default="",
        help="comma-separated process-wide variants run as subprocesses ('all' for every one)",
    )
    parser.add_argument("--jit", action=argparse.BooleanOptionalAction, default=False,
                        help="also compile the default path with jit_compile=True (same as variant 'jit')")
    parser.add_argument("--predict", action=argparse.BooleanOptionalAction, default=True,
                        help="measure encode/decode of --predict-images images (default on)")
    parser.add_argument("--predict-images", type=int, default=10000)
    parser.add_argument("--profile", action="store_true",
                        help="profile --steps default training steps and print where the time goes")
    parser.add_argument("--peak", action=argparse.BooleanOptionalAction, default=True,
                        help="measure the machine's float32 arithmetic ceiling (default on)")
    parser.add_argument("--inter-op", type=int, default=0, help="tf inter-op threads (0: TF default)")
    parser.add_argument("--dtype-policy", default=None,
                        help="keras dtype policy, e.g. mixed_bfloat16 (changes the numerics)")
    parser.add_argument("--intra-op", type=int, default=0, help="tf intra-op threads (0: TF default)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--backend", default="",
                        help="comma-separated Keras backends (tensorflow,jax,torch): run the "
                        "default path on each, one subprocess per backend, and print one table")
    parser.add_argument("--jax-xla-flags", action="append", default=[], metavar="FLAGS",
                        help="--backend mode: one more JAX row, its worker run with XLA_FLAGS=FLAGS "
                        "(repeatable), e.g. "
                        "--jax-xla-flags=--xla_cpu_experimental_ynn_fusion_type=-individual_convolution")
    parser.add_argument("--json", action="store_true", help="print one JSON line of results only")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 2 windows x 2 steps after 1 warm-up, 200 training and 500 "
                        "evaluation images in the memory phases")
    parser.add_argument("--memory", action=argparse.BooleanOptionalAction, default=True,
                        help="--backend mode: peak memory of one epoch and of the evaluation (default on)")
    parser.add_argument("--epoch-images", type=int, default=2000,
                        help="images of the epoch whose peak memory is measured (default 2000)")
    parser.add_argument("--eval-images", type=int, default=10000,
                        help="images of the evaluation whose peak memory is measured (default 10000)")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)  # a --backend worker
    parser.add_argument("--memory-phase", choices=["train", "evaluate"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.warmup, args.repeats = 2, 1, 2
        args.epoch_images, args.eval_images = 200, 500
        args.config = "tiny"
    # Unasked-for TensorFlow-only variants are dropped on the other backends (main).
    args.default_variants = args.variants in (None, "all")
    if args.variants is None:
        args.variants = "fit,reference"
    if args.variants == "all":
        args.variants = ",".join(VARIANTS)
    args.variants = [v for v in args.variants.split(",") if v]
    if args.jit and "jit" not in args.variants:
        args.variants.append("jit")
    unknown = set(args.variants) - set(VARIANTS)
    if unknown:
        parser.error(f"unknown variants {sorted(unknown)}; choose from {list(VARIANTS)}")
    if args.env_variants == "all":
        args.env_variants = ",".join(ENV_VARIANTS)
    args.env_variants = [v for v in args.env_variants.split(",") if v]
    unknown = set(args.env_variants) - set(ENV_VARIANTS)
    if unknown:
        parser.error(f"unknown env variants {sorted(unknown)}; choose from {list(ENV_VARIANTS)}")
    return args


def _progress(message):
    print(f"# {message}", file=sys.stderr, flush=True)


# --- FLOPs ------------------------------------------------------------------


def forward_macs(model):
    """Multiply-accumulates of one image's forward pass, from layer shapes.

    Conv2D: out_h * out_w * k_h * k_w * c_in * c_out; Conv2DTranspose:
    in_h * in_w * k_h * k_w * c_in * c_out (each input pixel scatters one
    kernel); Dense: in * out. BN, activations and additions are not counted
    (they are memory-bound, < 1% of the arithmetic).
    """
    import keras

    macs = 0
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if isinstance(layer, keras.layers.Conv2DTranspose):
            _, h, w, cin = layer.input.shape
            kh, kw = layer.kernel_size
            macs += h * w * kh * kw * cin * layer.filters
        elif isinstance(layer, keras.layers.Conv2D):
            _, h, w, _ = layer.output.shape
            cin = layer.input.shape[-1]
            kh, kw = layer.kernel_size
            macs += h * w * kh * kw * cin * layer.filters
        elif isinstance(layer, keras.layers.Dense):
            macs += layer.input.shape[-1] * layer.units
    return macs


# --- Timing -----------------------------------------------------------------


class _Clock:
    def __init__(self):
        self.wall, self.cpu = [], []

    def tick(self):
        self.wall.append(time.perf_counter())
        self.cpu.append(time.process_time())

    def rates(self, warmup, images_per_tick):
        import numpy as np

        wall = np.diff(self.wall[warmup:])
        cpu = np.diff(self.cpu[warmup:])
        n = images_per_tick * len(wall)
        return n / wall.sum(), n / cpu.sum()


def _make_fit_runner(model, x, batch, warmup, per_tick=1):
    import keras

    clock = _Clock()
    start_state = []  # weights and optimizer slots after the first (untimed) run

    class Timer(keras.callbacks.Callback):
        def on_train_batch_end(self, batch_index, logs=None):
            clock.tick()

    def run():
        # Every timed window starts from the same state: on random data,
        # windows chained one after another can drift into divergence.
        if start_state:
            model.set_weights(start_state[0])
            for variable, value in zip(model.optimizer.variables, start_state[1]):
                variable.assign(value)
        clock.__init__()
        model.fit(x, epochs=1, batch_size=batch, verbose=0, shuffle=False, callbacks=[Timer()])
        if not start_state:
            start_state[:] = [model.get_weights(),
                              [keras.ops.convert_to_numpy(v) for v in model.optimizer.variables]]
        return clock.rates(warmup, batch * per_tick)

    return run


def _make_train_function_runner(model, x, batch, warmup):
    import tensorflow as tf

    model.make_train_function()
    dataset = tf.data.Dataset.from_tensor_slices(x).batch(batch)

    def run():
        clock = _Clock()
        for images in dataset:
            model.train_function(iter([images]))
            clock.tick()
        return clock.rates(warmup, batch)

    return run


def _make_reference_runner(model, x, batch, warmup, beta):
    """Minimal tf.function GradientTape loop on a fixed in-memory batch."""
    import keras
    import tensorflow as tf

    optimizer = keras.optimizers.Adam(1e-3)
    gamma = tf.Variable(1.0, trainable=False)
    variables = model.trainable_variables

    @tf.function
    def step(images):
        with tf.GradientTape() as tape:
            out = model(images, training=True)
            rec = 0.5 * tf.reduce_sum(tf.square(images - out["x_hat"]), axis=[1, 2, 3]) / gamma
            z_mean, z_log_var = out["z_mean"], out["z_log_var"]
            kl = 0.5 * tf.reduce_sum(tf.square(z_mean) + tf.exp(z_log_var) - 1.0 - z_log_var, axis=-1)
            loss = tf.reduce_mean(rec + beta * kl)
        grads = tape.gradient(loss, variables)
        optimizer.apply_gradients(zip(grads, variables))
        return loss

    batches = [tf.constant(x[i : i + batch]) for i in range(0, len(x), batch)]

    def run():
        clock = _Clock()
        for images in batches:
            step(images).numpy()
            clock.tick()
        return clock.rates(warmup, batch)

    return run


def _build(config, keras_bn=False, seed=0):
    from keras_vaes import build_svae
    from keras_vaes.blocks import resnet

    if not keras_bn:
        return build_svae(seed=seed, **model_config(config))
    import keras

    original = resnet.FusedBatchNormalization
    resnet.FusedBatchNormalization = keras.layers.BatchNormalization
    try:
        return build_svae(seed=seed, **model_config(config))
    finally:
        resnet.FusedBatchNormalization = original


def _runner(variant, config, x, args):
    import keras
    import numpy as np

    batch, warmup = args.batch_size, args.warmup
    beta = model_config(config)["beta"]
    if variant == "keras2_authors":
        if config not in PAPER_CONFIGS:
            raise SystemExit(f"The authors' Keras 2 loop builds the paper networks only. Received: "
                             f"--config {config}")
        return _make_keras2_authors_runner(config, x, batch, warmup)
    if variant in ("reference", "keras_bn"):
        model = _build(config, keras_bn=variant == "keras_bn", seed=args.seed)
        return _make_reference_runner(model, x, batch, warmup, beta)
    model = _build(config, seed=args.seed)
    compile_kwargs = {}
    if variant == "jit":
        compile_kwargs["jit_compile"] = True
    if variant == "spe":
        compile_kwargs["steps_per_execution"] = args.steps
    model.compile(optimizer=keras.optimizers.Adam(1e-3), **compile_kwargs)
    if variant == "train_function":
        return _make_train_function_runner(model, x, batch, warmup)
    if variant == "spe":
        # One callback per execution of `steps` batches: three executions,
        # the first one untimed.
        x = np.concatenate([x] * (1 + 3 * args.steps // (len(x) // batch)))
        x = x[: 3 * args.steps * batch]
        return _make_fit_runner(model, x, batch, 0, per_tick=args.steps)
    return _make_fit_runner(model, x, batch, warmup)


def _make_keras2_authors_runner(config, x, batch, warmup):
    """The authors' Split-VAE script, as written for Keras 2 (tf_keras).

    Same architecture (checked by its parameter count), loss added with
    `add_loss` and a gamma input, `compile(loss=None, metrics=["mse"])`,
    then `train_on_batch` and the gamma update in Python, as their loop.
    """
    import tensorflow as tf
    import tf_keras as k2
    from tf_keras import layers as L

    cfg = model_config(config)
    shape, latent, beta = cfg["input_shape"], cfg["latent_dim"], cfg["beta"]

    def res_block(y, dim, layer):
        shortcut = layer(dim)(y)
        for _ in range(2):
            y = L.BatchNormalization(momentum=0.999, epsilon=1e-5)(y)
            y = L.Activation("swish")(y)
            y = layer(dim)(y)
        return y + shortcut

    conv = lambda dim: L.Conv2D(dim, 3, padding="same")  # noqa: E731
    images, gamma_in = L.Input(shape), L.Input(())
    dim = 64
    y = L.Conv2D(dim, 3, strides=2, padding="same")(images)
    for _ in range(3):
        y = res_block(y, dim, conv)
        dim *= 2
        y = L.Conv2D(dim, 3, strides=2, padding="same")(y)
    y = res_block(L.GlobalAveragePooling2D()(y), 512, L.Dense)
    z_mean, z_log_var = L.Dense(latent)(y), L.Dense(latent)(y)
    z = z_mean + k2.backend.random_normal(tf.shape(z_mean)) * tf.exp(z_log_var * 0.5)
    y = L.Reshape((4, 4, 512))(L.Dense(4 * 4 * 512)(L.Dense(512)(z)))
    for dim in (256, 128, 64):
        y = L.Conv2DTranspose(dim, 3, strides=2, padding="same")(y)
        y = res_block(y, dim, conv)
    channels = shape[-1]
    out = L.Conv2D(2 * channels + 1, 3, padding="same", activation="sigmoid")(y)
    mask, x1, x2 = out[..., :1], out[..., 1 : 1 + channels], out[..., 1 + channels :]
    x_hat = x1 * mask + x2 * (1 - mask)
    vae = k2.Model([images, gamma_in], x_hat)
    rec = 0.5 * tf.reduce_sum(tf.square(images - x_hat), axis=[1, 2, 3]) / gamma_in
    kl = 0.5 * tf.reduce_sum(tf.square(z_mean) + tf.exp(z_log_var) - 1 - z_log_var, axis=-1)
    vae.add_loss(tf.reduce_mean(rec + beta * kl))
    vae.compile(optimizer=k2.optimizers.Adam(1e-3), loss=None, metrics=["mse"])
    _progress(f"keras2_authors: {vae.count_params():,} parameters (tf_keras {k2.__version__})")
    state = {"mse": 1.0, "gamma": 1.0}
    gamma_batch = tf.ones((batch,))

    def run():
        clock = _Clock()
        for start in range(0, len(x), batch):
            xb = x[start : start + batch]
            _, batch_mse = vae.train_on_batch([xb, gamma_batch * state["gamma"]], xb)
            state["mse"] = 0.99 * state["mse"] + 0.01 * batch_mse
            state["gamma"] = min(state["gamma"], state["mse"])
            clock.tick()
        return clock.rates(warmup, batch)

    return run


def measure_training(config, args):
    import numpy as np

    batch = args.batch_size
    shape = model_config(config)["input_shape"]
    rng = np.random.default_rng(args.seed)
    per_repeat = args.warmup + args.steps
    x = rng.random((per_repeat * batch,) + shape, dtype=np.float32)

    runners = {}
    for variant in args.variants:
        start = time.perf_counter()
        runners[variant] = _runner(variant, config, x, args)
        runners[variant]()  # trace, compile and warm up
        _progress(f"{config} {variant}: built and warmed up in {time.perf_counter() - start:.0f} s")
    results = {v: [] for v in args.variants}
    for repeat in range(args.repeats):
        for variant in args.variants:  # interleaved, repeat by repeat
            results[variant].append(runners[variant]())
            _progress(f"{config} repeat {repeat} {variant}: {results[variant][-1][0]:.1f} images/s")
    summary = {}
    for variant, rates in results.items():
        rates = np.asarray(rates)
        summary[variant] = {
            "images_per_s": float(np.median(rates[:, 0])),
            "images_per_cpu_s": float(np.median(rates[:, 1])),
            "all_images_per_s": [round(float(r), 2) for r in rates[:, 0]],
        }
    return summary


def measure_predict(config, args):
    import numpy as np

    model = _build(config, seed=args.seed)
    n = args.predict_images
    rng = np.random.default_rng(args.seed)
    images = rng.random((n,) + model_config(config)["input_shape"], dtype=np.float32)
    z = rng.standard_normal((n, model.latent_dim)).astype("float32")
    model.encode(images[:200])  # trace
    model.decode(z[:200])
    out = {}
    start = time.perf_counter()
    model.encode(images)
    out["encode_images_per_s"] = n / (time.perf_counter() - start)
    start = time.perf_counter()
    model.generate(n, seed=args.seed)
    out["generate_images_per_s"] = n / (time.perf_counter() - start)
    return out


# --- Arithmetic ceiling ------------------------------------------------------


def measure_peak(repeats=7):
    """Best float32 GFLOP/s this machine reaches, measured here.

    Two large, arithmetic-bound kernels through the same TensorFlow build
    the model uses: a 4096 x 4096 x 4096 matmul and a 3x3 convolution of
    100 x 8 x 8 x 512 -> 512 (the best-shaped convolution of this model
    family). The best time of `repeats` runs of each is taken: this is a
    ceiling, not a typical rate. `main` measures it at the start and at the
    end of the run and keeps the best, so that a burst of load from another
    process does not lower the ceiling.
    """
    import numpy as np
    import tensorflow as tf

    def best_gflops(fn, flop):
        fn().numpy()
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn().numpy()
            times.append(time.perf_counter() - start)
        return flop / min(times) / 1e9

    n = 4096
    a = tf.random.normal((n, n), seed=1)
    b = tf.random.normal((n, n), seed=2)
    matmul = best_gflops(tf.function(lambda: tf.matmul(a, b)), 2 * n**3)
    x = tf.random.normal((100, 8, 8, 512), seed=3)
    w = tf.random.normal((3, 3, 512, 512), seed=4)
    conv = best_gflops(
        tf.function(lambda: tf.nn.conv2d(x, w, 1, "SAME")), 2 * 100 * 8 * 8 * 9 * 512 * 512
    )
    return {"matmul_gflops": matmul, "conv_gflops": conv, "peak_gflops": float(np.max([matmul, conv]))}


# --- Profile: each backend's own profiler ------------------------------------
#
# `profile_training` builds the default path, warms it up, and hands `fit`
# of `--steps` batches to the backend's profiler (benchmarks/profiling/);
# each returns {"wall_ms_per_step", "ms_per_step": {group: ms}, "top_ops": [(name, ms)]}.


def profile_training(config, args):
    """Where `--steps` default training steps spend their time, per group of ops.

    Each backend's own profiler around `fit` of `--steps` batches, after a
    warm-up `fit`: TensorFlow's (`framework_op_stats`: self time per op),
    JAX's (`jax.profiler.trace`: time per XLA thunk, one HLO op or fusion
    each), PyTorch's (`torch.profiler`: self CPU time per aten op). Self
    times of ops that ran in parallel add up, so the total can exceed the
    wall time; shares are of that total. Any failure of a profiler or of
    its output format is reported as {"error": ...}, not raised.
    """
    import keras
    import numpy as np

    backend = keras.backend.backend()
    if backend not in PROFILERS:
        return {"profiler": backend, "error": f"no profiler for the {backend} backend"}
    batch, steps = args.batch_size, args.steps
    try:
        model = _build(config, seed=args.seed)
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
        rng = np.random.default_rng(args.seed)
        x = rng.random(((args.warmup + 1) * batch,) + model_config(config)["input_shape"],
                       dtype=np.float32)
        model.fit(x, batch_size=batch, epochs=1, verbose=0)  # trace, compile and warm up
        x = np.tile(x[:batch], (steps, 1, 1, 1))
        result = PROFILERS[backend](model, x, batch, steps)
    except Exception as error:  # noqa: BLE001 - report, keep the timings
        result = {"error": f"profiling failed: {type(error).__name__}: {error}"}
    return {"profiler": backend, **result}


def print_profile(prof):
    name = prof.get("profiler", "?")
    if "error" in prof:
        print(f"profile ({name} profiler): {prof['error']}")
        return
    total = sum(prof["ms_per_step"].values())
    print(f"profile of a default step, {name} profiler (wall {prof['wall_ms_per_step']:.0f} ms per "
          f"step under the profiler; op time {total:.0f} ms, parallel ops add up):")
    for group, ms in sorted(prof["ms_per_step"].items(), key=lambda item: -item[1]):
        print(f"  {group:<56}{ms:>8.1f} ms {ms / total:>6.1%}")
    if prof.get("conv_kernels"):
        print("  convolutions by kernel (ms per step): " + ", ".join(
            f"{kernel} {ms:.1f}" for kernel, ms in sorted(prof["conv_kernels"].items(),
                                                         key=lambda item: -item[1])))
    if prof.get("top_ops"):
        print("  top ops (ms per step):")
        for op, ms in prof["top_ops"]:
            print(f"    {ms:>8.1f}  {op if len(op) <= 110 else op[:45] + '...' + op[-62:]}")
    if prof.get("note"):
        print(f"  note: {prof['note']}")


def run_env_variant(name, config, args):
    env, extra = ENV_VARIANTS[name]
    argv = [
        sys.executable, os.path.abspath(__file__), "--json", "--config", config,
        "--variants", "fit", "--no-predict", "--no-peak",
        "--steps", str(args.steps), "--warmup", str(args.warmup),
        "--repeats", str(args.repeats), "--batch-size", str(args.batch_size),
    ] + extra
    done = subprocess.run(
        argv, env={**os.environ, **env}, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])[config]["training"]["fit"]


# Each backend's variants in `--backend` mode: its default path, and its
# other sound settings.
BACKEND_VARIANTS = {
    "tensorflow": ["fit", "keras2_authors"],
    "jax": ["fit"],  # jit_compile="auto" is XLA on JAX
    "torch": ["fit"],  # eager, Keras's default (see the module docstring on jit)
}


def _worker_argv(args, variants, extra=()):
    return [
        sys.executable, os.path.abspath(__file__), "--json", "--config", args.config,
        "--variants", ",".join(variants), "--no-predict", "--no-peak",
        "--steps", str(args.steps), "--warmup", str(args.warmup),
        "--repeats", "1", "--batch-size", str(args.batch_size), "--seed", str(args.seed),
        "--epoch-images", str(args.epoch_images), "--eval-images", str(args.eval_images),
        *(["--quick"] if args.quick else []), *extra,
    ]


_REPLY = "@@result "  # marks the worker's replies among anything else printed


def _current_rss_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def serve(args):
    """A `--backend` worker: builds and warms up its variants, then one window per "window" line."""
    import numpy as np

    config = args.config
    shape = model_config(config)["input_shape"]
    x = np.random.default_rng(args.seed).random(
        ((args.warmup + args.steps) * args.batch_size,) + shape, dtype=np.float32)
    runners = {}
    for variant in args.variants:
        start = time.perf_counter()
        runners[variant] = _runner(variant, config, x, args)
        runners[variant]()  # trace, compile and warm up
        _progress(f"{config} {variant}: built and warmed up in {time.perf_counter() - start:.0f} s")
    print(_REPLY + json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        if line.strip() != "window":
            break
        print(_REPLY + json.dumps({v: runner() for v, runner in runners.items()}), flush=True)


def measure_memory(phase, args):
    """Peak RSS of one training epoch or of one evaluation, in this (fresh) process."""
    import keras
    import numpy as np

    from keras_vaes.evaluation.split_vae import evaluate_split_vae
    from keras_vaes.metrics import extractors

    config = args.config
    shape = model_config(config)["input_shape"]
    rng = np.random.default_rng(args.seed)
    baseline = _current_rss_mb()  # after importing Keras, its backend and keras_vaes
    start = time.perf_counter()
    model = _build(config, seed=args.seed)
    if phase == "train":
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
        images = rng.random((args.epoch_images,) + shape, dtype=np.float32)
        model.fit(images, epochs=1, batch_size=args.batch_size, verbose=0)
    else:
        images = rng.random((args.eval_images,) + shape, dtype=np.float32)
        classifier, _ = extractors.classifier_extractor_or_reason(config)
        evaluate_split_vae(model, images, feature_model=None, classifier=classifier,
                           num_samples=args.eval_images, batch_size=args.batch_size, verbose=0,
                           seed=args.seed)
    return {
        "baseline_mb": baseline,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "seconds": time.perf_counter() - start,
        "images": len(images),
        "data_mb": images.nbytes / 2**20,
        "classifier": phase == "evaluate" and classifier is not None,
    }


def _start_worker(backend, variants, args, extra_env=None):
    env = {**os.environ, **(extra_env or {}), "KERAS_BACKEND": backend}
    proc = subprocess.Popen(_worker_argv(args, variants, ["--serve"]), env=env, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    reply = _read_reply(proc)
    return proc if reply is not None and reply.get("ready") else None


def _read_reply(proc):
    for line in proc.stdout:
        if line.startswith(_REPLY):
            return json.loads(line[len(_REPLY):])
    return None  # the worker ended (its error went to stderr)


def _spread(values):
    values = sorted(values)
    return values[0], values[-1], values[-1] / values[0] - 1.0


def run_backends(args):
    """Workers per backend, windows interleaved across them; memory; one table."""
    import numpy as np

    backends = [b for b in args.backend.split(",") if b]
    for backend in backends:
        if backend not in BACKEND_VARIANTS:
            raise SystemExit(f"Unknown backend {backend!r}; choose from {list(BACKEND_VARIANTS)}")
    if args.jax_xla_flags and "jax" not in backends:
        raise SystemExit(f"--jax-xla-flags adds JAX rows: --backend must include jax. Received: "
                         f"--backend {args.backend}")
    import importlib.util

    # A row label -> (backend, extra environment); one worker each.
    # Each JAX row runs exactly its XLA_FLAGS (none: XLA's defaults): `import keras_vaes` adds nothing.
    no_package_flags = {"KERAS_VAES_NO_XLA_FLAGS": "1"}
    settings = {backend: (backend, dict(no_package_flags) if backend == "jax" else {}) for backend in backends}
    for flags in args.jax_xla_flags:
        settings[f"jax {flags}"] = ("jax", {"XLA_FLAGS": flags, **no_package_flags})
    notes = []
    workers, variants_of = {}, {}
    try:
        for label, (backend, extra_env) in settings.items():
            variants = list(BACKEND_VARIANTS[backend])
            if "keras2_authors" in variants and args.quick:
                notes.append("--quick: the authors' Keras 2 loop (the paper network only) is not run")
                variants.remove("keras2_authors")
            if "keras2_authors" in variants and importlib.util.find_spec("tf_keras") is None:
                notes.append("tf_keras not installed: the authors' Keras 2 loop is not measured "
                             "(pip install tf-keras)")
                variants.remove("keras2_authors")
            if backend == "torch" and importlib.util.find_spec("torch") is None:
                notes.append("torch not installed: no PyTorch rows")
                continue
            _progress(f"{label}: building and warming up {' '.join(variants)}")
            start = time.perf_counter()
            worker = _start_worker(backend, variants, args, extra_env)
            if worker is None:
                notes.append(f"{label}: the worker failed (see its error above)")
                continue
            _progress(f"{label}: ready in {time.perf_counter() - start:.0f} s")
            workers[label], variants_of[label] = worker, variants
        windows = {(b, v): [] for b in workers for v in variants_of[b]}
        order = list(workers)
        for window in range(args.repeats):
            for backend in order[window % len(order):] + order[: window % len(order)]:
                worker = workers[backend]
                worker.stdin.write("window\n")
                worker.stdin.flush()
                reply = _read_reply(worker)
                if reply is None:
                    raise SystemExit(f"backend {backend}: the worker died in window {window}")
                for variant, rates in reply.items():
                    windows[(backend, variant)].append(rates)
                    _progress(f"window {window} {backend} {variant}: {rates[0]:.1f} images/s")
    finally:
        for worker in workers.values():
            if worker.poll() is None:
                worker.stdin.close()
                worker.wait(timeout=60)

    memory = {}
    if args.memory:  # the backends' defaults only, not the --jax-xla-flags rows
        for backend in [label for label in workers if label in BACKEND_VARIANTS]:
            for phase in ("train", "evaluate"):
                _progress(f"backend {backend}: peak memory of {phase}")
                env = {**os.environ, "KERAS_BACKEND": backend}
                done = subprocess.run(_worker_argv(args, ["fit"], ["--memory-phase", phase]),
                                      env=env, capture_output=True, text=True)
                if done.returncode != 0:
                    notes.append(f"backend {backend}: memory of {phase} failed: "
                                 f"{done.stderr.strip().splitlines()[-1] if done.stderr.strip() else ''}")
                    continue
                memory[(backend, phase)] = json.loads(done.stdout.strip().splitlines()[-1])

    print(
        f"{args.config} {model_config(args.config)}, batch {args.batch_size}, {os.cpu_count()} CPUs; "
        f"{args.repeats} windows x {args.steps} steps after {args.warmup} warm-up per variant, "
        f"interleaved across backends; 1-min load average at the end {os.getloadavg()[0]:.1f}"
        + ("; --quick: a smoke run, not a measurement" if args.quick else "")
    )
    tf_fit = windows.get(("tensorflow", "fit"))
    authors = windows.get(("tensorflow", "keras2_authors"))
    median = lambda rates: float(np.median([r[0] for r in rates]))  # noqa: E731
    width = max([12] + [len(label) + 2 for label in workers])
    print(f"{'backend':<{width}}{'variant':<16}{'images/s':>10}{'min-max':>15}{'spread':>8}"
          f"{'img/CPU-s':>11}{'/ TF fit':>10}{'/ authors':>11}")
    for (backend, variant), rates in windows.items():
        low, high, spread = _spread([r[0] for r in rates])
        rate = median(rates)
        cpu = float(np.median([r[1] for r in rates]))
        vs_tf = f"{rate / median(tf_fit):.2f}" if tf_fit else "-"
        vs_authors = f"{rate / median(authors):.2f}" if authors else "-"
        print(f"{backend:<{width}}{variant:<16}{rate:>10.1f}{f'{low:.1f}-{high:.1f}':>15}{spread:>8.0%}"
              f"{cpu:>11.1f}{vs_tf:>10}{vs_authors:>11}")
    if memory:
        print(f"\npeak resident memory (ru_maxrss of a fresh process per phase; 'after imports' is "
              f"its RSS before the model is built)")
        print(f"{'backend':<12}{'phase':<34}{'after imports':>14}{'peak':>10}{'seconds':>9}")
        for (backend, phase), row in memory.items():
            what = (f"one epoch, {row['images']} images" if phase == "train" else
                    f"evaluation, {row['images']} images" + ("" if row["classifier"] else " (no FD)"))
            print(f"{backend:<12}{what:<34}{row['baseline_mb']:>11.0f} MB{row['peak_mb']:>7.0f} MB"
                  f"{row['seconds']:>9.0f}")
    for note in notes:
        print(f"note: {note}")


def main(argv=None):
    args = parse_args(argv)
    if args.backend:
        return run_backends(args)
    if args.memory_phase:
        print(json.dumps(measure_memory(args.memory_phase, args)))
        return
    import keras

    tf = None
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        if args.inter_op:
            tf.config.threading.set_inter_op_parallelism_threads(args.inter_op)
        if args.intra_op:
            tf.config.threading.set_intra_op_parallelism_threads(args.intra_op)
    else:
        tf_only = [v for v in args.variants if v in TF_ONLY_VARIANTS]
        if tf_only and not args.default_variants:
            raise SystemExit(f"Variants {tf_only} run on the TensorFlow backend only. Received: "
                             f"backend {keras.backend.backend()}")
        args.variants = [v for v in args.variants if v not in TF_ONLY_VARIANTS]

    if args.dtype_policy:
        keras.config.set_dtype_policy(args.dtype_policy)
    if args.serve:
        return serve(args)

    configs = PAPER_CONFIGS if args.config == "all" else [args.config]
    report = {}
    peak = measure_peak() if args.peak else None
    for config in configs:
        model = _build(config, seed=args.seed)
        macs = forward_macs(model)
        params = model.count_params()
        del model
        entry = {"params": params, "train_gflop_per_image": 3 * 2 * macs / 1e9}
        entry["training"] = measure_training(config, args)
        for name in args.env_variants:
            entry["training"][name] = run_env_variant(name, config, args)
        if args.predict:
            entry["predict"] = measure_predict(config, args)
        if args.profile:
            entry["profile"] = profile_training(config, args)
        report[config] = entry
    if peak:  # measured again at the end: the ceiling is the best of both
        again = measure_peak()
        peak = {key: max(value, again[key]) for key, value in peak.items()}
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    if args.json:
        print(json.dumps({**report, "peak": peak}))
        return
    print(
        f"keras {keras.__version__}, tensorflow {tf.__version__ if tf else '-'}, backend "
        f"{keras.backend.backend()}, {os.cpu_count()} CPUs, batch {args.batch_size}, "
        f"{args.repeats} repeats x {args.steps} steps after {args.warmup} warm-up; "
        f"1-min load average {os.getloadavg()[0]:.1f}"
    )
    if peak:
        print(
            f"float32 ceiling measured now: matmul 4096^3 {peak['matmul_gflops']:.0f} GFLOP/s, "
            f"conv 3x3 512->512 {peak['conv_gflops']:.0f} GFLOP/s (best of 7 each, "
            "at the start and at the end of the run)"
        )
    for config, entry in report.items():
        flop = entry["train_gflop_per_image"]
        print(f"\n[{config}] {model_config(config)} params={entry['params']:,} "
              f"training FLOPs/image={flop:.2f} GFLOP (2*MACs fwd x3)")
        print(f"{'variant':<16}{'images/s':>10}{'GFLOP/s':>10}{'img/CPU-s':>11}  repeats")
        training = entry["training"]
        for name, row in training.items():
            rate = row["images_per_s"]
            print(f"{name:<16}{rate:>10.1f}{rate * flop:>10.0f}"
                  f"{row['images_per_cpu_s']:>11.1f}  {row['all_images_per_s']}")
        if "fit" in training and "reference" in training:
            ratio = training["fit"]["images_per_s"] / training["reference"]["images_per_s"]
            print(f"default (fit) / reference = {ratio:.3f}")
        if "fit" in training and "keras2_authors" in training:
            ratio = training["fit"]["images_per_s"] / training["keras2_authors"]["images_per_s"]
            print(f"default (fit) / authors' Keras 2 loop = {ratio:.3f}")
        if peak and "fit" in training and args.dtype_policy:
            print(f"(the float32 ceiling does not apply to dtype policy {args.dtype_policy})")
        elif peak and "fit" in training:
            limit = peak["peak_gflops"] / flop
            print(f"arithmetic limit at {peak['peak_gflops']:.0f} GFLOP/s: {limit:.1f} images/s; "
                  f"default reaches {training['fit']['images_per_s'] / limit:.0%} of it")
        if "profile" in entry:
            print_profile(entry["profile"])
        if "predict" in entry:
            p = entry["predict"]
            print(f"predict, {args.predict_images} images: encode "
                  f"{p['encode_images_per_s']:.0f} images/s, generate (decode) "
                  f"{p['generate_images_per_s']:.0f} images/s")
    print(f"\npeak RSS {peak_mb:.0f} MB (this process)")


if __name__ == "__main__":
    main()
