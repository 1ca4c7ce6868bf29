"""Balancing of reconstruction error and KL divergence through gamma.

Asperti & Trentin, "Balancing reconstruction error and Kullback-Leibler
divergence in variational autoencoders", IEEE Access 2020 (reference [5] of
the Split-VAE paper, the "balancing" of the variance-loss paper): the
variance gamma of the decoder's Gaussian is estimated on-line from the mean
squared error, so the weight of the reconstruction term grows as the
reconstruction improves.

Two rules are used by the authors' code:

- `"split_vae"` (Split-VAE script): after each step
  `mse_estimate <- 0.99 * mse_estimate + 0.01 * batch_mse`, then
  `gamma <- min(gamma, mse_estimate)`; the loss divides by gamma.
- `"two_stage"` (BalancingVAE script):
  `mse_estimate <- min(mse_estimate, 0.99 * mse_estimate + 0.01 * batch_mse)`
  and `gamma = sqrt(mse_estimate)`; the loss divides the error by gamma^2
  and adds log(gamma).
"""

import keras
import numpy as np
from keras import ops

RULES = ("split_vae", "two_stage")


def gamma_from_mse(rule, mse):
    """The gamma a rule starts from (or restarts from) for a measured MSE.

    `"split_vae"`: gamma = mse (the loss divides by gamma); `"two_stage"`:
    gamma = sqrt(mse) (a standard deviation).
    """
    if rule == "split_vae":
        return mse
    if rule == "two_stage":
        return ops.sqrt(mse) if not isinstance(mse, (int, float)) else float(np.sqrt(mse))
    raise ValueError(f"Unknown balancing rule. Expected one of {RULES}. Received: rule={rule!r}")


def balancing_update(rule, mse_estimate, gamma, batch_mse, decay=0.99):
    """One step of the gamma balancing rule, on tensors or NumPy values.

    Args:
        rule: str. `"split_vae"` or `"two_stage"` (see the module docstring).
        mse_estimate: the running MSE estimate before the step.
        gamma: gamma before the step.
        batch_mse: the mean squared error of the batch just trained on.
        decay: float. Weight of the previous estimate. Defaults to 0.99.

    Returns:
        `(new_mse_estimate, new_gamma)`.
    """
    running = decay * mse_estimate + (1.0 - decay) * batch_mse
    if rule == "split_vae":
        return running, ops.minimum(gamma, gamma_from_mse(rule, running))
    new_estimate = ops.minimum(mse_estimate, running)
    return new_estimate, gamma_from_mse(rule, new_estimate)


@keras.saving.register_keras_serializable(package="keras_vaes")
class GammaBalancer(keras.metrics.Metric):
    """Holds gamma and the running MSE estimate as training state of a model.

    The two scalars are model state: the owning model saves them with its
    weights (see `save_to` / `load_from`) so that resumed training continues
    with the same gamma. They are kept outside the model's `weights`, so
    `model.count_params()` stays the network's parameter count as the papers
    report it.

    It is a `keras.metrics.Metric` (listed in the model's `metrics`, result
    = gamma, shown as `gamma` in the logs) because that is the state every
    backend's trainer carries through its training step without it being a
    weight: JAX's jitted step returns the updated metric variables
    (`stateless_compute_loss`), and under `tf.distribute` the variables are
    per-replica copies that `update` keeps identical by feeding them the
    GLOBAL batch MSE. Unlike a metric it is never reset between epochs.

    Args:
        rule: str. `"split_vae"` or `"two_stage"`.
        decay: float. Defaults to 0.99.
        initial_mse: float. Starting MSE estimate (1 when training from
            scratch, as the authors).
        name: str. Defaults to `"gamma"` (the name of the log entry).

    Example:
    >>> balancer = GammaBalancer("split_vae")
    >>> round(float(balancer.update(0.5)), 4)
    0.995
    """

    def __init__(self, rule="split_vae", decay=0.99, initial_mse=1.0, name="gamma", **kwargs):
        if rule not in RULES:
            raise ValueError(
                f"Unknown balancing rule. Expected one of {RULES}. "
                f"Received: rule={rule!r}"
            )
        super().__init__(name=name, dtype="float32", **kwargs)
        self.rule = rule
        self.decay = decay
        self.initial_mse = float(initial_mse)
        # Every replica holds the same value (each applies the same global
        # update), so reading the first replica's is reading all of them.
        self.mse_estimate = self.add_variable(
            (), keras.initializers.Constant(self.initial_mse), dtype="float32",
            aggregation="only_first_replica", name="mse_estimate",
        )
        self.gamma = self.add_variable(
            (), keras.initializers.Constant(gamma_from_mse(rule, self.initial_mse)),
            dtype="float32", aggregation="only_first_replica", name="gamma",
        )

    def update(self, batch_mse):
        """Applies the rule after a training step; returns the new gamma.

        A non-finite `batch_mse` (a diverged step, or a float16 overflow on
        a step the LossScaleOptimizer skips) leaves the state unchanged, so
        the saved gamma is never poisoned.
        """
        batch_mse = ops.cast(batch_mse, "float32")
        old_estimate, old_gamma = self.mse_estimate.value, self.gamma.value
        mse_estimate, gamma = balancing_update(
            self.rule, old_estimate, old_gamma, batch_mse, self.decay
        )
        finite = ops.isfinite(batch_mse)
        mse_estimate = ops.where(finite, mse_estimate, old_estimate)
        gamma = ops.where(finite, gamma, old_gamma)
        self.mse_estimate.assign(mse_estimate)
        self.gamma.assign(gamma)
        return gamma

    def current_gamma(self):
        """Gamma as a tensor for this step's loss, before `update`.

        A copy: on PyTorch `update` assigns the variable in place later in
        the same step, while autograd still holds what the loss read.
        """
        return ops.copy(self.gamma.value)

    def update_state(self, batch_mse):
        self.update(batch_mse)

    def result(self):
        # A copy: on JAX a log that IS the state array would be donated to
        # the next step and deleted under a callback reading it later.
        return ops.copy(self.gamma.value)

    def reset_state(self):
        """Does nothing: `fit` resets metrics every epoch, gamma carries on."""

    def reset(self, mse):
        """Restarts the estimate from a measured MSE (the authors' resume)."""
        self.mse_estimate.assign(float(mse))
        self.gamma.assign(gamma_from_mse(self.rule, float(mse)))

    def save_to(self, store):
        store["balancer_mse_estimate"] = np.asarray(ops.convert_to_numpy(self.mse_estimate))
        store["balancer_gamma"] = np.asarray(ops.convert_to_numpy(self.gamma))

    def load_from(self, store):
        """Restores the state; returns False if the store has none."""
        if "balancer_gamma" not in store.keys():
            return False
        self.mse_estimate.assign(np.asarray(store["balancer_mse_estimate"]))
        self.gamma.assign(np.asarray(store["balancer_gamma"]))
        return True

    def get_config(self):
        return {"name": self.name, "rule": self.rule, "decay": self.decay,
                "initial_mse": self.initial_mse}
