"""Fréchet Inception Distance (FID) with the protocol of the reproduced papers.

The Fréchet distance between two Gaussians fitted to feature activations is
Split-VAE (Asperti, Bugo, Filippini, IEEE Access 2022) eq. (5):

    FID = ||mu1 - mu2||^2 + Tr(C1 + C2 - 2 (C1 C2)^(1/2)).

Protocol (DESIGN.md, "FID protocol"): Keras InceptionV3 with ImageNet weights,
`include_top=False`, average pooling (2048 features); images in [0, 1]
bilinearly resized to 299x299, grayscale repeated to 3 channels, mapped to
[-1, 1]; 10,000 reference images vs 10,000 generated ones. The feature
extractor is pluggable: any Keras model (or a path to a `.keras` file) can
replace InceptionV3, e.g. in tests or on machines without the ImageNet
weights.
"""

import hashlib
import json
import os
import socket

import keras
import numpy as np
import scipy.linalg

from keras_vaes import utils

INCEPTION_WEIGHTS_ENV = "KERAS_VAES_INCEPTION_WEIGHTS"
INCEPTION_WEIGHTS_FILENAME = (
    "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"
)
INCEPTION_INPUT_SIZE = 299
# Describes the default extractor in cache keys; bump it if the
# preprocessing or the network changes, so stale caches stop matching.
INCEPTION_EXTRACTOR = (
    "keras.applications.InceptionV3(imagenet, include_top=False, "
    "pooling=avg); bilinear 299x299; [0,1]->[-1,1]"
)
DEFAULT_STATS_CACHE_DIR = os.path.join("~", ".keras", "keras_vaes", "fid_stats")

# Values this much above 1 mean the images are not in [0, 1] (e.g. 0-255).
_RANGE_TOLERANCE = 1e-3
# Network timeout for the ImageNet weights download, so offline machines
# fail instead of hanging.
_DOWNLOAD_TIMEOUT_S = 60


class InceptionWeightsUnavailable(RuntimeError):
    """The ImageNet weights of InceptionV3 could not be found or loaded."""


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
        raise ValueError(f"`mu{name}` and `sigma{name}` must be finite.")
    scale = max(np.max(np.abs(sigma)), np.finfo(np.float64).tiny)
    if np.max(np.abs(sigma - sigma.T)) > 1e-5 * scale:
        raise ValueError(
            f"`sigma{name}` must be a symmetric covariance matrix. Received "
            f"max|sigma{name} - sigma{name}.T| = "
            f"{np.max(np.abs(sigma - sigma.T)):.3g}"
        )
    # Round-off asymmetry (e.g. float32 covariances) is removed here.
    return mu, 0.5 * (sigma + sigma.T)


def _psd_factor(matrix):
    """`G` with `matrix = G @ G.T`, `G` of shape `(d, rank)`, for PSD input.

    Rank-revealing pivoted Cholesky (LAPACK `?pstrf`): `P.T A P = L L.T`,
    so `G = P L[:, :rank]`. It handles singular covariances, where a plain
    Cholesky fails, at a fraction of the cost of an eigendecomposition.
    """
    lower, pivots, rank, info = scipy.linalg.lapack.dpstrf(matrix, lower=1)
    if info < 0:
        raise ValueError(f"LAPACK dpstrf failed on a covariance (info={info}).")
    factor = np.zeros((matrix.shape[0], rank))
    # dpstrf leaves the strict upper triangle untouched; pivots are 1-based.
    factor[pivots - 1] = np.tril(lower)[:, :rank]
    return factor


def frechet_distance(mu1, sigma1, mu2, sigma2):
    """Fréchet distance between two Gaussians (Split-VAE eq. (5)).

    `||mu1 - mu2||^2 + Tr(C1 + C2 - 2 (C1 C2)^(1/2))`, the FID when the
    Gaussians are fitted to Inception features.

    `Tr((C1 C2)^(1/2))` is the sum of the square roots of the eigenvalues
    of `C1 C2`. With any factor `C1 = G G^T` (here a rank-revealing pivoted
    Cholesky, `G` of shape `(d, rank)`), `C1 C2 = G (G^T C2)` has the same
    nonzero eigenvalues as the symmetric PSD matrix `G^T C2 G`, so one
    symmetric eigenvalue problem in float64 replaces `scipy.linalg.sqrtm`
    of the non-symmetric product: several times faster on 2048x2048
    covariances, and real and finite when they are rank-deficient (e.g.
    features of fewer than 2048 images), where `sqrtm` leaves complex
    round-off or NaN. Negative eigenvalues (round-off) are clipped at 0,
    and so is a tiny negative result.

    Args:
        mu1: array of shape `(d,)`. Mean of the first set of features.
        sigma1: array of shape `(d, d)`. Covariance of the first set.
        mu2: array of shape `(d,)`. Mean of the second set of features.
        sigma2: array of shape `(d, d)`. Covariance of the second set.

    Returns:
        The distance, a non-negative Python float.

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
    factor = _psd_factor(sigma1)
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
# Feature statistics and their cache
# ---------------------------------------------------------------------------


def _canonical_source(source):
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
    text = json.dumps(_canonical_source(source), sort_keys=True)
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
        self.source = _canonical_source(source)

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
            expected = _canonical_source(expected_source)
            if stats.source != expected:
                raise StatisticsMismatchError(
                    f"Feature statistics in {path} were produced by "
                    f"source={stats.source}, not by the requested "
                    f"source={expected}. Delete the file or use another "
                    "cache directory."
                )
        return stats


def statistics_path(source, cache_dir=DEFAULT_STATS_CACHE_DIR):
    """File where `cached_statistics` keeps the statistics of `source`."""
    return os.path.join(
        os.path.expanduser(cache_dir), f"fid_stats_{statistics_key(source)}.npz"
    )


# ---------------------------------------------------------------------------
# Feature extraction
# ---------------------------------------------------------------------------


def _keras_models_dir():
    home = os.environ.get("KERAS_HOME", os.path.join("~", ".keras"))
    return os.path.join(os.path.expanduser(home), "models")


def _weights_help():
    return (
        "To compute FID with InceptionV3, provide its ImageNet weights "
        f"'{INCEPTION_WEIGHTS_FILENAME}' (from https://storage.googleapis.com"
        "/tensorflow/keras-applications/inception_v3/) in one of these ways: "
        f"put the file in {_keras_models_dir()}/ ; or pass "
        "`weights='/path/to/file.h5'`; or set the environment variable "
        f"{INCEPTION_WEIGHTS_ENV}=/path/to/file.h5. Alternatively pass your "
        "own `feature_model`."
    )


def inception_feature_model(weights=None):
    """InceptionV3 feature extractor of the FID protocol (2048 features).

    `keras.applications.InceptionV3(include_top=False, pooling="avg",
    input_shape=(299, 299, 3))` with ImageNet weights. The weights are
    resolved in this order: the `weights` argument (a path, or "imagenet"),
    the environment variable `KERAS_VAES_INCEPTION_WEIGHTS`, then Keras'
    own "imagenet" weights (cached in `~/.keras/models/`, downloaded if
    missing).

    Args:
        weights: str or None. Path to
            `inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5`, or
            "imagenet". Defaults to None (see the resolution order above).

    Returns:
        A float32 `keras.Model` (under any global dtype policy) mapping
        `(N, 299, 299, 3)` images in [-1, 1] to `(N, 2048)` features.

    Raises:
        InceptionWeightsUnavailable: the weights file does not exist, cannot
            be loaded, or cannot be downloaded (e.g. offline). The message
            says how to provide it.
    """
    if weights is None:
        weights = os.environ.get(INCEPTION_WEIGHTS_ENV) or "imagenet"
        origin = (
            f"environment variable {INCEPTION_WEIGHTS_ENV}"
            if weights != "imagenet"
            else "keras.applications 'imagenet'"
        )
    else:
        origin = "argument `weights`"
    if weights != "imagenet" and not os.path.isfile(weights):
        raise InceptionWeightsUnavailable(
            f"InceptionV3 weights file not found: {weights!r} (from the "
            f"{origin}). {_weights_help()}"
        )
    previous_timeout = socket.getdefaulttimeout()
    if weights == "imagenet" and previous_timeout is None:
        socket.setdefaulttimeout(_DOWNLOAD_TIMEOUT_S)
    # The FID protocol's features are float32 whatever policy the user
    # trains under (e.g. an opt-in mixed_bfloat16).
    previous_policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy("float32")
    try:
        return keras.applications.InceptionV3(
            include_top=False,
            weights=weights,
            input_shape=(INCEPTION_INPUT_SIZE, INCEPTION_INPUT_SIZE, 3),
            pooling="avg",
        )
    except Exception as error:  # download (URL/OS) or h5 loading errors
        raise InceptionWeightsUnavailable(
            f"Could not load the InceptionV3 ImageNet weights (from the "
            f"{origin}: {weights!r}): {type(error).__name__}: {error}. "
            f"{_weights_help()}"
        ) from error
    finally:
        socket.setdefaulttimeout(previous_timeout)
        keras.config.set_dtype_policy(previous_policy)


def feature_model_from_spec(spec):
    """A command-line feature-model choice -> `(model, description, reason)`.

    Args:
        spec: `"inception"` (or None) for InceptionV3 with ImageNet weights,
            or a path to a saved `.keras` feature extractor.

    Returns:
        `(model, description, None)`, or `(None, description, reason)` when
        the Inception weights are not available, so that an evaluation can
        complete every other column and say why its FID cells are empty.
    """
    if spec in (None, "inception"):
        try:
            return inception_feature_model(), "InceptionV3 (ImageNet, pool 2048)", None
        except InceptionWeightsUnavailable as error:
            return None, "InceptionV3 (ImageNet, pool 2048)", str(error)
    if not os.path.exists(spec):
        raise FileNotFoundError(
            f"--feature-model must be 'inception' or a path to a saved .keras "
            f"model. Received: {spec!r}, which does not exist."
        )
    model = keras.saving.load_model(spec, compile=False)
    return model, f"{os.path.basename(spec)} ({model.count_params():,} params)", None


def _resolve_feature_model(feature_model):
    if feature_model is None:
        return inception_feature_model()
    if isinstance(feature_model, (str, os.PathLike)):
        return keras.saving.load_model(os.fspath(feature_model), compile=False)
    return feature_model


def _extractor_name(feature_model):
    if feature_model is None:
        return INCEPTION_EXTRACTOR
    if isinstance(feature_model, (str, os.PathLike)):
        return f"file:{os.path.abspath(os.fspath(feature_model))}"
    return f"model:{getattr(feature_model, 'name', type(feature_model).__name__)}"


def check_images(images, name="images"):
    """Validates images for FID: rank 4, 1 or 3 channels, [0, 1], not empty."""
    images = utils.check_images(
        images, name=name, channels=(1, 3), tolerance=_RANGE_TOLERANCE
    )
    if images.shape[0] == 0:
        raise ValueError(f"`{name}` is empty. Received: {name}.shape={images.shape}")
    return images


def _model_input_spec(feature_model):
    """(height, width, channels) the model expects; None where free."""
    shape = getattr(feature_model, "input_shape", None)
    if isinstance(shape, list):  # multi-input models list their shapes
        shape = shape[0]
    if shape is None or len(shape) != 4:
        return None, None, None
    return shape[1], shape[2], shape[3]


def preprocess_images(images, feature_model):
    """Prepares one batch of [0, 1] images for `feature_model`.

    The FID protocol of the papers: grayscale repeated to 3 channels when
    the model takes 3, bilinear resize to the model's fixed input size
    (299x299 for InceptionV3; no resize when the model's spatial size is
    free), then the affine map [0, 1] -> [-1, 1] (`2 * x - 1`), the input
    range of Keras' InceptionV3. The same mapping is applied for any other
    feature model.

    Args:
        images: array of shape `(N, H, W, C)`, values in [0, 1].
        feature_model: `keras.Model`. Used only for its input shape.

    Returns:
        A float32 NumPy array ready for `feature_model`.
    """
    batch = np.asarray(images, dtype=np.float32)
    height, width, channels = _model_input_spec(feature_model)
    if channels == 3 and batch.shape[-1] == 1:
        batch = np.repeat(batch, 3, axis=-1)
    elif channels is not None and channels != batch.shape[-1]:
        raise ValueError(
            f"The feature model takes {channels} channels, images have "
            f"{batch.shape[-1]}. Received: images.shape={batch.shape}"
        )
    if height is not None and width is not None:
        if batch.shape[1:3] != (height, width):
            batch = keras.ops.convert_to_numpy(
                keras.ops.image.resize(
                    batch, (height, width), interpolation="bilinear"
                )
            )
    return 2.0 * batch - 1.0


def extract_features(images, feature_model, batch_size=100, verbose=1):
    """Feature activations of images, batch by batch (FID protocol).

    Only one preprocessed batch exists at a time, so memory is bounded by
    `batch_size` resized images plus the `(N, d)` features.

    Args:
        images: array of shape `(N, H, W, C)`, C in {1, 3}, values in
            [0, 1].
        feature_model: `keras.Model` (e.g. `inception_feature_model()`).
        batch_size: int. Images per forward pass. Defaults to 100.
        verbose: int. 1 shows a progress bar. Defaults to 1.

    Returns:
        Float64 array of shape `(N, d)`, the flattened model outputs.
    """
    images = check_images(images)
    if batch_size < 1:
        raise ValueError(f"`batch_size` must be >= 1. Received: batch_size={batch_size}")
    count = images.shape[0]
    progbar = keras.utils.Progbar(count) if verbose else None
    features = []
    for start in range(0, count, batch_size):
        batch = preprocess_images(images[start : start + batch_size], feature_model)
        if hasattr(feature_model, "predict_on_batch"):
            output = feature_model.predict_on_batch(batch)
        else:
            output = feature_model(batch)
        output = keras.ops.convert_to_numpy(output)
        features.append(np.reshape(output, (batch.shape[0], -1)).astype(np.float64))
        if progbar is not None:
            progbar.add(batch.shape[0])
    return np.concatenate(features, axis=0)


def compute_statistics(
    images, feature_model=None, source=None, batch_size=100, verbose=0
):
    """`FeatureStatistics` of images under a feature model.

    Args:
        images: array of shape `(N, H, W, C)` in [0, 1], `N >= 2`.
        feature_model: `keras.Model`, path to a `.keras` model, or None for
            InceptionV3 with ImageNet weights. Defaults to None.
        source: str or dict. Provenance stored with the statistics.
        batch_size: int. Defaults to 100.
        verbose: int. Defaults to 0.

    Returns:
        A `FeatureStatistics`.
    """
    model = _resolve_feature_model(feature_model)
    features = extract_features(images, model, batch_size=batch_size, verbose=verbose)
    source = _canonical_source(source)
    source.setdefault("extractor", _extractor_name(feature_model))
    return FeatureStatistics.from_features(features, source=source)


def cached_statistics(
    images,
    source,
    feature_model=None,
    cache_dir=DEFAULT_STATS_CACHE_DIR,
    batch_size=100,
    verbose=0,
):
    """Reference statistics computed once and cached on disk.

    The cache file is named by a hash of the full description of what
    produced the statistics, never by the dataset name alone: `source`
    (e.g. `{"dataset": "cifar10", "split": "test"}`) completed with the
    image count, image shape and the extractor's description. A cached
    file whose stored description differs is an error, not a hit.

    Args:
        images: array of shape `(N, H, W, C)` in [0, 1].
        source: str or dict. Dataset, split, and anything else that
            determines the images (crop, resize, ...).
        feature_model: as in `compute_statistics`. A model object is
            identified by its `name`: give different extractors different
            names. Defaults to None (InceptionV3).
        cache_dir: str. Defaults to `~/.keras/keras_vaes/fid_stats`.
        batch_size: int. Defaults to 100.
        verbose: int. Defaults to 0.

    Returns:
        A `FeatureStatistics`.
    """
    images = check_images(images)
    full_source = _canonical_source(source)
    full_source.setdefault("count", int(images.shape[0]))
    full_source.setdefault("image_shape", list(images.shape[1:]))
    full_source.setdefault("extractor", _extractor_name(feature_model))
    path = statistics_path(full_source, cache_dir)
    if os.path.exists(path):
        return FeatureStatistics.load(path, expected_source=full_source)
    stats = compute_statistics(
        images, feature_model, source=full_source, batch_size=batch_size,
        verbose=verbose,
    )
    os.makedirs(os.path.dirname(path), exist_ok=True)
    stats.save(path)
    return stats


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
        feature_model: `keras.Model`, path to a `.keras` model, or None for
            InceptionV3 with ImageNet weights (raises
            `InceptionWeightsUnavailable` when they cannot be loaded).
            Precomputed statistics must come from the same extractor.
        batch_size: int. Defaults to 100.
        verbose: int. Defaults to 0.

    Returns:
        The FID, a Python float.
    """
    model = None
    stats = []
    extractor = _extractor_name(feature_model)
    for images in (images_a, images_b):
        if isinstance(images, FeatureStatistics):
            produced_by = (images.source or {}).get("extractor")
            if produced_by is not None and produced_by != extractor:
                raise StatisticsMismatchError(
                    f"The precomputed statistics were produced by {produced_by!r}, "
                    f"but the other images would be featurised by {extractor!r}: "
                    "FIDs across extractors are meaningless. Pass the same "
                    "feature_model that produced the statistics."
                )
            stats.append(images)
            continue
        if model is None:  # built only when some images need features
            model = _resolve_feature_model(feature_model)
        stats.append(
            compute_statistics(images, model, batch_size=batch_size, verbose=verbose)
        )
    return frechet_distance(stats[0].mu, stats[0].sigma, stats[1].mu, stats[1].sigma)
