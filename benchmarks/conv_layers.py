"""Per-layer convolution throughput of the paper's Split-VAE, and a Winograd trial.

For every Conv2D / Conv2DTranspose of `build_svae` (MNIST or CIFAR-10
configuration, batch 100), times the three kernels a training step runs —
forward, input gradient, weight gradient — on their own (TensorFlow raw
ops, oneDNN, best of `--repeats`) and prints ms and GFLOP/s per kernel.
This is where a step's time goes, layer by layer; the sum is compared with
the whole step measured by `train_throughput.py`.

With `--winograd`, each 3x3 stride-1 layer is also computed with Winograd's
F(2x2, 3x3) algorithm written in TensorFlow ops (2.25x fewer
multiplications in the batched matmul), forward + both gradients by
autodiff, against the direct convolution: the relative error and the time
of both. It is the experiment behind the README's "tried, not adopted".

Usage:
    python benchmarks/conv_layers.py [--config mnist] [--repeats 7] [--winograd]
"""

import argparse
import time

CONFIGS = {
    "mnist": dict(input_shape=(32, 32, 1), latent_dim=32, beta=8.0),
    "cifar10": dict(input_shape=(32, 32, 3), latent_dim=200, beta=3.0),
}


def best_ms(fn, repeats):
    fn()  # trace
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for value in fn():
            value.numpy()
        times.append(time.perf_counter() - start)
    return 1e3 * min(times)


def conv_kernels(layer, batch):
    """(name, flop, {kernel: zero-argument tf.function}) of one layer."""
    import keras
    import tensorflow as tf

    transpose = isinstance(layer, keras.layers.Conv2DTranspose)
    x_shape = (batch,) + tuple(layer.input.shape[1:])
    y_shape = (batch,) + tuple(layer.output.shape[1:])
    stride = layer.strides[0]
    # A transposed convolution is the input gradient of the convolution
    # that maps its output back to its input.
    small, large = (x_shape, y_shape) if transpose else (y_shape, x_shape)
    kh, kw = layer.kernel_size
    w = tf.random.normal((kh, kw, large[-1], small[-1]), seed=1)
    big = tf.random.normal(large, seed=2)
    little = tf.random.normal(small, seed=3)
    strides = [1, stride, stride, 1]
    flop = 2 * small[1] * small[2] * kh * kw * large[-1] * small[-1] * batch

    def conv():
        return (tf.nn.conv2d(big, w, strides, "SAME"),)

    def conv_input_gradient():
        return (tf.raw_ops.Conv2DBackpropInput(
            input_sizes=large, filter=w, out_backprop=little, strides=strides, padding="SAME"),)

    def weight_gradient():
        return (tf.raw_ops.Conv2DBackpropFilter(
            input=big, filter_sizes=w.shape, out_backprop=little, strides=strides, padding="SAME"),)

    # Forward and input gradient swap roles for a transposed convolution.
    kernels = {
        "forward": conv_input_gradient if transpose else conv,
        "input grad": conv if transpose else conv_input_gradient,
        "weight grad": weight_gradient,
    }
    return flop, {k: tf.function(v) for k, v in kernels.items()}


def winograd_conv(x, w):
    """3x3 stride-1 SAME convolution by Winograd F(2x2, 3x3) in TF ops.

    Lavin & Gray (2016): Y = A^T [(G g G^T) . (B^T d B)] A per 4x4 input
    tile d (stride 2) and 2x2 output tile; H and W must be even.
    """
    import tensorflow as tf

    _, h, w_, c = x.shape
    out = w.shape[-1]
    n, m = h // 2, w_ // 2
    g = tf.constant([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]], tf.float32)
    xp = tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]])
    rows = [xp[:, k : k + 2 * n : 2] for k in range(4)]
    rows = [rows[0] - rows[2], rows[1] + rows[2], rows[2] - rows[1], rows[1] - rows[3]]
    tiles = []
    for r in rows:
        cols = [r[:, :, k : k + 2 * m : 2] for k in range(4)]
        tiles += [cols[0] - cols[2], cols[1] + cols[2], cols[2] - cols[1], cols[1] - cols[3]]
    v = tf.reshape(tf.stack(tiles), (16, -1, c))
    u = tf.reshape(tf.einsum("ai,ijcd,bj->abcd", g, w, g), (16, c, out))
    p = tf.reshape(tf.matmul(v, u), (4, 4, -1, n, m, out))
    p = tf.stack([p[0] + p[1] + p[2], p[1] - p[2] - p[3]])
    p = tf.stack([p[:, 0] + p[:, 1] + p[:, 2], p[:, 1] - p[:, 2] - p[:, 3]], axis=1)
    return tf.reshape(tf.transpose(p, (2, 3, 0, 4, 1, 5)), (-1, h, w_, out))


def winograd_trial(layer, batch, repeats):
    import numpy as np
    import tensorflow as tf

    x = tf.random.normal((batch,) + tuple(layer.input.shape[1:]), seed=4)
    w = tf.Variable(tf.random.normal(layer.kernel.shape, seed=5) * 0.05)
    direct = tf.nn.conv2d(x, w, 1, "SAME")
    error = float(tf.reduce_max(tf.abs(winograd_conv(x, w) - direct)) / tf.reduce_max(tf.abs(direct)))

    def step(conv):
        @tf.function
        def run():
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = conv(x, w)
                objective = tf.reduce_sum(y * y)
            return tape.gradient(objective, [x, w])

        return run

    direct_ms = best_ms(step(lambda a, b: tf.nn.conv2d(a, b, 1, "SAME")), repeats)
    winograd_ms = best_ms(step(winograd_conv), repeats)
    return error, direct_ms, winograd_ms, np.round(winograd_ms / direct_ms, 2)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", choices=sorted(CONFIGS), default="mnist")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=7, help="best of this many runs (default 7)")
    parser.add_argument("--winograd", action="store_true",
                        help="also time Winograd F(2x2,3x3) in TF ops on the 3x3 stride-1 layers")
    args = parser.parse_args()

    import keras

    from keras_vaes import build_svae

    model = build_svae(**CONFIGS[args.config])
    layers = [
        layer for layer in model._flatten_layers(include_self=False, recursive=True)
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.Conv2DTranspose))
    ]
    print(f"{args.config}: {len(layers)} convolutions, batch {args.batch_size}, best of {args.repeats}")
    print(f"{'layer':<34}{'GFLOP':>7}" + "".join(
        f"{k + ' ms':>16}{'GF/s':>6}" for k in ("forward", "input grad", "weight grad")))
    total_ms = total_flop = 0.0
    for layer in layers:
        flop, kernels = conv_kernels(layer, args.batch_size)
        row = f"{layer.name:<34}{flop / 1e9:>7.2f}"
        for name, fn in kernels.items():
            if name == "input grad" and layer is layers[0]:
                row += f"{'(not needed)':>16}{'':>6}"  # no gradient w.r.t. the images
                continue
            ms = best_ms(fn, args.repeats)
            total_ms += ms
            total_flop += flop
            row += f"{ms:>16.1f}{flop / ms / 1e6:>6.0f}"
        print(row)
    print(f"all convolution kernels of one step: {total_ms:.0f} ms for {total_flop / 1e9:.0f} GFLOP "
          f"({total_flop / total_ms / 1e6:.0f} GFLOP/s), i.e. at most "
          f"{1e3 * args.batch_size / total_ms:.1f} images/s from the convolutions alone")

    if args.winograd:
        print("\nWinograd F(2x2,3x3) in TF ops vs direct (forward + both gradients):")
        seen = set()
        for layer in layers:
            shape = (tuple(layer.input.shape[1:]), tuple(layer.kernel.shape))
            if layer.strides != (1, 1) or layer.kernel_size != (3, 3) or shape in seen:
                continue
            if isinstance(layer, keras.layers.Conv2DTranspose) or layer.input.shape[1] % 2:
                continue
            seen.add(shape)
            error, direct_ms, winograd_ms, ratio = winograd_trial(layer, args.batch_size, args.repeats)
            print(f"{str(shape[0]):<16} -> {layer.filters:<4} max rel. error {error:.1e}: "
                  f"direct {direct_ms:7.1f} ms, Winograd {winograd_ms:7.1f} ms ({ratio}x)")


if __name__ == "__main__":
    main()
