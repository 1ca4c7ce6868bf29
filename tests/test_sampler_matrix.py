"""The sampler matrix runs every applicable sampler on a tiny model."""

import csv
import math

import keras
import numpy as np
import pytest

import keras_vaes as kv
from keras_vaes import metrics
from keras_vaes.evaluation import protocol
from keras_vaes.evaluation.sampler_matrix import (
    COLUMNS,
    DEFAULT_SAMPLERS,
    matrix_rows,
    sampler_matrix,
    write_sampler_matrix,
)
from keras_vaes.ledger import Ledger
from keras_vaes.metrics import FeatureExtractor

SHAPE = (16, 16, 1)
TINY = dict(
    flow_options={"num_couplings": 2, "hidden_units": 8, "epochs": 1},
    second_stage_options={"second_dim": 8, "epochs": 1, "batch_size": 40},
)


def _feature_model():
    images = keras.Input(SHAPE)
    features = keras.layers.Dense(6, activation="tanh")(keras.layers.Flatten()(images))
    return FeatureExtractor(keras.Model(images, features), input_range=(0.0, 1.0), description="tiny")


def _images(n, seed):
    return np.random.default_rng(seed).uniform(size=(n,) + SHAPE).astype("float32")


@pytest.fixture(scope="module")
def svae_table():
    model = kv.build_svae(SHAPE, 4, base_dim=4, emb_dim=8, num_scale=2, seed=0)
    return sampler_matrix(model, _images(120, 0), _images(40, 1), _feature_model(),
                          num_samples=30, batch_size=40, **TINY)


@pytest.fixture(scope="module")
def svae_rows(svae_table):
    return matrix_rows(svae_table)


def test_the_matrix_is_a_result_table_of_the_protocol(svae_table):
    assert isinstance(svae_table, protocol.ResultTable) and svae_table.columns == ["samples"]
    assert svae_table.rows == [s for s in DEFAULT_SAMPLERS if s != "normal"]
    cell = svae_table.cell("gmm10", "samples")
    assert set(cell) == {"fd", "precision", "recall"} and svae_table.measures == {"FID": "tiny"}
    # The row's FD is the Fréchet distance of the judge's features of its kept images' set.
    kept = svae_table.images[("prior", "samples")]
    assert kept.shape == (30,) + SHAPE and 0.0 <= kept.min() and kept.max() <= 1.0


def test_every_applicable_sampler_runs(svae_rows):
    names = [r["sampler"] for r in svae_rows]
    # A Split-VAE's own prior is N(0, I): the separate "normal" row would repeat it.
    assert names == [s for s in DEFAULT_SAMPLERS if s != "normal"]
    for row in svae_rows:
        assert set(row) == set(COLUMNS)
        assert math.isfinite(row["fd"]) and row["fd"] >= 0.0, row
        assert 0.0 <= row["precision"] <= 1.0 and 0.0 <= row["recall"] <= 1.0
        assert row["fit_seconds"] >= 0.0 and row["num_samples"] == 30
    by_name = {r["sampler"]: r for r in svae_rows}
    assert by_name["prior"]["fit_seconds"] == 0.0
    assert "var_loss2/mse2" in by_name["second_stage_renormalized"]["note"]


def test_written_table(svae_rows, tmp_path):
    md, csv_path = write_sampler_matrix(svae_rows, str(tmp_path / "m.md"), str(tmp_path / "m.csv"),
                                        title="tiny", notes=["- judge: a random network"])
    text = open(md).read()
    assert "## tiny" in text and "| gmm100 |" in text and "random network" in text
    assert text.count("**") >= 6  # the best FD, precision and recall are bold
    rows = list(csv.DictReader(open(csv_path)))
    assert [r["sampler"] for r in rows] == [r["sampler"] for r in svae_rows]


def test_learned_prior_gets_a_normal_row_and_value_range_is_respected():
    model = kv.build_flow_prior_vae(SHAPE, 2, beta=0.0, num_couplings=2, hidden_units=8,
                                    filters=(4, 8), dense_units=16, seed=0)
    rows = matrix_rows(sampler_matrix(model, _images(60, 2), _images(30, 3), _feature_model(),
                                      samplers=("prior", "normal", "gmm10"), num_samples=20, batch_size=30,
                                      **TINY))
    assert [r["sampler"] for r in rows] == ["prior", "normal", "gmm10"]
    assert all(r["fd"] is not None for r in rows)


@pytest.mark.parametrize("learned", [True, False])
def test_the_declared_prior_decides_the_normal_row(learned):
    """Prior-AAE with a learned code generator declares its prior: its `normal` row is kept, judged."""
    model = kv.build_prior_aae(SHAPE, 4, filters=(4, 8), dense_units=16, discriminator_units=(8,),
                               generator_units=(8,), seed=0, prior="learned" if learned else "normal")
    assert (model.prior is not None) == learned
    table = sampler_matrix(model, _images(40, 4), _images(20, 5), _feature_model(), num_samples=10,
                           batch_size=20, factories={name: (None, "not in this test") for name in
                                                     ("gmm10", "gmm100", "second_stage",
                                                      "second_stage_renormalized", "flow")})
    assert ("normal" in table.rows) == learned
    assert table.cell("prior", "samples")["fd"] is not None


def test_signed_model_images_are_mapped_to_unit_range():
    model = kv.build_gamix_vae((8, 8, 1), 8, filters=4, adversarial=False, kl="standard", seed=0)
    signed = lambda n, s: 2.0 * np.random.default_rng(s).uniform(size=(n, 8, 8, 1)).astype("float32") - 1.0
    images = keras.Input((8, 8, 1))
    judge = FeatureExtractor(keras.Model(images, keras.layers.Flatten()(images)), input_range=(0.0, 1.0))
    rows = matrix_rows(sampler_matrix(model, signed(40, 0), signed(20, 1), judge, samplers=("prior", "gmm10"),
                                      num_samples=20, batch_size=20))
    assert all(math.isfinite(r["fd"]) for r in rows)


def test_unavailable_sampler_is_a_row_with_its_reason():
    model = kv.build_svae(SHAPE, 4, base_dim=4, emb_dim=8, num_scale=2, seed=0)
    rows = matrix_rows(sampler_matrix(model, _images(50, 0), _images(20, 1), _feature_model(),
                                      samplers=("prior", "second_stage", "gmm100"), num_samples=10,
                                      batch_size=25, factories={"second_stage": (None, "not installed here")}))
    by_name = {r["sampler"]: r for r in rows}
    assert by_name["prior"]["fd"] is not None
    assert by_name["second_stage"]["fd"] is None and by_name["second_stage"]["note"] == "not installed here"
    # 100 components on 50 codes cannot be fitted: a row saying so, not a crash.
    assert by_name["gmm100"]["fd"] is None and "n_components" in by_name["gmm100"]["note"]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"test_images": np.zeros((10, 8, 8, 1), "float32")}, r"test_images.shape=\(10, 8, 8, 1\)"),
        ({"samplers": ("gmm7",)}, "Unknown samplers"),
        ({"num_samples": 3}, "num_samples=3"),
    ],
)
def test_bad_input_says_what_was_received(kwargs, message):
    model = kv.build_svae(SHAPE, 4, base_dim=4, emb_dim=8, num_scale=2, seed=0)
    args = {"train_images": _images(20, 0), "test_images": _images(20, 1)}
    args.update({k: kwargs.pop(k) for k in list(kwargs) if k in args})
    with pytest.raises(ValueError, match=message):
        sampler_matrix(model, args["train_images"], args["test_images"], _feature_model(), **kwargs)
