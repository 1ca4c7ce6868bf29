"""The tables and figures each paper reports, through one protocol.

- `protocol`: `evaluate(model, reference, rows=..., feature_model=...)`
  -> `ResultTable` (rows x image-set columns, each cell FD / precision /
  recall per measure, named extra columns, one `fid_unavailable`) and
  `write_results(table, directory)` (results.md, results.csv, figures).
- Each paper's evaluation is a configuration of it: `split_vae`
  (Split-VAE Table 1: REC / GEN / GMM-k x x_hat, x1, x2, mix),
  `two_stage` (variance-loss paper Tables 1-2: settings x REC, GEN-1,
  GEN-2), `gamix` (one row per model: reconstructions, samples, sharpness).
- `sampler_matrix`: every latent sampler fitted on one model's training
  codes, judged on test images (FD, precision, recall, fit time).
- `tables`: what they share: the judges (`QualityMeasures`), the one cell
  formatter (`format_value`) and the atomic results.md / results.csv
  writing.
"""

from keras_vaes.evaluation import protocol, split_vae, tables, two_stage
from keras_vaes.evaluation.protocol import ResultTable, Row, evaluate, write_results
from keras_vaes.evaluation.split_vae import OUTPUT_COLUMNS
from keras_vaes.evaluation.split_vae import PAPER_CELEBA
from keras_vaes.evaluation.split_vae import PAPER_CIFAR10
from keras_vaes.evaluation.split_vae import PAPER_MNIST
from keras_vaes.evaluation.split_vae import evaluate_split_vae
from keras_vaes.evaluation.split_vae import mix_halves
from keras_vaes.evaluation.split_vae_categories import category_fid_table
from keras_vaes.evaluation.tables import QualityMeasures
from keras_vaes.evaluation.two_stage import evaluate_two_stage
from keras_vaes.evaluation.two_stage import evaluation_images
from keras_vaes.evaluation.gamix import evaluate_gamix, laplacian_energy
from keras_vaes.evaluation import learned_priors
from keras_vaes.evaluation.sampler_matrix import sampler_matrix, write_sampler_matrix
