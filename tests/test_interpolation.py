"""slerp / lerp (White 2016) and the Z_T vs Z_0 interpolations of the learned-priors paper."""

import numpy as np

from keras_vaes.models.contract import Posterior
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


# --- Interpolation in Z_T vs Z_0 (learned priors, section 5.2) ----------------


class AffineFlow:
    """f(z) = 2 z + 1: an invertible stand-in for the RealNVP prior."""

    def forward(self, z_t, labels=None):
        return 2.0 * np.asarray(z_t) + 1.0

    def inverse(self, z_0, labels=None):
        return (np.asarray(z_0) - 1.0) / 2.0


class ToyModel:
    """E(x) = the first 3 pixels; D(z) = a 1x3x1 'image' of sigmoid(z)."""

    latent_dim = 3

    def __init__(self, flow=True):
        self.prior = AffineFlow() if flow else None

    def encode(self, x, batch_size=100):
        z = np.asarray(x).reshape(len(x), -1)[:, :3]
        return Posterior(z, np.zeros_like(z))

    def decode(self, z, batch_size=100):
        return {"x_hat": (1.0 / (1.0 + np.exp(-np.asarray(z)))).reshape(len(z), 1, 3, 1)}


def test_z_t_interpolation_decodes_lerp_of_encodings():
    from keras_vaes.evaluation.learned_priors import interpolate_z_t

    rng = np.random.default_rng(3)
    x_a, x_b = rng.random((2, 1, 3, 1)), rng.random((2, 1, 3, 1))
    out = interpolate_z_t(ToyModel(), x_a, x_b, steps=5)
    assert out.shape == (2, 5, 1, 3, 1)
    za, zb = x_a.reshape(2, 3), x_b.reshape(2, 3)
    for i in range(2):
        for j, t in enumerate(np.linspace(0, 1, 5)):
            z = (1 - t) * za[i] + t * zb[i]
            np.testing.assert_allclose(out[i, j, 0, :, 0], 1 / (1 + np.exp(-z)), rtol=1e-5)


def test_z_0_interpolation_decodes_inverse_of_slerp_of_flow_images():
    from keras_vaes.evaluation.learned_priors import interpolate_z_0

    rng = np.random.default_rng(4)
    # Codes around -1/2, so that their flow images 2 z + 1 are far from parallel.
    x_a, x_b = rng.normal(-0.5, 1.0, (2, 1, 3, 1)), rng.normal(-0.5, 1.0, (2, 1, 3, 1))
    out = interpolate_z_0(ToyModel(), x_a, x_b, steps=4)
    za, zb = x_a.reshape(2, 3), x_b.reshape(2, 3)
    for i in range(2):
        for j, t in enumerate(np.linspace(0, 1, 4)):
            z = (numpy_slerp(2 * za[i] + 1, 2 * zb[i] + 1, t) - 1) / 2
            np.testing.assert_allclose(out[i, j, 0, :, 0], 1 / (1 + np.exp(-z)), rtol=1e-5)
    # Endpoints are the reconstructions of x_a and x_b, and the paths differ.
    np.testing.assert_allclose(out[:, 0, 0, :, 0], 1 / (1 + np.exp(-za)), rtol=1e-5)
    from keras_vaes.evaluation.learned_priors import interpolate_z_t

    assert np.abs(out - interpolate_z_t(ToyModel(), x_a, x_b, steps=4)).max() > 1e-2


def test_z_0_interpolation_needs_a_flow_and_steps():
    from keras_vaes.evaluation.learned_priors import interpolate_z_0

    x = np.zeros((1, 1, 3, 1))
    with pytest.raises(ValueError, match="invertible learned prior"):
        interpolate_z_0(ToyModel(flow=False), x, x)
    with pytest.raises(ValueError, match="steps"):
        interpolate_z_0(ToyModel(), x, x, steps=1)


def test_attribute_vector_and_interpolation():
    from keras_vaes.evaluation.learned_priors import attribute_interpolation, attribute_vector

    codes = np.array([[1.0, 0.0], [3.0, 0.0], [0.0, 2.0], [0.0, 4.0]])
    np.testing.assert_allclose(attribute_vector(codes, [1, 1, 0, 0]), [2.0, -3.0])
    with pytest.raises(ValueError, match="both values"):
        attribute_vector(codes, [1, 1, 1, 1])
    x = np.random.default_rng(5).random((2, 1, 3, 1))
    vector = np.array([0.5, -1.0, 2.0])
    in_z0, in_zt = attribute_interpolation(ToyModel(), x, vector, steps=3)
    z = x.reshape(2, 3)
    # Both paths run from D(E(x)) to D(E(x) + vector).
    for rows in (in_z0, in_zt):
        np.testing.assert_allclose(rows[:, 0, 0, :, 0], 1 / (1 + np.exp(-z)), rtol=1e-5)
        np.testing.assert_allclose(rows[:, -1, 0, :, 0], 1 / (1 + np.exp(-(z + vector))), rtol=1e-5)
