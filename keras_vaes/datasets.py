"""Data loaders in the layout the papers' code uses: float32 in [0, 1], NHWC.

- MNIST / Fashion-MNIST: 28x28 zero-padded to 32x32x1 (authors' Split-VAE and
  two-stage code); `pad=False` keeps 28x28x1.
- CIFAR-10: 32x32x3.
- CelebA: img_align_celeba crop [45:173, 25:153] (128x128) resized to 64x64
  with bilinear interpolation, the official train/val/test partition by file
  order, cached as uint8 `.npy` files.

Each loader takes an explicit `path` or falls back to `keras.datasets` (which
caches in ~/.keras/datasets and needs the network the first time). All return
`(x_train, y_train), (x_test, y_test)`; CelebA has no labels (None).
"""

import os

import numpy as np

CELEBA_CROP = (slice(45, 173), slice(25, 153))
# Official CelebA partition (list_eval_partition.txt) by sorted file order.
CELEBA_SPLITS = {"train": (0, 162770), "val": (162770, 182637), "test": (182637, 202599)}


def _to_unit_float(images):
    return images.astype("float32") / 255.0


def pad_to_32(images):
    """Zero-pads (N, 28, 28[, 1]) images to (N, 32, 32, 1)."""
    if images.ndim == 3:
        images = images[..., None]
    if images.shape[1:3] != (28, 28):
        raise ValueError(
            f"Expected 28x28 images to pad. Received: shape {images.shape}"
        )
    return np.pad(images, ((0, 0), (2, 2), (2, 2), (0, 0)))


def _load_npz(path, name, hint):
    path = os.path.expanduser(os.fspath(path))
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"The {name} file {path!r} does not exist. {hint}"
        )
    with np.load(path, allow_pickle=False) as data:
        missing = {"x_train", "y_train", "x_test", "y_test"} - set(data.files)
        if missing:
            raise ValueError(
                f"{path!r} is not a {name} npz in Keras's layout: it lacks "
                f"{sorted(missing)}. Received keys: {sorted(data.files)}"
            )
        return (data["x_train"], data["y_train"]), (data["x_test"], data["y_test"])


def _load_keras(name, loader, hint):
    try:
        return loader()
    except Exception as error:  # no network, corrupt cache, ...
        raise RuntimeError(
            f"Could not load {name} through keras.datasets ({error}). {hint}"
        ) from error


def _mnist_like(name, keras_loader, path, pad):
    hint = (
        f"Pass path= to a {name}.npz in Keras's layout (keys x_train, "
        f"y_train, x_test, y_test; e.g. the file keras.datasets downloads to "
        f"~/.keras/datasets/), or run once with network access so "
        f"keras.datasets can download it."
    )
    if path is not None:
        (x_train, y_train), (x_test, y_test) = _load_npz(path, name, hint)
    else:
        (x_train, y_train), (x_test, y_test) = _load_keras(name, keras_loader, hint)
    if x_train.shape[1:] != (28, 28) or x_test.shape[1:] != (28, 28):
        raise ValueError(
            f"Expected {name} images of shape (N, 28, 28). Received: "
            f"x_train.shape={x_train.shape}, x_test.shape={x_test.shape}"
        )
    prepare = pad_to_32 if pad else (lambda x: x[..., None])
    return (
        (_to_unit_float(prepare(x_train)), y_train),
        (_to_unit_float(prepare(x_test)), y_test),
    )


def load_mnist(path=None, pad=True):
    """MNIST in [0, 1], zero-padded to 32x32x1 as the authors do.

    Args:
        path: str or None. A Keras-layout `mnist.npz`; None uses
            `keras.datasets.mnist`.
        pad: bool. Pad 28x28 to 32x32. Defaults to True.

    Returns:
        `(x_train, y_train), (x_test, y_test)`.
    """
    import keras

    return _mnist_like("mnist", keras.datasets.mnist.load_data, path, pad)


def load_fashion_mnist(path=None, pad=True):
    """Fashion-MNIST in [0, 1], zero-padded to 32x32x1. See `load_mnist`."""
    import keras

    return _mnist_like(
        "fashion_mnist", keras.datasets.fashion_mnist.load_data, path, pad
    )


def _unpickle_cifar_batch(path):
    import pickle

    with open(path, "rb") as f:
        batch = pickle.load(f, encoding="bytes")
    data = batch[b"data"].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return data, np.asarray(batch[b"labels"])


def load_cifar10(path=None):
    """CIFAR-10 in [0, 1], 32x32x3.

    Args:
        path: str or None. Either a Keras-layout npz (x_train, y_train,
            x_test, y_test), or the extracted `cifar-10-batches-py` folder
            (data_batch_1..5, test_batch). None uses `keras.datasets.cifar10`.
    """
    hint = (
        "Pass path= to the extracted 'cifar-10-batches-py' folder of "
        "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz or to an npz "
        "with x_train, y_train, x_test, y_test, or run once with network "
        "access so keras.datasets can download it."
    )
    if path is None:
        import keras

        (x_train, y_train), (x_test, y_test) = _load_keras(
            "cifar10", keras.datasets.cifar10.load_data, hint
        )
    elif os.path.isdir(path):
        names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
        missing = [n for n in names if not os.path.exists(os.path.join(path, n))]
        if missing:
            raise FileNotFoundError(
                f"{path!r} lacks the CIFAR-10 batches {missing}. {hint}"
            )
        parts = [_unpickle_cifar_batch(os.path.join(path, n)) for n in names]
        x_train = np.concatenate([p[0] for p in parts[:5]])
        y_train = np.concatenate([p[1] for p in parts[:5]])
        x_test, y_test = parts[5]
    else:
        (x_train, y_train), (x_test, y_test) = _load_npz(path, "cifar10", hint)
    if x_train.shape[1:] != (32, 32, 3):
        raise ValueError(
            "Expected CIFAR-10 images of shape (N, 32, 32, 3). "
            f"Received: x_train.shape={x_train.shape}"
        )
    return (
        (_to_unit_float(x_train), np.ravel(y_train)),
        (_to_unit_float(x_test), np.ravel(y_test)),
    )


def preprocess_celeba_image(image, side=64):
    """Crops [45:173, 25:153] and resizes bilinearly to `side` x `side`."""
    from PIL import Image

    image = np.asarray(image)
    if image.shape[0] < 173 or image.shape[1] < 153:
        raise ValueError(
            "Expected an img_align_celeba image (218x178x3). "
            f"Received: shape {image.shape}"
        )
    crop = image[CELEBA_CROP]
    resized = Image.fromarray(crop).resize((side, side), resample=Image.BILINEAR)
    return np.asarray(resized, dtype=np.uint8)


def _celeba_number(filename):
    stem = os.path.splitext(filename)[0]
    if not stem.isdigit():
        raise ValueError(
            "Expected CelebA file names like 000001.jpg (the image number). "
            f"Received: {filename!r}"
        )
    return int(stem)


def _celeba_split_array(folder, split, side, cache_dir, limit):
    from PIL import Image

    files = sorted(f for f in os.listdir(folder) if f.endswith(".jpg"))
    if not files:
        raise FileNotFoundError(
            f"No .jpg images in {folder!r}. Expected the img_align_celeba "
            "folder of CelebA (000001.jpg ... 202599.jpg)."
        )
    # The official partition goes by image number: 1..162770 train,
    # 162771..182637 val, 182638..202599 test (list_eval_partition.txt).
    start, stop = CELEBA_SPLITS[split]
    files = [f for f in files if start < _celeba_number(f) <= stop][:limit]
    first = files[0] if files else "none"
    key = f"celeba_{split}_{side}_{first[:-4]}_{len(files)}.npy"
    cache = os.path.join(cache_dir, key) if cache_dir else None
    if cache and os.path.exists(cache):
        return np.load(cache)
    images = np.stack(
        [preprocess_celeba_image(Image.open(os.path.join(folder, f)).convert("RGB"), side) for f in files]
    ) if files else np.zeros((0, side, side, 3), np.uint8)
    if cache:
        os.makedirs(cache_dir, exist_ok=True)
        tmp = cache + ".tmp.npy"
        np.save(tmp, images)
        os.replace(tmp, cache)
    return images


def load_celeba(path, side=64, cache_dir=None, limit=None):
    """CelebA 64x64 as the authors: crop [45:173, 25:153], bilinear resize.

    Args:
        path: str. The `img_align_celeba` folder of jpgs.
        side: int. Output side. Defaults to 64.
        cache_dir: str or None. Where the uint8 arrays are cached as npy
            (keyed by split, side and count); defaults to `path/../celeba_cache`.
        limit: int or None. At most this many images per split.

    Returns:
        `(x_train, None), (x_test, None)` in [0, 1].
    """
    if path is None or not os.path.isdir(path):
        raise FileNotFoundError(
            f"CelebA folder {path!r} not found. Download img_align_celeba.zip "
            "from the CelebA site (http://mmlab.ie.cuhk.edu.hk/projects/CelebA.html), "
            "unzip it and pass the img_align_celeba folder."
        )
    if cache_dir is None:
        cache_dir = os.path.join(os.path.dirname(os.path.abspath(path)), "celeba_cache")
    train = _celeba_split_array(path, "train", side, cache_dir, limit)
    test = _celeba_split_array(path, "test", side, cache_dir, limit)
    return (_to_unit_float(train), None), (_to_unit_float(test), None)


LOADERS = {
    "mnist": load_mnist,
    "fashion_mnist": load_fashion_mnist,
    "cifar10": load_cifar10,
    "celeba": load_celeba,
}


def load(name, path=None, **kwargs):
    """Loads a dataset by name (`mnist`, `fashion_mnist`, `cifar10`, `celeba`)."""
    if name not in LOADERS:
        raise ValueError(f"Unknown dataset. Expected one of {sorted(LOADERS)}. Received: {name!r}")
    return LOADERS[name](path, **kwargs)
