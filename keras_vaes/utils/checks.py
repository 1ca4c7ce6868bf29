"""Argument and input checks: each raises with what is expected and what was received.

The package's models call them at the top of their constructors
(`check_positive_int`, `check_float`, `check_input_shape`), of `fit`
(`check_fit_input`) and of `encode` / `decode` (`check_images`,
`check_latents`); FID and the datasets check images with the same
`check_images`.
"""

import inspect
import math
import warnings

import numpy as np
from keras import ops


class ValueRangeWarning(UserWarning):
    """Images that fit a model's value range but plainly belong to another one."""


# --- Arguments -------------------------------------------------------------


def _received(value):
    """`repr` of a scalar argument with its type when the repr hides it ('32', 2.5)."""
    text = repr(value)
    if len(text) > 80:
        text = text[:77] + "..."
    if isinstance(value, (bool, int, float)) and not isinstance(value, bool):
        return text
    return f"{text} ({type(value).__name__})"


def check_positive_int(value, name, minimum=1):
    """`value` as an int if it is an integer >= `minimum`, else a ValueError naming it.

    Booleans, floats (even 32.0), strings and None are refused: a size given
    as `2.5` or `"32"` is a mistake to report, not to round.

    Args:
        value: the argument.
        name: str. The argument's name, for the message.
        minimum: int. The smallest value allowed. Defaults to 1.

    Returns:
        `int(value)`.
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        expected = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ValueError(f"`{name}` must be {expected}. Received: {name}={_received(value)}")
    return int(value)


def check_float(value, name, minimum=0.0, strict=False):
    """`value` as a float if it is a finite number >= `minimum` (> with `strict`).

    Refuses NaN, inf, booleans, strings and None, naming the argument.

    Args:
        value: the argument.
        name: str. The argument's name, for the message.
        minimum: float or None. Lower bound; None for any finite number.
            Defaults to 0.
        strict: bool. Require `value > minimum`. Defaults to False.

    Returns:
        `float(value)`.
    """
    ok = not isinstance(value, bool) and isinstance(value, (int, float, np.integer, np.floating))
    ok = ok and math.isfinite(value)
    if ok and minimum is not None:
        ok = value > minimum if strict else value >= minimum
    if not ok:
        bound = "" if minimum is None else f" {'>' if strict else '>='} {minimum:g}"
        raise ValueError(f"`{name}` must be a finite number{bound}. Received: {name}={_received(value)}")
    return float(value)


def check_non_negative_float(value, name):
    """`value` as a float if it is a finite number >= 0 (weights of loss terms)."""
    return check_float(value, name, minimum=0.0)


def check_positive_float(value, name):
    """`value` as a float if it is a finite number > 0 (learning rates, variances)."""
    return check_float(value, name, minimum=0.0, strict=True)


def check_input_shape(input_shape, name="input_shape", *, base_size=None, downsamplings=0,
                      multiple_of=1):
    """`(height, width, channels)` as a tuple of positive Python ints, checked for a network.

    The package's one image-shape check. Every network is built for one
    image size: None (a variable size), 0, negative and non-integer sizes
    are refused. The keywords add what an architecture needs: a ResNet
    decoder that doubles from `base_size` (`base_size`), an encoder's
    stride-2 convolutions (`downsamplings`), InfoGAN's halvings
    (`multiple_of`).

    Args:
        input_shape: the argument, a sequence of three sizes.
        name: str. The argument's name, for the message. Defaults to
            "input_shape".
        base_size: int or None. When given, the images must be square with
            side `base_size * 2**k`, k >= 1. Defaults to None.
        downsamplings: int. Stride-2 downsamplings the side must survive
            (at least 1x1 after them). Defaults to 0.
        multiple_of: int. Height and width must be multiples of it.
            Defaults to 1.

    Returns:
        The shape as a tuple of ints.

    Example:
    >>> check_input_shape([32, 32, 3], base_size=4, downsamplings=3)
    (32, 32, 3)
    >>> check_input_shape((24, 24, 1), base_size=4)
    Traceback (most recent call last):
    ...
    ValueError: Expected square images of side 4*2^k with k >= 1 (8, 16, 32, 64, ...). Received: image side 24, input_shape=(24, 24, 1)
    """
    labels = ("height", "width", "channels")
    try:
        dims = tuple(input_shape)
    except TypeError:
        dims = None
    if dims is None or len(dims) != 3:
        raise ValueError(
            f"Expected {name}=(height, width, channels), three positive integers. "
            f"Received: {name}={_received(input_shape)}"
        )
    for label, dim in zip(labels, dims):
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim < 1:
            why = (
                "None (a variable size): the networks are built for one image size"
                if dim is None
                else f"{dim!r}, not a positive integer"
            )
            raise ValueError(
                f"Expected {name}=(height, width, channels), three positive integers; "
                f"the {label} is {why}. Received: {name}={dims}"
            )
    dims = tuple(int(d) for d in dims)
    height, width, _ = dims
    if base_size is not None:
        side = base_size * 2
        while side < height:
            side *= 2
        if height != width or side != height:
            sizes = ", ".join(str(base_size * 2**k) for k in range(1, 5))
            received = f"image side {height}, " if height == width else ""
            raise ValueError(
                f"Expected square images of side {base_size}*2^k with k >= 1 ({sizes}, ...). "
                f"Received: {received}{name}={dims}"
            )
    if min(height, width) // 2**downsamplings < 1:
        raise ValueError(
            f"Expected images of at least {2**downsamplings}x{2**downsamplings} for "
            f"{downsamplings} stride-2 downsamplings (fewer scales take smaller images). "
            f"Received: {name}={dims}"
        )
    if height % multiple_of or width % multiple_of:
        raise ValueError(
            f"Expected {name}=(height, width, channels) with height and width multiples of "
            f"{multiple_of}. Received: {name}={dims}"
        )
    return dims


def check_same_item_size(first, second, names, what="item size"):
    """Raises unless two batches `(N, ...)` hold items of as many entries.

    Args:
        first, second: arrays (or array-likes) whose first axis is the batch.
        names: pair of str. The arguments' names, for the message.
        what: str. What must agree, for the message (e.g. "feature
            dimension"). Defaults to "item size".
    """
    first_shape, second_shape = np.shape(first), np.shape(second)
    if math.prod(first_shape[1:]) != math.prod(second_shape[1:]):
        raise ValueError(
            f"`{names[0]}` and `{names[1]}` must have the same {what}. Received: "
            f"{names[0]}.shape={first_shape}, {names[1]}.shape={second_shape}"
        )


# --- Inputs ----------------------------------------------------------------


def describe(value):
    """A short description of a value for an error message: never its contents."""
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        return f"{type(value).__name__} of shape {tuple(value.shape)} and dtype {value.dtype}"
    if isinstance(value, (list, tuple)):
        kinds = sorted({type(v).__name__ for v in value[:100]})
        shapes = sorted({str(np.shape(v)) for v in value[:100]})
        inner = f"{'/'.join(kinds)}" + (f" of shapes {', '.join(shapes[:3])}" if shapes else "")
        inner += "..." if len(shapes) > 3 else ""
        return f"{type(value).__name__} of {len(value)} {inner}".rstrip()
    text = repr(value)
    return text if len(text) <= 80 else f"{type(value).__name__} {text[:60]}..."


def _to_numpy(value):
    if isinstance(value, np.ndarray):
        return value
    if hasattr(value, "numpy") and not isinstance(value, (list, tuple)):
        try:
            return np.asarray(value.numpy())
        except Exception:  # a torch tensor on a device, ...
            pass
    try:
        return np.asarray(ops.convert_to_numpy(value))
    except Exception:
        return np.asarray(value)


def as_array(images, name="images"):
    """Lists / tuples of images (or nested lists) -> one NumPy array, or a short error."""
    if isinstance(images, np.ndarray):
        return images
    if isinstance(images, (list, tuple)):
        try:
            return np.stack([_to_numpy(image) for image in images]) if len(images) else np.asarray(images, "float32")
        except (ValueError, TypeError) as error:
            raise ValueError(
                f"Expected {name} as an array (N, H, W, C), or a list of images of one shape. "
                f"Received: {name} = {describe(images)} ({str(error)[:120]})"
            ) from None
    return _to_numpy(images)


def check_images(images, expected_shape=None, name="images", channels=None, tolerance=0.0,
                 value_range=(0.0, 1.0), allow_empty=False):
    """Checks an image batch: rank 4, per-image shape, finite values in `value_range`.

    The one image check of the package (models, datasets, FID). A list of
    images is stacked into one array. Images in [0, 1] given to a model of
    range [-1, 1] are accepted with a `ValueRangeWarning`.

    Args:
        images: array-like (N, H, W, C).
        expected_shape: tuple (H, W, C) or None.
        name: str. How the array is called in error messages.
        channels: tuple of allowed channel counts, or None for any.
        tolerance: float. Slack on the range (rounding of generated images).
        value_range: (low, high) the values must lie in. Defaults to (0, 1);
            GAMIX-VAE's data are in (-1, 1).
        allow_empty: bool. Accept a batch of no images. Defaults to False.

    Returns:
        The images as a NumPy array (not copied when already one).
    """
    images = as_array(images, name)
    if images.ndim != 4 or (channels and images.shape[-1] not in channels):
        if expected_shape:
            expected = f"(N, {', '.join(str(d) for d in expected_shape)})"
        elif channels:
            expected = f"(N, H, W, C) with C in {set(channels)}"
        else:
            expected = "(N, H, W, C)"
        raise ValueError(
            f"Expected {name} as a batch of shape {expected}. "
            f"Received: {name}.shape={images.shape}"
        )
    if expected_shape is not None and tuple(images.shape[1:]) != tuple(expected_shape):
        raise ValueError(
            f"Expected {name} as a batch of images of shape {tuple(expected_shape)}. "
            f"Received: {name}.shape={images.shape}"
        )
    if not images.size:
        if allow_empty:
            return images
        raise ValueError(
            f"{name} is empty: expected at least one image. Received: {name}.shape={images.shape}"
        )
    if not np.issubdtype(images.dtype, np.number) or np.issubdtype(images.dtype, np.complexfloating):
        raise ValueError(f"Expected {name} as real numbers. Received: {name}.dtype={images.dtype}")
    low, high = float(np.min(images)), float(np.max(images))
    if not (np.isfinite(low) and np.isfinite(high)):
        bad = int(np.size(images) - np.count_nonzero(np.isfinite(images)))
        raise ValueError(
            f"{name} contains NaN or infinite values: expected finite pixel values. "
            f"Received: {bad} non-finite of {images.size} values in {name}.shape={images.shape}"
        )
    lo, hi = value_range
    if low < lo - tolerance or high > hi + tolerance:
        if 2.0 < high <= 255.0:
            hint = " They look like 0-255 pixel values: divide by 255."
            if lo < 0:
                hint = " They look like 0-255 pixel values: use x / 127.5 - 1."
        elif lo >= 0 and low >= -1.0 - tolerance and high <= 1.0 + tolerance:
            hint = " They look like images in [-1, 1]: use (x + 1) / 2."
        else:
            hint = ""
        raise ValueError(
            f"Expected {name} with values in [{lo:g}, {hi:g}]. Received: values in "
            f"[{low:g}, {high:g}].{hint}"
        )
    if lo < 0 and low >= 0 and high > 0:
        warnings.warn(
            f"Expected {name} with values in [{lo:g}, {hi:g}]; received values in "
            f"[{low:g}, {high:g}], none negative: they look like images in [0, 1]. "
            "Map them with 2 * x - 1.",
            ValueRangeWarning,
            stacklevel=3,
        )
    return images


def check_latents(z, latent_dim, name="z"):
    """Checks codes to decode: shape (N, latent_dim), N >= 1, finite. Returns float32."""
    z = as_array(z, name)
    if z.ndim != 2 or z.shape[1] != latent_dim:
        raise ValueError(f"Expected {name} of shape (N, {latent_dim}). Received: {name}.shape={z.shape}")
    if not len(z):
        raise ValueError(f"{name} is empty: expected at least one code. Received: {name}.shape={z.shape}")
    z = z.astype("float32", copy=False)
    finite = np.isfinite(z)
    if not finite.all():
        raise ValueError(
            f"{name} contains NaN or infinite values: expected finite codes. Received: "
            f"{int(z.size - finite.sum())} non-finite of {z.size} values in {name}.shape={z.shape}"
        )
    return z


def _image_part(element):
    """The images of one batch of a dataset / generator: x, (x, ...) or {"images": x, ...}."""
    if isinstance(element, dict):
        for key in ("images", "x", "inputs"):
            if key in element:
                return element[key]
        return next(iter(element.values()))
    if isinstance(element, (tuple, list)):
        return _image_part(element[0]) if len(element) else element
    return element


def _is_tf_dataset(x):
    module = type(x).__module__ or ""
    return "tensorflow" in module and hasattr(x, "take") and hasattr(x, "element_spec")


def _peek(x, name):
    """(first batch, x to train on) of a tf.data.Dataset / PyDataset / generator, or (None, x)."""
    if _is_tf_dataset(x):
        batches = list(x.take(1))  # a fresh iterator: nothing is consumed
        if not batches:
            raise ValueError(f"`{name}` is an empty tf.data.Dataset: expected at least one batch of images.")
        return batches[0], x
    if hasattr(x, "__getitem__") and hasattr(x, "__len__") and hasattr(x, "on_epoch_end"):
        if len(x) == 0:  # keras.utils.PyDataset
            raise ValueError(f"`{name}` is an empty {type(x).__name__}: expected at least one batch of images.")
        return x[0], x
    if inspect.isgenerator(x) or (hasattr(x, "__next__") and iter(x) is x):
        try:
            first = next(x)
        except StopIteration:
            raise ValueError(f"`{name}` is an empty generator: expected at least one batch of images.") from None
        if not isinstance(first, tuple):
            raise ValueError(
                f"A Python generator given as `{name}` must yield tuples, `(images,)` (Keras's "
                f"rule for generators). Received: a first batch = {describe(first)}"
            )

        def chained():
            yield first
            yield from x

        return first, chained()
    return None, x


def check_fit_input(x, *, image_shape, value_range=(0.0, 1.0), min_batch_size=1, batch_size=None,
                    name="x"):
    """Checks what is given to a model's `fit` / `evaluate`, whatever its container.

    NumPy arrays and lists of images are checked whole; a `tf.data.Dataset`,
    a `keras.utils.PyDataset` or a Python generator is checked on its first
    batch, which is read without being consumed (a generator is returned
    re-chained). Checked: shape `(N, *image_shape)`, at least one image,
    finite values in `value_range` (0-255 images raise; [0, 1] images given
    to a [-1, 1] model warn), and batches of at least `min_batch_size`
    images (GAMIX-VAE's batch-mixture variance needs two).

    Args:
        x: the training input: images, `(images, labels)`, a dict with
            `"images"`, or a dataset / generator of those.
        image_shape: tuple (H, W, C) the model takes.
        value_range: (low, high) of the model's data. Defaults to (0, 1).
        min_batch_size: int. Fewest images per training batch. Defaults to 1.
        batch_size: int or None. `fit`'s batch size (arrays only; Keras's
            default 32 when None).
        name: str. How the input is called in messages. Defaults to "x".

    Returns:
        `x` ready for `keras.Model.fit`: a list of images stacked into an
        array, a generator re-chained after the peek, anything else as given.
    """
    if x is None:
        raise ValueError(f"`{name}` is None: expected images of shape (N, {', '.join(map(str, image_shape))}).")
    if batch_size is not None:
        batch_size = check_positive_int(batch_size, "batch_size")
    if "DistributedDataset" in type(x).__name__:
        # A tf.distribute dataset holds per-replica values: each worker's
        # pipeline is the user's own, passed through as Keras takes it.
        return x
    first, x = _peek(x, name)
    if first is not None:
        images = _image_part(first)
        images = check_images(_to_numpy(images), image_shape, name=f"the first batch of `{name}`",
                              value_range=value_range)
        if len(images) < min_batch_size:
            raise ValueError(
                f"This model trains on batches of at least {min_batch_size} images. Received: a first "
                f"batch of {len(images)} image(s) in `{name}` (batch the dataset with "
                f"`.batch({max(min_batch_size, 32)}, drop_remainder=True)`)."
            )
        return x
    structured = isinstance(x, dict) or (
        isinstance(x, (tuple, list)) and 1 <= len(x) <= 3 and np.ndim(_image_part(x)) == 4
        and not isinstance(x[0], (list, tuple))
    )
    images = _image_part(x) if structured else x
    if isinstance(images, (list, tuple)):
        images = as_array(images, name)
        if not structured:
            x = images
    images = check_images(images, image_shape, name=name, value_range=value_range)
    if min_batch_size > 1:
        size = 32 if batch_size is None else batch_size
        last = len(images) % size
        if len(images) < min_batch_size or size < min_batch_size or 0 < last < min_batch_size:
            smaller = "one" if min_batch_size == 2 else f"fewer than {min_batch_size} images"
            raise ValueError(
                f"This model trains on batches of at least {min_batch_size} images, and a batch "
                f"of {smaller} would occur: use batch_size >= {min_batch_size} and a number of "
                f"images that leaves no smaller last batch. Received: {name}.shape={images.shape}, "
                f"batch_size={size}"
            )
    return x


def check_no_targets(y, owner):
    """Raises when `fit` of an unsupervised / unconditional model is given `y`."""
    if y is not None:
        raise ValueError(
            f"{owner} learns from the images alone and takes no `y` (targets or labels). "
            f"Received: y = {describe(y)}"
        )
