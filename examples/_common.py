"""The command-line flags every example repeats, each written and checked once.

Command-line only (argparse types, `parser.error`), so it stays beside the
scripts rather than in the package, which never parses arguments or exits.
`python examples/x.py` puts the script's folder first on `sys.path`, so the
scripts `import _common` as it is.

Each `type=` validator raises `argparse.ArgumentTypeError` with what was
received, so a bad value stops the script with argparse's usage line before
any data is read or model built:

    python examples/split_vae_mnist.py --epochs -1
    split_vae_mnist.py: error: argument --epochs: must be an integer >= 0. Received: '-1'

What only the data can tell (a file the dataset's loader refuses, images of
another size than the model or preset takes) is checked once they are
loaded, and stops the script the same way (`load_dataset`,
`check_image_shape`).

Example:

    parser = _common.parser(__doc__)
    _common.add_data(parser, "a Keras-layout mnist.npz; default: keras.datasets")
    _common.add_output(parser, "runs/my_run")
    _common.add_seed(parser)
    parser.add_argument("--epochs", type=_common.positive_int, default=10)
"""

import argparse
import math
import os
import zipfile

from keras_vaes import datasets, pretrained

DTYPE_POLICIES = ("float32", "mixed_bfloat16", "mixed_float16")


def parser(doc, **kwargs):
    """An `ArgumentParser` described by the first paragraph of `doc`, showing defaults."""
    return argparse.ArgumentParser(
        description=(doc or "").strip().split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        **kwargs,
    )


# --- Value checks (argparse `type=`) ----------------------------------------


def integer_at_least(minimum):
    """`type=` for an integer >= `minimum` (e.g. `integer_at_least(2)` for FID samples)."""

    def check(text):
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum:
            raise argparse.ArgumentTypeError(
                f"must be an integer >= {minimum}. Received: {text!r}"
            )
        return value

    return check


positive_int = integer_at_least(1)
non_negative_int = integer_at_least(0)


def zero_or_at_least(minimum):
    """`type=` for 0 (skip the step) or an integer >= `minimum`."""
    at_least = integer_at_least(minimum)

    def check(text):
        if text.strip() == "0":
            return 0
        try:
            return at_least(text)
        except argparse.ArgumentTypeError:
            raise argparse.ArgumentTypeError(
                f"must be 0 (skip) or an integer >= {minimum}. Received: {text!r}"
            ) from None

    return check


def _float(text, accept, requirement):
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and accept(value)):
        raise argparse.ArgumentTypeError(f"must be a {requirement}. Received: {text!r}")
    return value


def positive_float(text):
    """`type=` for a finite number > 0 (learning rates, variances)."""
    return _float(text, lambda v: v > 0, "finite number > 0")


def non_negative_float(text):
    """`type=` for a finite number >= 0 (KL weights)."""
    return _float(text, lambda v: v >= 0, "finite number >= 0")


def data_path(text):
    """`type=` for `--data`: an existing folder, or a NumPy `.npz` archive."""
    path = os.path.expanduser(text)
    if not os.path.exists(path):
        raise argparse.ArgumentTypeError(f"no such file or folder. Received: {text!r}")
    if os.path.isfile(path) and not zipfile.is_zipfile(path):
        raise argparse.ArgumentTypeError(
            "must be a dataset folder or a NumPy .npz archive (x_train, y_train, x_test, "
            f"y_test); this file is not an .npz (zip) archive. Received: {text!r}"
        )
    return path


def existing_file(text):
    """`type=` for a file that must exist (attribute lists, weights)."""
    path = os.path.expanduser(text)
    if not os.path.isfile(path):
        raise argparse.ArgumentTypeError(f"no such file. Received: {text!r}")
    return path


def preset_of(builder):
    """`type=` for `--pretrained`: a preset of `keras_vaes.pretrained.PRESETS` that `builder` builds.

    A preset of another model (e.g. a two-stage preset given to the Split-VAE
    script) is refused here, before its weights are read.
    """
    names = sorted(name for name, preset in pretrained.PRESETS.items() if preset["builder"] == builder)

    def check(text):
        preset = pretrained.PRESETS.get(text)
        if preset is None or preset["builder"] != builder:
            found = "no preset" if preset is None else f"a {preset['builder']} preset"
            raise argparse.ArgumentTypeError(
                f"must be a {builder} preset ({', '.join(names)}); {text!r} is {found}. "
                f"Received: {text!r}"
            )
        return text

    return check


def preset_image_shape(name):
    """The image shape `(height, width, channels)` preset `name` takes."""
    return tuple(pretrained.PRESETS[name]["config"]["input_shape"])


def output_dir(text):
    """`type=` for `--output`: a folder to create or reuse, not an existing file."""
    path = os.path.expanduser(text)
    if os.path.exists(path) and not os.path.isdir(path):
        raise argparse.ArgumentTypeError(
            f"must be a folder; an existing file has that name. Received: {text!r}"
        )
    return path


def feature_model_spec(*keywords):
    """`type=` for `--feature-model`: one of `keywords`, `tfgan[:graph.pb]`, or an existing path."""

    def check(text):
        if text in keywords or text == "tfgan" or text.startswith("tfgan:"):
            return text
        if os.path.exists(os.path.expanduser(text)):
            return os.path.expanduser(text)
        raise argparse.ArgumentTypeError(
            f"must be one of {', '.join(repr(k) for k in keywords)}, 'tfgan[:graph.pb]', or a "
            f"path to a saved .keras feature model (no such file). Received: {text!r}"
        )

    return check


# --- The shared flags --------------------------------------------------------


def add_data(parser, help, **kwargs):
    """`--data`: a dataset file (`.npz`) or folder, checked to exist and be readable."""
    parser.add_argument("--data", type=data_path, default=kwargs.pop("default", None),
                        help=help, **kwargs)


def add_output(parser, default, help="output folder (weights, figures, tables)"):
    """`--output`: the run's folder."""
    parser.add_argument("--output", type=output_dir, default=default, help=help)


def add_seed(parser, help="seed of initialisation, data order and sampling"):
    """`--seed`: a non-negative integer."""
    parser.add_argument("--seed", type=non_negative_int, default=0, help=help)


def add_feature_model(parser, default, help, keywords=("inception", "classifier")):
    """`--feature-model`: a named extractor or a saved `.keras` model."""
    parser.add_argument("--feature-model", type=feature_model_spec(*keywords), default=default,
                        help=help)


def add_dtype_policy(parser, help="Keras dtype policy (the papers: float32)"):
    """`--dtype-policy`: float32 or a mixed policy."""
    parser.add_argument("--dtype-policy", default="float32", choices=DTYPE_POLICIES, help=help)


def add_train_size(parser, help="use the first N training images (default: all)"):
    """`--train-size`: a positive number of images, or all of them."""
    parser.add_argument("--train-size", type=positive_int, default=None, help=help)


def add_pretrained(parser, builder, help):
    """`--pretrained`: a preset built by `builder` (the script's model), checked by `preset_of`."""
    names = ", ".join(sorted(n for n, p in pretrained.PRESETS.items() if p["builder"] == builder))
    parser.add_argument("--pretrained", type=preset_of(builder), default=None, metavar="PRESET",
                        help=f"{help} ({names})")


# --- Checks after parsing: the data ------------------------------------------


def load_dataset(parser, name, path, load=None, **kwargs):
    """`keras_vaes.datasets.load(name, path)`, or `load(path, **kwargs)`.

    Data the loader refuses (a file of another layout, images of another
    size) stop the script with argparse's one-line error on `--data`
    (exit status 2), the loader's message saying what was expected and
    received.
    """
    try:
        return load(path, **kwargs) if load is not None else datasets.load(name, path, **kwargs)
    except (ValueError, OSError) as error:
        message = " ".join(str(error).split())
        if path is not None and str(path) not in message:
            message += f" (--data {path})"
        parser.error(f"argument --data: {message}")


def check_image_shape(parser, images, expected, flag, expected_by, source):
    """Stops the script with argparse's one-line error when `images` are not of shape `expected`.

    Args:
        parser: the script's `ArgumentParser`.
        images: array `(N, height, width, channels)`.
        expected: the image shape the model takes.
        flag: str. The flag the message is about, e.g. "--pretrained".
        expected_by: str. What takes `expected`, e.g. "preset 'two_stage_mnist'".
        source: str. Where the images come from, e.g. "--dataset cifar10".
    """
    received = tuple(images.shape[1:])
    if received != tuple(expected):
        parser.error(f"argument {flag}: {expected_by} takes images of shape {tuple(expected)}. "
                     f"Received: {source} images of shape {received}")
