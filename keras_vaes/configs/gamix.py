"""GAMIX-VAE (Rivera), section 4: the paper's configuration and a CPU one.

- `celeba_hq`: the paper / the author's code: CelebA-HQ 256x256, latent
  512, ResNetV2 with 128 filters, PatchGAN strides 2,2,2,1,1,1, batch 10,
  200-300 epochs of 3,000 steps.
- `fashion_mnist` / `mnist`: not in the paper; small enough for a CPU,
  every mechanism kept: 32x32x1, filters 32, latent 32, PatchGAN strides
  2,2,1,1,1,1, batch 64.

`build_models` builds GAMIX-VAE and the same network trained as a standard
VAE (the paper's comparison, section 5); `train` trains one as the example
does (a checkpoint every epoch, a CSV log, the curves).

Example:

>>> model_kwargs("celeba_hq")["latent_dim"]
512
"""

import os

import keras

from keras_vaes import plotting
from keras_vaes.models.gamix import build_gamix_vae

MODEL_KEYS = ("input_shape", "latent_dim", "filters", "discriminator_strides")

CONFIGS = {
    "celeba_hq": dict(input_shape=(256, 256, 3), latent_dim=512, filters=128,
                      discriminator_strides=(2, 2, 2, 1, 1, 1), batch_size=10, epochs=200,
                      eval_size=500),
    "fashion_mnist": dict(input_shape=(32, 32, 1), latent_dim=32, filters=32,
                          discriminator_strides=(2, 2, 1, 1, 1, 1), batch_size=64, epochs=1,
                          eval_size=1000),
}
CONFIGS["mnist"] = CONFIGS["fashion_mnist"]
# The compared models: GAMIX-VAE and its network as a standard VAE.
MODEL_NAMES = {"gamix": "GAMIX-VAE", "baseline": "standard VAE (baseline)"}


def model_kwargs(dataset):
    """The `build_gamix_vae` arguments of the network for `dataset`."""
    if dataset not in CONFIGS:
        raise ValueError(f"Expected a dataset of {sorted(CONFIGS)}. Received: dataset={dataset!r}")
    return {key: CONFIGS[dataset][key] for key in MODEL_KEYS}


def build_models(dataset, *, baseline=True, bn_training=False, seed=None):
    """`{"gamix": GAMIX-VAE, "baseline": the same network as a standard VAE}` for `dataset`.

    The baseline (`kl="standard"`, no PatchGAN) is the comparison of
    section 5; `baseline=False` leaves it out.

    Args:
        dataset: str. A key of `CONFIGS`.
        baseline: bool. Also build the standard VAE.
        bn_training: bool. BN / dropout in training mode (the author's
            code: inference mode).
        seed: int or None.
    """
    net = dict(bn_training=bn_training, seed=seed, **model_kwargs(dataset))
    models = {"gamix": build_gamix_vae(**net)}
    if baseline:
        models["baseline"] = build_gamix_vae(kl="standard", adversarial=False, name="standard_vae", **net)
    return models


def train(model, data, output, key, *, epochs, steps_per_epoch=None, batch_size=None, verbose=2):
    """Compiles and trains one of `build_models`' models; returns the history dict.

    Writes <output>/<key>.weights.h5 every epoch (atomic; NaN weights are
    refused), history_<key>.csv and curves_<key>.png.

    Args:
        model: a `GamixVAE`.
        data: training images `(N, H, W, C)` in [-1, 1], or a dataset
            yielding batches (CelebA-HQ: `batch_size` None).
        output: str. The run's folder.
        key: str. A key of `MODEL_NAMES`: names the files and the figure.
        epochs, steps_per_epoch, batch_size, verbose: `fit`'s.
    """
    model.compile()
    callbacks = [keras.callbacks.ModelCheckpoint(os.path.join(output, f"{key}.weights.h5"), save_weights_only=True),
                 keras.callbacks.CSVLogger(os.path.join(output, f"history_{key}.csv"))]
    fit_kwargs = {} if batch_size is None else {"batch_size": batch_size}
    history = model.fit(data, epochs=epochs, steps_per_epoch=steps_per_epoch, callbacks=callbacks,
                        verbose=verbose, **fit_kwargs)
    plotting.save_curves(history.history, os.path.join(output, f"curves_{key}.png"),
                         title=f"{MODEL_NAMES.get(key, key)} training")
    return history.history
