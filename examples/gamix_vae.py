"""GAMIX-VAE (Rivera), section 4: train, show Figs. 2-3, compare with a standard VAE.

The paper (CelebA-HQ 256x256) shows variants of a test face with two latent
entries moved (Fig. 2) and transitions between two encodings (Fig. 3, eq.
14), and claims sharper, less collapsed results than the same network
trained as a standard VAE, with no numbers. This script trains GAMIX-VAE
and (unless --no-baseline) that baseline on the same data and steps, draws
the figures and measures the claim (FID, sharpness against the data's,
inactive latent dimensions). `--dataset celeba_hq` is the paper's
configuration (a GPU, the CelebA-HQ .jpg folder as --data), `fashion_mnist`
/ `mnist` a CPU one keeping every mechanism (`keras_vaes.configs.gamix`).

    python examples/gamix_vae.py --dataset fashion_mnist \
        --data path/to/fashion_mnist.npz --steps 60 --output /tmp/g

Writes to --output: <model>.weights.h5, fig2_variants_<model>.png,
fig3_transitions_<model>.png, curves_<model>.png, results.md, results.csv,
arrays.csv (per latent dimension), images_<row>.png (reconstructions, samples).
"""

import os

import keras
import numpy as np

from keras_vaes import datasets
from keras_vaes.configs import gamix as paper
from keras_vaes.configs.gamix import MODEL_NAMES as MODELS
from keras_vaes.evaluation.gamix import evaluate_gamix, save_figures
from keras_vaes.evaluation.protocol import write_results
from keras_vaes.metrics import extractors
from keras_vaes.pretrained import load_pretrained

import _common  # examples/_common.py, beside the script: the flags every example shares


def build_parser():
    """The command line (`parse_args` checks the combinations and fills the dataset's defaults)."""
    parser = _common.parser(__doc__)
    add, positive, at_least_2 = parser.add_argument, _common.positive_int, _common.integer_at_least(2)
    add("--dataset", choices=sorted(paper.CONFIGS), default="fashion_mnist",
        help="celeba_hq: the paper's configuration; mnist / fashion_mnist: the CPU one")
    _common.add_data(parser, "npz file (mnist, fashion_mnist; default keras.datasets) or the "
                             "CelebA-HQ .jpg folder (celeba_hq)")
    add("--epochs", type=positive, help="training epochs (default: per dataset)")
    add("--steps", type=positive, help="steps per epoch (default: one pass over the data)")
    _common.add_train_size(parser, "use the first N training images (mnist-like)")
    add("--batch-size", type=at_least_2, help="default: per dataset (author: 10 on CelebA-HQ; the "
                                              "batch-mixture variance needs 2 images)")
    add("--eval-size", type=at_least_2, help="held-out images evaluated (default: per dataset)")
    _common.add_output(parser, "runs/gamix")
    add("--weights", help="folder holding gamix.weights.h5 (and baseline.weights.h5) of an earlier run: "
                          "load them, skip training")
    _common.add_pretrained(parser, "build_gamix_vae", "a GAMIX-VAE preset to load instead of training GAMIX-VAE")
    add("--no-baseline", action="store_true", help="do not train the standard-VAE baseline")
    add("--bn-training", action="store_true",
        help="BN / dropout in training mode (default: inference mode, as the author's code)")
    _common.add_feature_model(
        parser, "auto", "FID features: auto (InceptionV3 if its weights are here, else the shipped "
                        "classifier for mnist-like data), inception, tfgan[:path], a .keras path, or none",
        keywords=("auto", "inception", "classifier", "none"))
    add("--variant-dims", type=_common.non_negative_int, nargs=2, default=(0, 3),
        help="Fig. 2: the two latent entries moved (author's code: 0 and 3)")
    add("--variant-steps", type=float, nargs=3, default=(-20.0, 0.0, 20.0),
        help="Fig. 2: moves in units of the posterior sigma (author's code: -20 0 20)")
    _common.add_seed(parser, "seed of weights, sampling and data order")
    return parser


def parse_args(argv=None, parser=None):
    """Parses the command line (exit status 2 on a bad value); `parser` defaults to `build_parser()`."""
    parser = parser or build_parser()
    args = parser.parse_args(argv)
    config = paper.CONFIGS[args.dataset]
    if args.pretrained and _common.preset_image_shape(args.pretrained) != config["input_shape"]:
        parser.error(f"argument --pretrained: preset {args.pretrained!r} takes images of shape "
                     f"{_common.preset_image_shape(args.pretrained)}, not {args.dataset}'s "
                     f"{config['input_shape']}. Received: --pretrained {args.pretrained} with --dataset "
                     f"{args.dataset}")
    args.epochs = args.epochs or config["epochs"]
    args.batch_size = args.batch_size or config["batch_size"]
    args.eval_size = args.eval_size or config["eval_size"]
    return args


def load_data(args, parser):
    """(training data for fit, held-out images in [-1, 1]); `parser` reports data it cannot use."""
    if args.dataset == "celeba_hq":
        if args.data is None:
            parser.error("argument --data: --dataset celeba_hq needs the CelebA-HQ .jpg folder. "
                         "Received: no --data")
        train, validation = _common.load_dataset(
            parser, args.dataset, args.data, load=datasets.load_celeba_hq,
            batch_size=args.batch_size, seed=args.seed)
        count = min(args.eval_size, len(validation.paths))
        held_out = np.stack([datasets.read_jpeg(p) for p in validation.paths[:count]])
        return train, held_out
    loader = datasets.load_mnist_signed if args.dataset == "mnist" else datasets.load_fashion_mnist_signed
    (x_train, _), (x_test, _) = _common.load_dataset(parser, args.dataset, args.data, load=loader)
    if args.train_size:
        x_train = x_train[: args.train_size]
    return x_train, x_test[: args.eval_size]


def main(argv=None):
    parser = build_parser()
    args = parse_args(argv, parser)
    keras.utils.set_random_seed(args.seed)
    x_train, held_out = load_data(args, parser)
    os.makedirs(args.output, exist_ok=True)  # after the data: a refused --data leaves no folder

    # === Models: GAMIX-VAE and the same network as a standard VAE; train (or load) ===
    models = paper.build_models(args.dataset, baseline=not args.no_baseline, bn_training=args.bn_training,
                                seed=args.seed)
    for key, model in models.items():
        if key == "gamix" and args.pretrained:
            models[key] = load_pretrained(args.pretrained)
            print(f"{MODELS[key]}: loaded preset {args.pretrained}")
        elif args.weights:
            model.load_weights(os.path.join(args.weights, f"{key}.weights.h5"))
            print(f"{MODELS[key]}: loaded {args.weights}/{key}.weights.h5")
        else:
            print(f"=== Training {MODELS[key]} ===")
            paper.train(model, x_train, args.output, key, epochs=args.epochs, steps_per_epoch=args.steps,
                        batch_size=None if args.dataset == "celeba_hq" else args.batch_size)

    # === Figures: Fig. 2 (variants), Fig. 3 (transitions, eq. 14) ===
    for key, model in models.items():
        save_figures(model, held_out, args.output, key, MODELS[key], args.variant_dims, args.variant_steps,
                     seed=args.seed)

    # === The table: the paper's claims, measured ===
    extractor, description, reason = (None, None, "--feature-model none") if args.feature_model == "none" \
        else extractors.resolve_feature_model(args.feature_model, args.dataset)
    notes = [f"dataset {args.dataset}, held-out images {len(held_out)}, seed {args.seed}",
             f"training: epochs {args.epochs}, steps per epoch {args.steps or 'all'}, "
             f"batch {args.batch_size}"
             + (", weights loaded" if (args.weights or args.pretrained) else "")]
    table = evaluate_gamix({MODELS[k]: m for k, m in models.items()}, held_out, feature_model=extractor,
                           fid_unavailable=reason, feature_description=description, seed=args.seed,
                           title=f"GAMIX-VAE vs standard VAE — {args.dataset}", notes=notes)
    print(open(write_results(table, args.output)[0]).read())
    print(f"Wrote figures and tables to {args.output}")


if __name__ == "__main__":
    main()
