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
defaults are a small configuration that trains on a CPU. The paper's
epochs (700 + 1400 on CIFAR-10, 70 + 140 on CelebA) need a GPU.

Evaluation follows the authors' latest code: the test split shuffled, first
10,000 images (FID reference, renormalisation statistics, REC), REC from a
sampled z, latents renormalised to their target std (sigma in the
variance-law sum), generated images not rescaled (the image-rescaling
extension is a separate row). FID: the TF-GAN 2015 Inception graph, as
theirs (`--feature-model tfgan:/path/inceptionv1_for_inception_score.pb`);
"FD (classifier features)" with the package's MNIST / Fashion-MNIST
classifier (offline; not comparable with the papers' FIDs).

    python examples/two_stage_vae.py --dataset mnist \
        --data ../shared/data/mnist.npz --epochs 2 --epochs2 2 \
        --train-size 6000 --output /tmp/ts
"""

import argparse
import os

import keras

from keras_vaes import datasets, metrics, plotting, two_stage_eval
from keras_vaes.evaluation.two_stage import ROWS, evaluate_two_stage, evaluation_images
from keras_vaes.models.two_stage import build_two_stage_vae

# The authors' suggested configurations (latent 64, base_dim 32, fc_dim 512,
# second_depth 3, batch 100, lr decayed by 0.5 every lr_epochs). gamma
# falls by at most 1% a step, so short CPU runs use smaller batches.
CONFIGS = {
    "cifar10": dict(num_scale=3, base_dim=32, second_dim=2048, l2_reg=None,
                    epochs=700, lr=1e-4, lr_epochs=250,
                    epochs2=1400, lr2=1e-4, lr_epochs2=400),
    # The authors' script sets l2_reg=0.001, which never reaches their loss.
    "celeba": dict(num_scale=4, base_dim=32, second_dim=4096, l2_reg=None,
                   epochs=70, lr=5e-5, lr_epochs=60,
                   epochs2=140, lr2=5e-5, lr_epochs2=120),
    # Not in the paper: small enough for a CPU.
    "mnist": dict(num_scale=3, base_dim=16, second_dim=1024, l2_reg=None,
                  epochs=40, lr=1e-3, lr_epochs=20,
                  epochs2=80, lr2=1e-3, lr_epochs2=40, batch_size=32),
}
CONFIGS["fashion_mnist"] = CONFIGS["mnist"]


def parse_args():
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--dataset", choices=sorted(CONFIGS), default="mnist",
                        help="cifar10 / celeba: the paper's Tables 1 / 2 configurations; "
                             "mnist / fashion_mnist: a small CPU configuration (not in the paper)")
    parser.add_argument("--data", help="dataset file/folder (default: keras.datasets)")
    parser.add_argument("--epochs", type=int, help="first-stage epochs (default: per dataset)")
    parser.add_argument("--epochs2", type=int, help="second-stage epochs (default: per dataset)")
    parser.add_argument("--train-size", type=int, help="use the first N training images")
    parser.add_argument("--output", default="runs/two_stage", help="folder for weights, figures, tables")
    parser.add_argument("--weights", help="prefix P of saved weights (P.first_stage.weights.h5 and "
                                          "P.second_stage.weights.h5): load them, skip training")
    parser.add_argument("--fid-samples", type=int, default=10000,
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
    parser.add_argument("--jpeg", action=argparse.BooleanOptionalAction, default=None,
                        help="JPEG round trip of CIFAR-10 (default: on for cifar10, as the "
                             "authors' data)")
    parser.add_argument("--batch-size", type=int, help="default: per dataset (paper: 100)")
    parser.add_argument("--initial-mse", type=float, default=1.0,
                        help="starting MSE estimate of the balancing (authors: 1; "
                             "e.g. 0.05 keeps short CPU runs from collapsing)")
    parser.add_argument("--seed", type=int, default=0, help="seed of weights, sampling and data order")
    parser.add_argument("--dtype-policy", default="float32",
                        choices=["float32", "mixed_bfloat16", "mixed_float16"],
                        help="Keras dtype policy. mixed_*: the first stage's convolutions in "
                             "16 bits (faster on a CPU with AVX512-BF16, see README), its heads, "
                             "the whole second stage, the losses and the weights in float32; "
                             "opt-in, it changes the numerics")
    return parser.parse_args()


def main():
    args = parse_args()
    config = CONFIGS[args.dataset]
    epochs = config["epochs"] if args.epochs is None else args.epochs
    epochs2 = config["epochs2"] if args.epochs2 is None else args.epochs2
    batch_size = args.batch_size or config.get("batch_size", 100)
    keras.utils.set_random_seed(args.seed)
    keras.config.set_dtype_policy(args.dtype_policy)
    if args.dtype_policy != "float32":
        print(f"dtype policy {args.dtype_policy} (opt-in; the paper trained in float32)")

    # Data: train on the training split; evaluate on the shuffled test
    # split's first 10,000 images (the authors' latest code).
    options = {}
    if args.dataset == "cifar10":
        options["jpeg"] = True if args.jpeg is None else args.jpeg
    elif args.jpeg:
        raise SystemExit("--jpeg applies to cifar10 only.")
    (x_train, _), (x_test, _) = datasets.load(args.dataset, args.data, **options)
    if args.train_size:
        x_train = x_train[: args.train_size]
    reference = evaluation_images(x_train, x_test, args.eval_split, args.fid_samples, args.seed)

    # Model.
    model = build_two_stage_vae(
        x_train.shape[1:], 64, base_dim=config["base_dim"], num_scale=config["num_scale"],
        fc_dim=512, second_dim=config["second_dim"], second_depth=3,
        l2_reg=config["l2_reg"], initial_mse=args.initial_mse, seed=args.seed,
    )
    print(f"first stage: {model.first_stage.count_params():,} parameters; "
          f"second stage: {model.second_stage.count_params():,}")

    # Train (or load) both stages.
    if args.weights:
        model.load_weights(args.weights)
    else:
        history1 = model.fit_first_stage(
            x_train, epochs, batch_size, config["lr"], config["lr_epochs"])
        history2 = model.fit_second_stage(
            x_train, epochs2, batch_size, config["lr2"], config["lr_epochs2"])
        model.save_weights(os.path.join(args.output, f"two_stage_{args.dataset}"))
        plotting.save_curves(history1.history, os.path.join(args.output, "stage1_curves.png"),
                             keys=["loss", "mse", "kl", "gamma"], title="first stage")
        plotting.save_curves(history2.history, os.path.join(args.output, "stage2_curves.png"),
                             keys=["loss", "mse", "kl", "gamma"], title="second stage")

    # Evaluate.
    feature_model, description, why = metrics.feature_model_from_spec(args.feature_model)
    classifier, classifier_why = None, "--classifier none"
    if args.classifier == "auto":
        classifier, classifier_why = metrics.fid.classifier_extractor_or_reason(args.dataset)
    results = evaluate_two_stage(
        model, reference, feature_model, why, seed=args.seed, batch_size=batch_size,
        classifier=classifier, classifier_unavailable=classifier_why,
        fid_description=description, target=args.renormalization_target,
        rec_sample=args.rec_latent == "sample")
    split = ("the test split shuffled (seed {}), first {}, as the authors' latest code"
             .format(args.seed, len(reference)) if args.eval_split == "test"
             else f"the first {len(reference)} training images")
    notes = [
        f"first stage {epochs} epochs, second stage {epochs2} epochs, "
        f"{len(x_train)} training images, batch {batch_size}",
        f"evaluation images (FID reference, renormalisation statistics, REC): {split}",
        f"configuration: {config}, initial mse estimate {args.initial_mse}"
        + (f", JPEG round trip {options['jpeg']}" if options else ""),
    ]
    md_path, _ = two_stage_eval.write_results(results, args.dataset, args.output, notes)
    for (column, row), images in results["images"].items():
        suffix = {False: "", True: "_renormalized"}[row != ROWS[0][0]]
        suffix += "_rescaled" if row == ROWS[2][0] else ""
        plotting.save_image_grid(images[:100], os.path.join(
            args.output, f"{column.lower().replace('-', '')}{suffix}.png"), title=f"{column}: {row}")
    with open(md_path) as f:
        print(f.read())


if __name__ == "__main__":
    main()
