"""Each Keras backend's own profiler around `fit`, its ops grouped alike.

`PROFILERS[backend](model, x, batch, steps)` profiles `fit` of `steps`
batches of a compiled, warmed-up model and returns `{"wall_ms_per_step",
"ms_per_step": {group: ms}, "top_ops": [(name, ms)]}` (JAX adds
"conv_kernels"; a failure of a profiler tool, {"error": ...}):

- `tf_profiler`: TensorFlow's `framework_op_stats`, self time per op;
- `jax_profiler`: `jax.profiler.trace`, self time per XLA thunk, grouped
  through the compiled HLO of the train step (`hlo`);
- `torch_profiler`: `torch.profiler`, self CPU time per aten op.

`benchmarks/train_throughput.py --profile` prints them; each backend's
module imports its framework only when called.
"""

from profiling.jax_profiler import profile_jax
from profiling.tf_profiler import profile_tensorflow
from profiling.torch_profiler import profile_torch

PROFILERS = {"tensorflow": profile_tensorflow, "jax": profile_jax, "torch": profile_torch}
