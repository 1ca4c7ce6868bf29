"""Evaluation of a Split-VAE as the paper measures it (Table 1 layout).

FID (Split-VAE eq. (5), `keras_vaes.metrics.fid`) of reconstructions (REC,
decoded from a sampled z as the authors' code), of images generated from
N(0, I) (GEN) and after ex-post GMM resampling (GMM,
`keras_vaes.samplers.GMMSampler` fitted on the encodings of the reference
images, as the authors' code), for x_hat, x1, x2 and their mix; plus the
latent diagnostics of the variance-loss paper (variance law, inactive
variables, variance loss). Next to FID, "FD (classifier features)" when a
classifier extractor is given (not comparable with the paper's FIDs).

It is `keras_vaes.evaluation.protocol.evaluate` with the paper's rows:
each row is decoded, measured, and dropped but for `keep_images` images
kept for figures, so a CelebA evaluation (10,000
64x64x3 images x 4 outputs x 4 rows, ~6.5 GB) never holds every set.
`evaluate_paper_table` titles and annotates it as the paper's Tables 1, 3
and 4, judged by a named feature model and the dataset's shipped
classifier; `save_generated_figures` draws Figures 1-4 and 7 / 10 / 12,
`write_training_fids` Figures 11, 14 and 15.
"""

import os

import keras
import numpy as np

from keras_vaes import plotting
from keras_vaes.callbacks import aggregate_fid_histories
from keras_vaes.evaluation import protocol, tables
from keras_vaes.layers import Sampling
from keras_vaes.metrics import diagnostics, extractors
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


MIX_NOTES = {
    "authors": "mix: GMM samples in scikit-learn's order (grouped by component), x1 for "
               "the first half, x2 for the second, as the authors' script",
    "random": "mix: shuffled GMM samples, a random half takes x1, the other x2 (not the "
              "authors' split by component)",
}


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
    feature_description=None,
    keep_images=100,
    paper=None,
    k=3,
    title="",
    notes=(),
):
    """The Table 1 quantities of a (Split-)VAE: `protocol.evaluate` with the paper's rows.

    Rows REC, GEN, GMM-k (`gmm_components`); columns x_hat, x1, x2, mix
    (x_hat only for a model without the split). Each row is decoded,
    measured and dropped before the next. Row REC carries the MSE and the
    variance loss of its x_hat as extra columns; the diagnostics hold the
    variance law (mean) and the inactive variables, `table.arrays` the
    per-variable variance law and the inactive mask (for the figure).

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
        batch_size: int. Defaults to 100.
        verbose: int. 1 shows one progress bar over the image sets.
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
        feature_description: str or None. Which extractor produced the FIDs.
        keep_images: int. Decoded images kept per set for figures, evenly
            spaced (the unshuffled GMM samples come grouped by component:
            the kept ones spread over the components).
        paper: {row: {column: value}} of the paper's FIDs (e.g.
            `PAPER_MNIST[8.0]`), shown beside the obtained ones.
        k: int or None. Neighbours of precision / recall (None skips them).
        title: str. The table's heading.
        notes: sequence of str. Notes placed before the protocol's.

    Returns:
        A `protocol.ResultTable`.
    """
    if mix not in MIX_MODES:
        raise ValueError(f"`mix` must be one of {MIX_MODES}. Received: mix={mix!r}")
    if rec_latent not in REC_LATENTS:
        raise ValueError(f"`rec_latent` must be one of {REC_LATENTS}. Received: rec_latent={rec_latent!r}")
    reference = reference_images[:num_samples]
    z_mean, z_log_var = model.encode(reference, batch_size=batch_size)
    law = diagnostics.variance_law(z_mean, z_log_var)
    inactive = diagnostics.inactive_variables(z_mean, z_log_var)
    # The decoder's outputs say whether the model splits (x1, x2) or not.
    columns = tuple(_columns(decode_latents(model, z_mean[:1], batch_size=1), mix, seed))

    def decoded_row(latents):
        def image_sets(model):
            outputs = decode_latents(model, latents(), batch_size=batch_size)
            yield from _columns(outputs, mix, seed).items()
        return image_sets

    def rec_latents():
        if rec_latent == "mean":
            return z_mean
        return keras.ops.convert_to_numpy(Sampling(seed=seed, dtype="float32")([z_mean, z_log_var]))

    fit_codes = {}

    def gmm_latents(components):
        def latents():
            if "z" not in fit_codes:  # encoded once for every GMM row
                fit_codes["z"] = z_mean if gmm_fit_images is None else model.encode(
                    gmm_fit_images[:num_samples], batch_size=batch_size)[0]
            sampler = GMMSampler(components, max_iter=200, seed=seed).fit(fit_codes["z"])
            return sampler.sample(num_samples, seed=seed, shuffle=(mix == "random"))
        return latents

    rows = [
        protocol.Row("REC", columns, decoded_row(rec_latents)),
        protocol.Row("GEN", columns, decoded_row(
            lambda: NormalSampler(z_mean.shape[1]).sample(num_samples, seed=seed))),
    ] + [protocol.Row(f"GMM-{c}", columns, decoded_row(gmm_latents(c))) for c in gmm_components]

    def rec_measures(row, column, images):
        if (row, column) != ("REC", "x_hat"):
            return {}
        rec = diagnostics.variance_loss(reference, images)
        return {"MSE": float(rec["mse"]), "variance loss": float(rec["variance_loss"])}

    rec_note = "REC decodes " + ("a sampled z (as the authors)" if rec_latent == "sample"
                                 else "the posterior mean")
    table = protocol.evaluate(
        model, reference, rows, feature_model, classifier=classifier,
        feature_description=feature_description, fid_unavailable=fid_unavailable,
        classifier_unavailable=classifier_unavailable, image_measures=rec_measures, k=k,
        batch_size=batch_size, keep_images=keep_images, title=title, paper=paper,
        notes=list(notes) + [MIX_NOTES[mix], rec_note], verbose=verbose,
    )
    table.diagnostics.update({
        "variance law (mean over latents, expected ~1)": law.mean,
        "inactive variables (var(z_mean) < 0.05)": inactive.count,
        "inactive variables (mean sigma^2 > 0.95)": inactive.count_by_posterior_variance,
    })
    table.arrays.update(variance_law=law.per_variable, inactive_mask=inactive.mask)
    return table


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


def evaluate_paper_table(model, reference_images, dataset, feature_model="inception", *,
                         gmm_components=(20, 100), gmm_fit_images=None, num_samples=10000, seed=0,
                         mix="authors", paper_by_beta=None, paper_table=None, weights="", verbose=1):
    """`evaluate_split_vae` as the paper reports it (Tables 1, 3, 4): judged, titled and annotated.

    FID with `feature_model` and, beside it, the offline "FD (classifier
    features)" of `dataset`'s shipped classifier (MNIST; NOT comparable
    with the paper's FIDs). The title names the dataset, latent size, beta,
    split or vanilla and trainable parameters; the notes the weights, the
    image counts, where the GMM was fitted and the paper's table.

    Args:
        model: a `SplitVAE`.
        reference_images: the test images, in [0, 1] (the first
            `num_samples` are used).
        dataset: str. "mnist", "cifar10" or "celeba": names the table and
            picks the shipped classifier.
        feature_model: str or None. A spec of
            `keras_vaes.metrics.extractors.feature_model_from_spec`
            ("inception", "tfgan[:graph.pb]", a `.keras` path), or
            "classifier" for the classifier's FD alone.
        gmm_components, num_samples, seed, mix: as `evaluate_split_vae`.
        gmm_fit_images: images whose encodings the GMM is fitted on (the
            training images), or None for the test images (the authors').
        paper_by_beta: `{beta: {row: {column: value}}}` of the paper's FIDs
            (e.g. `PAPER_MNIST`); the model's beta picks the row set.
        paper_table: str or None. The paper's table, e.g. "Table 1".
        weights: str. Where the weights come from, for the notes.
        verbose: int. 1 shows the evaluation's progress bar.

    Returns:
        A `protocol.ResultTable`.
    """
    if feature_model == "classifier":
        fid_model, description, fid_reason = (
            None, "classifier features only (feature model 'classifier')", "not requested")
    else:
        fid_model, description, fid_reason = extractors.feature_model_from_spec(feature_model)
    classifier, classifier_reason = extractors.classifier_extractor_or_reason(dataset)
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    kind = "split" if model.split else "vanilla"
    paper_note = f" Paper: {paper_table}, beta={model.beta:g} (Inception features)." if paper_table else ""
    return evaluate_split_vae(
        model, reference_images, feature_model=fid_model, gmm_components=tuple(gmm_components),
        gmm_fit_images=gmm_fit_images, num_samples=num_samples, seed=seed, mix=mix, verbose=verbose,
        classifier=classifier, classifier_unavailable=classifier_reason, fid_unavailable=fid_reason,
        feature_description=description, paper=(paper_by_beta or {}).get(model.beta, {}),
        title=(f"Split-VAE, {dataset} (latent {model.latent_dim}, beta {model.beta:g}, {kind}; "
               f"{trainable:,} trainable params)"),
        notes=[f"Weights: {weights}; {min(len(reference_images), num_samples)} test images vs "
               f"{num_samples} samples per FID; GMM fitted on "
               f"{'test' if gmm_fit_images is None else 'train'} encodings.{paper_note}"],
    )


def save_generated_figures(model, directory, count=100, seed=0):
    """Figures 1-4 (split_rows.png: sigma, x1, x2, x_hat of 10 samples) and 7 / 10 / 12 (generated.png).

    `count` images from N(0, I); a vanilla model has no split rows.
    Returns the paths written.
    """
    generated = model.generate(count, seed=seed)
    paths = []
    if model.split:
        paths.append(plotting.save_split_rows(generated, os.path.join(directory, "split_rows.png"), n=10))
    paths.append(plotting.save_image_grid(generated["x_hat"], os.path.join(directory, "generated.png")))
    return paths


def write_training_fids(histories_by_label, components, output_dir, description, name, first_epoch=1):
    """Figures 11, 14, 15: the FIDs along training of `fid_curves`, written by `write_fid_evolution`.

    One history per label is one run's curve ("`name`: FID after GMM-k
    along training"); several (the ablation's seeds) their mean and std.
    Returns the png's path.

    Args:
        histories_by_label: as `fid_curves`.
        components: int. GMM components of the FIDs.
        output_dir: str. Folder of fid_evolution.csv and .png.
        description: str. The feature extractor's description.
        name: str. Starts the title (e.g. the dataset).
        first_epoch: int. Number of the first logged epoch.
    """
    seeds = max(len(histories) for histories in histories_by_label.values())
    over = (" along training" if len(histories_by_label) == 1 and seeds == 1
            else f", mean +- std over {seeds} seed(s)")
    title = f"{name}: {tables.measure_name(description)} after GMM-{components}{over}"
    return write_fid_evolution(fid_curves(histories_by_label, components, first_epoch=first_epoch),
                               output_dir, description, title)
