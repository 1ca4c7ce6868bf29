"""The per-backend benchmarks' worker settings: XLA_FLAGS rows and the rewrite-off JAX worker.

benchmarks/train_throughput.py --backend ... --jax-xla-flags=FLAGS adds a JAX
row run with XLA_FLAGS=FLAGS; benchmarks/backend_ops.py --jax-keras-strided
runs each JAX setting once more with keras_vaes.layers.conv's strided
rewrite off. The slow tests run both end to end on the tiny networks.
"""

import importlib.util
import json
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HAS_JAX = importlib.util.find_spec("jax") is not None
# An XLA flag every jaxlib since 0.4 knows, and harmless here.
KNOWN_FLAG = "--xla_force_host_platform_device_count=1"


def _load(name):
    if os.path.join(REPO, "benchmarks") not in sys.path:  # as `python benchmarks/x.py`: profiling/ beside
        sys.path.insert(0, os.path.join(REPO, "benchmarks"))
    path = os.path.join(REPO, "benchmarks", f"{name}.py")
    spec = importlib.util.spec_from_file_location(f"bench_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_backend_ops_settings_add_a_rewrite_off_worker_per_jax_setting():
    script = _load("backend_ops")
    args = script.parse_args(["--backends", "tensorflow,jax", f"--jax-flags={KNOWN_FLAG}",
                              "--jax-keras-strided"])
    settings = script._settings(args)
    assert [name for name, *_ in settings] == [
        "tensorflow", "jax", f"jax {KNOWN_FLAG}",
        "jax, Keras strided convs", f"jax {KNOWN_FLAG}, Keras strided convs"]
    by_name = {name: (backend, env, argv) for name, backend, env, argv in settings}
    off = {"KERAS_VAES_NO_XLA_FLAGS": "1"}  # each JAX row runs exactly its flags, not the package's
    assert by_name["tensorflow"] == ("tensorflow", {}, [])
    assert by_name["jax"] == ("jax", off, [])
    assert by_name[f"jax {KNOWN_FLAG}"] == ("jax", {"XLA_FLAGS": KNOWN_FLAG, **off}, [])
    assert by_name[f"jax {KNOWN_FLAG}, Keras strided convs"] == (
        "jax", {"XLA_FLAGS": KNOWN_FLAG, **off}, ["--no-rewrite"])
    # Without the option, no rewrite-off worker.
    plain = script._settings(script.parse_args(["--backends", "jax"]))
    assert [argv for *_, argv in plain] == [[]]


def test_train_throughput_jax_flags_need_the_jax_backend():
    script = _load("train_throughput")
    args = script.parse_args(["--backend", "tensorflow", f"--jax-xla-flags={KNOWN_FLAG}"])
    assert args.jax_xla_flags == [KNOWN_FLAG]
    with pytest.raises(SystemExit, match="must include jax. Received: --backend tensorflow"):
        script.run_backends(args)


def _run(argv, timeout):
    env = {**os.environ, "PYTHONPATH": REPO}
    done = subprocess.run([sys.executable, *argv], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.mark.slow
@pytest.mark.skipif(not HAS_JAX, reason="needs jax")
def test_train_throughput_prints_a_row_per_jax_flags_setting():
    out = _run(["benchmarks/train_throughput.py", "--backend", "jax", "--quick", "--no-memory",
                f"--jax-xla-flags={KNOWN_FLAG}"], timeout=600)
    rows = [line.split() for line in out.splitlines() if line.startswith("jax")]
    assert [row[:2] for row in rows] == [["jax", "fit"], ["jax", KNOWN_FLAG]]
    assert rows[1][2] == "fit" and float(rows[1][3]) > 0  # images/s of the flagged worker


@pytest.mark.slow
@pytest.mark.skipif(not HAS_JAX, reason="needs jax")
def test_backend_ops_times_the_rewrite_off_worker(tmp_path):
    path = tmp_path / "ops.json"
    _run(["benchmarks/backend_ops.py", "--backends", "jax", "--quick", "--rounds", "1",
          "--repeats", "1", "--steps", "2", "--jax-keras-strided", "--json", str(path)],
         timeout=600)
    report = json.loads(path.read_text())
    assert set(report["summary"]) == {"jax", "jax, Keras strided convs"}
    for name, row in report["summary"].items():
        assert row["conv_ms"] > 0 and row["step_ms"] > 0, name
    # Both workers timed the same convolutions.
    layers = {name: [(layer["layer"], layer["count"]) for layer in rounds[0]["layers"]]
              for name, rounds in report["results"].items()}
    assert layers["jax"] == layers["jax, Keras strided convs"]
