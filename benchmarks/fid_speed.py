"""Speed and agreement of `frechet_distance` vs the classic sqrtm approach.

The classic FID code (TTUR, pytorch-fid) takes
`scipy.linalg.sqrtm(sigma1 @ sigma2)` of the non-symmetric product and keeps
its real part. `keras_vaes.metrics.frechet_distance` uses a pivoted Cholesky factor
G of C1 and the eigenvalues of the symmetric G^T C2 G instead (see its
docstring). This script builds
ill-conditioned 2048x2048 covariances like those of Inception features
(correlated, geometrically decaying spectrum, condition numbers ~1e10,
estimated from 3000 and 5000 samples), times both, and prints how closely the two FIDs agree.

With `--extract N` it also times feature extraction (`extract_features`)
of N MNIST-shaped images through the FID protocol's InceptionV3 (299x299,
2048 features; random weights, since the ImageNet file is not needed for
timing): images/s, the share of the time spent preprocessing (grayscale to
RGB, bilinear resize), how busy the CPU cores were (process CPU time /
wall time / cores) and the achieved GFLOP/s.

Usage:
    python benchmarks/fid_speed.py [--dim 2048] [--repeats 1] [--seed 0]
    python benchmarks/fid_speed.py --extract 1000 --batch-sizes 50 100 200
"""

import argparse
import os
import time

import numpy as np
import scipy.linalg

from keras_vaes.metrics.fid import frechet_distance


def classic_frechet_distance(mu1, sigma1, mu2, sigma2):
    """Split-VAE eq. (5) with scipy's sqrtm of C1 C2 (real part kept)."""
    covmean = np.real(scipy.linalg.sqrtm(sigma1 @ sigma2))
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * np.trace(covmean))


def correlated_features(rng, count, dim, rotation, decay, shift):
    """Correlated features with a spectrum decaying from 1 to `decay`.

    The covariance eigenvalues then span `1 / decay**2` (1e10 by default),
    the ill-conditioning that makes `sqrtm` of the product fragile.
    """
    spectrum = np.geomspace(1.0, decay, dim)
    return (rng.normal(size=(count, dim)) * spectrum) @ rotation + shift


def statistics(features):
    return features.mean(axis=0), np.cov(features, rowvar=False)


def best_time(function, repeats):
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return min(times), result


def inception_macs(model):
    """Multiply-accumulates of one forward pass, from the layer shapes."""
    import keras

    macs = 0
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if isinstance(layer, keras.layers.Conv2D):
            _, h, w, cout = layer.output.shape
            kh, kw = layer.kernel_size
            macs += h * w * kh * kw * layer.input.shape[-1] * cout
        elif isinstance(layer, keras.layers.Dense):
            macs += layer.input.shape[-1] * layer.units
    return macs


def time_extraction(count, batch_sizes, seed):
    import keras

    from keras_vaes.metrics.fid import extract_features, preprocess_images

    model = keras.applications.InceptionV3(
        include_top=False, pooling="avg", input_shape=(299, 299, 3), weights=None
    )
    gflop = 2 * inception_macs(model) / 1e9
    images = np.random.default_rng(seed).random((count, 32, 32, 1), dtype=np.float32)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"\nInceptionV3 feature extraction, {count} images 32x32x1 -> 299x299x3, "
          f"{gflop:.2f} GFLOP/image, {cores} cores")
    for batch_size in batch_sizes:
        # Untimed: trace for this batch size (and the last, partial batch).
        extract_features(images[: batch_size + count % batch_size], model,
                         batch_size=batch_size, verbose=0)
        start, cpu = time.perf_counter(), time.process_time()
        features = extract_features(images, model, batch_size=batch_size, verbose=0)
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        start = time.perf_counter()
        for i in range(0, count, batch_size):
            preprocess_images(images[i : i + batch_size], model)
        prep = time.perf_counter() - start
        assert features.shape == (count, 2048)
        print(f"batch {batch_size:4d}: {count / wall:6.1f} images/s, {gflop * count / wall:5.0f} GFLOP/s, "
              f"preprocessing {prep / wall:5.1%} of the time, cores busy {cpu / wall / cores:5.1%}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dim", type=int, default=2048, help="feature dimension (default 2048)")
    parser.add_argument("--repeats", type=int, default=1, help="timed runs per method; best is kept (default 1)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--extract", type=int, default=0,
                        help="also time InceptionV3 feature extraction of this many images (default 0: no)")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[100],
                        help="batch sizes for --extract (default 100)")
    parser.add_argument("--no-distance", action="store_true", help="skip the Frechet distance timing")
    args = parser.parse_args()
    if not args.no_distance:
        time_distance(args)
    if args.extract:
        time_extraction(args.extract, args.batch_sizes, args.seed)


def time_distance(args):
    rng = np.random.default_rng(args.seed)
    rotation, _ = np.linalg.qr(rng.normal(size=(args.dim, args.dim)))
    mu1, sigma1 = statistics(correlated_features(rng, 3000, args.dim, rotation, 1e-5, 0.0))
    mu2, sigma2 = statistics(correlated_features(rng, 5000, args.dim, rotation, 2e-5, 0.1))
    for name, sigma in (("sigma1 (3000 samples)", sigma1), ("sigma2 (5000 samples)", sigma2)):
        eigenvalues = np.linalg.eigvalsh(sigma)
        print(f"{name}: dim={args.dim}, condition number={eigenvalues[-1] / max(eigenvalues[0], 1e-300):.3g}")

    # Untimed warm-up: the first LAPACK calls pay for thread-pool start-up.
    small = np.eye(64)
    frechet_distance(np.zeros(64), small, np.ones(64), small)
    classic_frechet_distance(np.zeros(64), small, np.ones(64), small)

    ours_s, ours = best_time(lambda: frechet_distance(mu1, sigma1, mu2, sigma2), args.repeats)
    classic_s, classic = best_time(lambda: classic_frechet_distance(mu1, sigma1, mu2, sigma2), args.repeats)

    print(f"keras_vaes frechet_distance (pstrf + eigvalsh): {ours_s:8.3f} s   FID = {ours:.10g}")
    print(f"classic scipy sqrtm(C1 @ C2):                 {classic_s:8.3f} s   FID = {classic:.10g}")
    print(f"speed-up: {classic_s / ours_s:.1f}x")
    print(f"absolute difference: {abs(ours - classic):.3g}; relative: {abs(ours - classic) / abs(classic):.3g}")


if __name__ == "__main__":
    main()
