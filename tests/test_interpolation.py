"""slerp / lerp (White 2016) and the Z_T vs Z_0 interpolations of the learned-priors paper."""

import numpy as np
import pytest

from keras_vaes.samplers import lerp, slerp


def numpy_slerp(a, b, t):
    # White's reference implementation (sampling-generative-networks, utils.py).
    omega = np.arccos(np.clip(np.dot(a / np.linalg.norm(a), b / np.linalg.norm(b)), -1, 1))
    so = np.sin(omega)
    if so == 0:
        return (1.0 - t) * a + t * b
    return np.sin((1.0 - t) * omega) / so * a + np.sin(t * omega) / so * b


def test_slerp_matches_numpy_reference_for_batches_and_steps():
    rng = np.random.default_rng(0)
    z_a, z_b = rng.normal(size=(5, 8)), rng.normal(size=(5, 8))
    ts = np.linspace(0.0, 1.0, 7)
    out = slerp(z_a, z_b, ts)
    assert out.shape == (7, 5, 8) and out.dtype == np.float32
    expected = np.array([[numpy_slerp(z_a[i], z_b[i], t) for i in range(5)] for t in ts])
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out[0], z_a, atol=1e-6)
    np.testing.assert_allclose(out[-1], z_b, atol=1e-6)


def test_slerp_closed_form_rotation_in_a_plane():
    # Unit vectors at angle 1.2 rad: slerp is the rotation by t * 1.2 rad.
    angle = 1.2
    a, b = np.array([1.0, 0.0]), np.array([np.cos(angle), np.sin(angle)])
    for t in (0.25, 0.5, 0.9):
        np.testing.assert_allclose(
            slerp(a, b, t), [np.cos(t * angle), np.sin(t * angle)], atol=1e-6
        )
        # Scalar t: no leading axis.
        assert slerp(a, b, t).shape == (2,)


def test_slerp_falls_back_to_lerp_for_parallel_and_zero_vectors():
    a = np.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(slerp(a, 3 * a, 0.5), lerp(a, 3 * a, 0.5), atol=1e-6)
    np.testing.assert_allclose(slerp(a, -a, 0.25), 0.5 * a, atol=1e-6)
    np.testing.assert_allclose(slerp(np.zeros(3), a, 0.5), 0.5 * a, atol=1e-6)
    assert np.all(np.isfinite(slerp(np.zeros(3), np.zeros(3), [0.0, 0.5])))


def test_lerp_broadcasts_one_start_to_many_ends():
    out = lerp(np.zeros(3), np.ones((4, 3)), [0.0, 0.5, 1.0])
    assert out.shape == (3, 4, 3)
    np.testing.assert_allclose(out[1], 0.5)


@pytest.mark.parametrize(
    "z_a, z_b, t, match",
    [
        (np.zeros(3), np.zeros(4), 0.5, "same size"),
        (np.zeros((2, 3)), np.zeros((5, 3)), 0.5, "broadcast"),
        (np.zeros(3), np.zeros(3), np.zeros((2, 2)), "1-D"),
        (np.zeros(3), np.zeros(3), np.nan, "finite"),
    ],
)
def test_bad_interpolation_input(z_a, z_b, t, match):
    with pytest.raises(ValueError, match=match):
        slerp(z_a, z_b, t)
