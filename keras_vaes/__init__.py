"""keras_vaes: Keras 3 reproductions of four papers on variational autoencoders.

- Split-VAE (Asperti, Bugo, Filippini 2022): `build_svae`, `SplitVAE`.
- Two-stage VAE with balancing and variance renormalisation (Asperti 2020):
  `build_two_stage_vae`, `TwoStageVAE`.
- GAMIX-VAE (Rivera): `build_gamix_vae`, `GamixVAE`, `layers.BatchMixtureKL`.
- Learned priors (flow-prior VAE, AAE, Prior-AAE): `build_flow_prior_vae`,
  `build_prior_aae`, `RealNVPPrior`, `FlowSampler`.
- Shared: `blocks`, `layers`, `losses` (every term once, cited), `optimizers`
  (`GroupedOptimizer`), `samplers` (N(0, I), GMM, flow, renormalisation,
  slerp), `metrics` (FID, classifier features, diagnostics, separability),
  `evaluation` (one module per paper), `callbacks`, `datasets`, `plotting`,
  `load_pretrained`.

Every model trains with Keras's own `fit` on TensorFlow, JAX and PyTorch.
On JAX on a CPU, importing the package appends
`--xla_cpu_experimental_ynn_fusion_type=-individual_convolution` to
`XLA_FLAGS` when that is safe (`keras_vaes.jax_cpu`; opt out with
`KERAS_VAES_NO_XLA_FLAGS=1`).
"""

# First, before anything can start JAX: XLA reads XLA_FLAGS once.
from keras_vaes import jax_cpu

jax_cpu.STATUS = jax_cpu.apply_jax_cpu_flags()

from keras_vaes import blocks, datasets, layers, losses, metrics, optimizers, plotting, samplers
from keras_vaes import callbacks, configs, evaluation, run_record
from keras_vaes.balancing import GammaBalancer, balancing_update
from keras_vaes.layers import Sampling, SplitComposition, split_composition
from keras_vaes.models.base import BalancedVAE, GenerativeModel, TrainingDivergedError
from keras_vaes.models.contract import Posterior
from keras_vaes.models.flow_prior import FlowPriorVAE, build_flow_prior_vae
from keras_vaes.models.flow_prior import conditional_diversity, mean_pairwise_distance
from keras_vaes.models.gamix import GamixVAE, build_gamix_vae
from keras_vaes.models.prior_aae import PriorAAE, build_prior_aae
from keras_vaes.models.svae import SplitVAE, build_svae
from keras_vaes.models.two_stage import (
    FirstStage,
    GaussianVAE,
    SecondStage,
    TwoStageVAE,
    build_two_stage_vae,
)
from keras_vaes.pretrained import list_presets, load_pretrained
from keras_vaes.models.priors import RealNVPPrior
from keras_vaes.samplers.flow import FlowSampler

__version__ = "0.2.0"
