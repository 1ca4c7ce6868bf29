"""The training gate: has a model learned enough for its samples to be judged?

A comparison of two generative models says something about their ideas
only when both have learned: a model that reconstructs no better than the
mean image generates blobs whatever its prior, and the judge's distances
between blobs are noise. The gate asks two questions of the
reconstructions of held-out images (the posterior means decoded):

- **Better than the mean image**: their mean squared error, in [0, 1]
  units, is at most `max_mse_ratio` (0.35 by default) times the error of
  predicting the mean image for every one of them.
- **Covering the data**: their improved recall (Kynkäänniemi et al. 2019,
  eq. 2) against the held-out images themselves, on the judge's features,
  is at least `min_recall` (0.5 by default): the reconstructions reach the
  modes of the data, not only its most common digit.

A model passes when both hold. The claims ledger
(`benchmarks/claims.py`) applies the gate to every arm before it states a
verdict, and writes "not trained at this budget" otherwise.

Example:

>>> import keras_vaes as kv  # doctest: +SKIP
>>> model = kv.load_pretrained("svae_mnist_10ep")  # doctest: +SKIP
>>> judge = kv.metrics.classifier_extractor("mnist")  # doctest: +SKIP
>>> result = training_gate(model, x_test[:2000], judge,
...                        mean_image=x_train.mean(axis=0))  # doctest: +SKIP
>>> result.passed, result.summary()  # doctest: +SKIP
"""

import dataclasses

import numpy as np

from keras_vaes.metrics.precision_recall import precision_recall
from keras_vaes.metrics.extractors import extract_features

DEFAULT_MAX_MSE_RATIO = 0.35
DEFAULT_MIN_RECALL = 0.5


@dataclasses.dataclass(frozen=True)
class GateResult:
    """What the gate measured and whether the model passed.

    Attributes:
        mse: mean squared error of the reconstructions, [0, 1] units.
        mean_image_mse: the same error of the mean image.
        mse_ratio: `mse / mean_image_mse`.
        recall: improved recall of the reconstructions against the images.
        precision: improved precision of the same (reported, not gated).
        max_mse_ratio: the threshold on `mse_ratio`.
        min_recall: the threshold on `recall`.
        num_images: how many held-out images were reconstructed.
    """

    mse: float
    mean_image_mse: float
    mse_ratio: float
    recall: float
    precision: float
    max_mse_ratio: float
    min_recall: float
    num_images: int

    @property
    def passed(self):
        return bool(self.mse_ratio <= self.max_mse_ratio and self.recall >= self.min_recall)

    @property
    def reasons(self):
        """Why the model failed (empty when it passed)."""
        reasons = []
        if not self.mse_ratio <= self.max_mse_ratio:
            reasons.append(f"reconstruction MSE {self.mse_ratio:.2f}x the mean image's "
                           f"(gate: <= {self.max_mse_ratio:g}x)")
        if not self.recall >= self.min_recall:
            reasons.append(f"reconstruction recall {self.recall:.3f} (gate: >= {self.min_recall:g})")
        return reasons

    def summary(self):
        verdict = "passed" if self.passed else "FAILED: " + "; ".join(self.reasons)
        return (f"MSE {self.mse_ratio:.3f}x the mean image's ({self.mse:.4f} vs {self.mean_image_mse:.4f}), "
                f"recall {self.recall:.3f}, precision {self.precision:.3f} on {self.num_images} held-out "
                f"images: {verdict}")

    def as_dict(self):
        return {**dataclasses.asdict(self), "passed": self.passed, "reasons": self.reasons}


def _to_unit(images, value_range):
    low, high = (float(v) for v in value_range)
    return (np.asarray(images, dtype=np.float64) - low) / (high - low)


def training_gate(model, images, feature_model, *, mean_image=None, reconstructions=None,
                  max_mse_ratio=DEFAULT_MAX_MSE_RATIO, min_recall=DEFAULT_MIN_RECALL, k=3,
                  batch_size=100):
    """Measures the reconstructions of held-out images against the gate.

    Args:
        model: a model of the package (`reconstruct(images)["x_hat"]`,
            `value_range`), or None when `reconstructions` are given.
        images: held-out images `(N, H, W, C)` in the model's value range
            (N > k).
        feature_model: the judge (`keras_vaes.metrics.FeatureExtractor`,
            e.g. `classifier_extractor("mnist")`), which takes [0, 1].
        mean_image: array `(H, W, C)` in the model's value range, or None
            for the mean of `images`. Pass the TRAINING images' mean.
        reconstructions: array like `images`, or None to compute
            `model.reconstruct(images)["x_hat"]` (posterior means decoded).
        max_mse_ratio: float. Largest `mse / mean_image_mse` that passes.
            Defaults to 0.35.
        min_recall: float. Smallest recall that passes. Defaults to 0.5.
        k: int. Neighbours of precision / recall. Defaults to 3.
        batch_size: int. Defaults to 100.

    Returns:
        A `GateResult`.
    """
    value_range = tuple(getattr(model, "value_range", (0.0, 1.0))) if model is not None else (0.0, 1.0)
    images = np.asarray(images)
    if images.ndim != 4 or len(images) <= k:
        raise ValueError(
            f"`images` must be a batch (N, H, W, C) with N > k={k}. Received: images.shape={images.shape}"
        )
    if not 0.0 < float(max_mse_ratio) <= 1.0 or not 0.0 <= float(min_recall) <= 1.0:
        raise ValueError(
            "Expected 0 < max_mse_ratio <= 1 and 0 <= min_recall <= 1. "
            f"Received: max_mse_ratio={max_mse_ratio}, min_recall={min_recall}"
        )
    if reconstructions is None:
        if model is None:
            raise ValueError("Pass a `model` or its `reconstructions`. Received: both None.")
        reconstructions = model.reconstruct(images, batch_size=batch_size)["x_hat"]
    reconstructions = np.asarray(reconstructions)
    if reconstructions.shape != images.shape:
        raise ValueError(
            "`reconstructions` must have the shape of `images`. "
            f"Received: reconstructions.shape={reconstructions.shape}, images.shape={images.shape}"
        )
    unit = _to_unit(images, value_range)
    recon = np.clip(_to_unit(reconstructions, value_range), 0.0, 1.0)
    mean = unit.mean(axis=0) if mean_image is None else _to_unit(mean_image, value_range)
    if mean.shape != unit.shape[1:]:
        raise ValueError(
            f"`mean_image` must have the shape of one image {unit.shape[1:]}. Received: {mean.shape}"
        )
    mse = float(np.mean((unit - recon) ** 2)) if np.all(np.isfinite(recon)) else float("inf")
    mean_image_mse = float(np.mean((unit - mean[None]) ** 2))
    if np.isfinite(mse):
        real = extract_features(unit.astype(np.float32), feature_model, batch_size=batch_size, verbose=0)
        fake = extract_features(recon.astype(np.float32), feature_model, batch_size=batch_size, verbose=0)
        precision, recall = precision_recall(real, fake, k=k)
    else:
        precision = recall = 0.0
    return GateResult(mse=mse, mean_image_mse=mean_image_mse, mse_ratio=mse / mean_image_mse,
                      recall=float(recall), precision=float(precision), max_mse_ratio=float(max_mse_ratio),
                      min_recall=float(min_recall), num_images=int(len(images)))
