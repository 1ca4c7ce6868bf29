"""The training and saving machinery every VAE of the package shares.

A `BalancedVAE` is a functional `keras.Model` data -> {reconstruction, mean,
log-variance}, trained by a custom `train_step` whose loss the subclass
defines (`loss_terms`) and whose gamma follows a balancing rule
(`keras_vaes.balancing`); gamma is saved with the weights.
"""

import os

import keras
import numpy as np
from keras import ops

from keras_vaes.balancing import GammaBalancer
from keras_vaes.layers import Sampling
from keras_vaes.utils import atomic_write, check_images


class BalancedVAE(keras.Model):
    """Base of the package's VAEs: gamma-balanced training, saving, API.

    Subclasses build `encoder` (data -> [mean, log_var]) and `decoder`
    (latent -> reconstruction, or a dict holding it), call `_build_graph`,
    and implement `loss_terms(x, outputs) -> (loss, kl)`. `fit` then trains
    with that loss and updates gamma after each step with
    `GammaBalancer(rule=self.balancing_rule)`; the progress bar shows loss,
    mse, kl and gamma. Gamma and the running MSE estimate are saved with
    the weights (`.weights.h5` and `.keras`) and kept out of
    `count_params()`, which stays the papers' parameter count.
    """

    # Names of (reconstruction, mean, log-variance) in the output dict.
    output_keys = ("x_hat", "z_mean", "z_log_var")
    balancing_rule = "two_stage"

    def _build_graph(self, encoder, decoder, seed, initial_mse=1.0, **kwargs):
        sampling = Sampling(seed=seed, dtype="float32", name="sampling")
        data = keras.Input(shape=encoder.input_shape[1:], name="inputs")
        mean, log_var = encoder(data)
        decoded = decoder(sampling([mean, log_var]))
        rec_key, mean_key, log_var_key = self.output_keys
        outputs = dict(decoded) if isinstance(decoded, dict) else {rec_key: decoded}
        outputs.update({mean_key: mean, log_var_key: log_var})
        super().__init__(inputs=data, outputs=outputs, **kwargs)
        self.encoder = encoder
        self.decoder = decoder
        self.sampling = sampling
        self.balancer = GammaBalancer(rule=self.balancing_rule, initial_mse=initial_mse)
        self.initial_mse = initial_mse
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.mse_tracker = keras.metrics.Mean(name="mse")
        self.kl_tracker = keras.metrics.Mean(name="kl")

    def loss_terms(self, x, outputs):
        """Returns `(loss, kl)`: the batch-averaged loss and KL. Abstract."""
        raise NotImplementedError

    # --- Public API -------------------------------------------------------

    @property
    def gamma(self):
        """Current gamma of the balancing rule, a float."""
        return float(ops.convert_to_numpy(self.balancer.gamma))

    @property
    def mse_estimate(self):
        """Current running MSE estimate, a float."""
        return float(ops.convert_to_numpy(self.balancer.mse_estimate))

    def _check_data(self, data, name="images"):
        return check_images(data, self.image_shape, name=name).astype("float32", copy=False)

    def encode(self, data, batch_size=100):
        """Posterior `(mean, log_var)` of `data` as NumPy arrays."""
        data = self._check_data(data)
        mean, log_var = self.encoder.predict(data, batch_size=batch_size, verbose=0)
        return mean, log_var

    def decode(self, latents, batch_size=100):
        """Decodes latent vectors; returns a dict of NumPy arrays.

        The reconstruction is under `output_keys[0]` (`"x_hat"` for image
        models); a Split-VAE adds `"sigma"`, `"x1"`, `"x2"`.
        """
        latents = np.asarray(latents, dtype="float32")
        if latents.ndim != 2 or latents.shape[1] != self.latent_dim:
            raise ValueError(
                f"Expected z of shape (N, {self.latent_dim}). "
                f"Received: z.shape={latents.shape}"
            )
        decoded = self.decoder.predict(latents, batch_size=batch_size, verbose=0)
        return decoded if isinstance(decoded, dict) else {self.output_keys[0]: decoded}

    def reconstruct(self, data, sample=False, seed=None, batch_size=100):
        """Decodes the posterior means of `data` (or a sample, with `sample`).

        Returns:
            The dict of `decode`.
        """
        mean, log_var = self.encode(data, batch_size=batch_size)
        if sample:
            sampling = Sampling(seed=seed, dtype="float32")
            mean = ops.convert_to_numpy(sampling([mean, log_var]))
        return self.decode(mean, batch_size=batch_size)

    def recalibrate_batch_norm(self, data, batch_size=100):
        """Recomputes every BatchNormalization's moving statistics on `data`.

        With the authors' momentum of 0.999 the moving statistics need
        thousands of steps to forget the early network; after a short run
        they are stale, and inference (encode, decode, generate) is much
        worse than training. This runs the model in training mode over
        `data` without touching the weights, setting each BN's moving mean
        and variance to the average of its batch statistics ("precise BN").
        The maths of the model is unchanged; only inference statistics are.

        Returns:
            The number of batches averaged.
        """
        data = self._check_data(data)
        norms = [
            layer for layer in self._flatten_layers()
            if isinstance(layer, keras.layers.BatchNormalization)
        ]
        momenta = [layer.momentum for layer in norms]
        steps = 0
        try:
            for start in range(0, len(data) - batch_size + 1, batch_size):
                steps += 1
                for layer in norms:  # cumulative average of batch statistics
                    layer.momentum = (steps - 1) / steps
                self(data[start : start + batch_size], training=True)
        finally:
            for layer, momentum in zip(norms, momenta):
                layer.momentum = momentum
        return steps

    # --- Training ---------------------------------------------------------

    @property
    def metrics(self):
        return [self.loss_tracker, self.mse_tracker, self.kl_tracker]

    def _training_inputs(self, x):
        return x

    def _compute_losses(self, x, training):
        outputs = self(x, training=training)
        loss, kl = self.loss_terms(x, outputs)
        reconstruction = ops.cast(outputs[self.output_keys[0]], "float32")
        mse = ops.mean(ops.square(ops.cast(x, "float32") - reconstruction))
        return loss, mse, kl

    def _logs(self):
        logs = {m.name: m.result() for m in self.metrics}
        logs["gamma"] = ops.convert_to_tensor(self.balancer.gamma)
        return logs

    def _track(self, loss, mse, kl):
        self.loss_tracker.update_state(loss)
        self.mse_tracker.update_state(mse)
        self.kl_tracker.update_state(kl)

    def train_step(self, data):
        if keras.backend.backend() != "tensorflow":
            raise NotImplementedError(
                f"{type(self).__name__}.train_step is implemented for the "
                f"TensorFlow backend. Received: backend={keras.backend.backend()!r}"
            )
        import tensorflow as tf

        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        x = self._training_inputs(x)
        with tf.GradientTape() as tape:
            loss, mse, kl = self._compute_losses(x, training=True)
            total = loss + ops.sum(self.losses) if self.losses else loss
            # Identity, except under a mixed_float16 policy, where compile()
            # wraps the optimizer in a LossScaleOptimizer (as Keras's step).
            total = self.optimizer.scale_loss(total)
        gradients = tape.gradient(total, self.trainable_variables)
        self.optimizer.apply_gradients(zip(gradients, self.trainable_variables))
        # As the authors: gamma is updated after the step, from the batch MSE.
        self.balancer.update(mse)
        self._track(loss, mse, kl)
        return self._logs()

    def test_step(self, data):
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        loss, mse, kl = self._compute_losses(self._training_inputs(x), training=False)
        self._track(loss, mse, kl)
        return self._logs()

    def fit(self, x=None, *args, **kwargs):
        if isinstance(x, np.ndarray):
            self._check_data(x, name="x")
        return super().fit(x, *args, **kwargs)

    def estimate_gamma(self, data, batch_size=100):
        """Restarts gamma from the measured MSE of `data` (authors' resume).

        The authors' scripts, loading weights without a stored gamma,
        reconstruct (with sampling, as training does) training images and
        restart the estimate from their MSE. Returns the MSE.
        """
        x = self._check_data(data)
        rec = self.predict(x, batch_size=batch_size, verbose=0)[self.output_keys[0]]
        error = float(np.mean(np.square(x - rec)))
        self.balancer.reset(error)
        return error

    # --- Saving -----------------------------------------------------------

    def save_own_variables(self, store):
        super().save_own_variables(store)
        self.balancer.save_to(store)

    def load_own_variables(self, store):
        self._restored_gamma = self.balancer.load_from(store)
        own = {k: store[k] for k in store.keys() if not k.startswith("balancer_")}
        super().load_own_variables(own)

    def _check_finite(self, filepath):
        broken = [w.path for w in self.weights if not np.all(np.isfinite(ops.convert_to_numpy(w)))]
        if broken:
            raise ValueError(
                f"Refusing to write {filepath}: {len(broken)} weight tensors hold "
                f"NaN or inf (e.g. {broken[0]}), so training diverged; the file "
                "on disk, if any, is left as it was."
            )

    def save_weights(self, filepath, overwrite=True, **kwargs):
        """Saves weights (and gamma) atomically to a `.weights.h5` file.

        Non-finite weights (a diverged run) are never written over a file.
        """
        if not str(filepath).endswith(".weights.h5"):
            raise ValueError(
                "The weights file name must end in `.weights.h5`. "
                f"Received: filepath={filepath}"
            )
        self._check_finite(filepath)
        if not overwrite and os.path.exists(filepath):
            return super().save_weights(filepath, overwrite=False, **kwargs)
        atomic_write(filepath, lambda tmp: super(BalancedVAE, self).save_weights(tmp, **kwargs))

    def save(self, filepath, overwrite=True, **kwargs):
        """Saves the whole model (`.keras`) atomically; never diverged weights."""
        self._check_finite(filepath)
        if not str(filepath).endswith(".keras") or (not overwrite and os.path.exists(filepath)):
            return super().save(filepath, overwrite=overwrite, **kwargs)
        atomic_write(filepath, lambda tmp: super(BalancedVAE, self).save(tmp, **kwargs))

    def load_weights(self, filepath, *args, **kwargs):
        """Loads a `.weights.h5` file written by the same configuration.

        Returns:
            True when the file also restored gamma and the MSE estimate;
            False for a file without them (then call `estimate_gamma` on
            training data before resuming training, as the authors do).
        """
        if not os.path.exists(filepath):
            raise FileNotFoundError(f"Weights file {filepath!r} does not exist.")
        self._restored_gamma = False
        try:
            super().load_weights(filepath, *args, **kwargs)
        except (ValueError, KeyError) as error:
            config = {k: v for k, v in self.get_config().items() if k not in ("name", "trainable")}
            raise ValueError(
                f"Could not load {filepath} into this {type(self).__name__} "
                f"({config}): the file was written by a model of a different "
                f"configuration. Keras said: {error}"
            ) from error
        return self._restored_gamma

    @classmethod
    def from_config(cls, config):
        return cls(**config)
