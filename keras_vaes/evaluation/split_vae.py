"""Evaluation of a Split-VAE as the paper measures it (Table 1 layout).

FID (Split-VAE eq. (5), `keras_vaes.metrics.fid`) of reconstructions (REC,
decoded from a sampled z as the authors' code), of images generated from
N(0, I) (GEN) and after ex-post GMM resampling (GMM,
`keras_vaes.samplers.GMMSampler` fitted on the encodings of the reference
images, as the authors' code), for x_hat, x1, x2 and their mix; plus the
latent diagnostics of the variance-loss paper (variance law, inactive
variables, variance loss). Next to FID, "FD (classifier features)" when a
classifier extractor is given (not comparable with the paper's FIDs).

Rows are computed one at a time: decoded, measured, and dropped but for
`keep_samples` images kept for figures, so a CelebA evaluation (10,000
64x64x3 images x 4 outputs x 4 rows, ~6.5 GB) never holds every set.
"""

import os

import keras
import numpy as np

from keras_vaes import plotting
from keras_vaes.evaluation import tables
from keras_vaes.layers import Sampling
from keras_vaes.metrics import diagnostics
from keras_vaes.samplers import GMMSampler, NormalSampler, decode_latents
from keras_vaes.utils import print_msg

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
MIX_MODES = ("authors", "random")
REC_LATENTS = ("sample", "mean")


def mix_halves(outputs, mode="authors", seed=0):
    """The "mix" column: x1 for half of the samples, x2 for the other half.

    - `mode="authors"` (default): x1 for the first half, x2 for the second
      (`img_mix[5000:] = img2[5000:]` in the authors' script). On their
      unshuffled GMM samples, grouped by component, this splits by
      component.
    - `mode="random"`: a random half (seeded permutation) takes x1.

    Args:
        outputs: dict with "x1" and "x2" arrays `(n, ...)`.
        mode: str. "authors" or "random".
        seed: int. Seed of the random half.

    Returns:
        Array like `outputs["x1"]`.
    """
    if mode not in MIX_MODES:
        raise ValueError(f"`mix` must be one of {MIX_MODES}. Received: mix={mode!r}")
    mixed = np.copy(outputs["x1"])
    n = len(mixed)
    second = (np.arange(n) >= n // 2) if mode == "authors" else np.zeros(n, bool)
    if mode == "random":
        second[np.random.default_rng(seed).permutation(n)[n // 2:]] = True
    mixed[second] = outputs["x2"][second]
    return mixed


def _columns(outputs, mix, seed):
    columns = {"x_hat": outputs["x_hat"]}
    if "x1" in outputs:
        columns.update(x1=outputs["x1"], x2=outputs["x2"], mix=mix_halves(outputs, mix, seed))
    return columns


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
    mix="authors",
    rec_latent="sample",
    classifier=None,
    classifier_unavailable=None,
    fid_unavailable=None,
    keep_samples=100,
):
    """Computes the Table 1 quantities for a (Split-)VAE, row by row.

    Args:
        model: a `SplitVAE` (or any model with `encode` / `decode`).
        reference_images: array (N, H, W, C) in [0, 1], the real images FID
            compares against (the authors: the 10k test images). The first
            `num_samples` are used.
        feature_model: FID feature extractor, or None to skip FID.
        gmm_components: tuple of ints. Defaults to (20, 100).
        gmm_fit_images: images whose `z_mean` the GMM is fitted on; None
            uses the reference images, as the authors' code.
        num_samples: int. Generated images per FID. Defaults to 10000.
        seed: int. Seed of every draw.
        mix: str. "authors" (default): GMM samples in scikit-learn's order
            (grouped by component), x1 for the first half, x2 for the
            second, as the authors' script; "random": shuffled GMM samples
            and a random half for x1 (`mix_halves`).
        rec_latent: str. "sample" (default): REC decodes z = mu + sigma *
            eps, as the authors' `through_latent`; "mean": the posterior
            mean.
        classifier: `FeatureExtractor` of classifier features for the
            "FD (classifier features)" cells, or None.
        classifier_unavailable: str. Why there is no FD.
        fid_unavailable: str. Why there is no FID.
        keep_samples: int. Decoded images kept per row for figures, evenly
            spaced over the row (the unshuffled GMM samples come grouped by
            component: the kept ones spread over the components).

    Returns:
        A dict: `"fid"` and `"fd"` {row: {column: value}}, `"diagnostics"`,
        `"mix"`, `"measures"` (extractor notes), and `keep_samples`
        decoded images of each row, evenly spaced, under `"samples"`.
    """
    if mix not in MIX_MODES:
        raise ValueError(f"`mix` must be one of {MIX_MODES}. Received: mix={mix!r}")
    if rec_latent not in REC_LATENTS:
        raise ValueError(f"`rec_latent` must be one of {REC_LATENTS}. Received: rec_latent={rec_latent!r}")
    reference = reference_images[:num_samples]
    z_mean, z_log_var = model.encode(reference, batch_size=batch_size)
    law = diagnostics.variance_law(z_mean, z_log_var)
    inactive = diagnostics.inactive_variables(z_mean, z_log_var)
    if verbose:
        print_msg(f"Reference statistics of {len(reference)} images")
    measures = tables.QualityMeasures(
        reference, feature_model, None, fid_unavailable, classifier, classifier_unavailable,
        k=None, batch_size=batch_size, verbose=0,
    )
    rows = 2 + len(gmm_components)

    def latents():
        """(row, z) one at a time, so that only one decoded row exists."""
        z_rec = z_mean
        if rec_latent == "sample":
            sampling = Sampling(seed=seed, dtype="float32")
            z_rec = keras.ops.convert_to_numpy(sampling([z_mean, z_log_var]))
        yield "REC", z_rec
        yield "GEN", NormalSampler(z_mean.shape[1]).sample(num_samples, seed=seed)
        fit_z = z_mean
        if gmm_fit_images is not None:
            fit_z = model.encode(gmm_fit_images[:num_samples], batch_size=batch_size)[0]
        for k in gmm_components:
            sampler = GMMSampler(k, max_iter=200, seed=seed).fit(fit_z)
            yield f"GMM-{k}", sampler.sample(num_samples, seed=seed, shuffle=(mix == "random"))

    scores = {tables.FID: {}, tables.FD: {}}
    samples, rec_metrics, progbar = {}, None, None
    if verbose and measures.available:
        print_msg(f"{' / '.join(measures.available)} of {rows} rows x their image columns")
    for row, z in latents():
        outputs = decode_latents(model, z, batch_size=batch_size)
        if row == "REC":
            rec_metrics = diagnostics.variance_loss(reference, outputs["x_hat"])
        columns = _columns(outputs, mix, seed)
        if verbose and progbar is None:  # one bar per evaluation: a step per (row, column)
            progbar = keras.utils.Progbar(rows * len(columns), unit_name="image set")
        for column, images in columns.items():
            for measure, cell in measures.score(images).items():
                scores[measure].setdefault(row, {})[column] = cell["fd"]
            if progbar is not None:
                progbar.add(1)
        samples[row] = {name: value[_spread(len(value), keep_samples)] for name, value in outputs.items()}
        outputs = columns = images = None  # the next row is decoded with none of this one alive
    return {
        "fid": scores[tables.FID],
        "fd": scores[tables.FD],
        "mix": mix,
        "rec_latent": rec_latent,
        "measures": measures.notes(),
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


MIX_NOTES = {
    "authors": "mix: GMM samples in scikit-learn's order (grouped by component), x1 for "
               "the first half, x2 for the second, as the authors' script",
    "random": "mix: shuffled GMM samples, a random half takes x1, the other x2 (not the "
              "authors' split by component)",
}


def write_results(results, output_dir, paper=None, feature_description="", fid_reason=None, header=""):
    """Writes results.md and results.csv in the paper's table layout.

    Args:
        results: from `evaluate_split_vae`.
        output_dir: str.
        paper: {row: {column: value}} of the paper's numbers (e.g.
            `PAPER_MNIST[8.0]`), shown beside the obtained FIDs.
        feature_description: str. Which extractor produced the FIDs.
        fid_reason: str or None. Why the FID cells are empty.
        header: str. Markdown placed above the table.

    Returns:
        The markdown text.
    """
    paper = paper or {}
    fd = results.get("fd", {})
    md = [header, "", f"FID feature model: {feature_description}", ""]
    notes = results.get("measures", [])
    if fid_reason and f"FID cells are empty: {fid_reason}" not in notes:  # said once
        md += [f"FID cells are empty: {fid_reason}", ""]
    md += [f"- {note}" for note in notes]
    md += [f"- {MIX_NOTES[results.get('mix', 'authors')]}",
           f"- REC decodes {'a sampled z (as the authors)' if results.get('rec_latent', 'sample') == 'sample' else 'the posterior mean'}",
           "", "Each FID cell: obtained FID (the paper's value in brackets where it reports one).", ""]
    header_cells = ["samples"] + [f"FID {c}" for c in OUTPUT_COLUMNS]
    if fd:
        header_cells += [f"{tables.FD} {c}" for c in OUTPUT_COLUMNS]
    rows = []
    csv_rows = [["samples"] + [f"fid_{c}" for c in OUTPUT_COLUMNS] + [f"paper_{c}" for c in OUTPUT_COLUMNS]
                + [f"fd_classifier_{c}" for c in OUTPUT_COLUMNS]]
    for row in results["samples"]:
        values = [results["fid"].get(row, {}).get(c) for c in OUTPUT_COLUMNS]
        papers = [paper.get(row, {}).get(c) for c in OUTPUT_COLUMNS]
        fds = [fd.get(row, {}).get(c) for c in OUTPUT_COLUMNS]
        empty = "n/a (no weights)" if fid_reason else "-"
        cells = [tables.format_value(v, paper=p, empty=empty) for v, p in zip(values, papers)]
        if fd:
            cells += [tables.format_value(v, empty="-") for v in fds]
        rows.append([row] + cells)
        csv_rows.append(
            [row] + ["" if v is None else f"{v:.4f}" for v in values] + ["" if p is None else p for p in papers]
            + ["" if v is None else f"{v:.4f}" for v in fds]
        )
    md += tables.markdown_table(header_cells, rows)
    d = results["diagnostics"]
    md += [""] + tables.markdown_table(["diagnostic", "value"], [
        ["MSE of reconstructions", f"{d['mse_rec']:.5f}"],
        ["variance loss of reconstructions", f"{d['variance_loss_rec']:.5f}"],
        ["variance law (mean over latents, expected ~1)", f"{d['variance_law_mean']:.4f}"],
        ["inactive variables (var(z_mean) < 0.05)", d["inactive"]],
        ["inactive variables (mean sigma^2 > 0.95)", d["inactive_by_posterior_variance"]],
    ])
    for key in ("mse_rec", "variance_loss_rec", "variance_law_mean", "inactive", "inactive_by_posterior_variance"):
        csv_rows.append([key, d[key]] + [""] * (3 * len(OUTPUT_COLUMNS) - 1))
    tables.write_table_files(output_dir, md, csv_rows)
    return "\n".join(md)


def _spread(n, keep):
    """Indices of `keep` of `n` images, evenly spaced (all of them when n <= keep).

    Unshuffled GMM samples come grouped by component: the first 100 would
    show one or two components, evenly spaced ones show them all.
    """
    if n <= keep:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, keep).round().astype(int))


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


def fid_curves(histories_by_label, components, outputs=("x_hat", "x1", "x2"), first_epoch=1):
    """FIDs along training as `{"split x1": (epochs, mean, std), ...}` (Figures 11, 14, 15).

    Args:
        histories_by_label: dict label -> list of `History.history` dicts
            (one per seed) holding `fid_gmm<components>_<output>` keys of
            `keras_vaes.callbacks.GMMFIDHistory`.
        components: int. GMM components of those FIDs.
        outputs: the decoder outputs to draw. Defaults to x_hat, x1, x2.
        first_epoch: int. Number of the first logged epoch. Defaults to 1.
    """
    from keras_vaes.callbacks import aggregate_fid_histories

    curves = {}
    for label, histories in histories_by_label.items():
        for output in outputs:
            key = f"fid_gmm{components}_{output}"
            if histories and all(key in h for h in histories):
                curves[f"{label} {output}"] = aggregate_fid_histories(
                    histories, key, first_epoch=first_epoch)
    return curves


def write_fid_evolution(curves, output_dir, description, title):
    """Writes fid_evolution.csv (curve, epoch, mean, std) and fid_evolution.png; returns the png's path.

    Args:
        curves: dict from `fid_curves`.
        output_dir: str. Folder of the two files.
        description: str. The feature extractor's description (names the
            measure on the axis: FID or FD).
        title: str. The figure's title.
    """
    rows = [[label, int(e), f"{m:.4f}", f"{s:.4f}"]
            for label, (epochs, mean, std) in curves.items() for e, m, s in zip(epochs, mean, std)]
    tables.write_csv(os.path.join(output_dir, "fid_evolution.csv"), [["curve", "epoch", "mean", "std"]] + rows)
    std_for = [k for k in curves if k in ("split x_hat", "split x1")] or None
    return plotting.save_fid_evolution(curves, os.path.join(output_dir, "fid_evolution.png"),
                                       ylabel=tables.measure_name(description), title=title,
                                       std_for=std_for)
