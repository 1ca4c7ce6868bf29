"""Flow-prior VAE (FP-VAE) of the learned-priors paper, and its baseline.

"Empirical observations pertaining to learned priors for deep latent
variable models", section 3: a VAE whose prior p_theta(z) is a RealNVP flow
learned jointly, the KL weighted by beta down to beta = 0 (eq. 5-8), the KL
annealed linearly over the first iterations (section 4.1). `prior="normal"`
is the comparison: the standard beta-VAE with the fixed N(0, I) prior on the
same InfoGAN network. With `num_classes` both become class-conditional
(section 6): q(z | x, y), p(x | z, y) and, for the flow, p_theta(z | y).

Training runs in Keras's own `train_step`: the maths is in `compute_loss`
(one loss, one flow evaluation, see `losses.learned_priors.fp_vae_loss`),
so the model trains on every Keras backend.
"""


import keras
import numpy as np
from keras import ops

from keras_vaes.blocks.infogan import INFOGAN_FILTERS, DENSE_UNITS
from keras_vaes.blocks.infogan import infogan_decoder, infogan_encoder
from keras_vaes.layers.core import PACKAGE, Sampling, full_precision_policy
from keras_vaes.losses.gaussian import gaussian_kl
from keras_vaes.losses.learned_priors import fp_vae_loss, kl_annealing
from keras_vaes.losses.learned_priors import merged_prior_input
from keras_vaes.models.priors import RealNVPPrior
from keras_vaes.models.image_model import ImageModelAPI, check_network_arguments
from keras_vaes.utils import check_positive_float, check_positive_int, describe

# At beta = 0 nothing bounds sigma (eq. 8): the reconstruction drives
# log sigma^2 to -inf, so it is clamped.
LOG_VAR_RANGE = (-20.0, 10.0)


@keras.saving.register_keras_serializable(package=PACKAGE)
class GaussianPosteriorHead(keras.layers.Layer):
    """Splits (N, 2d) into the posterior mean and a clamped log-variance.

    log sigma^2 is clipped to `log_var_range` (at beta = 0 the
    reconstruction alone would send it to -inf). Computed in
    `full_precision_policy()`: the posterior's parameters feed log q(z|x).
    """

    def __init__(self, latent_dim, log_var_range=LOG_VAR_RANGE, dtype=None, **kwargs):
        super().__init__(dtype=full_precision_policy(dtype), **kwargs)
        self.latent_dim = int(latent_dim)
        self.log_var_range = tuple(float(v) for v in log_var_range)

    def call(self, inputs):
        inputs = ops.cast(inputs, self.compute_dtype)
        mean, log_var = inputs[:, : self.latent_dim], inputs[:, self.latent_dim :]
        return mean, ops.clip(log_var, *self.log_var_range)

    def compute_output_shape(self, input_shape):
        shape = (input_shape[0], self.latent_dim)
        return shape, shape

    def get_config(self):
        return {**super().get_config(), "latent_dim": self.latent_dim, "log_var_range": list(self.log_var_range)}


@keras.saving.register_keras_serializable(package=PACKAGE)
class FlowPriorVAE(ImageModelAPI):
    """VAE with a learned RealNVP prior and beta-weighted KL (eq. 5-8).

    Calling the model on images (or `(images, labels)`) returns a dict with
    `"x_hat"`, `"z_mean"`, `"z_log_var"` and the posterior sample `"z"`.
    `fit` minimises, with c = gamma * beta * a_t (a_t the annealing factor,
    `anneal_step` counts training steps):

    - `prior="flow"`: mean[0.5 ||x - x_hat||^2 + c log q(z|x) - log
      p_theta(z')], z' = c z + (1 - c) sg(z): eq. 7 for the encoder and
      decoder, eq. 6 (weight 1, never annealed) for the prior, one flow
      evaluation (`fp_vae_loss`); at beta = 0, eq. 8.
    - `prior="normal"`: mean[0.5 ||x - x_hat||^2 + c KL(q || N(0, I))], the
      standard beta-VAE on the same network.

    The progress bar shows loss, reconstruction, kl (Monte Carlo log q -
    log p for the flow, analytic for the normal prior), prior_nll and the
    current kl_weight c.

    Args:
        input_shape: tuple (H, W, C), H and W multiples of 4 (or of
            2^len(filters)).
        latent_dim: int >= 2. 8 for MNIST / Fashion-MNIST, 64 for
            CIFAR-10, 128 for CelebA (section 4.1, 5).
        beta: float >= 0. KL weight. Defaults to 1.0.
        prior: "flow" or "normal". Defaults to "flow".
        gamma: float > 0. Fixed Gaussian decoder variance: the KL weight at
            the end of annealing is gamma * beta ("anneal the KL from 0 to
            gamma", section 4.1). Defaults to 1.0.
        anneal_steps: int >= 0. Length of the linear KL annealing in
            training steps (the paper: 50,000); 0 disables it.
        num_classes: int or None. Class-conditional model (section 6).
        num_couplings: int. Couplings of the flow. Defaults to 8.
        hidden_units: int or None. Width of the couplings' MLPs; None gives
            256, or 512 for latent_dim >= 64.
        filters, dense_units: the InfoGAN network (`blocks.infogan`).
        log_var_range: (low, high). Clamp of log sigma^2. Defaults to
            (-20, 10).
        seed: int or None. Seeds the sampling layer, the flow's
            permutations and `generate` when it gets no seed.
        permutations: the flow's permutations (stored in the config).
        reconstruction: `"l2"` (0.5 * ||x - x_hat||^2, MNIST / CIFAR-10) or
            `"perceptual"` (the VGG19 perceptual loss of section 5, CelebA).
            Defaults to `"l2"`.
        perceptual_model: feature model for `"perceptual"`, images in
            [0, 1] -> feature maps; None builds
            `keras_vaes.metrics.perceptual.vgg19_feature_model` (offline
            without its ImageNet weights: `VGG19WeightsUnavailable`). It is
            frozen and kept out of the model's weights; a `.keras` reload
            rebuilds the VGG19 one.

    Example:
    >>> import numpy as np
    >>> model = FlowPriorVAE((8, 8, 1), 2, beta=0.0, num_couplings=2,
    ...                      hidden_units=8, filters=(4, 8), dense_units=16)
    >>> model.generate(3, seed=0)["x_hat"].shape
    (3, 8, 8, 1)
    """

    def __init__(
        self,
        input_shape,
        latent_dim,
        beta=1.0,
        prior="flow",
        gamma=1.0,
        anneal_steps=50_000,
        num_classes=None,
        num_couplings=8,
        hidden_units=None,
        filters=INFOGAN_FILTERS,
        dense_units=DENSE_UNITS,
        log_var_range=LOG_VAR_RANGE,
        seed=None,
        permutations=None,
        reconstruction="l2",
        perceptual_model=None,
        **kwargs,
    ):
        input_shape, latent_dim, beta, filters, dense_units = check_network_arguments(
            input_shape, latent_dim, beta, filters, dense_units
        )
        if prior not in ("flow", "normal"):
            raise ValueError(f"`prior` must be 'flow' or 'normal'. Received: prior={prior!r}")
        gamma = check_positive_float(gamma, "gamma")
        anneal_steps = check_positive_int(anneal_steps, "anneal_steps", minimum=0)
        if num_classes is not None:
            num_classes = check_positive_int(num_classes, "num_classes")
        low, high = log_var_range = tuple(float(v) for v in log_var_range)
        if not low < high:
            raise ValueError(f"`log_var_range` must be (low, high) with low < high. Received: {log_var_range}")
        if hidden_units is None:
            hidden_units = 512 if latent_dim >= 64 else 256
        super().__init__(input_shape, latent_dim, beta, filters, dense_units, seed, reconstruction,
                         perceptual_model, **kwargs)

        # === Layers ===
        images = keras.Input(shape=input_shape, name="images")
        trunk = infogan_encoder(
            input_shape, 2 * latent_dim, filters, dense_units, num_classes, name="infogan_encoder"
        )
        enc_inputs = images
        if num_classes:
            enc_inputs = [images, keras.Input(shape=(num_classes,), name="labels")]
        z_mean, z_log_var = GaussianPosteriorHead(latent_dim, (low, high), name="posterior")(trunk(enc_inputs))
        self.encoder = keras.Model(enc_inputs, [z_mean, z_log_var], name="encoder")
        self.decoder = infogan_decoder(latent_dim, input_shape, filters, dense_units, num_classes, name="decoder")
        self.prior = None
        if prior == "flow":
            self.prior = RealNVPPrior(
                latent_dim, num_couplings=num_couplings, hidden_units=hidden_units,
                num_classes=num_classes, seed=seed, permutations=permutations, name="prior",
            )
        self.sampling = Sampling(seed=seed, dtype="float32", name="sampling")
        self.anneal_step = self.add_weight(
            shape=(), initializer="zeros", dtype="float32", trainable=False, name="anneal_step"
        )
        self.track_loss_terms(("loss", "reconstruction", "kl", "prior_nll", "kl_weight"))
        self.built = True

        # === Config ===
        self.gamma = gamma
        self.anneal_steps = anneal_steps
        self.num_classes = num_classes
        self.num_couplings = num_couplings
        self.hidden_units = hidden_units
        self.log_var_range = log_var_range

    def get_config(self):
        return {
            **super().get_config(),
            "prior": "normal" if self.prior is None else "flow",
            "gamma": self.gamma,
            "anneal_steps": self.anneal_steps,
            "num_classes": self.num_classes,
            "num_couplings": self.num_couplings,
            "hidden_units": self.hidden_units,
            "log_var_range": self.log_var_range,
            "permutations": None if self.prior is None else [list(p) for p in self.prior.permutations],
        }

    # --- Forward pass and loss --------------------------------------------

    def call(self, inputs, training=None):
        images, labels = self._split_inputs(inputs)
        z_mean, z_log_var = self.encoder(self._net_inputs(images, labels), training=training)
        z = self.sampling([z_mean, z_log_var])
        x_hat = self.decoder(self._net_inputs(z, labels), training=training)
        return {"x_hat": x_hat, "z_mean": z_mean, "z_log_var": z_log_var, "z": z}

    def kl_weight(self):
        """c = gamma * beta * a_t at the current step (section 4.1)."""
        return self.gamma * self.beta * kl_annealing(self.anneal_step, self.anneal_steps)

    def loss_terms(self, x, y_pred, training=False):
        """The FP-VAE loss (eq. 6-8) or the beta-VAE's, and its terms (see the class docstring)."""
        images, labels = self._split_inputs(x)
        c = self.kl_weight()
        z = y_pred["z"]
        if self.prior is not None:
            log_prior = self.prior.log_prob(merged_prior_input(z, c), labels, training=training)
            loss, rec, kl, prior_nll = fp_vae_loss(
                images, y_pred["x_hat"], z, y_pred["z_mean"], y_pred["z_log_var"], log_prior, c,
                rec=self.reconstruction_terms(images, y_pred["x_hat"]),
            )
        else:
            rec = self.reconstruction_terms(images, y_pred["x_hat"])
            kl = gaussian_kl(y_pred["z_mean"], y_pred["z_log_var"])
            loss = ops.mean(rec + c * kl)
            rec, kl = ops.mean(rec), ops.mean(kl)
            prior_nll = ops.zeros_like(loss)
        if training:
            self.anneal_step.assign_add(1.0)
        return {"loss": loss, "reconstruction": rec, "kl": kl, "prior_nll": prior_nll, "kl_weight": c}

    def _checked_fit_input(self, x, y, batch_size):
        # A conditional model trains on `(images, labels)` (or `y=labels`);
        # an unconditional one refuses labels rather than ignore them.
        if self.num_classes and y is not None and not isinstance(x, (tuple, list, dict)):
            x, y = (x, y), None
        labels = y
        if isinstance(x, tuple) and len(x) > 1:
            labels = x[1]
        elif isinstance(x, dict):
            labels = x.get("labels")
        if not self.num_classes and labels is not None:
            raise ValueError(
                f"{type(self).__name__} is unconditional (num_classes=None): `fit` would ignore "
                f"the labels. Received: labels = {describe(labels)}. Build the model with "
                "num_classes=... to condition on them, or pass the images alone."
            )
        return super()._checked_fit_input(x, y, batch_size)

    # --- Public API -------------------------------------------------------

    def _encode_arrays(self, images, one_hot, batch_size):
        mean, log_var = self.encoder.predict(self._net_inputs(images, one_hot), batch_size=batch_size, verbose=0)
        return mean, log_var

    def _decode_arrays(self, z, one_hot, batch_size):
        return self.decoder.predict(self._net_inputs(z, one_hot), batch_size=batch_size, verbose=0)

    def _prior_latents(self, n, seed, labels):
        """z_T = f^{-1}(z_0), z_0 ~ N(0, I) (the fixed prior: z ~ N(0, I))."""
        if self.num_classes:
            labels = np.argmax(self._one_hot(labels, n), axis=1).astype("int32")
        else:
            self._one_hot(labels, n)
        if self.prior is not None:
            return self.prior.sample(n, seed=seed if seed is not None else int(self._generator.integers(2**31)), labels=labels)
        rng = np.random.default_rng(seed) if seed is not None else self._generator
        return rng.standard_normal((n, self.latent_dim)).astype("float32")

    def encode_z0(self, images, labels=None, batch_size=100):
        """z_0 = f(E(x)) of the posterior means (the normal prior: E(x))."""
        mean = self.encode(images, labels=labels, batch_size=batch_size).mean
        if self.prior is None:
            return mean
        one_hot = self._one_hot(labels, len(mean))
        return ops.convert_to_numpy(self.prior.forward(mean, one_hot))


def build_flow_prior_vae(input_shape, latent_dim, **kwargs):
    """Builds a flow-prior VAE (`prior="flow"`) or its beta-VAE baseline.

    Paper configurations (section 4.1, 5): MNIST / Fashion-MNIST
    `((32, 32, 1), 8)`, CIFAR-10 `((32, 32, 3), 64)`, CelebA
    `((128, 128, 3), 128, **blocks.infogan.CELEBA_128 filters)`; beta
    between 0 and 1. See `FlowPriorVAE` for the arguments.

    Example:
    >>> model = build_flow_prior_vae((32, 32, 1), 8, beta=0.0)
    >>> model.count_params()  # doctest: +SKIP
    """
    kwargs.setdefault("name", "fp_vae" if kwargs.get("prior", "flow") == "flow" else "vae")
    return FlowPriorVAE(input_shape, latent_dim, **kwargs)


def mean_pairwise_distance(samples):
    """Mean Euclidean distance over all pairs i < j of samples (N, ...).

    The diversity measure of section 6 with pixels in place of LPIPS
    features (LPIPS's network is not available offline).

    Example:
    >>> mean_pairwise_distance(np.array([[0.0, 0.0], [3.0, 4.0]]))
    5.0
    """
    flat = np.asarray(samples, dtype="float64").reshape(len(samples), -1)
    if len(flat) < 2:
        raise ValueError(f"Need at least 2 samples for pairwise distances. Received: {len(flat)}")
    squared = np.sum(flat**2, axis=1)
    d2 = squared[:, None] + squared[None, :] - 2.0 * flat @ flat.T
    upper = np.triu_indices(len(flat), k=1)
    return float(np.mean(np.sqrt(np.maximum(d2[upper], 0.0))))


def conditional_diversity(model, samples_per_class=50, seed=0, classes=None):
    """Diversity of a conditional generator (learned-priors paper, section 6).

    For each class y, `samples_per_class` images generated under y; their
    mean pairwise distance (`mean_pairwise_distance`), averaged over
    classes. The paper measures LPIPS between pairs generated under the
    same condition; pixels stand in for it here.

    Args:
        model: a conditional model with `generate(n, seed=..., labels=y)`
            and `num_classes`.
        samples_per_class: int >= 2.
        seed: int. Class y uses seed + y.
        classes: iterable of class indices, or None for all.

    Returns:
        `(mean, per_class)`: a float and a dict class -> float.
    """
    if not getattr(model, "num_classes", None):
        raise ValueError("conditional_diversity needs a conditional model (num_classes set).")
    if samples_per_class < 2:
        raise ValueError(f"`samples_per_class` must be >= 2. Received: {samples_per_class}")
    classes = range(model.num_classes) if classes is None else classes
    per_class = {
        int(y): mean_pairwise_distance(model.generate(samples_per_class, seed=seed + int(y), labels=int(y))["x_hat"])
        for y in classes
    }
    return float(np.mean(list(per_class.values()))), per_class
