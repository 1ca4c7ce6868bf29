"""Improved precision and recall of generated samples (Kynkäänniemi et al. 2019).

"Improved Precision and Recall Metric for Assessing Generative Models"
(Kynkäänniemi, Karras, Laine, Lehtinen, Aila; NeurIPS 2019), section 2:
the manifold of a set of feature vectors `Phi` is approximated by the
union of hyperspheres centred on each vector, of radius its distance to
its k-th nearest neighbour in the same set (eq. 2):

    f(phi, Phi) = 1  if  ||phi - phi'||_2 <= ||phi' - NN_k(phi', Phi)||_2
                     for at least one phi' in Phi,  else 0,

and (eq. 1)

    precision(Phi_r, Phi_g) = 1/|Phi_g| sum_{phi_g in Phi_g} f(phi_g, Phi_r),
    recall(Phi_r, Phi_g)    = 1/|Phi_r| sum_{phi_r in Phi_r} f(phi_r, Phi_g).

Precision is the fraction of generated samples that fall inside the real
manifold ("are the samples realistic?"), recall the fraction of real
samples that fall inside the generated manifold ("is the data's variety
covered?"). Beside the Fréchet distance, which mixes both, they separate
"sharp but few modes" (high precision, low recall) from "diverse but
blurry" (the reverse). The paper uses k = 3 and VGG-16 features; any
feature model works here (e.g. `keras_vaes.metrics.classifier_feature_model`).
"""

import collections

import numpy as np

from keras_vaes.utils import check_positive_int, check_same_item_size

PrecisionRecall = collections.namedtuple("PrecisionRecall", ["precision", "recall"])
PrecisionRecall.__doc__ = """Improved precision and recall (Kynkäänniemi et al. 2019, eq. 1), floats in [0, 1]."""


def _check_features(features, name):
    array = np.asarray(features)
    if array.ndim != 2 or array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(
            f"Expected `{name}` as a non-empty feature matrix of shape (N, d). "
            f"Received: {name}.shape={array.shape}"
        )
    if not np.issubdtype(array.dtype, np.number) or np.issubdtype(array.dtype, np.complexfloating):
        raise ValueError(f"Expected real-valued `{name}`. Received: dtype={array.dtype}")
    array = array.astype(np.float64, copy=False)
    if not np.all(np.isfinite(array)):
        raise ValueError(f"`{name}` contains NaN or infinite values.")
    return array


def _squared_distances(block, block_norms, reference, reference_norms):
    """`||a - b||^2 = ||a||^2 - 2 a.b + ||b||^2`, float64, clipped at 0 (round-off)."""
    squared = block_norms[:, None] - 2.0 * (block @ reference.T) + reference_norms[None, :]
    return np.maximum(squared, 0.0)


def knn_radii(features, k=3, batch_size=1000):
    """Squared distance of each vector to its k-th nearest neighbour in the same set.

    The radius of its hypersphere in Kynkäänniemi et al. (2019), eq. 2.
    The vector itself (distance 0) is not counted among its neighbours,
    as in the authors' code (`np.partition(distances, k)[:, k]` with the
    self-distance included).

    Args:
        features: array `(N, d)`, `N > k`.
        k: int >= 1. Defaults to 3 (the paper's choice).
        batch_size: int. Rows of the distance matrix held at once
            (memory `batch_size * N` float64). Defaults to 1000.

    Returns:
        Float64 array `(N,)` of squared radii.
    """
    features = _check_features(features, "features")
    _check_k(k, features.shape[0], "features")
    check_positive_int(batch_size, "batch_size")
    norms = np.sum(features * features, axis=1)
    radii = np.empty(features.shape[0])
    for start in range(0, features.shape[0], batch_size):
        stop = min(start + batch_size, features.shape[0])
        squared = _squared_distances(features[start:stop], norms[start:stop], features, norms)
        # The self-distance is exactly 0, not round-off: count it as the 0-th neighbour.
        squared[np.arange(stop - start), np.arange(start, stop)] = 0.0
        radii[start:stop] = np.partition(squared, k, axis=1)[:, k]
    return radii


def manifold_membership(queries, manifold, radii, batch_size=1000):
    """`f(phi, Phi)` of Kynkäänniemi et al. (2019), eq. 2, for every query.

    Args:
        queries: array `(M, d)`.
        manifold: array `(N, d)`: the centres of the hyperspheres.
        radii: array `(N,)`: their squared radii (`knn_radii(manifold)`).
        batch_size: int. Queries per block (memory `batch_size * N`
            float64). Defaults to 1000.

    Returns:
        Bool array `(M,)`: whether each query lies in at least one sphere
        (on its boundary counts, as `<=` in eq. 2).
    """
    queries = _check_features(queries, "queries")
    manifold = _check_features(manifold, "manifold")
    radii = np.asarray(radii, dtype=np.float64)
    if radii.shape != (manifold.shape[0],):
        raise ValueError(
            f"Expected one radius per manifold vector, shape ({manifold.shape[0]},). "
            f"Received: radii.shape={radii.shape}"
        )
    check_positive_int(batch_size, "batch_size")
    query_norms = np.sum(queries * queries, axis=1)
    manifold_norms = np.sum(manifold * manifold, axis=1)
    inside = np.empty(queries.shape[0], dtype=bool)
    for start in range(0, queries.shape[0], batch_size):
        stop = min(start + batch_size, queries.shape[0])
        squared = _squared_distances(queries[start:stop], query_norms[start:stop], manifold, manifold_norms)
        inside[start:stop] = np.any(squared <= radii[None, :], axis=1)
    return inside


def _check_k(k, count, name):
    check_positive_int(k, "k")
    if count <= k:
        raise ValueError(
            f"`{name}` needs more than k={k} vectors to have k nearest neighbours "
            f"besides each vector itself. Received: {count} vectors."
        )


def precision_recall(real_features, fake_features, k=3, batch_size=1000):
    """Improved precision and recall (Kynkäänniemi et al. 2019, eq. 1-2).

    Each set's manifold is the union of balls around its vectors, of
    radius the distance to the k-th nearest neighbour in that set.
    Precision = fraction of fake vectors inside at least one real ball;
    recall = fraction of real vectors inside at least one fake ball.
    Distances are Euclidean, in float64, one block of `batch_size` rows
    at a time, so memory stays at `batch_size * max(N, M)` distances
    whatever the set sizes (the paper's 50k x 50k never exists at once).

    Args:
        real_features: array `(N, d)`: features of real images.
        fake_features: array `(M, d)`: features of generated images, the
            same `d`.
        k: int >= 1, smaller than both N and M. Defaults to 3 (the
            paper's choice).
        batch_size: int. Rows per block of distances. Defaults to 1000.

    Returns:
        `PrecisionRecall(precision, recall)`, two floats in [0, 1].

    Example:

    >>> import numpy as np
    >>> real = np.random.default_rng(0).normal(size=(200, 8))
    >>> precision_recall(real, real)
    PrecisionRecall(precision=1.0, recall=1.0)
    >>> precision_recall(real, real + 100.0)
    PrecisionRecall(precision=0.0, recall=0.0)
    """
    real = _check_features(real_features, "real_features")
    fake = _check_features(fake_features, "fake_features")
    check_same_item_size(real, fake, ("real_features", "fake_features"), "feature dimension")
    _check_k(k, real.shape[0], "real_features")
    _check_k(k, fake.shape[0], "fake_features")
    check_positive_int(batch_size, "batch_size")
    real_radii = knn_radii(real, k, batch_size)
    fake_radii = knn_radii(fake, k, batch_size)
    precision = float(np.mean(manifold_membership(fake, real, real_radii, batch_size)))
    recall = float(np.mean(manifold_membership(real, fake, fake_radii, batch_size)))
    return PrecisionRecall(precision, recall)
