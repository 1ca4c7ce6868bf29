"""Evaluation of a Split-VAE as the paper measures it (Table 1 layout).

FID (Split-VAE eq. (5), `keras_vaes.metrics.fid`) of reconstructions (REC),
of images generated from N(0, I) (GEN) and after ex-post GMM resampling
(GMM, `keras_vaes.samplers.GMMSampler` fitted on the encodings of the
reference images, as the authors' code), for x_hat, x1, x2 and their mix
(first half x1, second half x2); plus the latent diagnostics of the
variance-loss paper (variance law, inactive variables, variance loss).
"""

import csv
import os

import numpy as np

from keras_vaes import plotting
from keras_vaes.metrics import diagnostics, fid
from keras_vaes.samplers import GMMSampler, NormalSampler, decode_latents

# The Split-VAE paper's FID numbers, {row: {column: value}}.
# Table 1, MNIST (32 latent variables, 12,793,667 params), by beta.
PAPER_MNIST = {
    8.0: {"GEN": {"x_hat": 20.4}, "GMM-20": {"x_hat": 7.3}, "GMM-100": {"x_hat": 7.2}},
    3.0: {"GEN": {"x_hat": 41.1}, "GMM-20": {"x_hat": 7.2}, "GMM-100": {"x_hat": 4.8}},
}
# Table 3, CIFAR-10 (latent 200, beta 3, GMM with 100 components).
PAPER_CIFAR10 = {3.0: {"GEN": {"x_hat": 81.9}, "GMM-100": {"x_hat": 69.5}}}
# Table 4, CelebA (latent 150, beta 3): the caption gives the three GEN
# values for x_hat, x1, x2 and the GMM value (100 components) for the mix.
PAPER_CELEBA = {
    3.0: {"GEN": {"x_hat": 54.8, "x1": 49.0, "x2": 45.7}, "GMM-100": {"mix": 35.1}},
}

OUTPUT_COLUMNS = ("x_hat", "x1", "x2", "mix")


def mix_halves(outputs):
    """The authors' "mix": x1 for the first half of the samples, x2 after."""
    mixed = np.copy(outputs["x1"])
    half = len(mixed) // 2
    mixed[half:] = outputs["x2"][half:]
    return mixed


def evaluate_split_vae(
    model,
    reference_images,
    feature_model=None,
    gmm_components=(20, 100),
    gmm_fit_images=None,
    num_samples=10000,
    seed=0,
    batch_size=100,
    verbose=1,
):
    """Computes the Table 1 quantities for a (Split-)VAE.

    Args:
        model: a `SplitVAE` (or any model with `encode` / `decode`).
        reference_images: array (N, H, W, C) in [0, 1], the real images FID
            compares against (the authors: the 10k test images). The first
            `num_samples` are used.
        feature_model: a Keras feature extractor, or None to skip FID.
        gmm_components: tuple of ints. Defaults to (20, 100).
        gmm_fit_images: images whose `z_mean` the GMM is fitted on; None
            uses the reference images, as the authors' code.
        num_samples: int. Generated images per FID. Defaults to 10000.
        seed: int. Seed of every draw.

    Returns:
        A dict: `"fid"` {row: {column: value}}, `"diagnostics"`, and the
        decoded sample dicts under `"samples"` (for figures).
    """
    reference = reference_images[:num_samples]
    z_mean, z_log_var = model.encode(reference, batch_size=batch_size)
    law = diagnostics.variance_law(z_mean, z_log_var)
    inactive = diagnostics.inactive_variables(z_mean, z_log_var)
    reconstructions = decode_latents(model, z_mean, batch_size=batch_size)
    rec_metrics = diagnostics.variance_loss(reference, reconstructions["x_hat"])

    samples = {"REC": reconstructions}
    normal = NormalSampler(z_mean.shape[1])
    samples["GEN"] = decode_latents(model, normal.sample(num_samples, seed=seed), batch_size)
    fit_z = z_mean
    if gmm_fit_images is not None:
        fit_z = model.encode(gmm_fit_images[:num_samples], batch_size=batch_size)[0]
    for k in gmm_components:
        sampler = GMMSampler(k, max_iter=200, seed=seed).fit(fit_z)
        samples[f"GMM-{k}"] = decode_latents(model, sampler.sample(num_samples, seed=seed), batch_size)

    scores = {}
    if feature_model is not None:
        if verbose:
            print(f"FID: features of {len(reference)} reference images")
        ref_stats = fid.compute_statistics(reference, feature_model, batch_size=batch_size, verbose=verbose)
        for row, outputs in samples.items():
            columns = {"x_hat": outputs["x_hat"]}
            if "x1" in outputs:
                columns.update(x1=outputs["x1"], x2=outputs["x2"], mix=mix_halves(outputs))
            scores[row] = {}
            for column, images in columns.items():
                if verbose:
                    print(f"FID {row} {column}")
                scores[row][column] = fid.fid_score(
                    ref_stats, np.clip(images, 0.0, 1.0), feature_model,
                    batch_size=batch_size, verbose=verbose,
                )
    return {
        "fid": scores,
        "diagnostics": {
            "mse_rec": float(rec_metrics["mse"]),
            "variance_loss_rec": float(rec_metrics["variance_loss"]),
            "variance_law_mean": law.mean,
            "variance_law": law.per_variable,
            "inactive": inactive.count,
            "inactive_by_posterior_variance": inactive.count_by_posterior_variance,
            "inactive_mask": inactive.mask,
        },
        "samples": samples,
    }


def _cell(value):
    return "" if value is None else f"{value:.2f}"


def write_results(results, output_dir, paper=None, feature_description="", fid_reason=None, header=""):
    """Writes results.md and results.csv in the paper's table layout.

    Args:
        paper: {row: {column: value}} of the paper's numbers (e.g.
            `PAPER_MNIST[8.0]`), shown beside the obtained ones.
    """
    os.makedirs(output_dir, exist_ok=True)
    paper = paper or {}
    md = [header, "", f"FID feature model: {feature_description}", ""]
    if fid_reason:
        md += [f"FID cells are empty: {fid_reason}", ""]
    md += [
        "Each cell: obtained FID (the paper's value in brackets where it reports one).",
        "",
        "| samples | " + " | ".join(f"FID {c}" for c in OUTPUT_COLUMNS) + " |",
        "|---|" + "---|" * len(OUTPUT_COLUMNS),
    ]
    csv_rows = [["samples"] + [f"fid_{c}" for c in OUTPUT_COLUMNS] + [f"paper_{c}" for c in OUTPUT_COLUMNS]]
    for row in results["samples"]:
        values = [results["fid"].get(row, {}).get(c) for c in OUTPUT_COLUMNS]
        papers = [paper.get(row, {}).get(c) for c in OUTPUT_COLUMNS]
        cells = []
        for value, reported in zip(values, papers):
            cell = "n/a (no weights)" if fid_reason else (_cell(value) or "-")
            cells.append(cell + (f" [{reported}]" if reported is not None else ""))
        md.append(f"| {row} | " + " | ".join(cells) + " |")
        csv_rows.append(
            [row] + ["" if v is None else f"{v:.4f}" for v in values] + ["" if p is None else p for p in papers]
        )
    d = results["diagnostics"]
    md += [
        "",
        "| diagnostic | value |",
        "|---|---|",
        f"| MSE of reconstructions | {d['mse_rec']:.5f} |",
        f"| variance loss of reconstructions | {d['variance_loss_rec']:.5f} |",
        f"| variance law (mean over latents, expected ~1) | {d['variance_law_mean']:.4f} |",
        f"| inactive variables (var(z_mean) < 0.05) | {d['inactive']} |",
        f"| inactive variables (mean sigma^2 > 0.95) | {d['inactive_by_posterior_variance']} |",
    ]
    for key in ("mse_rec", "variance_loss_rec", "variance_law_mean", "inactive", "inactive_by_posterior_variance"):
        csv_rows.append([key, d[key]] + [""] * (2 * len(OUTPUT_COLUMNS) - 1))
    with open(os.path.join(output_dir, "results.md"), "w") as f:
        f.write("\n".join(md) + "\n")
    with open(os.path.join(output_dir, "results.csv"), "w", newline="") as f:
        csv.writer(f).writerows(csv_rows)
    return "\n".join(md)


def save_result_figures(results, output_dir, n=100):
    """GMM-resampled grid and the per-variable variance law with inactive marks."""
    gmm_rows = [r for r in results["samples"] if r.startswith("GMM")]
    paths = []
    if gmm_rows:
        row = gmm_rows[-1]
        paths.append(plotting.save_image_grid(
            results["samples"][row]["x_hat"][:n], os.path.join(output_dir, f"generated_{row.lower()}.png"),
            title=f"generated after {row} resampling",
        ))
    d = results["diagnostics"]
    paths.append(plotting.save_variance_law(
        d["variance_law"], os.path.join(output_dir, "variance_law.png"), inactive=d["inactive_mask"],
    ))
    return paths
