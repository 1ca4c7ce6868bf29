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

One's own images: `image_folder(path, image_size, value_range=...)`, a folder
(nested folders too) of PNG / JPEG files of any size, grayscale or RGB.
"""

import os
import zipfile

import numpy as np

from keras_vaes.utils import check_positive_int

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
    if not os.path.isfile(path) or not zipfile.is_zipfile(path):
        raise ValueError(
            f"{path!r} is not a {name} .npz archive (a NumPy zip of x_train, y_train, "
            f"x_test, y_test): {'a folder' if os.path.isdir(path) else 'not a zip file'}. {hint}"
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


JPEG_QUALITY = 75  # imageio's (and Pillow's) default, what the authors' imwrite used


def jpeg_round_trip(images, quality=JPEG_QUALITY):
    """Writes uint8 images as JPEG and reads them back, as the BalancingVAE authors.

    Their CIFAR-10 preprocessing (`load_cifar10_data` of `computed_gamma.py`)
    saves every image with `imageio.imwrite(... .jpg)` and reads it back
    with `imread(pilmode="RGB")`: training images and FID reference alike
    carry JPEG artefacts. Here the same encoder (Pillow, quality 75,
    4:2:0 chroma subsampling) runs in memory.

    Args:
        images: uint8 array `(N, H, W, 3)`.
        quality: int. JPEG quality. Defaults to 75.

    Returns:
        uint8 array of the same shape.
    """
    import io

    from PIL import Image

    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(
            "Expected uint8 RGB images of shape (N, H, W, 3). "
            f"Received: images.shape={images.shape}, dtype={images.dtype}"
        )
    out = np.empty_like(images)
    for i, image in enumerate(images):
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format="JPEG", quality=quality)
        buffer.seek(0)
        out[i] = np.asarray(Image.open(buffer).convert("RGB"))
    return out


def load_cifar10(path=None, jpeg=False):
    """CIFAR-10 in [0, 1], 32x32x3.

    Args:
        path: str or None. Either a Keras-layout npz (x_train, y_train,
            x_test, y_test), or the extracted `cifar-10-batches-py` folder
            (data_batch_1..5, test_batch). None uses `keras.datasets.cifar10`.
        jpeg: bool. JPEG round trip of every image (`jpeg_round_trip`), as
            the variance-loss (BalancingVAE) authors' CIFAR-10; the
            Split-VAE authors use the raw images. Defaults to False.
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
    if jpeg:
        x_train = jpeg_round_trip(np.asarray(x_train, dtype=np.uint8))
        x_test = jpeg_round_trip(np.asarray(x_test, dtype=np.uint8))
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


# --- GAMIX-VAE data: images in [-1, 1] (the author's code) -----------------

# The author's CelebA-HQ split: sorted paths shuffled with this seed, then
# the first 24,000 for training and the last 6,000 for validation.
CELEBA_HQ_SEED = 1967
CELEBA_HQ_TRAIN = 24000


def to_signed(images):
    """Maps images in [0, 1] to [-1, 1] (2 * x - 1), as GAMIX-VAE's data."""
    return 2.0 * np.asarray(images, dtype="float32") - 1.0


def load_mnist_signed(path=None):
    """MNIST zero-padded to 32x32x1, in [-1, 1] (padding at -1). See `load_mnist`."""
    (x_train, y_train), (x_test, y_test) = load_mnist(path)
    return (to_signed(x_train), y_train), (to_signed(x_test), y_test)


def load_fashion_mnist_signed(path=None):
    """Fashion-MNIST padded to 32x32x1, in [-1, 1]. See `load_fashion_mnist`."""
    (x_train, y_train), (x_test, y_test) = load_fashion_mnist(path)
    return (to_signed(x_train), y_train), (to_signed(x_test), y_test)


def celeba_hq_split(folder, seed=CELEBA_HQ_SEED, train_size=CELEBA_HQ_TRAIN):
    """The GAMIX author's CelebA-HQ split: `(train_paths, validation_paths)`.

    The sorted `*.jpg` paths of `folder` are shuffled with `seed` (NumPy's
    legacy `np.random.seed(seed); np.random.shuffle`, whose permutation is
    stable across NumPy versions); the first `train_size` train, the rest
    validate (24,000 / 6,000 for the 30,000 images of CelebA-HQ).
    """
    if folder is None or not os.path.isdir(folder):
        raise FileNotFoundError(
            f"CelebA-HQ folder {folder!r} not found. Expected a folder of the 30,000 "
            "CelebA-HQ images as .jpg files (e.g. the 'celeba_hq_256' release)."
        )
    paths = sorted(os.path.join(folder, f) for f in os.listdir(folder) if f.lower().endswith(".jpg"))
    if len(paths) < 2:
        raise FileNotFoundError(
            f"Expected CelebA-HQ .jpg images in {folder!r}. Received: {len(paths)} .jpg files."
        )
    rng = np.random.RandomState(seed)
    order = np.arange(len(paths))
    rng.shuffle(order)
    paths = [paths[i] for i in order]
    if len(paths) <= train_size:  # a smaller folder: the same 24:6 proportion
        train_size = min(len(paths) - 1, max(1, round(0.8 * len(paths))))
    return paths[:train_size], paths[train_size:]


def read_jpeg(path, side=256):
    """Reads one image file as float32 (side, side, 3) in [-1, 1], bilinear resize."""
    try:
        from PIL import Image
    except ImportError:  # TensorFlow's decoder when Pillow is absent
        import tensorflow as tf

        image = tf.io.decode_jpeg(tf.io.read_file(path), channels=3)
        image = tf.image.resize(image, (side, side), method="bilinear")
        return np.asarray(image, dtype="float32") / 127.5 - 1.0
    with Image.open(path) as image:
        image = image.convert("RGB")
        if image.size != (side, side):
            image = image.resize((side, side), resample=Image.BILINEAR)
        return np.asarray(image, dtype="float32") / 127.5 - 1.0


def _py_dataset_base():
    import keras

    return keras.utils.PyDataset


class CelebAHQDataset(_py_dataset_base()):
    """Streams CelebA-HQ batches from disk (a `keras.utils.PyDataset`).

    24,000 images of 256x256x3 float32 (18.9 GB) do not fit in memory: each
    batch is read and decoded when Keras asks for it (in parallel with
    `workers`). Images are resized bilinearly to `side` and mapped to
    [-1, 1]; training batches are flipped horizontally at random, as the
    author's code, and reshuffled every epoch. Backend-portable.

    Args:
        paths: list of image paths (see `celeba_hq_split`).
        batch_size: int. Defaults to 10 (the author's).
        side: int. Output side. Defaults to 256.
        training: bool. Shuffle each epoch and flip at random. Defaults to True.
        seed: int. Seed of the shuffles and flips. Defaults to 0.
        drop_remainder: bool. Drop a last incomplete batch (GAMIX-VAE cannot
            train on a batch of one). Defaults to True.
        **kwargs: `workers`, `use_multiprocessing`, `max_queue_size`.
    """

    def __init__(self, paths, batch_size=10, side=256, training=True, seed=0,
                 drop_remainder=True, **kwargs):
        super().__init__(**kwargs)
        if not len(paths):
            raise ValueError("Expected a non-empty path list. Received: 0 paths")
        self.paths = list(paths)
        self.batch_size = check_positive_int(batch_size, "batch_size")
        self.side = check_positive_int(side, "side")
        self.training = bool(training)
        self.seed = seed
        self.drop_remainder = drop_remainder
        self.epoch = 0
        self._order = np.arange(len(self.paths))
        if training:
            np.random.default_rng([seed, 0]).shuffle(self._order)

    def __len__(self):
        full, rest = divmod(len(self.paths), self.batch_size)
        return full if (self.drop_remainder and full) else full + (rest > 0)

    def __getitem__(self, index):
        if not 0 <= index < len(self):
            raise IndexError(f"Batch index out of range. Received: index={index}, len={len(self)}")
        chosen = self._order[index * self.batch_size : (index + 1) * self.batch_size]
        batch = np.stack([read_jpeg(self.paths[i], self.side) for i in chosen])
        if self.training:
            flips = np.random.default_rng([self.seed, self.epoch, index]).random(len(batch)) < 0.5
            batch[flips] = batch[flips, :, ::-1]
        return batch

    def on_epoch_end(self):
        self.epoch += 1
        if self.training:
            np.random.default_rng([self.seed, self.epoch]).shuffle(self._order)


def load_celeba_hq(path, batch_size=10, side=256, seed=0, **kwargs):
    """CelebA-HQ as the GAMIX author: `(train, validation)` streaming datasets.

    Args:
        path: str. Folder of the CelebA-HQ `.jpg` images.
        batch_size: int. Defaults to 10.
        side: int. Defaults to 256.
        seed: int. Seed of the epoch shuffles and flips (the split itself
            always uses the author's seed 1967).
        **kwargs: passed to `CelebAHQDataset` (e.g. `workers`).
    """
    train, validation = celeba_hq_split(path)
    return (
        CelebAHQDataset(train, batch_size, side, training=True, seed=seed, **kwargs),
        CelebAHQDataset(validation, batch_size, side, training=False, seed=seed, **kwargs),
    )


# --- A folder of one's own images --------------------------------------------

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
COLOR_MODES = ("auto", "grayscale", "rgb")
# Pillow modes of one channel (8-bit, 1-bit, with alpha, 32-bit integer).
_GRAYSCALE_MODES = ("L", "LA", "1", "I", "I;16", "I;16B", "I;16L", "F")


def _image_size(image_size):
    if isinstance(image_size, (int, np.integer)) and not isinstance(image_size, bool):
        image_size = (image_size, image_size)
    try:
        height, width = (int(v) for v in image_size)
        if height < 1 or width < 1 or (height, width) != tuple(image_size):
            raise ValueError
    except (TypeError, ValueError):
        raise ValueError(
            f"Expected image_size as (height, width) of positive ints, or one int. "
            f"Received: image_size={image_size!r}"
        ) from None
    return height, width


def image_paths(path):
    """The image files under folder `path` (nested folders too), sorted.

    Files ending in one of `IMAGE_EXTENSIONS` (any case); hidden files and
    folders are skipped. Raises when `path` is missing or holds no image.
    """
    path = os.path.expanduser(os.fspath(path))
    if not os.path.isdir(path):
        raise (NotADirectoryError if os.path.exists(path) else FileNotFoundError)(
            f"Expected a folder of images. Received: path={path!r} "
            f"({'a file' if os.path.exists(path) else 'does not exist'})"
        )
    found = []
    for root, folders, files in os.walk(path):
        folders[:] = sorted(f for f in folders if not f.startswith("."))
        found += [os.path.join(root, f) for f in files
                  if not f.startswith(".") and f.lower().endswith(IMAGE_EXTENSIONS)]
    if not found:
        raise ValueError(
            f"No image files ({', '.join(IMAGE_EXTENSIONS)}) in {path!r} or its sub-folders."
        )
    return sorted(found)


def _open_image(path):
    from PIL import Image, UnidentifiedImageError

    try:
        image = Image.open(path)
        image.load()
    except (OSError, UnidentifiedImageError) as error:
        raise ValueError(f"Could not read the image file {path!r}: {error}") from None
    return image


def _folder_color_mode(paths, color_mode):
    if color_mode not in COLOR_MODES:
        raise ValueError(f"`color_mode` must be one of {COLOR_MODES}. Received: color_mode={color_mode!r}")
    if color_mode != "auto":
        return color_mode
    from PIL import Image

    for path in paths:  # the header only: no pixel is decoded
        try:
            with Image.open(path) as image:
                mode = image.mode
                if mode == "P":  # a palette image is grayscale when its colours are
                    rgb = np.asarray(image.convert("RGB"))
                    mode = "L" if (rgb == rgb[..., :1]).all() else "RGB"
        except OSError as error:
            raise ValueError(f"Could not read the image file {path!r}: {error}") from None
        if mode not in _GRAYSCALE_MODES:
            return "rgb"
    return "grayscale"


def read_image(path, image_size, color_mode="rgb", value_range=(0.0, 1.0)):
    """One image file as float32 `(H, W, C)` in `value_range`, resized bilinearly.

    Args:
        path: str. A PNG, JPEG, BMP or GIF file (the first frame).
        image_size: (height, width), or one int for a square.
        color_mode: "grayscale" (C = 1) or "rgb" (C = 3); an alpha channel
            is dropped. Defaults to "rgb".
        value_range: (low, high). Pixel 0 maps to low, 255 to high.
            Defaults to (0, 1).
    """
    from PIL import Image

    height, width = _image_size(image_size)
    low, high = (float(v) for v in value_range)
    image = _open_image(path)
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):  # 16-bit grayscale: 65535 -> 255
        array = np.asarray(image, dtype="float64")
        if image.mode != "I" or array.max() > 255:
            array = array / 257.0
        image = Image.fromarray(np.clip(np.round(array), 0, 255).astype("uint8"))
    image = image.convert("L" if color_mode == "grayscale" else "RGB")
    if image.size != (width, height):
        image = image.resize((width, height), resample=Image.BILINEAR)
    pixels = np.asarray(image, dtype="float32").reshape(height, width, -1)
    return (low + (high - low) * pixels / 255.0).astype("float32")


class ImageFolderDataset(_py_dataset_base()):
    """Batches of a folder's images read from disk (a `keras.utils.PyDataset`).

    What `image_folder(..., batch_size=n)` returns: each batch is read when
    Keras asks for it, so a folder larger than memory trains; every
    backend. Batches hold images only (no labels).

    Args:
        paths: list of image paths (e.g. `image_paths(folder)`).
        image_size, color_mode, value_range: as `read_image`.
        batch_size: int.
        shuffle: bool. Reshuffle the order every epoch (a function of
            `(seed, epoch)`). Defaults to True.
        seed: int or None. Seed of the shuffles (None: one drawn from
            NumPy's global state, which `keras.utils.set_random_seed` seeds).
        drop_remainder: bool. Drop a last incomplete batch (GAMIX-VAE
            cannot train on a batch of one). Defaults to False.
        **kwargs: `workers`, `use_multiprocessing`, `max_queue_size`.
    """

    def __init__(self, paths, image_size, color_mode="rgb", value_range=(0.0, 1.0), batch_size=32,
                 shuffle=True, seed=None, drop_remainder=False, **kwargs):
        super().__init__(**kwargs)
        if not len(paths):
            raise ValueError("Expected a non-empty path list. Received: 0 paths")
        self.paths = list(paths)
        self.image_size = _image_size(image_size)
        self.color_mode = color_mode
        self.value_range = tuple(float(v) for v in value_range)
        self.batch_size = check_positive_int(batch_size, "batch_size")
        self.shuffle = bool(shuffle)
        if seed is None:
            seed = int(np.random.randint(2**62, dtype=np.int64))
        self.seed = seed
        self.drop_remainder = bool(drop_remainder)
        if self.drop_remainder and len(self.paths) < self.batch_size:
            raise ValueError(
                f"drop_remainder=True with {len(self.paths)} images and batch_size="
                f"{self.batch_size} leaves no batch."
            )
        self.set_epoch(0)

    def set_epoch(self, epoch):
        """Sets the order of the images to epoch `epoch`'s."""
        self.epoch = int(epoch)
        self._order = np.arange(len(self.paths))
        if self.shuffle:
            np.random.default_rng([self.seed, self.epoch]).shuffle(self._order)

    def __len__(self):
        full, rest = divmod(len(self.paths), self.batch_size)
        return full if self.drop_remainder else full + (rest > 0)

    def __getitem__(self, index):
        if not 0 <= index < len(self):
            raise IndexError(f"Batch index out of range. Received: index={index}, len={len(self)}")
        chosen = self._order[index * self.batch_size : (index + 1) * self.batch_size]
        return np.stack([
            read_image(self.paths[i], self.image_size, self.color_mode, self.value_range)
            for i in chosen
        ])

    def on_epoch_end(self):
        self.set_epoch(self.epoch + 1)


def image_folder(path, image_size, value_range=(0.0, 1.0), color_mode="auto", batch_size=None,
                 shuffle=None, seed=None, drop_remainder=False):
    """A folder of one's own images, ready for any model's `fit`.

    Every PNG, JPEG, BMP or GIF file under `path` (nested folders such as
    one per class are read too; the labels are not: the models are
    unconditional) is converted to `color_mode` and resized bilinearly to
    `image_size` (the aspect ratio is not kept), with pixel values mapped
    linearly from 0-255 to `value_range`: pass the model's,
    `value_range=model.value_range` ([0, 1], or [-1, 1] for GAMIX-VAE).
    The input shape of the model is then `image_size + (channels,)`.

    Args:
        path: str. The folder.
        image_size: (height, width), or one int for a square.
        value_range: (low, high). Defaults to (0, 1).
        color_mode: "auto" (grayscale when every image is, RGB otherwise),
            "grayscale" or "rgb". Defaults to "auto".
        batch_size: None (default) loads every image into one float32
            NumPy array `(N, H, W, C)`; an int returns an
            `ImageFolderDataset` (a `keras.utils.PyDataset`) that reads
            each batch from disk when Keras asks for it, for folders larger
            than memory.
        shuffle: bool or None. The array: shuffled once (None: no, kept in
            sorted path order). The dataset: reshuffled every epoch (None:
            yes).
        seed: int or None. Seed of the shuffles (None: NumPy's global
            state, which `keras.utils.set_random_seed` seeds).
        drop_remainder: bool. The dataset only: drop a last incomplete
            batch. Defaults to False.

    Returns:
        A float32 array `(N, H, W, C)`, or an `ImageFolderDataset`.

    Example:
    >>> x = image_folder("my_images/", (32, 32), color_mode="grayscale")  # doctest: +SKIP
    >>> model = keras_vaes.build_svae(x.shape[1:], 32); model.compile()  # doctest: +SKIP
    >>> model.fit(x, epochs=10)  # doctest: +SKIP
    """
    paths = image_paths(path)
    size = _image_size(image_size)
    low, high = (float(v) for v in value_range)
    if not low < high:
        raise ValueError(f"`value_range` must be (low, high) with low < high. Received: {value_range!r}")
    color_mode = _folder_color_mode(paths, color_mode)
    if batch_size is not None:
        return ImageFolderDataset(
            paths, size, color_mode, (low, high), batch_size,
            shuffle=True if shuffle is None else shuffle, seed=seed, drop_remainder=drop_remainder,
        )
    if drop_remainder:
        raise ValueError("`drop_remainder` applies to batches: pass batch_size= too.")
    images = np.stack([read_image(p, size, color_mode, (low, high)) for p in paths])
    if shuffle:
        rng = np.random.default_rng(seed if seed is not None else np.random.randint(2**62, dtype=np.int64))
        images = images[rng.permutation(len(images))]
    return images
