"""Input checks and small file helpers shared by the package."""

import hashlib
import os
import tempfile

import numpy as np


def check_images(images, expected_shape=None, name="images", channels=None, tolerance=0.0):
    """Checks an image batch: rank 4, per-image shape, values in [0, 1].

    The one image check of the package (models, datasets, FID).

    Args:
        images: array-like (N, H, W, C).
        expected_shape: tuple (H, W, C) or None.
        name: str. How the array is called in error messages.
        channels: tuple of allowed channel counts, or None for any.
        tolerance: float. Slack on the [0, 1] range (rounding of
            generated images).

    Returns:
        The images as a NumPy array (not copied when already one).
    """
    images = np.asarray(images)
    if images.ndim != 4 or (channels and images.shape[-1] not in channels):
        if expected_shape:
            expected = f"(N, {', '.join(str(d) for d in expected_shape)})"
        elif channels:
            expected = f"(N, H, W, C) with C in {set(channels)}"
        else:
            expected = "(N, H, W, C)"
        raise ValueError(
            f"Expected {name} as a batch of shape {expected}. "
            f"Received: {name}.shape={images.shape}"
        )
    if expected_shape is not None and tuple(images.shape[1:]) != tuple(expected_shape):
        raise ValueError(
            f"The model expects images of shape {tuple(expected_shape)}. "
            f"Received: {name}.shape={images.shape}"
        )
    if images.size:
        low, high = float(np.min(images)), float(np.max(images))
        if not (np.isfinite(low) and np.isfinite(high)):
            raise ValueError(f"{name} contains NaN or infinite values.")
        if low < -tolerance or high > 1.0 + tolerance:
            hint = (
                " They look like 0-255 pixel values: divide by 255."
                if 2.0 < high <= 255.0
                else ""
            )
            raise ValueError(
                f"Expected {name} with values in [0, 1]. Received: values in "
                f"[{low:g}, {high:g}].{hint}"
            )
    return images


def atomic_write(path, write):
    """Calls `write(tmp_path)` then renames the result onto `path`.

    A crash while writing never leaves a truncated file in place of a
    user's previous weights. The temporary file keeps the final suffix,
    since Keras checks it (`.weights.h5`, `.keras`).
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    base = os.path.basename(path)
    suffix = ".weights.h5" if base.endswith(".weights.h5") else os.path.splitext(base)[1]
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=suffix, dir=directory)
    os.close(fd)
    os.remove(tmp)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def sha256(path, chunk=1 << 20):
    """Hex SHA-256 of a file's bytes (presets, classifier weights, frozen graphs)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()
