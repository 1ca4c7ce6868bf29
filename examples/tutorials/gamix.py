"""
Title: GAMIX-VAE on Fashion-MNIST
Author: keras_vaes
Description: A VAE regularised on the batch mixture of its codes, with an L1 loss and a PatchGAN, in one Keras train_step.
Paper: Rivera, GAMIX-VAE (the author's Keras 3 code, marianorivera/How2TrainUrVAE)
Runs in: 397 s at these constants on one core of a shared 2-core CPU (KERAS_VAES_SMOKE=1, a few steps: 63 s)
"""

"""
## Introduction

A standard VAE pulls every posterior q(z|x) towards N(0, I). GAMIX-VAE
instead asks the *batch mixture* of the encoder means to match N(0, I)
(eq. 8-10), adds a per-sample variance regulariser (eq. 11), an L1
reconstruction (eq. 12) and a PatchGAN adversary. Both networks are updated
in one Keras `train_step` through a `GroupedOptimizer`. Images live in
[-1, 1] (`model.value_range`).

This is the CPU configuration of the package (32x32x1, 32 filters,
latent 32); the paper's is `build_gamix_vae((256, 256, 3), 512)` on CelebA-HQ.
"""

"""
## Setup
"""

import os

import keras
import numpy as np

import keras_vaes as kv

DATA_DIR = os.environ.get("KERAS_VAES_DATA")  # a folder holding fashion_mnist.npz; unset: downloaded
OUTPUT_DIR = os.environ.get("KERAS_VAES_OUTPUT", "tutorial_gamix")
LATENT_DIM = 32
TRAIN_IMAGES = 6_400  # 100 steps of 64
EVAL_IMAGES = 1_000
EPOCHS = 2
BATCH_SIZE = 64
if os.environ.get("KERAS_VAES_SMOKE"):  # a few steps, to check the script runs
    TRAIN_IMAGES, EVAL_IMAGES, EPOCHS = 256, 200, 1
os.makedirs(OUTPUT_DIR, exist_ok=True)
keras.utils.set_random_seed(0)

"""
## Data

Fashion-MNIST padded to 32x32 and mapped to [-1, 1].
"""

(x_train, _), (x_test, _) = kv.datasets.load_fashion_mnist_signed(
    os.path.join(DATA_DIR, "fashion_mnist.npz") if DATA_DIR else None
)
x_train, x_test = x_train[:TRAIN_IMAGES], x_test[:EVAL_IMAGES]


def to_unit(images):
    """[-1, 1] -> [0, 1], for figures and the feature classifier."""
    return np.clip((images + 1.0) / 2.0, 0.0, 1.0)


"""
## Build the model, and the baseline of the paper's comparison

The same network trained as a standard VAE (`kl="standard",
adversarial=False`) is the baseline.
"""

config = dict(filters=32, discriminator_strides=(2, 2, 1, 1, 1, 1), seed=0)
gamix = kv.build_gamix_vae((32, 32, 1), LATENT_DIM, **config)
baseline = kv.build_gamix_vae((32, 32, 1), LATENT_DIM, kl="standard", adversarial=False, **config)
for model in (gamix, baseline):
    model.compile()  # Adam(1e-4, beta_1=0.5) per network, the author's

"""
## A callback that writes sample grids

`kv.callbacks.SampleGrid` decodes the same 64 draws from the model's prior after
every epoch (GAMIX's [-1, 1] samples are mapped to [0, 1] for display), one
file per model and epoch (`gamix_epoch_1.png`, `baseline_epoch_1.png`, ...).
"""

sample_grids = {name: kv.callbacks.SampleGrid(OUTPUT_DIR, name) for name in ("gamix", "baseline")}

"""
## Train

Each epoch's line (`verbose=2`) shows each term: l1, kl, var_reg, g_adv,
d_loss, d_acc.
"""

for name, model in [("gamix", gamix), ("baseline", baseline)]:
    model.fit(x_train, batch_size=BATCH_SIZE, epochs=EPOCHS,
              callbacks=[sample_grids[name]], verbose=2)

"""
## Evaluate

L1 of reconstructions, the FD of the package's Fashion-MNIST classifier
features (offline; not comparable with Inception FIDs), and the spread of
the encoder means that eq. 10 targets (variance 1 per dimension).
"""

extractor = kv.metrics.classifier_extractor("fashion_mnist")
for name, model in [("gamix", gamix), ("baseline", baseline)]:
    rec = model.reconstruct(x_test)["x_hat"]
    samples = model.generate(EVAL_IMAGES, seed=1)["x_hat"]
    posterior = model.encode(x_test)
    print(
        f"{name:9s} L1 {np.mean(np.abs(rec - x_test)):.4f}"
        f"  FD recon. {kv.metrics.fid_score(to_unit(x_test), to_unit(rec), extractor):7.2f}"
        f"  FD samples {kv.metrics.fid_score(to_unit(x_test), to_unit(samples), extractor):7.2f}"
        f"  var(mu) {np.mean(np.var(posterior.mean, axis=0)):.3f}"
    )

"""
## Show: Fig. 2 (latent variants) and Fig. 3 (transitions, eq. 14)
"""

variants = gamix.latent_variants(x_test[:1], dims=(0, 3), steps=(-20.0, 0.0, 20.0))
kv.plotting.save_image_grid(to_unit(variants), os.path.join(OUTPUT_DIR, "fig2_variants.png"), ncols=3)
rows = gamix.interpolate(x_test[:4], x_test[4:8], steps=6)
kv.plotting.save_image_grid(to_unit(rows.reshape((-1,) + rows.shape[2:])),
                            os.path.join(OUTPUT_DIR, "fig3_transitions.png"), ncols=6)
print("figures in", OUTPUT_DIR)
