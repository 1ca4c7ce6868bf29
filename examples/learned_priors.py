"""Learned priors: FID vs beta for VAE, FP-VAE, AAE and Prior-AAE.

"Empirical observations pertaining to learned priors for deep latent
variable models": with a learned prior (a RealNVP flow, or a GAN on the
codes) the KL / adversarial weight beta can go to 0, and samples get better.
For every model of `--models` and every beta of `--betas` the script trains
the paper's InfoGAN network (`keras_vaes.configs.learned_priors`), generates,
and measures FID (precision, recall), reconstruction error, linear
separability and nearest neighbours (`keras_vaes.evaluation.learned_priors`).
Writes to `--output`: results.md / results.csv (Figure 3 as a table, Table 1
layout with the paper's numbers beside, every run), runs.jsonl (the resumable
ledger), fid_vs_beta.png (Figure 3), latents_2d.png (Figure 2), interpolation.png
(Figures 4 / 8), neighbours.png, attribute_interpolation.png (Figure 7, CelebA),
samples_<model>_beta<b>.png and the FP-VAE's weights.

Example (a CPU smoke run: 60 steps per model and beta):
    python examples/learned_priors.py --dataset mnist \
        --data path/to/mnist.npz --betas 0 1 --steps 60 --output /tmp/lp
"""

import os
import shlex
import sys

import keras

import keras_vaes as kv
from keras_vaes.configs import learned_priors as paper
from keras_vaes.evaluation import learned_priors as lp
from keras_vaes.evaluation.tables import QualityMeasures

import _common  # examples/_common.py, beside the script: the flags every example shares


def build_parser():
    """The command line (`parse_args` fills the defaults)."""
    parser = _common.parser(__doc__)
    add, positive, at_least_2 = parser.add_argument, _common.positive_int, _common.integer_at_least(2)
    add("--dataset", choices=paper.DATASETS, default="mnist", help="which data set")
    add("--models", default=",".join(paper.MODELS), help="comma-separated models among " + ", ".join(paper.MODELS))
    add("--betas", type=_common.non_negative_float, nargs="+", default=[0.0, 0.01, 0.1, 1.0],
        help="KL / adversarial weights to sweep (the paper: between 0 and 1, log scale)")
    _common.add_data(parser, "mnist.npz / fashion_mnist.npz, CIFAR-10 folder or img_align_celeba folder; "
                             "default: keras.datasets")
    add("--attributes", type=_common.existing_file, help="CelebA list_attr_celeba.txt (default: beside --data)")
    add("--epochs", type=positive, default=10, help="training epochs per model and beta")
    add("--steps", type=positive, help="training steps per model and beta; overrides --epochs")
    add("--batch-size", type=positive, default=paper.BATCH_SIZE, help="batch size (Lucic et al.: 64)")
    add("--latent-dim", type=positive, help="latent size (default: the paper's, 8 / 8 / 64 / 128)")
    add("--filters", type=positive, nargs="+", help="InfoGAN convolution widths (default: the paper's)")
    add("--dense-units", type=positive, default=paper.DENSE_UNITS, help="InfoGAN dense width")
    add("--num-couplings", type=positive, default=8, help="affine couplings of the flow prior")
    add("--hidden-units", type=positive, help="width of the couplings' MLPs (default 256, 512 for latent >= 64)")
    add("--gamma", type=_common.positive_float, default=1.0, help="fixed decoder variance (section 4.1)")
    add("--anneal-steps", type=_common.non_negative_int,
        help="KL annealing steps (the paper: 50,000; default: min(50,000, half the training steps))")
    _common.add_train_size(parser)
    add("--image-size", type=int, default=128, choices=[64, 128], help="CelebA side (the paper: 128)")
    add("--reconstruction", default="auto", choices=["auto", "l2", "perceptual"],
        help="'perceptual': VGG19 relu1_1..relu4_1 (the paper's CelebA loss; needs the ImageNet VGG19 "
             "weights, KERAS_VAES_VGG19_WEIGHTS); auto: perceptual on CelebA, l2 otherwise")
    _common.add_feature_model(parser, "classifier", "FID features: 'classifier' (the package's offline "
                              "classifier, or a stand-in trained here), 'inception', or a .keras file")
    add("--fid-samples", type=at_least_2, default=10000, help="generated and test images per FID")
    add("--separability-samples", type=at_least_2, default=10000, help="samples for the linear separability")
    add("--pairs", type=positive, default=6, help="image pairs in the interpolation figure")
    add("--interpolation-steps", type=at_least_2, default=8, help="points per interpolation")
    add("--skip-figure2", action="store_true", help="do not train the 2-D latent FP-VAE of Figure 2")
    _common.add_output(parser, "runs/learned_priors")
    add("--resume", action="store_true", help="keep the runs of <output>/runs.jsonl, train only the others")
    add("--save-all-weights", action="store_true", help="save every run's weights (default: the figures' FP-VAE)")
    _common.add_seed(parser, "seed of data order, weights and sampling")
    add("--verbose", type=int, default=1, choices=[0, 1, 2], help="Keras fit verbosity")
    return parser


def parse_args(argv=None, parser=None):
    """Parses the command line (exit status 2 on a bad value); `parser` defaults to `build_parser()`."""
    parser = parser or build_parser()
    args = parser.parse_args(argv)
    args.command = "python examples/learned_priors.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    args.models = [m.strip() for m in args.models.split(",") if m.strip()]
    if not args.models or any(m not in paper.MODELS for m in args.models):
        parser.error(f"--models must list some of {paper.MODELS}. Received: {args.models}")
    args.betas = sorted(set(args.betas))
    args.latent_dim = args.latent_dim or paper.LATENT_DIMS[args.dataset]
    args.filters = args.filters or list(paper.FILTERS[args.dataset])
    if args.reconstruction == "auto":
        args.reconstruction = paper.RECONSTRUCTION.get(args.dataset, "l2")
    return args


def main(argv=None):
    parser = build_parser()
    args = parse_args(argv, parser)
    keras.utils.set_random_seed(args.seed)
    names = attributes = None
    celeba = dict(load=kv.datasets.load_celeba, side=args.image_size) if args.dataset == "celeba" else {}
    (x_train, y_train), (x_test, y_test) = _common.load_dataset(parser, args.dataset, args.data, **celeba)
    if celeba:
        path = args.attributes or os.path.join(os.path.dirname(os.path.abspath(args.data)), "list_attr_celeba.txt")
        names, attributes = lp.celeba_split_attributes(path, args.data, "test")
    x_train, y_train = x_train[: args.train_size], (None if y_train is None else y_train[: args.train_size])
    os.makedirs(args.output, exist_ok=True)  # after the data: a refused --data leaves no folder
    epochs, steps_per_epoch, steps = paper.training_plan(len(x_train), args.batch_size, args.epochs, args.steps)
    anneal = args.anneal_steps if args.anneal_steps is not None else paper.anneal_steps(steps)
    training = dict(epochs=epochs, steps_per_epoch=steps_per_epoch, batch_size=args.batch_size, seed=args.seed,
                    filters=args.filters, dense_units=args.dense_units, reconstruction=args.reconstruction,
                    gamma=args.gamma, anneal_steps=anneal, num_couplings=args.num_couplings,
                    hidden_units=args.hidden_units)

    # === The judges: FID features (reference statistics once), separability labels ===
    features, description, reason, classify = lp.sweep_features(
        args.feature_model, args.dataset, x_train, y_train, x_test, y_test,
        os.path.join(args.output, "stand_in_classifier.weights.h5"), verbose=args.verbose)
    fid_label = "FD (classifier features)" if "classifier" in description else "FID"
    reference = x_test[: args.fid_samples]
    judge = QualityMeasures(reference, features, description, reason)
    labels_note = lp.label_note(classify, attributes, y_test, min(args.separability_samples, len(x_test)),
                                args.separability_samples)
    header = lp.sweep_header(args.dataset, args.latent_dim, args.command, steps, args.batch_size, anneal,
                             args.gamma, len(reference), fid_label)
    notes = lp.sweep_notes(fid_label, description, reason, labels_note, args.betas, args.reconstruction, args.dataset)

    # === The sweep: every model at every beta (Figure 3, Table 1), resumable ===
    _, figure_model = paper.sweep(
        args.models, args.betas, x_train, x_test, judge, args.output, latent_dim=args.latent_dim, steps=steps,
        features=description, resume=args.resume, save_all_weights=args.save_all_weights, header=header,
        fid_label=fid_label, notes=notes, title=f"{args.dataset}: {fid_label} vs beta (Figure 3)", labels=y_test,
        attributes=attributes, classify=classify, num_samples=len(reference),
        separability_samples=args.separability_samples, fit_verbose=args.verbose, **training)

    # === Figures 4 / 8 (interpolation), 7 (attributes), neighbours, 2 (2-D latent) ===
    if figure_model is not None:
        lp.save_interpolation_figures(figure_model, x_train, x_test, args.output, args.pairs,
                                      args.interpolation_steps, args.seed, attributes, names,
                                      title=f"FP-VAE beta={args.betas[0]:g}")
    if not args.skip_figure2 and args.dataset in ("mnist", "fashion_mnist") and "fp_vae" in args.models:
        paper.figure2(x_train, x_test, y_test, args.output, args.dataset, verbose=args.verbose, **training)
    print(open(os.path.join(args.output, "results.md")).read())


if __name__ == "__main__":
    main()
