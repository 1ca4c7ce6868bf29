"""Custom layers of the package, one module per family.

- `core`: reparameterised sampling, the Split-VAE composition, fused BN.
"""

from keras_vaes.layers.core import PACKAGE
from keras_vaes.layers.core import FusedBatchNormalization
from keras_vaes.layers.core import Sampling
from keras_vaes.layers.core import SplitComposition
from keras_vaes.layers.core import split_composition
from keras_vaes.layers.gamix import BatchMixtureKL
from keras_vaes.layers.flow import ActNorm, AffineCoupling
from keras_vaes.layers.gamix import SpatialLayerNormalization
