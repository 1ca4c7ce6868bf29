"""JAX's convolution weight gradient: XLA (as XLA_FLAGS chooses) against two hand lowerings.

The JAX profile (`train_throughput.py --profile`) puts half of a step in the
weight gradients of the convolutions, most of it in YNNPACK fusions. This
times the weight gradient of single "same" convolutions at the Split-VAE's
shapes three ways: XLA's own (`jax.vjp` of `lax.conv_general_dilated`),
one einsum per kernel tap, and im2col + one matmul. Run it under several
XLA_FLAGS to compare XLA's kernels, e.g.

    taskset -c 0 python benchmarks/jax_weight_gradients.py
    XLA_FLAGS=--xla_cpu_experimental_ynn_fusion_type= taskset -c 0 python benchmarks/jax_weight_gradients.py
"""
import os, time
os.environ.setdefault("KERAS_BACKEND", "jax")
import jax, jax.numpy as jnp, numpy as np
from jax import lax

def conv(x, w):
    return lax.conv_general_dilated(x, w, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))

def wgrad_xla(x, w, dy):
    _, vjp = jax.vjp(lambda w: conv(x, w), w)
    return vjp(dy)[0]

def wgrad_taps(x, w, dy):
    kh, kw = w.shape[:2]
    H, W = x.shape[1:3]
    ph, pw = (kh - 1) // 2, (kw - 1) // 2
    xp = jnp.pad(x, ((0, 0), (ph, kh - 1 - ph), (pw, kw - 1 - pw), (0, 0)))
    rows = []
    for i in range(kh):
        cols = []
        for j in range(kw):
            cols.append(jnp.einsum("nhwc,nhwd->cd", xp[:, i:i + H, j:j + W, :], dy))
        rows.append(jnp.stack(cols))
    return jnp.stack(rows)

def wgrad_im2col(x, w, dy):
    kh, kw, ci, co = w.shape
    H, W = x.shape[1:3]
    ph, pw = (kh - 1) // 2, (kw - 1) // 2
    xp = jnp.pad(x, ((0, 0), (ph, kh - 1 - ph), (pw, kw - 1 - pw), (0, 0)))
    patches = jnp.concatenate([xp[:, i:i + H, j:j + W, :] for i in range(kh) for j in range(kw)], axis=-1)
    g = patches.reshape(-1, kh * kw * ci).T @ dy.reshape(-1, co)
    return g.reshape(kh, kw, ci, co)

def bench(f, *a, n=5):
    f = jax.jit(f); f(*a).block_until_ready()
    ts = []
    for _ in range(n):
        t = time.perf_counter(); f(*a).block_until_ready(); ts.append(time.perf_counter() - t)
    return 1e3 * min(ts)

def main():
    rng = np.random.default_rng(0)
    for (n, h, ci, co, k) in [(100, 32, 64, 64, 3), (100, 16, 128, 128, 3), (100, 8, 256, 256, 3), (100, 4, 512, 512, 3), (100, 16, 256, 128, 2), (100, 8, 512, 256, 2), (100, 32, 4, 256, 2)]:
        x = jnp.asarray(rng.random((n, h, h, ci), dtype=np.float32))
        w = jnp.asarray(rng.random((k, k, ci, co), dtype=np.float32))
        dy = jnp.asarray(rng.random((n, h, h, co), dtype=np.float32))
        a, b, c = wgrad_xla(x, w, dy), wgrad_taps(x, w, dy), wgrad_im2col(x, w, dy)
        err = float(jnp.max(jnp.abs(a - b)) / jnp.max(jnp.abs(a)))
        print(f"{n}x{h}x{h}x{ci}->{co} k{k}: xla {bench(wgrad_xla, x, w, dy):7.1f} ms  taps {bench(wgrad_taps, x, w, dy):7.1f}  im2col {bench(wgrad_im2col, x, w, dy):7.1f}  relerr {err:.1e}", flush=True)


if __name__ == "__main__":
    main()
