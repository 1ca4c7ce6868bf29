"""GAMIX-VAE against its baseline: the paper's qualitative claims, measured.

Rivera, "GAMIX-VAE", reports no numbers: only Fig. 2 (latent variants),
Fig. 3 (transitions, eq. (14)) and the claim that the mixture KL, the
variance regulariser and the PatchGAN give sharper, less collapsed results
than the same network trained as a standard VAE (section 5). This module
makes those claims measurable, for any number of trained models side by side
(`evaluate_gamix`: `keras_vaes.evaluation.protocol.evaluate`, one row per model):

- FD / precision / recall of reconstructions (posterior means decoded) and
  of N(0, I) samples against held-out data, with a pluggable feature
  extractor (`keras_vaes.metrics.fid`; Split-VAE eq. (5));
- sharpness: mean Laplacian energy of samples and reconstructions next to
  the data's (a blurry VAE output has less high-frequency energy);
- inactive latent variables (var(mu) < 0.05, the package's diagnostic) and
  the mean / variance of the encoder means per dimension (the statistics the
  batch-mixture KL, eq. (9)-(10), drives to 0 and 1).

`save_figures` draws Fig. 2 (latent variants) and Fig. 3 (transitions) of a
model.
"""

import os

import numpy as np

from keras_vaes import plotting

from keras_vaes.evaluation import protocol
from keras_vaes.metrics import diagnostics
from keras_vaes.models.gamix import check_signed_images, to_unit_range

PAPER_NOTE = (
    "The paper reports no numbers (only Figs. 2-3 and qualitative claims): every "
    "value below is from this run."
)


def laplacian_energy(images):
    """Mean squared discrete Laplacian of images in [0, 1] (a sharpness measure).

    For each channel, L = x[i-1, j] + x[i+1, j] + x[i, j-1] + x[i, j+1] -
    4 x[i, j] on the interior pixels; returns mean(L^2) over pixels,
    channels and images. Higher is sharper.

    Example:
    >>> import numpy as np
    >>> float(laplacian_energy(np.zeros((1, 3, 3, 1))))
    0.0
    """
    x = np.asarray(images, dtype=np.float64)
    if x.ndim != 4 or x.shape[1] < 3 or x.shape[2] < 3:
        raise ValueError(f"Expected images of shape (N, H, W, C), H, W >= 3. Received: images.shape={x.shape}")
    lap = (
        x[:, :-2, 1:-1] + x[:, 2:, 1:-1] + x[:, 1:-1, :-2] + x[:, 1:-1, 2:] - 4.0 * x[:, 1:-1, 1:-1]
    )
    return float(np.mean(lap**2))


COLUMNS = ("reconstructions", "samples")


def evaluate_gamix(models, data, feature_model=None, fid_unavailable=None, seed=0, batch_size=100,
                   classifier=None, classifier_unavailable=None, feature_description=None, k=3,
                   keep_images=100, title="GAMIX-VAE", notes=(), verbose=0):
    """Measures each model on held-out images: `protocol.evaluate` with one row per model.

    Columns: reconstructions (posterior means decoded) and N(0, I)
    samples, as many as `data`, mapped to [0, 1]. Each row's extra
    columns: L1 reconstruction (eq. (12), in [-1, 1]), the sharpness of
    each set (`laplacian_energy`; compare with the data's, a diagnostic),
    the inactive dimensions (var(mu) < 0.05), the latent dimensions, and
    the statistics the batch-mixture KL (eq. (9)-(10)) drives to 0 and 1.
    `table.arrays` holds each model's per-dimension mean and variance of
    mu_j.

    Args:
        models: dict name -> trained `GamixVAE` (e.g. GAMIX and its baseline).
        data: images in [-1, 1], `(n, H, W, C)`; n samples are generated per
            model and compared with them.
        feature_model: FID extractor (`FeatureExtractor`, `keras.Model`,
            path) or None to skip FID.
        fid_unavailable: str. Why FID is skipped (written in the table).
        seed: int. Seed of the N(0, I) samples (the same for every model).
        batch_size: int.
        classifier: `FeatureExtractor` for "FD (classifier features)", or None.
        classifier_unavailable: str. Why FD is skipped.
        feature_description: str or None. Which extractor produced the FIDs.
        k: int or None. Neighbours of precision / recall (None skips them).
        keep_images: int. Images kept per set for figures.
        title: str. The table's heading.
        notes: sequence of str. Notes placed after the paper's note.
        verbose: int.

    Returns:
        A `protocol.ResultTable`.
    """
    data = check_signed_images(data)
    reference = to_unit_range(data)
    per_dimension = {}

    def row(name, model):
        held = {}

        def extras(model):
            z_mean, z_log_var = model.encode(data, batch_size=batch_size)
            reconstructions = model.decode(z_mean, batch_size=batch_size)["x_hat"]
            held["reconstructions"] = to_unit_range(reconstructions)
            inactive = diagnostics.inactive_variables(z_mean, z_log_var)
            mean_j, var_j = z_mean.mean(axis=0), z_mean.var(axis=0)
            per_dimension[f"{name}: mean of mu_j"], per_dimension[f"{name}: variance of mu_j"] = mean_j, var_j
            return {
                "L1 reconstruction": float(np.mean(np.abs(data - reconstructions))),
                "inactive dims (var(mu) < 0.05)": inactive.count,
                "latent dims": int(z_mean.shape[1]),
                "mean over dims of abs(mean(mu_j))": float(np.mean(np.abs(mean_j))),
                "mean over dims of var(mu_j)": float(np.mean(var_j)),
                "mean sigma^2": float(np.mean(np.exp(z_log_var))),
            }

        def image_sets(model):
            yield "reconstructions", held.pop("reconstructions")
            samples = model.generate(len(data), seed=seed, batch_size=batch_size)["x_hat"]
            yield "samples", to_unit_range(samples)

        return protocol.Row(name, COLUMNS, image_sets, extras=extras, model=model)

    table = protocol.evaluate(
        None, reference, [row(name, model) for name, model in models.items()], feature_model,
        classifier=classifier, feature_description=feature_description, fid_unavailable=fid_unavailable,
        classifier_unavailable=classifier_unavailable, k=k, batch_size=batch_size, keep_images=keep_images,
        image_measures=lambda row, column, images: {"sharpness": laplacian_energy(images)},
        title=title, verbose=verbose,
        notes=[PAPER_NOTE] + list(notes) + [
            "Sharpness: mean Laplacian energy, higher is sharper; compare with the data's. FID: lower is "
            "better. The batch-mixture KL drives mean(mu_j) to 0 and var(mu_j) to 1 (eq. 9-10)."],
    )
    table.diagnostics.update({"sharpness data": laplacian_energy(reference), "evaluation images": len(data)})
    table.arrays.update(per_dimension)
    return table


def save_figures(model, images, directory, key, label, dims=(0, 3), steps=(-20.0, 0.0, 20.0), seed=0):
    """Fig. 2 (fig2_variants_<key>.png) and Fig. 3 (fig3_transitions_<key>.png) of `model`.

    Fig. 2: the first image with latent entries `dims` moved by `steps`
    posterior sigmas (`GamixVAE.latent_variants`); Fig. 3: transitions of
    eq. (14) between 4 pairs of `images` drawn with `seed`, 6 steps each.

    Args:
        model: a `GamixVAE`.
        images: held-out images in [-1, 1].
        directory: str. Where the figures go.
        key: str. Names the files.
        label: str. Starts the titles.
        dims: two ints. The latent entries moved.
        steps: floats. The moves, in units of the posterior sigma.
        seed: int. Seed of the pairs.

    Returns:
        The two paths.
    """
    pairs = np.random.default_rng(seed).choice(len(images), size=(4, 2), replace=False)
    variants = model.latent_variants(images[0], dims=tuple(dims), steps=tuple(steps))
    paths = [plotting.save_latent_variants(to_unit_range(variants), os.path.join(directory, f"fig2_variants_{key}.png"),
                                           steps, dims, title=f"{label}: variants (sigma units)")]
    rows = model.interpolate(images[pairs[:, 0]], images[pairs[:, 1]], steps=6)
    paths.append(plotting.save_image_grid(to_unit_range(rows.reshape((-1,) + rows.shape[2:])),
                                          os.path.join(directory, f"fig3_transitions_{key}.png"), ncols=6,
                                          title=f"{label}: transitions (eq. 14)"))
    return paths
