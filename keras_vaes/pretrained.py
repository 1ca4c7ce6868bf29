"""Weights trained by this project, with their configs, SHA-256 and cards.

`PRESETS` maps a name to the architecture that produced the file, the file
name, its SHA-256 and size, whether the wheel carries it, and the card's
data: the model class, the data set, the training budget against the
paper's, the sampler-matrix scores and where the run record lies (the
commands are on the docs' presets page, whose table `presets_table()`
renders from here). `load_pretrained(name)` finds the file, checks its
SHA-256, builds the architecture and loads the weights, gamma included;
`list_presets()` names them; every model class has `from_preset(name)` and
`presets` (`PresetMixin`), as keras-hub's `Backbone`.

Where the files are looked for, first match wins (`weights_folders()`):

1. `weights_dir=` when given (then only there);
2. the folders of the environment variable `KERAS_VAES_WEIGHTS`
   (separated by `os.pathsep`: `:` on Linux and macOS);
3. the cache folder `cache_dir()` (`$KERAS_VAES_CACHE`, else
   `$KERAS_HOME/keras_vaes`, else `~/.keras/keras_vaes`), which
   `install_weights(name, source)` fills from a folder or a URL;
4. the files that come with the package: the `weights/` folder of a source
   checkout, or `<prefix>/share/keras_vaes/weights` of an installed wheel
   (`wheel_files()`: the feature classifiers and the presets whose
   `in_wheel` is True, the files of at most `WHEEL_MAX_BYTES`; the larger
   presets come through 1-3).

Example:
>>> import keras_vaes as kv
>>> "two_stage_mnist" in kv.list_presets()
True
>>> "two_stage_mnist" in kv.SplitVAE.presets  # a TwoStageVAE's
False
>>> model = kv.SplitVAE.from_preset("svae_mnist_10ep")  # doctest: +SKIP
>>> images = model.generate(16, seed=0)["x_hat"]  # doctest: +SKIP
>>> kv.pretrained.install_weights("svae_mnist_10ep", "/path/to/weights")  # doctest: +SKIP
"""

import os
import shutil

import keras

from keras_vaes.metrics.classifier import CLASSIFIERS
from keras_vaes.utils import sha256
# The folders of the files that come with the package, re-exported here.
from keras_vaes.weights_dir import WEIGHTS_DIR, bundled_folders  # noqa: F401

ENV_WEIGHTS = "KERAS_VAES_WEIGHTS"
ENV_CACHE = "KERAS_VAES_CACHE"
# Preset files of at most this size travel in the wheel (`in_wheel` below,
# `wheel_files()`, setup.cfg's [options.data_files]); larger ones come
# through KERAS_VAES_WEIGHTS or install_weights. A test checks all three agree.
WHEEL_MAX_BYTES = 5_000_000

# The papers the presets reproduce (CITATION.cff lists the same four).
PAPERS = {
    "split_vae": {
        "name": "Split-VAE",
        "title": "Enhancing Variational Generation Through Self-Decomposition",
        "authors": "Asperti, Bugo, Filippini",
        "venue": "IEEE Access, 2022",
        "page": "papers/split_vae.md",
    },
    "variance_loss": {
        "name": "Two-stage VAE, variance loss",
        "title": "Variance Loss in Variational Autoencoders",
        "authors": "Asperti",
        "venue": "LOD 2020, LNCS 12565",
        "page": "papers/two_stage.md",
    },
    "gamix": {
        "name": "GAMIX-VAE",
        "title": "GAMIX-VAE: A VAE with Gaussian Mixture Based Posterior",
        "authors": "Rivera",
        "venue": None,
        "page": "papers/gamix.md",
    },
    "learned_priors": {
        "name": "Learned priors",
        "title": "Empirical Observations Pertaining to Learned Priors for Deep Latent Variable Models",
        "authors": "anonymous",
        "venue": "submission under double-blind review",
        "page": "papers/learned_priors.md",
    },
}

# The rows of benchmarks/results/sampler_matrix.md a preset's "matrix" quotes.
SAMPLER_NAMES = {
    "prior": "own prior",
    "gmm10": "GMM-10",
    "gmm100": "GMM-100",
    "second_stage": "second stage",
    "second_stage_renormalized": "second stage, renormalised",
    "flow": "flow",
    "normal": "N(0, I)",
}

# Each preset: `builder(**config)` builds it (a `class`); `file`, `sha256`,
# `bytes`; `in_wheel` (bytes <= WHEEL_MAX_BYTES). The card's data:
# `dataset`, `paper` (a key of PAPERS), `summary` (list_presets), `training`
# (the budget against the paper's), `matrix` (sampler -> (FD, recall) of
# benchmarks/results/sampler_matrix.md: 2,000 samples vs 2,000 test images,
# the classifier features; the model's own prior and the best sampler),
# `state`, `record` (its run folder) and `grid` (a sample grid), None where
# none is committed.

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
#   and model.export_weights(path) on the weights it wrote (float32); then
#   converted once to the subclassed layout (issue 29, tools/convert_weights.py,
#   every array unchanged).
PRESETS = {
    "svae_mnist_10ep": {
        "builder": "build_svae",
        "config": {"input_shape": (32, 32, 1), "latent_dim": 32, "beta": 8.0},
        "file": "svae_mnist_10ep.weights.h5",
        "sha256": "5c6edef0d4a7625eba80c4593ddda02654f891a1236cd25eb8b8f24c868ed5d6",
        "bytes": 51_391_056,
        "in_wheel": False,
        "class": "SplitVAE",
        "dataset": "MNIST",
        "paper": "split_vae",
        "summary": "Split-VAE, MNIST 32x32, latent 32, beta 8, the paper's network, 10 epochs",
        "training": "10 epochs (the paper, MNIST: 300)",
        "matrix": {"prior": (56.67, 0.727), "gmm100": (5.88, 0.797)},
        "state": "good for its budget; its FD was still falling at epoch 10",
        "record": "weights/svae_mnist_10ep_run",
        "grid": "weights/svae_mnist_10ep_run/generated_gmm-100.png",
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
        "bytes": 1_806_632,
        "in_wheel": True,
        "class": "GamixVAE",
        "dataset": "Fashion-MNIST",
        "paper": "gamix",
        "summary": "GAMIX-VAE, Fashion-MNIST 32x32, latent 32, the CPU configuration, 1.2 epochs",
        "training": "1,100 steps of 64, 1.2 epochs (the paper: CelebA-HQ 256x256, no budget stated)",
        "matrix": {"prior": (165.37, 0.000), "second_stage_renormalized": (75.53, 0.001)},
        "state": "collapsed: recall <= 0.001 for every sampler",
        "record": None,
        "grid": None,
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
    #   python examples/train_fp_vae.py --data path/to/mnist.npz --beta 0 \
    #       --minutes 22 --output runs/fp_vae_mnist_beta0
    #   python examples/train_fp_vae.py --data path/to/mnist.npz --beta 0 \
    #       --minutes 40 --resume runs/fp_vae_mnist_beta0/preset.weights.h5 \
    #       --output runs/fp_vae_mnist_beta0_part2
    #   then runs/fp_vae_mnist_beta0_part2/preset.weights.h5 (no optimizer state).
    "fp_vae_mnist_beta0": {
        "builder": "build_flow_prior_vae",
        "config": {"input_shape": (32, 32, 1), "latent_dim": 8, "beta": 0.0,
                   "anneal_steps": 5000, "seed": 0},
        "file": "fp_vae_mnist_beta0.weights.h5",
        "sha256": "1627e13f9c6da8ddc52c0a7322da0a3c6434f633f0fdce6cc2e12dee7acf3774",
        "bytes": 70_861_048,
        "in_wheel": False,
        "class": "FlowPriorVAE",
        "dataset": "MNIST",
        "paper": "learned_priors",
        "summary": "Flow-prior VAE at beta 0, MNIST 32x32, latent 8, InfoGAN network, 2.3 epochs",
        "training": "2,138 steps of 64, 2.3 epochs (the paper: over 50k iterations, its KL annealing alone)",
        "matrix": {"prior": (23.73, 0.554), "gmm100": (12.52, 0.452)},
        "state": "under-trained: an ex-post GMM-100 beats its own flow prior",
        "record": None,
        "grid": None,
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
    #   python weights/two_stage_mnist_run/train.py --data path/to/mnist.npz \
    #       --run RUN --export weights/two_stage_mnist.weights.h5
    #   (both stages, checkpointed per epoch; TwoStageVAE.export_weights: one file),
    #   then converted once to the layout of TwoStageVAE as a keras.Model (issue 29):
    #   python tools/convert_two_stage_weights.py weights/two_stage_mnist.weights.h5
    #   (every array unchanged; tests/test_pretrained.py checks each is restored).
    "two_stage_mnist": {
        "builder": "build_two_stage_vae",
        "config": {"input_shape": (32, 32, 1), "latent_dim": 64, "base_dim": 16, "num_scale": 3,
                   "fc_dim": 512, "second_dim": 512, "second_depth": 3, "seed": 0},
        "file": "two_stage_mnist.weights.h5",
        "sha256": "463f10603365e9a155f660affdcefd947374e1d3765fdf0ed990d4f68376f72b",
        "bytes": 11_655_152,
        "in_wheel": False,
        "class": "TwoStageVAE",
        "dataset": "MNIST",
        "paper": "variance_loss",
        "summary": "Two-stage VAE with balancing, MNIST 32x32, latent 64, 5 + 117 epochs",
        "training": "5 + 117 epochs, stage 2 until its loss stopped falling (the paper, CelebA / CIFAR-10: "
                    "70 + 140 / 700 + 1400)",
        "matrix": {"prior": (29.29, 0.65), "gmm100": (10.02, 0.625)},
        "state": "good for its budget: its second stage trained until its loss stopped falling; GEN-2 beats GEN-1",
        "record": "weights/two_stage_mnist_run/retrained_stage2",
        "grid": "weights/two_stage_mnist_run/retrained_stage2/samples_prior.png",
        "description": (
            "Two-stage VAE with balancing (variance-loss paper), MNIST 32x32x1, latent 64, "
            "the authors' ResNet with 3 scales, base 16 (1,614,767 params; TF1's debiased "
            "batch norm) and a 3 x 512 second stage (1,227,968 params). Stage 1: 5 epochs on the "
            "60k training images, batch 100, Adam(epsilon 1e-8), lr 1e-3 halved every 2 epochs "
            "(weights/two_stage_mnist_run). Stage 2, retrained on its codes: lr 1e-4 halved every "
            "100 epochs, its own MSE estimate from 1, until its loss fell by less than 0.1 in 10 "
            "epochs (117 epochs, 41 min on a 2-core CPU; "
            "weights/two_stage_mnist_run/retrained_stage2). Far from the paper's 70-1400 epochs."
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
    return folders + [cache_dir()] + [f for f in bundled_folders() if os.path.isdir(f)]


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


def _build(name):
    import keras_vaes

    preset = _preset(name)
    return getattr(keras_vaes, preset["builder"])(**preset["config"])


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
    preset = _preset(name)
    path = weights_path(name, weights_dir)
    _check_file(path, name, preset["sha256"])
    model = _build(name)
    model.load_weights(path)
    return model


def list_presets():
    """The presets, name -> one-line summary, in the order of `PRESETS`.

    Example:
    >>> "svae_mnist_10ep" in list_presets()
    True
    """
    return {name: preset["summary"] for name, preset in PRESETS.items()}


def preset_class(name):
    """The model class preset `name` builds (e.g. `keras_vaes.SplitVAE`)."""
    import keras_vaes

    return getattr(keras_vaes, _preset(name)["class"])


class _ClassProperty:
    """A read-only property of the class (keras-hub's `classproperty`)."""

    def __init__(self, fget):
        self.fget = fget
        self.__doc__ = fget.__doc__

    def __get__(self, instance, owner):
        return self.fget(owner)


class PresetMixin:
    """`from_preset(name)` and `presets` on a model class, as keras-hub's `Backbone`.

    A preset belongs to the class its builder returns and to that class's
    bases: `SplitVAE.from_preset("svae_mnist_10ep")` and
    `GenerativeModel.from_preset(...)` (any preset) load it,
    `SplitVAE.from_preset("two_stage_mnist")` raises a ValueError naming
    the preset's class.
    """

    @_ClassProperty
    def presets(cls):
        """This class's presets (its subclasses' included): name -> one-line summary."""
        return {
            name: summary for name, summary in list_presets().items()
            if issubclass(preset_class(name), cls)
        }

    @classmethod
    def from_preset(cls, preset, weights_dir=None, load_weights=True):
        """Builds preset `preset`'s model and, by default, loads its weights.

        Args:
            preset: str. A key of `keras_vaes.list_presets()` belonging to
                this class (`cls.presets`).
            weights_dir: str or None. As `load_pretrained`'s.
            load_weights: bool. False builds the architecture only, with
                freshly initialised weights (no file needed). Defaults to True.

        Returns:
            An instance of this class (or of its subclass the preset builds).

        Raises:
            ValueError: an unknown preset, or one of another class.
        """
        owner = preset_class(preset)
        if not issubclass(owner, cls):
            raise ValueError(
                f"Preset {preset!r} builds a {owner.__name__}, not a {cls.__name__}: call "
                f"{owner.__name__}.from_preset({preset!r}) or keras_vaes.load_pretrained({preset!r}). "
                f"Expected one of {cls.__name__}'s presets {sorted(cls.presets)}. "
                f"Received: preset={preset!r}"
            )
        if load_weights:
            return load_pretrained(preset, weights_dir)
        return _build(preset)


def _in_wheel_text(preset):
    size = f"{preset['bytes'] / 1e6:.1f} MB"
    if preset["in_wheel"]:
        return f"yes ({size})"
    return f"no ({size}): `{ENV_WEIGHTS}`"


def _scores_text(preset):
    """(own prior, best sampler) cells: 'FD (recall)' from the preset's matrix."""
    matrix = preset["matrix"]
    own = "{:.2f} ({:.3f})".format(*matrix["prior"])
    best = min(matrix, key=lambda sampler: matrix[sampler][0])
    best_text = "{}: {:.2f} ({:.3f})".format(SAMPLER_NAMES[best], *matrix[best])
    return own, best_text


def presets_table(docs="docs/"):
    """The presets table (markdown), rendered from `PRESETS` and `PAPERS`.

    docs/presets.md holds it with `docs=""` (a test checks), the README with
    the default (links relative to the repository root).

    Args:
        docs: str. The docs folder as seen from the page the table goes in,
            with its trailing slash: "docs/" for the README, "" for
            docs/presets.md.
    """
    rows = [
        "| preset | class | data | training (the paper's) | own prior FD (recall) "
        "| best sampler FD (recall) | state | in the wheel | paper | card |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, preset in PRESETS.items():
        paper = PAPERS[preset["paper"]]
        own, best = _scores_text(preset)
        rows.append(
            f"| `{name}` | `{preset['class']}` | {preset['dataset']} | {preset['training']} "
            f"| {own} | {best} | {preset['state']} | {_in_wheel_text(preset)} "
            f"| [{paper['name']}]({docs}{paper['page']}) | [card]({docs}presets.md#{name}) |"
        )
    return "\n".join(rows) + "\n"


def wheel_files():
    """The `weights/` files a wheel carries, as setup.cfg's [options.data_files] lists them.

    The feature classifiers (`keras_vaes.metrics.classifier.CLASSIFIERS`),
    each with the training record written beside it, then the presets whose
    `in_wheel` is True.
    """
    files = []
    for entry in CLASSIFIERS.values():
        files += [entry["file"], entry["file"].replace(".weights.h5", ".json")]
    files += [preset["file"] for preset in PRESETS.values() if preset["in_wheel"]]
    return files
