"""Split-VAE: every table and figure of the paper, one script per dataset choice.

Asperti, Bugo, Filippini, "Enhancing Variational Generation Through
Self-Decomposition", IEEE Access 2022. `--dataset mnist|cifar10|celeba`
selects the paper's configuration as defaults (MNIST: latent 32, beta 8,
300 epochs, GMM 20 and 100; CIFAR-10: latent 200, beta 3, 110 epochs,
GMM 100; CelebA 64x64: latent 150, beta 3, 160 epochs, GMM 100; the authors'
ResNet, batch 100). The pipeline lives in `keras_vaes.experiments`. Writes:

    <output>/svae_<dataset>.weights.h5  trained weights (checkpoint every epoch, atomic)
    <output>/results.md, results.csv    Table 1/3/4 layout: REC, GEN, GMM-k x (x_hat, x1, x2, mix)
    <output>/split_rows.png             sigma, x1, x2, x_hat of generated images (Figures 1-4)
    <output>/generated*.png             generated grids (Figures 7, 10, 12), after GMM too
    <output>/variance_law.png, curves.png
    <output>/table2.md, table2.csv      --category-table: Table 2 (each category vs test set)
    <output>/fid_evolution.png, .csv    --fid-every / --ablation-seeds: Figures 11, 14, 15

Minutes, not days (a shipped preset, offline classifier-feature FD):
    python examples/split_vae.py --dataset mnist --pretrained svae_mnist_10ep \
        --data ../shared/data/mnist.npz

The paper's runs (a GPU and the data; FID needs the InceptionV3 weights):
    python examples/split_vae.py --dataset mnist --data mnist.npz
    python examples/split_vae.py --dataset cifar10 --data cifar-10-batches-py --category-table
    python examples/split_vae.py --dataset celeba --data img_align_celeba --cache-dir cache
    python examples/split_vae.py --dataset cifar10 --data cifar-10-batches-py \
        --ablation-seeds 0 1 2 3 4 --epochs 200 --fid-every 5     # Figure 14
"""

from keras_vaes.experiments import parse_split_vae_args, run_split_vae


def main(argv=None):
    run_split_vae(parse_split_vae_args(argv))


if __name__ == "__main__":
    main()
