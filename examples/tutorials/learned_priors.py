"""
Title: A flow prior lets the KL weight go to zero
Author: keras_vaes
Description: A VAE with a RealNVP prior learned jointly (FP-VAE), trained at beta = 0, against the same network with N(0, I).
Paper: Empirical observations pertaining to learned priors for deep latent variable models
Runs in: 390 s at these constants on one core of a shared 2-core CPU (KERAS_VAES_SMOKE=1, a few steps: 40 s)
"""

"""
## Introduction

With a fixed N(0, I) prior, a VAE needs its KL term (weight beta) to keep
the codes where the prior samples. With a prior learned jointly, here a
RealNVP flow f: Z_T -> Z_0 (eq. 4), beta can go to 0: the encoder and
decoder become a plain autoencoder and the flow does density estimation on
its codes (eq. 8). Samples are decoded from f^-1(z_0), z_0 ~ N(0, I).

Both models use the InfoGAN networks of the paper, at latent size 8.
"""

"""
## Setup
"""

import os

import keras
import numpy as np

import keras_vaes as kv

DATA_DIR = os.environ.get("KERAS_VAES_DATA")  # a folder holding mnist.npz; unset: downloaded
OUTPUT_DIR = os.environ.get("KERAS_VAES_OUTPUT", "tutorial_learned_priors")
LATENT_DIM = 8
TRAIN_IMAGES = 16_000  # 250 steps of 64 per epoch
EVAL_IMAGES = 2_000
EPOCHS = 2
BATCH_SIZE = 64
if os.environ.get("KERAS_VAES_SMOKE"):  # a few steps, to check the script runs
    TRAIN_IMAGES, EVAL_IMAGES, EPOCHS = 256, 200, 1
os.makedirs(OUTPUT_DIR, exist_ok=True)
keras.utils.set_random_seed(0)

"""
## Data
"""

(x_train, _), (x_test, y_test) = kv.datasets.load_mnist(os.path.join(DATA_DIR, "mnist.npz") if DATA_DIR else None)
x_train, x_test = x_train[:TRAIN_IMAGES], x_test[:EVAL_IMAGES]

"""
## Build the two models

`prior="flow"` learns the RealNVP prior (8 affine couplings); `prior="normal"`
is the beta-VAE on the same network. `anneal_steps` shortens the paper's
50,000-step KL annealing to this run.
"""

anneal = EPOCHS * TRAIN_IMAGES // BATCH_SIZE // 2
fp_vae = kv.build_flow_prior_vae((32, 32, 1), LATENT_DIM, beta=0.0, prior="flow", anneal_steps=anneal, seed=0)
vae = kv.build_flow_prior_vae((32, 32, 1), LATENT_DIM, beta=1.0, prior="normal", anneal_steps=anneal, seed=0)
for model in (fp_vae, vae):
    model.compile(optimizer=keras.optimizers.Adam(5e-4, beta_1=0.5))

"""
## A callback that writes sample grids

`kv.callbacks.SampleGrid` decodes the same 64 draws from the model's prior (the
flow, or N(0, I)) after every epoch, one file per model and epoch
(`fp_vae_beta0_epoch_1.png`, ...).
"""

sample_grids = {name: kv.callbacks.SampleGrid(OUTPUT_DIR, name) for name in ("fp_vae_beta0", "vae_beta1")}

"""
## Train
"""

for name, model in [("fp_vae_beta0", fp_vae), ("vae_beta1", vae)]:
    model.fit(x_train, batch_size=BATCH_SIZE, epochs=EPOCHS,
              callbacks=[sample_grids[name]], verbose=2)

"""
## Evaluate

The FD of the package's MNIST classifier features (offline; not comparable
with the paper's Inception FIDs), and the reconstruction error. A flow can
also be fitted after training to any model's codes (`FlowSampler`): here to
the beta-VAE's, as a third row.
"""

extractor = kv.metrics.classifier_extractor("mnist")
flow = kv.samplers.FlowSampler(epochs=30, seed=0).fit_on_encodings(vae, x_train[:EVAL_IMAGES])
rows = [
    ("FP-VAE, beta 0, learned prior", fp_vae, None),
    ("VAE, beta 1, N(0, I)", vae, None),
    ("VAE, beta 1, flow fitted ex post", vae, flow),
]
for name, model, sampler in rows:
    samples = model.generate(EVAL_IMAGES, sampler=sampler, seed=1)["x_hat"]
    mse = kv.metrics.diagnostics.mse(x_test, model.reconstruct(x_test)["x_hat"])
    print(f"{name:34s} FD {kv.metrics.fid_score(x_test, samples, extractor):7.2f}  MSE {mse:.5f}")

"""
## Show: interpolations in Z_0 (slerp) and Z_T (lerp)

The paper interpolates in Z_0 with slerp, D(f^-1(slerp(f(E(x_a)), f(E(x_b)), t))),
and compares with a straight line between the codes in Z_T.
"""

from keras_vaes.evaluation import learned_priors as lp

a, b = x_test[:4], x_test[4:8]
z0_rows = lp.interpolate_z_0(fp_vae, a, b, steps=8)
zt_rows = lp.interpolate_z_t(fp_vae, a, b, steps=8)
rows = [(f"Z_0 slerp {i}", r) for i, r in enumerate(z0_rows)] + [(f"Z_T lerp {i}", r) for i, r in enumerate(zt_rows)]
kv.plotting.save_interpolation_rows(rows, os.path.join(OUTPUT_DIR, "interpolation.png"))
kv.plotting.save_image_grid(fp_vae.generate(100, seed=2)["x_hat"], os.path.join(OUTPUT_DIR, "fp_vae_samples.png"))
print("figures in", OUTPUT_DIR, "| mean |z_0| of test codes:", float(np.mean(np.abs(fp_vae.encode_z0(x_test)))))
