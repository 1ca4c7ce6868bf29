"""
Title: Split-VAE on MNIST
Author: keras_vaes
Description: A VAE whose decoder splits each image into two, trained with Keras's fit, sampled through an ex-post GMM.
Paper: Asperti, Bugo, Filippini, Enhancing Variational Generation Through Self-Decomposition, IEEE Access 2022
Runs in: a few minutes on a CPU at these constants (not timed yet); with KERAS_VAES_SMOKE=1 (a few steps) it ran in 29 s on one core of a shared 2-core CPU
"""

"""
## Introduction

The Split-VAE decoder emits two images x1, x2 and a mask sigma; its output
is their composition x_hat = sigma x1 + (1 - sigma) x2. The loss is the
usual Gaussian VAE loss with the authors' gamma balancing: the
reconstruction term is divided by a running estimate of the MSE. After
training, a Gaussian mixture fitted on the codes replaces N(0, I) as the
sampling distribution (the paper's GMM-100 row).

This tutorial trains a narrower network than the paper's (base width 32,
three scales) for a few epochs, so that it runs on a CPU.
"""

"""
## Setup
"""

import os

import keras

import keras_vaes as kv

DATA_DIR = os.environ.get("KERAS_VAES_DATA", "../shared/data")  # holds mnist.npz
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

(x_train, _), (x_test, y_test) = kv.datasets.load_mnist(os.path.join(DATA_DIR, "mnist.npz"))
x_train, x_test = x_train[:TRAIN_IMAGES], x_test[:EVAL_IMAGES]
print("train:", x_train.shape, "test:", x_test.shape)

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

Like keras.io's `GANMonitor`: after every epoch, decode the same 64 draws
from N(0, I) and save them, so the samples can be watched as training goes.
"""


class SampleGrid(keras.callbacks.Callback):
    def __init__(self, folder, n=64, seed=0):
        super().__init__()
        self.folder, self.n, self.seed = folder, n, seed

    def on_epoch_end(self, epoch, logs=None):
        images = self.model.generate(self.n, seed=self.seed)["x_hat"]
        path = os.path.join(self.folder, f"samples_epoch_{epoch + 1}.png")
        kv.plotting.save_image_grid(images, path, ncols=8, title=f"epoch {epoch + 1}")


"""
## Train

Keras's own `fit`: the loss, the KL and gamma are in the progress bar.
"""

history = model.fit(
    x_train, batch_size=BATCH_SIZE, epochs=EPOCHS, callbacks=[SampleGrid(OUTPUT_DIR)], verbose=2
)
kv.plotting.save_curves(history.history, os.path.join(OUTPUT_DIR, "curves.png"))

"""
## Sample through an ex-post GMM

Every model follows the same contract: `encode` returns a `Posterior`
(mean, log_var), `generate` a dict. A sampler fitted on the posterior means
replaces the prior.
"""

gmm = kv.samplers.GMMSampler(100, seed=0).fit_on_encodings(model, x_test)
prior_samples = model.generate(EVAL_IMAGES, seed=1)
gmm_samples = model.generate(EVAL_IMAGES, sampler=gmm, seed=1)

"""
## Evaluate

The papers' FID needs InceptionV3's ImageNet weights; offline, the package
measures the Fréchet distance of a small MNIST classifier's features
instead ("FD (classifier features)"), which ranks models trained here but
is not comparable with the papers' FIDs.
"""

extractor = kv.metrics.fid.classifier_extractor("mnist")
reconstructions = model.reconstruct(x_test)
for row, images in [("REC", reconstructions), ("GEN", prior_samples), ("GMM-100", gmm_samples)]:
    cells = {key: kv.metrics.fid.fid_score(x_test, images[key], extractor) for key in ("x_hat", "x1", "x2")}
    print(f"{row:8s}", "  ".join(f"FD {key} {value:7.2f}" for key, value in cells.items()))

posterior = model.encode(x_test)
law = kv.metrics.diagnostics.variance_law(posterior.mean, posterior.log_var)
print(f"variance law (expected ~1): {law.mean:.4f}")
print(f"MSE of reconstructions: {kv.metrics.diagnostics.mse(x_test, reconstructions['x_hat']):.5f}")

"""
## Show

The paper's Figures 1-4: sigma, x1, x2 and x_hat of ten GMM samples, one
row each; then 100 GMM samples.
"""

kv.plotting.save_split_rows(gmm_samples, os.path.join(OUTPUT_DIR, "split_rows.png"))
kv.plotting.save_image_grid(gmm_samples["x_hat"][:100], os.path.join(OUTPUT_DIR, "gmm_samples.png"))
print("figures in", OUTPUT_DIR)
