"""Trains one flow-prior VAE (or its N(0, I) baseline) on MNIST / Fashion-MNIST.

"Empirical observations pertaining to learned priors", section 3-4: the
InfoGAN network, latent 8, beta down to 0 (eq. 8), KL annealing. This is how
the `fp_vae_mnist_beta0` preset was made; the beta sweeps and figures are in
`examples/learned_priors.py`.

    python examples/train_fp_vae.py --data path/to/mnist.npz \
        --beta 0 --minutes 20 --output runs/fp_vae_mnist_beta0

With `--conditional` the model is class-conditional (section 6: q(z|x,y),
p(x|z,y) and, for the flow, p_theta(z|y)) and the results add the
diversity of samples under the same label (`conditional_diversity`).

Writes (in --output): checkpoint `fp_vae.weights.h5` (atomic, every epoch
and at the end; never NaN weights), `preset.weights.h5` (weights without
optimizer state), `history.csv`, `samples.png`, `reconstructions.png`,
`results.md` / `results.csv` (test reconstruction MSE, prior NLL of the
test codes, throughput).
"""

import os
import sys
import time

import keras
import numpy as np

import keras_vaes as kv
from keras_vaes.callbacks import TimeBudget
from keras_vaes.evaluation import tables
from keras_vaes.evaluation.learned_priors import classifier_fd, evaluate_fp_vae

import _common  # examples/_common.py, beside the script: the flags every example shares


def build_parser():
    """The command line (`parse_args` parses it)."""
    parser = _common.parser(__doc__)
    positive = _common.positive_int
    parser.add_argument("--dataset", choices=["mnist", "fashion_mnist"], default="mnist", help="training set")
    _common.add_data(parser, "Keras-layout .npz of the dataset (default: keras.datasets)")
    parser.add_argument("--prior", choices=["flow", "normal"], default="flow", help="learned RealNVP prior or fixed N(0, I)")
    parser.add_argument("--beta", type=_common.non_negative_float, default=0.0, help="KL weight (0: unregularised autoencoder, eq. 8)")
    parser.add_argument("--gamma", type=_common.positive_float, default=1.0, help="fixed decoder variance; the KL weight is gamma*beta")
    parser.add_argument("--latent-dim", type=positive, default=8, help="latent size (the paper: 8 for MNIST)")
    parser.add_argument("--anneal-steps", type=_common.non_negative_int, default=5000, help="linear KL annealing length in steps")
    parser.add_argument("--epochs", type=positive, default=100, help="maximum epochs")
    parser.add_argument("--minutes", type=_common.non_negative_float, default=0.0, help="stop after this many minutes (0: no limit)")
    parser.add_argument("--batch-size", type=positive, default=64, help="batch size (Lucic et al.: 64)")
    parser.add_argument("--learning-rate", type=_common.positive_float, default=5e-4, help="Adam learning rate (beta_1 = 0.5)")
    _common.add_output(parser, "runs/fp_vae")
    _common.add_seed(parser)
    parser.add_argument("--resume", type=_common.existing_file, default=None, help="weights (.weights.h5, same configuration) to continue from; the step counter resumes, Adam restarts")
    parser.add_argument("--evaluate-only", action="store_true", help="no training: evaluate the --resume weights")
    parser.add_argument("--fd-samples", type=_common.zero_or_at_least(2), default=10000, help="generated and test images for the FD of classifier features (0: skip)")
    parser.add_argument("--conditional", action="store_true", help="class-conditional model (section 6)")
    parser.add_argument("--diversity-samples", type=_common.integer_at_least(2), default=100, help="samples per class for the diversity measure")
    return parser


def parse_args(argv=None, parser=None):
    """Parses the command line (exit status 2 on a bad value); `parser` defaults to `build_parser()`."""
    parser = parser or build_parser()
    return parser.parse_args(argv)


def main(argv=None):
    parser = build_parser()
    args = parse_args(argv, parser)
    keras.utils.set_random_seed(args.seed)
    (x_train, y_train), (x_test, y_test) = _common.load_dataset(parser, args.dataset, args.data)
    os.makedirs(args.output, exist_ok=True)  # after the data: a refused --data leaves no folder
    num_classes = 10 if args.conditional else None
    model = kv.build_flow_prior_vae(
        x_train.shape[1:], args.latent_dim, beta=args.beta, prior=args.prior,
        gamma=args.gamma, anneal_steps=args.anneal_steps, seed=args.seed,
        num_classes=num_classes,
    )
    labels_train = labels_test = None
    train_data, test_data = x_train, (x_test,)
    if args.conditional:
        labels_train, labels_test = y_train.astype("int32"), y_test.astype("int32")
        train_data, test_data = (x_train, labels_train), ((x_test, labels_test),)
    if args.resume:
        model.load_weights(args.resume)
    model.compile(optimizer=keras.optimizers.Adam(args.learning_rate, beta_1=0.5))
    checkpoint = os.path.join(args.output, "fp_vae.weights.h5")
    budget = TimeBudget(args.minutes)
    first_step = int(keras.ops.convert_to_numpy(model.anneal_step))
    start = time.time()
    history = None if args.evaluate_only else model.fit(
        train_data, batch_size=args.batch_size, epochs=args.epochs, shuffle=True,
        validation_data=test_data,
        callbacks=[
            budget,
            keras.callbacks.ModelCheckpoint(checkpoint, save_weights_only=True),
            keras.callbacks.CSVLogger(os.path.join(args.output, "history.csv")),
            keras.callbacks.TerminateOnNaN(),
        ],
        verbose=2,
    )
    seconds = time.time() - start
    if not all(np.all(np.isfinite(keras.ops.convert_to_numpy(w))) for w in model.weights):
        print("Training diverged (NaN weights); the last finite checkpoint is", checkpoint)
        return 1
    if not args.evaluate_only:
        model.save_weights(checkpoint)
    digest = model.export_weights(os.path.join(args.output, "preset.weights.h5"))
    steps = int(keras.ops.convert_to_numpy(model.anneal_step))

    measures = evaluate_fp_vae(model, x_test, args.output, labels=labels_test, seed=args.seed)
    row = {
        "dataset": args.dataset, "prior": args.prior, "beta": args.beta,
        "epochs": len(history.history["loss"]) if history else 0, "steps": steps,
        "minutes": round(seconds / 60, 1),
        "images_per_s": round((steps - first_step) * args.batch_size / seconds, 1) if history else 0,
        "test_mse": round(measures["test_mse"], 5), "test_prior_nll": round(measures["test_prior_nll"], 3),
        "sha256": digest,
    }
    if args.fd_samples:  # the shipped classifier's features, NOT the papers' Inception FID
        fd, reason = classifier_fd(model, x_test, args.dataset, args.fd_samples, labels_test, seed=args.seed + 1)
        if reason:
            print(f"FD skipped: {reason}")
        row["fd_classifier"] = float("nan") if fd is None else round(fd, 3)
    if args.conditional:
        diversity, _ = kv.conditional_diversity(model, args.diversity_samples, seed=args.seed)
        row["diversity"] = round(diversity, 3)
    tables.write_table_files(args.output, tables.markdown_table(list(row), [[str(v) for v in row.values()]]),
                             [list(row), list(row.values())])
    print(row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
