"""Reference feature statistics computed once and cached on disk (FID protocol)."""

import hashlib
import os

import numpy as np

from keras_vaes.metrics.extractors import IMAGE_CHANNELS, RANGE_TOLERANCE, as_extractor
from keras_vaes.metrics.fid import FeatureStatistics, canonical_source, compute_statistics, statistics_key
from keras_vaes.utils import check_images

DEFAULT_STATS_CACHE_DIR = os.path.join("~", ".keras", "keras_vaes", "fid_stats")


def images_hash(images):
    """SHA-256 of an image array's content, shape and dtype (cache keys)."""
    images = np.ascontiguousarray(images)
    digest = hashlib.sha256(f"{images.shape}{images.dtype.str}".encode())
    digest.update(memoryview(images).cast("B"))
    return digest.hexdigest()


def statistics_path(source, cache_dir=DEFAULT_STATS_CACHE_DIR):
    """File where `cached_statistics` keeps the statistics of `source`."""
    return os.path.join(
        os.path.expanduser(cache_dir), f"fid_stats_{statistics_key(source)}.npz"
    )


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
    image count and shape, a SHA-256 of the image content, and the
    extractor's identity (a hash of its weights and preprocessing, so
    InceptionV3 with random and with ImageNet weights never share a file).
    A cached file whose stored description differs is an error, not a hit.

    Args:
        images: array of shape `(N, H, W, C)` in [0, 1].
        source: str or dict. Dataset, split, and anything else that
            describes the images (crop, resize, ...).
        feature_model: as in `compute_statistics`. Defaults to None
            (InceptionV3).
        cache_dir: str. Defaults to `~/.keras/keras_vaes/fid_stats`.
        batch_size: int. Defaults to 100.
        verbose: int. Defaults to 0.

    Returns:
        A `FeatureStatistics`.
    """
    images = check_images(images, channels=IMAGE_CHANNELS, tolerance=RANGE_TOLERANCE)
    extractor = as_extractor(feature_model)
    full_source = canonical_source(source)
    full_source.setdefault("count", int(images.shape[0]))
    full_source.setdefault("image_shape", list(images.shape[1:]))
    full_source.setdefault("images_sha256", images_hash(images))
    full_source.setdefault("extractor", extractor.identity())
    path = statistics_path(full_source, cache_dir)
    if os.path.exists(path):
        return FeatureStatistics.load(path, expected_source=full_source)
    stats = compute_statistics(
        images, extractor, source=full_source, batch_size=batch_size,
        verbose=verbose,
    )
    os.makedirs(os.path.dirname(path), exist_ok=True)
    stats.save(path)
    return stats
