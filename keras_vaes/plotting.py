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


def save_curves(history, path, keys=None, title=None, first_epoch=1):
    """Plots training curves from a `History.history`-like dict, one panel a key.

    `first_epoch`: the 1-based number of the first value (N + 1 after
    `fit(initial_epoch=N)`).
    """
    plt = pyplot()
    keys = [k for k in (keys or sorted(history)) if k in history]
    fig, axes = plt.subplots(1, len(keys), figsize=(3.2 * len(keys), 2.8), squeeze=False)
    for ax, key in zip(axes[0], keys):
        values = np.asarray(history[key], dtype=float)
        ax.plot(np.arange(first_epoch, first_epoch + len(values)), values, marker="o", ms=3)
        ax.set_title(key)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
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


def save_fid_evolution(curves, path, ylabel="FID", title=None, std_for=None):
    """FID along training, mean and std over seeds (Split-VAE Figures 11, 14, 15).

    Args:
        curves: dict label -> `(epochs, mean, std)` arrays, e.g. from
            `keras_vaes.callbacks.aggregate_fid_histories`. Labels starting
            with "vanilla" are drawn dotted, as the paper's vanilla x_hat.
        ylabel: str. Axis label (say which features: e.g. "FD (classifier
            features)").
        std_for: labels whose std is drawn as a band (the paper: x_hat of
            the split version and x1 only); None draws every band.
    """
    plt = pyplot()
    if not curves:
        raise ValueError("save_fid_evolution needs at least one curve. Received: curves={}")
    fig, ax = plt.subplots(figsize=(6.0, 3.8))
    for label, (epochs, mean, std) in curves.items():
        epochs, mean, std = (np.asarray(a, dtype=float) for a in (epochs, mean, std))
        style = ":" if label.startswith("vanilla") else "-"
        line, = ax.plot(epochs, mean, style, marker="o", ms=3, label=label)
        if std_for is None or label in std_for:
            ax.fill_between(epochs, mean - std, mean + std, color=line.get_color(), alpha=0.2)
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return _save(plt, fig, path, title)


def beta_positions(betas):
    """x positions of betas on a log axis: beta = 0 sits one decade below the
    smallest positive beta (1e-3 when there is none). Returns (positions, zero_at)."""
    betas = np.asarray(betas, dtype=float)
    positive = betas[betas > 0]
    zero_at = float(positive.min()) / 10.0 if positive.size else 1e-3
    return np.where(betas > 0, betas, zero_at), zero_at


def save_fid_vs_beta(rows, path, ylabel="FID", title=None, names=None):
    """FID against beta per model, log-x (learned-priors paper, Figure 3).

    beta = 0 cannot sit on a log axis: it is drawn one decade below the
    smallest positive beta (`beta_positions`), its tick labelled "0", and
    the axis label says where.

    Args:
        rows: list of dicts with `"model"`, `"beta"`, `"fid"`.
        path: PNG path.
        names: dict model -> legend label, or None.
    """
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.2, 3.6))
    betas = sorted({float(r["beta"]) for r in rows})
    _, zero_at = beta_positions(betas)
    for model in dict.fromkeys(r["model"] for r in rows):
        points = sorted((float(r["beta"]), r["fid"]) for r in rows
                        if r["model"] == model and r.get("fid") is not None and np.isfinite(r["fid"]))
        if not points:
            continue
        x, _ = beta_positions([p[0] for p in points])
        ax.plot(x, [p[1] for p in points], marker="o", label=(names or {}).get(model, model))
    ax.set_xscale("log")
    ticks, _ = beta_positions(betas)
    ax.set_xticks(ticks)
    ax.set_xticklabels([f"{b:g}" for b in betas])
    ax.minorticks_off()
    ax.set_xlabel(f"beta (log scale; beta = 0 drawn at {zero_at:g})")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(plt, fig, path, title)


def save_latent_panels(z0, z_t, labels, prior_samples, path, title=None):
    """The four panels of the learned-priors paper's Figure 2 (2-D latent).

    (a) f(E(x)) by class, (b) E(x) by class, (c) E(x) without classes,
    (d) f^-1(z_0) with z_0 ~ N(0, I).
    """
    plt = pyplot()
    fig, axes = plt.subplots(1, 4, figsize=(14, 3.6))
    panels = [
        ("(a) f(E(x)) by class", z0, labels),
        ("(b) E(x) by class", z_t, labels),
        ("(c) E(x)", z_t, None),
        ("(d) f^-1(z_0), z_0 ~ N(0, I)", prior_samples, None),
    ]
    for ax, (name, points, colours) in zip(axes, panels):
        points = np.asarray(points)
        if colours is None:
            ax.scatter(points[:, 0], points[:, 1], s=1, c="k", alpha=0.4)
        else:
            scatter = ax.scatter(points[:, 0], points[:, 1], s=1, c=colours, cmap="tab10", alpha=0.6)
        ax.set_title(name, fontsize=9)
    if labels is not None:
        fig.colorbar(scatter, ax=axes[:2].tolist(), shrink=0.8, label="class")
    if title:
        fig.suptitle(title)
    fig.savefig(_prepare(path), dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path


def save_interpolation_rows(rows, path, starts=None, ends=None, title=None):
    """Rows of interpolated images, optionally framed by the real endpoints.

    Args:
        rows: list of `(label, images (T, H, W, C))`.
        starts, ends: lists of one image per row (the originals before
            encoding, leftmost / rightmost columns), or None.
    """
    plt = pyplot()
    steps = len(rows[0][1])
    extra = (starts is not None) + (ends is not None)
    cols = steps + extra
    fig, axes = plt.subplots(len(rows), cols, figsize=(0.9 * cols + 1.4, 0.95 * len(rows) + 0.4),
                             squeeze=False)
    for r, (label, images) in enumerate(rows):
        cells = ([starts[r]] if starts is not None else []) + list(images) + (
            [ends[r]] if ends is not None else [])
        for c, image in enumerate(cells):
            _show(axes[r, c], np.asarray(image))
        axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
    return _save(plt, fig, path, title)


def save_neighbours(samples, train_neighbours, test_neighbours, path, title=None):
    """Samples (top), their nearest training (middle) and test (bottom) images."""
    plt = pyplot()
    n = len(samples)
    fig, axes = plt.subplots(3, n, figsize=(0.9 * n + 1.4, 3.2), squeeze=False)
    for r, (label, images) in enumerate(
        (("sample", samples), ("nearest train", train_neighbours), ("nearest test", test_neighbours))
    ):
        for c in range(n):
            _show(axes[r, c], np.asarray(images[c]))
        axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
    return _save(plt, fig, path, title)


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
