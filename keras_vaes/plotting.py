"""Figures people look at: image grids, split rows, curves, variance law.

Every function writes a PNG (with the non-interactive Agg backend) and returns
its path.
"""

import os

import numpy as np


def pyplot():
    """matplotlib.pyplot with the non-interactive Agg backend (files only)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _prepare(path):
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    return path


def _save(plt, fig, path, title=None):
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(_prepare(path), dpi=100)
    plt.close(fig)
    return path


def tile_images(images, ncols):
    """Tiles (N, H, W, C) images into one (rows*H, ncols*W, C) array."""
    images = np.asarray(images)
    n, h, w, c = images.shape
    nrows = int(np.ceil(n / ncols))
    grid = np.ones((nrows * h, ncols * w, c), dtype=images.dtype)
    for i, image in enumerate(images):
        r, col = divmod(i, ncols)
        grid[r * h : (r + 1) * h, col * w : (col + 1) * w] = image
    return grid


def _show(ax, image):
    image = np.clip(image, 0.0, 1.0)
    if image.shape[-1] == 1:
        ax.imshow(image[..., 0], cmap="gray", vmin=0.0, vmax=1.0)
    else:
        ax.imshow(image)
    ax.set_xticks([])
    ax.set_yticks([])


def save_image_grid(images, path, ncols=10, title=None):
    """Saves images in [0, 1] as one grid PNG (the paper's Figures 7, 10)."""
    plt = pyplot()
    grid = tile_images(images, ncols)
    scale = 0.5 * max(1, grid.shape[1] // 320)
    fig, ax = plt.subplots(figsize=(grid.shape[1] / 40 / scale, grid.shape[0] / 40 / scale))
    _show(ax, grid)
    if title:
        ax.set_title(title)
    fig.savefig(_prepare(path), bbox_inches="tight", dpi=100)
    plt.close(fig)
    return path


def save_split_rows(outputs, path, n=10, title=None):
    """Rows sigma, x1, x2, x_hat of `n` samples (the paper's Figures 1-4).

    Args:
        outputs: dict with `"sigma"`, `"x1"`, `"x2"`, `"x_hat"` arrays, as
            returned by `SplitVAE.decode`.
    """
    plt = pyplot()
    rows = ["sigma", "x1", "x2", "x_hat"]
    missing = [r for r in rows if r not in outputs]
    if missing:
        raise ValueError(
            f"save_split_rows needs a Split-VAE output; missing {missing}. "
            f"Received keys: {sorted(outputs)}"
        )
    n = min(n, len(outputs["x_hat"]))
    fig, axes = plt.subplots(4, n, figsize=(1.1 * n, 4.6), squeeze=False)
    for r, key in enumerate(rows):
        for i in range(n):
            _show(axes[r, i], np.asarray(outputs[key][i]))
        axes[r, 0].set_ylabel(key, rotation=0, labelpad=22)
    return _save(plt, fig, path, title)


def save_curves(history, path, keys=None, title=None):
    """Plots training curves from a `History.history`-like dict, one panel a key."""
    plt = pyplot()
    keys = [k for k in (keys or sorted(history)) if k in history]
    fig, axes = plt.subplots(1, len(keys), figsize=(3.2 * len(keys), 2.8), squeeze=False)
    for ax, key in zip(axes[0], keys):
        values = np.asarray(history[key], dtype=float)
        ax.plot(np.arange(1, len(values) + 1), values, marker="o", ms=3)
        ax.set_title(key)
        ax.set_xlabel("epoch")
        if key in ("gamma", "mse") and np.all(values > 0):
            ax.set_yscale("log")
    return _save(plt, fig, path, title)


def save_variance_law(per_variable, path, inactive=None, title=None):
    """Bars of the per-variable variance law, inactive variables marked."""
    plt = pyplot()
    per_variable = np.asarray(per_variable)
    colors = ["tab:blue"] * len(per_variable)
    if inactive is not None:
        colors = ["tab:red" if flag else "tab:blue" for flag in np.asarray(inactive)]
    fig, ax = plt.subplots(figsize=(max(4, 0.22 * len(per_variable)), 2.8))
    ax.bar(np.arange(len(per_variable)), per_variable, color=colors)
    ax.axhline(1.0, color="k", lw=0.8, ls="--")
    ax.set_xlabel("latent variable (red: inactive)")
    ax.set_ylabel("var(mu) + mean(sigma^2)")
    ax.set_title(title or "variance law")
    return _save(plt, fig, path)


def save_latent_variants(images, path, steps, dims, title=None):
    """GAMIX-VAE Fig. 2: a len(steps) x len(steps) grid, rows move dims[0], columns dims[1].

    Args:
        images: (len(steps)**2, H, W, C) in [0, 1], row-major.
        steps: the values (or sigma multiples) given to the two entries.
        dims: the two latent indices moved.
    """
    plt = pyplot()
    n = len(steps)
    fig, axes = plt.subplots(n, n, figsize=(1.3 * n + 0.6, 1.3 * n + 0.4), squeeze=False)
    for k, image in enumerate(np.asarray(images)[: n * n]):
        r, c = divmod(k, n)
        _show(axes[r, c], image)
        if c == 0:
            axes[r, c].set_ylabel(f"z[{dims[0]}]: {steps[r]:g}", fontsize=8)
        if r == n - 1:
            axes[r, c].set_xlabel(f"z[{dims[1]}]: {steps[c]:g}", fontsize=8)
    return _save(plt, fig, path, title)
