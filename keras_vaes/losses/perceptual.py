"""Perceptual (feature reconstruction) loss, learned-priors paper section 5.

On CelebA the learned-priors paper replaces the L2 reconstruction term by
the VGG19 perceptual loss (after Hou et al. 2017) of Johnson, Alahi,
Fei-Fei 2016 (section 3.3, "feature reconstruction loss"): for each chosen
layer j with activations phi_j of shape (H_j, W_j, C_j),

    l_j(x, x_hat) = ||phi_j(x_hat) - phi_j(x)||_2^2 / (C_j H_j W_j),

summed over the layers relu1_1, relu2_1, relu3_1, relu4_1 (optionally
weighted). The feature model is pluggable
(`keras_vaes.metrics.perceptual.vgg19_feature_model` by default).
"""

import keras


def perceptual_loss(x, x_hat, feature_model, layer_weights=None):
    """Per-sample perceptual loss (Johnson et al. 2016, section 3.3).

    Args:
        x: tensor `(N, H, W, C)` in [0, 1]. Target images.
        x_hat: tensor of the same shape. Reconstructions.
        feature_model: callable (e.g. a `keras.Model`) mapping images in
            [0, 1] to one feature tensor or a list of them (e.g.
            `vgg19_feature_model()`); gradients flow through it to `x_hat`.
        layer_weights: sequence of floats, one per feature map, or None
            for 1 each. Defaults to None.

    Returns:
        Tensor `(N,)`: sum over layers of `w_j * mean((phi_j(x_hat) -
        phi_j(x))^2)`, the mean taken over each layer's H_j W_j C_j values.
    """
    if tuple(x.shape[1:]) != tuple(x_hat.shape[1:]) or len(x.shape) != 4:
        raise ValueError(
            "`x` and `x_hat` must be image batches (N, H, W, C) of the same shape. "
            f"Received: x.shape={tuple(x.shape)}, x_hat.shape={tuple(x_hat.shape)}"
        )
    both = feature_model(keras.ops.concatenate([x, x_hat], axis=0))
    if not isinstance(both, (list, tuple)):
        both = [both]
    if layer_weights is None:
        layer_weights = [1.0] * len(both)
    if len(layer_weights) != len(both):
        raise ValueError(
            f"`layer_weights` needs one weight per feature map ({len(both)}). "
            f"Received: layer_weights={list(layer_weights)}"
        )
    batch = keras.ops.shape(x)[0]
    total = 0.0
    for weight, features in zip(layer_weights, both):
        features = keras.ops.cast(features, "float32")
        target, reconstructed = features[:batch], features[batch:]
        squared = keras.ops.square(reconstructed - target)
        per_sample = keras.ops.mean(keras.ops.reshape(squared, (batch, -1)), axis=1)
        total = total + weight * per_sample
    return total
