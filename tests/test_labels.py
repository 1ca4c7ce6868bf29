"""Labels given to an unconditional model are refused, never ignored (issue 30, item 5).

Keras's `fit` hands the second element of `(images, labels)` (and `y`) to
the loss as targets, which no loss of the package reads: every model's
`fit` (the contract's `_checked_fit_input`) raises instead, saying what
it received and what to pass.
"""

import re

import numpy as np
import pytest
import tensorflow as tf

import keras_vaes as kv
from keras_vaes.models.stages import SecondStage

SHAPE = (8, 8, 1)

BUILDERS = {
    "split_vae": lambda: kv.build_svae(SHAPE, 4, base_dim=4, emb_dim=8, num_scale=1),
    "gamix": lambda: kv.build_gamix_vae(SHAPE, 8, filters=4, discriminator_strides=(2, 1, 1, 1, 1, 1)),
    "fp_vae": lambda: kv.build_flow_prior_vae(SHAPE, 2, num_couplings=2, hidden_units=8,
                                              filters=(4, 8), dense_units=16),
    "prior_aae": lambda: kv.build_prior_aae(SHAPE, 2, filters=(4, 8), dense_units=16,
                                            discriminator_units=(8,), generator_units=(8,)),
    "first_stage": lambda: kv.FirstStage(SHAPE, 4, base_dim=4, num_scale=2, fc_dim=8),
}


@pytest.fixture(scope="module")
def models():
    return {name: build() for name, build in BUILDERS.items()}


def _images(model, n=8):
    x = np.random.default_rng(0).uniform(size=(n,) + SHAPE).astype("float32")
    low, high = model.value_range
    return low + (high - low) * x


LABELS = np.arange(8) % 2


def _containers(x):
    return {
        "y": dict(x=x, y=LABELS),
        "pair": dict(x=(x, LABELS)),
        "dict": dict(x={"images": x, "labels": LABELS}),
        "dataset": dict(x=tf.data.Dataset.from_tensor_slices((x, LABELS)).batch(4)),
    }


@pytest.mark.parametrize("container", ["y", "pair", "dict", "dataset"])
@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_labels_given_to_an_unconditional_model_raise_a_clear_error(models, name, container):
    model = models[name]
    model.compile()
    before = [np.array(w) for w in model.get_weights()]
    with pytest.raises(ValueError) as error:
        model.fit(**_containers(_images(model))[container], epochs=1, verbose=0)
    message = str(error.value)
    assert type(model).__name__ in message and "unconditional" in message
    assert re.search(r"Received: labels = \w+ of shape \((8|4),\)", message), message
    if container == "dataset":
        assert "dataset.map(lambda x, y: x)" in message or "num_classes" in message
    else:
        assert "fit(x)" in message or "fit(images)" in message or "images alone" in message
    # Nothing trained.
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_the_message_says_what_to_do_for_each_container(models):
    model = models["split_vae"]
    x = _images(model)
    messages = {}
    for container, kwargs in _containers(x).items():
        with pytest.raises(ValueError) as error:
            model.fit(**kwargs, epochs=1, verbose=0)
        messages[container] = str(error.value)
    assert "Received: labels = ndarray of shape (8,) and dtype int64 in y." in messages["y"]
    assert "Pass the images alone: `fit(x)` without `y`." in messages["y"]
    assert "in the second element of `x`." in messages["pair"]
    assert "Pass the images alone: `fit(images)`." in messages["pair"]
    assert "in x['labels']." in messages["dict"]
    assert "in the second element of each batch of `x`." in messages["dataset"]
    assert "`dataset.map(lambda x, y: x)`" in messages["dataset"]
    assert "image_dataset_from_directory(..., labels=None)" in messages["dataset"]
    # A model that can be conditional says how.
    with pytest.raises(ValueError, match="num_classes"):
        models["fp_vae"].fit(x, LABELS, epochs=1, verbose=0)


@pytest.mark.parametrize("name", ["split_vae", "gamix"])
def test_a_dataset_of_pixel_values_is_refused_with_the_exact_map(models, name):
    model = models[name]
    pixels = np.round(np.random.default_rng(0).uniform(0, 255, size=(8,) + SHAPE)).astype("float32")
    scaled = "x / 255.0" if name == "split_vae" else "x / 127.5 - 1.0"
    with pytest.raises(ValueError) as error:
        model.fit(tf.data.Dataset.from_tensor_slices(pixels).batch(4), epochs=1, verbose=0)
    assert f"`dataset.map(lambda x: {scaled})`" in str(error.value)
    assert "0-255 pixel values" in str(error.value)
    # image_dataset_from_directory's (images, labels): one map fixes both.
    labelled = tf.data.Dataset.from_tensor_slices((pixels, LABELS)).batch(4)
    with pytest.raises(ValueError) as error:
        model.fit(labelled, epochs=1, verbose=0)
    assert f"`dataset.map(lambda x, y: {scaled})`" in str(error.value)
    # The fix the message gives trains.
    fixed = labelled.map(eval(f"lambda x, y: {scaled}"))
    model.compile()
    model.fit(fixed, epochs=1, verbose=0)


def test_the_images_alone_still_train_and_a_conditional_model_takes_labels(models):
    model = models["split_vae"]
    model.compile()
    x = _images(model)
    assert np.isfinite(model.fit(x, batch_size=4, epochs=1, verbose=0).history["loss"][-1])
    dataset = tf.data.Dataset.from_tensor_slices((x, LABELS)).batch(4).map(lambda x, y: x)
    assert np.isfinite(model.fit(dataset, epochs=1, verbose=0).history["loss"][-1])
    conditional = kv.build_flow_prior_vae(SHAPE, 2, num_couplings=2, hidden_units=8,
                                          filters=(4, 8), dense_units=16, num_classes=2)
    conditional.compile()
    history = conditional.fit(x, LABELS, batch_size=4, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][-1])


def test_the_second_stage_refuses_targets():
    stage = SecondStage(4, second_dim=8)
    stage.compile()
    codes = np.zeros((8, 4), "float32")
    with pytest.raises(ValueError, match="takes no `y`"):
        stage.fit(codes, LABELS, epochs=1, verbose=0)
