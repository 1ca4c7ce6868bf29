"""Run records of presets: the files written, the history read back, the prior judge's scores and stops."""

import json
import math
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
from scipy import linalg

import keras_vaes as kv
from keras_vaes.callbacks import TimeBudget
from keras_vaes.run_record import (
    EpochTimer,
    LossPlateau,
    PriorJudge,
    environment_info,
    read_history,
    write_run_record,
)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "benchmarks", "train_preset.py")
DATA_DIR = os.path.join(os.path.dirname(ROOT), "shared", "data")


def _model():
    keras.utils.set_random_seed(0)
    model = kv.build_flow_prior_vae((16, 16, 1), 4, beta=0.0, prior="normal", filters=(4, 8), dense_units=16,
                                    seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5))
    return model


def test_environment_names_versions_and_machine():
    info = environment_info()
    assert info["keras"] == keras.__version__
    assert info["backend"] == keras.backend.backend()
    assert info[info["backend"]]  # the backend's own version
    assert info["cores"] == os.cpu_count() and info["cpu"] and info["device"]


def test_record_files_round_trip(tmp_path):
    history = {"loss": [3.0, 2.0, 1.5], "prior_fd": [math.nan, 40.0, 30.0]}
    paths = write_run_record(tmp_path, command=["python", "train.py", "--name", "a b"], config={"latent_dim": 8},
                             seed=3, wall_seconds=12.5, history=history, extra={"state": "ended"})
    names = sorted(os.path.basename(p) for p in paths)
    assert names == ["command.txt", "curves.png", "history.csv", "record.json"]
    assert (tmp_path / "command.txt").read_text() == "python train.py --name 'a b'\n"
    record = json.loads((tmp_path / "record.json").read_text())
    assert record["config"] == {"latent_dim": 8} and record["seed"] == 3 and record["epochs"] == 3
    assert record["wall_seconds"] == 12.5 and record["state"] == "ended"
    assert record["environment"]["keras"] == keras.__version__
    back = read_history(tmp_path / "history.csv")
    assert back["loss"] == [3.0, 2.0, 1.5]
    assert math.isnan(back["prior_fd"][0]) and back["prior_fd"][1:] == [40.0, 30.0]
    assert os.path.getsize(tmp_path / "curves.png") > 1000


def test_record_refuses_bad_arguments(tmp_path):
    with pytest.raises(TypeError, match="config of type list"):
        write_run_record(tmp_path, command="x", config=[1], seed=0, wall_seconds=1.0)
    with pytest.raises(ValueError, match="wall_seconds=-1.0"):
        write_run_record(tmp_path, command="x", config={}, seed=0, wall_seconds=-1)
    assert not os.listdir(tmp_path)


def test_read_history_reads_csv_logger_na_cells(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text("epoch,loss,prior_fd,val_loss\n0,2.5,NA,NA\n1,2.0,31.5,NA\n")
    history = read_history(path)
    assert sorted(history) == ["epoch", "loss", "prior_fd"]  # the all-NA val_ column dropped
    assert history["loss"] == [2.5, 2.0] and history["epoch"] == [0.0, 1.0]
    assert math.isnan(history["prior_fd"][0]) and history["prior_fd"][1] == 31.5


def test_prior_judge_scores_as_by_hand_and_fills_other_epochs_with_nan(pool_judge, squares):
    model, reference = _model(), squares(120, 1)
    judge = PriorJudge(reference, pool_judge, num_samples=100, every=2, seed=5, batch_size=50)
    history = model.fit(squares(128, 0), batch_size=32, epochs=3, verbose=0, callbacks=[judge, EpochTimer()])
    fds = history.history["prior_fd"]
    assert math.isnan(fds[0]) and np.isfinite(fds[1:]).all()  # epoch 2 (every) and 3 (the last)
    assert sorted(judge.scores) == [2, 3]
    assert all(s > 0 for s in history.history["epoch_seconds"])
    # FD by hand: the same seeded samples, the features, scipy's matrix square root.
    samples = np.clip(model.generate(100, seed=5, batch_size=50)["x_hat"], 0.0, 1.0)
    real = kv.metrics.extract_features(reference, pool_judge, verbose=0).astype(np.float64)
    fake = kv.metrics.extract_features(samples, pool_judge, verbose=0).astype(np.float64)
    s1, s2 = np.cov(real, rowvar=False), np.cov(fake, rowvar=False)
    covmean = linalg.sqrtm(s1 @ s2).real
    by_hand = np.sum((real.mean(0) - fake.mean(0)) ** 2) + np.trace(s1 + s2 - 2 * covmean)
    assert fds[2] == pytest.approx(by_hand, rel=1e-3)
    assert 0.0 <= history.history["prior_recall"][2] <= 1.0


def test_prior_judge_stops_at_its_target_after_min_epochs(pool_judge, squares):
    model = _model()
    judge = PriorJudge(squares(120, 1), pool_judge, num_samples=100, target_fd=1e6, min_epochs=2)
    history = model.fit(squares(64, 0), batch_size=32, epochs=6, verbose=0, callbacks=[judge])
    assert len(history.history["loss"]) == 2
    assert judge.stop_reason.startswith("target reached at epoch 2")


def test_prior_judge_beats_gmm_target_and_patience(pool_judge, squares):
    model = _model()
    judge = PriorJudge(squares(120, 1), pool_judge, num_samples=100, gmm_images=squares(64, 2),
                       gmm_components=4, target_beats_gmm=True, patience=1)
    history = model.fit(squares(64, 0), batch_size=32, epochs=4, verbose=0, callbacks=[judge])
    assert np.isfinite(history.history["gmm_fd"]).all()
    assert judge.stop_reason  # either the prior matched the GMM or its FD stopped falling
    # Patience carries over a resumed run: a history whose best FD is its first.
    resumed = PriorJudge(squares(120, 1), pool_judge, patience=2).resume_from(
        {"prior_fd": [10.0, math.nan, 12.0, 11.0]})
    assert resumed._best_fd == 10.0 and resumed._since_best == 2


def test_prior_judge_errors_say_what_was_received(pool_judge, squares):
    with pytest.raises(ValueError, match="needs `gmm_images`"):
        PriorJudge(squares(10, 1), pool_judge, target_beats_gmm=True)
    with pytest.raises(ValueError, match="Received: 5 gmm_images"):
        PriorJudge(squares(10, 1), pool_judge, gmm_images=squares(5, 1), gmm_components=10)
    with pytest.raises(ValueError, match="target_recall=-0.5"):
        PriorJudge(squares(10, 1), pool_judge, target_recall=-0.5)


def test_prior_judge_judges_the_given_model_and_stops_the_fitted_one(pool_judge, squares):
    # As a two-stage VAE's second stage trains: the fit's model is a part, the judged model the whole.
    judged = _model()
    fitted = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    fitted.compile(optimizer="sgd", loss="mse")
    judge = PriorJudge(squares(120, 1), pool_judge, num_samples=100, target_fd=1e6, seed=5, batch_size=50,
                       model=judged)
    x = np.zeros((8, 3), "float32")
    history = fitted.fit(x, x[:, :1], batch_size=4, epochs=5, verbose=0, callbacks=[judge])
    assert len(history.history["loss"]) == 1 and judge.stop_reason.startswith("target reached at epoch 1")
    assert judge.model is judged
    # The fitted Dense model has no `generate`: the logged FD is the judged model's, drawn again the same way.
    assert history.history["prior_fd"][0] == pytest.approx(judge.evaluate()["prior_fd"], rel=1e-6)


def test_loss_plateau_stops_as_early_stopping_and_resumes():
    losses = [10.0, 9.0, 8.95, 8.92, 8.91, 8.0, 7.99, 7.98, 7.97]

    def run(callback, values):
        model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
        model.compile(optimizer="sgd", loss="mse")
        feed = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: logs.update(loss=values[epoch]))
        history = model.fit(np.zeros((4, 1)), np.zeros((4, 1)), epochs=len(values), verbose=0,
                            callbacks=[feed, callback])
        return len(history.history["loss"])

    # A fall of more than 0.5 below the best resets the count: 9.0 (epoch 2) is the best until 8.0 (epoch 6).
    plateau = LossPlateau("loss", min_delta=0.5, patience=3)
    assert run(plateau, losses) == 5 and plateau.best == 9.0 and plateau.wait == 3
    assert plateau.stop_reason == "loss fell by no more than 0.5 below its best (9) in 3 epochs, at epoch 5"
    # Keras's EarlyStopping, by hand, stops at the same epoch.
    early = keras.callbacks.EarlyStopping("loss", min_delta=0.5, patience=3)
    assert run(early, losses) == 5
    # min_epochs defers the stop; a resumed run carries its count.
    assert run(LossPlateau(min_delta=0.5, patience=3, min_epochs=9), losses) == 9
    resumed = LossPlateau(min_delta=0.5, patience=3).resume_from({"loss": [10.0, 9.0, math.nan, 8.95]})
    assert (resumed.best, resumed.wait) == (9.0, 1)
    assert run(resumed, [8.9, 8.9, 1.0]) == 2
    with pytest.raises(ValueError, match="min_delta=-1"):
        LossPlateau(min_delta=-1, patience=2)
    with pytest.raises(ValueError, match="monitors 'val_loss'"):
        run(LossPlateau("val_loss", patience=2), [1.0])


def test_time_budget_whole_epochs_finishes_the_epoch():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x = np.zeros((40, 3), "float32")
    budget = TimeBudget(1e-9, whole_epochs=True)
    seen = []
    counter = keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: seen.append(batch))
    history = model.fit(x, x[:, :1], batch_size=4, epochs=5, verbose=0, callbacks=[counter, budget])
    assert len(history.history["loss"]) == 1 and len(seen) == 10 and budget.stopped


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists(os.path.join(DATA_DIR, "fashion_mnist.npz")),
                    reason="needs ../shared/data/fashion_mnist.npz")
def test_train_preset_resumes_and_writes_the_record(tmp_path):
    command = [sys.executable, SCRIPT, "--preset", "gamix_fashion_mnist", "--data-dir", DATA_DIR,
               "--output", str(tmp_path), "--tiny", "--train-images", "128", "--judge-images", "100"]
    env = dict(os.environ, PYTHONPATH=ROOT)
    first = subprocess.run(command + ["--max-epochs", "1"], capture_output=True, text=True, env=env, timeout=600, check=False)
    assert first.returncode == 0, first.stderr[-2000:]
    second = subprocess.run(command + ["--max-epochs", "2"], capture_output=True, text=True, env=env, check=False,
                            timeout=600)
    assert second.returncode == 0, second.stderr[-2000:]
    assert "Epoch 2/2" in second.stdout and "Epoch 1/2" not in second.stdout  # resumed, not restarted
    record_dir = tmp_path / "gamix_fashion_mnist_run"
    record = json.loads((record_dir / "record.json").read_text())
    assert record["epochs"] == 2 and record["state"] == "ended at --max-epochs 2"
    assert set(record["final_scores"]) == {"prior_fd", "prior_precision", "prior_recall"}
    assert record["bytes"] == os.path.getsize(record_dir / record["weights"])
    assert record["sha256"] == kv.utils.sha256(record_dir / record["weights"])
    assert len(read_history(record_dir / "history.csv")["loss"]) == 2
    for name in ("command.txt", "curves.png", "samples_prior.png"):
        assert (record_dir / name).exists()
    bad = subprocess.run(command + ["--max-epochs", "0"], capture_output=True, text=True, env=env, timeout=120, check=False)
    assert bad.returncode == 2 and "--max-epochs must be >= 1; received 0" in bad.stderr


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists(os.path.join(DATA_DIR, "fashion_mnist.npz")),
                    reason="needs ../shared/data/fashion_mnist.npz")
def test_train_preset_two_stage_trains_both_stages_and_resumes_the_second(tmp_path):
    command = [sys.executable, SCRIPT, "--preset", "two_stage_fashion_mnist", "--data-dir", DATA_DIR,
               "--output", str(tmp_path), "--tiny", "--train-images", "400", "--judge-images", "100", "--every", "2"]
    env = dict(os.environ, PYTHONPATH=ROOT)
    first = subprocess.run(command + ["--max-epochs", "2"], capture_output=True, text=True, env=env, timeout=600,
                           check=False)
    assert first.returncode == 0, first.stderr[-2000:]
    second = subprocess.run(command + ["--max-epochs", "3"], capture_output=True, text=True, env=env, timeout=600,
                            check=False)
    assert second.returncode == 0, second.stderr[-2000:]
    assert "Epoch 3/3" in second.stdout and "Epoch 1/3" not in second.stdout  # stage 1 loaded, stage 2 resumed
    record_dir = tmp_path / "two_stage_fashion_mnist_run"
    record = json.loads((record_dir / "record.json").read_text())
    assert record["epochs"] == 3 and record["state"] == "ended at --max-epochs 3"
    stage1 = record["first_stage"]
    assert (stage1["source"], stage1["epochs"], stage1["paused"]) == ("trained here, 1 of 1 epochs", 1, False)
    history = read_history(record_dir / "history.csv")
    assert math.isnan(history["prior_fd"][0]) and np.isfinite(history["prior_fd"][1:]).all()  # epoch 2, the last
    assert len(read_history(record_dir / "first_stage" / "history.csv")["loss"]) == 1
    assert record["sha256"] == kv.utils.sha256(record_dir / record["weights"])
