"""GAMIX-VAE (Rivera), section 4: train, show Figs. 2-3, compare with a standard VAE.

The paper trains on CelebA-HQ 256x256 (24,000 training images, latent 512,
ResNetV2 with 128 filters, PatchGAN) and shows generated variants of a test
face with two latent entries moved (Fig. 2) and transitions between two
encodings (Fig. 3, eq. 14); it claims sharper, less collapsed results than
the same network trained as a standard VAE, with no numbers. This script
trains GAMIX-VAE and (unless --no-baseline) that baseline on the same data and
steps, draws the figures and measures the claim: FID of reconstructions and
samples, sharpness (Laplacian energy) vs the data's, inactive latent
dimensions, mean / variance of the encoder means per dimension.

    --dataset celeba_hq   the paper's configuration (needs a GPU and the
                          CelebA-HQ .jpg folder as --data; streamed from disk)
    --dataset fashion_mnist | mnist   a CPU configuration keeping every
                          mechanism: 32x32x1, filters 32, latent 32, PatchGAN
                          strides 2,2,1,1,1,1, batch 64

    python examples/gamix_vae.py --dataset fashion_mnist \
        --data path/to/fashion_mnist.npz --steps 60 --output /tmp/g

Writes to --output: gamix.weights.h5 (and baseline.weights.h5),
fig2_variants_<model>.png, fig3_transitions_<model>.png, samples_<model>.png,
reconstructions_<model>.png, curves_<model>.png, results.md, results.csv,
latent_dimensions.csv.
"""

import os
import sys

import keras
import numpy as np

from keras_vaes import datasets, plotting
from keras_vaes.evaluation import gamix as gamix_eval
from keras_vaes.metrics import extractors
from keras_vaes.models.gamix import build_gamix_vae, to_unit_range

import _common  # examples/_common.py, beside the script: the flags every example shares

CONFIGS = {
    # The paper / the author's code (DESIGN.md): 200-300 epochs of 3,000 steps.
    "celeba_hq": dict(input_shape=(256, 256, 3), latent_dim=512, filters=128,
                      discriminator_strides=(2, 2, 2, 1, 1, 1), batch_size=10, epochs=200,
                      eval_size=500),
    # Not in the paper: small enough for a CPU, every mechanism kept.
    "fashion_mnist": dict(input_shape=(32, 32, 1), latent_dim=32, filters=32,
                          discriminator_strides=(2, 2, 1, 1, 1, 1), batch_size=64, epochs=1,
                          eval_size=1000),
}
CONFIGS["mnist"] = CONFIGS["fashion_mnist"]
MODELS = {"gamix": "GAMIX-VAE", "baseline": "standard VAE (baseline)"}


def build_parser():
    """The command line (`parse_args` checks the combinations)."""
    parser = _common.parser(__doc__)
    positive = _common.positive_int
    parser.add_argument("--dataset", choices=sorted(CONFIGS), default="fashion_mnist",
                        help="celeba_hq: the paper's configuration; mnist / fashion_mnist: the CPU one")
    _common.add_data(parser, "npz file (mnist, fashion_mnist; default keras.datasets) or the "
                             "CelebA-HQ .jpg folder (celeba_hq)")
    parser.add_argument("--epochs", type=positive, help="training epochs (default: per dataset)")
    parser.add_argument("--steps", type=positive, help="steps per epoch (default: one pass over the data)")
    _common.add_train_size(parser, "use the first N training images (mnist-like)")
    parser.add_argument("--batch-size", type=_common.integer_at_least(2),
                        help="default: per dataset (author: 10 on CelebA-HQ; the batch-mixture "
                             "variance needs 2 images)")
    parser.add_argument("--eval-size", type=_common.integer_at_least(2),
                        help="held-out images evaluated (default: per dataset)")
    _common.add_output(parser, "runs/gamix")
    parser.add_argument("--weights", help="folder holding gamix.weights.h5 (and baseline.weights.h5) "
                                          "of an earlier run: load them, skip training")
    _common.add_pretrained(parser, "build_gamix_vae", "a GAMIX-VAE preset to load instead of "
                                                      "training GAMIX-VAE")
    parser.add_argument("--no-baseline", action="store_true", help="do not train the standard-VAE baseline")
    parser.add_argument("--bn-training", action="store_true",
                        help="BN / dropout in training mode (default: inference mode, as the author's code)")
    _common.add_feature_model(
        parser, "auto", "FID features: auto (InceptionV3 if its weights are here, else the shipped "
                        "classifier for mnist-like data), inception, tfgan[:path], a .keras path, or none",
        keywords=("auto", "inception", "classifier", "none"))
    parser.add_argument("--variant-dims", type=_common.non_negative_int, nargs=2, default=(0, 3),
                        help="Fig. 2: the two latent entries moved (author's code: 0 and 3)")
    parser.add_argument("--variant-steps", type=float, nargs=3, default=(-20.0, 0.0, 20.0),
                        help="Fig. 2: moves in units of the posterior sigma (author's code: -20 0 20)")
    _common.add_seed(parser, "seed of weights, sampling and data order")
    return parser


def parse_args(argv=None, parser=None):
    """Parses the command line (exit status 2 on a bad value); `parser` defaults to `build_parser()`."""
    parser = parser or build_parser()
    args = parser.parse_args(argv)
    if args.pretrained:
        expected = CONFIGS[args.dataset]["input_shape"]
        if _common.preset_image_shape(args.pretrained) != expected:
            parser.error(f"argument --pretrained: preset {args.pretrained!r} takes images of shape "
                         f"{_common.preset_image_shape(args.pretrained)}, not {args.dataset}'s "
                         f"{expected}. Received: --pretrained {args.pretrained} with --dataset "
                         f"{args.dataset}")
    return args


def load_data(args, config, parser):
    """(training data for fit, held-out images in [-1, 1]); `parser` reports data it cannot use."""
    eval_size = args.eval_size or config["eval_size"]
    if args.dataset == "celeba_hq":
        if args.data is None:
            parser.error("argument --data: --dataset celeba_hq needs the CelebA-HQ .jpg folder. "
                         "Received: no --data")
        train, validation = _common.load_dataset(
            parser, args.dataset, args.data, load=datasets.load_celeba_hq,
            batch_size=args.batch_size or config["batch_size"], seed=args.seed)
        count = min(eval_size, len(validation.paths))
        held_out = np.stack([datasets.read_jpeg(p) for p in validation.paths[:count]])
        return train, held_out
    loader = datasets.load_mnist_signed if args.dataset == "mnist" else datasets.load_fashion_mnist_signed
    (x_train, _), (x_test, _) = _common.load_dataset(parser, args.dataset, args.data, load=loader)
    if args.train_size:
        x_train = x_train[: args.train_size]
    return x_train, x_test[:eval_size]


def feature_model(spec, dataset):
    """(extractor or None, description, reason FID is skipped or None)."""
    if spec == "none":
        return None, None, "--feature-model none"
    return extractors.resolve_feature_model(spec, dataset)


def train(model, data, args, config, output, key):
    model.compile()
    callbacks = [
        # GamixVAE.save_weights is atomic and refuses NaN weights.
        keras.callbacks.ModelCheckpoint(os.path.join(output, f"{key}.weights.h5"), save_weights_only=True),
        keras.callbacks.CSVLogger(os.path.join(output, f"history_{key}.csv")),
    ]
    fit_kwargs = {} if args.dataset == "celeba_hq" else {"batch_size": args.batch_size or config["batch_size"]}
    history = model.fit(data, epochs=args.epochs or config["epochs"], steps_per_epoch=args.steps,
                        callbacks=callbacks, verbose=2, **fit_kwargs)
    plotting.save_curves(history.history, os.path.join(output, f"curves_{key}.png"),
                         title=f"{MODELS[key]} training")


def main(argv=None):
    parser = build_parser()
    args = parse_args(argv, parser)
    config = CONFIGS[args.dataset]
    keras.utils.set_random_seed(args.seed)
    x_train, held_out = load_data(args, config, parser)
    os.makedirs(args.output, exist_ok=True)  # after the data: a refused --data leaves no folder

    # === Models: GAMIX-VAE and the same network as a standard VAE ===
    net = dict(filters=config["filters"], discriminator_strides=config["discriminator_strides"],
               bn_training=args.bn_training, seed=args.seed)
    models = {"gamix": build_gamix_vae(config["input_shape"], config["latent_dim"], **net)}
    if not args.no_baseline:
        models["baseline"] = build_gamix_vae(config["input_shape"], config["latent_dim"], kl="standard",
                                             adversarial=False, name="standard_vae", **net)

    # === Train (or load) ===
    for key, model in models.items():
        if key == "gamix" and args.pretrained:
            from keras_vaes.pretrained import load_pretrained

            models[key] = load_pretrained(args.pretrained)
            print(f"{MODELS[key]}: loaded preset {args.pretrained}")
        elif args.weights:
            model.load_weights(os.path.join(args.weights, f"{key}.weights.h5"))
            print(f"{MODELS[key]}: loaded {args.weights}/{key}.weights.h5")
        else:
            print(f"=== Training {MODELS[key]} ===")
            train(model, x_train, args, config, args.output, key)

    # === Figures: Fig. 2 (variants), Fig. 3 (transitions, eq. 14), samples, reconstructions ===
    rng = np.random.default_rng(args.seed)
    pairs = rng.choice(len(held_out), size=(4, 2), replace=False)
    for key, model in models.items():
        label = MODELS[key]
        variants = model.latent_variants(held_out[0], dims=tuple(args.variant_dims),
                                         steps=tuple(args.variant_steps))
        plotting.save_latent_variants(to_unit_range(variants), os.path.join(args.output, f"fig2_variants_{key}.png"),
                                      args.variant_steps, args.variant_dims,
                                      title=f"{label}: variants (sigma units)")
        rows = model.interpolate(held_out[pairs[:, 0]], held_out[pairs[:, 1]], steps=6)
        plotting.save_image_grid(to_unit_range(rows.reshape((-1,) + rows.shape[2:])),
                                 os.path.join(args.output, f"fig3_transitions_{key}.png"), ncols=6,
                                 title=f"{label}: transitions (eq. 14)")
        plotting.save_image_grid(to_unit_range(model.generate(64, seed=args.seed)["x_hat"]),
                                 os.path.join(args.output, f"samples_{key}.png"), ncols=8,
                                 title=f"{label}: z ~ N(0, I)")
        shown = held_out[:16]
        plotting.save_image_grid(to_unit_range(np.concatenate([shown, model.reconstruct(shown)["x_hat"]])),
                                 os.path.join(args.output, f"reconstructions_{key}.png"), ncols=8,
                                 title=f"{label}: data (top), reconstructions (bottom)")

    # === The table: the paper's claims, measured ===
    extractor, description, reason = feature_model(args.feature_model, args.dataset)
    results = gamix_eval.evaluate_gamix({MODELS[k]: m for k, m in models.items()}, held_out,
                                        feature_model=extractor, fid_unavailable=reason, seed=args.seed)
    notes = [f"dataset {args.dataset}, held-out images {len(held_out)}, seed {args.seed}",
             f"training: epochs {args.epochs or config['epochs']}, steps per epoch {args.steps or 'all'}, "
             f"batch {args.batch_size or config['batch_size']}"
             + (", weights loaded" if (args.weights or args.pretrained) else "")]
    md_path, _ = gamix_eval.write_results(results, args.output, title=f"GAMIX-VAE vs standard VAE — {args.dataset}",
                                          notes=notes, fid_description=description)
    print(open(md_path).read())
    print(f"Wrote figures and tables to {args.output}")


if __name__ == "__main__":
    main()
