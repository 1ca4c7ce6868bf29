"""Fréchet Inception Distance (FID): the distance and the feature statistics.

The Fréchet distance between two Gaussians fitted to feature activations is
Split-VAE (Asperti, Bugo, Filippini, IEEE Access 2022) eq. (5):

    FID = ||mu1 - mu2||^2 + Tr(C1 + C2 - 2 (C1 C2)^(1/2)).

Protocol (docs/fid.md): Keras InceptionV3 features of images
in [0, 1] (`keras_vaes.metrics.extractors`), 10,000 reference images vs
10,000 generated ones; reference statistics cached on disk by
`keras_vaes.metrics.fid_cache.cached_statistics`. `keras_vaes.metrics`
exports the names of all three modules.
"""

import hashlib
import json
import os

import numpy as np
import scipy.linalg

from keras_vaes import utils
from keras_vaes.metrics import extractors


# ---------------------------------------------------------------------------
# Fréchet distance
# ---------------------------------------------------------------------------


def _check_statistics(mu, sigma, name):
    mu = np.atleast_1d(np.asarray(mu, dtype=np.float64))
    sigma = np.atleast_2d(np.asarray(sigma, dtype=np.float64))
    if mu.ndim != 1:
        raise ValueError(
            f"`mu{name}` must be a vector. Received: mu{name}.shape={mu.shape}"
        )
    if sigma.ndim != 2 or sigma.shape != (mu.shape[0], mu.shape[0]):
        raise ValueError(
            f"`sigma{name}` must be a square matrix matching `mu{name}`. "
            f"Received: sigma{name}.shape={sigma.shape}, "
            f"mu{name}.shape={mu.shape}; expected "
            f"({mu.shape[0]}, {mu.shape[0]})"
        )
    if not (np.all(np.isfinite(mu)) and np.all(np.isfinite(sigma))):
        one_sample = np.all(np.isfinite(mu)) and np.all(np.isnan(sigma))  # np.cov of one row
        raise ValueError(
            (f"The Fréchet distance needs at least 2 samples: `sigma{name}` is NaN everywhere, "
             "the covariance of a single sample. " if one_sample else
             f"`mu{name}` and `sigma{name}` must be finite. ")
            + f"Received: {int(np.sum(~np.isfinite(mu)))} non-finite of {mu.size} entries in "
            f"mu{name}, {int(np.sum(~np.isfinite(sigma)))} of {sigma.size} in sigma{name}"
        )
    scale = max(np.max(np.abs(sigma)), np.finfo(np.float64).tiny)
    if np.max(np.abs(sigma - sigma.T)) > 1e-5 * scale:
        raise ValueError(
            f"`sigma{name}` must be a symmetric covariance matrix. Received "
            f"max|sigma{name} - sigma{name}.T| = "
            f"{np.max(np.abs(sigma - sigma.T)):.3g}"
        )
    # Round-off asymmetry (e.g. float32 covariances) is removed here.
    return mu, 0.5 * (sigma + sigma.T)


# A covariance may have eigenvalues down to -PSD_TOLERANCE times its largest
# (round-off of a rank-deficient one); below that it is refused.
PSD_TOLERANCE = 1e-6


def _psd_factor(matrix, name="sigma"):
    """`G` with `matrix = G @ G.T`, `G` of shape `(d, rank)`; refuses a non-PSD `matrix`.

    Rank-revealing pivoted Cholesky (LAPACK `?pstrf`): `P.T A P = L L.T`,
    so `G = P L[:, :rank]`. It handles singular covariances, where a plain
    Cholesky fails, at a fraction of the cost of an eigendecomposition.
    A symmetric matrix is positive semi-definite exactly when the part the
    factorisation leaves, the Schur complement S of its pivots, is: when
    `max|S| <= PSD_TOLERANCE * max|A| / (d - rank)` every eigenvalue of A
    is at least `-PSD_TOLERANCE * max|A|` and it is accepted at no further
    cost; otherwise its smallest eigenvalue decides.

    Raises:
        ValueError: `matrix` has an eigenvalue below `-PSD_TOLERANCE` times
            its largest magnitude: it is no covariance.
    """
    lower, pivots, rank, info = scipy.linalg.lapack.dpstrf(matrix, lower=1)
    if info < 0:
        raise ValueError(f"LAPACK dpstrf failed on a covariance (info={info}).")
    factor = np.zeros((matrix.shape[0], rank))
    # dpstrf leaves the strict upper triangle untouched; pivots are 1-based.
    factor[pivots - 1] = np.tril(lower)[:, :rank]
    rest = pivots[rank:] - 1
    if rest.size:
        scale = np.max(np.abs(matrix))
        schur = matrix[np.ix_(rest, rest)] - factor[rest] @ factor[rest].T
        if np.max(np.abs(schur)) > PSD_TOLERANCE * scale / rest.size:
            eigenvalues = np.linalg.eigvalsh(matrix)
            largest = np.max(np.abs(eigenvalues))
            if eigenvalues[0] < -PSD_TOLERANCE * largest:
                raise ValueError(
                    f"`{name}` must be a covariance matrix (positive semi-definite). "
                    f"Received: a symmetric matrix of shape {matrix.shape} with smallest "
                    f"eigenvalue {eigenvalues[0]:.4g} and largest magnitude {largest:.4g} "
                    f"(tolerance: -{PSD_TOLERANCE:g} times the largest)"
                )
    return factor


def frechet_distance(mu1, sigma1, mu2, sigma2):
    """Fréchet distance between two Gaussians (Split-VAE eq. (5)).

    `||mu1 - mu2||^2 + Tr(C1 + C2 - 2 (C1 C2)^(1/2))`, the FID when the
    Gaussians are fitted to Inception features.

    `Tr((C1 C2)^(1/2))` is the sum of the square roots of the eigenvalues
    of `C1 C2`, computed as those of the symmetric PSD matrix `G^T C2 G`
    with `C1 = G G^T` (a rank-revealing pivoted Cholesky) in float64: real
    and finite also for rank-deficient covariances (features of fewer
    images than dimensions). Negative eigenvalues (round-off) are clipped
    at 0, and so is a tiny negative result. A "covariance" that is not
    symmetric or not positive semi-definite (an eigenvalue below -1e-6
    times the largest) is refused.

    Args:
        mu1: array of shape `(d,)`. Mean of the first set of features.
        sigma1: array of shape `(d, d)`. Covariance of the first set.
        mu2: array of shape `(d,)`. Mean of the second set of features.
        sigma2: array of shape `(d, d)`. Covariance of the second set.

    Returns:
        The distance, a non-negative Python float.

    Raises:
        ValueError: shapes that do not match, non-finite values, or a sigma
            that is not a symmetric positive semi-definite matrix.

    Example:

    >>> import numpy as np
    >>> frechet_distance(np.zeros(2), np.eye(2), np.ones(2), 4 * np.eye(2))
    4.0
    """
    mu1, sigma1 = _check_statistics(mu1, sigma1, "1")
    mu2, sigma2 = _check_statistics(mu2, sigma2, "2")
    if mu1.shape != mu2.shape:
        raise ValueError(
            "The two sets of statistics must have the same dimension. "
            f"Received: mu1.shape={mu1.shape}, mu2.shape={mu2.shape}"
        )
    diff = mu1 - mu2
    factor = _psd_factor(sigma1, "sigma1")
    _psd_factor(sigma2, "sigma2")  # refuses a non-PSD sigma2
    product = factor.T @ sigma2 @ factor
    product = 0.5 * (product + product.T)  # exact symmetry for eigvalsh
    eigenvalues = np.linalg.eigvalsh(product)
    trace_covmean = np.sum(np.sqrt(np.clip(eigenvalues, 0.0, None)))
    distance = (
        diff @ diff
        + np.trace(sigma1)
        + np.trace(sigma2)
        - 2.0 * trace_covmean
    )
    return float(max(distance, 0.0))


# ---------------------------------------------------------------------------
# Feature statistics (their cache: `keras_vaes.metrics.fid_cache`)
# ---------------------------------------------------------------------------


def canonical_source(source):
    """`source` (str, dict or None) as the JSON-comparable dict the statistics store."""
    if source is None:
        return {}
    if isinstance(source, str):
        return {"description": source}
    if isinstance(source, dict):
        # A JSON round trip makes tuples/lists and numpy scalars comparable.
        return json.loads(json.dumps(source, sort_keys=True, default=str))
    raise ValueError(
        "`source` must be a string, a dict or None. "
        f"Received: source={source!r} of type {type(source).__name__}"
    )


def statistics_key(source):
    """Short hash identifying what produced a set of feature statistics.

    Args:
        source: str or dict. Description of the statistics: dataset, split,
            count, extractor, ... Dict key order does not matter.

    Returns:
        A 16-character hexadecimal string.
    """
    text = json.dumps(canonical_source(source), sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


class StatisticsMismatchError(ValueError):
    """Cached feature statistics were produced by something else."""


class FeatureStatistics:
    """Mean and covariance of feature activations, with their provenance.

    Args:
        mu: array of shape `(d,)`. Mean of the features.
        sigma: array of shape `(d, d)`. Covariance of the features (unbiased,
            `ddof=1`, as in the TF-GAN code the authors use).
        count: int. Number of images the statistics come from.
        source: str or dict. What produced the statistics: dataset, split,
            count, extractor. It keys the cache (`statistics_key`), so two
            different reference sets never share a file.

    Example:

    >>> import numpy as np
    >>> features = np.random.default_rng(0).normal(size=(50, 4))
    >>> stats = FeatureStatistics.from_features(
    ...     features, source={"dataset": "toy", "split": "test"})
    >>> stats.mu.shape, stats.sigma.shape, stats.count
    ((4,), (4, 4), 50)
    """

    def __init__(self, mu, sigma, count, source=None):
        mu, sigma = _check_statistics(mu, sigma, "")
        self.mu = mu
        self.sigma = sigma
        self.count = int(count)
        self.source = canonical_source(source)

    @property
    def key(self):
        """Hash of `source`, see `statistics_key`."""
        return statistics_key(self.source)

    @classmethod
    def from_features(cls, features, source=None):
        """Statistics of a `(N, d)` array of features (`N >= 2`)."""
        features = np.asarray(features, dtype=np.float64)
        if features.ndim != 2 or features.shape[0] < 2:
            raise ValueError(
                "`features` must have shape (N, d) with N >= 2. "
                f"Received: features.shape={features.shape}"
            )
        return cls(
            mu=np.mean(features, axis=0),
            sigma=np.cov(features, rowvar=False),
            count=features.shape[0],
            source=source,
        )

    def save(self, path):
        """Writes the statistics and their source to a `.npz` file, atomically."""
        path = os.fspath(path)
        if not path.endswith(".npz"):
            path += ".npz"  # what np.savez would do
        utils.atomic_write(path, lambda tmp: np.savez(
            tmp,
            mu=self.mu,
            sigma=self.sigma,
            count=np.int64(self.count),
            source=np.array(json.dumps(self.source, sort_keys=True)),
        ))

    @classmethod
    def load(cls, path, expected_source=None):
        """Reads statistics written by `save`.

        Args:
            path: str. The `.npz` file.
            expected_source: str, dict or None. When given, the stored
                source must be the same description, else
                `StatisticsMismatchError` is raised: stale or foreign
                statistics are never returned silently.

        Returns:
            A `FeatureStatistics`.
        """
        with np.load(path, allow_pickle=False) as data:
            stats = cls(
                mu=data["mu"],
                sigma=data["sigma"],
                count=int(data["count"]),
                source=json.loads(str(data["source"])),
            )
        if expected_source is not None:
            expected = canonical_source(expected_source)
            if stats.source != expected:
                raise StatisticsMismatchError(
                    f"Feature statistics in {path} were produced by "
                    f"source={stats.source}, not by the requested "
                    f"source={expected}. Delete the file or use another "
                    "cache directory."
                )
        return stats


def compute_statistics(
    images, feature_model=None, source=None, batch_size=100, verbose=0
):
    """`FeatureStatistics` of images under a feature model.

    Args:
        images: array of shape `(N, H, W, C)` in [0, 1], `N >= 2`.
        feature_model: `FeatureExtractor`, `keras.Model`, path to a
            `.keras` model, or None for InceptionV3 with ImageNet weights.
        source: str or dict. Provenance stored with the statistics; its
            "extractor" is set to the extractor's identity (a hash of its
            weights and preprocessing).
        batch_size: int. Defaults to 100.
        verbose: int. Defaults to 0.

    Returns:
        A `FeatureStatistics`.
    """
    extractor = extractors.as_extractor(feature_model)
    features = extractors.extract_features(images, extractor, batch_size=batch_size, verbose=verbose)
    source = canonical_source(source)
    source.setdefault("extractor", extractor.identity())
    return FeatureStatistics.from_features(features, source=source)


def fid_score(
    images_a, images_b, feature_model=None, batch_size=100, verbose=0
):
    """Fréchet Inception Distance between two sets of images.

    Features are extracted with the papers' protocol (`extract_features`)
    and compared with `frechet_distance` (Split-VAE eq. (5)). Either side
    may be precomputed `FeatureStatistics`, so the reference statistics
    are computed once (see `cached_statistics`).

    Args:
        images_a: array `(N, H, W, C)` in [0, 1], or `FeatureStatistics`.
        images_b: array `(M, H, W, C)` in [0, 1], or `FeatureStatistics`.
        feature_model: `FeatureExtractor`, `keras.Model`, path to a
            `.keras` model, or None for InceptionV3 with ImageNet weights
            (raises `InceptionWeightsUnavailable` when they cannot be
            loaded). Precomputed statistics must come from the same
            extractor (same weight hash), else `StatisticsMismatchError`.
        batch_size: int. Defaults to 100.
        verbose: int. Defaults to 0.

    Returns:
        The FID, a Python float.
    """
    given = [s for s in (images_a, images_b) if isinstance(s, FeatureStatistics)]
    extractor = extractors.as_extractor(feature_model) if len(given) < 2 else None
    expected = extractor.identity() if extractor is not None else None
    for stats in given:
        produced_by = (stats.source or {}).get("extractor")
        expected = expected if expected is not None else produced_by
        if produced_by is not None and expected is not None and produced_by != expected:
            raise StatisticsMismatchError(
                f"The precomputed statistics were produced by {produced_by!r}, "
                f"but the other side comes from {expected!r}: FIDs across "
                "extractors are meaningless. Pass the same feature_model that "
                "produced the statistics."
            )
    stats = [
        images if isinstance(images, FeatureStatistics)
        else compute_statistics(images, extractor, batch_size=batch_size, verbose=verbose)
        for images in (images_a, images_b)
    ]
    return frechet_distance(stats[0].mu, stats[0].sigma, stats[1].mu, stats[1].sigma)
