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
>>> rows = sampler_matrix(model, x_train[:10000], x_test[:2000],
...                       classifier_extractor("mnist"))  # doctest: +SKIP
>>> write_sampler_matrix(rows, "sampler_matrix.md")  # doctest: +SKIP
"""

import copy
import csv
import io
import math
import time

import numpy as np

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
    """Whether `generate(sampler=None)` draws N(0, I) (then the `normal` row repeats it)."""
    if getattr(model, "prior", None) is not None:  # flow-prior VAE's RealNVP
        return False
    for attribute in ("generator", "second_stage", "second"):  # Prior-AAE, two-stage VAE
        if getattr(model, attribute, None) is not None:
            return False
    return True


def _to_unit_range(images, value_range):
    low, high = (float(v) for v in value_range)
    images = np.asarray(images, dtype=np.float32)
    return np.clip((images - low) / (high - low), 0.0, 1.0)


def _check_image_batch(images, name, image_shape):
    images = np.asarray(images)
    if images.ndim != 4 or (image_shape is not None and tuple(images.shape[1:]) != tuple(image_shape)):
        expected = f"(N, {', '.join(str(d) for d in image_shape)})" if image_shape else "(N, H, W, C)"
        raise ValueError(f"Expected `{name}` of shape {expected}. Received: {name}.shape={images.shape}")
    if images.shape[0] < 2:
        raise ValueError(f"`{name}` needs at least 2 images. Received: {name}.shape={images.shape}")
    return images


def _second_stage_factory(renormalize, options, seed):
    """A `SecondStageSampler` constructor, or the reason it is not available."""
    try:
        from keras_vaes.samplers.second_stage import SecondStageSampler
    except ImportError as error:  # an optional module: the row says why it is missing
        return None, f"keras_vaes.samplers.second_stage is not importable: {error}"
    kwargs = dict(options or {})
    kwargs.setdefault("seed", seed)

    def build():
        return SecondStageSampler(renormalize=renormalize, **kwargs)

    return build, None


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
    from keras_vaes import samplers

    latent_dim = int(model.latent_dim)
    factories = {
        "prior": (None, None),
        "normal": (lambda: samplers.NormalSampler(latent_dim, seed=seed), None),
        "gmm10": (lambda: samplers.GMMSampler(10, max_iter=gmm_max_iter, seed=seed), None),
        "gmm100": (lambda: samplers.GMMSampler(100, max_iter=gmm_max_iter, seed=seed), None),
        "gmm100_test_codes": (lambda: samplers.GMMSampler(100, max_iter=gmm_max_iter, seed=seed), None),
        "flow": (lambda: samplers.FlowSampler(seed=seed, **(flow_options or {})), None),
    }
    for name, renormalize in (("second_stage", False), ("second_stage_renormalized", True)):
        factories[name] = _second_stage_factory(renormalize, second_stage_options, seed)
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
    reference_features=None,
    **factory_options,
):
    """Fits every applicable latent sampler on training codes; scores each on test images.

    For each sampler: fit it on the posterior means of `train_images`
    (`model.encode(...).mean`), draw `num_samples` codes, decode them
    (`model.generate(n, sampler=..., seed=seed)["x_hat"]`), and compare the
    feature-model features of the generated images with those of
    `test_images`: FD (Split-VAE eq. (5)), improved precision and recall
    (Kynkäänniemi et al. 2019, eq. 1-2, `k` nearest neighbours), and the
    time `fit` took. Images are mapped from `model.value_range` to [0, 1]
    (and generated ones clipped) before the feature model.

    A sampler that cannot run here (e.g. the second stage when its module
    is not installed, or a GMM with more components than codes) gets a row
    with empty scores and the reason in `note`; the others still run.

    Args:
        model: a trained model of the package: `encode(images) ->
            Posterior`, `generate(n, sampler=, seed=) -> {"x_hat": ...}`,
            `latent_dim`, `value_range`, `image_shape`.
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
            own prior is N(0, I), since the rows would repeat).
        num_samples: int or None. Generated images per sampler; None gives
            `len(test_images)`.
        k: int. Neighbours of precision / recall. Defaults to 3.
        seed: int. Seeds the samplers and the draws. Defaults to 0.
        batch_size: int. Encoding / decoding / feature batch. Defaults to 100.
        factories: dict or None. Replaces or adds `{name: (factory, reason)}`
            entries of `default_sampler_factories`.
        reference_features: array `(M, d)` or None. The feature model's
            features of `test_images`, when the caller already has them
            (several models judged on one reference); None computes them.
        **factory_options: `gmm_max_iter`, `flow_options`,
            `second_stage_options`: passed to `default_sampler_factories`.

    Returns:
        A list of dicts, one per sampler, with keys `COLUMNS`: `sampler`,
        `fd`, `precision`, `recall`, `fit_seconds`, `generate_seconds`
        (floats, None when the sampler did not run), `num_samples`, `note`.
    """
    from keras_vaes import metrics

    image_shape = getattr(model, "image_shape", None)
    train_images = _check_image_batch(train_images, "train_images", image_shape)
    test_images = _check_image_batch(test_images, "test_images", image_shape)
    value_range = tuple(getattr(model, "value_range", (0.0, 1.0)))
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

    def features_of(images):
        return metrics.extract_features(_to_unit_range(images, value_range), feature_model,
                                        batch_size=batch_size, verbose=0)

    if reference_features is None:
        real_features = features_of(test_images)
    else:
        real_features = np.asarray(reference_features, dtype=np.float64)
        if real_features.ndim != 2 or len(real_features) != len(test_images):
            raise ValueError(
                "`reference_features` must be the (M, d) features of the M test images. "
                f"Received: reference_features.shape={real_features.shape}, "
                f"test_images.shape={test_images.shape}"
            )
    real_mu, real_sigma = np.mean(real_features, axis=0), np.cov(real_features, rowvar=False)
    codes = {}

    def codes_for(images_name):
        # The whole Posterior: a second stage trains on mu + sigma * eps, the others on the means.
        if images_name not in codes:
            images = train_images if images_name == "train" else test_images
            codes[images_name] = model.encode(images, batch_size=batch_size)
        return codes[images_name]

    fitted = {}

    rows = []
    for name in samplers:
        factory, reason = table[name]
        row = dict.fromkeys(COLUMNS)
        row.update(sampler=name, num_samples=int(num_samples), note=reason or "")
        if factory is None and reason is not None:
            rows.append(row)
            continue
        sampler, fit_seconds = None, 0.0
        try:
            if name == "second_stage_renormalized" and "second_stage" in fitted and factory is table[name][0]:
                # The same fitted second stage, renormalised: the two rows differ only by the rule.
                start = time.perf_counter()
                sampler = copy.copy(fitted["second_stage"])
                sampler.renormalize = True
                sampler.fit_renormalization(codes_for("train"))
                fit_seconds = time.perf_counter() - start
                row["note"] = "the second stage of row second_stage; fit_seconds: renormalisation statistics only"
            elif factory is not None:
                start = time.perf_counter()
                sampler = factory().fit(codes_for("test" if name.endswith("_test_codes") else "train"))
                fit_seconds = time.perf_counter() - start
            if sampler is not None:
                fitted[name] = sampler
            stats = getattr(sampler, "renormalization", None)
            if name == "second_stage_renormalized" and stats is not None:
                fired = "applied" if stats.renormalize_latents else "not applied (authors' rule did not fire)"
                row["note"] = (row["note"] + "; " if row["note"] else "") + (
                    f"var_loss2/mse2 = {stats.ratio:.3f}: renormalisation {fired}")
            start = time.perf_counter()
            generated = model.generate(int(num_samples), sampler=sampler, seed=seed, batch_size=batch_size)["x_hat"]
            generate_seconds = time.perf_counter() - start
        except (ValueError, ImportError, NotImplementedError) as error:
            row["note"] = f"{type(error).__name__}: {error}"
            rows.append(row)
            continue
        generated = np.asarray(generated)
        if not np.all(np.isfinite(generated)):
            row.update(fit_seconds=fit_seconds, generate_seconds=generate_seconds,
                       note="generated images contain NaN or inf")
            rows.append(row)
            continue
        fake_features = features_of(generated)
        fd = metrics.frechet_distance(real_mu, real_sigma, np.mean(fake_features, axis=0),
                                      np.cov(fake_features, rowvar=False))
        precision, recall = metrics.precision_recall(real_features, fake_features, k=k)
        row.update(fd=fd, precision=precision, recall=recall, fit_seconds=fit_seconds,
                   generate_seconds=generate_seconds)
        rows.append(row)
    return rows


def _format(value, digits):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def sampler_matrix_markdown(rows, title=None, notes=()):
    """Markdown lines of a sampler matrix: one row per sampler, the best FD / precision / recall in bold."""
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
            text = _format(r.get(key), digits)
            cells.append(f"**{text}**" if r.get(key) is not None and r[key] == best.get(key) else text)
        lines.append(
            f"| {r['sampler']} | " + " | ".join(cells)
            + f" | {_format(r.get('fit_seconds'), 1)} | {_format(r.get('generate_seconds'), 1)}"
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
        rows: the list `sampler_matrix` returns (dicts may carry extra keys,
            e.g. `preset`; the CSV keeps them after `COLUMNS`).
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
