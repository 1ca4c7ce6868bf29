"""The training and saving machinery every VAE of the package shares.

A `BalancedVAE` is a functional `keras.Model` data -> {reconstruction, mean,
log-variance}, trained by Keras's own `train_step` on every backend
(TensorFlow, JAX, PyTorch) and under `tf.distribute` / `keras.distribution`:
the loss the subclass defines (`loss_terms`) and the update of gamma by a
balancing rule (`keras_vaes.balancing`) live in `compute_loss`. Gamma is
saved with the weights.
"""


import keras
import numpy as np
from keras import ops

from keras_vaes.balancing import GammaBalancer
from keras_vaes.layers import Sampling
from keras_vaes.models.contract import GenerativeModel
from keras_vaes.models.saving import SafeSaving
from keras_vaes.samplers.base import seeded_generator
from keras_vaes.utils import check_no_targets

# The divergence guard lives in keras_vaes.utils, where every model imports
# it; re-exported here, its first home.
from keras_vaes.utils import StopOnDivergence, TrainingDivergedError  # noqa: F401


def _scale_for_replicas(loss):
    """loss / replicas in a `tf.distribute` replica context, else loss."""
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        if replicas > 1:
            return loss / replicas
    return loss


class BalancedVAE(GenerativeModel, SafeSaving, keras.Model):
    """Base of the package's balanced VAEs: gamma-balanced training, saving, the model contract.

    Subclasses build `encoder` (data -> [mean, log_var]) and `decoder`
    (latent -> reconstruction, or a dict holding it), call `_build_graph`,
    and implement `loss_terms(x, outputs) -> (loss, kl)` with `keras.ops`
    (reading gamma with `self.balancer.current_gamma()`). `fit` then trains
    with that loss and updates gamma after each step with
    `GammaBalancer(rule=self.balancing_rule)`; the progress bar shows loss,
    mse, kl and gamma. Gamma and the running MSE estimate are saved with
    the weights (`.weights.h5` and `.keras`) and kept out of
    `count_params()`, which stays the papers' parameter count.

    Subclasses that override `metrics` keep `super().metrics` in the list:
    the balancer is one of them (so JAX's jitted step carries gamma).
    """

    # Names of (reconstruction, mean, log-variance) in the output dict.
    output_keys = ("x_hat", "z_mean", "z_log_var")
    balancing_rule = "two_stage"

    def _build_graph(self, encoder, decoder, seed, initial_mse=1.0, **kwargs):
        # Keras's functional constructor would drop a misspelt argument silently.
        unknown = sorted(set(kwargs) - {"name", "trainable", "dtype"})
        if unknown:
            raise TypeError(f"{type(self).__name__}() got unexpected keyword arguments: {unknown}")
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
        self._rng = seeded_generator(seed)
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
        return GenerativeModel.check_input(self, data, name=name)

    def check_input(self, images, name="images"):
        return self._check_data(images, name=name)

    def _decode_arrays(self, z, labels, batch_size):
        decoded = self.decoder.predict(z, batch_size=batch_size, verbose=0)
        return decoded if isinstance(decoded, dict) else {self.output_keys[0]: decoded}

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

        Raises:
            ValueError: fewer images than one batch.
        """
        data = self._check_data(data)
        if len(data) < batch_size:
            raise ValueError(
                "recalibrate_batch_norm averages the statistics of whole "
                f"batches and needs at least one batch of {batch_size} images. "
                f"Received: {len(data)} images, batch_size={batch_size}"
            )
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
        return [self.loss_tracker, self.mse_tracker, self.kl_tracker, self.balancer]

    def _training_target(self, x, y_pred):
        """What the reconstruction is compared with: the input, by default."""
        return x

    def _batch_mse(self, target, reconstruction):
        """The batch MSE, over all replicas under `tf.distribute`.

        Gamma follows the MSE of the GLOBAL batch: on one device and on JAX
        (whose jitted step sees the whole sharded batch) that is the plain
        mean; in a `tf.distribute` replica context each replica holds a
        slice, so the squared errors and their counts are summed over the
        replicas first. Every replica then applies the same update.
        """
        error = ops.square(ops.cast(target, "float32") - ops.cast(reconstruction, "float32"))
        error = ops.stop_gradient(error)
        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            context = tf.distribute.get_replica_context()
            if context is not None and context.num_replicas_in_sync > 1:
                total, count = context.all_reduce(
                    "sum", [ops.sum(error), ops.cast(ops.size(error), "float32")]
                )
                return total / count
        return ops.mean(error)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The subclass's loss (`loss_terms`) at the current gamma.

        Keras's own `train_step` calls this inside its gradient context on
        every backend (GradientTape on TensorFlow, `value_and_grad` of the
        stateless step on JAX, autograd on PyTorch) and scales the returned
        loss for mixed float16 itself (`optimizer.scale_loss`). In training,
        as the authors, the step's loss uses the gamma from before the step,
        and gamma is then updated from the batch MSE (no gradient).
        """
        target = self._training_target(x, y_pred)
        loss, kl = self.loss_terms(target, y_pred)
        mse = self._batch_mse(target, y_pred[self.output_keys[0]])
        if training:
            self.balancer.update(mse)
        self.loss_tracker.update_state(loss)
        self.mse_tracker.update_state(mse)
        self.kl_tracker.update_state(kl)
        # Under tf.distribute the replicas' gradients are summed: each
        # replica's mean loss counts 1 / replicas (identity elsewhere).
        total = _scale_for_replicas(loss)
        for extra in self.losses:  # regularizers (e.g. the stage-1 L2)
            total = total + self._aggregate_additional_loss(extra)
        return total

    def _checked_fit_input(self, x, y, batch_size):
        if getattr(self, "image_shape", None) is None:
            check_no_targets(y, f"{type(self).__name__}.fit")
            return x, None  # the second stage checks its codes in its own `fit`
        return super()._checked_fit_input(x, y, batch_size)

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

    def load_weights(self, filepath, *args, **kwargs):
        """Loads a `.weights.h5` file written by the same configuration.

        Returns:
            True when the file also restored gamma and the MSE estimate;
            False for a file without them (then call `estimate_gamma` on
            training data before resuming training, as the authors do).
        """
        self._restored_gamma = False
        super().load_weights(filepath, *args, **kwargs)
        return self._restored_gamma

    def _export_state(self, bare):
        bare.balancer.mse_estimate.assign(self.balancer.mse_estimate)
        bare.balancer.gamma.assign(self.balancer.gamma)
