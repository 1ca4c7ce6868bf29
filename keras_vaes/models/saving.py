"""Saving every model of the package shares: atomic, never diverged weights.

`SafeSaving` goes before `keras.Model` in a model's bases. `save_weights`
(`.weights.h5`) and `save` (`.keras`) write to a temporary file that replaces
the target only when complete, and refuse weights holding NaN or inf (a
diverged run never overwrites a good file); `load_weights` names the
model's configuration when a file of another configuration does not fit;
`export_weights` writes a preset: the weights without the optimizer state.
"""

import os

import numpy as np
from keras import ops

from keras_vaes.utils import atomic_write, sha256


class SafeSaving:
    """Atomic, NaN-refusing saves, clear load errors, `export_weights` (a `keras.Model` mixin).

    A model using it takes its whole config as constructor arguments
    (`from_config` is `cls(**config)`).
    """

    def _check_finite(self, filepath):
        broken = [w.path for w in self.weights if not np.all(np.isfinite(ops.convert_to_numpy(w)))]
        if broken:
            raise ValueError(
                f"Refusing to write {filepath}: {len(broken)} weight tensors hold "
                f"NaN or inf (e.g. {broken[0]}), so training diverged; the file "
                "on disk, if any, is left as it was."
            )

    def save_weights(self, filepath, overwrite=True, **kwargs):
        """Saves the weights atomically to a `.weights.h5` file; never NaN."""
        if not str(filepath).endswith(".weights.h5"):
            raise ValueError(
                f"The weights file name must end in `.weights.h5`. Received: filepath={filepath}"
            )
        self._check_finite(filepath)
        if not overwrite and os.path.exists(filepath):
            return super().save_weights(filepath, overwrite=False, **kwargs)
        save = super().save_weights
        atomic_write(filepath, lambda tmp: save(tmp, **kwargs))

    def save(self, filepath, overwrite=True, **kwargs):
        """Saves the whole model (`.keras`) atomically; never diverged weights."""
        self._check_finite(filepath)
        if not str(filepath).endswith(".keras") or (not overwrite and os.path.exists(filepath)):
            return super().save(filepath, overwrite=overwrite, **kwargs)
        save = super().save
        atomic_write(filepath, lambda tmp: save(tmp, **kwargs))

    def load_weights(self, filepath, *args, **kwargs):
        """Loads a `.weights.h5` file written by the same configuration."""
        if not os.path.exists(filepath):
            raise FileNotFoundError(f"Weights file {filepath!r} does not exist.")
        try:
            super().load_weights(filepath, *args, **kwargs)
        except (ValueError, KeyError) as error:
            config = {k: v for k, v in self.get_config().items() if k not in ("name", "trainable")}
            raise ValueError(
                f"Could not load {filepath} into this {type(self).__name__} "
                f"({config}): the file was written by a model of a different "
                f"configuration. Keras said: {error}"
            ) from error

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

    @classmethod
    def from_config(cls, config):
        # Every model of the package takes its whole config as arguments:
        # never revive it as a Functional model.
        return cls(**config)
