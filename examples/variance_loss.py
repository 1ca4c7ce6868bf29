"""Variance loss versus mean squared error (Figures 3 and 4).

Asperti, "Variance Loss in Variational Autoencoders" (LOD 2020), section 3:
the variance loss mean(var(X) - var(X_hat)) of reconstructed data is close
to mse(X, X_hat).

- Figure 3: a curve and its neighbourhood-averaged (smoothed) version have
  the same mean; their MSE and the variance loss are reported. We also plot
  MSE and variance loss of reconstructions along training (fig3_training).
- Figure 4: MSE vs variance loss of reconstructions (filled) and of
  generations from N(0, I) (hollow) for dense, convolutional and ResNet VAEs
  on MNIST / Fashion-MNIST, one point per epoch, with the diagonal.

CPU defaults are small (5,000 training images, 3 epochs, 1,000 test images)
and are not the paper's, which trained each network to convergence; the
balancing starts from mse estimate 0.05 instead of 1 so that such short runs
do not collapse to the mean image.

    python examples/variance_loss.py --data path/to/mnist.npz \
        path/to/fashion_mnist.npz --output /tmp/vl
"""

import csv
import os
import sys

import keras
import numpy as np
from keras import layers

from keras_vaes.metrics import diagnostics
from keras_vaes.models.two_stage import FirstStage, GaussianVAE, first_stage_kl_weight
from keras_vaes.plotting import pyplot

import _common  # examples/_common.py, beside the script: the flags every example shares

SHAPE = (32, 32, 1)
LATENT = 32
COLORS = {"dense": "tab:blue", "resnet": "tab:red", "convolutional": "tab:green"}


class ImageVAE(GaussianVAE):
    """A balanced VAE around any image encoder (-> mean, log_var) and decoder."""

    def __init__(self, encoder, decoder, latent_dim, seed=None, initial_mse=0.05, **kwargs):
        self._build_graph(encoder, decoder, seed, initial_mse, **kwargs)
        self.image_shape = SHAPE
        self.latent_dim = latent_dim
        self.kl_weight = first_stage_kl_weight(SHAPE[0], latent_dim)


def _heads(features, latent_dim):
    return [layers.Dense(latent_dim, name="z_mean")(features),
            layers.Dense(latent_dim, name="z_log_var")(features)]


def dense_vae(seed):
    x = keras.Input(SHAPE)
    h = layers.Dense(256, activation="relu")(layers.Dense(512, activation="relu")(
        layers.Flatten()(x)))
    z = keras.Input((LATENT,))
    y = layers.Dense(512, activation="relu")(layers.Dense(256, activation="relu")(z))
    y = layers.Reshape(SHAPE)(layers.Dense(int(np.prod(SHAPE)), activation="sigmoid")(y))
    return ImageVAE(keras.Model(x, _heads(h, LATENT)), keras.Model(z, y), LATENT, seed)


def conv_vae(seed):
    x = keras.Input(SHAPE)
    h = layers.Conv2D(32, 4, strides=2, padding="same", activation="relu")(x)
    h = layers.Conv2D(64, 4, strides=2, padding="same", activation="relu")(h)
    h = layers.Dense(256, activation="relu")(layers.Flatten()(h))
    z = keras.Input((LATENT,))
    y = layers.Reshape((8, 8, 64))(layers.Dense(8 * 8 * 64, activation="relu")(z))
    y = layers.Conv2DTranspose(32, 4, strides=2, padding="same", activation="relu")(y)
    y = layers.Conv2DTranspose(1, 4, strides=2, padding="same", activation="sigmoid")(y)
    return ImageVAE(keras.Model(x, _heads(h, LATENT)), keras.Model(z, y), LATENT, seed)


def resnet_vae(seed):
    return FirstStage(SHAPE, LATENT, base_dim=16, num_scale=3, fc_dim=256,
                      initial_mse=0.05, seed=seed)


ARCHITECTURES = {"dense": dense_vae, "convolutional": conv_vae, "resnet": resnet_vae}


class VarianceLossRecorder(keras.callbacks.Callback):
    """After each epoch: MSE and variance loss of reconstructions and generations."""

    def __init__(self, test_images, seed):
        super().__init__()
        self.test_images, self.seed, self.rows = test_images, seed, []

    def on_epoch_end(self, epoch, logs=None):
        model, x = self.model, self.test_images
        rec = model.reconstruct(x)["x_hat"]
        z = np.random.default_rng(self.seed).standard_normal((len(x), model.latent_dim))
        gen = model.decode(z.astype("float32"))["x_hat"]
        rec_loss = diagnostics.variance_loss(x, rec)
        self.rows.append({
            "epoch": epoch + 1,
            "mse": rec_loss["mse"],
            "variance_loss": rec_loss["variance_loss"],
            "variance_loss_generated": diagnostics.variance_loss(x, gen)["variance_loss"],
        })


def figure3_smoothing(output, seed, window=25):
    """A random curve and its moving average: same mean, lower variance."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 10, 500)
    curve = np.sin(t) * 2 + np.cumsum(rng.normal(0, 0.3, t.size))
    curve -= curve.mean()
    padded = np.pad(curve, window // 2, mode="reflect")
    smooth = np.convolve(padded, np.ones(window) / window, mode="valid")
    smooth += curve.mean() - smooth.mean()
    loss = diagnostics.variance_loss(curve[:, None], smooth[:, None])
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.plot(t, curve, color="tab:blue", label="curve")
    ax.plot(t, smooth, color="tab:green", label=f"neighbourhood average ({window} points)")
    ax.set_title(f"mse {loss['mse']:.3f}, variance loss {loss['variance_loss']:.3f}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(output, "fig3_smoothing.png"), dpi=100)
    plt.close(fig)
    return loss


def plot_training(rows, output):
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(8, 3))
    for key, ax in zip(("mse", "variance_loss"), axes):
        for (dataset, arch), group in _groups(rows).items():
            ax.plot([r["epoch"] for r in group], [r[key] for r in group],
                    marker="o", ms=3, color=COLORS[arch],
                    ls="-" if dataset == "mnist" else "--", label=f"{arch} {dataset}")
        ax.set_title(f"{key} of reconstructions along training")
        ax.set_xlabel("epoch")
    axes[1].legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(os.path.join(output, "fig3_training.png"), dpi=100)
    plt.close(fig)


def plot_figure4(rows, output):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    for (dataset, arch), group in _groups(rows).items():
        mse = [r["mse"] for r in group]
        ax.scatter(mse, [r["variance_loss"] for r in group], color=COLORS[arch],
                   marker="o" if dataset == "mnist" else "s", label=f"{arch} {dataset}")
        ax.scatter(mse, [r["variance_loss_generated"] for r in group], facecolors="none",
                   edgecolors=COLORS[arch], marker="o" if dataset == "mnist" else "s")
    top = max(max(r["mse"], r["variance_loss"], r["variance_loss_generated"]) for r in rows)
    ax.plot([0, top], [0, top], "k--", lw=0.8, label="diagonal")
    ax.set_xlabel("mse of reconstructions")
    ax.set_ylabel("variance loss (filled: rec., hollow: gen.)")
    ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(os.path.join(output, "fig4_mse_vs_variance_loss.png"), dpi=100)
    plt.close(fig)


def _groups(rows):
    groups = {}
    for row in rows:
        groups.setdefault((row["dataset"], row["architecture"]), []).append(row)
    return groups


def _dataset_name(path):
    return "fashion_mnist" if path and "fashion" in os.path.basename(path) else "mnist"


def build_parser():
    """The command line (`parse_args` parses it)."""
    parser = _common.parser(__doc__)
    _common.add_data(parser, "MNIST / Fashion-MNIST npz files (name decides which); "
                             "default: keras.datasets MNIST", nargs="+", default=[None])
    parser.add_argument("--epochs", type=_common.positive_int, default=3, help="per network (CPU default)")
    parser.add_argument("--train-size", type=_common.positive_int, default=5000,
                        help="first N training images")
    parser.add_argument("--test-size", type=_common.integer_at_least(2), default=1000,
                        help="first N test images")
    parser.add_argument("--architectures", nargs="+", default=list(ARCHITECTURES),
                        choices=list(ARCHITECTURES))
    parser.add_argument("--batch-size", type=_common.positive_int, default=50, help="images per step")
    _common.add_output(parser, "runs/variance_loss", "folder for figures and CSV")
    _common.add_seed(parser, "seed of weights and data order")
    return parser


def parse_args(argv=None, parser=None):
    """Parses the command line (exit status 2 on a bad value); `parser` defaults to `build_parser()`."""
    parser = parser or build_parser()
    return parser.parse_args(argv)


def main(argv=None):
    parser = build_parser()
    args = parse_args(argv, parser)
    os.makedirs(args.output, exist_ok=True)
    keras.utils.set_random_seed(args.seed)

    smoothing = figure3_smoothing(args.output, args.seed)
    print(f"Figure 3: mse {smoothing['mse']:.3f}, variance loss {smoothing['variance_loss']:.3f}")

    rows = []
    for path in args.data:
        name = _dataset_name(path)
        (x_train, _), (x_test, _) = _common.load_dataset(parser, name, path)
        x_train, x_test = x_train[: args.train_size], x_test[: args.test_size]
        for arch in args.architectures:
            print(f"--- {arch} VAE on {name}")
            model = ARCHITECTURES[arch](args.seed)
            model.compile(optimizer=keras.optimizers.Adam(1e-3))
            recorder = VarianceLossRecorder(x_test, args.seed)
            model.fit(x_train, epochs=args.epochs, batch_size=args.batch_size,
                      callbacks=[recorder], verbose=2)
            rows += [{"dataset": name, "architecture": arch, **r} for r in recorder.rows]

    with open(os.path.join(args.output, "variance_loss.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    with open(os.path.join(args.output, "fig3_smoothing.csv"), "w") as f:
        f.write(f"mse,variance_loss\n{smoothing['mse']},{smoothing['variance_loss']}\n")
    plot_training(rows, args.output)
    plot_figure4(rows, args.output)
    print("dataset architecture epoch mse variance_loss variance_loss_generated")
    for r in rows:
        print(f"{r['dataset']} {r['architecture']} {r['epoch']} {r['mse']:.4f} "
              f"{r['variance_loss']:.4f} {r['variance_loss_generated']:.4f}")


if __name__ == "__main__":
    main()
