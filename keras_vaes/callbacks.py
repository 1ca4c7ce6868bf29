"""Keras callbacks: the divergence guard of every model's `fit`, and what the papers plot.

`StopOnDivergence` raises `TrainingDivergedError` as soon as a logged loss
is NaN or inf; every model puts one first in `fit`'s callbacks
(`with_divergence_guard`).

`GMMFIDHistory` computes, every `every` epochs, the FID (Split-VAE eq. (5),
`keras_vaes.metrics.fid`) of x_hat, x1 and x2 of images generated after
ex-post GMM resampling of the latent space, and writes them into the epoch's
logs, hence into `History.history` and `CSVLogger` files: the curves of the
Split-VAE paper's Figure 11 (CelebA, one training) and Figures 14/15 (split
vs vanilla, mean and std over 5 trainings; `keras_vaes.plotting.
save_fid_evolution` draws them).

`TimeBudget` stops a training after a number of minutes (how the shipped
`fp_vae_mnist_beta0` preset was trained).
"""

import math
import os
import time

import keras
import numpy as np

from keras_vaes import plotting
from keras_vaes.metrics import extractors, fid
from keras_vaes.samplers.base import decode_latents
from keras_vaes.samplers.gmm import GMMSampler
from keras_vaes.utils import check_images, check_positive_int, print_msg


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


class TimeBudget(keras.callbacks.Callback):
    """Stops training once `minutes` have passed since `fit` began.

    Checked after each batch: the batch under way finishes and the epoch's
    end callbacks run (a checkpoint sees the last weights), as with
    `stop_training`. With `whole_epochs=True` it is checked at the end of
    each epoch instead, so that no epoch is cut short (a resumable run's
    checkpoint then always holds whole epochs).

    Args:
        minutes: float >= 0. The budget; 0 never stops.
        whole_epochs: bool. Check at epoch ends only. Defaults to False.

    Attributes:
        stopped: True once this callback has stopped training.
    """

    def __init__(self, minutes, whole_epochs=False):
        super().__init__()
        minutes = float(minutes)
        if not (math.isfinite(minutes) and minutes >= 0):
            raise ValueError(f"Expected `minutes` to be a finite number >= 0. Received: minutes={minutes}")
        self.seconds = 60.0 * minutes
        self.whole_epochs = bool(whole_epochs)
        self.start = None
        self.stopped = False

    def on_train_begin(self, logs=None):
        self.start = time.time()

    def _check(self):
        if self.seconds and time.time() - self.start > self.seconds:
            self.model.stop_training = True
            self.stopped = True

    def on_train_batch_end(self, batch, logs=None):
        if not self.whole_epochs:
            self._check()

    def on_epoch_end(self, epoch, logs=None):
        if self.whole_epochs:
            self._check()


class GMMFIDHistory(keras.callbacks.Callback):
    """FIDs of GMM-resampled generations every `every` epochs, into the logs.

    At the end of epochs `every`, `2 * every`, ... (and of the last epoch
    when `include_last`): encode the reference images (posterior means),
    fit a `GMMSampler(components)` on them as the authors' code does, draw
    `num_samples` latents, decode them and compute the FID of each output
    (x_hat; x1 and x2 for a Split-VAE) against the reference statistics,
    computed once at the start of training. The values go into `logs` as
    `fid_gmm<components>_<output>` (e.g. `fid_gmm100_x1`); in other epochs
    those keys hold NaN, so every history column has one value per epoch
    (a `CSVLogger` placed after this callback records them all).

    The model is evaluated in inference mode (moving BatchNormalization
    statistics), as any later evaluation of the saved weights.

    Args:
        reference_images: array (N, H, W, C) in [0, 1]. The real images
            (the authors: 10,000 test images). GMM fit and FID reference.
        feature_model: what `keras_vaes.metrics.fid_score` accepts (a
            `FeatureExtractor`, a `keras.Model`, ...), e.g.
            `keras_vaes.metrics.classifier_extractor("mnist")` offline.
        every: int. Epoch period. Defaults to 1.
        components: int. GMM components. Defaults to 100 (Figures 14/15).
        num_samples: int or None. Generated images per FID; None: as many
            as reference images.
        outputs: tuple of output names to score, or None for all of
            x_hat, x1, x2 that the model produces.
        seed: int. Seed of the GMM fit and draws (the same every epoch).
        include_last: bool. Also evaluate after the last epoch. Defaults to
            True.
        batch_size: int. Defaults to 100.
        verbose: int. 1 prints the values. Defaults to 1.

    Example:

    >>> callback = GMMFIDHistory(x_test[:10000], extractor, every=5)  # doctest: +SKIP
    >>> history = model.fit(x_train, epochs=20, callbacks=[callback])  # doctest: +SKIP
    >>> history.history["fid_gmm100_x1"]  # doctest: +SKIP
    """

    def __init__(self, reference_images, feature_model, every=1, components=100,
                 num_samples=None, outputs=None, seed=0, include_last=True,
                 batch_size=100, verbose=1):
        super().__init__()
        self.reference_images = check_images(
            reference_images, name="reference_images", channels=extractors.IMAGE_CHANNELS,
            tolerance=extractors.RANGE_TOLERANCE,
        )
        every = check_positive_int(every, "every")
        components = check_positive_int(components, "components")
        if num_samples is not None:
            num_samples = check_positive_int(num_samples, "num_samples")
        batch_size = check_positive_int(batch_size, "batch_size")
        if components > len(self.reference_images):
            raise ValueError(
                f"A GMM with {components} components needs at least as many reference "
                f"images. Received: {len(self.reference_images)} images"
            )
        if outputs is not None:
            unknown = set(outputs) - {"x_hat", "x1", "x2"}
            if unknown or not outputs:
                raise ValueError(
                    "`outputs` must be a non-empty subset of ('x_hat', 'x1', 'x2'). "
                    f"Received: outputs={tuple(outputs)}"
                )
        self.feature_model = feature_model
        self.every = int(every)
        self.components = int(components)
        self.num_samples = int(num_samples or len(self.reference_images))
        self.outputs = None if outputs is None else tuple(outputs)
        self.seed = seed
        self.include_last = include_last
        self.batch_size = batch_size
        self.verbose = verbose
        self._reference_stats = None
        self.scores = {}  # epoch (1-based) -> {key: fid}

    def key(self, output):
        """Name of the log entry of `output` (e.g. `fid_gmm100_x_hat`)."""
        return f"fid_gmm{self.components}_{output}"

    def _output_names(self):
        if self.outputs is not None:
            return self.outputs
        return ("x_hat", "x1", "x2") if getattr(self.model, "split", False) else ("x_hat",)

    def on_train_begin(self, logs=None):
        self._epochs = (self.params or {}).get("epochs")
        if self._reference_stats is None:
            self._reference_stats = fid.compute_statistics(
                self.reference_images, self.feature_model, batch_size=self.batch_size,
            )

    def evaluate(self):
        """The FIDs now: `{key: value}` for each scored output."""
        if self._reference_stats is None:
            self.on_train_begin()
        z_mean, _ = self.model.encode(self.reference_images, batch_size=self.batch_size)
        sampler = GMMSampler(self.components, max_iter=200, seed=self.seed).fit(z_mean)
        decoded = decode_latents(self.model, sampler.sample(self.num_samples, seed=self.seed),
                                 self.batch_size)
        scores = {}
        for output in self._output_names():
            if output not in decoded:
                raise ValueError(
                    f"The model has no output {output!r} (a vanilla VAE has only x_hat). "
                    f"Received outputs: {sorted(decoded)}"
                )
            scores[self.key(output)] = fid.fid_score(
                self._reference_stats, np.clip(decoded[output], 0.0, 1.0),
                self.feature_model, batch_size=self.batch_size, verbose=0,
            )
        return scores

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        last = self.include_last and self._epochs is not None and epoch + 1 == self._epochs
        if (epoch + 1) % self.every == 0 or last:
            scores = self.evaluate()
            self.scores[epoch + 1] = scores
            if self.verbose:
                print_msg(f"epoch {epoch + 1}: " + ", ".join(f"{k}={v:.3f}" for k, v in scores.items()))
        else:
            scores = {self.key(output): math.nan for output in self._output_names()}
        logs.update(scores)


def aggregate_fid_histories(histories, key, first_epoch=1):
    """Mean and std over seeds of one FID column of several histories.

    Args:
        histories: list of `History.history`-like dicts (one per training,
            e.g. per seed), each holding `key` with one value per epoch
            (NaN where the FID was not computed).
        key: str. E.g. `"fid_gmm100_x1"`.
        first_epoch: int. The 1-based number of the histories' first epoch
            (N + 1 for a training resumed with `fit(initial_epoch=N)`).

    Returns:
        `(epochs, mean, std)`: 1-based epochs at which every history has a
        finite value, and the mean and (population) std there.
    """
    if not histories:
        raise ValueError(f"No histories to aggregate for {key!r}. Received: histories=[]")
    columns = []
    for history in histories:
        if key not in history:
            raise ValueError(
                f"A history lacks {key!r}. Received keys: {sorted(history)}"
            )
        columns.append(np.asarray(history[key], dtype=float))
    length = min(len(c) for c in columns)
    stacked = np.stack([c[:length] for c in columns])
    finite = np.all(np.isfinite(stacked), axis=0)
    epochs = np.arange(first_epoch, first_epoch + length)[finite]
    values = stacked[:, finite]
    return epochs, values.mean(axis=0), values.std(axis=0)


class SampleGrid(keras.callbacks.Callback):
    """Writes a grid of `model.generate(n, seed=seed)` samples after each epoch.

    Works with any model of the package (its own prior, through the model
    contract); samples of a (-1, 1) model are mapped to [0, 1] for display.
    Files are `folder/{prefix}_epoch_{E}.png`.

    Args:
        folder: str. Where the PNG files go (created if missing).
        prefix: str. File-name prefix and title. Defaults to "samples".
        n: int. Images per grid. Defaults to 64.
        seed: int. The same latent draw every epoch. Defaults to 0.
        ncols: int. Defaults to 8.
    """

    def __init__(self, folder, prefix="samples", n=64, seed=0, ncols=8):
        super().__init__()
        self.folder, self.prefix, self.seed = os.fspath(folder), str(prefix), seed
        self.n = check_positive_int(n, "n")
        self.ncols = check_positive_int(ncols, "ncols")

    def on_epoch_end(self, epoch, logs=None):
        images = self.model.generate(self.n, seed=self.seed)["x_hat"]
        low, high = getattr(self.model, "value_range", (0.0, 1.0))
        images = np.clip((images - low) / (high - low), 0.0, 1.0)
        os.makedirs(self.folder, exist_ok=True)
        path = os.path.join(self.folder, f"{self.prefix}_epoch_{epoch + 1}.png")
        plotting.save_image_grid(images, path, ncols=self.ncols, title=f"{self.prefix}, epoch {epoch + 1}")
