"""Learned priors ("Empirical observations pertaining to learned priors"): the networks and the sweep's models.

Sections 4-5: Lucic et al.'s InfoGAN network for every model (latent 8 on
MNIST / Fashion-MNIST, 64 on CIFAR-10, 128 on CelebA 128x128; convolution
widths 64, 128, and 64-512 on CelebA; dense 1024), batch 64, KL annealing
over 50,000 steps, beta between 0 and 1. The sweep (Figure 3) trains four
models on that network: the VAE and the flow-prior VAE (`build_flow_prior_vae`,
prior "normal" / "flow") and the AAE and Prior-AAE (`build_prior_aae`,
prior "normal" / "learned"). `train` builds one of them and trains it as
the sweep does.

Example:

>>> model = build_model("fp_vae", 0.0, (32, 32, 1), latent_dim=2, filters=(8, 16),
...                     dense_units=32, num_couplings=2, hidden_units=16)
>>> model.latent_dim
2
"""

import math
import os

import keras

from keras_vaes.models.flow_prior import build_flow_prior_vae
from keras_vaes.models.prior_aae import build_prior_aae

DATASETS = ("mnist", "fashion_mnist", "cifar10", "celeba")
MODELS = ("vae", "fp_vae", "aae", "prior_aae")
LATENT_DIMS = {"mnist": 8, "fashion_mnist": 8, "cifar10": 64, "celeba": 128}
FILTERS = {"mnist": (64, 128), "fashion_mnist": (64, 128), "cifar10": (64, 128),
           "celeba": (64, 128, 256, 512)}
DENSE_UNITS = 1024
BATCH_SIZE = 64  # Lucic et al.
ANNEAL_STEPS = 50_000
# The reconstruction term: the VGG19 perceptual loss on CelebA, squared error elsewhere.
RECONSTRUCTION = {"celeba": "perceptual"}


def anneal_steps(total_steps):
    """The KL annealing length of a run of `total_steps`: the paper's 50,000, or half a shorter run."""
    return min(ANNEAL_STEPS, int(total_steps) // 2)


def training_plan(num_train, batch_size, epochs=None, steps=None):
    """`(epochs, steps_per_epoch or None, total steps)` of a run of `epochs` or, if given, `steps`."""
    per_epoch = math.ceil(num_train / batch_size)
    if steps is None:
        return epochs, None, epochs * per_epoch
    epochs = math.ceil(steps / per_epoch)
    steps_per_epoch = math.ceil(steps / epochs)
    return epochs, steps_per_epoch, epochs * steps_per_epoch


def build_model(kind, beta, input_shape, latent_dim, *, filters=(64, 128), dense_units=DENSE_UNITS,
                reconstruction="l2", gamma=1.0, anneal_steps=ANNEAL_STEPS, num_couplings=8,
                hidden_units=None, seed=0):
    """One of the paper's four models (`MODELS`) on the InfoGAN network.

    Args:
        kind: str. "vae", "fp_vae" (flow prior), "aae" or "prior_aae".
        beta: float >= 0. The KL weight (VAEs) or adversarial weight (AAEs).
        input_shape: tuple. Image shape.
        latent_dim: int.
        filters, dense_units, reconstruction, seed: the network's.
        gamma, anneal_steps, num_couplings, hidden_units: the VAEs' only
            (fixed decoder variance, KL annealing, the flow prior).
    """
    if kind not in MODELS:
        raise ValueError(f"Expected a model of {MODELS}. Received: kind={kind!r}")
    network = {"filters": tuple(filters), "dense_units": dense_units, "seed": seed,
               "reconstruction": reconstruction}
    if kind in ("vae", "fp_vae"):
        return build_flow_prior_vae(
            input_shape, latent_dim, beta=beta, prior="flow" if kind == "fp_vae" else "normal",
            gamma=gamma, anneal_steps=anneal_steps, num_couplings=num_couplings,
            hidden_units=hidden_units, **network,
        )
    return build_prior_aae(input_shape, latent_dim, beta=beta,
                           prior="learned" if kind == "prior_aae" else "normal", **network)


def train(kind, beta, images, latent_dim, *, epochs, steps_per_epoch=None, batch_size=BATCH_SIZE,
          log_path=None, seed=0, verbose=1, **network):
    """Builds one of the sweep's models (`build_model`), compiles it and trains it on `images`.

    Training stops at a non-finite loss (`keras.callbacks.TerminateOnNaN`);
    the model is returned as it is then (the sweep measures it anyway).

    Args:
        kind, beta, latent_dim, **network: as `build_model` (`seed` too).
        images: training images `(N, H, W, C)` in the model's range.
        epochs, steps_per_epoch: the run's length (`training_plan`).
        batch_size: int. Defaults to `BATCH_SIZE` (Lucic et al.'s 64).
        log_path: str or None. A `keras.callbacks.CSVLogger` file.
        seed: int. Seeds Keras before building (weights, data order).
        verbose: int. `fit`'s verbosity.

    Returns:
        The trained model.
    """
    keras.utils.set_random_seed(seed)
    model = build_model(kind, beta, images.shape[1:], latent_dim, seed=seed, **network)
    model.compile()
    callbacks = [keras.callbacks.TerminateOnNaN()]
    if log_path is not None:
        os.makedirs(os.path.dirname(log_path) or ".", exist_ok=True)
        callbacks.append(keras.callbacks.CSVLogger(log_path))
    model.fit(images, batch_size=batch_size, epochs=epochs, steps_per_epoch=steps_per_epoch, shuffle=True,
              verbose=verbose, callbacks=callbacks)
    return model
