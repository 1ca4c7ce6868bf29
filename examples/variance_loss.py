"""Variance loss versus mean squared error (Figures 3 and 4).

Asperti, "Variance Loss in Variational Autoencoders" (LOD 2020), section 3:
the variance loss mean(var(X) - var(X_hat)) of reconstructed data is close
to mse(X, X_hat).

- Figure 3: a curve and its neighbourhood-averaged (smoothed) version have
  the same mean; their MSE and the variance loss are reported. We also plot
  MSE and variance loss of reconstructions along training (fig3_training).
- Figure 4: MSE vs variance loss of reconstructions (filled) and of
  generations from N(0, I) (hollow) for dense, convolutional
  (`VarianceLossVAE`) and ResNet (`FirstStage`) VAEs on MNIST /
  Fashion-MNIST, one point per epoch, with the diagonal.

CPU defaults are small (5,000 training images, 3 epochs, 1,000 test images)
and are not the paper's, which trained each network to convergence; the
balancing starts from mse estimate 0.05 instead of 1 so that such short runs
do not collapse to the mean image.

    python examples/variance_loss.py --data path/to/mnist.npz \
        path/to/fashion_mnist.npz --output /tmp/vl
"""

import os

import keras

from keras_vaes.evaluation import tables
from keras_vaes.evaluation import variance_loss as figures
from keras_vaes.models.stages import FirstStage
from keras_vaes.models.variance_loss import VarianceLossVAE

import _common  # examples/_common.py, beside the script: the flags every example shares

SHAPE, LATENT, INITIAL_MSE = (32, 32, 1), 32, 0.05
ARCHITECTURES = {
    "dense": lambda seed: VarianceLossVAE(SHAPE, LATENT, "dense", initial_mse=INITIAL_MSE, seed=seed),
    "convolutional": lambda seed: VarianceLossVAE(SHAPE, LATENT, "convolutional", initial_mse=INITIAL_MSE,
                                                  seed=seed),
    "resnet": lambda seed: FirstStage(SHAPE, LATENT, base_dim=16, num_scale=3, fc_dim=256,
                                      initial_mse=INITIAL_MSE, seed=seed),
}


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

    smoothing = figures.save_smoothing_figure(os.path.join(args.output, "fig3_smoothing.png"), args.seed)
    print(f"Figure 3: mse {smoothing['mse']:.3f}, variance loss {smoothing['variance_loss']:.3f}")

    rows = []
    for path in args.data:
        name = "fashion_mnist" if path and "fashion" in os.path.basename(path) else "mnist"
        (x_train, _), (x_test, _) = _common.load_dataset(parser, name, path)
        x_train, x_test = x_train[: args.train_size], x_test[: args.test_size]
        for arch in args.architectures:
            print(f"--- {arch} VAE on {name}")
            model = ARCHITECTURES[arch](args.seed)
            model.compile(optimizer=keras.optimizers.Adam(1e-3))
            recorder = figures.VarianceLossRecorder(x_test, args.seed)
            model.fit(x_train, epochs=args.epochs, batch_size=args.batch_size, callbacks=[recorder], verbose=2)
            rows += [{"dataset": name, "architecture": arch, **r} for r in recorder.rows]

    columns = list(rows[0])
    tables.write_csv(os.path.join(args.output, "variance_loss.csv"),
                     [columns] + [[r[c] for c in columns] for r in rows])
    tables.write_csv(os.path.join(args.output, "fig3_smoothing.csv"),
                     [["mse", "variance_loss"], [smoothing["mse"], smoothing["variance_loss"]]])
    figures.save_training_figure(rows, os.path.join(args.output, "fig3_training.png"))
    figures.save_mse_vs_variance_loss(rows, os.path.join(args.output, "fig4_mse_vs_variance_loss.png"))
    print("dataset architecture epoch mse variance_loss variance_loss_generated")
    for r in rows:
        print(f"{r['dataset']} {r['architecture']} {r['epoch']} {r['mse']:.4f} "
              f"{r['variance_loss']:.4f} {r['variance_loss_generated']:.4f}")


if __name__ == "__main__":
    main()
