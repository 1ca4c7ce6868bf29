"""The adversarial terms: one BCE on logits, two generator losses with names that say their target."""

import warnings

import numpy as np
import pytest

import keras_vaes as kv
from keras_vaes.losses import adversarial, gamix, learned_priors


def _reference_bce(target, logits):
    logits = np.asarray(logits, dtype=np.float64)
    return np.maximum(logits, 0) - logits * target + np.log1p(np.exp(-np.abs(logits)))


def test_bce_with_logits_is_stable_and_per_sample():
    logits = np.array([[-80.0, 0.0], [3.0, 80.0]], dtype="float32")
    for target in (0.0, 1.0):
        value = np.asarray(adversarial.binary_cross_entropy_logits(target, logits))
        assert value.shape == (2,) and np.all(np.isfinite(value))
        np.testing.assert_allclose(value, _reference_bce(target, logits).mean(axis=1), rtol=1e-5)
    assert kv.losses.binary_cross_entropy_logits is adversarial.binary_cross_entropy_logits
    assert learned_priors.binary_cross_entropy_logits is adversarial.binary_cross_entropy_logits


def test_the_two_generator_losses_have_opposite_targets():
    patches = np.random.default_rng(0).normal(size=(3, 4, 4, 1)).astype("float32") * 4
    codes = patches.reshape(3, -1)[:, :1]
    # GAMIX: reconstructions should pass for data (target 1), averaged over patches.
    assert float(gamix.patch_generator_loss(patches)) == pytest.approx(
        _reference_bce(1.0, patches).mean(), rel=1e-5)
    # Prior-AAE: generated codes should pass for the encoder's (target 0).
    assert float(learned_priors.code_generator_loss(codes)) == pytest.approx(
        _reference_bce(0.0, codes).mean(), rel=1e-5)
    assert kv.losses.patch_generator_loss is gamix.patch_generator_loss
    assert kv.losses.code_generator_loss is learned_priors.code_generator_loss


def test_the_old_generator_names_still_work_and_say_they_are_deprecated():
    patches = np.linspace(-3, 3, 32, dtype="float32").reshape(2, 4, 4, 1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        old_gamix = float(kv.losses.generator_adversarial_loss(patches))
        old_prior = float(learned_priors.generator_adversarial_loss(patches))
    assert old_gamix == pytest.approx(float(gamix.patch_generator_loss(patches)))
    assert old_prior == pytest.approx(float(learned_priors.code_generator_loss(patches)))
    messages = [str(w.message) for w in caught if issubclass(w.category, DeprecationWarning)]
    assert any("patch_generator_loss" in m for m in messages)
    assert any("code_generator_loss" in m for m in messages)
