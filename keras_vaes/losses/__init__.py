"""Every loss term of the papers, written once with `keras.ops`.

One module per paper family, each function citing its paper and equation:

- `gaussian`: Gaussian KL, squared error and the balanced losses of the
  Split-VAE and variance-loss (two-stage) papers.
- `gamix`: GAMIX-VAE's batch-mixture KL, regulariser and PatchGAN terms.
- `learned_priors`: the flow prior's density, the FP-VAE objective and the
  AAE / Prior-AAE adversarial terms.
- `adversarial`: the binary cross-entropy on logits both adversarial
  families use.
- `perceptual`: the feature-space reconstruction term (VGG19 layers) of
  the learned-priors paper's CelebA runs.
"""

from keras_vaes.losses.gaussian import balanced_gaussian_vae_loss
from keras_vaes.losses.gaussian import balanced_split_vae_loss
from keras_vaes.losses.gaussian import gaussian_kl
from keras_vaes.losses.gaussian import gaussian_nll
from keras_vaes.losses.gaussian import squared_error
from keras_vaes.losses.perceptual import perceptual_loss
from keras_vaes.losses.adversarial import binary_cross_entropy_logits
from keras_vaes.losses.gamix import batch_mixture_kl, discriminator_loss, l1_reconstruction, variance_regularizer
from keras_vaes.losses.gamix import generator_adversarial_loss  # deprecated: patch_generator_loss
from keras_vaes.losses.gamix import patch_generator_loss
from keras_vaes.losses.learned_priors import code_generator_loss
from keras_vaes.losses.learned_priors import flow_log_prob, fp_vae_loss, gaussian_log_density, kl_annealing
