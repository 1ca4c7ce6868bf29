"""Two-stage VAE with balancing and variance renormalisation (Tables 1-2).

Asperti, "Variance Loss in Variational Autoencoders" (LOD 2020), section 4:
train the first stage (ResNet VAE, gamma balancing), then the second stage
on its latent space; report FID of reconstructions (REC), of generations
from N(0, I) (GEN-1) and through the second stage (GEN-2), without and with
renormalisation, beside the MSE, the variance law, the inactive variables
and the variance loss. Defaults per dataset: `keras_vaes.configs.two_stage`
(the authors' CIFAR-10 / CelebA scripts; MNIST / Fashion-MNIST: the
`two_stage_mnist` preset's CPU configuration). The protocol (the authors'
latest evaluation code) is described in docs/papers/two_stage.md.

    python examples/two_stage_vae.py --dataset mnist --data path/to/mnist.npz \
        --pretrained two_stage_mnist --output /tmp/ts_eval
    python examples/two_stage_vae.py --dataset mnist --data path/to/mnist.npz \
        --epochs 1 --epochs2 1 --train-size 6000 --output /tmp/ts
"""

import os
import sys
import warnings

import keras

from keras_vaes import pretrained
from keras_vaes.configs import two_stage as paper
from keras_vaes.evaluation.protocol import write_results
from keras_vaes.evaluation.two_stage import evaluate_two_stage, evaluation_images
from keras_vaes.metrics import extractors
from keras_vaes.models.two_stage import build_two_stage_vae

import _common  # examples/_common.py, beside the script: the flags every example shares


def build_parser():
    """The command line (`parse_args` checks the combinations)."""
    parser = _common.parser(__doc__)
    add = parser.add_argument
    add("--dataset", choices=sorted(paper.CONFIGS), default="mnist",
        help="cifar10 / celeba: the paper's Tables 1 / 2; mnist / fashion_mnist: the preset's CPU configuration")
    _common.add_data(parser, "dataset file/folder (default: keras.datasets)")
    add("--epochs", type=_common.non_negative_int, help="first-stage epochs (default: per dataset)")
    add("--epochs2", type=_common.non_negative_int, help="second-stage epochs (default: per dataset)")
    _common.add_train_size(parser)
    _common.add_output(parser, "runs/two_stage")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--weights", help="a .weights.h5 of both stages (save_weights or export_weights): "
                                          "load it, skip training")
    _common.add_pretrained(source, "build_two_stage_vae", "evaluate a shipped two-stage preset instead of training")
    add("--fid-samples", type=_common.integer_at_least(2), default=10000,
        help="evaluation (reference) / generated images per cell (paper: 10000)")
    add("--eval-split", choices=["test", "train"], default="test",
        help="test: the test split shuffled, first --fid-samples (the authors' latest code); "
             "train: the first training images")
    add("--feature-model", default="tfgan",
        help="FID extractor: 'tfgan' (the TF-GAN 2015 Inception graph, as the authors; file from "
             "$KERAS_VAES_TFGAN_INCEPTION_GRAPH), 'tfgan:/path/graph.pb', 'inception' or a .keras path")
    add("--classifier", choices=["auto", "none"], default="auto",
        help="auto: 'FD (classifier features)' with the package's classifier for mnist / fashion_mnist")
    add("--renormalization-target", choices=["authors", "variance_law"], default="authors",
        help="authors: target std with sigma in the variance-law sum, as their code; variance_law: sigma^2")
    add("--rec-latent", choices=["sample", "mean"], default="sample",
        help="REC decodes a sampled z (the authors') or the posterior mean")
    add("--jpeg", action="store_true", default=None, help="JPEG round trip of CIFAR-10 (default: on for cifar10)")
    add("--no-jpeg", dest="jpeg", action="store_false")
    add("--batch-size", type=_common.positive_int, default=paper.BATCH_SIZE,
        help="training and evaluation batch (the authors': 100)")
    add("--initial-mse", type=_common.positive_float, default=1.0,
        help="starting MSE estimate of the first stage (the authors: 1)")
    add("--no-zero-debias", dest="zero_debias", action="store_false",
        help="Keras's plain BN moving average instead of TF1's debiased one")
    _common.add_seed(parser)
    _common.add_dtype_policy(parser, help="Keras dtype policy. mixed_*: the first stage's convolutions "
                                          "in 16 bits; opt-in, it changes the numerics")
    return parser


def parse_args(argv=None, parser=None):
    """Parses the command line (exit status 2 on a bad value); `parser` defaults to `build_parser()`."""
    parser = parser or build_parser()
    args = parser.parse_args(argv)
    if args.jpeg and args.dataset != "cifar10":
        parser.error(f"--jpeg applies to cifar10 only. Received: --dataset {args.dataset}")
    config = paper.CONFIGS[args.dataset]
    args.epochs = config["epochs"] if args.epochs is None else args.epochs
    args.epochs2 = config["epochs2"] if args.epochs2 is None else args.epochs2
    return args


def main(argv=None):
    parser = build_parser()
    args = parse_args(argv, parser)
    config = paper.CONFIGS[args.dataset]
    keras.utils.set_random_seed(args.seed)
    keras.config.set_dtype_policy(args.dtype_policy)

    # === Data: train on the training split; evaluate on the shuffled test split ===
    options = {"jpeg": args.jpeg is not False} if args.dataset == "cifar10" else {}
    (x_train, _), (x_test, _) = _common.load_dataset(parser, args.dataset, args.data, **options)
    if args.pretrained:
        source = f"--dataset {args.dataset}" + (f" --data {args.data}" if args.data else "")
        _common.check_image_shape(parser, x_train, _common.preset_image_shape(args.pretrained),
                                  "--pretrained", f"preset {args.pretrained!r}", source)
    x_train = x_train[: args.train_size] if args.train_size else x_train
    reference = evaluation_images(x_train, x_test, args.eval_split, args.fid_samples, args.seed)
    os.makedirs(args.output, exist_ok=True)  # after the data: a refused --data leaves no folder

    # === Model: a preset, saved weights, or a new one trained here ===
    if args.pretrained:
        model = pretrained.load_pretrained(args.pretrained)
        source = f"preset {args.pretrained}: {pretrained.PRESETS[args.pretrained]['description']}"
    else:
        model = build_two_stage_vae(x_train.shape[1:], initial_mse=args.initial_mse, zero_debias=args.zero_debias,
                                    seed=args.seed, **paper.model_kwargs(args.dataset))
        source = f"configuration {config}, first-stage initial mse {args.initial_mse}"
    if args.weights:
        model.load_weights(args.weights)
        source += f", weights {args.weights}"
    elif not args.pretrained:
        paper.train(model, x_train, args.dataset, args.output, epochs=args.epochs, epochs2=args.epochs2,
                    batch_size=args.batch_size, seed=args.seed)
        source = (f"first stage {args.epochs} epochs, second stage {args.epochs2} epochs, {len(x_train)} "
                  f"training images, batch {min(args.batch_size, len(x_train))}; " + source)
    if args.weights or args.pretrained:  # check the inference mode; recalibrate the BN if it fails
        model.first_stage_codes(x_train[:10000], batch_size=min(args.batch_size, len(x_train)))

    # === Evaluate: REC, GEN-1, GEN-2 with and without renormalisation ===
    feature_model, description, why = extractors.feature_model_from_spec(args.feature_model)
    classifier, classifier_why = None, "--classifier none"
    if args.classifier == "auto":
        classifier, classifier_why = extractors.classifier_extractor_or_reason(args.dataset)
    split = (f"the test split shuffled (seed {args.seed}), first {len(reference)}, as the authors' latest code"
             if args.eval_split == "test" else f"the first {len(reference)} training images")
    notes = [source + (f", JPEG round trip {options['jpeg']}" if options else ""),
             f"evaluation images (FID reference, renormalisation statistics, REC): {split}",
             "command: python examples/two_stage_vae.py " + " ".join(sys.argv[1:] if argv is None else argv)]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = evaluate_two_stage(
            model, reference, feature_model, why, seed=args.seed, batch_size=args.batch_size,
            classifier=classifier, classifier_unavailable=classifier_why, feature_description=description,
            target=args.renormalization_target, rec_sample=args.rec_latent == "sample",
            dataset=args.dataset, notes=notes)
    for warning in caught:
        print(f"WARNING: {warning.message}", file=sys.stderr)
    print(open(write_results(table, args.output)[0]).read())


if __name__ == "__main__":
    main()
