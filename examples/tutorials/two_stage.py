"""
Title: A two-stage VAE with balancing and variance renormalisation
Author: keras_vaes
Description: A first VAE with gamma balancing, a second VAE on its latents, and the authors' renormalisation rule.
Paper: Asperti, Variance Loss in Variational Autoencoders, LOD 2020 (on Dai & Wipf's two-stage VAE)
Runs in: 677 s at these constants on one core of a shared 2-core CPU (KERAS_VAES_SMOKE=1, a few steps: 44 s)
"""

"""
## Introduction

A VAE's codes do not follow N(0, I) once trained: some variables are
inactive, the others do not fill the prior. The two-stage VAE fits a second
VAE on the first one's latents and samples through it (GEN-2 instead of
GEN-1). The variance-loss paper adds two measures: the variance law
(var(mu) + mean(sigma^2) should be 1 per latent) and the variance loss
(generated images have less variance than data), and a renormalisation of
the generated latents when the second stage shows a variance loss.
"""

"""
## Setup
"""

import os

import keras

import keras_vaes as kv

DATA_DIR = os.environ.get("KERAS_VAES_DATA")  # a folder holding mnist.npz; unset: downloaded
OUTPUT_DIR = os.environ.get("KERAS_VAES_OUTPUT", "tutorial_two_stage")
LATENT_DIM = 64
TRAIN_IMAGES = 10_000
EVAL_IMAGES = 2_000
EPOCHS, EPOCHS_2 = 3, 3  # first and second stage
BATCH_SIZE = 32
if os.environ.get("KERAS_VAES_SMOKE"):  # a few steps, to check the script runs
    TRAIN_IMAGES, EVAL_IMAGES, EPOCHS, EPOCHS_2 = 400, 300, 1, 1
os.makedirs(OUTPUT_DIR, exist_ok=True)
keras.utils.set_random_seed(0)

"""
## Data
"""

(x_train, _), (x_test, _) = kv.datasets.load_mnist(os.path.join(DATA_DIR, "mnist.npz") if DATA_DIR else None)
x_train, x_test = x_train[:TRAIN_IMAGES], x_test[:EVAL_IMAGES]

"""
## Build the two stages

The first stage is the authors' ResNet VAE with balancing (gamma_x =
sqrt(running MSE)); the second, three dense layers with a skip on the
64-dimensional codes. `initial_mse=0.05` starts the MSE estimate near its
value for MNIST, which short runs need (the authors start at 1).
"""

model = kv.build_two_stage_vae(
    (32, 32, 1), LATENT_DIM, base_dim=32, num_scale=3, second_dim=1024, initial_mse=0.05, seed=0
)
print(f"first stage {model.first_stage.count_params():,}, second {model.second_stage.count_params():,} parameters")

"""
## A callback that writes sample grids

`kv.callbacks.SampleGrid`: during the first stage it decodes the same 64 N(0, I)
draws (GEN-1) after every epoch (`gen1_epoch_1.png`, ...).
"""

sample_grid = kv.callbacks.SampleGrid(OUTPUT_DIR, "gen1")

"""
## Train the first stage, then the second

Both are Keras `fit` runs with the authors' loop (Adam, data reshuffled
every epoch, the last partial batch dropped). The second stage trains on
fresh samples z = mu + sigma eps of the frozen first stage's posterior.
"""

model.fit_first_stage(x_train, EPOCHS, batch_size=BATCH_SIZE, callbacks=[sample_grid], verbose=2)
model.fit_second_stage(x_train, EPOCHS_2, batch_size=BATCH_SIZE, verbose=2)

"""
## Diagnostics: variance law and inactive variables
"""

posterior = model.first_stage.encode(x_test)
law = kv.metrics.diagnostics.variance_law(posterior.mean, posterior.log_var)
inactive = kv.metrics.diagnostics.inactive_variables(posterior.mean, posterior.log_var)
print(f"variance law {law.mean:.4f}; inactive variables {inactive.count} of {LATENT_DIM}")

"""
## Generate: GEN-1, GEN-2, and the authors' renormalisation

`model.generate(n)` samples through the model's own prior, here the second
stage (GEN-2); `model.first_stage.generate(n)` is GEN-1. The renormalisation
statistics are measured on reference images first.
"""

model.fit_renormalization(x_test, seed=0)
print("renormalise the latents (var_loss2 / mse2 > 0.25):", model.renormalization.renormalize_latents)
gen1 = model.first_stage.generate(EVAL_IMAGES, seed=1)["x_hat"]
gen2 = model.generate(EVAL_IMAGES, seed=1)["x_hat"]
rec = model.reconstruct(x_test)["x_hat"]

"""
## Evaluate

FD of the package's MNIST classifier features (the papers' Inception
weights cannot be loaded offline; the two are not comparable), and the
variance loss of each set (section 3 of the paper).
"""

extractor = kv.metrics.classifier_extractor("mnist")
for row, images in [("REC", rec), ("GEN-1", gen1), ("GEN-2", gen2)]:
    fd = kv.metrics.fid_score(x_test, images, extractor)
    loss = kv.metrics.diagnostics.variance_loss(x_test, images)["variance_loss"]
    print(f"{row:6s} FD {fd:7.2f}   variance loss {loss:.5f}")

"""
## Show
"""

kv.plotting.save_image_grid(gen2[:64], os.path.join(OUTPUT_DIR, "gen2.png"), ncols=8, title="GEN-2")
kv.plotting.save_variance_law(law.per_variable, os.path.join(OUTPUT_DIR, "variance_law.png"))
print("figures in", OUTPUT_DIR)
