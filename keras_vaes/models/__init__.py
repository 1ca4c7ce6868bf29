"""One module per paper."""

from keras_vaes.models.svae import SplitVAE, build_svae
