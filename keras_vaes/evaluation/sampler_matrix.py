"""Every latent sampler on one trained model, judged on held-out images.

The four papers each generate with their own sampler: N(0, I) (every
VAE), an ex-post Gaussian mixture (Split-VAE, section IV), a second VAE
on the latent space with or without variance renormalisation (two-stage
VAE; variance-loss paper, section 4), a learned or ex-post RealNVP flow
(learned-priors paper, eq. 4). `sampler_matrix` fits every applicable one
on the encodings of the TRAINING images and scores what each generates
against the TEST images, with one feature model:

- FD: the Fréchet distance of the features (Split-VAE eq. (5),
  `keras_vaes.metrics.frechet_distance`); with the package's classifier
  features it is "FD (classifier features)", not the papers' FID.
- precision / recall: improved precision and recall (Kynkäänniemi et al.
  2019, eq. 1-2, `keras_vaes.metrics.precision_recall`), which tell "sharp
  but few modes" from "diverse but blurry".
- fit_seconds: wall-clock time of the sampler's `fit`.

Fitting on training codes and scoring on test images keeps every score
off the data its sampler was fitted to. The Split-VAE authors fit their
GMM on the encodings of the test images they are then scored against;
that protocol stays available as the row `gmm100_test_codes`, labelled.

Example:

>>> import keras_vaes as kv  # doctest: +SKIP
>>> from keras_vaes.metrics import classifier_extractor  # doctest: +SKIP
>>> model = kv.load_pretrained("svae_mnist_10ep")  # doctest: +SKIP
>>> x_train, x_test = ...  # MNIST 32x32 in [0, 1]  # doctest: +SKIP
>>> table = sampler_matrix(model, x_train[:10000], x_test[:2000],
...                        classifier_extractor("mnist"))  # doctest: +SKIP
>>> write_sampler_matrix(table, "sampler_matrix.md")  # doctest: +SKIP
"""

import copy
import csv
import io
import time

import numpy as np

from keras_vaes.evaluation import protocol, tables
from keras_vaes.samplers import FlowSampler, GMMSampler, NormalSampler, SecondStageSampler
from keras_vaes.utils import atomic_write

# name -> what the row means (tables print it).
SAMPLER_DESCRIPTIONS = {
    "prior": "the model's own prior (`generate(sampler=None)`)",
    "normal": "N(0, I)",
    "gmm10": "GMM, 10 components, full covariance, fitted on training codes",
    "gmm100": "GMM, 100 components, full covariance, fitted on training codes",
    "flow": "RealNVP flow fitted ex post on training codes (learned-priors eq. 4)",
    "second_stage": "second-stage VAE fitted on training codes (two-stage VAE), no renormalisation",
    "second_stage_renormalized": (
        "second-stage VAE fitted on training codes, generated codes renormalised "
        "(variance-loss paper, section 4)"
    ),
    "gmm100_test_codes": (
        "Split-VAE paper protocol: GMM-100 fitted on the encodings of the test "
        "images it is scored against (optimistic)"
    ),
}
DEFAULT_SAMPLERS = (
    "prior", "normal", "gmm10", "gmm100", "second_stage", "second_stage_renormalized", "flow",
)
COLUMNS = ("sampler", "fd", "precision", "recall", "fit_seconds", "generate_seconds", "num_samples", "note")


def _own_prior_is_normal(model):
    """Whether `generate(sampler=None)` draws N(0, I) (then the `normal` row repeats it).

    The model's declared prior (`model.prior`, the contract): None is N(0, I).
    """
    return model.prior is None


def _check_image_batch(images, name, image_shape):
    images = np.asarray(images)
    if images.ndim != 4 or (image_shape is not None and tuple(images.shape[1:]) != tuple(image_shape)):
        expected = f"(N, {', '.join(str(d) for d in image_shape)})" if image_shape else "(N, H, W, C)"
        raise ValueError(f"Expected `{name}` of shape {expected}. Received: {name}.shape={images.shape}")
    if images.shape[0] < 2:
        raise ValueError(f"`{name}` needs at least 2 images. Received: {name}.shape={images.shape}")
    return images


def default_sampler_factories(model, *, seed=0, gmm_max_iter=200, flow_options=None, second_stage_options=None):
    """`{name: (factory or None, reason or None)}` for every sampler of the matrix.

    A factory builds an unfitted sampler (`fit(codes) -> self`,
    `sample(n, seed=None)`); `prior` has the factory None and no reason (the
    model's own `generate(sampler=None)`). A sampler that cannot be built
    has the factory None and the reason.

    Args:
        model: a model of the package (the model contract).
        seed: int. Seeds every sampler. Defaults to 0.
        gmm_max_iter: int. EM iterations of the mixtures. Defaults to 200
            (the Split-VAE authors').
        flow_options: dict or None. Keyword arguments of `FlowSampler`
            (e.g. `epochs`, `num_couplings`, `hidden_units`).
        second_stage_options: dict or None. Keyword arguments of
            `SecondStageSampler` besides `renormalize`.
    """
    latent_dim = int(model.latent_dim)
    factories = {
        "prior": (None, None),
        "normal": (lambda: NormalSampler(latent_dim, seed=seed), None),
        "gmm10": (lambda: GMMSampler(10, max_iter=gmm_max_iter, seed=seed), None),
        "gmm100": (lambda: GMMSampler(100, max_iter=gmm_max_iter, seed=seed), None),
        "gmm100_test_codes": (lambda: GMMSampler(100, max_iter=gmm_max_iter, seed=seed), None),
        "flow": (lambda: FlowSampler(seed=seed, **(flow_options or {})), None),
    }
    second = dict(second_stage_options or {})
    second.setdefault("seed", seed)
    for name, renormalize in (("second_stage", False), ("second_stage_renormalized", True)):
        factories[name] = (lambda r=renormalize: SecondStageSampler(renormalize=r, **second), None)
    return factories


def sampler_matrix(
    model,
    train_images,
    test_images,
    feature_model,
    *,
    samplers=None,
    num_samples=None,
    k=3,
    seed=0,
    batch_size=100,
    factories=None,
    **factory_options,
):
    """Fits every applicable latent sampler on training codes; scores each on test images.

    `protocol.evaluate` with one row per sampler and one column, "samples":
    fit the sampler on the posterior means of `train_images`
    (`model.encode(...).mean`), draw `num_samples` codes, decode them
    (`model.generate(n, sampler=..., seed=seed)["x_hat"]`), and compare the
    feature-model features of the generated images with those of
    `test_images`: FD (Split-VAE eq. (5)), improved precision and recall
    (Kynkäänniemi et al. 2019, eq. 1-2, `k` nearest neighbours). Images are
    mapped from `model.value_range` to [0, 1] (and generated ones clipped)
    before the feature model. Each row's extra columns: `fit_seconds`,
    `generate_seconds`, `num_samples`, `note`.

    A sampler that cannot run here (e.g. the second stage when its module
    is not installed, or a GMM with more components than codes) gets a row
    with empty scores and the reason in `note`; the others still run.

    Args:
        model: a trained model of the package: `encode(images) ->
            Posterior`, `generate(n, sampler=, seed=) -> {"x_hat": ...}`,
            `prior` (None: N(0, I)), `latent_dim`, `value_range`,
            `image_shape`.
        train_images: array `(N, H, W, C)` in the model's value range: the
            samplers are fitted on their encodings.
        test_images: array `(M, H, W, C)` in the model's value range: the
            reference of every score (and, for `gmm100_test_codes` only,
            the fitting set).
        feature_model: the judge: a `keras_vaes.metrics.FeatureExtractor`
            (e.g. `keras_vaes.metrics.classifier_extractor("mnist")`) or a
            `keras.Model` (Inception preprocessing).
        samplers: sequence of row names (keys of `SAMPLER_DESCRIPTIONS`), or
            None for `DEFAULT_SAMPLERS` (without `normal` when the model's
            declared prior is N(0, I), since the rows would repeat).
        num_samples: int or None. Generated images per sampler; None gives
            `len(test_images)`.
        k: int. Neighbours of precision / recall. Defaults to 3.
        seed: int. Seeds the samplers and the draws. Defaults to 0.
        batch_size: int. Encoding / decoding / feature batch. Defaults to 100.
        factories: dict or None. Replaces or adds `{name: (factory, reason)}`
            entries of `default_sampler_factories`.
        **factory_options: `gmm_max_iter`, `flow_options`,
            `second_stage_options`: passed to `default_sampler_factories`.

    Returns:
        A `protocol.ResultTable` (`matrix_rows` flattens it to one dict per
        sampler with keys `COLUMNS`).
    """
    image_shape = model.image_shape
    train_images = _check_image_batch(train_images, "train_images", image_shape)
    test_images = _check_image_batch(test_images, "test_images", image_shape)
    if num_samples is None:
        num_samples = len(test_images)
    if isinstance(num_samples, bool) or not isinstance(num_samples, (int, np.integer)) or num_samples <= k:
        raise ValueError(
            f"`num_samples` must be an integer > k={k} (precision / recall need k neighbours). "
            f"Received: num_samples={num_samples!r}"
        )
    if samplers is None:
        samplers = [s for s in DEFAULT_SAMPLERS if s != "normal" or not _own_prior_is_normal(model)]
    unknown = [s for s in samplers if s not in SAMPLER_DESCRIPTIONS and s not in (factories or {})]
    if unknown:
        raise ValueError(
            f"Unknown samplers {unknown}. Expected names among {sorted(SAMPLER_DESCRIPTIONS)} "
            "or keys of `factories`."
        )
    table = default_sampler_factories(model, seed=seed, **factory_options)
    table.update(factories or {})
    value_range = tuple(model.value_range)
    codes, fitted = {}, {}

    def codes_for(images_name):
        # The whole Posterior: a second stage trains on mu + sigma * eps, the others on the means.
        if images_name not in codes:
            images = train_images if images_name == "train" else test_images
            codes[images_name] = model.encode(images, batch_size=batch_size)
        return codes[images_name]

    def fit(name, factory):
        """The fitted sampler of row `name` (None: the model's prior), its seconds and a note."""
        if factory is None:
            return None, 0.0, ""
        start = time.perf_counter()
        if name == "second_stage_renormalized" and "second_stage" in fitted and factory is table[name][0]:
            # The same fitted second stage, renormalised: the two rows differ only by the rule.
            sampler = copy.copy(fitted["second_stage"])
            sampler.renormalize = True
            sampler.fit_renormalization(codes_for("train"))
            note = "the second stage of row second_stage; fit_seconds: renormalisation statistics only"
        else:
            sampler = factory().fit(codes_for("test" if name.endswith("_test_codes") else "train"))
            note = ""
        seconds = time.perf_counter() - start
        stats = getattr(sampler, "renormalization", None)
        if name == "second_stage_renormalized" and stats is not None:
            fired = "applied" if stats.renormalize_latents else "not applied (authors' rule did not fire)"
            note = (note + "; " if note else "") + f"var_loss2/mse2 = {stats.ratio:.3f}: renormalisation {fired}"
        return sampler, seconds, note

    def row(name):
        factory, reason = table[name]
        extras = {"fit_seconds": None, "generate_seconds": None, "num_samples": int(num_samples),
                  "note": reason or ""}

        def image_sets(model):
            if factory is None and reason is not None:
                return
            try:
                sampler, extras["fit_seconds"], extras["note"] = fit(name, factory)
                if sampler is not None:
                    fitted[name] = sampler
                start = time.perf_counter()
                generated = model.generate(int(num_samples), sampler=sampler, seed=seed,
                                           batch_size=batch_size)["x_hat"]
                extras["generate_seconds"] = time.perf_counter() - start
            except (ValueError, ImportError, NotImplementedError) as error:
                extras["note"] = f"{type(error).__name__}: {error}"
                return
            generated = np.asarray(generated)
            if not np.all(np.isfinite(generated)):
                extras["note"] = "generated images contain NaN or inf"
                return
            yield "samples", protocol.to_unit_range(generated, value_range)

        return protocol.Row(name, ("samples",), image_sets, extras=lambda model: extras)

    return protocol.evaluate(
        model, protocol.to_unit_range(test_images, value_range), [row(name) for name in samplers],
        feature_model, k=k, batch_size=batch_size,
        notes=[f"`{name}`: {SAMPLER_DESCRIPTIONS[name]}" for name in samplers if name in SAMPLER_DESCRIPTIONS],
    )


def matrix_rows(table):
    """One dict per sampler with keys `COLUMNS` (the ledger's and the tables' form of a sampler matrix)."""
    rows = []
    for name in table.rows:
        row = dict.fromkeys(COLUMNS)
        row.update(table.cell(name, "samples"), sampler=name)
        row.update({key: table.extras[name].get(key) for key in COLUMNS[4:]})
        rows.append(row)
    return rows


def sampler_matrix_markdown(rows, title=None, notes=()):
    """Markdown lines of a sampler matrix: one row per sampler, the best FD / precision / recall in bold.

    Args:
        rows: a `ResultTable` of `sampler_matrix`, or its `matrix_rows`
            (the form a ledger keeps).
        title: str or None. A heading.
        notes: lines appended under the table.
    """
    if isinstance(rows, protocol.ResultTable):
        rows = matrix_rows(rows)
    scored = [r for r in rows if r.get("fd") is not None]
    best = {}
    if scored:
        best = {
            "fd": min(r["fd"] for r in scored),
            "precision": max(r["precision"] for r in scored),
            "recall": max(r["recall"] for r in scored),
        }
    lines = [f"## {title}", ""] if title else []
    lines += [
        "| sampler | FD | precision | recall | fit (s) | generate (s) | samples | note |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        cells = []
        for key, digits in (("fd", 2), ("precision", 3), ("recall", 3)):
            text = tables.format_value(r.get(key), digits=digits)
            cells.append(f"**{text}**" if r.get(key) is not None and r[key] == best.get(key) else text)
        lines.append(
            f"| {r['sampler']} | " + " | ".join(cells)
            + f" | {tables.format_value(r.get('fit_seconds'), digits=1)}"
            + f" | {tables.format_value(r.get('generate_seconds'), digits=1)}"
            + f" | {r.get('num_samples', '')} | {r.get('note') or ''} |"
        )
    lines += [""] + [f"- `{name}`: {SAMPLER_DESCRIPTIONS[name]}" for name in
                     dict.fromkeys(r["sampler"] for r in rows) if name in SAMPLER_DESCRIPTIONS]
    lines += list(notes)
    return lines


def _text_writer(content):
    def write(tmp):
        with open(tmp, "w", newline="") as f:
            f.write(content)
    return write


def write_sampler_matrix_csv(rows, csv_path):
    """Writes rows as CSV: the `COLUMNS`, then any extra keys (e.g. `preset`). Returns the path."""
    if isinstance(rows, protocol.ResultTable):
        rows = matrix_rows(rows)
    extra = [k for r in rows for k in r if k not in COLUMNS]
    header = list(COLUMNS) + list(dict.fromkeys(extra))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=header)
    writer.writeheader()
    writer.writerows(rows)
    return atomic_write(csv_path, _text_writer(buffer.getvalue()))


def write_sampler_matrix(rows, md_path, csv_path=None, title=None, notes=()):
    """Writes the matrix as markdown (and CSV with the `COLUMNS`), atomically.

    Args:
        rows: the `ResultTable` of `sampler_matrix`, or `matrix_rows` dicts
            (which may carry extra keys, e.g. `preset`; the CSV keeps them
            after `COLUMNS`).
        md_path: str. Markdown file.
        csv_path: str or None. CSV file, or None for none.
        title: str or None. A heading.
        notes: lines appended under the table (what the judge is, sizes).

    Returns:
        The paths written.
    """
    text = "\n".join(sampler_matrix_markdown(rows, title, notes)) + "\n"
    paths = [atomic_write(md_path, _text_writer(text))]
    if csv_path is not None:
        paths.append(write_sampler_matrix_csv(rows, csv_path))
    return paths
