"""Every loss term of the papers, written once with `keras.ops`.

One module per paper family, each function citing its paper and equation:

- `gaussian`: Gaussian KL, squared error and the balanced losses of the
  Split-VAE and variance-loss (two-stage) papers.
"""

from keras_vaes.losses.gaussian import balanced_gaussian_vae_loss
from keras_vaes.losses.gaussian import balanced_split_vae_loss
from keras_vaes.losses.gaussian import gaussian_kl
from keras_vaes.losses.gaussian import gaussian_nll
from keras_vaes.losses.gaussian import squared_error
from keras_vaes.losses.perceptual import perceptual_loss
from keras_vaes.losses.gamix import batch_mixture_kl, discriminator_loss, generator_adversarial_loss, l1_reconstruction, variance_regularizer
from keras_vaes.losses.learned_priors import flow_log_prob, fp_vae_loss, gaussian_log_density, kl_annealing
