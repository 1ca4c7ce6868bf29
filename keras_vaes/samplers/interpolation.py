"""Interpolation between codes: lerp, and slerp (White 2016)."""

import keras
import numpy as np


def _interpolation_inputs(z_a, z_b, t):
    z_a = np.asarray(keras.ops.convert_to_numpy(z_a), dtype=np.float64)
    z_b = np.asarray(keras.ops.convert_to_numpy(z_b), dtype=np.float64)
    if z_a.ndim == 0 or z_b.ndim == 0 or z_a.shape[-1] != z_b.shape[-1]:
        raise ValueError(
            "`z_a` and `z_b` must be latent vectors of the same size (last axis). "
            f"Received: z_a.shape={z_a.shape}, z_b.shape={z_b.shape}"
        )
    try:
        np.broadcast_shapes(z_a.shape, z_b.shape)
    except ValueError:
        raise ValueError(
            "`z_a` and `z_b` must broadcast against each other. "
            f"Received: z_a.shape={z_a.shape}, z_b.shape={z_b.shape}"
        ) from None
    t = np.asarray(t, dtype=np.float64)
    if t.ndim > 1 or not np.all(np.isfinite(t)):
        raise ValueError(
            "`t` must be a finite scalar or a 1-D array of interpolation "
            f"positions. Received: t={t!r}"
        )
    # t of shape (T,) -> (T, 1, ..., 1, 1) so that the output is (T, ..., d).
    t_b = np.reshape(t, t.shape + (1,) * max(z_a.ndim, z_b.ndim))
    return z_a, z_b, t, t_b


def lerp(z_a, z_b, t):
    """Linear interpolation `(1 - t) z_a + t z_b`.

    The interpolation in Z_T of "Empirical observations pertaining to
    learned priors" (section 5.2): `D(lerp(E(x_a), E(x_b), t))`.

    Args:
        z_a: array `(..., d)`. Start point(s).
        z_b: array `(..., d)`, broadcastable with `z_a`. End point(s).
        t: float or 1-D array of positions (0 gives `z_a`, 1 gives `z_b`).

    Returns:
        Float32 array of shape `np.shape(t) + broadcast(z_a, z_b).shape`.

    Example:

    >>> lerp(np.zeros(2), np.ones(2), [0.0, 0.5]).tolist()
    [[0.0, 0.0], [0.5, 0.5]]
    """
    z_a, z_b, _, t_b = _interpolation_inputs(z_a, z_b, t)
    return ((1.0 - t_b) * z_a + t_b * z_b).astype(np.float32)


def slerp(z_a, z_b, t):
    """Spherical linear interpolation (White 2016, "Sampling generative networks").

    With `omega` the angle between `z_a` and `z_b` (per vector, along the
    last axis):

        slerp(z_a, z_b; t) = sin((1 - t) omega) / sin(omega) z_a
                             + sin(t omega) / sin(omega) z_b

    As in White's code, vectors with `sin(omega) = 0` (same or opposite
    direction, or a zero vector) fall back to `lerp`. Used for the Z_0
    interpolation of the learned-priors paper (section 4 and 5.2):
    `D(f^-1(slerp(f(E(x_a)), f(E(x_b)), t)))`.

    Args:
        z_a: array `(..., d)`. Start point(s).
        z_b: array `(..., d)`, broadcastable with `z_a`. End point(s).
        t: float or 1-D array of positions in [0, 1] (0 gives `z_a`).

    Returns:
        Float32 array of shape `np.shape(t) + broadcast(z_a, z_b).shape`.

    Example:

    >>> [round(float(v), 4) for v in slerp([1.0, 0.0], [0.0, 1.0], 0.5)]
    [0.7071, 0.7071]
    """
    z_a, z_b, _, t_b = _interpolation_inputs(z_a, z_b, t)
    norm_a = np.linalg.norm(z_a, axis=-1, keepdims=True)
    norm_b = np.linalg.norm(z_b, axis=-1, keepdims=True)
    denominator = norm_a * norm_b
    safe = np.where(denominator > 0, denominator, 1.0)
    cosine = np.clip(np.sum(z_a * z_b, axis=-1, keepdims=True) / safe, -1.0, 1.0)
    omega = np.arccos(cosine)
    sin_omega = np.sin(omega)
    # Exactly parallel vectors give sin(omega) ~ 1e-8 through arccos round-off.
    degenerate = (denominator == 0) | (np.abs(sin_omega) < 1e-6)
    sin_safe = np.where(degenerate, 1.0, sin_omega)
    spherical = (
        np.sin((1.0 - t_b) * omega) / sin_safe * z_a
        + np.sin(t_b * omega) / sin_safe * z_b
    )
    linear = (1.0 - t_b) * z_a + t_b * z_b
    return np.where(degenerate, linear, spherical).astype(np.float32)
