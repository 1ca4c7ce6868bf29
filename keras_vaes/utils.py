"""Argument and input checks, the divergence guard, messages and file helpers of the package.

Every check raises with what was received and what is expected, so a user
reading the message knows what to change. The package's models call them
at the top of their constructors (`check_positive_int`, `check_float`,
`check_input_shape`), of `fit` (`check_fit_input`, `with_divergence_guard`)
and of `encode` / `decode` (`check_images`, `check_latents`); behind a
`verbose=` argument they report with `print_msg`, as Keras's callbacks do.
"""

import glob
import hashlib
import inspect
import logging
import math
import os
import re
import sys
import warnings

import keras
import numpy as np


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


def check_input_shape(input_shape, name="input_shape"):
    """`(height, width, channels)` as a tuple of positive Python ints.

    The package's networks are built for one image size: None (a variable
    size), 0, negative and non-integer sizes are refused here, before any
    architecture-specific check (multiples of 4, square images, ...).

    Returns:
        The shape as a tuple of ints.
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
    return tuple(int(d) for d in dims)


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
        from keras import ops

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
            f"The model expects images of shape {tuple(expected_shape)}. "
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


# --- The divergence guard ----------------------------------------------------


class TrainingDivergedError(ValueError):
    """Raised by every model's `fit` when a training step's loss is NaN or inf."""


class StopOnDivergence(keras.callbacks.Callback):
    """Stops `fit` with advice as soon as a logged loss is not finite.

    Keras's `TerminateOnNaN` only sets `stop_training`: the epoch's other
    callbacks still run (a checkpoint of NaN weights) and `fit` returns as
    if it had finished. This raises instead, before any later callback.
    Every model of the package puts one first in `fit`'s callbacks
    (`with_divergence_guard`).
    """

    def on_train_batch_end(self, batch, logs=None):
        broken = None
        for key, value in (logs or {}).items():
            try:
                number = float(np.mean(keras.ops.convert_to_numpy(value)))
            except (TypeError, ValueError):
                continue
            if not math.isfinite(number):
                broken = (key, number)
                if key == "loss":
                    break
        if broken is None:
            return
        learning_rate = getattr(self.model.optimizer, "learning_rate", None)
        try:
            learning_rate = f"{float(keras.ops.convert_to_numpy(learning_rate)):g}"
        except (TypeError, ValueError):
            learning_rate = "the current one"
        key, number = broken
        raise TrainingDivergedError(
            f"Training diverged at batch {batch} of epoch {self._epoch + 1}: the logged "
            f"{key!r} is {number} (NaN or inf), so the weights are no longer usable and "
            "nothing more is saved (`save_weights` refuses NaN or inf weights; files "
            "written before this step are intact). Check that the training data hold no "
            "NaN or inf; then restart from the last good weights with a lower learning "
            f"rate than {learning_rate} (the authors' script uses Adam(1e-4)), or "
            "another seed."
        )

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_begin(self, logs=None):
        self._epoch = 0


def with_divergence_guard(callbacks):
    """`callbacks` (None, one or a list) with a `StopOnDivergence` first, once."""
    if callbacks is None:
        callbacks = []
    elif not isinstance(callbacks, (list, tuple)):
        callbacks = [callbacks]
    callbacks = list(callbacks)
    if not any(isinstance(c, StopOnDivergence) for c in callbacks):
        callbacks.insert(0, StopOnDivergence())
    return callbacks


# --- Messages ----------------------------------------------------------------


def _public_print_msg(message, line_break=True):
    # Keras's `print_msg` through public API only: stdout when interactive
    # logging is on, else the "keras_vaes" logger.
    if keras.utils.is_interactive_logging_enabled():
        sys.stdout.write(f"{message}\n" if line_break else message)
        sys.stdout.flush()
    else:
        logging.getLogger("keras_vaes").info(message)


try:  # Keras's own (private) helper, as its callbacks report
    from keras.src.utils.io_utils import print_msg as _keras_print_msg
except ImportError:  # a Keras that moved it: the public-API equivalent
    _keras_print_msg = None


def print_msg(message, line_break=True):
    """Reports a progress message the way Keras's own callbacks do.

    With interactive logging on (`keras.config.enable_interactive_logging`,
    the default) the message goes to stdout; off, to logging. The package
    uses this behind its `verbose=` arguments and never `print`s.

    Args:
        message: the message; converted with `str`.
        line_break: bool. End the message with a newline. Defaults to True.

    Example:
    >>> print_msg("epoch 1: fid=12.300")
    epoch 1: fid=12.300
    """
    message = str(message)
    if _keras_print_msg is not None:
        _keras_print_msg(message, line_break=line_break)
    else:
        _public_print_msg(message, line_break=line_break)


# --- Files -------------------------------------------------------------------


def _suffix_of(base):
    if base.endswith(".weights.h5"):
        return ".weights.h5"
    return os.path.splitext(base)[1]


def _linux_process_state(pid):
    """`(state, start time in seconds since the epoch)` from /proc, or None elsewhere."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
        with open("/proc/stat") as f:
            boot = next(float(line.split()[1]) for line in f if line.startswith("btime"))
    except (OSError, StopIteration, ValueError, IndexError):
        return None
    # The command name, field 2, may hold spaces: count fields after it.
    fields = stat[stat.rindex(")") + 2 :].split()
    return fields[0], boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")


def _alive(pid, since=None):
    """Whether process `pid` runs and could have written a file last modified at `since`.

    A zombie (killed, not yet reaped by its parent) does not run; on Linux a
    process started after `since` is another one that reuses the PID.
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        pass
    state = _linux_process_state(pid)
    if state is None:
        return True
    status, started = state
    if status in ("Z", "X"):
        return False
    return since is None or started <= since + 1.0


def remove_stale_temporaries(path):
    """Deletes temporary files of `path` left by saves that were killed.

    `atomic_write` names its temporary `.tmp-<target>-<pid>-<token><suffix>`
    beside the target; one whose process no longer runs (gone, a zombie, or
    its PID taken by a process started after the file was written) is
    debris of a killed save. Temporaries of the package's older, unnamed
    pattern (`.tmp-XXXXXXXX<suffix>`) are removed once a minute old. Every
    save (`atomic_write`) and load (`SafeSaving.load_weights`) of the
    target calls this.

    Returns:
        The paths removed.
    """
    import time

    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    base = os.path.basename(path)
    suffix = _suffix_of(base)
    stem = base[: len(base) - len(suffix)] if suffix else base
    removed = []
    ours = re.compile(re.escape(f".tmp-{stem}-") + r"(\d+)-[0-9a-f]{8}" + re.escape(suffix) + "$")
    legacy = re.compile(r"\.tmp-[A-Za-z0-9_]{8}" + re.escape(suffix) + "$")
    for candidate in glob.glob(os.path.join(glob.escape(directory), ".tmp-*")):
        name = os.path.basename(candidate)
        match = ours.match(name)
        try:
            if match:
                pid = int(match.group(1))
                # Also our own PID: in a container each run may get the same one.
                stale = not _alive(pid, os.path.getmtime(candidate))
            elif legacy.match(name):
                stale = time.time() - os.path.getmtime(candidate) > 60
            else:
                continue
            if stale:
                os.remove(candidate)
                removed.append(candidate)
        except OSError:
            continue
    return removed


def atomic_write(path, write):
    """Calls `write(tmp_path)` then renames the result onto `path`.

    A crash while writing never leaves a truncated file in place of a
    user's previous weights. The temporary file lies beside the target,
    keeps the final suffix (Keras checks it: `.weights.h5`, `.keras`) and
    is named after the target and the writing process, so the next save of
    the same target removes the debris of a killed one.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    base = os.path.basename(path)
    suffix = _suffix_of(base)
    stem = base[: len(base) - len(suffix)] if suffix else base
    remove_stale_temporaries(path)
    tmp = os.path.join(directory, f".tmp-{stem}-{os.getpid()}-{os.urandom(4).hex()}{suffix}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def sha256(path, chunk=1 << 20):
    """Hex SHA-256 of a file's bytes (presets, classifier weights, frozen graphs)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()
