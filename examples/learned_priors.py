"""Learned priors: FID vs beta for VAE, FP-VAE, AAE and Prior-AAE.

"Empirical observations pertaining to learned priors for deep latent
variable models": with a learned prior (a RealNVP flow, or a GAN on the
codes) the KL / adversarial weight beta can go to 0, and samples get better.
For every model of `--models` and every beta of `--betas` the script trains
the paper's InfoGAN network (latent 8 for MNIST / Fashion-MNIST, 64 for
CIFAR-10, 128 for CelebA), generates, and measures FID, reconstruction
error, linear separability (Karras et al.) and nearest neighbours. It
writes to `--output`:

    results.md, results.csv          Figure 3 as a table, Table 1 layout with
                                     the paper's numbers beside, every run
    fid_vs_beta.png                  Figure 3 (log-x; beta = 0 drawn a decade
                                     below the smallest positive beta)
    latents_2d.png                   Figure 2 (MNIST-like data: FP-VAE, beta 0,
                                     2-D latent; f(E(x)), E(x), f^-1(z_0))
    interpolation.png                Figures 4 / 8: slerp in Z_0 vs lerp in Z_T
                                     between test images
    neighbours.png                   samples with their nearest train / test images
    attribute_interpolation.png      Figure 7 (CelebA): adding eyeglasses in Z_0 vs Z_T
    samples_<model>_beta<b>.png      samples of every run
    <model>_beta<b>.weights.h5       the trained weights

Example (a CPU smoke run: 60 steps per model and beta):
    python examples/learned_priors.py --dataset mnist \
        --data path/to/mnist.npz --betas 0 1 --steps 60 --output /tmp/lp
"""

import os
import shlex
import sys
import time

import keras
import numpy as np

import keras_vaes as kv
from keras_vaes import plotting
from keras_vaes.evaluation import learned_priors as lp
from keras_vaes.metrics import extractors, fid, neighbours, separability

import _common  # examples/_common.py, beside the script: the flags every example shares

DATASETS = ("mnist", "fashion_mnist", "cifar10", "celeba")
MODELS = ("vae", "fp_vae", "aae", "prior_aae")
LATENT_DIMS = {"mnist": 8, "fashion_mnist": 8, "cifar10": 64, "celeba": 128}


def build_parser():
    """The command line (`parse_args` fills the defaults)."""
    parser = _common.parser(__doc__)
    positive = _common.positive_int
    parser.add_argument("--dataset", choices=DATASETS, default="mnist", help="which data set")
    parser.add_argument("--models", default=",".join(MODELS),
                        help="comma-separated models among " + ", ".join(MODELS))
    parser.add_argument("--betas", type=_common.non_negative_float, nargs="+", default=[0.0, 0.01, 0.1, 1.0],
                        help="KL / adversarial weights to sweep (the paper: between 0 and 1, log scale)")
    _common.add_data(parser, "dataset file (mnist.npz, fashion_mnist.npz), CIFAR-10 folder or "
                             "img_align_celeba folder; default: keras.datasets")
    parser.add_argument("--attributes", type=_common.existing_file, default=None,
                        help="CelebA list_attr_celeba.txt (default: next to the --data folder)")
    parser.add_argument("--epochs", type=positive, default=10, help="training epochs per model and beta")
    parser.add_argument("--steps", type=positive, default=None,
                        help="training steps per model and beta; overrides --epochs")
    parser.add_argument("--batch-size", type=positive, default=64, help="batch size (Lucic et al.: 64)")
    parser.add_argument("--latent-dim", type=positive, default=None,
                        help="latent size (default: the paper's, 8 / 8 / 64 / 128)")
    parser.add_argument("--filters", type=positive, nargs="+", default=None,
                        help="InfoGAN convolution widths (default: the paper's 64 128; CelebA "
                             "64 128 256 512)")
    parser.add_argument("--dense-units", type=positive, default=1024, help="InfoGAN dense width")
    parser.add_argument("--num-couplings", type=positive, default=8, help="affine couplings of the flow prior")
    parser.add_argument("--hidden-units", type=positive, default=None,
                        help="width of the couplings' MLPs (default 256, 512 for latent >= 64)")
    parser.add_argument("--gamma", type=_common.positive_float, default=1.0,
                        help="fixed decoder variance: the KL weight ends at gamma * beta (section 4.1)")
    parser.add_argument("--anneal-steps", type=_common.non_negative_int, default=None,
                        help="KL annealing length in steps (the paper: 50,000; default: "
                             "min(50,000, half the training steps))")
    _common.add_train_size(parser)
    parser.add_argument("--image-size", type=int, default=128, choices=[64, 128],
                        help="CelebA side (the paper: 128x128 crops)")
    parser.add_argument("--reconstruction", default="auto", choices=["auto", "l2", "perceptual"],
                        help="reconstruction term: 'l2', or 'perceptual' (VGG19 relu1_1..relu4_1, "
                             "the paper's CelebA loss; needs the ImageNet VGG19 weights, see "
                             "KERAS_VAES_VGG19_WEIGHTS); auto: perceptual on CelebA, l2 otherwise")
    _common.add_feature_model(parser, "classifier", "FID features: 'classifier' (the package's offline MNIST / Fashion-MNIST "
                             "classifier, or a stand-in trained here if it is not shipped), "
                             "'inception' (Keras InceptionV3, ImageNet), or a .keras file")
    parser.add_argument("--fid-samples", type=_common.integer_at_least(2), default=10000,
                        help="generated and test images per FID (the paper: 10,000)")
    parser.add_argument("--separability-samples", type=_common.integer_at_least(2), default=10000,
                        help="samples for the linear separability (Karras et al.: 200,000)")
    parser.add_argument("--pairs", type=positive, default=6, help="image pairs in the interpolation figure")
    parser.add_argument("--interpolation-steps", type=_common.integer_at_least(2), default=8, help="points per interpolation")
    parser.add_argument("--skip-figure2", action="store_true",
                        help="do not train the 2-D latent FP-VAE of Figure 2")
    _common.add_output(parser, "runs/learned_priors")
    parser.add_argument("--resume", action="store_true",
                        help="keep the runs already in <output>/results.csv and train only the others")
    parser.add_argument("--save-all-weights", action="store_true",
                        help="save every run's weights (default: only the FP-VAE used for the figures)")
    _common.add_seed(parser, "seed of data order, weights and sampling")
    parser.add_argument("--verbose", type=int, default=1, choices=[0, 1, 2],
                        help="Keras fit verbosity (1: progress bars)")
    return parser


def parse_args(argv=None, parser=None):
    """Parses the command line (exit status 2 on a bad value); `parser` defaults to `build_parser()`."""
    parser = parser or build_parser()
    args = parser.parse_args(argv)
    args.command = "python examples/learned_priors.py " + " ".join(
        shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))
    args.models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in args.models if m not in MODELS]
    if unknown or not args.models:
        parser.error(f"--models must list some of {MODELS}. Received: {args.models}")
    args.betas = sorted(set(args.betas))
    if args.latent_dim is None:
        args.latent_dim = LATENT_DIMS[args.dataset]
    if args.filters is None:
        args.filters = [64, 128, 256, 512] if args.dataset == "celeba" else [64, 128]
    if args.reconstruction == "auto":
        args.reconstruction = "perceptual" if args.dataset == "celeba" else "l2"
    return args


# --- Data --------------------------------------------------------------------


def load_data(args, parser):
    """(x_train, y_train), (x_test, y_test), attribute names, test attributes.

    Data the loader refuses stop the script with `parser`'s error on `--data`.
    """
    names, attributes = None, None
    if args.dataset == "celeba":
        (x_train, _), (x_test, _) = _common.load_dataset(parser, args.dataset, args.data,
                                                         load=kv.datasets.load_celeba, side=args.image_size)
        path = args.attributes or os.path.join(os.path.dirname(os.path.abspath(args.data)),
                                               "list_attr_celeba.txt")
        names, attributes = lp.celeba_split_attributes(path, args.data, "test")
        y_train = y_test = None
    else:
        (x_train, y_train), (x_test, y_test) = _common.load_dataset(parser, args.dataset, args.data)
    if args.train_size:
        x_train = x_train[: args.train_size]
        y_train = None if y_train is None else y_train[: args.train_size]
    return (x_train, y_train), (x_test, y_test), names, attributes


# --- Features for FID and labels for separability -----------------------------


def stand_in_classifier(x_train, y_train, args):
    """A short-trained copy of the package's classifier network (when none ships).

    Kept in <output>/stand_in_classifier.weights.h5 and reused from there,
    so that runs resumed with --resume are measured with the same features.
    """
    from keras_vaes.metrics import classifier

    model = classifier.build_classifier(name=f"stand_in_classifier_{args.dataset}_seed{args.seed}")
    path = os.path.join(args.output, "stand_in_classifier.weights.h5")
    if os.path.exists(path):
        model.load_weights(path)
        print(f"stand-in classifier loaded from {path}")
    else:
        model.compile(optimizer=keras.optimizers.Adam(1e-3),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      metrics=["accuracy"])
        count = min(len(x_train), 20000)
        model.fit(x_train[:count], y_train[:count], batch_size=128, epochs=1, verbose=args.verbose)
        kv.utils.atomic_write(path, model.save_weights)
    return model, classifier.features_from_classifier(model)


def feature_model_and_labeller(args, x_train, y_train, x_test, y_test):
    """(FID feature model or None, its description, reason if none, classify fn or None)."""
    if args.feature_model != "classifier":
        model, description, reason = extractors.feature_model_from_spec(args.feature_model)
        return model, description, reason, None
    if args.dataset not in ("mnist", "fashion_mnist"):
        reason = (f"no offline classifier for {args.dataset}; pass --feature-model inception "
                  "(with its ImageNet weights) or a .keras feature model")
        return None, "none", reason, None
    from keras_vaes.metrics import classifier

    try:
        features = kv.metrics.classifier_feature_model(args.dataset)
        logits = classifier.load_classifier(args.dataset)
        description = classifier.describe(args.dataset)
    except (FileNotFoundError, OSError, ValueError) as error:
        print(f"The package's {args.dataset} classifier is not available ({error}); "
              "training a stand-in for one epoch on 20k training images.")
        logits, features = stand_in_classifier(x_train, y_train, args)
        accuracy = float(np.mean(np.argmax(logits.predict(x_test, verbose=0), 1) == y_test))
        description = (f"FD of a STAND-IN classifier's features (the package's classifier network, "
                       f"trained 1 epoch here, test accuracy {100 * accuracy:.2f}%; the shipped "
                       "classifier was not available); not comparable with the papers' FIDs")
        return features, description, None, None
    classify = lambda images: keras.ops.convert_to_numpy(
        keras.ops.softmax(logits.predict(images, batch_size=200, verbose=0), axis=-1))
    return features, description, None, classify


# --- Models -------------------------------------------------------------------


def build(kind, beta, args, input_shape, anneal_steps, latent_dim=None):
    """One of the paper's four models on the same InfoGAN network."""
    latent_dim = latent_dim or args.latent_dim
    network = {"filters": tuple(args.filters), "dense_units": args.dense_units, "seed": args.seed,
               "reconstruction": args.reconstruction}
    if kind in ("vae", "fp_vae"):
        return kv.build_flow_prior_vae(
            input_shape, latent_dim, beta=beta, prior="flow" if kind == "fp_vae" else "normal",
            gamma=args.gamma, anneal_steps=anneal_steps, num_couplings=args.num_couplings,
            hidden_units=args.hidden_units, **network,
        )
    return kv.build_prior_aae(
        input_shape, latent_dim, beta=beta, prior="learned" if kind == "prior_aae" else "normal",
        **network,
    )


def training_plan(args, num_train):
    """(epochs, steps_per_epoch or None, total steps)."""
    per_epoch = int(np.ceil(num_train / args.batch_size))
    if args.steps is None:
        return args.epochs, None, args.epochs * per_epoch
    epochs = int(np.ceil(args.steps / per_epoch))
    steps_per_epoch = int(np.ceil(args.steps / epochs))
    return epochs, steps_per_epoch, epochs * steps_per_epoch


def train(model, x_train, args, plan, log_path):
    epochs, steps_per_epoch, _ = plan
    model.compile()
    model.fit(
        x_train, batch_size=args.batch_size, epochs=epochs, steps_per_epoch=steps_per_epoch,
        shuffle=True, verbose=args.verbose,
        callbacks=[keras.callbacks.TerminateOnNaN(), keras.callbacks.CSVLogger(log_path)],
    )


def tag(kind, beta):
    return f"{kind}_beta{beta:g}"


# --- Main ---------------------------------------------------------------------


def main(argv=None):
    parser = build_parser()
    args = parse_args(argv, parser)
    keras.utils.set_random_seed(args.seed)
    (x_train, y_train), (x_test, y_test), attr_names, test_attributes = load_data(args, parser)
    os.makedirs(args.output, exist_ok=True)  # after the data: a refused --data leaves no folder
    input_shape = x_train.shape[1:]
    plan = training_plan(args, len(x_train))
    anneal_steps = args.anneal_steps if args.anneal_steps is not None else min(50_000, plan[2] // 2)
    print(f"{args.dataset}: train {x_train.shape}, test {x_test.shape}; latent {args.latent_dim}; "
          f"{plan[2]} steps per run (batch {args.batch_size}), KL annealing over {anneal_steps} steps")

    # --- FID features, reference statistics, separability labels -------------
    features, fid_description, fid_reason, classify = feature_model_and_labeller(
        args, x_train, y_train, x_test, y_test)
    fid_label = "FD (classifier features)" if "classifier" in fid_description else "FID"
    reference = x_test[: args.fid_samples]
    reference_stats = None
    if features is not None:
        reference_stats = fid.compute_statistics(reference, features, verbose=0)
    sep_count = min(args.separability_samples, len(x_test))
    if classify is not None:
        label_note = (f"Linear separability (Karras et al. protocol): {args.separability_samples} "
                      "generated samples labelled by the classifier's softmax (ten one-vs-rest "
                      "digit/class attributes), the most confident half kept.")
    elif test_attributes is not None:
        label_note = (f"Linear separability of the encodings of {sep_count} CelebA test images "
                      f"with their {len(attr_names)} annotated attributes (no attribute classifier "
                      "offline; Karras et al. label generated images with one).")
    elif y_test is not None:
        label_note = (f"Linear separability of the encodings of {sep_count} test images with the "
                      "ten one-vs-rest TRUE class labels (no classifier softmax available; Karras "
                      "et al. label generated images with a classifier).")
    else:
        label_note = "No labels: separability not measured."

    # --- Sweep: every model at every beta (Figure 3, Table 1) ---------------
    rows, keep = [], {}
    if args.resume:  # only runs measured with the same features and training length
        rows = [r for r in previous_rows(args.output)
                if r.get("features") == fid_description and r.get("steps") == plan[2]]
    for kind in args.models:
        for beta in args.betas:
            name = tag(kind, beta)
            if any(r["model"] == kind and r["beta"] == beta for r in rows):
                print(f"{name}: kept from {args.output}/results.csv (--resume)")
                continue
            print(f"\n=== {name} ===")
            keras.utils.set_random_seed(args.seed)
            model = build(kind, beta, args, input_shape, anneal_steps)
            start = time.time()
            train(model, x_train, args, plan, os.path.join(args.output, f"{name}_history.csv"))
            seconds = time.time() - start
            figure_model = kind == "fp_vae" and beta == args.betas[0]
            if args.save_all_weights or figure_model:
                try:  # weights only, no optimizer state; the package refuses NaN weights
                    model.export_weights(os.path.join(args.output, f"{name}.weights.h5"))
                except ValueError as error:
                    print(f"{name}: weights not saved ({error})")
            row = evaluate_run(model, kind, beta, args, plan, x_train, x_test, y_test, reference,
                               reference_stats, features, classify, test_attributes, seconds)
            row["features"] = fid_description
            rows.append(row)
            print(", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                            for k, v in row.items() if v is not None))
            if figure_model:
                keep["fp_vae"] = model
            write_outputs(rows, args, fid_label, fid_description, fid_reason, label_note, plan,
                          anneal_steps)

    if rows:  # also after a --resume that trained nothing new
        write_outputs(rows, args, fid_label, fid_description, fid_reason, label_note, plan,
                      anneal_steps)

    # --- Figures 4 / 8 (interpolation) and neighbours --------------------------
    figure_model = keep.get("fp_vae")
    weights = os.path.join(args.output, f"{tag('fp_vae', args.betas[0])}.weights.h5")
    if figure_model is None and "fp_vae" in args.models and os.path.exists(weights):
        figure_model = build("fp_vae", args.betas[0], args, input_shape, anneal_steps)
        figure_model.load_weights(weights)
    if figure_model is not None:
        save_interpolation_figures(figure_model, x_train, x_test, test_attributes, attr_names, args)
    if not args.skip_figure2 and args.dataset in ("mnist", "fashion_mnist") and "fp_vae" in args.models:
        save_figure2(args, input_shape, x_train, x_test, y_test, plan, anneal_steps)
    print(open(os.path.join(args.output, "results.md")).read())


def evaluate_run(model, kind, beta, args, plan, x_train, x_test, y_test, reference,
                 reference_stats, features, classify, test_attributes, seconds):
    samples = np.clip(model.generate(len(reference), seed=args.seed)["x_hat"], 0.0, 1.0)
    finite = bool(np.all(np.isfinite(samples)))
    row = {"model": kind, "beta": beta, "steps": plan[2], "fid": None, "seconds": round(seconds, 1)}
    plotting.save_image_grid(samples[:100] if finite else np.zeros((1,) + samples.shape[1:]),
                             os.path.join(args.output, f"samples_{tag(kind, beta)}.png"),
                             title=f"{lp.MODEL_NAMES[kind]}, beta={beta:g}")
    if not finite:
        print(f"{tag(kind, beta)}: non-finite samples; no FID")
        return row
    if reference_stats is not None:
        stats = fid.compute_statistics(samples, features, verbose=0)
        row["fid"] = fid.frechet_distance(reference_stats.mu, reference_stats.sigma, stats.mu, stats.sigma)
    probe = x_test[:1000]
    row["reconstruction_mse"] = float(np.mean((model.reconstruct(probe)["x_hat"] - probe) ** 2))
    if kind in ("vae", "fp_vae"):
        if classify is not None:
            scores = lp.generated_separability(model, classify, args.separability_samples, seed=args.seed)
        else:
            count = min(args.separability_samples, len(x_test))
            if test_attributes is not None:
                attributes = test_attributes[:count]
            elif y_test is not None:
                attributes = separability.one_vs_rest_attributes(labels=y_test[:count])
            else:
                attributes = None
            scores = {} if attributes is None else lp.encoding_separability(
                model, x_test[:count], attributes)
        row["separability_z"] = scores.get("z")
        row["separability_z0"] = scores.get("z_0")
        row["separability_zT"] = scores.get("z_T")
        row["single_class_attributes"] = scores.get("single_class")
    report = neighbours.train_test_neighbours(samples[:200], x_train, x_test, seed=args.seed)
    row["closer_to_test"] = report["closer_to_test"]
    return row


def previous_rows(output):
    """Rows of an earlier run's results.csv (for --resume)."""
    import csv

    path = os.path.join(output, "results.csv")
    if not os.path.exists(path):
        return []
    rows = []
    with open(path) as f:
        for record in csv.DictReader(f):
            row = {}
            for key, value in record.items():
                if key in ("model", "features"):
                    row[key] = value
                elif value in ("", None):
                    row[key] = None
                else:
                    row[key] = int(value) if key == "steps" else float(value)
            rows.append(row)
    return rows


def write_outputs(rows, args, fid_label, fid_description, fid_reason, label_note, plan, anneal_steps):
    header = (
        f"# Learned priors: {args.dataset}, latent {args.latent_dim}\n\n"
        f"Command: `{args.command}`\n\n"
        f"Each run: {plan[2]} training steps of batch {args.batch_size} (Adam 1e-4, beta_1 0.5), "
        f"KL annealed over {anneal_steps} steps (the paper: 50,000), gamma {args.gamma:g}; "
        f"{args.fid_samples} generated vs {args.fid_samples} test images per {fid_label}."
    )
    described = fid_description if fid_description.startswith(fid_label) else f"{fid_label}: {fid_description}"
    notes = [f"{described}." + (f" Not computed: {fid_reason}" if fid_reason else ""),
             label_note,
             "single_class_attributes: attributes left with one label after the pruning; "
             "Karras et al.'s code counts them as perfectly separable (H = 0), so a "
             "separability near 1 with many of them means samples of few classes, not a "
             "disentangled latent space.",
             "closer_to_test: fraction of 200 samples whose nearest test image (pixels) is nearer "
             "than their nearest image among an equal number of training images.",
             "reconstruction_mse: mean squared error per pixel of 1,000 test reconstructions.",
             "fid_vs_beta.png: log-x axis; beta = 0 drawn at "
             f"{plotting.beta_positions(args.betas)[1]:g} (a decade below the smallest positive beta).",
             "The paper's Table 1 is CelebA 128x128; its numbers stand beside this run's for the "
             "layout only."]
    if args.reconstruction == "perceptual":
        notes.append("Reconstruction term: the VGG19 perceptual loss (relu1_1..relu4_1, "
                     "keras_vaes.losses.perceptual_loss), as the paper on CelebA.")
    elif args.dataset == "celeba":
        notes.append("Reconstruction term: squared error (--reconstruction l2); the paper trains "
                     "CelebA with the VGG19 perceptual loss (--reconstruction perceptual).")
    lp.write_sweep_results(rows, args.output, header=header, fid_label=fid_label, notes=notes)
    plotting.save_fid_vs_beta(rows, os.path.join(args.output, "fid_vs_beta.png"), ylabel=fid_label,
                              title=f"{args.dataset}: {fid_label} vs beta (Figure 3)",
                              names=lp.MODEL_NAMES)


def save_interpolation_figures(model, x_train, x_test, test_attributes, attr_names, args):
    rng = np.random.default_rng(args.seed)
    pairs = rng.choice(len(x_test), size=(args.pairs, 2), replace=False)
    x_a, x_b = x_test[pairs[:, 0]], x_test[pairs[:, 1]]
    in_z0 = lp.interpolate_z_0(model, x_a, x_b, args.interpolation_steps)
    in_zt = lp.interpolate_z_t(model, x_a, x_b, args.interpolation_steps)
    rows, starts, ends = [], [], []
    for i in range(args.pairs):
        rows += [(f"Z_0 slerp {i}", in_z0[i]), (f"Z_T lerp {i}", in_zt[i])]
        starts += [x_a[i], x_a[i]]
        ends += [x_b[i], x_b[i]]
    plotting.save_interpolation_rows(
        rows, os.path.join(args.output, "interpolation.png"), starts=starts, ends=ends,
        title=f"FP-VAE beta={args.betas[0]:g}: test pairs, Z_0 (slerp) vs Z_T (lerp)")
    samples = np.clip(model.generate(10, seed=args.seed + 1)["x_hat"], 0, 1)
    report = neighbours.train_test_neighbours(samples, x_train, x_test, equal_size=False)
    plotting.save_neighbours(samples, x_train[report["train_index"]], x_test[report["test_index"]],
                             os.path.join(args.output, "neighbours.png"),
                             title="FP-VAE samples and nearest training / test images (pixels)")
    if test_attributes is not None and "Eyeglasses" in attr_names:
        glasses = test_attributes[:, attr_names.index("Eyeglasses")]
        codes = lp.encode_codes(model, x_test[: len(glasses)])
        vector = lp.attribute_vector(codes, glasses)
        without = np.flatnonzero(glasses == 0)[: args.pairs]
        in_z0, in_zt = lp.attribute_interpolation(model, x_test[without], vector,
                                                  args.interpolation_steps)
        rows = []
        for i in range(len(without)):
            rows += [(f"Z_0 {i}", in_z0[i]), (f"Z_T {i}", in_zt[i])]
        plotting.save_interpolation_rows(
            rows, os.path.join(args.output, "attribute_interpolation.png"),
            starts=[x_test[j] for j in without for _ in (0, 1)],
            title="Adding the eyeglasses vector: Z_0 (slerp) vs Z_T (lerp) (Figure 7)")


def save_figure2(args, input_shape, x_train, x_test, y_test, plan, anneal_steps):
    print("\n=== Figure 2: FP-VAE, beta = 0, 2-D latent ===")
    keras.utils.set_random_seed(args.seed)
    model = build("fp_vae", 0.0, args, input_shape, anneal_steps, latent_dim=2)
    train(model, x_train, args, plan, os.path.join(args.output, "latent2d_history.csv"))
    z_t = lp.encode_codes(model, x_test)
    z_0 = lp.to_z0(model, z_t)
    prior = np.asarray(model.sample_latents(len(x_test), seed=args.seed))
    plotting.save_latent_panels(z_0, z_t, y_test, prior, os.path.join(args.output, "latents_2d.png"),
                                title=f"{args.dataset} test set, FP-VAE beta=0, dim(Z)=2 (Figure 2)")


if __name__ == "__main__":
    main()
