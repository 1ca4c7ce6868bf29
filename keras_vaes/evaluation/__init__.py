"""The tables and figures each paper reports, one module per paper.

- `split_vae`: Split-VAE Table 1 layout (FID of x_hat, x1, x2, mix).
- `two_stage`: variance-loss paper Tables 1-2 (REC, GEN-1, GEN-2).

The Split-VAE names stay importable from `keras_vaes.evaluation` itself.
"""

from keras_vaes.evaluation import split_vae, two_stage
from keras_vaes.evaluation.split_vae import OUTPUT_COLUMNS
from keras_vaes.evaluation.split_vae import PAPER_CELEBA
from keras_vaes.evaluation.split_vae import PAPER_MNIST
from keras_vaes.evaluation.split_vae import evaluate_split_vae
from keras_vaes.evaluation.split_vae import mix_halves
from keras_vaes.evaluation.split_vae import save_result_figures
from keras_vaes.evaluation.split_vae import write_results
