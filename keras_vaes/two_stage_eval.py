"""Former home of the two-stage tables: now `keras_vaes.evaluation.two_stage`."""

from keras_vaes.evaluation.two_stage import COLUMNS
from keras_vaes.evaluation.two_stage import PAPER_TABLES
from keras_vaes.evaluation.two_stage import evaluate_two_stage
from keras_vaes.evaluation.two_stage import write_results
from keras_vaes.evaluation.two_stage import ROWS
from keras_vaes.evaluation.two_stage import evaluation_images
