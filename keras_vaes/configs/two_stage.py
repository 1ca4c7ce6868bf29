"""Two-stage VAE ("Variance Loss in Variational Autoencoders", Tables 1-2): the authors' configurations.

The authors' BalancingVAE scripts: latent 64, base_dim 32, fc_dim 512,
second_depth 3, batch 100, Adam's learning rate halved every `lr_epochs`
(`lr2`, `lr_epochs2`: the second stage's). CIFAR-10 and CelebA are the
paper's; MNIST / Fashion-MNIST are not in the paper and hold the
configuration of the `two_stage_mnist` preset (a CPU budget). `train` runs
both stages at a configuration's schedule and writes the weights and curves.

Example:

>>> CONFIGS["cifar10"]["second_dim"]
2048
>>> model_kwargs("celeba")["num_scale"]
4
"""

import os

from keras_vaes import plotting

# Shared by every dataset (the authors' scripts).
LATENT_DIM = 64
FC_DIM = 512
SECOND_DEPTH = 3
BATCH_SIZE = 100

CONFIGS = {
    "cifar10": dict(num_scale=3, base_dim=32, second_dim=2048, l2_reg=None,
                    epochs=700, lr=1e-4, lr_epochs=250,
                    epochs2=1400, lr2=1e-4, lr_epochs2=400),
    # The authors' script sets l2_reg=0.001, which never reaches their loss.
    "celeba": dict(num_scale=4, base_dim=32, second_dim=4096, l2_reg=None,
                   epochs=70, lr=5e-5, lr_epochs=60,
                   epochs2=140, lr2=5e-5, lr_epochs2=120),
    # Not in the paper: the `two_stage_mnist` preset (a CPU budget).
    "mnist": dict(num_scale=3, base_dim=16, second_dim=512, l2_reg=None,
                  epochs=5, lr=1e-3, lr_epochs=2,
                  epochs2=20, lr2=1e-4, lr_epochs2=10),
}
CONFIGS["fashion_mnist"] = CONFIGS["mnist"]


def model_kwargs(dataset):
    """The `build_two_stage_vae` arguments (but the input shape and seed) for `dataset`."""
    if dataset not in CONFIGS:
        raise ValueError(f"Expected a dataset of {sorted(CONFIGS)}. Received: dataset={dataset!r}")
    config = CONFIGS[dataset]
    return dict(latent_dim=LATENT_DIM, base_dim=config["base_dim"], num_scale=config["num_scale"],
                fc_dim=FC_DIM, second_dim=config["second_dim"], second_depth=SECOND_DEPTH,
                l2_reg=config["l2_reg"])


def train(model, images, dataset, output, *, epochs=None, epochs2=None, batch_size=BATCH_SIZE, seed=0):
    """Trains both stages at `dataset`'s schedule; writes the weights and the curves into `output`.

    The first stage (`fit_first_stage`, seed `seed`), then the second on its
    codes (`fit_second_stage`, seed `seed + 1`), each with Adam's learning
    rate halved every `lr_epochs` / `lr_epochs2` epochs. Writes
    two_stage_<dataset>.checkpoint.weights.h5 (both stages with their
    optimizers' state), two_stage_<dataset>.weights.h5 (without: a
    preset's file) and stage1_curves.png, stage2_curves.png.

    Args:
        model: a `TwoStageVAE` (`build_two_stage_vae(**model_kwargs(dataset))`).
        images: training images in [0, 1].
        dataset: str. A key of `CONFIGS`: the schedule and the files' names.
        output: str. An existing folder.
        epochs, epochs2: ints. Each stage's epochs (None: the configuration's).
        batch_size: int. Cut to the number of images.
        seed: int.

    Returns:
        The two `History` objects.
    """
    if dataset not in CONFIGS:
        raise ValueError(f"Expected a dataset of {sorted(CONFIGS)}. Received: dataset={dataset!r}")
    config = CONFIGS[dataset]
    batch_size = min(batch_size, len(images))
    histories = [
        model.fit_first_stage(images, config["epochs"] if epochs is None else epochs, batch_size, config["lr"],
                              config["lr_epochs"], seed=seed),
        model.fit_second_stage(images, config["epochs2"] if epochs2 is None else epochs2, batch_size,
                               config["lr2"], config["lr_epochs2"], seed=seed + 1),
    ]
    prefix = os.path.join(output, f"two_stage_{dataset}")
    model.save_weights(prefix + ".checkpoint.weights.h5")
    model.export_weights(prefix + ".weights.h5")
    for stage, history in enumerate(histories, 1):
        plotting.save_curves(history.history, os.path.join(output, f"stage{stage}_curves.png"),
                             keys=["loss", "mse", "kl", "gamma"], title=f"stage {stage}")
    return histories
