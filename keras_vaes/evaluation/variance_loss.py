"""Figures 3 and 4 of the variance-loss paper: variance loss against MSE.

Asperti, "Variance Loss in Variational Autoencoders" (LOD 2020), section 3:
the variance loss mean(var(X) - var(X_hat)) of reconstructed data is close
to mse(X, X_hat) (`metrics.diagnostics.variance_loss`).

- Figure 3: a curve and its neighbourhood average have the same mean; their
  MSE and variance loss (`smoothing`, `save_smoothing_figure`).
- Figure 4: MSE against the variance loss of reconstructions and of
  generations from N(0, I), one point per epoch (`VarianceLossRecorder`,
  `save_training_figure`, `save_mse_vs_variance_loss`).
"""

import keras
import numpy as np

from keras_vaes.metrics import diagnostics
from keras_vaes.plotting import pyplot

COLORS = {"dense": "tab:blue", "resnet": "tab:red", "convolutional": "tab:green"}


class VarianceLossRecorder(keras.callbacks.Callback):
    """After each epoch: MSE and variance loss of reconstructions and of N(0, I) generations.

    Args:
        images: test images the model reconstructs (and its generations
            are compared with, as many).
        seed: int. Seed of the generations' latents (the same every epoch).

    Attributes:
        rows: list of `{"epoch", "mse", "variance_loss", "variance_loss_generated"}`.
    """

    def __init__(self, images, seed=0):
        super().__init__()
        self.images, self.seed, self.rows = images, seed, []

    def on_epoch_end(self, epoch, logs=None):
        reconstructed = self.model.reconstruct(self.images)["x_hat"]
        z = np.random.default_rng(self.seed).standard_normal((len(self.images), self.model.latent_dim))
        generated = self.model.decode(z.astype("float32"))["x_hat"]
        loss = diagnostics.variance_loss(self.images, reconstructed)
        self.rows.append({
            "epoch": epoch + 1,
            "mse": loss["mse"],
            "variance_loss": loss["variance_loss"],
            "variance_loss_generated": diagnostics.variance_loss(self.images, generated)["variance_loss"],
        })


def smoothing(seed=0, window=25, points=500):
    """Figure 3: a random curve and its moving average (same mean, lower variance).

    Returns:
        `(t, curve, smooth, loss)`, loss the `diagnostics.variance_loss`
        dict (`mse`, `variance_loss`) of the smoothed curve.
    """
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 10, points)
    curve = np.sin(t) * 2 + np.cumsum(rng.normal(0, 0.3, t.size))
    curve -= curve.mean()
    smooth = np.convolve(np.pad(curve, window // 2, mode="reflect"), np.ones(window) / window, mode="valid")
    smooth += curve.mean() - smooth.mean()
    return t, curve, smooth, diagnostics.variance_loss(curve[:, None], smooth[:, None])


def save_smoothing_figure(path, seed=0, window=25):
    """Figure 3 drawn to `path`; returns the loss dict of `smoothing`."""
    t, curve, smooth, loss = smoothing(seed, window)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.plot(t, curve, color="tab:blue", label="curve")
    ax.plot(t, smooth, color="tab:green", label=f"neighbourhood average ({window} points)")
    ax.set_title(f"mse {loss['mse']:.3f}, variance loss {loss['variance_loss']:.3f}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return loss


def _groups(rows):
    groups = {}
    for row in rows:
        groups.setdefault((row["dataset"], row["architecture"]), []).append(row)
    return groups


def save_training_figure(rows, path):
    """MSE and variance loss of reconstructions along training, per dataset and architecture."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(8, 3))
    for key, ax in zip(("mse", "variance_loss"), axes):
        for (dataset, arch), group in _groups(rows).items():
            ax.plot([r["epoch"] for r in group], [r[key] for r in group], marker="o", ms=3,
                    color=COLORS.get(arch), ls="-" if dataset == "mnist" else "--", label=f"{arch} {dataset}")
        ax.set_title(f"{key} of reconstructions along training")
        ax.set_xlabel("epoch")
    axes[1].legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def save_mse_vs_variance_loss(rows, path):
    """Figure 4: MSE vs variance loss, filled for reconstructions, hollow for generations, the diagonal."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    for (dataset, arch), group in _groups(rows).items():
        mse = [r["mse"] for r in group]
        marker = "o" if dataset == "mnist" else "s"
        ax.scatter(mse, [r["variance_loss"] for r in group], color=COLORS.get(arch), marker=marker,
                   label=f"{arch} {dataset}")
        ax.scatter(mse, [r["variance_loss_generated"] for r in group], facecolors="none",
                   edgecolors=COLORS.get(arch), marker=marker)
    top = max(max(r["mse"], r["variance_loss"], r["variance_loss_generated"]) for r in rows)
    ax.plot([0, top], [0, top], "k--", lw=0.8, label="diagonal")
    ax.set_xlabel("mse of reconstructions")
    ax.set_ylabel("variance loss (filled: rec., hollow: gen.)")
    ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
