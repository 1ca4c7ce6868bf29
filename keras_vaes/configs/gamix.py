"""GAMIX-VAE (Rivera), section 4: the paper's configuration and a CPU one.

- `celeba_hq`: the paper / the author's code: CelebA-HQ 256x256, latent
  512, ResNetV2 with 128 filters, PatchGAN strides 2,2,2,1,1,1, batch 10,
  200-300 epochs of 3,000 steps.
- `fashion_mnist` / `mnist`: not in the paper; small enough for a CPU,
  every mechanism kept: 32x32x1, filters 32, latent 32, PatchGAN strides
  2,2,1,1,1,1, batch 64.

Example:

>>> model_kwargs("celeba_hq")["latent_dim"]
512
"""

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


def model_kwargs(dataset):
    """The `build_gamix_vae` arguments of the network for `dataset`."""
    if dataset not in CONFIGS:
        raise ValueError(f"Expected a dataset of {sorted(CONFIGS)}. Received: dataset={dataset!r}")
    return {key: CONFIGS[dataset][key] for key in MODEL_KEYS}
