"""Weights trained by this project, shipped in `weights/`, with their configs.

`PRESETS` maps a name to the architecture that produced the file, the file
name, its SHA-256 and how it was trained (the command is in the README).
`load_pretrained(name)` builds the architecture, checks the file and loads
it, gamma included.

Example:
>>> import keras_vaes as kv
>>> model = kv.load_pretrained("svae_mnist_10ep")  # doctest: +SKIP
>>> images = model.generate(16, seed=0)["x_hat"]  # doctest: +SKIP
"""

import os

from keras_vaes.utils import sha256

WEIGHTS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "weights")

# How weights/svae_mnist_10ep.weights.h5 was made (README, Split-VAE results):
#   python examples/split_vae_mnist.py --data mnist.npz --epochs 2 \
#       --learning-rate 1e-4 --seed 0 --output runs/mnist_2ep
#   (BN recalibrated and exported: the earlier preset svae_mnist_2ep), then
#   python examples/split_vae_mnist.py --data mnist.npz \
#       --weights svae_mnist_2ep.weights.h5 --epochs 3 --learning-rate 1e-4 \
#       --dtype-policy mixed_bfloat16 --recalibrate-bn --fid-every 1 \
#       --feature-model classifier --output runs/svae_mnist_5ep
#   (exported: the earlier preset svae_mnist_5ep), then from that run's
#   checkpoint (weights and Adam state):
#   python examples/split_vae_mnist.py --data mnist.npz \
#       --weights runs/svae_mnist_5ep/svae_mnist.weights.h5 --initial-epoch 5 \
#       --epochs 5 --learning-rate 1e-4 --dtype-policy mixed_bfloat16 \
#       --recalibrate-bn --fid-every 1 --feature-model classifier --no-eval \
#       --output runs/svae_mnist_10ep
#   and model.export_weights(path) on the weights it wrote (float32).
PRESETS = {
    "svae_mnist_10ep": {
        "builder": "build_svae",
        "config": {"input_shape": (32, 32, 1), "latent_dim": 32, "beta": 8.0},
        "file": "svae_mnist_10ep.weights.h5",
        "sha256": "eacf3df70337c328718e6ea0bac447b883ae2fe0fac3febd04070d0f91ab68d4",
        "description": (
            "Split-VAE, MNIST 32x32, latent 32, beta 8, the paper's architecture "
            "(12,793,667 trainable params), trained 10 epochs on the 60k training "
            "images (Adam 1e-4, batch 100; epochs 3-10 in mixed_bfloat16, weights "
            "float32) on a 2-core CPU, then BatchNormalization statistics "
            "recalibrated on 10,000 training images (`recalibrate_batch_norm`). "
            "Far from the paper's 300 epochs: for trying the API and the "
            "evaluation, not a reproduction of Table 1."
        ),
    },
    # How weights/gamix_fashion_mnist.weights.h5 was made (README, GAMIX-VAE):
    #   build_gamix_vae((32, 32, 1), 32, filters=32,
    #   discriminator_strides=(2, 2, 1, 1, 1, 1), seed=0).compile() (both Adam
    #   1e-4, beta_1 0.5), fit on the 60k Fashion-MNIST training images in
    #   [-1, 1] (datasets.load_fashion_mnist_signed), batch 64, 11 x 100 steps,
    #   keras.utils.set_random_seed(0); exported without optimizer state.
    "gamix_fashion_mnist": {
        "builder": "build_gamix_vae",
        "config": {"input_shape": (32, 32, 1), "latent_dim": 32, "filters": 32,
                   "discriminator_strides": (2, 2, 1, 1, 1, 1), "seed": 0},
        "file": "gamix_fashion_mnist.weights.h5",
        "sha256": "fb59def95dea95b1c2d80d1edf896dd7cc743c49884d6c76b3d21269dbfe4b07",
        "description": (
            "GAMIX-VAE, the CPU configuration (Fashion-MNIST 32x32x1 in [-1, 1], "
            "filters 32, latent 32, PatchGAN strides 2,2,1,1,1,1; 293,206 VAE + "
            "26,421 discriminator params), the author's losses, weights and "
            "inference-mode BN; 1,100 steps of batch 64 (70,400 images, 1.2 epochs, "
            "45 min on a shared 2-core CPU), last-100-step mean L1 0.207. Far from "
            "converged: for trying the API and the figures."
        ),
    },
    # How weights/fp_vae_mnist_beta0.weights.h5 was made (README, learned priors):
    #   python examples/train_fp_vae.py --data ../shared/data/mnist.npz --beta 0 \
    #       --minutes 22 --output runs/fp_vae_mnist_beta0
    #   python examples/train_fp_vae.py --data ../shared/data/mnist.npz --beta 0 \
    #       --minutes 40 --resume runs/fp_vae_mnist_beta0/preset.weights.h5 \
    #       --output runs/fp_vae_mnist_beta0_part2
    #   then runs/fp_vae_mnist_beta0_part2/preset.weights.h5 (no optimizer state).
    "fp_vae_mnist_beta0": {
        "builder": "build_flow_prior_vae",
        "config": {"input_shape": (32, 32, 1), "latent_dim": 8, "beta": 0.0,
                   "anneal_steps": 5000, "seed": 0},
        "file": "fp_vae_mnist_beta0.weights.h5",
        "sha256": "1627e13f9c6da8ddc52c0a7322da0a3c6434f633f0fdce6cc2e12dee7acf3774",
        "description": (
            "Flow-prior VAE at beta = 0 (learned-priors paper, eq. 8), MNIST 32x32x1, "
            "latent 8, InfoGAN network (17,650,385 trainable params, flow 8 couplings "
            "x 256), Adam(5e-4, beta_1 0.5), batch 64, 2,138 steps (2.3 epochs, 63 "
            "min on a heavily shared 2-core CPU); test MSE 0.01306, prior NLL of the "
            "test codes 27.34 nats, FD of the repository's MNIST classifier features "
            "25.84 (10k samples vs test; not an Inception FID). Far from converged: "
            "for trying the API."
        ),
    },
}


def export_weights(model, path):
    """Writes `model`'s weights (and gamma) without the optimizer state.

    The function form of `model.export_weights(path)`, kept for scripts.
    Returns the file's SHA-256.
    """
    return model.export_weights(path)


def load_pretrained(name, weights_dir=None):
    """Builds the preset's model and loads its weights (checksum verified).

    Args:
        name: str. A key of `PRESETS`.
        weights_dir: str or None. Folder holding the file; defaults to the
            repository's `weights/`.

    Returns:
        The model, with the trained weights and gamma.
    """
    import keras_vaes

    if name not in PRESETS:
        raise ValueError(f"Unknown preset. Expected one of {sorted(PRESETS)}. Received: {name!r}")
    preset = PRESETS[name]
    path = os.path.join(weights_dir or WEIGHTS_DIR, preset["file"])
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"The weights of preset {name!r} are not at {path!r}. They ship in the "
            "repository's weights/ folder; pass weights_dir= if you moved them."
        )
    if preset["sha256"] is not None and sha256(path) != preset["sha256"]:
        raise ValueError(
            f"{path!r} does not match the checksum of preset {name!r} "
            f"(expected sha256 {preset['sha256']}): the file is corrupt or another model's."
        )
    model = getattr(keras_vaes, preset["builder"])(**preset["config"])
    model.load_weights(path)
    return model
