"""Saving every model of the package shares: atomic, never diverged, never half loaded.

`SafeSaving` goes before `keras.Model` in the bases of every savable class
of the package (the models, `RealNVPPrior`). `save_weights` (`.weights.h5`)
and `save` (`.keras`; the legacy `.h5` format, which cannot revive these
classes, is refused) write to a temporary file that replaces the target
only when complete (the debris of a killed save is removed by the next save
or load of the same target), refuse weights holding NaN or inf (a diverged
run never overwrites a good file) and never prompt: `overwrite=False` on an
existing file raises `FileExistsError`. `load_weights` names the file in
every error (missing, a directory, empty, not HDF5, truncated, another
configuration) and either loads the whole file or leaves the object as it
was (`unchanged_on_error`). `export_weights` writes a preset: the weights
without the optimizer state.
"""

import contextlib
import os

import keras
import numpy as np
from keras import ops

from keras_vaes.utils import atomic_write, remove_stale_temporaries, sha256

_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def _check_writable_target(filepath, overwrite):
    if os.path.isdir(filepath):
        raise IsADirectoryError(
            f"Cannot save to {filepath!r}: it is a directory. Expected a file path, "
            "e.g. 'model.weights.h5'."
        )
    if not overwrite and os.path.exists(filepath):
        raise FileExistsError(
            f"Refusing to overwrite {filepath!r}: the file exists and overwrite=False. "
            "Pass overwrite=True to replace it, or another path."
        )


def check_weights_file(filepath):
    """Raises a clear error naming `filepath` unless it can be an HDF5 weights file.

    Missing -> FileNotFoundError; a directory -> IsADirectoryError; empty or
    not HDF5 (random bytes, a text file) -> ValueError. A truncated HDF5
    file passes here and is reported by `SafeSaving.load_weights`.
    """
    filepath = os.fspath(filepath)
    if not os.path.exists(filepath):
        raise FileNotFoundError(f"Weights file {filepath!r} does not exist.")
    if os.path.isdir(filepath):
        raise IsADirectoryError(
            f"Cannot load weights from {filepath!r}: it is a directory. Expected a "
            "`.weights.h5` file written by `save_weights`."
        )
    size = os.path.getsize(filepath)
    if size == 0:
        raise ValueError(
            f"Weights file {filepath!r} is empty (0 bytes): an interrupted copy or "
            "download. Expected a `.weights.h5` file written by `save_weights`."
        )
    if filepath.endswith(".h5"):
        with open(filepath, "rb") as f:
            head = f.read(len(_HDF5_SIGNATURE))
        if head != _HDF5_SIGNATURE:
            raise ValueError(
                f"Weights file {filepath!r} ({size} bytes) is not an HDF5 file (it starts "
                f"with {head!r}): expected a `.weights.h5` file written by `save_weights`."
            )
    return filepath


@contextlib.contextmanager
def unchanged_on_error(variables):
    """Restores every variable to its value on entry when the block raises.

    The all-or-nothing of `SafeSaving.load_weights`; an object loading
    several files (or several objects from one file) wraps the whole load in
    one block, so that a failure leaves all of them as they were.

    Example:
    >>> import keras
    >>> v = keras.Variable(1.0)
    >>> try:
    ...     with unchanged_on_error([v]):
    ...         _ = v.assign(2.0)
    ...         raise ValueError("the second file does not fit")
    ... except ValueError:
    ...     pass
    >>> float(keras.ops.convert_to_numpy(v))
    1.0
    """
    snapshot = [(v, np.array(ops.convert_to_numpy(v))) for v in variables]
    try:
        yield
    except BaseException:
        for variable, value in snapshot:
            variable.assign(value)
        raise


class SafeSaving:
    """Atomic, NaN-refusing saves, all-or-nothing loads, `export_weights` (a `keras.Model` mixin)."""

    @classmethod
    def from_config(cls, config):
        # Every savable class of the package takes its whole (explicit)
        # config as arguments: never revive it as a Functional model.
        return cls(**config)

    def _check_finite(self, filepath):
        broken = [w.path for w in self.weights if not np.all(np.isfinite(ops.convert_to_numpy(w)))]
        if broken:
            raise ValueError(
                f"Refusing to write {filepath}: {len(broken)} weight tensors hold "
                f"NaN or inf (e.g. {broken[0]}), so training diverged; the file "
                "on disk, if any, is left as it was."
            )

    def save_weights(self, filepath, overwrite=True, **kwargs):
        """Saves the weights atomically to a `.weights.h5` file; never NaN, never a prompt.

        Raises:
            FileExistsError: `overwrite=False` and `filepath` exists.
            ValueError: the name does not end in `.weights.h5`, or the
                weights hold NaN or inf.
        """
        filepath = os.fspath(filepath)
        if not filepath.endswith(".weights.h5"):
            raise ValueError(
                f"The weights file name must end in `.weights.h5`. Received: filepath={filepath}"
            )
        _check_writable_target(filepath, overwrite)
        self._check_finite(filepath)
        save = super().save_weights
        atomic_write(filepath, lambda tmp: save(tmp, overwrite=True, **kwargs))

    def save(self, filepath, overwrite=True, **kwargs):
        """Saves the whole model (`.keras`) atomically; never diverged weights, never a prompt.

        Raises:
            ValueError: the name does not end in `.keras` (Keras's legacy
                HDF5 format cannot revive the package's classes), or the
                weights hold NaN or inf.
            FileExistsError: `overwrite=False` and `filepath` exists.
        """
        filepath = os.fspath(filepath)
        if not filepath.endswith(".keras"):
            stem = filepath
            for suffix in (".weights.h5", ".h5", ".hdf5"):
                if stem.endswith(suffix):
                    stem = stem[: -len(suffix)]
                    break
            raise ValueError(
                f"{type(self).__name__}.save writes the Keras format: the file name must end "
                f"in `.keras`. Received: filepath={filepath!r}. Keras's legacy HDF5 format "
                "(`.h5`) cannot load this model back. Use `save('"
                f"{stem}.keras')` for the whole model, or `save_weights('{stem}.weights.h5')` "
                "for the weights alone."
            )
        _check_writable_target(filepath, overwrite)
        self._check_finite(filepath)
        save = super().save
        atomic_write(filepath, lambda tmp: save(tmp, overwrite=True, **kwargs))

    # --- Loading ----------------------------------------------------------

    def _state_variables(self):
        """Every variable a load can assign: the model's, its optimizers', its metrics'."""
        found, seen = [], set()

        def add(variables):
            for variable in variables:
                if id(variable) not in seen:
                    seen.add(id(variable))
                    found.append(variable)

        add(self.variables)
        for metric in getattr(self, "metrics", []):
            add(metric.variables)  # gamma of the balancing rule is one
        optimizers = [getattr(self, "optimizer", None)]
        optimizers += [v for v in vars(self).values() if isinstance(v, keras.optimizers.Optimizer)]
        for optimizer in optimizers:
            if optimizer is not None:
                add(optimizer.variables)
        return found

    def load_weights(self, filepath, *args, **kwargs):
        """Loads a weights file written by the same configuration, wholly or not at all.

        Every variable (model, optimizer) is restored to its value before
        the call when any part of the file does not fit: a file of another
        configuration never leaves a half-loaded model.

        Raises:
            FileNotFoundError, IsADirectoryError: no such file / a directory.
            ValueError: an empty, non-HDF5 or truncated file, or one written
                by a model of another configuration. Each names the file.
        """
        filepath = check_weights_file(filepath)
        remove_stale_temporaries(filepath)  # debris of a killed save of this file
        try:
            with unchanged_on_error(self._state_variables()):
                super().load_weights(filepath, *args, **kwargs)
        except Exception as error:
            if isinstance(error, (OSError, RuntimeError)) or "truncated" in str(error).lower():
                raise ValueError(
                    f"Could not read weights file {filepath!r} "
                    f"({os.path.getsize(filepath)} bytes): it is truncated or corrupt. "
                    f"The model's weights are unchanged. h5py said: {str(error)[:300]}"
                ) from error
            if isinstance(error, (ValueError, KeyError, TypeError)):
                config = {
                    k: v for k, v in self.get_config().items() if k not in ("name", "trainable")
                }
                raise ValueError(
                    f"Could not load {filepath!r} into this {type(self).__name__} "
                    f"({config}): the file was written by a model of a different "
                    "configuration; the model's weights are unchanged. Keras said: "
                    f"{str(error)[:500]}"
                ) from error
            raise

    # --- Presets ----------------------------------------------------------

    def _export_state(self, bare):
        """Copies state kept outside `get_weights()` onto `bare` (a hook)."""

    def export_weights(self, filepath):
        """Writes the weights without the optimizer state (for presets).

        `save_weights` of a compiled Keras 3 model also stores the
        optimizer's variables (Adam: twice the model), which resuming
        training needs but a shipped preset does not.

        Returns:
            The file's SHA-256.
        """
        bare = type(self).from_config(self.get_config())
        bare.set_weights(self.get_weights())
        self._export_state(bare)
        bare.save_weights(filepath)
        return sha256(filepath)
