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

import functools
import os

import keras

from keras_vaes.callbacks import TrainingDivergedError
from keras_vaes.configs import split_vae as paper
from keras_vaes.configs.split_vae import CONFIGS, DEFAULT_LEARNING_RATE
from keras_vaes.evaluation.split_vae import save_generated_figures, write_training_fids
from keras_vaes.metrics import extractors

import _common  # examples/_common.py, beside the script: the flags every example shares


def split_vae_parser(dataset=None):
    """The command line of the Split-VAE examples.

    Args:
        dataset: str or None. With a name, the parser has no `--dataset`
            flag and that dataset's defaults (`examples/split_vae_mnist.py`);
            with None, `--dataset` picks them (`examples/split_vae.py`).
    """
    parser = _common.parser("Split-VAE (Asperti, Bugo, Filippini, IEEE Access 2022): train and/or evaluate "
                            "with the paper's configuration of the dataset.")
    positive, non_negative = _common.positive_int, _common.non_negative_int
    if dataset is None:
        parser.add_argument("--dataset", choices=sorted(CONFIGS), default="mnist",
                            help="the paper's configuration to use (section V-A, V-B, V-C)")
    group = parser.add_argument_group("model and training (default: the paper's values)")
    add = group.add_argument
    add("--latent-dim", type=positive, help="latent variables (paper: MNIST 32, CIFAR-10 200, CelebA 150)")
    add("--beta", type=_common.non_negative_float, help="KL weight (paper: MNIST 8 or 3, CIFAR-10 and CelebA 3)")
    for name, help in paper.NETWORK_DESCRIPTIONS.items():
        add("--" + name.replace("_", "-"), type=positive, default=paper.NETWORK[name], help=help)
    add("--learning-rate", type=_common.positive_float, default=DEFAULT_LEARNING_RATE,
        help="Adam learning rate (paper text 1e-3, authors' script 1e-4; see benchmarks/divergence.py for "
             "the divergence rates)")
    add("--batch-size", type=positive, default=paper.BATCH_SIZE, help="images per step")
    add("--epochs", type=non_negative, help="training epochs (default: the paper's, MNIST 300, CIFAR-10 110, "
                                            "CelebA 160; 0 with --weights or --pretrained)")
    add("--vanilla", action="store_true",
        help="split=False: the ablation's vanilla VAE (same network but the last layer)")
    group = parser.add_argument_group("run")
    add = group.add_argument
    _common.add_data(group, "dataset file or folder (MNIST/CIFAR-10 npz, cifar-10-batches-py, "
                            "img_align_celeba); default: keras.datasets (MNIST, CIFAR-10)")
    add("--cache-dir", help="CelebA: folder caching the decoded images")
    _common.add_train_size(group)
    add("--test-size", type=positive, help="use the first N test images")
    _common.add_output(group, None, help="output folder (default runs/split_vae_<dataset>)")
    _common.add_pretrained(group, "build_svae", "evaluate a shipped Split-VAE preset instead of training")
    add("--weights", type=_common.existing_file, help="a .weights.h5 to load; trains further only if --epochs > 0 "
        "(a training checkpoint also restores Adam's state; a preset starts Adam afresh)")
    add("--initial-epoch", type=non_negative, default=0, help="epochs the --weights were already trained: "
        "training resumes at epoch N+1, and logs, checkpoints and FID curves count from there")
    _common.add_seed(group, "seed of initialisation, batches and sampling")
    _common.add_dtype_policy(group, "Keras dtype policy (paper: float32). mixed_bfloat16 trained ~1.4x faster on "
                                    "a Zen 4 CPU with AVX512-BF16; float32 heads, loss and weights")
    add("--recalibrate-bn", action="store_true", help="recompute BatchNormalization statistics on 10k training "
        "images after training/loading (needed after short runs: momentum 0.999)")
    group = parser.add_argument_group("evaluation")
    add = group.add_argument
    add("--fid-samples", type=_common.integer_at_least(2), default=10000,
        help="reference (test) images and generated images per FID")
    _common.add_feature_model(
        group, "inception", "'inception' (Keras InceptionV3, ImageNet; the paper's), 'classifier' (offline FD "
        "of this repo's MNIST classifier, NOT comparable with the paper), 'tfgan[:graph.pb]', or a path to a "
        ".keras model. 'inception' falls back to 'classifier' on MNIST without the weights")
    add("--gmm-components", type=positive, nargs="+", help="GMM components (paper: MNIST 20 and 100, others 100)")
    add("--gmm-fit", choices=["test", "train"], default="test",
        help="fit the GMM on encodings of the test (authors) or training images")
    add("--no-eval", action="store_true", help="skip the Table 1/3/4 evaluation")
    add("--mix", choices=["authors", "random"], default="authors", help="mix column: x1 for the first half of "
        "the unshuffled GMM samples, x2 for the second (authors), or a random half of shuffled samples")
    add("--category-table", action="store_true", help="Table 2: FID of each category (training images + "
        "flips) vs the test set, and of a random mix")
    add("--fid-every", type=non_negative, default=0, help="compute the FIDs of x_hat, x1, x2 after GMM "
        "resampling every N epochs into the history (Figure 11); 0: never")
    add("--fid-gmm-components", type=positive, default=100,
        help="GMM components of the FIDs along training (paper: 100)")
    add("--ablation-seeds", type=non_negative, nargs="+", help="Figures 14/15: train split and vanilla for "
        "each seed with FIDs every --fid-every epochs (default 1), then plot mean and std (paper: 5 seeds)")
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
    if args.pretrained and _common.preset_image_shape(args.pretrained) != config["input_shape"]:
        parser.error(f"argument --pretrained: preset {args.pretrained!r} takes images of shape "
                     f"{_common.preset_image_shape(args.pretrained)}, not {args.dataset}'s "
                     f"{config['input_shape']}. Received: --pretrained {args.pretrained} "
                     f"with --dataset {args.dataset}")
    vars(args).update(paper.run_settings(
        args.dataset, latent_dim=args.latent_dim, beta=args.beta, gmm_components=args.gmm_components,
        epochs=args.epochs, preset=args.pretrained, loading=bool(args.weights)))
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


def run_split_vae(args, parser):
    """Setup, data, model, train, show, evaluate (see the module docstring).

    `parser` (the one that parsed `args`) reports data it cannot use.
    """
    keras.utils.set_random_seed(args.seed)
    keras.config.set_dtype_policy(args.dtype_policy)
    if args.dtype_policy != "float32":
        print(f"dtype policy {args.dtype_policy}: bfloat16/float16 convolutions, float32 "
              "heads, loss and weights (opt-in; the paper trained in float32)")
    if args.dataset == "celeba" and args.data is None:
        parser.error("argument --data: --dataset celeba needs the img_align_celeba folder. Received: no --data")
    (x_train, y_train), (x_test, y_test) = _common.load_dataset(
        parser, args.dataset, args.data, load=functools.partial(paper.load_data, args.dataset),
        cache_dir=args.cache_dir, train_size=args.train_size, test_size=args.test_size)
    os.makedirs(args.output, exist_ok=True)  # after the data: a refused --data leaves no folder
    print(f"{args.dataset}: train {x_train.shape}, test {x_test.shape}")
    extractor, description, reason = None, "", "not needed"
    if args.category_table or args.fid_every or args.ablation_seeds:
        extractor, description, reason = extractors.resolve_feature_model(args.feature_model, args.dataset)
        print(f"feature model: {description}" + (f" -- FID unavailable: {reason}" if reason else ""))

    def features_for(flag):
        if extractor is None:
            raise SystemExit(f"{flag} needs a feature model: {reason}")
        return extractor

    reference, weights = x_test[: args.fid_samples], paper.weights_path(args.output, args.dataset)
    network = dict(latent_dim=args.latent_dim, beta=args.beta, **{name: getattr(args, name) for name in paper.NETWORK})
    if args.category_table:  # Table 2: each category vs the test set (a property of the data)
        if y_train is None:
            raise SystemExit(f"--category-table needs labels; {args.dataset} has none.")
        print(open(paper.category_table(
            args.dataset, x_train, y_train, reference, features_for("--category-table"), args.output,
            per_category=args.fid_samples, seed=args.seed, batch_size=args.batch_size,
            feature_description=description)).read())
        if args.epochs == 0 and not (args.weights or args.pretrained):
            return  # only the data's table was asked for
    if args.ablation_seeds:  # Figures 14/15: split vs vanilla over seeds
        histories = paper.ablation(
            lambda seed, split: paper.build_model(args.dataset, split=split, seed=seed, **network), x_train,
            x_test[:1000], reference, features_for("--ablation-seeds"), args.output, args.ablation_seeds,
            epochs=args.epochs, fid_every=args.fid_every, components=args.fid_gmm_components,
            num_samples=args.fid_samples, batch_size=args.batch_size, learning_rate=args.learning_rate,
            weights_name=os.path.basename(weights))
        print("wrote " + write_training_fids(histories, args.fid_gmm_components, args.output, description,
                                             args.dataset))
        return

    model = paper.load_model(
        args.dataset, preset=args.pretrained, weights=args.weights, gamma_images=x_train[:10000],
        resume=args.epochs > 0, learning_rate=args.learning_rate, split=not args.vanilla, seed=args.seed,
        verbose=1, **network)
    if args.epochs > 0:
        try:
            paper.train_run(
                model, x_train, x_test[:1000], args.output, args.dataset, epochs=args.epochs,
                batch_size=args.batch_size, learning_rate=args.learning_rate, initial_epoch=args.initial_epoch,
                fid_every=args.fid_every, reference=reference, fid_components=args.fid_gmm_components,
                feature_model=features_for("--fid-every") if args.fid_every else None, fid_samples=args.fid_samples,
                feature_description=description, label="vanilla" if args.vanilla else "split", seed=args.seed,
                verbose=1)
        except TrainingDivergedError as error:
            raise SystemExit(f"{error} (--learning-rate, --seed)") from error
    if args.recalibrate_bn:
        print(f"BatchNormalization statistics recomputed over {model.recalibrate_batch_norm(x_train[:10000])} batches")
        if args.epochs > 0:
            model.save_weights(weights)
    save_generated_figures(model, args.output, seed=args.seed)  # Figures 1-4, 7 / 10 / 12
    if args.no_eval:
        return
    source = (f"preset {args.pretrained}" if args.pretrained else f"{args.epochs} epoch(s) on {len(x_train)} images"
              + (f" after loading {args.weights}" if args.weights else ""))
    print(open(paper.evaluate(  # Table 1 / 3 / 4: FID (Inception) and, on MNIST, the offline FD beside
        model, x_test, args.dataset, args.output, feature_model=args.feature_model,
        gmm_components=args.gmm_components, gmm_fit_images=x_train if args.gmm_fit == "train" else None,
        num_samples=args.fid_samples, seed=args.seed, mix=args.mix, weights=source)).read())


def main(argv=None, dataset=None):
    parser = split_vae_parser(dataset)
    run_split_vae(parse_split_vae_args(argv, dataset=dataset, parser=parser), parser)


if __name__ == "__main__":
    main()
