"""One evaluation protocol: `evaluate` -> `ResultTable` -> `write_results`, the same for every paper."""

import csv

import keras
import numpy as np
import pytest

import keras_vaes as kv
from keras_vaes import metrics
from keras_vaes.evaluation import protocol, tables

SHAPE = (16, 16, 1)


def _judge():
    images = keras.Input(SHAPE)
    features = keras.layers.Dense(6, activation="tanh")(keras.layers.Flatten()(images))
    return metrics.FeatureExtractor(keras.Model(images, features), input_range=(0.0, 1.0),
                                    description="tiny judge")


def _images(n, seed):
    return np.random.default_rng(seed).uniform(size=(n,) + SHAPE).astype("float32")


@pytest.fixture(scope="module")
def generic():
    model = kv.build_svae(SHAPE, 4, base_dim=4, emb_dim=8, num_scale=2, seed=0)
    reference, judge = _images(30, 1), _judge()
    rows = [protocol.generation_row("prior", 30, seed=2, batch_size=15),
            protocol.reconstruction_row("rec", reference, batch_size=15)]
    table = protocol.evaluate(model, reference, rows, judge, batch_size=15, keep_images=4,
                              image_measures=lambda row, column, images: {"mean": float(np.mean(images))},
                              title="tiny")
    return model, reference, judge, table


def test_cells_are_fd_precision_recall_of_the_judge(generic):
    model, reference, judge, table = generic
    assert table.rows == ["prior", "rec"] and table.columns == ["samples", "reconstructions"]
    assert list(table.measures) == [tables.FID] and table.measures[tables.FID] == "tiny judge"
    generated = np.clip(model.generate(30, seed=2, batch_size=15)["x_hat"], 0, 1)
    real, fake = (metrics.extract_features(x, judge, verbose=0) for x in (reference, generated))
    cell = table.cell("prior", "samples")
    assert set(cell) == {"fd", "precision", "recall"}
    assert cell["fd"] == pytest.approx(metrics.fid_score(reference, generated, judge), rel=1e-6)
    assert (cell["precision"], cell["recall"]) == pytest.approx(tuple(metrics.precision_recall(real, fake, k=3)))
    # A row's columns not produced are empty cells, not errors.
    assert table.cell("prior", "reconstructions") == {"fd": None, "precision": None, "recall": None}
    assert table.values("fd") == {"prior": {"samples": cell["fd"]},
                                  "rec": {"reconstructions": table.cell("rec", "reconstructions")["fd"]}}
    assert table.extras["prior"]["samples mean"] == pytest.approx(float(np.mean(generated)), rel=1e-6)
    assert table.images[("prior", "samples")].shape == (4,) + SHAPE  # keep_images, evenly spaced
    np.testing.assert_allclose(table.images[("prior", "samples")], generated[[0, 10, 19, 29]], atol=1e-6)
    with pytest.raises(KeyError, match="row='nope'"):
        table.cell("nope", "samples")


def test_write_results_writes_the_numbers(generic, tmp_path):
    *_, table = generic
    table.paper = {"prior": {"samples": 12.5}}
    table.diagnostics = {"inactive variables": 3}
    paths = protocol.write_results(table, str(tmp_path))
    assert [p.rsplit("/", 1)[-1] for p in paths[:2]] == ["results.md", "results.csv"]
    assert all(p.endswith(".png") for p in paths[2:]) and len(paths) == 4  # one grid per row
    text = (tmp_path / "results.md").read_text()
    fd = table.cell("prior", "samples")["fd"]
    prior_line = next(line for line in text.splitlines() if line.startswith("| prior |"))
    assert f"{fd:.2f} [12.5]" in prior_line
    assert f"{table.cell('prior', 'samples')['recall']:.3f}" in prior_line
    assert "FID: tiny judge." in text and "| inactive variables | 3 |" in text
    rows = list(csv.reader(open(tmp_path / "results.csv")))
    assert rows[0] == ["row", "column", "quantity", "value"]
    by_key = {(r[0], r[1], r[2]): r[3] for r in rows[1:]}
    assert float(by_key[("prior", "samples", "FID")]) == pytest.approx(fd, rel=1e-9)
    assert float(by_key[("prior", "samples", "FID recall")]) == table.cell("prior", "samples")["recall"]
    assert by_key[("prior", "reconstructions", "FID")] == ""
    assert float(by_key[("prior", "samples", "paper FID")]) == 12.5
    assert by_key[("", "", "inactive variables")] == "3"
    with pytest.raises(TypeError, match="Expected a `ResultTable`"):
        protocol.write_results({"rows": []}, str(tmp_path))


def test_no_judge_says_why_once(tmp_path):
    model = kv.build_svae(SHAPE, 4, base_dim=4, emb_dim=8, num_scale=2, seed=0)
    table = protocol.evaluate(model, _images(10, 0), [protocol.generation_row("prior", 10)],
                              fid_unavailable="no weights: put the file in ~/.keras/models")
    assert table.fid_unavailable == "no weights: put the file in ~/.keras/models"
    assert table.measures == {} and table.cell("prior", "samples")["fd"] is None
    protocol.write_results(table, str(tmp_path), figures=False)
    text = (tmp_path / "results.md").read_text()
    assert text.count("no weights: put the file") == 1 and "—" in text


def test_bad_rows_say_what_was_received():
    with pytest.raises(TypeError, match="Row"):
        protocol.evaluate(None, _images(5, 0), ["prior"])
    row = protocol.generation_row("prior", 5)
    with pytest.raises(ValueError, match="distinct row names"):
        protocol.evaluate(None, _images(5, 0), [row, row])


def test_format_value_is_the_one_formatter():
    assert tables.format_value(20.437, paper=20.4) == "20.44 [20.4]"
    assert tables.format_value(float("nan")) == "—" and tables.format_value(None, empty="-") == "-"
    assert tables.format_value(np.int64(7)) == "7" and tables.format_value(True) == "yes"
    assert tables.format_value(0.000123456, digits=None) == "0.0001235"
    assert tables.format_value("a note") == "a note"


def _three_papers(judge, **options):
    """Split-VAE, two-stage and GAMIX evaluations of tiny models on one reference."""
    from keras_vaes import evaluation

    reference = _images(24, 5)
    split = evaluation.evaluate_split_vae(
        kv.build_svae(SHAPE, 4, base_dim=4, emb_dim=8, num_scale=2, seed=0), reference, judge,
        gmm_components=(2,), num_samples=24, batch_size=12, verbose=0, **options)
    with pytest.warns(UserWarning, match="no better than the mean image"):  # untrained: flagged, still measured
        two_stage = evaluation.evaluate_two_stage(
            kv.build_two_stage_vae(SHAPE, 4, base_dim=4, num_scale=2, fc_dim=8, second_dim=8, seed=0),
            reference, judge, batch_size=12, **options)
    gamix = evaluation.evaluate_gamix(
        {"baseline": kv.build_gamix_vae(SHAPE, 8, filters=4, kl="standard", adversarial=False, seed=0)},
        2.0 * reference - 1.0, judge, batch_size=12, **options)
    return {"split_vae": split, "two_stage": two_stage, "gamix": gamix}


def test_one_result_shape_for_split_vae_two_stage_and_gamix(tmp_path):
    tables_by_paper = _three_papers(_judge())
    for paper, table in tables_by_paper.items():
        assert isinstance(table, protocol.ResultTable), paper
        assert table.measures == {tables.FID: "tiny judge"} and table.fid_unavailable is None
        scored = [table.cell(r, c) for (r, c) in table.cells]
        assert scored and set(table.cells) == set(table.images)
        for cell in scored:
            assert set(cell) == {"fd", "precision", "recall"}
            assert np.isfinite(cell["fd"]) and 0.0 <= cell["precision"] <= 1.0 and 0.0 <= cell["recall"] <= 1.0
        assert set(table.extras) == set(table.rows)
        md, csv_path, *_ = protocol.write_results(table, str(tmp_path / paper), figures=False)
        rows = list(csv.reader(open(csv_path)))
        assert rows[0] == ["row", "column", "quantity", "value"]
        first = table.rows[0], next(c for c in table.columns if (table.rows[0], c) in table.cells)
        assert float(next(r[3] for r in rows if tuple(r[:3]) == first + (tables.FID,))) == table.cell(*first)["fd"]
        assert f"| {table.rows[0]} |" in open(md).read()
    gamix = tables_by_paper["gamix"]
    assert gamix.columns == ["reconstructions", "samples"]
    assert {"samples sharpness", "reconstructions sharpness", "inactive dims (var(mu) < 0.05)",
            "L1 reconstruction"} <= set(gamix.extras["baseline"])
    assert gamix.arrays["baseline: mean of mu_j"].shape == (8,)
    assert tables_by_paper["two_stage"].warnings  # the untrained first stage: said at the top


def test_the_reason_without_fid_has_one_name_in_every_paper():
    for paper, table in _three_papers(None, fid_unavailable="no weights here").items():
        assert table.fid_unavailable == "no weights here", paper
        assert table.values("fd") == {} and table.measures == {}
