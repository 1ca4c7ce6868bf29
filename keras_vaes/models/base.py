"""The one base every model of the package subclasses: `GenerativeModel`.

`GenerativeModel` is a subclassed `keras.Model` with the contract's calls
(`keras_vaes.models.contract.ModelContract`: `encode`, `decode`,
`reconstruct`, `generate`, a declared `prior`), the package's saving
(`keras_vaes.models.saving.SafeSaving`) and one way to train:

- `compile(optimizer=None, **keras_kwargs)`: one optimizer for every
  network, or a mapping keyed by the model's `optimizer_roles`; None gives
  the authors' settings (`default_optimizer`). Several roles train in one
  step through a `GroupedOptimizer`.
- `loss_terms(x, y_pred, training) -> dict` of named scalar terms, `"loss"`
  the total: Keras's own `train_step` calls `compute_loss`, which returns
  `"loss"`; the progress bar shows every term (one tracker per key).
- an explicit `get_config()` of the constructor's arguments; `from_config`
  is `cls(**config)`.

`BalancedVAE` adds the gamma balancing of the Split-VAE and two-stage VAEs
(`keras_vaes.balancing`); gamma is saved with the weights.
"""

import types
from collections.abc import Mapping

import keras
import numpy as np
from keras import ops

from keras_vaes.balancing import GammaBalancer
from keras_vaes.layers import Sampling
from keras_vaes.models.contract import ModelContract
from keras_vaes.models.saving import SafeSaving
from keras_vaes.optimizers import GroupedOptimizer
from keras_vaes.utils import check_no_targets

# The divergence guard every model's `fit` puts first (keras_vaes.callbacks);
# TrainingDivergedError is re-exported as keras_vaes.TrainingDivergedError.
from keras_vaes.callbacks import StopOnDivergence, TrainingDivergedError  # noqa: F401


def _scale_for_replicas(loss):
    """loss / replicas in a `tf.distribute` replica context, else loss."""
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        if replicas > 1:
            return loss / replicas
    return loss


def copy_optimizer(optimizer):
    """A fresh optimizer of the same class and settings (no state)."""
    return keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))


class GenerativeModel(ModelContract, SafeSaving, keras.Model):
    """Base of every model of the package: the contract, one compile, one loss pattern.

    A subclass builds its networks after `super().__init__(**kwargs)`, then
    calls `track_loss_terms(names)` with the keys its `loss_terms` returns
    (`"loss"` first), and implements:

    - `call(inputs, training=None)` -> dict of outputs (`"x_hat"`, ...);
    - `loss_terms(x, y_pred, training=False)` -> dict of scalar tensors,
      `"loss"` the total to minimise (each term once, with its paper and
      equation in the docstring);
    - `get_config()` -> its constructor's arguments;
    - with several networks trained by their own optimizers,
      `optimizer_roles` (the main one first) and `optimizer_variables()`.

    Attributes:
        optimizer_roles: tuple of role names `compile` takes optimizers for.
        role_optimizers: after `compile`, a read-only mapping role ->
            optimizer.
        loss_trackers: one `keras.metrics.Mean` per loss term.
    """

    optimizer_roles = ("vae",)
    role_optimizers = types.MappingProxyType({})
    loss_trackers = ()

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        # The declared prior (None: N(0, I)) is an instance attribute, never a
        # class default: on PyTorch a layer assigned to `self.prior` lives in
        # the module's `_modules`, where a class attribute would shadow it.
        if not isinstance(getattr(type(self), "prior", None), property):
            self.prior = None

    # --- Loss terms and their trackers --------------------------------------

    def track_loss_terms(self, names):
        """Creates one progress-bar tracker per loss term (`names`, `"loss"` first)."""
        names = tuple(names)
        if not names or names[0] != "loss" or len(set(names)) != len(names):
            raise ValueError(
                "Expected distinct loss-term names starting with 'loss' (the total). "
                f"Received: names={names}"
            )
        self.loss_trackers = [keras.metrics.Mean(name=name) for name in names]

    def loss_terms(self, x, y_pred, training=False):
        """The named loss terms of a batch: a dict of scalars, `"loss"` the total. Abstract."""
        raise NotImplementedError(f"{type(self).__name__} does not implement `loss_terms`.")

    @property
    def metrics(self):
        return list(self.loss_trackers)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """`loss_terms(...)["loss"]` plus the layers' regularisation losses.

        Keras's own `train_step` calls this inside its gradient context on
        every backend (GradientTape on TensorFlow, `value_and_grad` of the
        stateless step on JAX, autograd on PyTorch) and scales the loss for
        mixed float16 itself. Every term updates its tracker.
        """
        terms = self.loss_terms(x, y_pred, training=training)
        names = [tracker.name for tracker in self.loss_trackers]
        if not isinstance(terms, Mapping) or sorted(terms) != sorted(names):
            received = sorted(terms) if isinstance(terms, Mapping) else type(terms).__name__
            raise TypeError(
                f"{type(self).__name__}.loss_terms must return a dict with the tracked "
                f"terms {names} ('loss' the total). Received: {received}"
            )
        for tracker in self.loss_trackers:
            tracker.update_state(terms[tracker.name])
        total = terms["loss"]
        for extra in self.losses:  # layer regularisers (e.g. the stage-1 L2)
            total = total + ops.sum(ops.cast(extra, "float32"))
        # Under tf.distribute the replicas' gradients are summed: each
        # replica's mean loss counts 1 / replicas (identity elsewhere).
        return _scale_for_replicas(total)

    # --- One compile --------------------------------------------------------

    def default_optimizer(self, role):
        """The authors' optimizer for `role` (a hook): Adam(1e-4) by default."""
        return keras.optimizers.Adam(1e-4)

    def optimizer_variables(self):
        """Role -> the variables its optimizer updates (a hook for several roles)."""
        return {self.optimizer_roles[0]: self.trainable_variables}

    def _optimizers_for(self, optimizer):
        roles = self.optimizer_roles
        if isinstance(optimizer, Mapping):
            unknown = sorted(set(optimizer) - set(roles))
            if unknown:
                raise ValueError(
                    f"{type(self).__name__}.compile: unknown optimizer role(s) {unknown}. "
                    f"Expected keys among {roles}. Received: optimizer keys {sorted(optimizer)}"
                )
            return {
                role: keras.optimizers.get(optimizer[role]) if optimizer.get(role) is not None
                else self.default_optimizer(role)
                for role in roles
            }
        if optimizer is None:
            return {role: self.default_optimizer(role) for role in roles}
        main = keras.optimizers.get(optimizer)
        # Each further network gets a copy: one optimizer's state per network.
        return {role: main if i == 0 else copy_optimizer(main) for i, role in enumerate(roles)}

    def compile(self, optimizer=None, **kwargs):
        """Compiles with one optimizer per network; the loss is the model's own.

        Args:
            optimizer: a Keras optimizer, its name or config; or a mapping
                role -> optimizer keyed by `optimizer_roles` (a role left out
                gets its default). A single optimizer given to a model of
                several roles is copied for each. None: the authors'
                settings (`default_optimizer`).
            **kwargs: passed to `keras.Model.compile` (e.g. `jit_compile`,
                `run_eagerly`), but not `loss`.

        Raises:
            ValueError: a role not in `optimizer_roles`, or `loss` given.
        """
        if "loss" in kwargs:
            raise ValueError(
                f"{type(self).__name__} trains with its own loss (`loss_terms`). Expected "
                f"compile(optimizer=..., **keras_kwargs). Received: loss={kwargs['loss']!r}"
            )
        optimizers = self._optimizers_for(optimizer)
        if len(optimizers) == 1:
            (single,) = optimizers.values()
        else:
            variables = self.optimizer_variables()
            single = GroupedOptimizer([(optimizers[role], variables[role]) for role in self.optimizer_roles])
        # A read-only mapping, which Keras's attribute tracking leaves alone.
        self.role_optimizers = types.MappingProxyType(optimizers)
        self._compile_kwargs = types.MappingProxyType(dict(kwargs))
        super().compile(optimizer=single, **kwargs)

    def get_compile_config(self):
        if not self.compiled or not self.role_optimizers:
            return {}
        config = {k: v for k, v in self._compile_kwargs.items() if isinstance(v, (bool, int, float, str))}
        config["optimizer"] = {
            role: keras.optimizers.serialize(opt) for role, opt in self.role_optimizers.items()
        }
        return config

    def compile_from_config(self, config):
        config = dict(config)
        optimizers = {
            role: keras.optimizers.deserialize(opt) for role, opt in config.pop("optimizer", {}).items()
        }
        self.compile(optimizer=optimizers or None, **config)
        self.optimizer.build(self.trainable_variables)

    # --- Config -------------------------------------------------------------

    def get_config(self):
        """Keras's `name` and `trainable`.

        Each model adds the literal dict of its own constructor's arguments
        (`{**super().get_config(), ...}`, keras-hub style).
        """
        return {"name": self.name, "trainable": self.trainable}

    @classmethod
    def from_config(cls, config):
        # Every model takes its whole config as arguments.
        return cls(**config)


class BalancedVAE(GenerativeModel):
    """Base of the package's balanced VAEs: gamma-balanced training, saving, the model contract.

    Subclasses build `encoder` (data -> [mean, log_var]) and `decoder`
    (latent -> reconstruction, or a dict holding it), call `_build_graph`,
    and implement `vae_loss_terms(x, outputs) -> {"loss": ..., "kl": ...}`
    with `keras.ops` (reading gamma with `self.balancer.current_gamma()`).
    `fit` then trains with that loss and updates gamma after each step with
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
        """Initialises the model around `encoder` and `decoder` (data -> sample -> decoder)."""
        # keras.Model would take a misspelt argument for its own and fail later.
        unknown = sorted(set(kwargs) - {"name", "trainable", "dtype"})
        if unknown:
            raise TypeError(f"{type(self).__name__}() got unexpected keyword arguments: {unknown}")
        super().__init__(**kwargs)
        self.encoder = encoder
        self.decoder = decoder
        self.sampling = Sampling(seed=seed, dtype="float32", name="sampling")
        self.sampling.build([(None,) + tuple(encoder.output_shape[0][1:])] * 2)
        self._seed_draws(seed)
        self.balancer = GammaBalancer(rule=self.balancing_rule, initial_mse=initial_mse)
        self.initial_mse = initial_mse
        self.track_loss_terms(("loss", "mse", "kl"))
        self.built = True

    def call(self, inputs, training=None):
        mean, log_var = self.encoder(inputs, training=training)
        decoded = self.decoder(self.sampling([mean, log_var]), training=training)
        rec_key, mean_key, log_var_key = self.output_keys
        outputs = dict(decoded) if isinstance(decoded, dict) else {rec_key: decoded}
        outputs.update({mean_key: mean, log_var_key: log_var})
        return outputs

    def vae_loss_terms(self, x, outputs):
        """`{"loss": ..., "kl": ...}`: the batch-averaged loss and KL at the current gamma. Abstract."""
        raise NotImplementedError(f"{type(self).__name__} does not implement `vae_loss_terms`.")

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
        return super().metrics + [self.balancer]

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

    def loss_terms(self, x, y_pred, training=False):
        """`{"loss", "mse", "kl"}` of a batch; in training, then updates gamma.

        As the authors, the step's loss uses the gamma from before the
        step, and gamma is then updated from the batch MSE (no gradient).
        """
        target = self._training_target(x, y_pred)
        terms = dict(self.vae_loss_terms(target, y_pred))
        terms["mse"] = self._batch_mse(target, y_pred[self.output_keys[0]])
        if training:
            self.balancer.update(terms["mse"])
        return terms

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
