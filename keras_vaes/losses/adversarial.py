"""Binary cross-entropy on discriminator logits, the one form every adversarial term uses."""

from keras import ops


def binary_cross_entropy_logits(target, logits):
    """Per-sample BCE of logits against a constant target in {0, 1}.

    `-[t log sigmoid(l) + (1 - t) log(1 - sigmoid(l))] = softplus(l) - t * l`,
    the numerically stable form, in float32 and averaged over every axis but
    the batch (the patches of a PatchGAN).

    Args:
        target: float. 1.0 for "real" (the label the discriminator gives
            the data), 0.0 for "fake".
        logits: tensor of shape `(N, ...)`. Discriminator outputs before the
            sigmoid.

    Returns:
        A float32 tensor of shape `(N,)`.

    Example:

    >>> import numpy as np
    >>> round(float(binary_cross_entropy_logits(1.0, np.zeros((2, 1)))[0]), 4)  # log 2
    0.6931
    """
    logits = ops.cast(logits, "float32")
    logits = ops.reshape(logits, (ops.shape(logits)[0], -1))
    return ops.mean(ops.softplus(logits) - float(target) * logits, axis=-1)
