"""Split-VAE: every table and figure of the paper, one script per dataset choice.

Asperti, Bugo, Filippini, "Enhancing Variational Generation Through
Self-Decomposition", IEEE Access 2022. `--dataset mnist|cifar10|celeba`
selects the paper's configuration as defaults (`keras_vaes.configs.split_vae`:
MNIST latent 32, beta 8, 300 epochs, GMM 20 and 100; CIFAR-10 latent 200,
beta 3, 110 epochs, GMM 100; CelebA 64x64 latent 150, beta 3, 160 epochs,
GMM 100; the authors' ResNet, batch 100). `examples/split_vae_mnist.py` is
this script on MNIST. Writes:

    <output>/svae_<dataset>.weights.h5  trained weights (checkpoint every epoch, atomic)
    <output>/results.md, results.csv    Table 1/3/4 layout: REC, GEN, GMM-k x (x_hat, x1, x2, mix)
    <output>/split_rows.png             sigma, x1, x2, x_hat of generated images (Figures 1-4)
    <output>/generated.png              generated grid (Figures 7, 10, 12)
    <output>/images_<row>.png           each row's images (REC, GEN, GMM-k: x_hat, x1, x2, mix)
    <output>/variance_law.png, curves.png, arrays.csv
    <output>/table2.md, table2.csv      --category-table: Table 2 (each category vs test set)
    <output>/fid_evolution.png, .csv    --fid-every / --ablation-seeds: Figures 11, 14, 15

Minutes, not days (a shipped preset, offline classifier-feature FD):
    python examples/split_vae.py --dataset mnist --pretrained svae_mnist_10ep \
        --data path/to/mnist.npz

The paper's runs (a GPU and the data; FID needs the InceptionV3 weights):
    python examples/split_vae.py --dataset mnist --data mnist.npz
    python examples/split_vae.py --dataset cifar10 --data cifar-10-batches-py --category-table
    python examples/split_vae.py --dataset celeba --data img_align_celeba --cache-dir cache
    python examples/split_vae.py --dataset cifar10 --data cifar-10-batches-py \
        --ablation-seeds 0 1 2 3 4 --epochs 200 --fid-every 5     # Figure 14
"""

import os

import keras
import numpy as np
from keras import ops

from keras_vaes import callbacks as vae_callbacks
from keras_vaes import datasets, evaluation, plotting, pretrained
from keras_vaes.callbacks import TrainingDivergedError
from keras_vaes.configs import split_vae as paper
from keras_vaes.configs.split_vae import CONFIGS, DEFAULT_LEARNING_RATE, load_for_resuming
from keras_vaes.evaluation import split_vae_categories
from keras_vaes.evaluation.protocol import write_results
from keras_vaes.evaluation.split_vae import fid_curves, write_fid_evolution
from keras_vaes.evaluation.tables import measure_name
from keras_vaes.metrics import extractors
from keras_vaes.models.svae import build_svae

import _common  # examples/_common.py, beside the script: the flags every example shares


def split_vae_parser(dataset=None):
    """The command line of the Split-VAE examples.

    Args:
        dataset: str or None. With a name, the parser has no `--dataset`
            flag and that dataset's defaults (`examples/split_vae_mnist.py`);
            with None, `--dataset` picks them (`examples/split_vae.py`).
    """
    parser = _common.parser(
        "Split-VAE (Asperti, Bugo, Filippini, IEEE Access 2022): train and/or evaluate with the "
        "paper's configuration of the dataset."
    )
    positive, non_negative = _common.positive_int, _common.non_negative_int
    if dataset is None:
        parser.add_argument("--dataset", choices=sorted(CONFIGS), default="mnist",
                            help="the paper's configuration to use (section V-A, V-B, V-C)")
    model = parser.add_argument_group("model and training (default: the paper's values)")
    model.add_argument("--latent-dim", type=positive, default=None,
                       help="latent variables (paper: MNIST 32, CIFAR-10 200, CelebA 150)")
    model.add_argument("--beta", type=_common.non_negative_float, default=None,
                       help="KL weight (paper: MNIST 8 or 3, CIFAR-10 and CelebA 3)")
    model.add_argument("--base-dim", type=positive, default=64, help="channels at full resolution")
    model.add_argument("--emb-dim", type=positive, default=512, help="width of the dense embedding")
    model.add_argument("--num-scale", type=positive, default=4, help="downsamplings of the encoder")
    model.add_argument("--block-per-scale", type=positive, default=1, help="residual blocks per scale")
    model.add_argument("--depth-per-block", type=positive, default=2, help="convolutions per block")
    model.add_argument("--learning-rate", type=_common.positive_float, default=DEFAULT_LEARNING_RATE,
                       help="Adam learning rate (paper text 1e-3, authors' script 1e-4; "
                            "see benchmarks/divergence.py for the divergence rates)")
    model.add_argument("--batch-size", type=positive, default=100, help="images per step")
    model.add_argument("--epochs", type=non_negative, default=None,
                       help="training epochs (default: the paper's, MNIST 300, CIFAR-10 110, "
                            "CelebA 160; 0 with --weights or --pretrained)")
    model.add_argument("--vanilla", action="store_true",
                       help="split=False: the ablation's vanilla VAE (same network but the last layer)")
    run = parser.add_argument_group("run")
    _common.add_data(run, "dataset file or folder (MNIST/CIFAR-10 npz, cifar-10-batches-py, "
                          "img_align_celeba); default: keras.datasets (MNIST, CIFAR-10)")
    run.add_argument("--cache-dir", default=None, help="CelebA: folder caching the decoded images")
    _common.add_train_size(run)
    run.add_argument("--test-size", type=positive, default=None, help="use the first N test images")
    _common.add_output(run, None, help="output folder (default runs/split_vae_<dataset>)")
    _common.add_pretrained(run, "build_svae", "evaluate a shipped Split-VAE preset instead of training")
    run.add_argument("--weights", type=_common.existing_file, default=None,
                     help="a .weights.h5 to load; trains further only if --epochs > 0 (a training "
                          "checkpoint also restores Adam's state; a preset starts Adam afresh)")
    run.add_argument("--initial-epoch", type=non_negative, default=0,
                     help="epochs the --weights were already trained: training resumes at "
                          "epoch N+1, and logs, checkpoints and FID curves count from there")
    _common.add_seed(run, "seed of initialisation, batches and sampling")
    _common.add_dtype_policy(run, "Keras dtype policy (paper: float32). mixed_bfloat16 trained ~1.4x "
                                  "faster on a Zen 4 CPU with AVX512-BF16; float32 heads, loss and weights")
    run.add_argument("--recalibrate-bn", action="store_true",
                     help="recompute BatchNormalization statistics on 10k training images after "
                          "training/loading (needed after short runs: momentum 0.999)")
    evaluate = parser.add_argument_group("evaluation")
    evaluate.add_argument("--fid-samples", type=_common.integer_at_least(2), default=10000,
                          help="reference (test) images and generated images per FID")
    _common.add_feature_model(
        evaluate, "inception",
        "'inception' (Keras InceptionV3, ImageNet; the paper's), 'classifier' (offline FD of this "
        "repo's MNIST classifier, NOT comparable with the paper), 'tfgan[:graph.pb]', or a path to "
        "a .keras model. 'inception' falls back to 'classifier' on MNIST without the weights")
    evaluate.add_argument("--gmm-components", type=positive, nargs="+", default=None,
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
    evaluate.add_argument("--fid-every", type=non_negative, default=0,
                          help="compute the FIDs of x_hat, x1, x2 after GMM resampling every N "
                               "epochs into the history (Figure 11); 0: never")
    evaluate.add_argument("--fid-gmm-components", type=positive, default=100,
                          help="GMM components of the FIDs along training (paper: 100)")
    evaluate.add_argument("--ablation-seeds", type=non_negative, nargs="+", default=None,
                          help="Figures 14/15: train split and vanilla for each seed with FIDs every "
                               "--fid-every epochs (default 1), then plot mean and std (paper: 5 seeds)")
    return parser


def parse_split_vae_args(argv=None, dataset=None, parser=None):
    """Parses the command line and fills the dataset's paper defaults (exit status 2 on a bad value).

    `parser` defaults to `split_vae_parser(dataset)`.
    """
    parser = parser or split_vae_parser(dataset)
    args = parser.parse_args(argv)
    if dataset is not None:
        args.dataset = dataset
    config = CONFIGS[args.dataset]
    if args.pretrained is not None:
        preset = pretrained.PRESETS[args.pretrained]["config"]
        if _common.preset_image_shape(args.pretrained) != config["input_shape"]:
            parser.error(f"argument --pretrained: preset {args.pretrained!r} takes images of shape "
                         f"{_common.preset_image_shape(args.pretrained)}, not {args.dataset}'s "
                         f"{config['input_shape']}. Received: --pretrained {args.pretrained} "
                         f"with --dataset {args.dataset}")
        args.latent_dim, args.beta = preset["latent_dim"], preset["beta"]
    args.latent_dim = args.latent_dim or config["latent_dim"]
    args.beta = config["beta"] if args.beta is None else args.beta
    args.gmm_components = args.gmm_components or list(config["gmm_components"])
    if args.epochs is None:
        args.epochs = 0 if (args.weights or args.pretrained) else config["epochs"]
    if args.epochs == 0 and not (args.weights or args.pretrained or args.category_table):
        parser.error("--epochs 0 trains nothing: evaluate --weights or --pretrained, or ask for the "
                     "data's --category-table alone. Received: --epochs 0 without them")
    if args.initial_epoch and not args.weights:
        parser.error("--initial-epoch counts the epochs of the --weights a run resumes from: it "
                     f"needs --weights. Received: --initial-epoch {args.initial_epoch} without --weights")
    args.output = args.output or os.path.join("runs", f"split_vae_{args.dataset}")
    if args.ablation_seeds and not args.fid_every:
        args.fid_every = 1
    return args


def load_data(args, parser):
    """`(x_train, y_train), (x_test, y_test)` of the run, cut to the requested sizes.

    Data the loader refuses stop the script with `parser`'s error on `--data`.
    """
    if args.dataset == "celeba":
        if args.data is None:
            parser.error("argument --data: --dataset celeba needs the img_align_celeba folder. "
                         "Received: no --data")
        (x_train, y_train), (x_test, y_test) = _common.load_dataset(
            parser, "celeba", args.data, load=datasets.load_celeba, cache_dir=args.cache_dir)
    else:
        (x_train, y_train), (x_test, y_test) = _common.load_dataset(parser, args.dataset, args.data)
    if args.train_size:
        x_train = x_train[: args.train_size]
        y_train = None if y_train is None else y_train[: args.train_size]
    if args.test_size:
        x_test = x_test[: args.test_size]
        y_test = None if y_test is None else y_test[: args.test_size]
    return (x_train, y_train), (x_test, y_test)


def build_model(args, seed, split=True):
    """The paper's Split-VAE (or vanilla VAE) for the run's dataset."""
    return build_svae(
        CONFIGS[args.dataset]["input_shape"], args.latent_dim, base_dim=args.base_dim,
        emb_dim=args.emb_dim, num_scale=args.num_scale, block_per_scale=args.block_per_scale,
        depth_per_block=args.depth_per_block, beta=args.beta, split=split, seed=seed,
    )


def train(model, x_train, x_test, args, callbacks=()):
    """Trains with the run's settings (`configs.split_vae.train`); a diverged run stops with advice."""
    weights = os.path.join(args.output, f"svae_{args.dataset}.weights.h5")
    try:
        history = paper.train(model, x_train, x_test[:1000], weights, os.path.join(args.output, "history.csv"),
                              epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.learning_rate,
                              initial_epoch=args.initial_epoch, callbacks=callbacks)
    except TrainingDivergedError as error:
        raise SystemExit(f"{error} (--learning-rate, --seed)") from error
    plotting.save_curves(history, os.path.join(args.output, "curves.png"),
                         keys=["loss", "mse", "kl", "gamma"], first_epoch=args.initial_epoch + 1)
    print(f"wrote {weights}")
    return history


def run_ablation(args, x_train, x_test, extractor, description):
    """Figures 14/15: split and vanilla over seeds, FIDs every `fid_every` epochs."""
    histories = paper.ablation(
        lambda seed, split: build_model(args, seed, split), x_train, x_test[:1000], x_test[: args.fid_samples],
        extractor, args.output, args.ablation_seeds, epochs=args.epochs, fid_every=args.fid_every,
        components=args.fid_gmm_components, num_samples=args.fid_samples, batch_size=args.batch_size,
        learning_rate=args.learning_rate, weights_name=f"svae_{args.dataset}.weights.h5")
    title = (f"{args.dataset}: {measure_name(description)} after GMM-{args.fid_gmm_components}, mean +- std "
             f"over {len(args.ablation_seeds)} seed(s)")
    print("wrote " + write_fid_evolution(fid_curves(histories, args.fid_gmm_components), args.output,
                                         description, title))


def run_split_vae(args, parser):
    """Setup, data, model, train, show, evaluate (see the module docstring).

    `parser` (the one that parsed `args`) reports data it cannot use.
    """
    config = CONFIGS[args.dataset]
    keras.utils.set_random_seed(args.seed)
    keras.config.set_dtype_policy(args.dtype_policy)
    if args.dtype_policy != "float32":
        print(f"dtype policy {args.dtype_policy}: bfloat16/float16 convolutions, float32 "
              "heads, loss and weights (opt-in; the paper trained in float32)")

    # --- Data --------------------------------------------------------------
    (x_train, y_train), (x_test, y_test) = load_data(args, parser)
    os.makedirs(args.output, exist_ok=True)  # after the data: a refused --data leaves no folder
    print(f"{args.dataset}: train {x_train.shape}, test {x_test.shape}")
    needs_features = args.category_table or args.fid_every or args.ablation_seeds
    extractor, description, reason = (extractors.resolve_feature_model(args.feature_model, args.dataset)
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
        table = split_vae_categories.category_fid_table(
            x_train, y_train, x_test[: args.fid_samples], extractor, class_names=names,
            per_category=args.fid_samples, seed=args.seed, batch_size=args.batch_size,
            paper=split_vae_categories.PAPER_TABLE2 if args.dataset == "cifar10" else None,
            feature_description=description,
            title=f"Table 2 layout: each {args.dataset} category (training images + flips) "
                  f"vs {min(len(x_test), args.fid_samples)} test images")
        md_path = write_results(table, args.output, figures=False, name="table2")[0]
        print(open(md_path).read())
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
        history = train(model, x_train, x_test, args, extra)
        if args.fid_every:
            label = "vanilla" if args.vanilla else "split"
            curves = fid_curves({label: [history]}, args.fid_gmm_components,
                                first_epoch=args.initial_epoch + 1)
            write_fid_evolution(curves, args.output, description,
                                f"{args.dataset}: {measure_name(description)} after "
                                f"GMM-{args.fid_gmm_components} along training")

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
        extractors.feature_model_from_spec(args.feature_model) if args.feature_model != "classifier"
        else (None, "classifier features only (--feature-model classifier)", "not requested"))
    fd_extractor, fd_reason = extractors.classifier_extractor_or_reason(args.dataset)
    source = (f"preset {args.pretrained}" if args.pretrained else
              f"{args.epochs} epoch(s) on {len(x_train)} images"
              + (f" after loading {args.weights}" if args.weights else ""))
    table = evaluation.evaluate_split_vae(
        model, x_test, feature_model=fid_extractor, gmm_components=tuple(args.gmm_components),
        gmm_fit_images=x_train if args.gmm_fit == "train" else None,
        num_samples=args.fid_samples, seed=args.seed, mix=args.mix,
        classifier=fd_extractor, classifier_unavailable=fd_reason, fid_unavailable=fid_reason,
        feature_description=fid_description, paper=config["paper"].get(args.beta, {}),
        title=(f"Split-VAE, {args.dataset} (latent {args.latent_dim}, beta {args.beta:g}, "
               f"{'split' if model.split else 'vanilla'}; {trainable:,} trainable params)"),
        notes=[f"Weights: {source}; {min(len(x_test), args.fid_samples)} test images vs "
               f"{args.fid_samples} samples per FID; GMM fitted on {args.gmm_fit} encodings. "
               f"Paper: {config['table']}, beta={args.beta:g} (Inception features)."],
    )
    print(open(write_results(table, args.output)[0]).read())


def main(argv=None, dataset=None):
    parser = split_vae_parser(dataset)
    run_split_vae(parse_split_vae_args(argv, dataset=dataset, parser=parser), parser)


if __name__ == "__main__":
    main()
