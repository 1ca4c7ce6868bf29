"""Input checks and small file helpers shared by the package."""

import os
import tempfile

import numpy as np


def check_images(images, expected_shape=None, name="images"):
    """Checks an image batch: rank 4, per-image shape, values in [0, 1].

    Args:
        images: array-like (N, H, W, C).
        expected_shape: tuple (H, W, C) or None.
        name: str. How the array is called in error messages.

    Returns:
        The images as a NumPy array.
    """
    images = np.asarray(images)
    if images.ndim != 4:
        expected = (
            f"(N, {', '.join(str(d) for d in expected_shape)})"
            if expected_shape
            else "(N, H, W, C)"
        )
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
        if low < 0.0 or high > 1.0:
            hint = (
                " They look like 0-255 pixel values: divide by 255."
                if high > 1.0 and high <= 255.0
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
