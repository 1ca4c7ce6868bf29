"""Custom layers of the package, one module per family.

- `core`: reparameterised sampling, the Split-VAE composition, fused BN.
- `conv`: Keras's strided convolutions, computed fast on XLA's CPU backend.
- `gamix`, `flow`: the batch-mixture KL, spatial layer norm; RealNVP steps.
"""

from keras_vaes.layers.core import PACKAGE
from keras_vaes.layers.core import FusedBatchNormalization
from keras_vaes.layers.core import Sampling
from keras_vaes.layers.core import SplitComposition
from keras_vaes.layers.core import split_composition
from keras_vaes.layers.conv import Conv2D, Conv2DTranspose
from keras_vaes.layers.gamix import BatchMixtureKL
from keras_vaes.layers.flow import ActNorm, AffineCoupling
from keras_vaes.layers.gamix import SpatialLayerNormalization
