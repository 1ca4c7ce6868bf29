"""Split-VAE (Asperti, Bugo, Filippini, IEEE Access 2022): the paper's configurations and training recipe.

`CONFIGS` holds the paper's configuration of each dataset:

- MNIST (section V-A, Table 1): 32x32x1 (zero-padded), latent 32, beta 8,
  300 epochs, GMM with 20 and 100 components;
- CIFAR-10 (V-B, Tables 2-3): 32x32x3, latent 200, beta 3, 110 epochs,
  GMM 100;
- CelebA (V-C, Table 4): 64x64x3, latent 150, beta 3, 160 epochs, GMM 100;

always the authors' ResNet (base 64, 4 scales, embedding 512, the
`build_svae` defaults), batch 100. `examples/split_vae.py` runs them from
the command line.

Example:

>>> import keras_vaes as kv
>>> model = kv.build_svae((8, 8, 1), 4, base_dim=8, emb_dim=16, num_scale=1)
>>> compile_for_training(model, DEFAULT_LEARNING_RATE)
>>> int(model.optimizer.iterations)
0
>>> model_kwargs("mnist")
{'input_shape': (32, 32, 1), 'latent_dim': 32, 'beta': 8.0}
"""

import csv
import math
import warnings

import keras
from keras import ops

from keras_vaes.evaluation import split_vae as evaluation

# Adam's learning rate of the examples: the authors' script's 1e-4 (the
# paper writes 1e-3, which diverged in benchmarks/divergence.py).
DEFAULT_LEARNING_RATE = 1e-4
BATCH_SIZE = 100

CONFIGS = {
    "mnist": dict(
        input_shape=(32, 32, 1), latent_dim=32, beta=8.0, epochs=300, gmm_components=(20, 100),
        paper=evaluation.PAPER_MNIST, table="Table 1",
    ),
    "cifar10": dict(
        input_shape=(32, 32, 3), latent_dim=200, beta=3.0, epochs=110, gmm_components=(100,),
        paper=evaluation.PAPER_CIFAR10, table="Table 3",
    ),
    "celeba": dict(
        input_shape=(64, 64, 3), latent_dim=150, beta=3.0, epochs=160, gmm_components=(100,),
        paper=evaluation.PAPER_CELEBA, table="Table 4",
    ),
}


def model_kwargs(dataset):
    """The `build_svae` arguments of the paper's network for `dataset` (the rest: its defaults)."""
    if dataset not in CONFIGS:
        raise ValueError(f"Expected a dataset of {sorted(CONFIGS)}. Received: dataset={dataset!r}")
    config = CONFIGS[dataset]
    return {key: config[key] for key in ("input_shape", "latent_dim", "beta")}


def compile_for_training(model, learning_rate):
    """Compiles with Adam and builds its state, so `load_weights` of a checkpoint restores it.

    Args:
        model: a `keras.Model` of the package.
        learning_rate: float. Adam's learning rate.
    """
    model.compile(optimizer=keras.optimizers.Adam(learning_rate))
    model.optimizer.build(model.trainable_variables)


def load_for_resuming(model, path, learning_rate):
    """Compiles `model` and loads `path`: weights, gamma and, if the file has it, Adam's state.

    A checkpoint written during training (`save_weights` of a compiled
    model) carries Adam's moments and step count, so training goes on as if
    it had not stopped; a preset or `export_weights` file has none, and Adam
    starts afresh. The learning rate is the run's, not the file's.

    Args:
        model: a `SplitVAE` (anything whose `load_weights` returns whether
            the file stored gamma).
        path: str. The `.weights.h5` file.
        learning_rate: float. Adam's learning rate from now on.

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


def read_history(path):
    """A `keras.callbacks.CSVLogger` file as a `History.history`-like dict of float lists.

    Empty and "NA" cells read as NaN.
    """
    with open(path) as f:
        rows = list(csv.DictReader(f))
    return {k: [float(r[k]) if r[k] not in ("", "NA") else math.nan for r in rows]
            for k in (rows[0] if rows else {})}
