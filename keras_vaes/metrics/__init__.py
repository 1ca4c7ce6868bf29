"""Metrics: FID (Split-VAE eq. (5)) and latent / reconstruction diagnostics."""

from keras_vaes.metrics.diagnostics import InactiveVariables
from keras_vaes.metrics.diagnostics import VarianceLaw
from keras_vaes.metrics.diagnostics import inactive_variables
from keras_vaes.metrics.diagnostics import mse
from keras_vaes.metrics.diagnostics import variance_law
from keras_vaes.metrics.diagnostics import variance_loss
from keras_vaes.metrics.fid import FeatureStatistics
from keras_vaes.metrics.fid import InceptionWeightsUnavailable
from keras_vaes.metrics.fid import StatisticsMismatchError
from keras_vaes.metrics.fid import cached_statistics
from keras_vaes.metrics.fid import compute_statistics
from keras_vaes.metrics.fid import extract_features
from keras_vaes.metrics.fid import feature_model_from_spec
from keras_vaes.metrics.fid import fid_score
from keras_vaes.metrics.fid import frechet_distance
from keras_vaes.metrics.fid import inception_feature_model
from keras_vaes.metrics.fid import preprocess_images
from keras_vaes.metrics.fid import statistics_key
from keras_vaes.metrics.fid import CLASSIFIER_NOTE
from keras_vaes.metrics.fid import FeatureExtractor
from keras_vaes.metrics.fid import FrozenGraphExtractor
from keras_vaes.metrics.fid import as_extractor
from keras_vaes.metrics.fid import classifier_extractor
from keras_vaes.metrics.fid import extractor_identity
from keras_vaes.metrics.fid import images_hash
from keras_vaes.metrics.fid import inception_extractor
from keras_vaes.metrics.fid import tfgan_inception_extractor
from keras_vaes.metrics.fid import weights_hash
from keras_vaes.metrics.classifier import classifier_feature_model
from keras_vaes.metrics.separability import linear_separability
from keras_vaes.metrics.separability import one_vs_rest_attributes
from keras_vaes.metrics.neighbours import nearest_neighbours
from keras_vaes.metrics.neighbours import train_test_neighbours
from keras_vaes.metrics.perceptual import VGG19WeightsUnavailable
from keras_vaes.metrics.perceptual import vgg19_feature_model
from keras_vaes.metrics.precision_recall import PrecisionRecall, precision_recall
