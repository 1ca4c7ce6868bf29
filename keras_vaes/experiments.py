"""The Split-VAE paper's experiments, shared by the example scripts.

`examples/split_vae.py --dataset mnist|cifar10|celeba` and
`examples/split_vae_mnist.py` run `run_split_vae` with the paper's
configuration of the dataset as defaults (`SPLIT_VAE_CONFIGS`):

- MNIST (section V-A, Table 1): 32x32x1 (zero-padded), latent 32, beta 8,
  300 epochs, GMM with 20 and 100 components;
- CIFAR-10 (V-B, Tables 2-3): 32x32x3, latent 200, beta 3, 110 epochs,
  GMM 100;
- CelebA (V-C, Table 4): 64x64x3, latent 150, beta 3, 160 epochs, GMM 100;

always the authors' ResNet (base 64, 4 scales, embedding 512), batch 100.
A run trains (or loads a shipped preset with `--pretrained`, or weights
with `--weights`), then writes the Table 1/3/4 layout (FID of x_hat, x1, x2
and mix for REC, GEN and GMM rows), figures, and on request Table 2 (FID of
each category vs the test set, `--category-table`) and Figures 11/14/15
(FID of x_hat, x1, x2 after GMM-100 along training, split vs vanilla, mean
and std over seeds, `--ablation-seeds`; or along one training with
`--fid-every`).

Without the Inception weights, MNIST evaluations use the offline "FD
(classifier features)" (`keras_vaes.metrics.classifier_feature_model`),
which is NOT comparable with the papers' FIDs; the tables say so.
"""

import argparse
import csv
import math
import os
import warnings

import keras
import numpy as np
from keras import ops

from keras_vaes import callbacks as vae_callbacks
from keras_vaes import datasets, evaluation, plotting, pretrained
from keras_vaes.evaluation import split_vae_categories
from keras_vaes.metrics import classifier, fid
from keras_vaes.models.svae import build_svae

# Adam's learning rate of the scripts. The paper writes 1e-3; the authors'
# script uses 1e-4; benchmarks/divergence.py measured both (README, "Choice
# of the learning rate").
DEFAULT_LEARNING_RATE = 1e-4

SPLIT_VAE_CONFIGS = {
    "mnist": dict(
        input_shape=(32, 32, 1), latent_dim=32, beta=8.0, epochs=300, gmm_components=(20, 100),
        paper=evaluation.PAPER_MNIST, table="Table 1",
    ),
    "cifar10": dict(
        input_shape=(32, 32, 3), latent_dim=200, beta=3.0, epochs=110, gmm_components=(100,),
        paper=evaluation.split_vae.PAPER_CIFAR10, table="Table 3",
    ),
    "celeba": dict(
        input_shape=(64, 64, 3), latent_dim=150, beta=3.0, epochs=160, gmm_components=(100,),
        paper=evaluation.PAPER_CELEBA, table="Table 4",
    ),
}


def split_vae_parser(dataset=None):
    """The command line of the Split-VAE examples.

    Args:
        dataset: str or None. With a name, the parser has no `--dataset`
            flag and that dataset's defaults (`examples/split_vae_mnist.py`);
            with None, `--dataset` picks them (`examples/split_vae.py`).
    """
    parser = argparse.ArgumentParser(
        description="Split-VAE (Asperti, Bugo, Filippini, IEEE Access 2022): train and/or "
        "evaluate with the paper's configuration of the dataset.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    if dataset is None:
        parser.add_argument("--dataset", choices=sorted(SPLIT_VAE_CONFIGS), default="mnist",
                            help="the paper's configuration to use (section V-A, V-B, V-C)")
    paper = parser.add_argument_group("model and training (default: the paper's values)")
    paper.add_argument("--latent-dim", type=int, default=None,
                       help="latent variables (paper: MNIST 32, CIFAR-10 200, CelebA 150)")
    paper.add_argument("--beta", type=float, default=None,
                       help="KL weight (paper: MNIST 8 or 3, CIFAR-10 and CelebA 3)")
    paper.add_argument("--base-dim", type=int, default=64, help="channels at full resolution")
    paper.add_argument("--emb-dim", type=int, default=512, help="width of the dense embedding")
    paper.add_argument("--num-scale", type=int, default=4, help="downsamplings of the encoder")
    paper.add_argument("--block-per-scale", type=int, default=1, help="residual blocks per scale")
    paper.add_argument("--depth-per-block", type=int, default=2, help="convolutions per block")
    paper.add_argument("--learning-rate", type=float, default=DEFAULT_LEARNING_RATE,
                       help="Adam learning rate (paper text 1e-3, authors' script 1e-4; "
                            "see benchmarks/divergence.py for the divergence rates)")
    paper.add_argument("--batch-size", type=int, default=100, help="images per step")
    paper.add_argument("--epochs", type=int, default=None,
                       help="training epochs (default: the paper's, MNIST 300, CIFAR-10 110, "
                            "CelebA 160; 0 with --weights or --pretrained)")
    paper.add_argument("--vanilla", action="store_true",
                       help="split=False: the ablation's vanilla VAE (same network but the last layer)")
    run = parser.add_argument_group("run")
    run.add_argument("--data", default=None,
                     help="dataset file or folder (MNIST/CIFAR-10 npz, cifar-10-batches-py, "
                          "img_align_celeba); default: keras.datasets (MNIST, CIFAR-10)")
    run.add_argument("--cache-dir", default=None, help="CelebA: folder caching the decoded images")
    run.add_argument("--train-size", type=int, default=None, help="use the first N training images")
    run.add_argument("--test-size", type=int, default=None, help="use the first N test images")
    run.add_argument("--output", default=None, help="output folder (default runs/split_vae_<dataset>)")
    run.add_argument("--pretrained", default=None,
                     help=f"evaluate a shipped preset instead of training ({', '.join(pretrained.PRESETS)})")
    run.add_argument("--weights", default=None,
                     help="a .weights.h5 to load; trains further only if --epochs > 0 (a training "
                          "checkpoint also restores Adam's state; a preset starts Adam afresh)")
    run.add_argument("--initial-epoch", type=int, default=0,
                     help="epochs the --weights were already trained: training resumes at "
                          "epoch N+1, and logs, checkpoints and FID curves count from there")
    run.add_argument("--seed", type=int, default=0, help="seed of initialisation, batches and sampling")
    run.add_argument("--dtype-policy", default="float32",
                     choices=["float32", "mixed_bfloat16", "mixed_float16"],
                     help="Keras dtype policy (paper: float32). mixed_bfloat16 trained ~1.4x faster "
                          "on a Zen 4 CPU with AVX512-BF16; float32 heads, loss and weights")
    run.add_argument("--recalibrate-bn", action="store_true",
                     help="recompute BatchNormalization statistics on 10k training images after "
                          "training/loading (needed after short runs: momentum 0.999)")
    evaluate = parser.add_argument_group("evaluation")
    evaluate.add_argument("--fid-samples", type=int, default=10000,
                          help="reference (test) images and generated images per FID")
    evaluate.add_argument("--feature-model", default="inception",
                          help="'inception' (Keras InceptionV3, ImageNet; the paper's), 'classifier' "
                               "(offline FD of this repo's MNIST classifier, NOT comparable with "
                               "the paper), 'tfgan[:graph.pb]', or a path to a .keras model. "
                               "'inception' falls back to 'classifier' on MNIST without the weights")
    evaluate.add_argument("--gmm-components", type=int, nargs="+", default=None,
                          help="GMM components (paper: MNIST 20 and 100, others 100)")
    evaluate.add_argument("--gmm-fit", choices=["test", "train"], default="test",
                          help="fit the GMM on encodings of the test (authors) or training images")
    evaluate.add_argument("--no-eval", action="store_true", help="skip the Table 1/3/4 evaluation")
    evaluate.add_argument("--mix", choices=["authors", "random"], default="authors",
                          help="mix column: x1 for the first half of the unshuffled GMM samples, x2 "
                               "for the second (authors), or a random half of shuffled samples")
    evaluate.add_argument("--category-table", action="store_true",
                          help="Table 2: FID of each category (training images + flips) vs the "
                               "test set, and of a random mix")
    evaluate.add_argument("--fid-every", type=int, default=0,
                          help="compute the FIDs of x_hat, x1, x2 after GMM resampling every N "
                               "epochs into the history (Figure 11); 0: never")
    evaluate.add_argument("--fid-gmm-components", type=int, default=100,
                          help="GMM components of the FIDs along training (paper: 100)")
    evaluate.add_argument("--ablation-seeds", type=int, nargs="+", default=None,
                          help="Figures 14/15: train split and vanilla for each seed with FIDs every "
                               "--fid-every epochs (default 1), then plot mean and std (paper: 5 seeds)")
    return parser


def parse_split_vae_args(argv=None, dataset=None):
    """Parses the command line and fills the dataset's paper defaults."""
    args = split_vae_parser(dataset).parse_args(argv)
    if dataset is not None:
        args.dataset = dataset
    config = SPLIT_VAE_CONFIGS[args.dataset]
    if args.pretrained is not None:
        if args.pretrained not in pretrained.PRESETS:
            raise SystemExit(f"Unknown --pretrained {args.pretrained!r}. Expected one of "
                             f"{sorted(pretrained.PRESETS)}.")
        preset = pretrained.PRESETS[args.pretrained]["config"]
        if tuple(preset["input_shape"]) != config["input_shape"]:
            raise SystemExit(f"Preset {args.pretrained!r} takes {tuple(preset['input_shape'])} images, "
                             f"not {args.dataset}'s {config['input_shape']}.")
        args.latent_dim, args.beta = preset["latent_dim"], preset["beta"]
    args.latent_dim = args.latent_dim or config["latent_dim"]
    args.beta = config["beta"] if args.beta is None else args.beta
    args.gmm_components = args.gmm_components or list(config["gmm_components"])
    if args.epochs is None:
        args.epochs = 0 if (args.weights or args.pretrained) else config["epochs"]
    if args.initial_epoch < 0 or (args.initial_epoch and not args.weights):
        raise SystemExit("--initial-epoch counts the epochs of the --weights a run resumes from: "
                         f"it needs --weights and must be >= 0. Received: --initial-epoch "
                         f"{args.initial_epoch}, --weights {args.weights}")
    args.output = args.output or os.path.join("runs", f"split_vae_{args.dataset}")
    if args.ablation_seeds and not args.fid_every:
        args.fid_every = 1
    return args


def load_data(args):
    """`(x_train, y_train), (x_test, y_test)` of the run, cut to the requested sizes."""
    if args.dataset == "celeba":
        if args.data is None:
            raise SystemExit("CelebA needs --data pointing to the img_align_celeba folder.")
        (x_train, y_train), (x_test, y_test) = datasets.load_celeba(args.data, cache_dir=args.cache_dir)
    else:
        (x_train, y_train), (x_test, y_test) = datasets.load(args.dataset, args.data)
    if args.train_size:
        x_train = x_train[: args.train_size]
        y_train = None if y_train is None else y_train[: args.train_size]
    if args.test_size:
        x_test = x_test[: args.test_size]
        y_test = None if y_test is None else y_test[: args.test_size]
    return (x_train, y_train), (x_test, y_test)


def resolve_feature_model(spec, dataset):
    """`(extractor, description, reason)` for Table 2 and the FIDs along training.

    `"classifier"` is the offline FD of the shipped classifier of the
    dataset. `"inception"` without its weights falls back to it where one
    is shipped (MNIST); elsewhere the FID cells stay empty with `reason`.
    """
    if spec == "classifier":
        extractor, reason = fid.classifier_extractor_or_reason(dataset)
        return extractor, classifier.describe(dataset) if extractor else "classifier features", reason
    extractor, description, reason = fid.feature_model_from_spec(spec)
    if extractor is None and spec in (None, "inception") and dataset in classifier.CLASSIFIERS:
        fallback, why = fid.classifier_extractor_or_reason(dataset)
        if fallback is not None:
            return fallback, classifier.describe(dataset) + " (InceptionV3 weights unavailable)", None
    return extractor, description, reason


def build_model(args, seed, split=True):
    """The paper's Split-VAE (or vanilla VAE) for the run's dataset."""
    return build_svae(
        SPLIT_VAE_CONFIGS[args.dataset]["input_shape"], args.latent_dim, base_dim=args.base_dim,
        emb_dim=args.emb_dim, num_scale=args.num_scale, block_per_scale=args.block_per_scale,
        depth_per_block=args.depth_per_block, beta=args.beta, split=split, seed=seed,
    )


def compile_for_training(model, learning_rate):
    """Compiles with Adam and builds its state, so `load_weights` of a checkpoint restores it."""
    model.compile(optimizer=keras.optimizers.Adam(learning_rate))
    model.optimizer.build(model.trainable_variables)


def load_for_resuming(model, path, learning_rate):
    """Compiles `model` and loads `path`: weights, gamma and, if the file has it, Adam's state.

    A checkpoint written during training (`save_weights` of a compiled
    model, the example's `svae_<dataset>.weights.h5`) carries Adam's moments
    and step count, and training goes on as if it had not stopped; a preset
    or `export_weights` file has none, and Adam starts afresh. The learning
    rate is the run's, not the file's.

    Returns:
        `(has_gamma, restored)`: whether the file stored gamma, and whether
        Adam's state came from it.
    """
    compile_for_training(model, learning_rate)
    with warnings.catch_warnings():
        # Keras warns "Skipping variable loading for optimizer" for files
        # without optimizer state: the return value says it instead.
        warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
        has_gamma = model.load_weights(path)
    model.optimizer.learning_rate.assign(learning_rate)  # the file's would win
    return has_gamma, int(ops.convert_to_numpy(model.optimizer.iterations)) > 0


def train(model, x_train, x_test, args, output, extra_callbacks=()):
    """Trains with the run's settings; checkpoints every epoch; returns the history dict.

    A model compiled beforehand (`load_for_resuming`) keeps its optimizer.
    A diverged run stops with advice (SystemExit); no NaN weights are written.
    """
    weights_path = os.path.join(output, f"svae_{args.dataset}.weights.h5")
    if not model.compiled:
        compile_for_training(model, args.learning_rate)
    callbacks = list(extra_callbacks) + [
        keras.callbacks.ModelCheckpoint(weights_path, save_weights_only=True),
        keras.callbacks.CSVLogger(os.path.join(output, "history.csv")),
        keras.callbacks.TerminateOnNaN(),
    ]
    try:
        history = model.fit(x_train, batch_size=args.batch_size, epochs=args.initial_epoch + args.epochs,
                            initial_epoch=args.initial_epoch, validation_data=(x_test[:1000],),
                            callbacks=callbacks)
    except ValueError as error:
        if "NaN or inf" not in str(error) and "diverged" not in str(error):
            raise
        raise SystemExit(
            f"Training diverged (NaN/inf loss); {weights_path} holds the last finite "
            f"checkpoint, if any. Lower --learning-rate (now {args.learning_rate:g}) or "
            "change --seed."
        ) from error
    model.save_weights(weights_path)
    plotting.save_curves(history.history, os.path.join(output, "curves.png"),
                         keys=["loss", "mse", "kl", "gamma"], first_epoch=args.initial_epoch + 1)
    print(f"wrote {weights_path}")
    return history.history


def fid_curves(histories_by_label, components, outputs=("x_hat", "x1", "x2"), first_epoch=1):
    """{"split x1": (epochs, mean, std), ...} from per-seed histories."""
    curves = {}
    for label, histories in histories_by_label.items():
        for output in outputs:
            key = f"fid_gmm{components}_{output}"
            if histories and all(key in h for h in histories):
                curves[f"{label} {output}"] = vae_callbacks.aggregate_fid_histories(
                    histories, key, first_epoch=first_epoch)
    return curves


def measure_name(description):
    """The short name of an extractor's measure for axes and titles."""
    return evaluation.tables.FD if description.startswith(evaluation.tables.FD) else "FID"


def write_fid_evolution(curves, output, description, title):
    """fid_evolution.csv (epoch, curve, mean, std) and fid_evolution.png."""
    with open(os.path.join(output, "fid_evolution.csv"), "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["curve", "epoch", "mean", "std"])
        for label, (epochs, mean, std) in curves.items():
            for e, m, s in zip(epochs, mean, std):
                writer.writerow([label, int(e), f"{m:.4f}", f"{s:.4f}"])
    std_for = [k for k in curves if k in ("split x_hat", "split x1")] or None
    return plotting.save_fid_evolution(curves, os.path.join(output, "fid_evolution.png"),
                                       ylabel=measure_name(description), title=title, std_for=std_for)


def read_history(path):
    """A CSVLogger file as a `History.history`-like dict of float lists."""
    with open(path) as f:
        rows = list(csv.DictReader(f))
    return {k: [float(r[k]) if r[k] not in ("", "NA") else math.nan for r in rows]
            for k in (rows[0] if rows else {})}


def run_ablation(args, x_train, x_test, extractor, description):
    """Figures 14/15: split and vanilla over seeds, FIDs every `fid_every` epochs."""
    reference = x_test[: args.fid_samples]
    histories = {"split": [], "vanilla": []}
    for seed in args.ablation_seeds:
        for label in ("split", "vanilla"):
            folder = os.path.join(args.output, "ablation", f"{label}_seed{seed}")
            os.makedirs(folder, exist_ok=True)
            done = os.path.join(folder, "history.csv")
            if os.path.exists(done) and len(read_history(done).get("loss", [])) == args.epochs:
                print(f"{label}, seed {seed}: reusing {done}")
                histories[label].append(read_history(done))
                continue
            print(f"--- {label} VAE, seed {seed} ---")
            keras.utils.set_random_seed(seed)
            model = build_model(args, seed, split=label == "split")
            callback = vae_callbacks.GMMFIDHistory(
                reference, extractor, every=args.fid_every, components=args.fid_gmm_components,
                num_samples=args.fid_samples, seed=seed, batch_size=args.batch_size)
            histories[label].append(train(model, x_train, x_test, args, folder, [callback]))
    curves = fid_curves(histories, args.fid_gmm_components)
    title = (f"{args.dataset}: {measure_name(description)} after GMM-{args.fid_gmm_components}, mean +- std over "
             f"{len(args.ablation_seeds)} seed(s)")
    path = write_fid_evolution(curves, args.output, description, title)
    print(f"wrote {path}")
    return curves


def run_split_vae(args):
    """Setup, data, model, train, show, evaluate (see the module docstring)."""
    config = SPLIT_VAE_CONFIGS[args.dataset]
    keras.utils.set_random_seed(args.seed)
    keras.config.set_dtype_policy(args.dtype_policy)
    if args.dtype_policy != "float32":
        print(f"dtype policy {args.dtype_policy}: bfloat16/float16 convolutions, float32 "
              "heads, loss and weights (opt-in; the paper trained in float32)")
    os.makedirs(args.output, exist_ok=True)

    # --- Data --------------------------------------------------------------
    (x_train, y_train), (x_test, y_test) = load_data(args)
    print(f"{args.dataset}: train {x_train.shape}, test {x_test.shape}")
    needs_features = args.category_table or args.fid_every or args.ablation_seeds
    extractor, description, reason = (resolve_feature_model(args.feature_model, args.dataset)
                                      if needs_features else (None, "", "not needed"))
    if needs_features:
        print(f"feature model: {description}" + (f" -- FID unavailable: {reason}" if reason else ""))

    # --- Table 2: categories vs the test set (a property of the data) ------
    if args.category_table:
        if y_train is None:
            raise SystemExit(f"--category-table needs labels; {args.dataset} has none.")
        if extractor is None:
            raise SystemExit(f"--category-table needs a feature model: {reason}")
        names = (split_vae_categories.CIFAR10_CLASSES if args.dataset == "cifar10"
                 else tuple(str(c) for c in range(int(np.max(y_train)) + 1)))
        scores = split_vae_categories.category_fid_table(
            x_train, y_train, x_test[: args.fid_samples], extractor, class_names=names,
            per_category=args.fid_samples, seed=args.seed, batch_size=args.batch_size)
        print(split_vae_categories.write_category_table(
            scores, args.output,
            paper=split_vae_categories.PAPER_TABLE2 if args.dataset == "cifar10" else None,
            feature_description=description,
            header=f"# Table 2 layout: each {args.dataset} category (training images + flips) "
                   f"vs {min(len(x_test), args.fid_samples)} test images"))
        if args.epochs == 0 and not (args.weights or args.pretrained):
            return  # only the data's table was asked for

    # --- Figures 14/15: split vs vanilla over seeds ------------------------
    if args.ablation_seeds:
        if extractor is None:
            raise SystemExit(f"--ablation-seeds needs a feature model: {reason}")
        run_ablation(args, x_train, x_test, extractor, description)
        return

    # --- Model ---------------------------------------------------------------
    if args.pretrained:
        model = pretrained.load_pretrained(args.pretrained)
        print(f"preset {args.pretrained}: {pretrained.PRESETS[args.pretrained]['description']}")
    else:
        model = build_model(args, args.seed, split=not args.vanilla)
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    print(f"{'vanilla VAE' if not model.split else 'Split-VAE'}: {trainable:,} trainable parameters")
    if args.weights:
        if args.epochs > 0:
            has_gamma, resumed = load_for_resuming(model, args.weights, args.learning_rate)
            print(f"{args.weights}: " + (
                f"Adam's state restored (step {int(ops.convert_to_numpy(model.optimizer.iterations))})"
                if resumed else "no optimizer state (a preset or export_weights file): Adam starts afresh"))
        else:
            has_gamma = model.load_weights(args.weights)
        if not has_gamma:
            mse = model.estimate_gamma(x_train[:10000])
            print(f"{args.weights} stores no gamma; restarted it from the MSE {mse:.5f}")
        print(f"loaded {args.weights}; gamma = {model.gamma:.5f}")

    # --- Train ---------------------------------------------------------------
    history = None
    if args.epochs > 0:
        extra = []
        if args.fid_every:
            if extractor is None:
                raise SystemExit(f"--fid-every needs a feature model: {reason}")
            extra.append(vae_callbacks.GMMFIDHistory(
                x_test[: args.fid_samples], extractor, every=args.fid_every,
                components=args.fid_gmm_components, num_samples=args.fid_samples,
                seed=args.seed, batch_size=args.batch_size))
        history = train(model, x_train, x_test, args, args.output, extra)
        if args.fid_every:
            label = "vanilla" if args.vanilla else "split"
            curves = fid_curves({label: [history]}, args.fid_gmm_components,
                                first_epoch=args.initial_epoch + 1)
            write_fid_evolution(curves,
                                args.output, description,
                                f"{args.dataset}: {measure_name(description)} after GMM-{args.fid_gmm_components} along training")

    if args.recalibrate_bn:
        batches = model.recalibrate_batch_norm(x_train[:10000])
        print(f"BatchNormalization statistics recomputed over {batches} batches")
        if args.epochs > 0:
            model.save_weights(os.path.join(args.output, f"svae_{args.dataset}.weights.h5"))

    # --- Show: the paper's Figures 1-4 (split rows) and 7/10/12 (grids) ----
    generated = model.generate(100, seed=args.seed)
    if model.split:
        plotting.save_split_rows(generated, os.path.join(args.output, "split_rows.png"), n=10)
    plotting.save_image_grid(generated["x_hat"], os.path.join(args.output, "generated.png"))

    # --- Evaluate: Table 1 / 3 / 4 layout --------------------------------------
    if args.no_eval:
        return
    # FID with the requested (Inception) features, and beside it the offline
    # "FD (classifier features)" where a classifier is shipped (MNIST).
    fid_extractor, fid_description, fid_reason = (
        fid.feature_model_from_spec(args.feature_model) if args.feature_model != "classifier"
        else (None, "classifier features only (--feature-model classifier)", "not requested"))
    fd_extractor, fd_reason = fid.classifier_extractor_or_reason(args.dataset)
    results = evaluation.evaluate_split_vae(
        model, x_test, feature_model=fid_extractor, gmm_components=tuple(args.gmm_components),
        gmm_fit_images=x_train if args.gmm_fit == "train" else None,
        num_samples=args.fid_samples, seed=args.seed, mix=args.mix,
        classifier=fd_extractor, classifier_unavailable=fd_reason, fid_unavailable=fid_reason,
    )
    source = (f"preset {args.pretrained}" if args.pretrained else
              f"{args.epochs} epoch(s) on {len(x_train)} images"
              + (f" after loading {args.weights}" if args.weights else ""))
    header = (
        f"# Split-VAE, {args.dataset} (latent {args.latent_dim}, beta {args.beta:g}, "
        f"{'split' if model.split else 'vanilla'}; {trainable:,} trainable params)\n\n"
        f"Weights: {source}; {min(len(x_test), args.fid_samples)} test images vs "
        f"{args.fid_samples} samples per FID; GMM fitted on {args.gmm_fit} encodings. "
        f"Paper: {config['table']}, beta={args.beta:g} (Inception features)."
    )
    table = evaluation.write_results(
        results, args.output, paper=config["paper"].get(args.beta, {}),
        feature_description=fid_description, fid_reason=fid_reason, header=header,
    )
    evaluation.save_result_figures(results, args.output)
    print(table)
