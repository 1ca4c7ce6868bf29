"""The training gate: trained models pass, untrained ones and mean images fail, figures as by hand."""

import keras
import numpy as np
import pytest

import keras_vaes as kv
from keras_vaes.evaluation.gate import GateResult, training_gate


@pytest.fixture(scope="module")
def judge(pool_judge):
    return pool_judge


@pytest.fixture(scope="module")
def models(squares):
    keras.utils.set_random_seed(0)
    build = lambda: kv.build_flow_prior_vae(  # noqa: E731
        (16, 16, 1), 4, beta=0.0, prior="normal", filters=(8, 16), dense_units=32, seed=0)
    untrained, trained = build(), build()
    trained.compile(optimizer=keras.optimizers.Adam(3e-3, beta_1=0.5))
    trained.fit(squares(512, 0), batch_size=32, epochs=40, verbose=0)
    return untrained, trained


def test_trained_model_passes_and_untrained_fails(models, judge, squares):
    untrained, trained = models
    held_out, train = squares(200, 1), squares(512, 0)
    good = training_gate(trained, held_out, judge, mean_image=train.mean(axis=0))
    bad = training_gate(untrained, held_out, judge, mean_image=train.mean(axis=0))
    assert good.passed, good.summary()
    assert good.mse_ratio < 0.35 and good.recall >= 0.5
    assert not bad.passed
    assert bad.mse_ratio > 1.0 and bad.recall < 0.5
    assert bad.reasons and "mean image" in bad.reasons[0]
    assert "FAILED" in bad.summary() and "passed" in good.summary()


def test_figures_match_a_hand_computation(judge, squares):
    images = squares(100, 2)
    mean_image = images.mean(axis=0)
    # The mean image as every reconstruction: MSE ratio exactly 1, and it fails.
    flat = training_gate(None, images, judge, reconstructions=np.repeat(mean_image[None], 100, axis=0))
    assert flat.mse == pytest.approx(float(np.mean((images - mean_image) ** 2)), rel=1e-6)
    assert flat.mse_ratio == pytest.approx(1.0, rel=1e-6)
    assert not flat.passed
    # Perfect reconstructions: MSE 0, recall 1 (every real feature inside its own ball).
    perfect = training_gate(None, images, judge, reconstructions=images)
    assert perfect.mse == 0.0 and perfect.recall == 1.0 and perfect.passed
    # Halfway to the mean image: MSE ratio 0.25 (squared error scales by 0.5^2).
    half = training_gate(None, images, judge, reconstructions=0.5 * images + 0.5 * mean_image[None],
                         min_recall=0.0)
    assert half.mse_ratio == pytest.approx(0.25, rel=1e-5) and half.passed


def test_thresholds_are_arguments_and_value_range_is_respected(judge, squares):
    images = squares(50, 3)
    noisy = np.clip(images + 0.3 * np.random.default_rng(0).standard_normal(images.shape), 0, 1)
    result = training_gate(None, images, judge, reconstructions=noisy, max_mse_ratio=1.0, min_recall=0.0)
    assert isinstance(result, GateResult) and result.max_mse_ratio == 1.0 and result.min_recall == 0.0
    as_dict = result.as_dict()
    assert {"mse", "mean_image_mse", "mse_ratio", "recall", "precision", "passed", "reasons"} <= set(as_dict)

    class Signed:  # a model in [-1, 1]: the gate measures in [0, 1] units
        value_range = (-1.0, 1.0)

        def reconstruct(self, x, batch_size=100):
            return {"x_hat": x}

    signed = 2.0 * images - 1.0
    same = training_gate(Signed(), signed, judge, mean_image=2.0 * images.mean(axis=0) - 1.0)
    reference = training_gate(None, images, judge, reconstructions=images)
    assert same.mean_image_mse == pytest.approx(reference.mean_image_mse, rel=1e-6)
    assert same.mse == 0.0 and same.passed


@pytest.mark.parametrize("kwargs, message", [
    ({"max_mse_ratio": 0.0}, "max_mse_ratio"),
    ({"min_recall": 1.5}, "min_recall"),
    ({"reconstructions": np.zeros((3, 16, 16, 1), "float32")}, "reconstructions"),
    ({"mean_image": np.zeros((8, 8, 1), "float32"), "reconstructions": np.zeros((20, 16, 16, 1), "float32")},
     "mean_image"),
])
def test_bad_arguments_raise_with_what_was_received(judge, kwargs, message, squares):
    with pytest.raises(ValueError, match=message):
        training_gate(None, squares(20, 4), judge, **kwargs)


def test_too_few_images_and_no_model():
    with pytest.raises(ValueError, match="N > k=3"):
        training_gate(None, np.zeros((3, 16, 16, 1), "float32"), None)
    with pytest.raises(ValueError, match="Pass a `model`"):
        training_gate(None, np.zeros((10, 16, 16, 1), "float32"), None)
