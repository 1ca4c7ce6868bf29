"""The command line of the Split-VAE examples (`split_vae.py`, `split_vae_mnist.py`).

Command-line only (argparse, `parser.error`), so it stays beside the scripts
with `_common.py`: 31 flags, the paper's values as defaults
(`keras_vaes.configs.split_vae`), and the checks that need more than one flag.
"""

import os

from keras_vaes.configs import split_vae as paper
from keras_vaes.configs.split_vae import CONFIGS, DEFAULT_LEARNING_RATE

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
