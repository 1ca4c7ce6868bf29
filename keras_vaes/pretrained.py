"""Weights trained by this project, with their configs and SHA-256.

`PRESETS` maps a name to the architecture that produced the file, the file
name, its SHA-256 and how it was trained (the commands are on the docs'
presets page). `load_pretrained(name)` finds the file, checks its SHA-256,
builds the architecture and loads the weights, gamma included.

Where the files are looked for, first match wins (`weights_folders()`):

1. `weights_dir=` when given (then only there);
2. the folders of the environment variable `KERAS_VAES_WEIGHTS`
   (separated by `os.pathsep`: `:` on Linux and macOS);
3. the cache folder `cache_dir()` (`$KERAS_VAES_CACHE`, else
   `$KERAS_HOME/keras_vaes`, else `~/.keras/keras_vaes`), which
   `install_weights(name, source)` fills from a folder or a URL;
4. the files that come with the package: the `weights/` folder of a source
   checkout, or `<prefix>/share/keras_vaes/weights` of an installed wheel
   (the small files only: the GAMIX preset and the feature classifiers; the
   Split-VAE and flow-prior presets, 50 and 68 MB, stay out of the wheel).

Example:
>>> import keras_vaes as kv
>>> model = kv.load_pretrained("svae_mnist_10ep")  # doctest: +SKIP
>>> images = model.generate(16, seed=0)["x_hat"]  # doctest: +SKIP
>>> kv.pretrained.install_weights("svae_mnist_10ep", "/path/to/weights")  # doctest: +SKIP
"""

import os
import shutil
import site
import sys

from keras_vaes.utils import sha256

ENV_WEIGHTS = "KERAS_VAES_WEIGHTS"
ENV_CACHE = "KERAS_VAES_CACHE"
_CHECKOUT_WEIGHTS = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "weights"
)
_DATA_SUBDIR = os.path.join("share", "keras_vaes", "weights")


def _bundled_folders():
    """The checkout's `weights/`, then the wheel's data folder(s)."""
    folders = [_CHECKOUT_WEIGHTS]
    for prefix in (sys.prefix, sys.base_prefix, getattr(site, "USER_BASE", None)):
        if prefix:
            folders.append(os.path.join(prefix, _DATA_SUBDIR))
    return [f for i, f in enumerate(folders) if f not in folders[:i]]


def _default_weights_dir():
    for folder in _bundled_folders():
        if os.path.isdir(folder):
            return folder
    return _CHECKOUT_WEIGHTS


# The folder of the files that come with the package (the checkout's
# `weights/`, or an installed wheel's data folder). The feature classifiers
# (`keras_vaes.metrics.classifier`) load from here.
WEIGHTS_DIR = _default_weights_dir()

# How weights/svae_mnist_10ep.weights.h5 was made (docs/presets.md):
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
    # How weights/gamix_fashion_mnist.weights.h5 was made (docs/presets.md):
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
    # How weights/fp_vae_mnist_beta0.weights.h5 was made (docs/presets.md):
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
    # How weights/two_stage_mnist.weights.h5 was made (weights/two_stage_mnist_run/):
    #   python weights/two_stage_mnist_run/train.py --data ../shared/data/mnist.npz \
    #       --run RUN --export weights/two_stage_mnist.weights.h5
    #   (both stages, checkpointed per epoch; TwoStageVAE.export_weights: one file).
    "two_stage_mnist": {
        "builder": "build_two_stage_vae",
        "config": {"input_shape": (32, 32, 1), "latent_dim": 64, "base_dim": 16, "num_scale": 3,
                   "fc_dim": 512, "second_dim": 512, "second_depth": 3, "seed": 0},
        "file": "two_stage_mnist.weights.h5",
        "sha256": "61c293cf5b7b5108a8e7f3a717257a1dba0ed41b2433c522a331430a80b4e33a",
        "description": (
            "Two-stage VAE with balancing (variance-loss paper), MNIST 32x32x1, latent 64, "
            "the authors' ResNet with 3 scales, base 16 (1,614,767 params; TF1's debiased "
            "batch norm) and a 3 x 512 second stage (1,227,968 params); 5 + 20 epochs on the "
            "60k training images, batch 100, Adam(epsilon 1e-8): stage 1 lr 1e-3 halved every "
            "2 epochs, stage 2 lr 1e-4 halved every 10, its own MSE estimate from 1; 32 min "
            "on one CPU core. Far from the paper's 70-1400 epochs: for trying the API and the "
            "evaluation (weights/two_stage_mnist_run/results.md)."
        ),
    },
}


def cache_dir():
    """The folder `install_weights` fills and `load_pretrained` searches.

    `$KERAS_VAES_CACHE` if set, else `$KERAS_HOME/keras_vaes`, else
    `~/.keras/keras_vaes`. Not created until something is installed.
    """
    if os.environ.get(ENV_CACHE):
        return os.path.abspath(os.path.expanduser(os.environ[ENV_CACHE]))
    keras_home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return os.path.join(keras_home, "keras_vaes")


def weights_folders(weights_dir=None):
    """The folders searched for preset files, in order (see the module doc)."""
    if weights_dir is not None:
        return [os.fspath(weights_dir)]
    folders = [f for f in os.environ.get(ENV_WEIGHTS, "").split(os.pathsep) if f]
    folders = [os.path.abspath(os.path.expanduser(f)) for f in folders]
    return folders + [cache_dir()] + [f for f in _bundled_folders() if os.path.isdir(f)]


def _preset(name):
    if name not in PRESETS:
        raise ValueError(f"Unknown preset. Expected one of {sorted(PRESETS)}. Received: {name!r}")
    return PRESETS[name]


def _check_file(path, name, expected):
    if expected is not None and sha256(path) != expected:
        raise ValueError(
            f"{path!r} does not match the checksum of preset {name!r} "
            f"(expected sha256 {expected}): the file is corrupt or another model's."
        )


def weights_path(name, weights_dir=None):
    """The path of preset `name`'s weight file: the first of `weights_folders()` holding it.

    Raises:
        FileNotFoundError: no searched folder holds the file; the message
            lists the folders and the ways to provide it.
    """
    preset = _preset(name)
    folders = weights_folders(weights_dir)
    for folder in folders:
        path = os.path.join(folder, preset["file"])
        if os.path.isfile(path):
            return path
    raise FileNotFoundError(
        f"The weights of preset {name!r} ({preset['file']}) are in none of {folders}. "
        "Point the package at a folder holding them: load_pretrained(name, weights_dir=...), "
        f"or the environment variable {ENV_WEIGHTS}=/path/to/folder, or copy them into the "
        f"cache once with keras_vaes.pretrained.install_weights({name!r}, source), where "
        "source is a folder (e.g. a clone's weights/) or a URL."
    )


def install_weights(name, source):
    """Copies preset `name`'s file from `source` into `cache_dir()`, checksum verified.

    Args:
        name: str. A key of `PRESETS`.
        source: str. A folder holding the file (e.g. a clone's `weights/`),
            the file itself, or a URL: either the file's or that of the
            folder it is in (`http(s)://`, `file://`); downloaded with
            `keras.utils.get_file`.

    Returns:
        The path of the installed file. A file whose SHA-256 differs from
        the preset's is refused (`ValueError`) and not kept.
    """
    preset = _preset(name)
    os.makedirs(cache_dir(), exist_ok=True)
    target = os.path.join(cache_dir(), preset["file"])
    if "://" in source:
        import keras

        url = source if source.endswith(preset["file"]) else source.rstrip("/") + "/" + preset["file"]
        path = keras.utils.get_file(
            preset["file"], origin=url, cache_dir=os.path.dirname(cache_dir()),
            cache_subdir=os.path.basename(cache_dir()),
        )
        try:
            _check_file(path, name, preset["sha256"])
        except ValueError:
            os.remove(path)
            raise
        return path
    path = source if os.path.isfile(source) else os.path.join(source, preset["file"])
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No file {preset['file']!r} for preset {name!r} at {source!r}.")
    _check_file(path, name, preset["sha256"])
    if os.path.abspath(path) != os.path.abspath(target):
        partial = target + ".partial"
        shutil.copyfile(path, partial)
        os.replace(partial, target)
    return target


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
        weights_dir: str or None. Folder holding the file; when None the
            folders of `weights_folders()` are searched: `$KERAS_VAES_WEIGHTS`,
            the cache of `install_weights`, the files shipped with the package.

    Returns:
        The model, with the trained weights and gamma.
    """
    import keras_vaes

    preset = _preset(name)
    path = weights_path(name, weights_dir)
    _check_file(path, name, preset["sha256"])
    model = getattr(keras_vaes, preset["builder"])(**preset["config"])
    model.load_weights(path)
    return model
