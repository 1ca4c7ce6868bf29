"""Evaluation of a two-stage VAE in the layout of the variance-loss paper.

"Variance Loss in Variational Autoencoders", Tables 1 (CIFAR-10) and 2
(CelebA): FID of reconstructions (REC), of first-stage generations (GEN-1,
z ~ N(0, I)) and of second-stage generations (GEN-2), without and with the
renormalisation of section 4; next to them the diagnostics of the authors'
script: MSE, variance law, inactive variables, and the variance loss
(section 3) of reconstructions and generations.
"""

import csv
import os

import numpy as np

from keras_vaes import samplers
from keras_vaes.metrics import diagnostics, fid

# The paper's numbers (FID, mean +- std over ten trainings), Tables 1 and 2
# of the preprint text (variance_loss.txt), which kept every cell the
# postprint extraction lost. Blank cells of the paper are None.
PAPER_TABLES = {
    "cifar10": {
        "caption": "Table 1: CIFAR-10",
        "rows": [
            ("RAE-l2 [11] (128 vars)", "32.24±?", "80.8±?", "74.2±?"),
            ("2S-VAE [8]", None, "76.7±0.8", "72.9±0.9"),
            ("ours (balancing, no normalization)", "53.8±0.9", "80.2±1.3", "69.8±1.1"),
            ("ours with normalization", "53.5±0.9", "78.6±1.2", "69.4±1.0"),
        ],
    },
    "celeba": {
        "caption": "Table 2: CelebA",
        "rows": [
            ("RAE-SN [11]", "36.0±?", "44.7±?", "40.9±?"),
            ("2S-VAE [8]", None, "60.5±0.6", "44.4±0.7"),
            ("ours (balancing, no normalization)", "33.9±0.8", "43.6±1.3", "42.7±1.0"),
            ("ours with normalization", "33.7±0.8", "42.7±1.2", "38.6±1.0"),
        ],
    },
}

COLUMNS = ("REC", "GEN-1", "GEN-2")


def evaluate_two_stage(model, reference, feature_model=None, fid_unavailable=None,
                       seed=0, batch_size=100):
    """Reconstructs, generates and measures, as the authors' evaluation.

    Args:
        model: a trained `TwoStageVAE`.
        reference: images `(n, H, W, C)` in [0, 1] (the authors use the
            first 10,000 training images); n images are generated per
            cell.
        feature_model: `keras.Model` for FID, or None to skip FID.
        fid_unavailable: str. Why FID is skipped (written in the cells).
        seed: int. Seed of the generations (same seed with and without
            renormalisation, as the paper's Figure 6).
        batch_size: int.

    Returns:
        A dict: `"rows"` (one per normalisation setting, with FID cells and
        per-column variance loss and pixel std), `"diagnostics"` and
        `"images"` (the arrays, for sample grids).
    """
    n = len(reference)
    renorm = model.fit_renormalization(reference, batch_size=batch_size, seed=seed)
    z_mean, z_log_var = model.first_stage.encode(reference, batch_size=batch_size)
    law = diagnostics.variance_law(z_mean, z_log_var)
    inactive = diagnostics.inactive_variables(z_mean, z_log_var)
    reference_stats = None
    if feature_model is not None:
        reference_stats = fid.compute_statistics(reference, feature_model, batch_size=batch_size)

    rows, images = [], {}
    for normalized in (False, True):
        cells = {
            "REC": model.reconstruct(reference, renormalize=normalized, batch_size=batch_size),
            "GEN-1": model.generate(n, 1, normalized, seed=seed, batch_size=batch_size),
            "GEN-2": model.generate(n, 2, normalized, seed=seed, batch_size=batch_size),
        }
        row = {"model": "ours with normalization" if normalized else "ours (no normalization)"}
        for column, generated in cells.items():
            images[(column, normalized)] = generated
            row[f"{column} FID"] = (
                fid.fid_score(reference_stats, generated, feature_model, batch_size=batch_size)
                if reference_stats is not None else None
            )
            row[f"{column} variance loss"] = diagnostics.variance_loss(reference, generated)[
                "variance_loss"
            ]
            row[f"{column} pixel std"] = samplers.mean_std(generated)
        row["MSE"] = diagnostics.mse(reference, cells["REC"])
        rows.append(row)
    return {
        "rows": rows,
        "diagnostics": {
            "data pixel std": samplers.mean_std(reference),
            "variance law (mean)": law.mean,
            "inactive variables (var(mu) < 0.05)": inactive.count,
            "inactive variables (mean sigma^2 > 0.95)": inactive.count_by_posterior_variance,
            "stage-2 latent MSE (mse2)": renorm.latent_mse,
            "stage-2 latent variance loss (var_loss2)": renorm.latent_variance_loss,
            "latents renormalised (var_loss2/mse2 > 0.25)": renorm.renormalize_latents,
            "gamma_x": model.first_stage.gamma,
            "gamma_z": model.second_stage.gamma,
            "evaluation images": n,
        },
        "fid_unavailable": fid_unavailable,
        "images": images,
    }


def _fmt(value, digits=4):
    if value is None:
        return "—"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    return f"{value:.{digits}g}"


def write_results(results, dataset, output_dir, notes=()):
    """Writes `results.md` and `results.csv`; returns their paths."""
    os.makedirs(output_dir, exist_ok=True)
    why = results.get("fid_unavailable")
    empty = "n/a (1)" if why else "—"
    lines = [f"# Two-stage VAE with balancing — {dataset}", ""]
    lines += [f"- {note}" for note in notes]
    lines += ["", "## FID (paper layout)", ""]
    lines += ["| model | REC | GEN-1 | GEN-2 | source |", "|---|---|---|---|---|"]
    paper = PAPER_TABLES.get(dataset)
    if paper:
        for name, *cells in paper["rows"]:
            shown = [c if c is not None else "-" for c in cells]
            lines.append(f"| {name} | " + " | ".join(shown) + f" | paper, {paper['caption']} |")
    for row in results["rows"]:
        fids = [row[f"{c} FID"] for c in COLUMNS]
        shown = [_fmt(v, 4) if v is not None else empty for v in fids]
        lines.append(f"| {row['model']} | " + " | ".join(shown) + " | this run |")
    if why:
        lines += ["", f"(1) FID not computed: {why}"]
    if not paper:
        lines += ["", f"The paper reports no two-stage numbers for {dataset}."]
    lines += ["", "## Variance loss next to the MSE (this run)", ""]
    lines += ["| model | MSE (REC) | var. loss REC | var. loss GEN-1 | var. loss GEN-2 "
              "| pixel std REC | pixel std GEN-1 | pixel std GEN-2 |",
              "|---|---|---|---|---|---|---|---|"]
    for row in results["rows"]:
        cells = [row["MSE"]] + [row[f"{c} variance loss"] for c in COLUMNS]
        cells += [row[f"{c} pixel std"] for c in COLUMNS]
        lines.append(f"| {row['model']} | " + " | ".join(_fmt(v) for v in cells) + " |")
    lines += ["", "## Diagnostics", ""]
    lines += [f"- {name}: {_fmt(value)}" for name, value in results["diagnostics"].items()]
    md_path = os.path.join(output_dir, "results.md")
    with open(md_path, "w") as f:
        f.write("\n".join(lines) + "\n")

    csv_path = os.path.join(output_dir, "results.csv")
    with open(csv_path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["dataset", "model", "source", "metric", "value"])
        if paper:
            for name, *cells in paper["rows"]:
                for column, cell in zip(COLUMNS, cells):
                    writer.writerow([dataset, name, "paper", f"{column} FID", cell or ""])
        for row in results["rows"]:
            for key, value in row.items():
                if key != "model":
                    writer.writerow([dataset, row["model"], "this run", key,
                                     "" if value is None else value])
        for key, value in results["diagnostics"].items():
            writer.writerow([dataset, "ours", "this run", key, value])
    return md_path, csv_path
