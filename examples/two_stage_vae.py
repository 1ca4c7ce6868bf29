"""Two-stage VAE with balancing and variance renormalisation (Tables 1-2).

Asperti, "Variance Loss in Variational Autoencoders" (LOD 2020), section 4:
train the first stage (ResNet VAE, gamma balancing), then the second stage
on its latent space; report FID of reconstructions (REC), of generations
from N(0, I) (GEN-1) and through the second stage (GEN-2), without and with
renormalisation, next to the MSE, the variance law, the inactive variables
and the variance loss of reconstructions and generations.

Defaults per dataset are the authors' configurations (BalancingVAE code)
for CIFAR-10 (JPEG round-tripped, as their data) and CelebA (no L2: theirs
never reaches the loss). MNIST / Fashion-MNIST are not in the paper; their
defaults are the configuration of the `two_stage_mnist` preset, which
trains on a CPU. Both stages train as the authors' scripts (Adam epsilon
1e-8, batch 100, the last partial batch dropped, step decay, stage 2 with
its own MSE estimate starting at 1); the first stage's batch norm is TF1's
debiased moving average, as their code.

Evaluation follows the authors' latest code: the test split shuffled, first
10,000 images (FID reference, renormalisation statistics, REC), REC from a
sampled z, latents renormalised to their target std (sigma in the
variance-law sum), generated images not rescaled (the image-rescaling
extension and Dai & Wipf's gamma_z noise at GEN-2 are separate rows). The
inference mode is checked first (reconstructions vs the mean image and the
training MSE); a broken one is flagged at the top of results.md. FID: the
TF-GAN 2015 Inception graph, as theirs (`--feature-model
tfgan:/path/inceptionv1_for_inception_score.pb`); "FD (classifier
features)" with the package's MNIST / Fashion-MNIST classifier.

    python examples/two_stage_vae.py --dataset mnist --data path/to/mnist.npz \
        --pretrained two_stage_mnist --output /tmp/ts_eval
    python examples/two_stage_vae.py --dataset mnist --data path/to/mnist.npz \
        --epochs 1 --epochs2 1 --train-size 6000 --output /tmp/ts
"""

import os
import sys
import warnings

import keras

from keras_vaes import metrics, plotting, pretrained
from keras_vaes.evaluation.protocol import write_results
from keras_vaes.evaluation.two_stage import (
    ROWS,
    evaluate_two_stage,
    evaluation_images,
)
from keras_vaes.models.two_stage import build_two_stage_vae

import _common  # examples/_common.py, beside the script: the flags every example shares

# The authors' configurations (latent 64, base_dim 32, fc_dim 512,
# second_depth 3, batch 100, lr x 0.5 every lr_epochs).
CONFIGS = {
    "cifar10": dict(num_scale=3, base_dim=32, second_dim=2048, l2_reg=None,
                    epochs=700, lr=1e-4, lr_epochs=250,
                    epochs2=1400, lr2=1e-4, lr_epochs2=400),
    # The authors' script sets l2_reg=0.001, which never reaches their loss.
    "celeba": dict(num_scale=4, base_dim=32, second_dim=4096, l2_reg=None,
                   epochs=70, lr=5e-5, lr_epochs=60,
                   epochs2=140, lr2=5e-5, lr_epochs2=120),
    # Not in the paper: the `two_stage_mnist` preset (a CPU budget).
    "mnist": dict(num_scale=3, base_dim=16, second_dim=512, l2_reg=None,
                  epochs=5, lr=1e-3, lr_epochs=2,
                  epochs2=20, lr2=1e-4, lr_epochs2=10),
}
CONFIGS["fashion_mnist"] = CONFIGS["mnist"]


def build_parser():
    """The command line (`parse_args` checks the combinations)."""
    parser = _common.parser(__doc__)
    parser.add_argument("--dataset", choices=sorted(CONFIGS), default="mnist",
                        help="cifar10 / celeba: the paper's Tables 1 / 2 configurations; "
                             "mnist / fashion_mnist: the preset's CPU configuration")
    _common.add_data(parser, "dataset file/folder (default: keras.datasets)")
    parser.add_argument("--epochs", type=_common.non_negative_int,
                        help="first-stage epochs (default: per dataset)")
    parser.add_argument("--epochs2", type=_common.non_negative_int,
                        help="second-stage epochs (default: per dataset, >= --epochs)")
    _common.add_train_size(parser)
    _common.add_output(parser, "runs/two_stage")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--weights", help="a .weights.h5 file of both stages (export_weights) "
                                          "or the prefix P of P.first_stage.weights.h5 and "
                                          "P.second_stage.weights.h5: load them, skip training")
    _common.add_pretrained(source, "build_two_stage_vae",
                           "evaluate a shipped two-stage preset instead of training")
    parser.add_argument("--fid-samples", type=_common.integer_at_least(2), default=10000,
                        help="evaluation (reference) / generated images per cell (paper: 10000)")
    parser.add_argument("--eval-split", choices=["test", "train"], default="test",
                        help="test: the test split shuffled, first --fid-samples (the authors' "
                             "latest code); train: the first training images")
    parser.add_argument("--feature-model", default="tfgan",
                        help="FID extractor: 'tfgan' (the TF-GAN 2015 Inception graph, as the "
                             "authors; file from $KERAS_VAES_TFGAN_INCEPTION_GRAPH), "
                             "'tfgan:/path/graph.pb', 'inception' (Keras InceptionV3) or a "
                             "path to a .keras feature extractor")
    parser.add_argument("--classifier", choices=["auto", "none"], default="auto",
                        help="auto: 'FD (classifier features)' columns with the package's "
                             "classifier for mnist / fashion_mnist (not comparable with FIDs)")
    parser.add_argument("--renormalization-target", choices=["authors", "variance_law"],
                        default="authors",
                        help="authors: target std with sigma in the variance-law sum, as their "
                             "code; variance_law: with sigma^2")
    parser.add_argument("--rec-latent", choices=["sample", "mean"], default="sample",
                        help="REC decodes a sampled z (the authors') or the posterior mean")
    parser.add_argument("--jpeg", action="store_true", default=None,
                        help="JPEG round trip of CIFAR-10 (default: on for cifar10)")
    parser.add_argument("--no-jpeg", dest="jpeg", action="store_false")
    parser.add_argument("--batch-size", type=_common.positive_int, default=100,
                        help="training and evaluation batch (the authors': 100)")
    parser.add_argument("--initial-mse", type=_common.positive_float, default=1.0,
                        help="starting MSE estimate of the first stage (the authors: 1); the "
                             "second stage always starts its own at 1")
    parser.add_argument("--no-zero-debias", dest="zero_debias", action="store_false",
                        help="Keras's plain BN moving average instead of TF1's debiased one "
                             "(the encoder is then recalibrated before stage 2 and evaluation)")
    _common.add_seed(parser)
    _common.add_dtype_policy(parser, help="Keras dtype policy. mixed_*: the first stage's "
                                          "convolutions in 16 bits; opt-in, it changes the numerics")
    return parser


def parse_args(argv=None, parser=None):
    """Parses the command line (exit status 2 on a bad value); `parser` defaults to `build_parser()`."""
    parser = parser or build_parser()
    args = parser.parse_args(argv)
    if args.jpeg and args.dataset != "cifar10":
        parser.error(f"--jpeg applies to cifar10 only. Received: --dataset {args.dataset}")
    return args


def _source(args):
    """Where the images come from, in the words of the command line."""
    return f"--dataset {args.dataset}" + (f" --data {args.data}" if args.data else "")


def main(argv=None):
    parser = build_parser()
    args = parse_args(argv, parser)
    config = CONFIGS[args.dataset]
    epochs = config["epochs"] if args.epochs is None else args.epochs
    epochs2 = config["epochs2"] if args.epochs2 is None else args.epochs2
    keras.utils.set_random_seed(args.seed)
    keras.config.set_dtype_policy(args.dtype_policy)

    """## Data: train on the training split; evaluate on the shuffled test split"""
    options = {}
    if args.dataset == "cifar10":
        options["jpeg"] = True if args.jpeg is None else args.jpeg
    (x_train, _), (x_test, _) = _common.load_dataset(parser, args.dataset, args.data, **options)
    if args.pretrained:
        _common.check_image_shape(parser, x_train, _common.preset_image_shape(args.pretrained),
                                  "--pretrained", f"preset {args.pretrained!r}", _source(args))
    if args.train_size:
        x_train = x_train[: args.train_size]
    reference = evaluation_images(x_train, x_test, args.eval_split, args.fid_samples, args.seed)

    """## Model: a preset, saved weights, or a new one trained here"""
    if args.pretrained:
        model = pretrained.load_pretrained(args.pretrained)
        source = f"preset {args.pretrained}: {pretrained.PRESETS[args.pretrained]['description']}"
    else:
        model = build_two_stage_vae(
            x_train.shape[1:], 64, base_dim=config["base_dim"], num_scale=config["num_scale"],
            fc_dim=512, second_dim=config["second_dim"], second_depth=3,
            l2_reg=config["l2_reg"], initial_mse=args.initial_mse,
            zero_debias=args.zero_debias, seed=args.seed,
        )
        source = f"configuration {config}, first-stage initial mse {args.initial_mse}"
    print(f"first stage: {model.first_stage.count_params():,} parameters; "
          f"second stage: {model.second_stage.count_params():,}")
    trained = ""
    if args.weights:
        model.load_weights(args.weights)
        source += f", weights {args.weights}"
    elif not args.pretrained:
        batch_size = min(args.batch_size, len(x_train))
        if batch_size < args.batch_size:
            print(f"batch {batch_size}: only {len(x_train)} training images")
        history1 = model.fit_first_stage(x_train, epochs, batch_size, config["lr"],
                                         config["lr_epochs"], seed=args.seed)
        history2 = model.fit_second_stage(x_train, epochs2, batch_size, config["lr2"],
                                          config["lr_epochs2"], seed=args.seed + 1)
        prefix = os.path.join(args.output, f"two_stage_{args.dataset}")
        model.save_weights(prefix)  # both stages with Adam's state (resuming)
        model.export_weights(prefix + ".weights.h5")  # one file, no optimizer state
        plotting.save_curves(history1.history, os.path.join(args.output, "stage1_curves.png"),
                             keys=["loss", "mse", "kl", "gamma"], title="first stage")
        plotting.save_curves(history2.history, os.path.join(args.output, "stage2_curves.png"),
                             keys=["loss", "mse", "kl", "gamma"], title="second stage")
        trained = (f"first stage {epochs} epochs, second stage {epochs2} epochs, "
                   f"{len(x_train)} training images, batch {batch_size}; ")
    else:
        # Loaded weights: check the inference mode on training images, and
        # recalibrate the batch norm if it fails (written in results.md).
        model.first_stage_codes(x_train[:10000], batch_size=min(args.batch_size, len(x_train)))

    """## Evaluate: REC, GEN-1, GEN-2 with and without renormalisation"""
    feature_model, description, why = metrics.feature_model_from_spec(args.feature_model)
    classifier, classifier_why = None, "--classifier none"
    if args.classifier == "auto":
        classifier, classifier_why = metrics.fid.classifier_extractor_or_reason(args.dataset)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        results = evaluate_two_stage(
            model, reference, feature_model, why, seed=args.seed, batch_size=args.batch_size,
            classifier=classifier, classifier_unavailable=classifier_why,
            fid_description=description, target=args.renormalization_target,
            rec_sample=args.rec_latent == "sample")
    for warning in caught:
        print(f"WARNING: {warning.message}", file=sys.stderr)
    split = (f"the test split shuffled (seed {args.seed}), first {len(reference)}, as the "
             "authors' latest code" if args.eval_split == "test"
             else f"the first {len(reference)} training images")
    notes = [
        trained + source + (f", JPEG round trip {options['jpeg']}" if options else ""),
        f"evaluation images (FID reference, renormalisation statistics, REC): {split}",
        "command: python examples/two_stage_vae.py " + " ".join(argv if argv is not None
                                                                else sys.argv[1:]),
    ]
    md_path, _ = write_results(results, args.dataset, args.output, notes)
    for (column, row), images in results["images"].items():
        index = [r[0] for r in ROWS].index(row)
        plotting.save_image_grid(images[:100], os.path.join(
            args.output, f"{column.lower().replace('-', '')}_row{index}.png"),
            title=f"{column}: {row}")
    with open(md_path) as f:
        print(f.read())


if __name__ == "__main__":
    main()
