"""Learned priors ("Empirical observations pertaining to learned priors"): the networks and the sweep's models.

Sections 4-5: Lucic et al.'s InfoGAN network for every model (latent 8 on
MNIST / Fashion-MNIST, 64 on CIFAR-10, 128 on CelebA 128x128; convolution
widths 64, 128, and 64-512 on CelebA; dense 1024), batch 64, KL annealing
over 50,000 steps, beta between 0 and 1. The sweep (Figure 3) trains four
models on that network: the VAE and the flow-prior VAE (`build_flow_prior_vae`,
prior "normal" / "flow") and the AAE and Prior-AAE (`build_prior_aae`,
prior "normal" / "learned"). `train` builds one of them and trains it as
the sweep does; `sweep` runs Figure 3's sweep (every model at every beta,
judged, recorded, resumable) and `figure2` Figure 2 (the 2-D latent FP-VAE).

Example:

>>> model = build_model("fp_vae", 0.0, (32, 32, 1), latent_dim=2, filters=(8, 16),
...                     dense_units=32, num_couplings=2, hidden_units=16)
>>> model.latent_dim
2
"""

import itertools
import math
import os
import time

import keras

from keras_vaes import plotting
from keras_vaes.evaluation import learned_priors as evaluation
from keras_vaes.models.flow_prior import build_flow_prior_vae
from keras_vaes.models.prior_aae import build_prior_aae
from keras_vaes.utils import print_msg

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


def sweep(models, betas, x_train, x_test, judge, output, *, latent_dim, epochs, steps_per_epoch=None, steps,
          batch_size=BATCH_SIZE, features, resume=False, save_all_weights=False, header="", fid_label="FID",
          notes=(), title=None, labels=None, attributes=None, classify=None, num_samples=10000,
          separability_samples=10000, seed=0, verbose=1, fit_verbose=1, **network):
    """Figure 3 and Table 1: every model of `models` trained at every beta of `betas`, judged and recorded.

    Each run trains (`train`, its log in <output>/<kind>_beta<b>_history.csv)
    and is recorded (`evaluation.learned_priors.record_run`: its samples
    figure, its record appended to the ledger <output>/runs.jsonl); after
    each run results.md / results.csv are rewritten
    (`write_sweep_results`), so a sweep cut short leaves its tables. At the
    end fid_vs_beta.png draws Figure 3. The FP-VAE at the lowest beta is
    the figures' model: its weights are always saved.

    Args:
        models: keys of `MODELS`, in the order they run.
        betas: floats >= 0; run in increasing order.
        x_train, x_test: images in [0, 1].
        judge: a `tables.QualityMeasures` on the test images.
        output: str. An existing folder.
        latent_dim, epochs, steps_per_epoch, batch_size, seed, **network:
            each run's (`train`, `build_model`).
        steps: int. Training steps of each run (`training_plan`); a key of
            the ledger.
        features: str. The judge's description; a key of the ledger.
        resume: bool. Keep the ledger's runs of as many `steps` judged by
            the same `features`; train only the others.
        save_all_weights: bool. Save every run's weights.
        header, fid_label, notes: of results.md (`write_sweep_results`).
        title: str or None. Title of fid_vs_beta.png.
        labels, attributes, classify, num_samples, separability_samples:
            `evaluation.learned_priors.evaluate_run`'s.
        verbose: int. 1 reports each run, kept from the ledger or starting.
        fit_verbose: int. `fit`'s verbosity.

    Returns:
        `(rows, figure_model)`: every run's record, kept ones included, and
        the FP-VAE at the lowest beta (trained here, or loaded from its
        weights when the ledger kept it; None when neither).
    """
    betas = sorted(set(betas))
    ledger = evaluation.sweep_ledger(output)
    done = {k: r for k, r in ledger.read().items() if resume and k[2:] == (steps, features)}
    figure_model = None
    for kind, beta in itertools.product(models, betas):
        name, key = f"{kind}_beta{beta:g}", (kind, beta, steps, features)
        if key in done:
            if verbose:
                print_msg(f"{name}: kept from {ledger.path} (--resume)")
            continue
        if verbose:
            print_msg(f"\n=== {name} ===")
        start = time.time()
        model = train(kind, beta, x_train, latent_dim, epochs=epochs, steps_per_epoch=steps_per_epoch,
                      batch_size=batch_size, log_path=os.path.join(output, f"{name}_history.csv"), seed=seed,
                      verbose=fit_verbose, **network)
        figure_model = model if (kind, beta) == ("fp_vae", betas[0]) else figure_model
        done[key] = evaluation.record_run(
            model, kind, beta, judge, x_train, x_test, output, ledger, steps=steps,
            seconds=round(time.time() - start, 1), features=features,
            save_weights=save_all_weights or model is figure_model, labels=labels, attributes=attributes,
            classify=classify, num_samples=num_samples, separability_samples=separability_samples, seed=seed)
        evaluation.write_sweep_results(list(done.values()), output, header, fid_label, notes)
    rows = list(done.values())
    evaluation.write_sweep_results(rows, output, header, fid_label, notes)
    plotting.save_fid_vs_beta(rows, os.path.join(output, "fid_vs_beta.png"), ylabel=fid_label, title=title,
                              names=evaluation.MODEL_NAMES)
    weights = os.path.join(output, f"fp_vae_beta{betas[0]:g}.weights.h5")
    if figure_model is None and "fp_vae" in models and os.path.exists(weights):
        figure_model = build_model("fp_vae", betas[0], x_train.shape[1:], latent_dim, seed=seed, **network)
        figure_model.load_weights(weights)
    return rows, figure_model


def figure2(x_train, x_test, labels, output, dataset, *, seed=0, **training):
    """Figure 2: trains the FP-VAE at beta 0 with a 2-D latent and draws <output>/latents_2d.png.

    The panels: f(E(x)) and E(x) of the test images coloured by label, and
    f^-1(z_0) of prior samples (`evaluation.learned_priors.save_latent_figure`).
    The training log goes to <output>/latent2d_history.csv.

    Args:
        x_train, x_test: images in [0, 1].
        labels: the test images' labels (the colours).
        output: str. An existing folder.
        dataset: str. Its name, in the figure's title.
        seed: int.
        **training: `train`'s keyword arguments (epochs, steps_per_epoch,
            batch_size, verbose, the network's).

    Returns:
        The trained FP-VAE.
    """
    model = train("fp_vae", 0.0, x_train, 2, log_path=os.path.join(output, "latent2d_history.csv"), seed=seed,
                  **training)
    evaluation.save_latent_figure(model, x_test, labels, os.path.join(output, "latents_2d.png"), seed=seed,
                                  title=f"{dataset} test set, FP-VAE beta=0, dim(Z)=2 (Figure 2)")
    return model
