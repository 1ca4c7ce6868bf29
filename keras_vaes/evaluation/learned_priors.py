"""Evaluation of the learned-priors paper: Figure 3, Table 1, section 5.2.

"Empirical observations pertaining to learned priors for deep latent
variable models" measures:

- Figure 3: FID of generated samples against beta (log scale) for the VAE,
  the flow-prior VAE (FP-VAE), the AAE and the Prior-AAE
  (`sweep_table`, `write_sweep_results`; plotted by
  `keras_vaes.plotting.save_fid_vs_beta`). The figure's values are lost
  with the paper's figures: its claim is the trend, "FID scores typically
  decrease as beta is decreased for all models" (`beta_trend`).
- Table 1 (CelebA): linear separability (Karras et al.,
  `keras_vaes.metrics.linear_separability`) of z_0 and z_T of the proposed
  model and of the VAE's z, and FID (`PAPER_TABLE1`, `table1_rows`).
- The sweep (`evaluate_run`): each trained model's samples judged by the
  protocol's judges (`tables.QualityMeasures`: FD, precision, recall against
  the test images), its reconstruction error, separability and nearest
  neighbours, one row per (model, beta), recorded in a resumable ledger
  (`sweep_ledger`).
- Section 5.2: interpolation in Z_T, `D(lerp(E(x_a), E(x_b), t))`, vs in
  Z_0, `D(f^-1(slerp(f(E(x_a)), f(E(x_b)), t)))` (`interpolate_z_t`,
  `interpolate_z_0`), and the attribute vector of Figure 7
  (`attribute_vector`, `attribute_interpolation`).
"""

import os
import warnings

import keras
import numpy as np

from keras_vaes import plotting
from keras_vaes.datasets import CELEBA_SPLITS
from keras_vaes.evaluation import tables
from keras_vaes.ledger import Ledger
from keras_vaes.metrics import classifier, extractors, neighbours
from keras_vaes.metrics.fid import fid_score
from keras_vaes.metrics.separability import linear_separability, one_vs_rest_attributes
from keras_vaes.metrics.separability import single_class_attributes
from keras_vaes.samplers import lerp, slerp
from keras_vaes.utils import atomic_write, check_positive_int

# Table 1 of the paper (CelebA 128x128, latent 128). The beta-VAE row has
# one number in the extracted text, read as its separability.
PAPER_TABLE1 = {
    "VAE": {"separability": 2.14, "fid": 41.4},
    "beta-VAE": {"separability": 2.09},
    "proposed (z_0)": {"separability": 2.82, "fid": 33.1},
    "proposed (z_T)": {"separability": 1.67},
}
# Figure 3's claim (its values are not recoverable from the paper's text).
PAPER_FIGURE3_CLAIM = (
    "FID scores typically decrease as beta is decreased for all models (Figure 3; "
    "the figure's values are not in the paper's text)"
)
MODEL_NAMES = {
    "vae": "VAE (N(0, I) prior)",
    "fp_vae": "FP-VAE (flow prior)",
    "aae": "AAE (N(0, I) prior)",
    "prior_aae": "Prior-AAE (learned prior)",
}
SWEEP_COLUMNS = (
    "model", "beta", "steps", "fid", "precision", "recall", "reconstruction_mse", "separability_z",
    "separability_z0", "separability_zT", "single_class_attributes", "closer_to_test", "seconds",
)


# ---------------------------------------------------------------------------
# Codes of a model
# ---------------------------------------------------------------------------


def encode_codes(model, images, batch_size=100):
    """z_T = E(x): the posterior mean of a VAE, the code of an AAE."""
    return model.encode(images, batch_size=batch_size).mean


def _has_flow(model):
    prior = model.prior
    return prior is not None and hasattr(prior, "forward") and hasattr(prior, "inverse")


def _flow(model):
    prior = model.prior
    if not _has_flow(model):
        raise ValueError(
            "Interpolation in Z_0 needs an invertible learned prior (`model.prior` "
            f"with forward/inverse, e.g. the flow-prior VAE). Received: {type(model).__name__} "
            f"with prior={type(prior).__name__}"
        )
    return prior


def to_z0(model, z_t):
    """z_0 = f(z_T) through the model's flow (batched)."""
    prior = _flow(model)
    return np.concatenate([
        keras.ops.convert_to_numpy(prior.forward(z_t[i : i + 500])) for i in range(0, len(z_t), 500)
    ]).astype(np.float32)


def to_z_t(model, z_0):
    """z_T = f^-1(z_0) through the model's flow (batched)."""
    prior = _flow(model)
    return np.concatenate([
        keras.ops.convert_to_numpy(prior.inverse(z_0[i : i + 500])) for i in range(0, len(z_0), 500)
    ]).astype(np.float32)


# ---------------------------------------------------------------------------
# Interpolation (section 5.2, Figures 4, 7, 8)
# ---------------------------------------------------------------------------


def _positions(steps):
    return np.linspace(0.0, 1.0, check_positive_int(steps, "steps", minimum=2))


def _decode_path(model, path):
    # path: (T, N, d) -> images (N, T, H, W, C)
    steps, count, dim = path.shape
    images = model.decode(path.reshape(steps * count, dim))["x_hat"]
    images = images.reshape((steps, count) + images.shape[1:])
    return np.swapaxes(images, 0, 1)


def interpolate_codes_z_t(model, z_a, z_b, steps=8):
    """`D(lerp(z_a, z_b, t))`: interpolation in Z_T (section 5.2)."""
    return _decode_path(model, lerp(z_a, z_b, _positions(steps)))


def interpolate_codes_z_0(model, z_a, z_b, steps=8):
    """`D(f^-1(slerp(f(z_a), f(z_b), t)))`: interpolation in Z_0 (section 5.2)."""
    path = slerp(to_z0(model, z_a), to_z0(model, z_b), _positions(steps))
    flat = to_z_t(model, path.reshape(-1, path.shape[-1]))
    return _decode_path(model, flat.reshape(path.shape))


def interpolate_z_t(model, x_a, x_b, steps=8):
    """Two-image interpolation in Z_T: `D(lerp(E(x_a), E(x_b), t))`.

    Args:
        model: with `encode` and `decode` (any model of the paper).
        x_a, x_b: image batches `(N, H, W, C)`, paired row by row.
        steps: int >= 2. Positions t = linspace(0, 1, steps).

    Returns:
        Images `(N, steps, H, W, C)`.
    """
    return interpolate_codes_z_t(model, encode_codes(model, x_a), encode_codes(model, x_b), steps)


def interpolate_z_0(model, x_a, x_b, steps=8):
    """Two-image interpolation in Z_0: `D(f^-1(slerp(f(E(x_a)), f(E(x_b)), t)))`.

    slerp as White (2016) suggests for a Gaussian z_0 (paper, section 4).
    Needs the model's flow (`model.prior.forward/inverse`). Same arguments
    and output as `interpolate_z_t`.
    """
    return interpolate_codes_z_0(model, encode_codes(model, x_a), encode_codes(model, x_b), steps)


def attribute_vector(codes, attribute):
    """Mean code with the attribute minus the mean code without (section 5.2).

    Args:
        codes: array `(N, d)` of encodings E(x).
        attribute: array `(N,)` of 0/1 (or booleans).

    Returns:
        Array `(d,)`.
    """
    codes = np.asarray(codes, dtype=np.float64)
    attribute = np.asarray(attribute).astype(bool).reshape(-1)
    if codes.ndim != 2 or attribute.shape[0] != codes.shape[0]:
        raise ValueError(
            "`codes` must be (N, d) and `attribute` (N,). Received: "
            f"codes.shape={codes.shape}, attribute.shape={attribute.shape}"
        )
    if attribute.all() or not attribute.any():
        raise ValueError("`attribute` must have both values among the samples.")
    return (codes[attribute].mean(axis=0) - codes[~attribute].mean(axis=0)).astype(np.float32)


def attribute_interpolation(model, images, vector, steps=8):
    """Adding an attribute vector, in Z_0 and in Z_T (Figure 7).

    From E(x) to E(x) + vector: by lerp in Z_T, and by slerp of their flow
    images in Z_0 (mapped back by f^-1).

    Returns:
        `(z_0_rows, z_t_rows)`, images `(N, steps, H, W, C)` each.
    """
    start = encode_codes(model, images)
    end = start + np.asarray(vector, dtype=np.float32)[None]
    return interpolate_codes_z_0(model, start, end, steps), interpolate_codes_z_t(model, start, end, steps)


# ---------------------------------------------------------------------------
# Separability (section 5.1, Table 1)
# ---------------------------------------------------------------------------


def encoding_separability(model, images, attributes, keep=0.5):
    """Separability of the encodings of labelled images.

    The offline analogue of Table 1 when no attribute classifier labels
    generated images: z_T = E(x) of real images with their attributes
    (and z_0 = f(z_T) for a flow-prior model).

    Returns:
        A dict: `{"z": score}` for a model without flow, else
        `{"z_T": score, "z_0": score}`; and `"single_class"`, the number
        of attributes left with one label after pruning (counted as
        perfectly separable, see `single_class_attributes`).
    """
    z_t = encode_codes(model, images)
    return _scores(model, z_t, None, attributes, keep)


def _scores(model, z_t, z_0, attributes, keep):
    scores = {"single_class": single_class_attributes(attributes, keep=keep)}
    if z_0 is None and _has_flow(model):
        z_0 = to_z0(model, z_t)
    if z_0 is None:
        scores["z"] = linear_separability(z_t, attributes, keep=keep)
        return scores
    scores["z_T"] = linear_separability(z_t, attributes, keep=keep)
    scores["z_0"] = linear_separability(z_0, attributes, keep=keep)
    return scores


def generated_separability(model, classify, num_samples, keep=0.5, seed=0):
    """Separability as Karras et al. measure it: on generated samples.

    z_0 ~ N(0, I), z_T = f^-1(z_0) (flow prior), z_T = G(z_0) (Prior-AAE) or
    z_T = z_0 (a fixed prior), x = D(z_T),
    attributes = `classify(x)`; then `linear_separability` of each latent.

    Args:
        model: a flow-prior VAE, a Prior-AAE, or their N(0, I) baselines.
        classify: callable, images -> `(N, A)` attribute probabilities
            (e.g. a classifier's softmax: one-vs-rest classes).
        num_samples: int. Karras et al.: 200,000 (keeping half).
        keep: float. Defaults to 0.5.
        seed: int.

    Returns:
        A dict as `encoding_separability`.
    """
    z_0 = np.random.default_rng(seed).standard_normal((num_samples, model.latent_dim)).astype(np.float32)
    if model.prior is None:  # the declared prior: N(0, I)
        z_t, z_0 = z_0, None
    elif _has_flow(model):
        z_t = to_z_t(model, z_0)
    else:  # the Prior-AAE's code generator, z_T = G(z_0)
        z_t = np.asarray(keras.ops.convert_to_numpy(model.prior.code_generator(z_0, training=False)),
                         dtype=np.float32)
    attributes = np.asarray(classify(model.decode(z_t)["x_hat"]))
    return _scores(model, z_t, z_0, attributes, keep)


# ---------------------------------------------------------------------------
# The sweep (Figure 3, Table 1): one trained model judged
# ---------------------------------------------------------------------------


def stand_in_classifier(x_train, y_train, path, name="stand_in_classifier", verbose=0):
    """The package's classifier network trained one epoch on 20k images, for when none is shipped.

    Kept in `path` (a `.weights.h5`) and reused from there, so that a
    resumed sweep is measured with the same features.

    Returns:
        `(logits model, feature model)`.
    """
    model = classifier.build_classifier(name=name)
    if os.path.exists(path):
        model.load_weights(path)
    else:
        model.compile(optimizer=keras.optimizers.Adam(1e-3),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      metrics=["accuracy"])
        count = min(len(x_train), 20000)
        model.fit(x_train[:count], y_train[:count], batch_size=128, epochs=1, verbose=verbose)
        atomic_write(path, model.save_weights)
    return model, classifier.features_from_classifier(model)


def sweep_features(spec, dataset, x_train, y_train, x_test, y_test, stand_in_path, verbose=0):
    """The sweep's judge features and attribute labeller.

    Args:
        spec: "classifier" (the package's offline MNIST / Fashion-MNIST
            classifier, or a stand-in trained here when it is not shipped),
            or what `extractors.feature_model_from_spec` takes.
        dataset: str. The sweep's dataset.
        x_train, y_train, x_test, y_test: the data (the stand-in trains on
            the training split and reports its test accuracy).
        stand_in_path: str. Where the stand-in's weights are kept.
        verbose: int. Keras verbosity of the stand-in's training.

    Returns:
        `(feature model or None, description, reason if none, classify or
        None)`; `classify(images) -> (N, classes)` softmax probabilities,
        the attributes of generated images for `generated_separability`.
    """
    if spec != "classifier":
        model, description, reason = extractors.feature_model_from_spec(spec)
        return model, description, reason, None
    if dataset not in ("mnist", "fashion_mnist"):
        return None, "none", (f"no offline classifier for {dataset}; pass --feature-model inception "
                              "(with its ImageNet weights) or a .keras feature model"), None
    try:
        features = classifier.classifier_feature_model(dataset)
        logits = classifier.load_classifier(dataset)
        description = classifier.describe(dataset)
    except (FileNotFoundError, OSError, ValueError) as error:
        warnings.warn(f"The package's {dataset} classifier is not available ({error}); training a "
                      "stand-in for one epoch on 20k training images.", stacklevel=2)
        logits, features = stand_in_classifier(x_train, y_train, stand_in_path, verbose=verbose)
        accuracy = float(np.mean(np.argmax(logits.predict(x_test, verbose=0), 1) == y_test))
        description = (f"FD of a STAND-IN classifier's features (the package's classifier network, "
                       f"trained 1 epoch here, test accuracy {100 * accuracy:.2f}%; the shipped "
                       "classifier was not available); not comparable with the papers' FIDs")
        return features, description, None, None

    def classify(images):
        return keras.ops.convert_to_numpy(
            keras.ops.softmax(logits.predict(images, batch_size=200, verbose=0), axis=-1))

    return features, description, None, classify


def evaluate_run(model, kind, beta, judge, x_train, x_test, *, labels=None, attributes=None,
                 classify=None, num_samples=10000, separability_samples=10000, seed=0):
    """One (model, beta) of the sweep: its samples judged, reconstructions, separability, neighbours.

    Args:
        model: a trained model of the sweep (`configs.learned_priors.build_model`).
        kind: str. Its key in `MODEL_NAMES`.
        beta: float. Its KL / adversarial weight.
        judge: a `tables.QualityMeasures` on the test images (reference
            features computed once for the whole sweep).
        x_train, x_test: images in [0, 1].
        labels: test labels or None; their one-vs-rest attributes are the
            separability labels when neither `classify` nor `attributes` is
            given.
        attributes: array `(N, A)` of test attributes (CelebA) or None.
        classify: callable or None (see `sweep_features`): separability of
            generated samples, as Karras et al.
        num_samples: int. Samples judged (as many as the judge's reference).
        separability_samples: int.
        seed: int.

    Returns:
        `(row, samples)`: the row (`SWEEP_COLUMNS` but steps and seconds)
        and the samples in [0, 1]. Non-finite samples are not judged
        (a warning says so; the row's measures stay None).
    """
    samples = np.clip(model.generate(num_samples, seed=seed)["x_hat"], 0.0, 1.0)
    row = {"model": kind, "beta": beta, "fid": None}
    if not np.all(np.isfinite(samples)):
        warnings.warn(f"{kind} at beta={beta:g}: non-finite samples; not judged.", stacklevel=2)
        return row, samples
    cells = judge.score(samples)
    if cells:
        cell = next(iter(cells.values()))
        row.update(fid=cell["fd"], precision=cell["precision"], recall=cell["recall"])
    probe = x_test[:1000]
    row["reconstruction_mse"] = float(np.mean((model.reconstruct(probe)["x_hat"] - probe) ** 2))
    if kind in ("vae", "fp_vae"):
        count = min(separability_samples, len(x_test))
        if classify is not None:
            scores = generated_separability(model, classify, separability_samples, seed=seed)
        elif attributes is not None or labels is not None:
            chosen = attributes[:count] if attributes is not None else one_vs_rest_attributes(labels=labels[:count])
            scores = encoding_separability(model, x_test[:count], chosen)
        else:
            scores = {}
        row.update(separability_z=scores.get("z"), separability_z0=scores.get("z_0"),
                   separability_zT=scores.get("z_T"), single_class_attributes=scores.get("single_class"))
    row["closer_to_test"] = neighbours.train_test_neighbours(samples[:200], x_train, x_test, seed=seed)[
        "closer_to_test"]
    return row, samples


def record_run(model, kind, beta, judge, x_train, x_test, output, ledger, *, steps, seconds, features,
               save_weights=False, **evaluate_kwargs):
    """Evaluates one trained (model, beta) of the sweep (`evaluate_run`) and records it in `output`.

    Writes samples_<kind>_beta<b>.png (the first 100 samples) and, with
    `save_weights`, <kind>_beta<b>.weights.h5 (weights only, no optimizer
    state; a model with non-finite weights is measured but not saved, and a
    warning says so); appends the row to `ledger` (`sweep_ledger`).

    Args:
        model, kind, beta, judge, x_train, x_test: as `evaluate_run`.
        output: str. The sweep's folder.
        ledger: the sweep's `Ledger`.
        steps: int. Training steps of the run.
        seconds: float. Its training time.
        features: str. The judge's description (a key of the ledger).
        save_weights: bool. Export the weights.
        **evaluate_kwargs: `evaluate_run`'s keyword arguments.

    Returns:
        The ledger's record of the run.
    """
    name = f"{kind}_beta{beta:g}"
    if save_weights:
        try:
            model.export_weights(os.path.join(output, f"{name}.weights.h5"))
        except ValueError as error:  # the package refuses NaN weights
            warnings.warn(f"{name}: weights not saved ({error})", stacklevel=2)
    row, samples = evaluate_run(model, kind, beta, judge, x_train, x_test, **evaluate_kwargs)
    plotting.save_image_grid(samples[:100], os.path.join(output, f"samples_{name}.png"),
                             title=f"{MODEL_NAMES[kind]}, beta={beta:g}")
    return ledger.append(dict(row, steps=steps, seconds=seconds, features=features))


def evaluate_fp_vae(model, images, directory, labels=None, seed=0):
    """One trained FP-VAE on test images: reconstruction MSE, the prior's NLL of the codes, two figures.

    Writes samples.png (100 samples from the prior; one row per class
    when `labels` are given, for a class-conditional model) and
    reconstructions.png (50 test images, then their reconstructions).

    Args:
        model: a `FlowPriorVAE`.
        images: test images in [0, 1].
        directory: str. Where the figures go.
        labels: int array of the images' classes (a conditional model), or
            None.
        seed: int. Seed of the samples.

    Returns:
        dict: "test_mse" (per pixel, of the posterior means' decodings)
        and "test_prior_nll" (mean -log p(z) of the posterior means; NaN
        for a model without a learned prior).
    """
    reconstructions = model.reconstruct(images, labels=labels)["x_hat"]
    z_mean, _ = model.encode(images, labels=labels)
    nll = float("nan")
    if model.prior is not None:
        nll = float(-np.mean(keras.ops.convert_to_numpy(model.prior.log_prob(z_mean, labels))))
    grid_labels = None if labels is None else np.repeat(np.arange(10), 10)  # one row per class
    samples = model.generate(100, seed=seed, labels=grid_labels)["x_hat"]
    plotting.save_image_grid(samples, os.path.join(directory, "samples.png"), title="samples")
    plotting.save_image_grid(np.concatenate([images[:50], reconstructions[:50]]),
                             os.path.join(directory, "reconstructions.png"),
                             title="test images (top 5 rows) and reconstructions")
    return {"test_mse": float(np.mean((reconstructions - images) ** 2)), "test_prior_nll": nll}


def classifier_fd(model, images, dataset, num_samples=10000, labels=None, seed=0):
    """FD of the shipped classifier's features (NOT the papers' Inception FID) of samples vs `images`.

    Args:
        model: a trained model with `generate`.
        images: test images in [0, 1]; the first `num_samples` are the reference.
        dataset: str. Whose shipped classifier judges (`extractors.classifier_extractor_or_reason`).
        num_samples: int. Samples and test images compared.
        labels: the test labels (a conditional model samples the same classes), or None.
        seed: int. Seed of the samples.

    Returns:
        `(fd, None)`, or `(None, reason)` when no classifier ships for `dataset`.
    """
    extractor, reason = extractors.classifier_extractor_or_reason(dataset)
    if extractor is None:
        return None, reason
    n = min(num_samples, len(images))
    generated = np.clip(model.generate(n, seed=seed, labels=None if labels is None else labels[:n])["x_hat"], 0.0, 1.0)
    return float(fid_score(generated, images[:n], extractor)), None


def sweep_ledger(output):
    """The sweep's resumable ledger, `<output>/runs.jsonl`: one record per finished (model, beta).

    Keyed by model, beta, training steps and the judge's description, so a
    resumed sweep keeps only the runs measured alike.
    """
    return Ledger(os.path.join(output, "runs.jsonl"), key=("model", "beta", "steps", "features"))


def sweep_header(dataset, latent_dim, command, steps, batch_size, anneal_steps, gamma, num_images, fid_label):
    """The heading of results.md: the dataset, the command and each run's training and judging."""
    return (f"# Learned priors: {dataset}, latent {latent_dim}\n\nCommand: `{command}`\n\n"
            f"Each run: {steps} training steps of batch {batch_size} (Adam 1e-4, beta_1 0.5), KL "
            f"annealed over {anneal_steps} steps (the paper: 50,000), gamma {gamma:g}; {num_images} "
            f"generated vs {num_images} test images per {fid_label}.")


def sweep_notes(fid_label, fid_description, fid_reason, label_note, betas, reconstruction, dataset):
    """The notes of results.md: judges, labels, the columns' meaning, what differs from the paper."""
    described = fid_description if fid_description.startswith(fid_label) else f"{fid_label}: {fid_description}"
    notes = [f"{described}." + (f" Not computed: {fid_reason}" if fid_reason else ""),
             label_note,
             "single_class_attributes: attributes left with one label after the pruning; "
             "Karras et al.'s code counts them as perfectly separable (H = 0), so a "
             "separability near 1 with many of them means samples of few classes, not a "
             "disentangled latent space.",
             "precision / recall: improved precision and recall (Kynkaanniemi et al. 2019, k = 3) of "
             "the same features.",
             "closer_to_test: fraction of 200 samples whose nearest test image (pixels) is nearer "
             "than their nearest image among an equal number of training images.",
             "reconstruction_mse: mean squared error per pixel of 1,000 test reconstructions.",
             "fid_vs_beta.png: log-x axis; beta = 0 drawn at "
             f"{plotting.beta_positions(betas)[1]:g} (a decade below the smallest positive beta).",
             "The paper's Table 1 is CelebA 128x128; its numbers stand beside this run's for the "
             "layout only."]
    if reconstruction == "perceptual":
        notes.append("Reconstruction term: the VGG19 perceptual loss (relu1_1..relu4_1, "
                     "keras_vaes.losses.perceptual_loss), as the paper on CelebA.")
    elif dataset == "celeba":
        notes.append("Reconstruction term: squared error (--reconstruction l2); the paper trains "
                     "CelebA with the VGG19 perceptual loss (--reconstruction perceptual).")
    return notes


def label_note(classify, attributes, labels, count, separability_samples):
    """How the separability's attributes were obtained (a note of results.md)."""
    if classify is not None:
        return (f"Linear separability (Karras et al. protocol): {separability_samples} generated samples "
                "labelled by the classifier's softmax (ten one-vs-rest digit/class attributes), the most "
                "confident half kept.")
    if attributes is not None:
        return (f"Linear separability of the encodings of {count} CelebA test images with their "
                f"{attributes.shape[1]} annotated attributes (no attribute classifier offline; Karras "
                "et al. label generated images with one).")
    if labels is not None:
        return (f"Linear separability of the encodings of {count} test images with the ten one-vs-rest "
                "TRUE class labels (no classifier softmax available; Karras et al. label generated "
                "images with a classifier).")
    return "No labels: separability not measured."


# ---------------------------------------------------------------------------
# Figures 2, 4, 7, 8
# ---------------------------------------------------------------------------


def save_interpolation_figures(model, x_train, x_test, directory, pairs=6, steps=8, seed=0,
                               attributes=None, attribute_names=None, title="FP-VAE"):
    """interpolation.png (Figures 4 / 8), neighbours.png and, with CelebA's eyeglasses, Figure 7.

    Returns the paths written.
    """
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(x_test), size=(pairs, 2), replace=False)
    x_a, x_b = x_test[chosen[:, 0]], x_test[chosen[:, 1]]
    in_z0, in_zt = interpolate_z_0(model, x_a, x_b, steps), interpolate_z_t(model, x_a, x_b, steps)
    rows = [r for i in range(pairs) for r in ((f"Z_0 slerp {i}", in_z0[i]), (f"Z_T lerp {i}", in_zt[i]))]
    paths = [plotting.save_interpolation_rows(
        rows, os.path.join(directory, "interpolation.png"),
        starts=[x for x in x_a for _ in (0, 1)], ends=[x for x in x_b for _ in (0, 1)],
        title=f"{title}: test pairs, Z_0 (slerp) vs Z_T (lerp)")]
    samples = np.clip(model.generate(10, seed=seed + 1)["x_hat"], 0, 1)
    report = neighbours.train_test_neighbours(samples, x_train, x_test, equal_size=False)
    paths.append(plotting.save_neighbours(
        samples, x_train[report["train_index"]], x_test[report["test_index"]],
        os.path.join(directory, "neighbours.png"),
        title=f"{title} samples and nearest training / test images (pixels)"))
    if attributes is not None and "Eyeglasses" in (attribute_names or ()):
        glasses = attributes[:, attribute_names.index("Eyeglasses")]
        vector = attribute_vector(encode_codes(model, x_test[: len(glasses)]), glasses)
        without = np.flatnonzero(glasses == 0)[:pairs]
        in_z0, in_zt = attribute_interpolation(model, x_test[without], vector, steps)
        rows = [r for i in range(len(without)) for r in ((f"Z_0 {i}", in_z0[i]), (f"Z_T {i}", in_zt[i]))]
        paths.append(plotting.save_interpolation_rows(
            rows, os.path.join(directory, "attribute_interpolation.png"),
            starts=[x_test[j] for j in without for _ in (0, 1)],
            title="Adding the eyeglasses vector: Z_0 (slerp) vs Z_T (lerp) (Figure 7)"))
    return paths


def save_latent_figure(model, images, labels, path, seed=0, title=None):
    """Figure 2: f(E(x)), E(x) coloured by label, and f^-1(z_0) of prior samples (2-D latent)."""
    z_t = encode_codes(model, images)
    prior = np.asarray(model.sample_latents(len(images), seed=seed))
    return plotting.save_latent_panels(to_z0(model, z_t), z_t, labels, prior, path, title=title)


# ---------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------


def beta_trend(rows, model):
    """Does FID fall as beta falls? Spearman rank correlation of beta and FID.

    Args:
        rows: list of result dicts with `"model"`, `"beta"`, `"fid"`.
        model: the model key.

    Returns:
        `(rho, fid_at_lowest_beta, fid_at_highest_beta)`; rho > 0 means
        lower beta, lower FID (the paper's trend). None when fewer than
        two betas have an FID.
    """
    points = sorted(
        (r["beta"], r["fid"]) for r in rows
        if r["model"] == model and r.get("fid") is not None and np.isfinite(r["fid"])
    )
    if len(points) < 2:
        return None
    betas, fids = np.array(points).T
    rank = lambda v: np.argsort(np.argsort(v, kind="stable"), kind="stable").astype(float)
    rb, rf = rank(betas), rank(fids)
    if np.std(rb) == 0 or np.std(rf) == 0:
        rho = 0.0
    else:
        rho = float(np.corrcoef(rb, rf)[0, 1])
    return rho, float(fids[0]), float(fids[-1])


def sweep_table(rows, fid_label="FID"):
    """Figure 3 as a table: one row per model, one column per beta (markdown)."""
    betas = sorted({r["beta"] for r in rows})
    models = [m for m in MODEL_NAMES if any(r["model"] == m for r in rows)]
    header = "| model | " + " | ".join(f"beta={b:g}" for b in betas) + " | trend (Spearman rho of beta vs FID) |"
    lines = [f"{fid_label} of generated samples vs beta (lower is better).", "", header,
             "|---" * (len(betas) + 2) + "|"]
    for model in models:
        cells = []
        for beta in betas:
            match = [r for r in rows if r["model"] == model and r["beta"] == beta]
            cells.append(tables.format_value(match[0].get("fid")) if match else "")
        trend = beta_trend(rows, model)
        trend_text = "" if trend is None else (
            f"rho={trend[0]:+.2f}; FID {trend[1]:.2f} at the lowest beta vs {trend[2]:.2f} at the highest"
        )
        lines.append(f"| {MODEL_NAMES[model]} | " + " | ".join(cells) + f" | {trend_text} |")
    return "\n".join(lines)


def table1_rows(rows):
    """Table 1 layout from sweep rows: obtained beside the paper's numbers.

    VAE = the N(0, I) VAE at beta = 1; beta-VAE = the N(0, I) VAE at the
    largest beta > 1 if swept; proposed = the FP-VAE at its lowest beta
    (the paper: beta = 0), z_0 and z_T.
    """
    def pick(model, beta_filter, choose):
        candidates = [r for r in rows if r["model"] == model and beta_filter(r["beta"])]
        return choose(candidates, key=lambda r: r["beta"]) if candidates else None

    vae = pick("vae", lambda b: b == 1.0, max)
    beta_vae = pick("vae", lambda b: b > 1.0, max)
    proposed = pick("fp_vae", lambda b: True, min)
    table = []
    for name, row, sep_key, with_fid in (
        ("VAE", vae, "separability_z", True),
        ("beta-VAE", beta_vae, "separability_z", True),
        ("proposed (z_0)", proposed, "separability_z0", True),
        ("proposed (z_T)", proposed, "separability_zT", False),
    ):
        paper = PAPER_TABLE1[name]
        table.append({
            "row": name,
            "beta": None if row is None else row["beta"],
            "separability": None if row is None else row.get(sep_key),
            "paper_separability": paper.get("separability"),
            "fid": None if (row is None or not with_fid) else row.get("fid"),
            "paper_fid": paper.get("fid"),
        })
    return table


def write_sweep_results(rows, output, header="", fid_label="FID", notes=()):
    """Writes `results.csv` (one row per model and beta) and `results.md`.

    `results.md`: the header, the Figure 3 table (models x betas, with the
    paper's claim beside), the Table 1 layout with the paper's numbers
    beside the obtained ones, every row's details, and the notes (which
    features, which labels, what differs from the paper).

    Returns:
        The markdown text.
    """
    extra = sorted({k for r in rows for k in r} - set(SWEEP_COLUMNS))
    columns = list(SWEEP_COLUMNS) + extra
    csv_rows = [columns] + [["" if r.get(c) is None else r.get(c) for c in columns] for r in rows]
    parts = [header.strip(), "", "## Figure 3: FID vs beta", "",
             sweep_table(rows, fid_label), "", f"Paper: {PAPER_FIGURE3_CLAIM}.", ""]
    table1 = table1_rows(rows)
    fmt = tables.format_value
    parts += [
        "## Table 1 layout (the paper: CelebA 128x128; here: this run's data)", "",
        f"| | beta | separability (obtained) | separability (paper) | {fid_label} (obtained) | FID (paper) |",
        "|---|---|---|---|---|---|",
    ]
    for t in table1:
        parts.append(
            f"| {t['row']} | {fmt(t['beta'])} | {fmt(t['separability'])} | {fmt(t['paper_separability'])} "
            f"| {fmt(t['fid'])} | {fmt(t['paper_fid'], 1)} |"
        )
    parts += ["", "## Every run", "",
              "| " + " | ".join(SWEEP_COLUMNS) + " |", "|---" * len(SWEEP_COLUMNS) + "|"]
    for r in rows:
        parts.append("| " + " | ".join(
            tables.format_value(r.get(c), 3) if c != "model" else r["model"] for c in SWEEP_COLUMNS
        ) + " |")
    if notes:
        parts += ["", "## Notes", ""] + [f"- {n}" for n in notes]
    lines = "\n".join(parts).strip().split("\n")
    tables.write_table_files(output, lines, csv_rows)
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------
# CelebA attributes (Table 1, Figure 7)
# ---------------------------------------------------------------------------


def read_celeba_attributes(path):
    """Parses `list_attr_celeba.txt`: `(names, {filename: 0/1 array})`.

    The file: the image count, a line of 40 attribute names, then one line
    per image, `000001.jpg -1 1 ...` (1 present, -1 absent).
    """
    with open(path) as f:
        lines = [line.split() for line in f if line.strip()]
    if len(lines) < 3 or not lines[0][0].isdigit():
        raise ValueError(
            f"{path!r} is not a CelebA list_attr_celeba.txt (count line, names line, one "
            "line per image)."
        )
    names = lines[1]
    table = {}
    for fields in lines[2:]:
        if len(fields) != len(names) + 1:
            raise ValueError(
                f"{path!r}: expected {len(names)} attributes per image. Received: {fields[:3]}..."
            )
        table[fields[0]] = (np.asarray(fields[1:], dtype=int) > 0).astype(np.float32)
    return names, table


def celeba_split_attributes(attributes_path, folder, split, limit=None):
    """Attributes of the images `datasets.load_celeba` loads for `split`.

    Mirrors the loader's selection: the `.jpg` files of `folder` in sorted
    order within the official partition, the first `limit`.

    Returns:
        `(names, array (N, 40))`.
    """
    names, table = read_celeba_attributes(attributes_path)
    start, stop = CELEBA_SPLITS[split]
    files = sorted(f for f in os.listdir(folder) if f.endswith(".jpg"))
    files = [f for f in files if start < int(os.path.splitext(f)[0]) <= stop][:limit]
    missing = [f for f in files if f not in table]
    if missing:
        raise ValueError(f"{attributes_path!r} lacks attributes of {missing[:3]} ({len(missing)} images).")
    return names, np.stack([table[f] for f in files]) if files else np.zeros((0, len(names)))
