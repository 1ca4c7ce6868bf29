"""Nearest neighbours of generated images in the training and test sets.

"Empirical observations pertaining to learned priors" (section 4, with
Figure 4): nearest-neighbour samples from both the training and the test
set show whether a model memorises training images; its samples "are
often closer to the test set than the training set". Distances are
Euclidean in pixel space.
"""

import numpy as np

from keras_vaes.utils import check_positive_int, check_same_item_size


def _flatten(images, name):
    images = np.asarray(images)
    if images.ndim < 2 or images.shape[0] < 1:
        raise ValueError(
            f"`{name}` must be a non-empty batch (N, ...). Received: {name}.shape={images.shape}"
        )
    return images.reshape(images.shape[0], -1).astype(np.float64)


def nearest_neighbours(queries, references, k=1, batch_size=256):
    """The `k` nearest references of each query (Euclidean, pixel space).

    Squared distances are `||q||^2 - 2 q.r + ||r||^2` in float64, a batch
    of queries at a time (memory `batch_size * len(references)`).

    Args:
        queries: array `(n, ...)`, e.g. generated images.
        references: array `(m, ...)` of the same per-item shape.
        k: int in [1, m]. Defaults to 1.
        batch_size: int. Queries per block. Defaults to 256.

    Returns:
        `(indices, distances)`, int and float arrays of shape `(n, k)`,
        sorted by increasing distance.
    """
    q = _flatten(queries, "queries")
    r = _flatten(references, "references")
    check_same_item_size(queries, references, ("queries", "references"), "item shape")
    k = check_positive_int(k, "k")
    if k > r.shape[0]:
        raise ValueError(
            f"`k` must be in [1, {r.shape[0]}] (the number of references). Received: k={k!r}"
        )
    batch_size = check_positive_int(batch_size, "batch_size")
    if not (np.all(np.isfinite(q)) and np.all(np.isfinite(r))):
        raise ValueError(
            "`queries` and `references` must be finite. Received: "
            f"{int(np.sum(~np.isfinite(q)))} non-finite values in queries, "
            f"{int(np.sum(~np.isfinite(r)))} in references"
        )
    r_norms = np.sum(r * r, axis=1)
    indices, distances = [], []
    for start in range(0, q.shape[0], batch_size):
        block = q[start : start + batch_size]
        squared = np.sum(block * block, axis=1)[:, None] - 2.0 * block @ r.T + r_norms[None]
        squared = np.maximum(squared, 0.0)
        part = np.argpartition(squared, k - 1, axis=1)[:, :k]
        part_d = np.take_along_axis(squared, part, axis=1)
        order = np.argsort(part_d, axis=1, kind="stable")
        indices.append(np.take_along_axis(part, order, axis=1))
        distances.append(np.sqrt(np.take_along_axis(part_d, order, axis=1)))
    return np.concatenate(indices), np.concatenate(distances)


def train_test_neighbours(samples, train_images, test_images, equal_size=True, seed=0):
    """Nearest training and test image of each sample, and which is closer.

    A memorising model's samples sit on training images; a generalising
    one's are as close to unseen test images. With `equal_size`, the
    training set is subsampled (seeded) to the size of the test set so
    that neither side wins by sheer count.

    Args:
        samples: array `(n, H, W, C)`. Generated images.
        train_images: array `(m, H, W, C)`.
        test_images: array `(m', H, W, C)`.
        equal_size: bool. Defaults to True.
        seed: int. Seed of the training subsample. Defaults to 0.

    Returns:
        A dict: `train_index` / `test_index` (indices into the arrays
        given), `train_distance` / `test_distance` (arrays `(n,)`),
        `closer_to_test` (fraction of samples whose nearest test image is
        nearer than their nearest training image), `train_size` (number
        of training images searched).
    """
    train_pool = np.arange(len(train_images))
    if equal_size and len(train_images) > len(test_images):
        rng = np.random.default_rng(seed)
        train_pool = np.sort(rng.choice(len(train_images), len(test_images), replace=False))
    train_idx, train_dist = nearest_neighbours(samples, np.asarray(train_images)[train_pool])
    test_idx, test_dist = nearest_neighbours(samples, test_images)
    train_dist, test_dist = train_dist[:, 0], test_dist[:, 0]
    return {
        "train_index": train_pool[train_idx[:, 0]],
        "test_index": test_idx[:, 0],
        "train_distance": train_dist,
        "test_distance": test_dist,
        "closer_to_test": float(np.mean(test_dist < train_dist)),
        "train_size": int(len(train_pool)),
    }
