"""How each stage of the two-stage VAE trains, as the authors' scripts.

Asperti, "Variance Loss in Variational Autoencoders" (LOD 2020), as the
BalancingVAE code trains its stages (and Dai & Wipf's two-stage VAE):
Adam with TF1's epsilon (`compile_stage`), the data reshuffled every epoch
and cut into whole batches (`EpochBatches`), the learning rate
lr * lr_factor^floor(epoch / lr_epochs) (`fit_stage`), and a checkpoint
with a JSON line after every epoch (`EpochCheckpoint`). Both
`keras_vaes.models.two_stage` (the first stage) and
`keras_vaes.samplers.second_stage` (the second) train through `fit_stage`.
"""

import json
import math
import os
import time

import keras
import numpy as np

from keras_vaes.samplers.base import seeded_generator


def _learning_rate_schedule(learning_rate, lr_epochs, lr_factor):
    # The authors' step decay: lr * lr_factor^floor(epoch / lr_epochs).
    def schedule(epoch, lr=None):
        if lr_epochs and lr_epochs > 0:
            return learning_rate * lr_factor ** math.floor(epoch / lr_epochs)
        return learning_rate

    return keras.callbacks.LearningRateScheduler(schedule)


# TF1's `AdamOptimizer` epsilon, the authors' optimiser (Keras's is 1e-7).
ADAM_EPSILON = 1e-8


def compile_stage(stage, learning_rate):
    """Compiles a stage with the authors' Adam and builds its state.

    Adam(learning_rate, epsilon=1e-8) as TF1's `AdamOptimizer`; building the
    state first lets `load_weights` of a training checkpoint restore Adam's
    moments and step count (resuming).
    """
    stage.compile(optimizer=keras.optimizers.Adam(learning_rate, epsilon=ADAM_EPSILON))
    stage.optimizer.build(stage.trainable_variables)
    return stage


class EpochBatches(keras.utils.PyDataset):
    """Whole batches of a reshuffled array (or dict of arrays), one epoch each.

    As the authors' loops: each epoch the data is shuffled and cut into
    `len // batch_size` batches, the last partial batch dropped. Epoch k's
    order is a function of (seed, k) (`set_epoch`), so a run resumed at
    epoch k (`initial_epoch`, `keras.callbacks.BackupAndRestore`) reads the
    batches of the uninterrupted run.

    Args:
        data: an array `(N, ...)`, or a dict of arrays with N rows each.
        batch_size: int. Rows per batch.
        seed: int or None. Seed of the shuffling (None: one drawn from
            NumPy's global state, which `keras.utils.set_random_seed` seeds).

    Example:
    >>> batches = EpochBatches(np.arange(10), 4, seed=0)
    >>> len(batches), batches[0].shape
    (2, (4,))
    """

    def __init__(self, data, batch_size, seed=None):
        super().__init__()
        arrays = data if isinstance(data, dict) else {None: data}
        sizes = {len(v) for v in arrays.values()}
        if len(sizes) != 1 or min(sizes) < batch_size:
            raise ValueError(
                f"Expected at least one batch of {batch_size} rows, the same number "
                f"in every array. Received: sizes {sorted(sizes)}"
            )
        self.arrays = arrays
        self.batch_size = int(batch_size)
        self.count = sizes.pop()
        self.seed = int(seeded_generator(None).integers(2**62)) if seed is None else seed
        self.set_epoch(0)

    def set_epoch(self, epoch):
        """Sets the order of the batches to epoch `epoch`'s (0-based)."""
        self.epoch = int(epoch)
        self.order = np.random.default_rng([self.seed, self.epoch]).permutation(self.count)

    def __len__(self):
        return self.count // self.batch_size

    def __getitem__(self, index):
        rows = np.sort(self.order[index * self.batch_size : (index + 1) * self.batch_size])
        batch = {k: v[rows] for k, v in self.arrays.items()}
        return batch[None] if None in batch else batch

    def on_epoch_end(self):
        self.set_epoch(self.epoch + 1)


class _BatchOrderOfEpoch(keras.callbacks.Callback):
    # Keras tells callbacks, not datasets, which epoch starts (a resumed
    # run starts at its `initial_epoch`).
    def __init__(self, batches):
        super().__init__()
        self.batches = batches

    def on_epoch_begin(self, epoch, logs=None):
        self.batches.set_epoch(epoch)


class EpochCheckpoint(keras.callbacks.Callback):
    """After every epoch: the stage's weights (with Adam's state) and one JSON line.

    The line holds the stage, the 1-based epoch, its logs and the wall time,
    so an interrupted run resumes from the last finished epoch
    (`fit_stage(..., initial_epoch=...)`).

    Args:
        weights_path: the `.weights.h5` file rewritten after every epoch.
        log_path: the JSON-lines log, appended to.
        stage_name: str. What the log's `"stage"` field says.
    """

    def __init__(self, weights_path, log_path, stage_name):
        super().__init__()
        self.weights_path = os.fspath(weights_path)
        self.log_path = os.fspath(log_path)
        self.stage_name = stage_name

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.time()

    def on_epoch_end(self, epoch, logs=None):
        self.model.save_weights(self.weights_path)
        record = {"stage": self.stage_name, "epoch": epoch + 1,
                  "seconds": round(time.time() - self._start, 1)}
        record.update({k: float(v) for k, v in (logs or {}).items()})
        with open(self.log_path, "a") as f:
            f.write(json.dumps(record) + "\n")


def fit_stage(stage, batches, epochs, learning_rate, lr_epochs=0, lr_factor=0.5, callbacks=None,
              verbose="auto", initial_epoch=0):
    """`stage.fit` on `EpochBatches` with the authors' Adam and step schedule.

    Args:
        stage: a stage (`keras.Model`); compiled with `compile_stage` here
            unless it is compiled already.
        batches: `EpochBatches` of its training data.
        epochs: int. The epoch to stop after.
        learning_rate: float. Initial learning rate.
        lr_epochs: int. Epochs between decays; 0 keeps the rate.
        lr_factor: float. Decay factor.
        callbacks: more Keras callbacks, or None.
        verbose: Keras's `fit` verbosity.
        initial_epoch: int. The epoch to start from (resuming keeps the
            schedule and the batch order).

    Returns:
        Keras's `History`.
    """
    if not stage.compiled:
        compile_stage(stage, learning_rate)
    callbacks = [_BatchOrderOfEpoch(batches),
                 _learning_rate_schedule(learning_rate, lr_epochs, lr_factor)] + list(callbacks or [])
    # The batches are shuffled by `EpochBatches`' seed; Keras's shuffle of
    # their order would draw from Python's global state instead.
    return stage.fit(batches, epochs=epochs, initial_epoch=initial_epoch,
                     callbacks=callbacks, verbose=verbose, shuffle=False)
