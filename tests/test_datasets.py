import os
import pickle

import numpy as np
import pytest

from keras_vaes import datasets


def write_mnist_like(path, n_train=7, n_test=3):
    rng = np.random.default_rng(0)
    np.savez(
        path,
        x_train=rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        y_train=rng.integers(0, 10, n_train, dtype=np.uint8),
        x_test=rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        y_test=rng.integers(0, 10, n_test, dtype=np.uint8),
    )
    return np.load(path)


@pytest.mark.parametrize("loader", [datasets.load_mnist, datasets.load_fashion_mnist])
def test_mnist_like_padded_to_32_in_unit_range(tmp_path, loader):
    raw = write_mnist_like(tmp_path / "m.npz")
    (x_train, y_train), (x_test, y_test) = loader(str(tmp_path / "m.npz"))
    assert x_train.shape == (7, 32, 32, 1) and x_test.shape == (3, 32, 32, 1)
    assert x_train.dtype == np.float32
    np.testing.assert_allclose(x_train[:, 2:30, 2:30, 0], raw["x_train"] / 255.0, rtol=1e-6)
    assert np.all(x_train[:, :2] == 0) and np.all(x_train[:, :, 30:] == 0)
    np.testing.assert_array_equal(y_test, raw["y_test"])
    (x28, _), _ = loader(str(tmp_path / "m.npz"), pad=False)
    assert x28.shape == (7, 28, 28, 1)


def test_missing_file_says_how_to_supply_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="Pass path= to a mnist.npz"):
        datasets.load_mnist(str(tmp_path / "nope.npz"))


def test_wrong_npz_layout(tmp_path):
    np.savez(tmp_path / "bad.npz", images=np.zeros((2, 28, 28)))
    with pytest.raises(ValueError, match="lacks"):
        datasets.load_mnist(str(tmp_path / "bad.npz"))


def test_cifar10_from_python_batches(tmp_path):
    rng = np.random.default_rng(1)
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    raws = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, (2, 3072), dtype=np.uint8)
        raws[name] = data
        with open(folder / name, "wb") as f:
            pickle.dump({b"data": data, b"labels": [1, 2]}, f)
    (x_train, y_train), (x_test, _) = datasets.load_cifar10(str(folder))
    assert x_train.shape == (10, 32, 32, 3) and x_test.shape == (2, 32, 32, 3)
    # CIFAR rows are channel-planar: R plane, then G, then B.
    first = raws["data_batch_1"][0]
    assert x_train[0, 0, 1, 2] == pytest.approx(first[2 * 1024 + 1] / 255.0)
    np.testing.assert_array_equal(y_train, [1, 2] * 5)
    with pytest.raises(FileNotFoundError, match="cifar-10-batches-py"):
        datasets.load_cifar10(str(tmp_path))


def test_cifar10_jpeg_round_trip_as_the_variance_loss_authors(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(2)
    # Smooth images (JPEG-friendly) plus noise, in the Keras npz layout.
    base = np.linspace(0, 200, 32)[None, :, None, None] + np.zeros((3, 32, 32, 3))
    x = np.clip(base + rng.integers(0, 40, (3, 32, 32, 3)), 0, 255).astype(np.uint8)
    path = tmp_path / "cifar10.npz"
    np.savez(path, x_train=x[:2], y_train=np.array([[0], [1]]), x_test=x[2:], y_test=np.array([[2]]))
    (raw, _), _ = datasets.load_cifar10(str(path))
    (jpg, _), (jpg_test, _) = datasets.load_cifar10(str(path), jpeg=True)
    np.testing.assert_array_equal(raw, x[:2] / np.float32(255))
    # What the authors' imwrite(.jpg) + imread(pilmode="RGB") gives, file by file.
    expected = []
    for i, image in enumerate(x):
        file = tmp_path / f"{i}.jpg"
        Image.fromarray(image).save(file, quality=75)
        expected.append(np.asarray(Image.open(file).convert("RGB")))
    expected = np.stack(expected).astype(np.float32) / 255
    np.testing.assert_array_equal(jpg, expected[:2])
    np.testing.assert_array_equal(jpg_test, expected[2:])
    # Lossy: different from the raw pixels, but close.
    difference = np.abs(jpg - raw)
    assert 0 < difference.mean() < 0.1
    with pytest.raises(ValueError, match="uint8 RGB"):
        datasets.jpeg_round_trip(np.zeros((1, 4, 4, 3), np.float32))


def test_celeba_crop_resize_split_and_cache(tmp_path, monkeypatch):
    from PIL import Image

    folder = tmp_path / "img_align_celeba"
    folder.mkdir()
    rng = np.random.default_rng(2)
    images = []
    # Two official training images and one test image (by image number).
    for number in (1, 2, 182638):
        image = rng.integers(0, 256, (218, 178, 3), dtype=np.uint8)
        Image.fromarray(image).save(folder / f"{number:06d}.jpg", quality=100)
        images.append(np.asarray(Image.open(folder / f"{number:06d}.jpg")))
    (x_train, _), (x_test, _) = datasets.load_celeba(str(folder), cache_dir=str(tmp_path / "c"))
    assert x_train.shape == (2, 64, 64, 3) and x_test.shape == (1, 64, 64, 3)
    # Independent check of crop + 2x downsampling: PIL's bilinear filter on
    # an exact halving averages each 2x2 block up to its antialiasing.
    crop = images[2][45:173, 25:153].astype(float)
    block_mean = crop.reshape(64, 2, 64, 2, 3).mean(axis=(1, 3)) / 255.0
    assert np.mean(np.abs(x_test[0] - block_mean)) < 0.05
    assert not np.allclose(x_test[0], x_train[0], atol=0.05)
    assert sorted(os.listdir(tmp_path / "c"))[0].startswith("celeba_")
    with pytest.raises(ValueError, match="218x178"):
        datasets.preprocess_celeba_image(np.zeros((64, 64, 3), np.uint8))

    def no_decoding(*args, **kwargs):
        raise AssertionError("the cache was not used")

    monkeypatch.setattr(datasets, "preprocess_celeba_image", no_decoding)
    (cached, _), _ = datasets.load_celeba(str(folder), cache_dir=str(tmp_path / "c"))
    np.testing.assert_array_equal(cached, x_train)
    with pytest.raises(FileNotFoundError, match="img_align_celeba"):
        datasets.load_celeba(str(tmp_path / "missing"))
