"""Network building blocks, one module per family, each block written once.

- `resnet`: the authors' ResNet of the Split-VAE and variance-loss papers.
- `resnet_v2`: GAMIX-VAE's pre-activation ResNet and its PatchGAN.
- `infogan`: the InfoGAN networks of the learned-priors paper.
"""

from keras_vaes.blocks.resnet import BN_EPSILON
from keras_vaes.blocks.resnet import BN_MOMENTUM
from keras_vaes.blocks.resnet import FusedBatchNormalization
from keras_vaes.blocks.resnet import ResNetSettings
from keras_vaes.blocks.resnet import check_input_shape
from keras_vaes.blocks.resnet import conv_decoder
from keras_vaes.blocks.resnet import conv_encoder
from keras_vaes.blocks.resnet import decoder_channels
from keras_vaes.blocks.resnet import dense_residual_block
from keras_vaes.blocks.resnet import dense_scale_block
from keras_vaes.blocks.resnet import residual_block
from keras_vaes.blocks.resnet import scale_block
from keras_vaes.blocks.resnet_v2 import down_block, identity_block, patchgan_discriminator, resnet_v2_decoder, resnet_v2_encoder, triple_conv, up_block
from keras_vaes.blocks.infogan import CELEBA_128, LATENT_DIMS, infogan_decoder, infogan_encoder
