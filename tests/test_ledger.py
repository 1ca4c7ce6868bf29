"""The resumable JSON-lines ledger: keyed records, finished keys skipped, torn last lines."""

import json
import os

import numpy as np
import pytest

from keras_vaes.ledger import Ledger


def test_resume_skips_finished_keys(tmp_path):
    path = str(tmp_path / "sub" / "runs.jsonl")
    ledger = Ledger(path, key=("seed", "lr"))
    assert ledger.read() == {} and ledger.pending([(0, 0.001)]) == [(0, 0.001)]
    ran = []
    for seed, lr in ledger.pending([(s, r) for s in (0, 1) for r in (1e-3, 1e-4)])[:3]:  # killed after 3
        ran.append((seed, lr))
        ledger.append({"seed": seed, "lr": lr, "loss": np.float32(0.5), "trace": np.arange(2)})
    resumed = Ledger(path, key=("seed", "lr"))
    assert resumed.pending([(s, r) for s in (0, 1) for r in (1e-3, 1e-4)]) == [(1, 1e-4)]
    records = resumed.read()
    assert list(records) == ran and records[(0, 1e-3)]["trace"] == [0, 1]
    assert records[(0, 1e-3)]["loss"] == 0.5 and resumed.done((1, 1e-3)) and not resumed.done((1, 1e-4))
    # Each append is one line, flushed: the file holds exactly the three records.
    assert [json.loads(line)["seed"] for line in open(path)] == [0, 0, 1]
    # A rerun of a key supersedes it.
    resumed.append({"seed": 0, "lr": 1e-3, "loss": 0.25})
    assert resumed.read()[(0, 1e-3)]["loss"] == 0.25


def test_torn_last_line_is_ignored_then_cut_off(tmp_path):
    path = tmp_path / "runs.jsonl"
    ledger = Ledger(str(path), key="key")
    ledger.append({"key": "a", "value": 1})
    with open(path, "a") as f:
        f.write('{"key": "b", "val')  # killed inside the write
    with pytest.warns(UserWarning, match="last line is torn"):
        assert list(ledger.read()) == ["a"]
        assert ledger.pending(["a", "b"]) == ["b"]
    ledger.append({"key": "b", "value": 2})
    assert path.read_text() == '{"key": "a", "value": 1}\n{"key": "b", "value": 2}\n'
    assert {k: r["value"] for k, r in ledger.read().items()} == {"a": 1, "b": 2}


def test_complete_last_record_without_newline_counts(tmp_path):
    path = tmp_path / "runs.jsonl"
    path.write_text('{"key": "a"}\n{"key": "b"}')
    ledger = Ledger(str(path))
    assert list(ledger.read()) == ["a", "b"]
    ledger.append({"key": "c"})
    assert path.read_text().splitlines() == ['{"key": "a"}', '{"key": "b"}', '{"key": "c"}']


def test_corruption_before_the_last_line_raises_with_the_line(tmp_path):
    path = tmp_path / "runs.jsonl"
    path.write_text('{"key": "a"}\nnot json\n{"key": "c"}\n')
    with pytest.raises(ValueError, match=r"line 2 is not a JSON record"):
        Ledger(str(path)).read()


def test_bad_keys_and_values_say_what_was_received(tmp_path):
    with pytest.raises(TypeError, match="key=3"):
        Ledger(str(tmp_path / "x.jsonl"), key=3)
    ledger = Ledger(str(tmp_path / "x.jsonl"), key="key")
    with pytest.raises(ValueError, match="lacks its key field 'key'"):
        ledger.append({"name": "a"})
    with pytest.raises(TypeError, match="JSON-serialisable"):
        ledger.append({"key": "a", "value": object()})
    assert not os.path.exists(tmp_path / "x.jsonl") or ledger.read() == {}
