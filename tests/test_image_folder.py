"""`datasets.image_folder`: one's own images for every model (issue 30, item 5)."""

import os

import keras
import numpy as np
import pytest
from PIL import Image

import keras_vaes as kv
from keras_vaes import datasets


@pytest.fixture
def folder(tmp_path):
    """Images of mixed sizes and modes, in class folders, with files to skip."""
    rng = np.random.default_rng(0)
    (tmp_path / "cats").mkdir()
    (tmp_path / "dogs" / "small").mkdir(parents=True)
    Image.fromarray(np.full((10, 12), 51, "uint8"), mode="L").save(tmp_path / "cats" / "a_flat.png")
    Image.fromarray(rng.integers(0, 256, (16, 16), dtype="uint8"), mode="L").save(tmp_path / "cats" / "b.PNG")
    Image.fromarray(rng.integers(0, 256, (20, 16, 3), dtype="uint8"), mode="RGB").save(tmp_path / "dogs" / "c.png")
    Image.fromarray(rng.integers(0, 256, (9, 9, 3), dtype="uint8"), mode="RGB").save(
        tmp_path / "dogs" / "small" / "d.jpg", quality=95)
    (tmp_path / "notes.txt").write_text("not an image")
    Image.fromarray(np.zeros((4, 4), "uint8")).save(tmp_path / ".hidden.png")
    return tmp_path


def test_a_folder_of_mixed_images_loads_resized_in_the_value_range(folder):
    x = datasets.image_folder(folder, (8, 8))
    assert x.shape == (4, 8, 8, 3) and x.dtype == np.float32  # one RGB image: "auto" is RGB
    assert 0.0 <= x.min() and x.max() <= 1.0
    flat = x[0]  # sorted paths: cats/a_flat.png first
    np.testing.assert_allclose(flat, 51 / 255, atol=1e-6)
    np.testing.assert_array_equal(x[1][..., 0], x[1][..., 2])  # a grayscale image in RGB
    assert np.abs(x[2][..., 0] - x[2][..., 1]).max() > 0.1  # an RGB one stays in colour

    gray = datasets.image_folder(folder, 8, value_range=(-1, 1), color_mode="grayscale")
    assert gray.shape == (4, 8, 8, 1)
    np.testing.assert_allclose(gray[0], 2 * 51 / 255 - 1, atol=1e-6)
    assert -1.0 <= gray.min() and gray.max() <= 1.0


def test_a_folder_of_grayscale_images_loads_as_one_channel(folder):
    x = datasets.image_folder(folder / "cats", (12, 10))
    assert x.shape == (2, 12, 10, 1)
    rgb = datasets.image_folder(folder / "cats", (12, 10), color_mode="rgb")
    assert rgb.shape == (2, 12, 10, 3)
    np.testing.assert_allclose(rgb[..., :1], x, atol=1e-6)


def test_shuffle_is_seeded(folder):
    ordered = datasets.image_folder(folder, 8)
    shuffled = datasets.image_folder(folder, 8, shuffle=True, seed=3)
    np.testing.assert_array_equal(shuffled, datasets.image_folder(folder, 8, shuffle=True, seed=3))
    assert sorted(map(float, shuffled.sum(axis=(1, 2, 3)))) == pytest.approx(
        sorted(map(float, ordered.sum(axis=(1, 2, 3)))))
    keras.utils.set_random_seed(1)
    first = datasets.image_folder(folder, 8, shuffle=True)
    keras.utils.set_random_seed(1)
    np.testing.assert_array_equal(first, datasets.image_folder(folder, 8, shuffle=True))


def test_with_a_batch_size_it_streams_batches_reshuffled_every_epoch(folder):
    data = datasets.image_folder(folder, 8, batch_size=3, seed=0)
    assert isinstance(data, keras.utils.PyDataset) and len(data) == 2
    first_epoch = np.concatenate([data[0], data[1]])
    assert data[0].shape == (3, 8, 8, 3) and data[1].shape == (1, 8, 8, 3)
    everything = datasets.image_folder(folder, 8)
    key = lambda a: sorted(np.round(a.sum(axis=(1, 2, 3)), 4).tolist())
    assert key(first_epoch) == key(everything)  # each image once
    data.on_epoch_end()
    second_epoch = np.concatenate([data[0], data[1]])
    assert key(second_epoch) == key(everything)
    again = datasets.image_folder(folder, 8, batch_size=3, seed=0)
    again.set_epoch(1)
    np.testing.assert_array_equal(np.concatenate([again[0], again[1]]), second_epoch)
    dropped = datasets.image_folder(folder, 8, batch_size=3, seed=0, drop_remainder=True)
    assert len(dropped) == 1


def test_clear_errors(folder, tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        datasets.image_folder(tmp_path / "nowhere", 8)
    with pytest.raises(NotADirectoryError, match="a file"):
        datasets.image_folder(folder / "notes.txt", 8)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="No image files"):
        datasets.image_folder(tmp_path / "empty", 8)
    with pytest.raises(ValueError, match="color_mode"):
        datasets.image_folder(folder, 8, color_mode="RGB")
    with pytest.raises(ValueError, match="image_size"):
        datasets.image_folder(folder, (8, 0))
    with pytest.raises(ValueError, match="value_range"):
        datasets.image_folder(folder, 8, value_range=(1, 0))
    (folder / "cats" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match="broken.png"):
        datasets.image_folder(folder, 8)


MODELS = {
    "split_vae": lambda: kv.build_svae((8, 8, 1), 4, base_dim=4, emb_dim=8, num_scale=1),
    "gamix": lambda: kv.build_gamix_vae((8, 8, 1), 8, filters=4, discriminator_strides=(2, 1, 1, 1, 1, 1)),
    "fp_vae": lambda: kv.build_flow_prior_vae((8, 8, 1), 2, num_couplings=2, hidden_units=8,
                                              filters=(4, 8), dense_units=16),
    "prior_aae": lambda: kv.build_prior_aae((8, 8, 1), 2, filters=(4, 8), dense_units=16,
                                            discriminator_units=(8,), generator_units=(8,)),
    "first_stage": lambda: kv.FirstStage((8, 8, 1), 4, base_dim=4, num_scale=2, fc_dim=8),
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_model_trains_on_a_folder(folder, name):
    model = MODELS[name]()
    model.compile()
    x = datasets.image_folder(folder, 8, value_range=model.value_range, color_mode="grayscale")
    history = model.fit(x, batch_size=2, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][-1])
    stream = datasets.image_folder(folder, 8, value_range=model.value_range, color_mode="grayscale",
                                   batch_size=2, seed=0)
    history = model.fit(stream, epochs=1, verbose=0)
    assert len(history.history["loss"]) == 1 and np.isfinite(history.history["loss"][-1])


def test_the_two_stage_vae_trains_on_a_folder(folder):
    model = kv.build_two_stage_vae((8, 8, 1), 4, base_dim=4, num_scale=2, fc_dim=8, second_dim=8)
    x = datasets.image_folder(folder, 8, color_mode="grayscale")
    model.fit_first_stage(x, 1, batch_size=2, verbose=0)
    model.fit_second_stage(x, 1, batch_size=2, verbose=0)
    assert model.generate(2, seed=0)["x_hat"].shape == (2, 8, 8, 1)


def test_image_dataset_from_directory_output_is_refused_with_the_exact_fix(folder):
    os.remove(folder / ".hidden.png")
    dataset = keras.utils.image_dataset_from_directory(
        str(folder), image_size=(8, 8), color_mode="grayscale", batch_size=2, shuffle=False)
    model = MODELS["split_vae"]()
    model.compile()
    with pytest.raises(ValueError) as error:
        model.fit(dataset, epochs=1, verbose=0)
    message = str(error.value)
    assert "`dataset.map(lambda x, y: x / 255.0)`" in message
    assert "image_folder(path, image_size, value_range=(0.0, 1.0))" in message
    history = model.fit(dataset.map(lambda x, y: x / 255.0), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][-1])
    # Without labels (labels=None), the map is the one-argument one.
    unlabelled = keras.utils.image_dataset_from_directory(
        str(folder), labels=None, image_size=(8, 8), color_mode="grayscale", batch_size=2)
    with pytest.raises(ValueError, match=r"`dataset\.map\(lambda x: x / 255\.0\)`"):
        model.fit(unlabelled, epochs=1, verbose=0)
