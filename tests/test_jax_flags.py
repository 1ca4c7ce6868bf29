"""JAX on CPU: the YNNPACK convolution flag appended on import when safe (keras_vaes.jax_cpu)."""

import json
import os
import subprocess
import sys
import types

import pytest

from keras_vaes import jax_cpu

FLAG = f"{jax_cpu.FLAG}={jax_cpu.VALUE}"


@pytest.fixture
def safe(monkeypatch):
    """A CPU-only machine whose JAX has not started: what decides is the environment."""
    monkeypatch.setattr(jax_cpu, "_backend_initialised", lambda: False)
    monkeypatch.setattr(jax_cpu, "_accelerator_plugins", lambda: [])
    monkeypatch.setattr(jax_cpu, "jaxlib_knows_flag", lambda: True)
    monkeypatch.setattr(jax_cpu, "_platforms", lambda environ: environ.get("JAX_PLATFORMS", ""))


def test_user_set_flag_reads_the_flag_in_any_form():
    assert jax_cpu.user_set_flag(FLAG)
    assert jax_cpu.user_set_flag(f"--xla_dump_to=/tmp {jax_cpu.FLAG}=")
    assert jax_cpu.user_set_flag(jax_cpu.FLAG)
    assert not jax_cpu.user_set_flag("")
    assert not jax_cpu.user_set_flag(None)
    assert not jax_cpu.user_set_flag(f"{jax_cpu.FLAG}_other=1")


def test_appended_to_the_users_flags_when_safe(safe):
    environ = {"XLA_FLAGS": "--xla_dump_to=/tmp/dump"}
    assert jax_cpu.apply_jax_cpu_flags(environ, backend="jax") == "applied"
    assert environ["XLA_FLAGS"] == f"--xla_dump_to=/tmp/dump {FLAG}"
    environ = {}
    assert jax_cpu.apply_jax_cpu_flags(environ, backend="jax") == "applied"
    assert environ["XLA_FLAGS"] == FLAG
    environ = {"JAX_PLATFORMS": "cpu"}
    assert jax_cpu.apply_jax_cpu_flags(environ, backend="jax") == "applied"


@pytest.mark.parametrize("environ,backend,reason", [
    ({"XLA_FLAGS": f"{jax_cpu.FLAG}="}, "jax", "sets the flag already"),
    ({"XLA_FLAGS": f"{jax_cpu.FLAG}=-individual_dot"}, "jax", "sets the flag already"),
    ({"KERAS_VAES_NO_XLA_FLAGS": "1"}, "jax", "KERAS_VAES_NO_XLA_FLAGS=1"),
    ({}, "tensorflow", "the Keras backend is tensorflow"),
    ({"JAX_PLATFORMS": "cuda"}, "jax", "JAX platforms cuda"),
    ({"JAX_PLATFORMS": "cpu,tpu"}, "jax", "JAX platforms cpu,tpu"),
])
def test_left_alone_when_the_user_decided_or_not_on_jax_cpu(safe, environ, backend, reason):
    before = dict(environ)
    status = jax_cpu.apply_jax_cpu_flags(environ, backend=backend)
    assert status.startswith("not applied") and reason in status
    assert environ == before


def test_left_alone_when_jax_started_a_gpu_plugin_or_an_unknown_jaxlib(safe, monkeypatch):
    environ = {"KERAS_VAES_NO_XLA_FLAGS": "0"}  # "0" is not an opt-out
    monkeypatch.setattr(jax_cpu, "_backend_initialised", lambda: True)
    assert "initialised" in jax_cpu.apply_jax_cpu_flags(environ, backend="jax")
    monkeypatch.setattr(jax_cpu, "_backend_initialised", lambda: False)
    monkeypatch.setattr(jax_cpu, "_accelerator_plugins", lambda: ["xla_cuda12"])
    assert "xla_cuda12" in jax_cpu.apply_jax_cpu_flags(environ, backend="jax")
    monkeypatch.setattr(jax_cpu, "_accelerator_plugins", lambda: [])
    monkeypatch.setattr(jax_cpu, "jaxlib_knows_flag", lambda: False)
    assert "does not know" in jax_cpu.apply_jax_cpu_flags(environ, backend="jax")
    assert "XLA_FLAGS" not in environ


def test_the_flag_is_looked_up_in_jaxlibs_library(tmp_path, monkeypatch):
    fake = tmp_path / "jaxlib"
    fake.mkdir()
    spec = types.SimpleNamespace(submodule_search_locations=[str(fake)])
    monkeypatch.setattr(jax_cpu.importlib.util, "find_spec", lambda name: spec)
    monkeypatch.setattr(jax_cpu, "_MIN_LIBRARY_BYTES", 10)
    library = fake / "libjax_common.so"
    library.write_bytes(b"\x00" * 64 + jax_cpu._FLAG_BYTES + b"\x00" * 64)
    assert not jax_cpu.jaxlib_knows_flag()  # the value's name is missing
    library.write_bytes(b"\x00" * 64 + jax_cpu._FLAG_BYTES + jax_cpu._VALUE_BYTES)
    assert jax_cpu.jaxlib_knows_flag()
    library.write_bytes(b"\x00" * 64 + b"xla_cpu_other_flag\x00" + jax_cpu._VALUE_BYTES)
    assert not jax_cpu.jaxlib_knows_flag()


def test_the_installed_jaxlib_is_read_without_running_jax():
    pytest.importorskip("jaxlib")
    import jaxlib

    # jaxlib 0.10 (setup.cfg's jax extra) knows the flag.
    if tuple(int(v) for v in jaxlib.__version__.split(".")[:2]) >= (0, 10):
        assert jax_cpu.jaxlib_knows_flag()


_PROBE = (
    "import os, json, sys\n"
    "if sys.argv[1] == 'jax-first':\n"
    "    import jax; jax.devices()\n"
    "import keras_vaes\n"
    "import jax.numpy as jnp\n"
    "total = float(jnp.ones(3).sum())  # XLA parsed XLA_FLAGS: no abort\n"
    "print(json.dumps({'status': keras_vaes.jax_cpu.STATUS, 'flags': os.environ.get('XLA_FLAGS'),"
    " 'total': total}))\n"
)


def _probe(case, **env):
    environ = {k: v for k, v in os.environ.items()
               if k not in ("XLA_FLAGS", "JAX_PLATFORMS", jax_cpu.OPT_OUT)}
    environ.update(KERAS_BACKEND="jax", **env)
    done = subprocess.run([sys.executable, "-c", _PROBE, case], env=environ, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow  # four processes importing the package on JAX (~10 s each)
def test_importing_the_package_on_jax_sets_the_flag_and_respects_the_user():
    pytest.importorskip("jax")
    if jax_cpu._accelerator_plugins():
        pytest.skip("a JAX GPU / TPU plugin is installed: the flag is not set there")
    applied = _probe("plain")
    assert applied["status"] == "applied" and applied["flags"] == FLAG and applied["total"] == 3.0
    user = _probe("plain", XLA_FLAGS=f"{jax_cpu.FLAG}=")  # every YNNPACK fusion off: kept
    assert user["flags"] == f"{jax_cpu.FLAG}=" and "already" in user["status"]
    opted_out = _probe("plain", KERAS_VAES_NO_XLA_FLAGS="1")
    assert opted_out["flags"] is None and "KERAS_VAES_NO_XLA_FLAGS" in opted_out["status"]
    late = _probe("jax-first")
    assert late["flags"] is None and "initialised" in late["status"]
