"""Evaluation of a two-stage VAE in the layout of the variance-loss paper.

"Variance Loss in Variational Autoencoders", Tables 1 (CIFAR-10) and 2
(CelebA): FID of reconstructions (REC), of first-stage generations (GEN-1,
z ~ N(0, I)) and of second-stage generations (GEN-2), without and with the
renormalisation of section 4; next to them the diagnostics of the authors'
script: MSE, variance law, inactive variables, and the variance loss
(section 3) of reconstructions and generations.

The protocol is the authors' latest code (asperti/BalancingVAE
`computed_gamma.py`): evaluation images = the test split shuffled, first
10,000 (`evaluation_images`), used as FID reference, for the
renormalisation statistics and for REC; REC decodes a sampled z;
renormalised latents get the authors' target std (sigma in the
variance-law sum); generated images are not rescaled, reconstructions
are. The rescaling of generated images is the package's extension and
gets its own row. Their FID is the TF-GAN/TTUR 2015 Inception graph
(`keras_vaes.metrics.fid.tfgan_inception_extractor`); the tables say which
extractor produced them. Before anything is measured the inference mode
is checked (`diagnostics.reconstruction_health`: reconstructions against
the mean image and the training MSE); a failure is a warning of the
result table, written at the top of `results.md`. Dai & Wipf's gamma_z noise at GEN-2 is a row of its own.
"""

import numpy as np

from keras_vaes import samplers
from keras_vaes.evaluation import protocol
from keras_vaes.metrics import diagnostics

# The paper's numbers (FID, mean +- std over ten trainings), Tables 1 and 2
# of the preprint text (variance_loss.txt), which kept every cell the
# postprint extraction lost. Blank cells of the paper are None.
PAPER_CAPTIONS = {"cifar10": "Table 1: CIFAR-10", "celeba": "Table 2: CelebA"}
# (dataset, row, REC, GEN-1, GEN-2)
PAPER_ROWS = (
    ("cifar10", "RAE-l2 [11] (128 vars)", "32.24±?", "80.8±?", "74.2±?"),
    ("cifar10", "2S-VAE [8]", None, "76.7±0.8", "72.9±0.9"),
    ("cifar10", "ours (balancing, no normalization)", "53.8±0.9", "80.2±1.3", "69.8±1.1"),
    ("cifar10", "ours with normalization", "53.5±0.9", "78.6±1.2", "69.4±1.0"),
    ("celeba", "RAE-SN [11]", "36.0±?", "44.7±?", "40.9±?"),
    ("celeba", "2S-VAE [8]", None, "60.5±0.6", "44.4±0.7"),
    ("celeba", "ours (balancing, no normalization)", "33.9±0.8", "43.6±1.3", "42.7±1.0"),
    ("celeba", "ours with normalization", "33.7±0.8", "42.7±1.2", "38.6±1.0"),
)

COLUMNS = ("REC", "GEN-1", "GEN-2")
# (row name, renormalise, rescale generated images, gamma_z noise at GEN-2)
ROWS = (
    ("ours (no normalization)", False, False, False),
    ("ours with normalization (authors' protocol)", True, False, False),
    ("ours with normalization + image rescaling (extension)", True, True, False),
    ("GEN-2 with gamma_z noise (Dai & Wipf), no normalization", False, False, True),
)
EVALUATION_COUNT = 10000


def evaluation_images(x_train, x_test, split="test", count=EVALUATION_COUNT, seed=0):
    """The evaluation images of the authors' two-stage protocol.

    Their latest code (`computed_gamma.py`, "Reintroduced testing on test
    set") shuffles the test split and keeps the first 10,000; they are the
    FID reference, the renormalisation statistics and the REC inputs.

    Args:
        x_train: training images (used with `split="train"`).
        x_test: test images.
        split: str. "test" (default, the authors': shuffled with `seed`,
            first `count`) or "train" (the first `count` training images).
        count: int. Defaults to 10,000.
        seed: int. Seed of the shuffle (the authors' is unseeded).

    Returns:
        Array `(min(count, N), H, W, C)`.
    """
    if split == "test":
        order = np.random.default_rng(seed).permutation(len(x_test))
        return x_test[order[:count]]
    if split == "train":
        return x_train[:count]
    raise ValueError(f"`split` must be 'test' or 'train'. Received: split={split!r}")


def evaluate_two_stage(model, reference, feature_model=None, fid_unavailable=None,
                       seed=0, batch_size=100, classifier=None, classifier_unavailable=None,
                       feature_description=None, target="authors", rec_sample=True,
                       renormalization_batch=100, keep_images=100, dataset=None, k=3,
                       notes=(), verbose=0):
    """Reconstructs, generates and measures, as the authors' evaluation: `protocol.evaluate` with their rows.

    Rows (`ROWS`): no normalisation; with normalisation as the authors'
    code runs it (latents renormalised, REC rescaled, generated images not
    rescaled); with normalisation plus rescaled generated images (the
    extension); GEN-2 with Dai & Wipf's gamma_z noise. Columns REC, GEN-1,
    GEN-2, each cell generated, measured and dropped before the next (only
    `keep_images` images per cell are kept for figures). Each row's extra
    columns: its settings, the variance loss and pixel std of every cell,
    the MSE of REC.

    Args:
        model: a trained `TwoStageVAE`.
        reference: evaluation images `(n, H, W, C)` in [0, 1]
            (`evaluation_images`: the authors' shuffled test split, first
            10,000); n images are generated per cell.
        feature_model: FID extractor, or None to skip FID.
        fid_unavailable: str. Why FID is skipped (written in the table).
        seed: int. Seed of the generations and of REC's sampled z (same
            seed with and without renormalisation, as Figure 6).
        batch_size: int.
        classifier: `FeatureExtractor` for "FD (classifier features)", or
            None.
        classifier_unavailable: str. Why FD is skipped.
        feature_description: str. Which extractor produced the FIDs.
        target: str. Renormalisation target: "authors" (default, sigma in
            the variance-law sum) or "variance_law" (sigma^2).
        rec_sample: bool. REC decodes a sampled z (True, the authors') or
            the posterior mean (False).
        renormalization_batch: int or None. See `TwoStageVAE.sample_latents`.
        keep_images: int. Images kept per cell in `table.images`.
        dataset: str or None. "cifar10" / "celeba" put the paper's rows
            (Tables 1 / 2) beside this run's; the title names it.
        k: int or None. Neighbours of precision / recall (None skips them).
        notes: sequence of str. Notes placed before the protocol's.
        verbose: int.

    Returns:
        A `protocol.ResultTable`; `warnings` says when the inference mode
        is broken (`diagnostics.reconstruction_health`).
    """
    n = len(reference)
    # The guard: inference-mode reconstructions must beat the mean image and
    # stay near the training MSE, or every number below is meaningless.
    health = model.reconstruction_health(reference, batch_size=batch_size)
    renorm = model.fit_renormalization(reference, batch_size=batch_size, seed=seed, target=target)
    z_mean, z_log_var = model.encode(reference, batch_size=batch_size)
    law = diagnostics.variance_law(z_mean, z_log_var)
    inactive = diagnostics.inactive_variables(z_mean, z_log_var)

    def image_sets(normalized, rescale, noise):
        def sets(model):
            for column in COLUMNS:
                if noise and column != "GEN-2":
                    continue  # the noise changes GEN-2 only: the other cells are row 1's
                if column == "REC":
                    yield column, model.reconstruct(reference, renormalize=normalized, sample=rec_sample,
                                                    seed=seed, batch_size=batch_size)["x_hat"]
                else:
                    yield column, model.generate(
                        n, stage=1 if column == "GEN-1" else 2, renormalize=normalized, seed=seed,
                        batch_size=batch_size, rescale_images=rescale,
                        renormalization_batch=renormalization_batch, latent_noise=noise,
                    )["x_hat"]
        return sets

    rows = [
        protocol.Row(name, ("GEN-2",) if noise else COLUMNS, image_sets(normalized, rescale, noise),
                     extras=lambda _, s=(normalized, rescale, noise): dict(
                         zip(("renormalize", "rescale_images", "latent_noise"), s)))
        for name, normalized, rescale, noise in ROWS
    ]

    def cell_measures(row, column, images):
        measured = {"variance loss": diagnostics.variance_loss(reference, images)["variance_loss"],
                    "pixel std": samplers.mean_std(images)}
        if column == "REC":
            measured["MSE"] = diagnostics.mse(reference, images)
        return measured

    protocol_notes = [
        f"renormalisation target: {target} "
        + ("(sigma in the variance-law sum, as the authors' code)" if target == "authors"
           else "(the variance law, sigma^2)"),
        "REC decodes " + ("a sampled z (as the authors)" if rec_sample else "the posterior mean"),
        (f"GEN-2 latents rescaled per generation batch of {renormalization_batch}"
         if renormalization_batch else "GEN-2 latents rescaled with the std of the whole sample"),
        "first-stage batch norm: " + ("TF1's debiased moving average (zero_debias=True, as the "
                                      "authors)" if model.first_stage.zero_debias
                                      else "Keras's plain moving average (zero_debias=False)"),
    ] + list(model.notes) + [f"reconstruction health: {health.summary()}"]
    paper = {}
    if dataset in PAPER_CAPTIONS:
        protocol_notes.append(f"rows marked — [value]: the paper's, {PAPER_CAPTIONS[dataset]}")
        paper = {name: {c: v for c, v in zip(COLUMNS, cells) if v is not None}
                 for table, name, *cells in PAPER_ROWS if table == dataset}
    elif dataset is not None:
        protocol_notes.append(f"The paper reports no two-stage numbers for {dataset}.")
    table = protocol.evaluate(
        model, reference, rows, feature_model, classifier=classifier,
        feature_description=feature_description, fid_unavailable=fid_unavailable,
        classifier_unavailable=classifier_unavailable, image_measures=cell_measures, k=k,
        batch_size=batch_size, keep_images=keep_images, paper=paper, verbose=verbose,
        title=f"Two-stage VAE with balancing — {dataset}" if dataset else "Two-stage VAE with balancing",
        notes=list(notes) + protocol_notes,
    )
    if not health.healthy:
        table.warnings.append("inference mode broken, the numbers below are not meaningful: "
                              + health.summary())
    table.diagnostics.update({
        "data pixel std": samplers.mean_std(reference),
        "variance law (mean, sigma^2)": law.mean,
        f"renormalisation target std ({target})": renorm.target_std,
        "inactive variables (var(mu) < 0.05)": inactive.count,
        "inactive variables (mean sigma^2 > 0.95)": inactive.count_by_posterior_variance,
        "stage-2 latent MSE (mse2)": renorm.latent_mse,
        "stage-2 latent variance loss (var_loss2)": renorm.latent_variance_loss,
        "var_loss2 / mse2": renorm.ratio,
        "latents renormalised (var_loss2/mse2 > 0.25)": renorm.renormalize_latents,
        "inference-mode REC MSE (posterior means)": health.mse,
        "mean-image MSE": health.mean_image_mse,
        "last training MSE (stage 1 estimate)": health.training_mse,
        "gamma_x": model.first_stage.gamma,
        "gamma_z": model.second_stage.gamma,
        "evaluation images": n,
    })
    table.arrays.update(variance_law=law.per_variable, inactive_mask=inactive.mask)
    return table
