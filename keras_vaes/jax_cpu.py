"""JAX on CPU: XLA's own convolutions rather than YNNPACK's, set when the package is imported.

jaxlib 0.10 hands convolutions to YNNPACK, whose kernels are slower than
XLA's own on the CPUs measured (docs/performance.md); the XLA flag
`--xla_cpu_experimental_ynn_fusion_type=-individual_convolution` turns that
off. XLA reads `XLA_FLAGS` once, when JAX initialises its backend (the
first computation, or `jax.devices()`), and a jaxlib that does not know a
flag aborts the process there ("Unknown flag in XLA_FLAGS"). So on import,
`keras_vaes` appends the flag to `XLA_FLAGS` only when all of these hold
(`apply_jax_cpu_flags`; `STATUS` says what happened):

- `KERAS_VAES_NO_XLA_FLAGS` is unset (or "0"): the opt-out;
- the Keras backend is JAX;
- `XLA_FLAGS` does not set `--xla_cpu_experimental_ynn_fusion_type`
  already (a user's value, or "=" for YNNPACK's default, is kept);
- the platform is CPU only or unknown: no `JAX_PLATFORMS` / `jax_platforms`
  naming another platform, and no GPU / TPU plugin installed;
- JAX has not initialised a backend yet (after that, XLA has read its
  flags and a change would do nothing);
- the installed jaxlib knows the flag and its value: both names are in its
  shared library (`jaxlib_knows_flag`, a read of the file, no JAX call).
"""

import importlib.util
import mmap
import os
import re
import sys

FLAG = "--xla_cpu_experimental_ynn_fusion_type"
VALUE = "-individual_convolution"
OPT_OUT = "KERAS_VAES_NO_XLA_FLAGS"
# The strings of the flag and of its value's enum in a jaxlib that knows them.
_FLAG_BYTES = FLAG[2:].encode() + b"\x00"
_VALUE_BYTES = b"LIBRARY_FUSION_TYPE_INDIVIDUAL_CONVOLUTION"
# The first shared library of jaxlib over this size holds XLA (libjax_common.so
# in jaxlib 0.10, xla_extension.so or _jax.so in older ones).
_MIN_LIBRARY_BYTES = 10 * 2**20

STATUS = "not checked"


def user_set_flag(xla_flags):
    """Whether `xla_flags` (an `XLA_FLAGS` value) already sets the YNNPACK fusion flag."""
    return re.search(rf"(^|\s){re.escape(FLAG)}(=|\s|$)", xla_flags or "") is not None


def jaxlib_knows_flag():
    """Whether the installed jaxlib knows the flag and its value, read from its library file.

    No JAX code runs: a jaxlib that does not know a flag would abort.
    Returns False when jaxlib or its library is not found.
    """
    spec = importlib.util.find_spec("jaxlib")
    if spec is None or not spec.submodule_search_locations:
        return False
    folder = list(spec.submodule_search_locations)[0]
    libraries = []
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        if ".so" in name or name.endswith((".pyd", ".dylib")):
            if os.path.isfile(path) and os.path.getsize(path) > _MIN_LIBRARY_BYTES:
                libraries.append(path)
    for path in libraries:
        try:
            with open(path, "rb") as file, mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as data:
                if data.find(_FLAG_BYTES) >= 0 and data.find(_VALUE_BYTES) >= 0:
                    return True
        except OSError:  # unreadable: unknown, so not applied
            continue
    return False


def _platforms(environ):
    jax = sys.modules.get("jax")
    configured = getattr(getattr(jax, "config", None), "jax_platforms", None) if jax else None
    return configured or environ.get("JAX_PLATFORMS", "")


def _accelerator_plugins():
    """Names of the installed JAX GPU / TPU plugins (found, not imported)."""
    found = []
    try:
        from importlib.metadata import entry_points

        found += [entry.name for entry in entry_points(group="jax_plugins")]
    except Exception:  # no metadata: nothing known
        pass
    spec = importlib.util.find_spec("jax_plugins")
    if spec is not None and spec.submodule_search_locations:
        for folder in spec.submodule_search_locations:
            if os.path.isdir(folder):
                found += [n for n in os.listdir(folder) if not n.startswith(("_", "."))]
    if importlib.util.find_spec("libtpu") is not None:
        found.append("libtpu")
    return sorted(set(found))


def _backend_initialised():
    """True when JAX has initialised a backend, or when it cannot be told."""
    bridge = sys.modules.get("jax._src.xla_bridge")
    if bridge is None:
        return False  # JAX is not imported: nothing initialised
    backends = getattr(bridge, "_backends", None)
    return backends is None or bool(backends)


def apply_jax_cpu_flags(environ=None, backend=None):
    """Appends the flag to `environ["XLA_FLAGS"]` when safe and useful (see the module).

    Args:
        environ: the environment mapping. Defaults to `os.environ`.
        backend: the Keras backend's name. Defaults to `keras.backend.backend()`.

    Returns:
        "applied", or the reason it was not: a short sentence.
    """
    environ = os.environ if environ is None else environ
    if environ.get(OPT_OUT, "") not in ("", "0"):
        return f"not applied: {OPT_OUT}={environ[OPT_OUT]}"
    if backend is None:
        import keras

        backend = keras.backend.backend()
    if backend != "jax":
        return f"not applied: the Keras backend is {backend}"
    flags = environ.get("XLA_FLAGS", "")
    if user_set_flag(flags):
        return "not applied: XLA_FLAGS sets the flag already"
    platforms = [p.strip() for p in _platforms(environ).split(",") if p.strip()]
    if any(p != "cpu" for p in platforms):
        return f"not applied: JAX platforms {','.join(platforms)}"
    plugins = _accelerator_plugins() if not platforms else []
    if plugins:
        return f"not applied: JAX accelerator plugins installed ({', '.join(plugins)})"
    if _backend_initialised():
        return "not applied: JAX had initialised its backend (XLA had read XLA_FLAGS)"
    if not jaxlib_knows_flag():
        return "not applied: the installed jaxlib does not know the flag"
    environ["XLA_FLAGS"] = f"{flags} {FLAG}={VALUE}".strip()
    return "applied"
