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


class GammaBalancer:
    """Holds gamma and the running MSE estimate as variables of a model.

    The two scalars are model state: the owning model saves them with its
    weights (see `save_to` / `load_from`) so that resumed training continues
    with the same gamma. They are kept outside the model's `weights`, so
    `model.count_params()` stays the network's parameter count as the papers
    report it.

    Args:
        rule: str. `"split_vae"` or `"two_stage"`.
        decay: float. Defaults to 0.99.
        initial_mse: float. Starting MSE estimate (1 when training from
            scratch, as the authors).
    """

    def __init__(self, rule="split_vae", decay=0.99, initial_mse=1.0):
        if rule not in RULES:
            raise ValueError(
                f"Unknown balancing rule. Expected one of {RULES}. "
                f"Received: rule={rule!r}"
            )
        self.rule = rule
        self.decay = decay
        self.mse_estimate = keras.Variable(
            initial_mse, dtype="float32", trainable=False, name="mse_estimate"
        )
        self.gamma = keras.Variable(
            gamma_from_mse(rule, float(initial_mse)), dtype="float32", trainable=False, name="gamma"
        )

    def update(self, batch_mse):
        """Applies the rule after a training step; returns the new gamma.

        A non-finite `batch_mse` (a diverged step, or a float16 overflow on
        a step the LossScaleOptimizer skips) leaves the state unchanged, so
        the saved gamma is never poisoned.
        """
        mse_estimate, gamma = balancing_update(
            self.rule, self.mse_estimate, self.gamma, batch_mse, self.decay
        )
        finite = ops.isfinite(batch_mse)
        mse_estimate = ops.where(finite, mse_estimate, self.mse_estimate)
        gamma = ops.where(finite, gamma, self.gamma)
        self.mse_estimate.assign(mse_estimate)
        self.gamma.assign(gamma)
        return gamma

    def reset(self, mse):
        """Restarts the estimate from a measured MSE (the authors' resume)."""
        self.mse_estimate.assign(float(mse))
        self.gamma.assign(gamma_from_mse(self.rule, float(mse)))

    def save_to(self, store):
        store["balancer_mse_estimate"] = np.asarray(self.mse_estimate)
        store["balancer_gamma"] = np.asarray(self.gamma)

    def load_from(self, store):
        """Restores the state; returns False if the store has none."""
        if "balancer_gamma" not in store.keys():
            return False
        self.mse_estimate.assign(np.asarray(store["balancer_mse_estimate"]))
        self.gamma.assign(np.asarray(store["balancer_gamma"]))
        return True
