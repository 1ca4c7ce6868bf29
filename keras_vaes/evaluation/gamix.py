"""GAMIX-VAE against its baseline: the paper's qualitative claims, measured.

Rivera, "GAMIX-VAE", reports no numbers: only Fig. 2 (latent variants),
Fig. 3 (transitions, eq. (14)) and the claim that the mixture KL, the
variance regulariser and the PatchGAN give sharper, less collapsed results
than the same network trained as a standard VAE (section 5). This module
makes those claims measurable, for any number of trained models side by side:

- FID of reconstructions (posterior means decoded) and of N(0, I) samples
  against held-out data, with a pluggable feature extractor
  (`keras_vaes.metrics.fid`; Split-VAE eq. (5));
- sharpness: mean Laplacian energy of samples and reconstructions next to
  the data's (a blurry VAE output has less high-frequency energy);
- inactive latent variables (var(mu) < 0.05, the package's diagnostic) and
  the mean / variance of the encoder means per dimension (the statistics the
  batch-mixture KL, eq. (9)-(10), drives to 0 and 1).
"""

import csv
import os

import numpy as np

from keras_vaes.metrics import diagnostics, fid
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


def evaluate_gamix(models, data, feature_model=None, fid_unavailable=None, seed=0, batch_size=100):
    """Measures each model on held-out images.

    Args:
        models: dict name -> trained `GamixVAE` (e.g. GAMIX and its baseline).
        data: images in [-1, 1], `(n, H, W, C)`; n samples are generated per
            model and compared with them.
        feature_model: FID extractor (`FeatureExtractor`, `keras.Model`,
            path) or None to skip FID.
        fid_unavailable: str. Why FID is skipped (written in the table).
        seed: int. Seed of the N(0, I) samples (the same for every model).
        batch_size: int.

    Returns:
        A dict with `"rows"` (one dict per model), `"data"` (data sharpness,
        count), `"per_dimension"` (name -> (mean, var) of the encoder means
        per dimension), `"images"` (name -> {"samples", "reconstructions"}
        in [-1, 1]) and `"fid_unavailable"`.
    """
    data = check_signed_images(data)
    reference = to_unit_range(data)
    reference_stats = None
    if feature_model is not None:
        reference_stats = fid.compute_statistics(reference, feature_model, batch_size=batch_size)
    rows, per_dimension, images = [], {}, {}
    for name, model in models.items():
        z_mean, z_log_var = model.encode(data, batch_size=batch_size)
        reconstructions = model.decode(z_mean, batch_size=batch_size)["x_hat"]
        samples = model.generate(len(data), seed=seed, batch_size=batch_size)["x_hat"]
        inactive = diagnostics.inactive_variables(z_mean, z_log_var)
        mean_j, var_j = z_mean.mean(axis=0), z_mean.var(axis=0)
        row = {
            "model": name,
            "FID reconstructions": None,
            "FID samples": None,
            "L1 reconstruction": float(np.mean(np.abs(data - reconstructions))),
            "sharpness samples": laplacian_energy(to_unit_range(samples)),
            "sharpness reconstructions": laplacian_energy(to_unit_range(reconstructions)),
            "inactive dims (var(mu) < 0.05)": inactive.count,
            "latent dims": int(z_mean.shape[1]),
            "mean over dims of abs(mean(mu_j))": float(np.mean(np.abs(mean_j))),
            "mean over dims of var(mu_j)": float(np.mean(var_j)),
            "mean sigma^2": float(np.mean(np.exp(z_log_var))),
        }
        if reference_stats is not None:
            row["FID reconstructions"] = fid.fid_score(
                reference_stats, to_unit_range(reconstructions), feature_model, batch_size=batch_size
            )
            row["FID samples"] = fid.fid_score(
                reference_stats, to_unit_range(samples), feature_model, batch_size=batch_size
            )
        rows.append(row)
        per_dimension[name] = (mean_j, var_j)
        images[name] = {"samples": samples, "reconstructions": reconstructions}
    return {
        "rows": rows,
        "data": {"sharpness data": laplacian_energy(reference), "evaluation images": len(data)},
        "per_dimension": per_dimension,
        "images": images,
        "fid_unavailable": fid_unavailable,
    }


def _fmt(value):
    if value is None:
        return "—"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, str):
        return value
    return f"{value:.4g}"


COLUMNS = (
    "FID reconstructions", "FID samples", "L1 reconstruction", "sharpness samples",
    "sharpness reconstructions", "inactive dims (var(mu) < 0.05)", "mean over dims of abs(mean(mu_j))",
    "mean over dims of var(mu_j)", "mean sigma^2",
)


def write_results(results, output_dir, title="GAMIX-VAE", notes=(), fid_description=None):
    """Writes `results.md` and `results.csv` (and per-dimension CSV); returns the paths."""
    os.makedirs(output_dir, exist_ok=True)
    why = results.get("fid_unavailable")
    lines = [f"# {title}", "", f"**{PAPER_NOTE}**", ""]
    lines += [f"- {note}" for note in notes]
    if fid_description:
        lines.append(f"- FID feature extractor: {fid_description}")
    lines += [f"- data sharpness (mean Laplacian energy of the evaluation images): "
              f"{_fmt(results['data']['sharpness data'])}",
              f"- evaluation images: {results['data']['evaluation images']} (samples: as many)", ""]
    lines += ["| model | " + " | ".join(COLUMNS) + " |", "|---" * (len(COLUMNS) + 1) + "|"]
    for row in results["rows"]:
        cells = [_fmt(row[c]) if not (c.startswith("FID") and row[c] is None and why) else "n/a (1)"
                 for c in COLUMNS]
        lines.append(f"| {row['model']} | " + " | ".join(cells) + " |")
    lines += ["", "Sharpness: higher is sharper; compare with the data's. FID: lower is better. "
              "The batch-mixture KL drives mean(mu_j) to 0 and var(mu_j) to 1 (eq. 9-10)."]
    if why:
        lines += ["", f"(1) FID not computed: {why}"]
    md_path = os.path.join(output_dir, "results.md")
    with open(md_path, "w") as f:
        f.write("\n".join(lines) + "\n")
    csv_path = os.path.join(output_dir, "results.csv")
    with open(csv_path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["model", "source", "metric", "value"])
        for row in results["rows"]:
            for key in COLUMNS + ("latent dims",):
                writer.writerow([row["model"], "this run", key, "" if row[key] is None else row[key]])
        for key, value in results["data"].items():
            writer.writerow(["data", "this run", key, value])
        writer.writerow(["paper", "paper", "any metric", "the paper reports no numbers"])
    dims_path = os.path.join(output_dir, "latent_dimensions.csv")
    with open(dims_path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["model", "dimension", "mean of mu_j", "variance of mu_j"])
        for name, (mean_j, var_j) in results["per_dimension"].items():
            for j, (m, v) in enumerate(zip(mean_j, var_j)):
                writer.writerow([name, j, float(m), float(v)])
    return md_path, csv_path
