"""keras_vaes: Keras 3 reproductions of four papers on variational autoencoders."""

from keras_vaes import blocks, datasets, layers, losses
from keras_vaes.balancing import GammaBalancer, balancing_update
from keras_vaes.layers import Sampling, SplitComposition, split_composition
from keras_vaes.models.svae import SplitVAE, build_svae

__version__ = "0.1.0"
