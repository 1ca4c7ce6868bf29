"""
Title: Split-VAE on MNIST
Author: keras_vaes
Description: A VAE whose decoder splits each image into two, trained with Keras's fit, sampled through an ex-post GMM.
Paper: Asperti, Bugo, Filippini, Enhancing Variational Generation Through Self-Decomposition, IEEE Access 2022
Runs in: 443 s at these constants on one core of a shared 2-core CPU, before the preset's evaluation was added (KERAS_VAES_SMOKE=1, a few steps: 49 s)
"""

"""
## Introduction

The Split-VAE decoder emits two images x1, x2 and a mask sigma; its output
is x_hat = sigma x1 + (1 - sigma) x2. The loss is the Gaussian VAE loss with
the authors' gamma balancing (the reconstruction term divided by a running
MSE). After training, a Gaussian mixture fitted on the codes replaces
N(0, I) for sampling. This tutorial trains a narrower network than the
paper's (base width 32, three scales) for a few epochs, on a CPU.
"""

"""
## Setup
"""

import os

import keras

import keras_vaes as kv

DATA_DIR = os.environ.get("KERAS_VAES_DATA")  # a folder holding mnist.npz; unset: downloaded
OUTPUT_DIR = os.environ.get("KERAS_VAES_OUTPUT", "tutorial_split_vae")
LATENT_DIM = 32
BETA = 8.0  # the paper's MNIST setting
TRAIN_IMAGES = 12_000
EVAL_IMAGES = 2_000
EPOCHS = 3
BATCH_SIZE = 100
if os.environ.get("KERAS_VAES_SMOKE"):  # a few steps, to check the script runs
    TRAIN_IMAGES, EVAL_IMAGES, EPOCHS = 400, 300, 1
os.makedirs(OUTPUT_DIR, exist_ok=True)
keras.utils.set_random_seed(0)

"""
## Data

MNIST zero-padded to 32x32, in [0, 1] (the package's loader reads Keras's
`mnist.npz` layout, or downloads it with `keras.datasets` when no path is
given).
"""

(x_train, _), (x_test, y_test) = kv.datasets.load_mnist(os.path.join(DATA_DIR, "mnist.npz") if DATA_DIR else None)
x_train, x_test = x_train[:TRAIN_IMAGES], x_test[:EVAL_IMAGES]

"""
## Build the model

`build_svae` builds the authors' ResNet encoder and decoder; the paper's
configuration is `build_svae((32, 32, 1), 32, beta=8)` with the defaults
(12,793,667 trainable parameters).
"""

model = kv.build_svae((32, 32, 1), LATENT_DIM, beta=BETA, base_dim=32, emb_dim=256, num_scale=3, seed=0)
model.compile(optimizer=keras.optimizers.Adam(1e-4))  # the authors' learning rate
print(f"{model.count_params():,} parameters")

"""
## A callback that writes sample grids

Like keras.io's `GANMonitor`: `kv.callbacks.SampleGrid` decodes the same 64
draws from the model's prior after every epoch and saves them
(`samples_epoch_1.png`, ...), so the samples can be watched as training goes.
"""

sample_grid = kv.callbacks.SampleGrid(OUTPUT_DIR, "samples")

"""
## Train

Keras's own `fit`: the loss, the KL and gamma are printed after each epoch
(`verbose=2`, one line per epoch; the default `verbose="auto"` shows a
progress bar instead).
"""

history = model.fit(x_train, batch_size=BATCH_SIZE, epochs=EPOCHS, callbacks=[sample_grid], verbose=2)
kv.plotting.save_curves(history.history, os.path.join(OUTPUT_DIR, "curves.png"))

"""
BatchNormalization's moving statistics (momentum 0.999, the authors') are
far from the data's after a few hundred steps, so inference mode would
decode poorly; re-estimate them on training images, as the presets do.
"""

model.recalibrate_batch_norm(x_train)

"""
## Sample through an ex-post GMM, and evaluate

Every model follows the same contract: `encode` returns a `Posterior`
(mean, log_var), `generate` a dict. A sampler fitted on the posterior means
replaces the prior (the paper's GMM rows).

The papers' FID needs InceptionV3's ImageNet weights; offline, the package
measures the Fréchet distance of a small MNIST classifier's features
instead ("FD (classifier features)"), which ranks models trained here but
is not comparable with the papers' FIDs.
"""

extractor = kv.metrics.classifier_extractor("mnist")


def evaluate(model, name):
    gmm = kv.samplers.GMMSampler(100, seed=0).fit_on_encodings(model, x_test)
    rows = {
        "REC": model.reconstruct(x_test),
        "GEN": model.generate(EVAL_IMAGES, seed=1),
        "GMM-100": model.generate(EVAL_IMAGES, sampler=gmm, seed=1),
    }
    print(name)
    for row, images in rows.items():
        cells = {key: kv.metrics.fid_score(x_test, images[key], extractor) for key in ("x_hat", "x1", "x2")}
        print(f"  {row:8s}", "  ".join(f"FD {key} {value:7.2f}" for key, value in cells.items()))
    posterior = model.encode(x_test)
    law = kv.metrics.diagnostics.variance_law(posterior.mean, posterior.log_var)
    mse = kv.metrics.diagnostics.mse(x_test, rows["REC"]["x_hat"])
    print(f"  variance law (expected ~1) {law.mean:.4f}, MSE of reconstructions {mse:.5f}")
    return rows["GMM-100"]


gmm_samples = evaluate(model, f"this run ({EPOCHS} epochs)")

"""
A few epochs of a narrow network are far from the paper's 300: the shipped
preset `svae_mnist_10ep` (the paper's network, 10 epochs) shows what
training buys, through the same calls.
"""

preset_samples = evaluate(kv.load_pretrained("svae_mnist_10ep"), "preset svae_mnist_10ep")

"""
## Show

The paper's Figures 1-4: sigma, x1, x2 and x_hat of ten GMM samples, one
row each; then 100 GMM samples, of this run and of the preset.
"""

for name, samples in [("this_run", gmm_samples), ("preset", preset_samples)]:
    kv.plotting.save_split_rows(samples, os.path.join(OUTPUT_DIR, f"split_rows_{name}.png"))
    kv.plotting.save_image_grid(samples["x_hat"][:100], os.path.join(OUTPUT_DIR, f"gmm_samples_{name}.png"))
print("figures in", OUTPUT_DIR)
