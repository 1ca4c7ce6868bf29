"""The one API every model of the package speaks, and the prior protocol.

Every model (`SplitVAE`, `FirstStage` and `TwoStageVAE`, `GamixVAE`,
`FlowPriorVAE`, `PriorAAE`) subclasses `keras_vaes.models.base.GenerativeModel`,
which takes these calls from `ModelContract`, and has:

- `value_range`: `(0.0, 1.0)`, or `(-1.0, 1.0)` for GAMIX-VAE; inputs
  outside it are refused with a message saying what was received.
- `encode(images, *, labels=None, batch_size=100)` -> `Posterior(mean,
  log_var)` of NumPy arrays; `log_var` is None for deterministic encoders
  (AAE, Prior-AAE).
- `decode(z, *, labels=None, batch_size=100)` -> a dict of NumPy arrays
  with at least `"x_hat"` (a Split-VAE adds `"sigma"`, `"x1"`, `"x2"`).
- `reconstruct(images, *, sample=False, seed=None, labels=None,
  batch_size=100)` -> the dict of `decode` for the posterior means (or a
  posterior sample, with `sample=True`).
- `generate(n, *, sampler=None, seed=None, labels=None, batch_size=100)`
  -> the dict of `decode`; `sampler=None` is the model's own prior (N(0, I),
  the learned flow, the Prior-AAE code generator, the second stage of a
  two-stage VAE), any fitted `keras_vaes.samplers` sampler can be passed.
- `prior`: the declared prior. None means N(0, I); otherwise an object with
  `sample(num_samples, seed=None) -> (num_samples, latent_dim)` codes (a
  `Prior`: the flow, the Prior-AAE code generator, the second stage).
  Samplers and evaluation read it; they never guess from attribute names.

`labels` is keyword-only and taken only by class-conditional models; `fit`
of an unconditional model refuses labels (`fit(x, y)`, `(images, labels)`
pairs, a dataset of them) rather than ignore them.

Seeds: `seed=s` repeats the draw. With `seed=None` a model built with
`seed=s` draws from its own generator (successive calls differ, a session
repeats from `s`); a model built with `seed=None` draws from NumPy's global
state, which `keras.utils.set_random_seed` seeds: after it, the draw
repeats. The seed generators of the sampling layers are saved with the
weights, so `keras.callbacks.BackupAndRestore` continues a run exactly.
"""

import typing

import numpy as np
from keras import ops

from keras_vaes.callbacks import with_divergence_guard
from keras_vaes.pretrained import PresetMixin
from keras_vaes.samplers.base import Posterior, _rng, seeded_generator
from keras_vaes.utils import (
    _image_part,
    _peek,
    check_fit_input,
    check_images,
    check_latents,
    check_positive_int,
    describe,
)

__all__ = ["ModelContract", "Posterior", "Prior", "as_latent_matrix"]


@typing.runtime_checkable
class Prior(typing.Protocol):
    """A model's own prior: what `model.prior` holds when it is not N(0, I).

    `sample(num_samples, seed=None)` returns `(num_samples, latent_dim)`
    latent codes; the same seed gives the same codes, `seed=None` draws from
    the prior's own generator. A class-conditional prior also takes
    `labels=`.
    """

    def sample(self, num_samples, seed=None):
        ...


def as_latent_matrix(z, latent_dim, name="z"):
    """`z` as a finite float32 `(N, latent_dim)` array, or a ValueError."""
    return check_latents(ops.convert_to_numpy(z), latent_dim, name=name)


class ModelContract(PresetMixin):
    """The contract's calls: `encode` / `decode` / `reconstruct` / `generate`, input checks.

    Models get it through `keras_vaes.models.base.GenerativeModel`. A model
    implements two hooks on checked NumPy inputs:
    `_encode_arrays(images, labels, batch_size) -> (mean, log_var or None)`
    and `_decode_arrays(z, labels, batch_size) -> dict or array`, declares
    its `prior` (None: N(0, I); else a `Prior`), sets `image_shape` and
    `latent_dim`, and calls `_seed_draws(seed)` when it takes a seed.
    """

    value_range = (0.0, 1.0)
    # Smallest training batch the loss is defined on (GAMIX's batch mixture: 2).
    min_batch_size = 1
    # The generator of draws given no seed (`_seed_draws`); None: NumPy's global state.
    _rng = None

    # --- Hooks --------------------------------------------------------------

    def _encode_arrays(self, images, labels, batch_size):
        mean, log_var = self.encoder.predict(images, batch_size=batch_size, verbose=0)
        return mean, log_var

    def _decode_arrays(self, z, labels, batch_size):
        return self.decoder.predict(z, batch_size=batch_size, verbose=0)

    def _prior_latents(self, n, seed, labels):
        """`n` codes of the declared prior (`prior`; None: N(0, I) from the model's generator)."""
        if self.prior is None:
            rng = _rng(seed, self._generator)
            return rng.standard_normal((n, self.latent_dim)).astype("float32")
        return self.prior.sample(n, seed=seed)

    def _seed_draws(self, seed):
        """Seeds the model's own NumPy generator from its constructor's `seed` (None: NumPy's global state)."""
        self._rng = seeded_generator(seed)

    @property
    def _generator(self):
        """The model's NumPy generator for draws given no seed (see the module's docstring)."""
        return self._rng if self._rng is not None else seeded_generator(None)

    def _labels_for(self, labels, n):
        """Checked labels for a conditional model; unconditional ones refuse any."""
        if labels is not None:
            raise ValueError(
                f"{type(self).__name__} is unconditional: it takes no labels. "
                f"Received: labels of shape {np.shape(labels)}"
            )
        return None

    # --- Checks -------------------------------------------------------------

    def check_input(self, images, name="images"):
        """`images` as a float32 array of this model's shape and value range.

        Raises:
            ValueError: wrong rank or shape, no images, NaN / inf values, or
                values outside `value_range` (the message says which range
                they look like).
        """
        # The one image check (keras_vaes.utils): lists stacked, empty
        # batches refused, [0, 1] images given to a [-1, 1] model warned of.
        images = check_images(
            images, self.image_shape, name=name, value_range=self.value_range, tolerance=1e-6
        )
        return images.astype("float32", copy=False)

    def _checked_fit_input(self, x, y, batch_size):
        """`(x, y)` for `keras.Model.fit`: checked images, no labels unless conditional (a hook)."""
        x = self._refuse_labels_and_pixel_values(x, y)
        x = check_fit_input(
            x, image_shape=self.image_shape, value_range=self.value_range,
            min_batch_size=self.min_batch_size, batch_size=batch_size,
        )
        return x, None

    def _refuse_labels_and_pixel_values(self, x, y):
        """Raises on labels given to an unconditional model and on a dataset of 0-255 pixels.

        Keras's `fit` passes `y`, and the second element of `(images,
        labels)` pairs, to the loss as targets, which these models' losses
        never read: labels would be ignored without a word. A dataset's
        first batch of 0-255 pixels (`keras.utils.image_dataset_from_directory`)
        gets the exact `dataset.map` that fixes it. Returns `x` (a generator
        re-chained after the peek at its first batch).
        """
        first, x = _peek(x, "x") if x is not None else (None, x)
        element = x if first is None else first
        labels, where = y, "y"
        if labels is None and isinstance(element, (tuple, list)) and len(element) in (2, 3):
            if np.ndim(element[0]) == 4 and not isinstance(element[0], (list, tuple)):
                labels, where = element[1], "the second element of `x`"
        elif labels is None and isinstance(element, dict) and "labels" in element:
            labels, where = element["labels"], "x['labels']"
        if first is not None and where != "y":
            where = "the second element of each batch of `x`"
        if getattr(self, "num_classes", None):  # a conditional model takes them
            labels = None
        pixels = self._pixel_value_range(_image_part(first)) if first is not None else None
        name = type(self).__name__
        if pixels is not None:
            low, high = self.value_range
            scaled, hint = ("x / 255.0", "divide by 255") if low == 0 else (
                "x / 127.5 - 1.0", "use x / 127.5 - 1")
            fix = f"dataset.map(lambda x, y: {scaled})" if labels is not None else (
                f"dataset.map(lambda x: {scaled})")
            raise ValueError(
                f"{name} takes images with values in [{low:g}, {high:g}]. Received: a dataset whose "
                f"first batch holds 0-255 pixel values (values in [{pixels[0]:g}, {pixels[1]:g}])"
                + (f" and labels ({describe(labels)}), which {name} would ignore" if labels is not None else "")
                + f", as `keras.utils.image_dataset_from_directory` gives: {hint} in the dataset, "
                f"`{fix}`, or load the folder with "
                f"`keras_vaes.datasets.image_folder(path, image_size, value_range={self.value_range})`."
            )
        if labels is None:
            return x
        if where == "y":
            fix = "`fit(x)` without `y`"
        elif first is None:
            fix = "`fit(images)`"
        else:
            fix = ("map the dataset to its images, `dataset.map(lambda x, y: x)` "
                   "(or `keras.utils.image_dataset_from_directory(..., labels=None)`)")
        raise ValueError(
            f"{name} is unconditional: it learns from the images alone and takes no `y` or "
            f"labels, which `fit` would ignore. Received: labels = {describe(labels)} in {where}. "
            f"Pass the images alone: {fix}"
            + (", or build the model with `num_classes=...` to condition on the labels."
               if hasattr(self, "num_classes") else ".")
        )

    def _pixel_value_range(self, images):
        """`(min, max)` of a batch of 0-255 pixel values given to a model of [0, 1] or [-1, 1], else None."""
        try:
            values = np.asarray(ops.convert_to_numpy(images))
        except Exception:  # a structure the image check reports itself
            return None
        if not values.size or not np.issubdtype(values.dtype, np.number):
            return None
        low, high = float(np.min(values)), float(np.max(values))
        model_low, model_high = self.value_range
        if np.isfinite(low) and low >= model_low and 2.0 < high <= 255.0 and model_high <= 1.0:
            return low, high
        return None

    # --- Saving: the seed generators' state ---------------------------------

    _SEED_KEY = "seed_generator_state_"

    def _all_seed_generators(self):
        """Every `keras.random.SeedGenerator` of the model and its layers, in a fixed order."""
        found, seen = [], set()
        for layer in self._flatten_layers(include_self=True):
            for generator in getattr(layer, "_seed_generators", []):
                if id(generator) not in seen:
                    seen.add(id(generator))
                    found.append(generator)
        return found

    def save_own_variables(self, store):
        # Keras saves a layer's weights, not its seed generators' state: a
        # run resumed from the file (BackupAndRestore) would draw other noise.
        super().save_own_variables(store)
        for i, generator in enumerate(self._all_seed_generators()):
            store[f"{self._SEED_KEY}{i}"] = np.asarray(ops.convert_to_numpy(generator.state))

    def load_own_variables(self, store):
        keys = list(store.keys())
        saved = sorted(k for k in keys if k.startswith(self._SEED_KEY))
        generators = self._all_seed_generators()
        if saved and len(saved) != len(generators):
            raise ValueError(
                f"The file holds the state of {len(saved)} seed generators; this "
                f"{type(self).__name__} has {len(generators)}: it was written by a model "
                "of another configuration."
            )
        for i, generator in enumerate(generators if saved else []):
            # Backends keep the state in other integer types (TF int64, JAX uint32).
            state = np.asarray(store[f"{self._SEED_KEY}{i}"]).astype(str(generator.state.dtype))
            generator.state.assign(state)
        super().load_own_variables({k: store[k] for k in keys if not k.startswith(self._SEED_KEY)})

    # --- Training -----------------------------------------------------------

    def fit(self, x=None, y=None, batch_size=None, *args, callbacks=None, **kwargs):
        """`keras.Model.fit` on checked input, stopped at once on a NaN or inf loss.

        The input (array, list of images, `tf.data.Dataset`, `PyDataset`,
        generator) is checked on its first batch: shape, value range,
        finiteness, batch size (`keras_vaes.utils.check_fit_input`). A step
        whose loss is not finite raises `TrainingDivergedError` before any
        later callback runs, so no checkpoint of diverged weights is written.
        """
        x, y = self._checked_fit_input(x, y, batch_size)
        return super().fit(
            x, y, batch_size, *args, callbacks=with_divergence_guard(callbacks), **kwargs
        )

    # --- The contract -------------------------------------------------------

    def encode(self, images, *, labels=None, batch_size=100):
        """The posterior of `images`: `Posterior(mean, log_var)` of NumPy arrays.

        Args:
            images: array `(N, H, W, C)` in `value_range`.
            labels: class indices `(N,)`, for class-conditional models only.
            batch_size: int. Defaults to 100.
        """
        images = self.check_input(images)
        batch_size = check_positive_int(batch_size, "batch_size")
        mean, log_var = self._encode_arrays(images, self._labels_for(labels, len(images)), batch_size)
        mean = np.asarray(ops.convert_to_numpy(mean), dtype="float32")
        if log_var is not None:
            log_var = np.asarray(ops.convert_to_numpy(log_var), dtype="float32")
        return Posterior(mean, log_var)

    def decode(self, z, *, labels=None, batch_size=100):
        """Decodes latent vectors `(N, latent_dim)` into a dict with `"x_hat"`.

        Args:
            z: array `(N, latent_dim)`, finite.
            labels: class indices `(N,)`, for class-conditional models only.
            batch_size: int. Defaults to 100.
        """
        z = as_latent_matrix(z, self.latent_dim)
        batch_size = check_positive_int(batch_size, "batch_size")
        decoded = self._decode_arrays(z, self._labels_for(labels, len(z)), batch_size)
        if not isinstance(decoded, dict):
            decoded = {"x_hat": decoded}
        return {key: np.asarray(ops.convert_to_numpy(value)) for key, value in decoded.items()}

    def reconstruct(self, images, *, sample=False, seed=None, labels=None, batch_size=100):
        """Decodes the posterior means of `images` (a posterior sample with `sample`).

        Returns:
            The dict of `decode`.
        """
        posterior = self.encode(images, labels=labels, batch_size=batch_size)
        if sample and seed is None:
            seed = int(self._generator.integers(2**63 - 1))
        z = posterior.sample(seed) if sample else posterior.mean
        return self.decode(z, labels=labels, batch_size=batch_size)

    def sample_latents(self, n, *, sampler=None, seed=None, labels=None):
        """`n` latent vectors from `sampler`, or from the model's own prior."""
        n = check_positive_int(n, "n")
        if sampler is None:
            return as_latent_matrix(self._prior_latents(n, seed, labels), self.latent_dim)
        if not hasattr(sampler, "sample"):
            raise TypeError(
                "`sampler` must have `sample(n, seed=None)` (e.g. a fitted "
                f"keras_vaes.samplers.GMMSampler). Received: {type(sampler).__name__}"
            )
        return as_latent_matrix(sampler.sample(n, seed=seed), self.latent_dim, name="sampler.sample(n)")

    def generate(self, n, *, sampler=None, seed=None, labels=None, batch_size=100):
        """Generates `n` samples: decoded codes of `sampler`, or of the model's prior.

        Args:
            n: int. Number of samples.
            sampler: None for the model's own prior, or a fitted sampler
                (`keras_vaes.samplers`).
            seed: int or None. Seed of the latent draw; None uses the
                model's generator (see the module's docstring).
            labels: one class index or `(n,)` indices, for class-conditional
                models only.
            batch_size: int. Decoding batch size. Defaults to 100.

        Returns:
            The dict of `decode`, with `"x_hat"` of shape `(n, H, W, C)`.
        """
        if labels is not None and np.ndim(labels) == 0:
            labels = np.full((int(n),), int(labels))
        z = self.sample_latents(n, sampler=sampler, seed=seed, labels=labels)
        return self.decode(z, labels=labels, batch_size=batch_size)
