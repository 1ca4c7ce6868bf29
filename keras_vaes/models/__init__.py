"""One module per paper."""

from keras_vaes.models.svae import SplitVAE, build_svae
from keras_vaes.models.two_stage import TwoStageVAE, build_two_stage_vae
from keras_vaes.models.gamix import GamixVAE, build_gamix_vae
from keras_vaes.models.flow_prior import FlowPriorVAE, build_flow_prior_vae
from keras_vaes.models.prior_aae import PriorAAE, build_prior_aae
