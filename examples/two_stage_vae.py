"""Two-stage VAE with balancing and variance renormalisation (Tables 1-2).

Asperti, "Variance Loss in Variational Autoencoders" (LOD 2020), section 4:
train the first stage (ResNet VAE, gamma balancing), then the second stage
on its latent space; report FID of reconstructions (REC), of generations
from N(0, I) (GEN-1) and through the second stage (GEN-2), without and with
renormalisation, next to the MSE, the variance law, the inactive variables
and the variance loss of reconstructions and generations.

Defaults per dataset are the authors' configurations (BalancingVAE code)
for CIFAR-10 and CelebA. MNIST / Fashion-MNIST are not in the paper; their
defaults are a small configuration that trains on a CPU. The paper's
epochs (700 + 1400 on CIFAR-10, 70 + 140 on CelebA) need a GPU.

    python examples/two_stage_vae.py --dataset mnist \
        --data ../shared/data/mnist.npz --epochs 2 --epochs2 2 \
        --train-size 6000 --output /tmp/ts
"""

import argparse
import os

import keras

from keras_vaes import datasets, metrics, plotting, two_stage_eval
from keras_vaes.models.two_stage import build_two_stage_vae

# The authors' suggested configurations (latent 64, base_dim 32, fc_dim 512,
# second_depth 3, batch 100, lr decayed by 0.5 every lr_epochs). gamma
# falls by at most 1% a step, so short CPU runs use smaller batches.
CONFIGS = {
    "cifar10": dict(num_scale=3, base_dim=32, second_dim=2048, l2_reg=None,
                    epochs=700, lr=1e-4, lr_epochs=250,
                    epochs2=1400, lr2=1e-4, lr_epochs2=400),
    "celeba": dict(num_scale=4, base_dim=32, second_dim=4096, l2_reg=0.001,
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
                        help="reference / generated images per cell (paper: 10000)")
    parser.add_argument("--feature-model", default="inception",
                        help="'inception' or a path to a .keras feature extractor")
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

    # Data: the authors train on the training set and evaluate against
    # its first 10,000 images.
    (x_train, _), _ = datasets.load(args.dataset, args.data)
    if args.train_size:
        x_train = x_train[: args.train_size]
    reference = x_train[: args.fid_samples]

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
    feature_model, _, why = metrics.feature_model_from_spec(args.feature_model)
    results = two_stage_eval.evaluate_two_stage(
        model, reference, feature_model, why, seed=args.seed, batch_size=batch_size)
    notes = [
        f"first stage {epochs} epochs, second stage {epochs2} epochs, "
        f"{len(x_train)} training images, batch {batch_size}, "
        f"{len(reference)} evaluation images (the first training images, as the authors)",
        f"configuration: {config}, initial mse estimate {args.initial_mse}",
    ]
    md_path, _ = two_stage_eval.write_results(results, args.dataset, args.output, notes)
    for (column, normalized), images in results["images"].items():
        name = f"{column.lower().replace('-', '')}{'_renormalized' if normalized else ''}.png"
        plotting.save_image_grid(images[:100], os.path.join(args.output, name),
                                 title=f"{column}{' renormalised' if normalized else ''}")
    with open(md_path) as f:
        print(f.read())


if __name__ == "__main__":
    main()
