"""What the learned-priors models share: argument checks, inputs, reconstruction.

The flow-prior VAE and its fixed-prior baseline (`models.flow_prior`) and
the AAE / Prior-AAE (`models.prior_aae`) take the same images, labels and
codes, check them the same way and use the same reconstruction term (L2,
or the VGG19 perceptual loss of the paper's CelebA runs).
"""

import keras
import numpy as np
from keras import ops

from keras_vaes.blocks.infogan import check_infogan_shape
from keras_vaes.losses.learned_priors import reconstruction_error
from keras_vaes.losses.perceptual import perceptual_loss
from keras_vaes.metrics.perceptual import vgg19_feature_model
from keras_vaes.models.base import GenerativeModel
from keras_vaes.utils import check_input_shape, check_non_negative_float, check_positive_int


def check_latent_dim(latent_dim):
    # An integer >= 2: the flow prior splits the code in two halves.
    return check_positive_int(latent_dim, "latent_dim", minimum=2)


def check_beta(beta):
    return check_non_negative_float(beta, "beta")


def check_network_arguments(input_shape, latent_dim, beta, filters, dense_units):
    """Checks the arguments both models share; returns them checked, in this order."""
    filters = tuple(int(f) for f in filters)
    input_shape = check_infogan_shape(check_input_shape(input_shape), filters)
    dense_units = check_positive_int(dense_units, "dense_units")
    return input_shape, check_latent_dim(latent_dim), check_beta(beta), filters, dense_units


class _FeatureModelHolder:
    # A plain object keeps a frozen feature network out of Keras's tracking:
    # its weights are neither trained, counted nor saved with the model.
    def __init__(self, model):
        self.model = model


class ImageModelAPI(GenerativeModel):
    """Shared arguments, input checks, labels and reconstruction term of the learned-priors models.

    A subclass checks the network's arguments with `check_network_arguments`
    and its own, calls `super().__init__` with the shared ones, then builds
    its networks; `get_config` holds the shared arguments, a subclass adds
    its own.

    Args:
        input_shape, latent_dim, beta, filters, dense_units: as returned by
            `check_network_arguments`.
        seed: int or None. Seeds the model's NumPy generator (`generate`
            when it gets no seed).
        reconstruction: `"l2"` or `"perceptual"` (`reconstruction_terms`).
            Defaults to `"l2"`.
        perceptual_model: feature model for `"perceptual"`, images in
            [0, 1] -> feature maps; None builds
            `keras_vaes.metrics.perceptual.vgg19_feature_model`. Never in
            the config.
        **kwargs: `keras.Model`'s (`name`, `dtype`, `trainable`).
    """

    # A feature network is an object, rebuilt on load: never in the config.
    unsaved_arguments = ("perceptual_model",)
    # Unconditional; a conditional subclass (`FlowPriorVAE`) sets its own.
    num_classes = None

    def __init__(self, input_shape, latent_dim, beta, filters, dense_units, seed=None,
                 reconstruction="l2", perceptual_model=None, **kwargs):
        if reconstruction not in ("l2", "perceptual"):
            raise ValueError(
                "`reconstruction` must be 'l2' or 'perceptual'. "
                f"Received: reconstruction={reconstruction!r}"
            )
        if perceptual_model is not None and reconstruction != "perceptual":
            raise ValueError(
                "A `perceptual_model` is used only with reconstruction='perceptual'. "
                f"Received: reconstruction={reconstruction!r}"
            )
        super().__init__(**kwargs)
        if reconstruction == "perceptual" and perceptual_model is None:
            perceptual_model = vgg19_feature_model(input_shape=input_shape)

        # === Config ===
        self.image_shape = input_shape
        self.latent_dim = latent_dim
        self.beta = beta
        self.filters = filters
        self.dense_units = dense_units
        self.seed = seed
        self.reconstruction = reconstruction
        self._seed_draws(seed)
        self._perceptual = _FeatureModelHolder(perceptual_model)

    def get_config(self):
        # The feature network is never saved (`unsaved_arguments`).
        return {
            **super().get_config(),
            "input_shape": self.image_shape,
            "latent_dim": self.latent_dim,
            "beta": self.beta,
            "filters": self.filters,
            "dense_units": self.dense_units,
            "seed": self.seed,
            "reconstruction": self.reconstruction,
        }

    def default_optimizer(self, role):
        """Lucic et al. (2018)'s defaults for these networks: Adam(1e-4, beta_1=0.5), every role."""
        return keras.optimizers.Adam(1e-4, beta_1=0.5)

    def reconstruction_terms(self, x, x_hat):
        """Per-sample reconstruction term, (N,).

        `reconstruction="l2"`: 0.5 * ||x - x_hat||^2, the Gaussian -log
        p(x|z) of eq. 5-8 (MNIST, CIFAR-10). `"perceptual"`: the VGG19
        perceptual loss the paper uses on CelebA (section 5;
        `keras_vaes.losses.perceptual_loss` on relu1_1..relu4_1, or the
        `perceptual_model` given to the constructor).
        """
        if self.reconstruction == "perceptual":
            return perceptual_loss(x, x_hat, self._perceptual.model)
        return reconstruction_error(x, x_hat)

    def _labels_for(self, labels, n):
        return self._one_hot(labels, n)

    def _one_hot(self, labels, n, name="labels"):
        """Class indices -> one-hot NumPy, None for unconditional models."""
        if self.num_classes is None:
            if labels is not None:
                raise ValueError(
                    f"{type(self).__name__} is unconditional (num_classes=None): it takes "
                    f"no labels. Received: labels of shape {np.shape(labels)}"
                )
            return None
        if labels is None:
            raise ValueError(
                f"{type(self).__name__} is conditional (num_classes={self.num_classes}): "
                "pass `labels` (class indices)."
            )
        labels = np.asarray(labels)
        if labels.ndim == 0:
            labels = np.full((n,), labels)
        if labels.ndim == 2 and labels.shape[1] == self.num_classes:
            labels = np.argmax(labels, axis=1)
        if (
            labels.shape != (n,)
            or not np.issubdtype(labels.dtype, np.integer)
            or labels.min() < 0
            or labels.max() >= self.num_classes
        ):
            raise ValueError(
                f"Expected {name} as {n} class indices in [0, {self.num_classes}). "
                f"Received: {name}.shape={labels.shape}, dtype={labels.dtype}"
                + (f", range [{labels.min()}, {labels.max()}]" if labels.size and np.issubdtype(labels.dtype, np.number) else "")
            )
        return np.eye(self.num_classes, dtype="float32")[labels]

    def _split_inputs(self, inputs):
        """images, or (images, labels) / {"images", "labels"} -> (images, one-hot or None)."""
        if isinstance(inputs, dict):
            images, labels = inputs["images"], inputs.get("labels")
        elif isinstance(inputs, (tuple, list)):
            images, labels = inputs
        else:
            images, labels = inputs, None
        if labels is not None and self.num_classes:
            if len(labels.shape) == 1:
                labels = ops.one_hot(ops.cast(labels, "int32"), self.num_classes)
            labels = ops.cast(labels, "float32")
        elif self.num_classes:
            raise ValueError(
                f"{type(self).__name__} is conditional: train and call it on "
                "(images, labels) or {'images': ..., 'labels': ...}."
            )
        return images, labels

    def _net_inputs(self, first, labels):
        return first if labels is None else [first, labels]
