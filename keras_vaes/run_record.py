"""The record of a training run: what ran, where, for how long, and how it learned.

A preset is shipped with its run record (`weights/<preset>_run/`): the exact
command, the model's config, the seed, the library versions and machine
(`environment_info`), the wall time, the per-epoch history (CSV) and its
curves. `write_run_record` writes those files; the evaluation tables and
sample grids come from `keras_vaes.evaluation.protocol.write_results` and
`keras_vaes.plotting.save_image_grid` into the same folder.

`PriorJudge` is the callback that decides when such a run has trained
enough: every few epochs it scores samples of the model's own prior
(`model.generate`) against reference images on a feature model (FD,
improved precision / recall) and stops training at a target or when the FD
no longer improves.

Example:

>>> import keras_vaes as kv
>>> sorted(kv.run_record.environment_info())[:3]
['backend', 'cores', 'cpu']
"""

import csv
import json
import math
import os
import platform
import shlex
import time

import keras
import numpy as np

from keras_vaes import plotting
from keras_vaes.evaluation.tables import FD, QualityMeasures
from keras_vaes.ledger import json_default
from keras_vaes.samplers.gmm import GMMSampler
from keras_vaes.utils.checks import check_images, check_positive_int
from keras_vaes.utils.files import atomic_write

RECORD_FILE = "record.json"
HISTORY_FILE = "history.csv"


def _cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        if names:
            return names[0]
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment_info():
    """Device, library versions and CPU of this process, as a dict for a record.

    Keys: `keras`, `backend`, the backend's own version (`tensorflow`, `jax`
    or `torch`), `python`, `numpy`, `cores`, `cpu` (the model name) and
    `device` ("CPU" or the accelerators' names).
    """
    info = {"keras": keras.__version__, "backend": keras.backend.backend(), "python": platform.python_version(),
            "numpy": np.__version__, "cores": os.cpu_count(), "cpu": _cpu_name()}
    if info["backend"] == "tensorflow":
        import tensorflow as tf

        info["tensorflow"] = tf.__version__
        gpus = tf.config.list_physical_devices("GPU")
        info["device"] = ", ".join(tf.config.experimental.get_device_details(g).get("device_name", g.name)
                                   for g in gpus) or "CPU"
    elif info["backend"] == "jax":
        import jax

        info["jax"] = jax.__version__
        accelerators = [d for d in jax.devices() if d.platform != "cpu"]
        info["device"] = ", ".join(getattr(d, "device_kind", str(d)) for d in accelerators) or "CPU"
    elif info["backend"] == "torch":
        import torch

        info["torch"] = torch.__version__
        info["device"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "CPU"
    return info


def read_history(path):
    """A `keras.callbacks.CSVLogger` file as `{column: [float, ...]}`.

    Empty and "NA" cells are NaN; the `val_` columns that `CSVLogger` adds
    without validation data (all "NA") are dropped.
    """
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return {}

    def value(cell):
        return math.nan if cell in ("", "NA", None) else float(cell)

    history = {key: [value(row[key]) for row in rows] for key in rows[0]}
    return {key: values for key, values in history.items()
            if not (key.startswith("val_") and all(row[key] == "NA" for row in rows))}


def write_run_record(folder, *, command, config, seed, wall_seconds, history=None, environment=None,
                     extra=None, curve_keys=None):
    """Writes a run's record into `folder`; returns the paths written.

    Files: `command.txt` (the command, shell-quoted when given as a list),
    `record.json` (config, seed, wall time, epochs, environment, `extra`),
    `history.csv` and `curves.png` when `history` has values.

    Args:
        folder: str. Created if missing.
        command: str or list of str (e.g. `sys.argv`).
        config: dict. The model's `get_config()` and the training settings.
        seed: int.
        wall_seconds: float. Training time (all sessions of a resumed run).
        history: `{column: [value per epoch]}` (`read_history`,
            `History.history`), or None.
        environment: dict, or None for `environment_info()`.
        extra: dict of more JSON-able fields (e.g. the final scores).
        curve_keys: history columns to plot; None plots every column but
            `epoch`.
    """
    if not isinstance(config, dict):
        raise TypeError(f"Expected `config` to be a dict. Received: config of type {type(config).__name__}")
    wall_seconds = float(wall_seconds)
    if not (math.isfinite(wall_seconds) and wall_seconds >= 0):
        raise ValueError(f"Expected `wall_seconds` to be a finite number >= 0. Received: wall_seconds={wall_seconds}")
    os.makedirs(folder, exist_ok=True)
    history = {k: list(v) for k, v in (history or {}).items()}
    epochs = max((len(v) for v in history.values()), default=0)
    command = command if isinstance(command, str) else shlex.join(str(part) for part in command)
    record = {"command": command, "config": config, "seed": seed, "wall_seconds": wall_seconds,
              "epochs": epochs, "environment": environment or environment_info(), **(extra or {})}
    paths = []

    def text(content):
        def write(path):
            with open(path, "w") as f:
                f.write(content)

        return write

    for name, content in (("command.txt", command + "\n"),
                          (RECORD_FILE, json.dumps(record, indent=1, allow_nan=True, default=json_default) + "\n")):
        paths.append(atomic_write(os.path.join(folder, name), text(content)))
    if epochs:
        columns = sorted(history)
        lines = [",".join(columns)] + [
            ",".join("" if i >= len(history[c]) else repr(float(history[c][i])) for c in columns)
            for i in range(epochs)
        ]
        paths.append(atomic_write(os.path.join(folder, HISTORY_FILE), text("\n".join(lines) + "\n")))
        keys = [k for k in (curve_keys or columns) if k != "epoch" and k in history
                and np.isfinite(np.asarray(history[k], dtype=float)).any()]
        if keys:
            paths.append(plotting.save_curves(history, os.path.join(folder, "curves.png"), keys=keys))
    return paths


class PriorJudge(keras.callbacks.Callback):
    """Scores samples of the model's own prior during training; stops at a target.

    Every `every` epochs (and after the last): draws `num_samples` images with
    `model.generate(num_samples, seed=seed)` (the model's declared prior),
    maps them from `model.value_range` to [0, 1] and scores them against
    `reference_images` on `feature_model`'s features: Frechet distance and
    improved precision / recall (Kynkaenniemi et al. 2019, k = 3). The values
    go into the logs as `prior_fd`, `prior_precision`, `prior_recall` (NaN in
    other epochs, so a `CSVLogger` after this callback has one row an epoch).

    With `gmm_images`, each evaluation also fits a `GMMSampler(gmm_components)`
    on the posterior means of those images and scores its samples the same
    way (`gmm_fd`, `gmm_precision`, `gmm_recall`): the ex-post sampler that a
    learned prior should match (the learned-priors paper's point).

    Training stops, once `min_epochs` have passed, when every target is met
    (`target_fd`: FD at most; `target_recall`: recall at least;
    `target_beats_gmm`: the prior's FD at most the GMM's), or when the
    prior's FD has not fallen below its best for `patience` evaluations in a
    row.

    Args:
        reference_images: array (N, H, W, C) in [0, 1].
        feature_model: a `keras_vaes.metrics` feature model (e.g.
            `keras_vaes.metrics.classifier_extractor("mnist")`).
        num_samples: int. Images generated per evaluation. Defaults to as
            many as reference images.
        every: int. Epoch period. Defaults to 1.
        target_fd, target_recall: float or None. The stop targets.
        patience: int or None. Evaluations without a new best FD before
            stopping; None never stops for that.
        min_epochs: int. No stop before this many epochs. Defaults to 0.
        gmm_images: array (M, H, W, C) in the model's range, or None.
        gmm_components: int. Defaults to 100.
        target_beats_gmm: bool. Stop once the prior's FD is at most the
            GMM's (needs `gmm_images`). Defaults to False.
        seed: int. The same latent draw every evaluation.
        batch_size: int. Defaults to 100.
        model: the model judged, when `fit` trains a part of it (a
            `TwoStageVAE`'s second stage: its GEN-2 images are judged
            while `fit_second_stage` trains); None judges the model that
            `fit` trains. Stopping always stops that fit.

    Attributes:
        scores: `{epoch (1-based): {"fd", "precision", "recall"}}`.
        stop_reason: why training was stopped here, or None.
    """

    def __init__(self, reference_images, feature_model, *, num_samples=None, every=1, target_fd=None,
                 target_recall=None, patience=None, min_epochs=0, gmm_images=None, gmm_components=100,
                 target_beats_gmm=False, seed=0, batch_size=100, model=None):
        super().__init__()
        self._judged = model
        self.reference_images = check_images(reference_images, name="reference_images")
        self.feature_model = feature_model
        self.num_samples = check_positive_int(num_samples or len(self.reference_images), "num_samples")
        self.every = check_positive_int(every, "every")
        self.patience = None if patience is None else check_positive_int(patience, "patience")
        for name, value in (("target_fd", target_fd), ("target_recall", target_recall)):
            if value is not None and not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ValueError(f"Expected `{name}` to be None or a finite number >= 0. Received: {name}={value!r}")
        self.target_fd, self.target_recall = target_fd, target_recall
        self.min_epochs = check_positive_int(min_epochs, "min_epochs", minimum=0)
        if target_beats_gmm and gmm_images is None:
            raise ValueError("`target_beats_gmm=True` needs `gmm_images` (the images whose codes fit the GMM). "
                             "Received: gmm_images=None")
        self.gmm_images = None if gmm_images is None else np.asarray(gmm_images, np.float32)
        self.gmm_components = check_positive_int(gmm_components, "gmm_components")
        if self.gmm_images is not None and len(self.gmm_images) < self.gmm_components:
            raise ValueError(f"A GMM with {self.gmm_components} components needs at least as many images. "
                             f"Received: {len(self.gmm_images)} gmm_images")
        self.target_beats_gmm = bool(target_beats_gmm)
        self.seed, self.batch_size = seed, check_positive_int(batch_size, "batch_size")
        self.scores = {}
        self.stop_reason = None
        self._judge = None
        self._best_fd, self._since_best = math.inf, 0

    def set_model(self, model):
        self._fitted = model
        super().set_model(self._judged if self._judged is not None else model)

    def resume_from(self, history):
        """Restores the patience count of an interrupted run from its history.

        Args:
            history: `{column: [value per epoch]}` of the epochs already
                trained (`read_history` of the run's CSV log).
        """
        for fd in history.get("prior_fd", []):
            if not math.isfinite(fd):
                continue
            if fd < self._best_fd:
                self._best_fd, self._since_best = fd, 0
            else:
                self._since_best += 1
        return self

    def _score(self, images):
        low, high = (float(v) for v in getattr(self.model, "value_range", (0.0, 1.0)))
        images = (np.asarray(images, np.float32) - low) / (high - low)
        if not np.all(np.isfinite(images)):
            return {"fd": math.nan, "precision": math.nan, "recall": math.nan}
        return self._judge.score(images)[FD]

    def evaluate(self):
        """`{"prior_fd", "prior_precision", "prior_recall"}` now (and the `gmm_` ones with `gmm_images`)."""
        if self._judge is None:
            self._judge = QualityMeasures(self.reference_images, classifier=self.feature_model, k=3,
                                          batch_size=self.batch_size)
        images = self.model.generate(self.num_samples, seed=self.seed, batch_size=self.batch_size)["x_hat"]
        scores = {f"prior_{k}": v for k, v in self._score(images).items()}
        if self.gmm_images is not None:
            z_mean, _ = self.model.encode(self.gmm_images, batch_size=self.batch_size)
            sampler = GMMSampler(self.gmm_components, max_iter=200, seed=self.seed).fit(z_mean)
            images = self.model.generate(self.num_samples, sampler=sampler, seed=self.seed,
                                         batch_size=self.batch_size)["x_hat"]
            scores.update({f"gmm_{k}": v for k, v in self._score(images).items()})
        return scores

    def _keys(self):
        prefixes = ("prior", "gmm") if self.gmm_images is not None else ("prior",)
        return [f"{p}_{k}" for p in prefixes for k in ("fd", "precision", "recall")]

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        epochs = (self.params or {}).get("epochs")
        if (epoch + 1) % self.every and not (epochs is not None and epoch + 1 == epochs):
            logs.update({key: math.nan for key in self._keys()})
            return
        scores = self.evaluate()
        self.scores[epoch + 1] = scores
        logs.update(scores)
        fd = scores["prior_fd"]
        improved = fd < self._best_fd
        if improved:
            self._best_fd, self._since_best = fd, 0
        else:
            self._since_best += 1
        if epoch + 1 < self.min_epochs:
            return
        targets = [(self.target_fd is not None, fd <= (self.target_fd or 0.0)),
                   (self.target_recall is not None, scores["prior_recall"] >= (self.target_recall or 0.0)),
                   (self.target_beats_gmm, self.target_beats_gmm and fd <= scores.get("gmm_fd", math.nan))]
        if any(active for active, _ in targets) and all(met for active, met in targets if active):
            self.stop_reason = (f"target reached at epoch {epoch + 1}: prior FD {fd:.2f}, "
                                f"recall {scores['prior_recall']:.3f}"
                                + (f", GMM-{self.gmm_components} FD {scores['gmm_fd']:.2f}"
                                   if "gmm_fd" in scores else ""))
            self._fitted.stop_training = True
        elif self.patience is not None and self._since_best >= self.patience:
            self.stop_reason = (f"prior FD not below its best ({self._best_fd:.2f}) for {self._since_best} "
                                f"evaluations, at epoch {epoch + 1}")
            self._fitted.stop_training = True


class EpochTimer(keras.callbacks.Callback):
    """Adds `epoch_seconds` (wall time of the epoch, its callbacks before this one included) to the logs."""

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["epoch_seconds"] = time.perf_counter() - self._start


class LossPlateau(keras.callbacks.Callback):
    """Stops training once a logged value has stopped falling; resumable.

    Keras's `EarlyStopping` rule (stop when no epoch in `patience` has
    brought `monitor` below its best by more than `min_delta`) with a
    `resume_from` that replays an interrupted run's history, so the count
    survives a restart, and a `stop_reason` for the run record.

    Args:
        monitor: str. The logged value, lower is better. Defaults to
            `"loss"`.
        min_delta: float. The fall that counts as one. Defaults to 0.
        patience: int. Epochs without such a fall before stopping.
        min_epochs: int. No stop before this many epochs. Defaults to 0.

    Attributes:
        stop_reason: why training was stopped here, or None.
    """

    def __init__(self, monitor="loss", *, min_delta=0.0, patience, min_epochs=0):
        super().__init__()
        if not (isinstance(min_delta, (int, float)) and math.isfinite(min_delta) and min_delta >= 0):
            raise ValueError(f"Expected `min_delta` to be a finite number >= 0. Received: min_delta={min_delta!r}")
        self.monitor, self.min_delta = monitor, float(min_delta)
        self.patience = check_positive_int(patience, "patience")
        self.min_epochs = check_positive_int(min_epochs, "min_epochs", minimum=0)
        self.best, self.wait, self.stop_reason = math.inf, 0, None

    def _update(self, value):
        if value < self.best - self.min_delta:
            self.best, self.wait = value, 0
        else:
            self.wait += 1

    def resume_from(self, history):
        """Replays `{column: [value per epoch]}` of the epochs already trained."""
        for value in history.get(self.monitor, []):
            if math.isfinite(value):
                self._update(value)
        return self

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None or not math.isfinite(float(value)):
            raise ValueError(f"LossPlateau monitors {self.monitor!r}, which the logs do not hold as a finite "
                             f"number. Received: logs keys {sorted(logs or {})}, value {value!r}")
        self._update(float(value))
        if epoch + 1 >= self.min_epochs and self.wait >= self.patience:
            self.stop_reason = (f"{self.monitor} fell by no more than {self.min_delta:g} below its best "
                                f"({self.best:.4g}) in {self.wait} epochs, at epoch {epoch + 1}")
            self.model.stop_training = True
