"""keras_vaes: Keras 3 reproductions of four papers on variational autoencoders.

- Split-VAE (Asperti, Bugo, Filippini 2022): `build_svae`, `SplitVAE`.
- Two-stage VAE with balancing and variance renormalisation (Asperti 2020):
  `build_two_stage_vae`, `TwoStageVAE`.
- Evaluation as the papers measure it: `metrics` (FID, variance law,
  inactive variables, variance loss), `samplers` (N(0, I), ex-post GMM,
  renormalisation), `evaluation` (the Split-VAE table).
"""

from keras_vaes import blocks, datasets, layers, losses, metrics, plotting, samplers
from keras_vaes import evaluation, two_stage_eval
from keras_vaes.balancing import GammaBalancer, balancing_update
from keras_vaes.layers import Sampling, SplitComposition, split_composition
from keras_vaes.models.base import BalancedVAE
from keras_vaes.pretrained import load_pretrained
from keras_vaes import callbacks, experiments
from keras_vaes.models.svae import SplitVAE, build_svae
from keras_vaes.models.two_stage import (
    FirstStage,
    GaussianVAE,
    SecondStage,
    TwoStageVAE,
    build_two_stage_vae,
)

__version__ = "0.1.0"
from keras_vaes.models.gamix import GamixVAE, build_gamix_vae
from keras_vaes import priors
from keras_vaes.priors import FlowSampler, RealNVPPrior
from keras_vaes.models.flow_prior import FlowPriorVAE, build_flow_prior_vae, conditional_diversity, mean_pairwise_distance
from keras_vaes.models.prior_aae import PriorAAE, build_prior_aae
