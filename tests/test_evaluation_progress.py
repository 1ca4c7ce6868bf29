"""An evaluation reports through one progress bar, and its numbers do not depend on it.

`evaluate_split_vae` used to show one Keras progress bar per feature
extraction (the reference, then every row x column image set: 17 bars for
the paper's table); it now shows a single bar whose steps are the
(row, column) image sets. The same evaluation with `verbose=0` and
`verbose=1` gives the same numbers.
"""

import keras
import numpy as np

import keras_vaes as kv
from keras_vaes import evaluation
from keras_vaes import metrics


def _evaluate(verbose):
    keras.utils.set_random_seed(0)
    model = kv.build_svae((16, 16, 1), 4, base_dim=8, emb_dim=16, num_scale=2, seed=0)
    images = np.random.default_rng(0).uniform(0, 1, (40, 16, 16, 1)).astype("float32")
    inputs = keras.Input((16, 16, 1))
    features = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3, activation="relu")(inputs))
    extractor = metrics.FeatureExtractor(keras.Model(inputs, features), input_range=(0.0, 1.0),
                                     description="stand-in")
    return evaluation.evaluate_split_vae(
        model, images, feature_model=extractor, gmm_components=(2,), num_samples=30, seed=0,
        batch_size=10, verbose=verbose, classifier=extractor,
    )


def test_one_progress_bar_per_evaluation_and_the_same_numbers(capsys):
    quiet = _evaluate(0)
    assert capsys.readouterr().out == ""
    loud = _evaluate(1)
    out = capsys.readouterr().out
    # 3 rows (REC, GEN, GMM-2) x 4 columns: one bar counting to 12.
    bars = [line for line in out.replace("\r", "\n").splitlines() if "/12" in line]
    assert bars, out
    assert "/30" not in out and "/10" not in out, out  # no per-extraction (image-count) bars
    assert loud.cells == quiet.cells and len(loud.cells) == 12
    assert loud.extras["REC"]["x_hat MSE"] == quiet.extras["REC"]["x_hat MSE"]
