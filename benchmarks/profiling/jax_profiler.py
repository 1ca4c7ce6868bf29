"""JAX's profiler (`jax.profiler.trace`): self time of each XLA CPU thunk, grouped through the HLO."""

import glob
import os
import tempfile

from profiling.common import costliest, timed_fit
from profiling.hlo import hlo_group, hlo_instructions, jax_group, jax_train_step_hlo


def profile_jax(model, x, batch, steps):
    """`jax.profiler.trace` of `fit`: self time of each XLA CPU thunk.

    A thunk runs one HLO instruction (a fusion, a convolution, a dot...);
    its event names it (`hlo_op`). The compiled HLO of the train step gives
    each one's opcode, fused members and JAX source path: the pass
    (`transpose(jvp(...))` is the backward pass), the layer and the
    optimizer. Without the HLO, thunks are grouped by name only.
    """
    import jax
    import keras

    with tempfile.TemporaryDirectory() as logdir:
        with jax.profiler.trace(logdir):
            wall = timed_fit(model, x, batch)
        planes = glob.glob(os.path.join(logdir, "**", "*.xplane.pb"), recursive=True)
        if not planes:
            return {"error": "jax.profiler wrote no trace"}
        profile = jax.profiler.ProfileData.from_file(planes[0])
    ops = {}  # hlo_op -> ms of self time (a while thunk's body thunks are nested in it)
    for plane in profile.planes:
        for line in plane.lines:
            stack = []  # (end_ns, hlo_op) of the enclosing thunks
            for event in sorted(line.events, key=lambda e: (e.start_ns, -e.duration_ns)):
                hlo_op = dict(event.stats).get("hlo_op")
                if hlo_op is None:
                    continue
                while stack and stack[-1][0] <= event.start_ns:
                    stack.pop()
                ms = event.duration_ns / 1e6
                if stack:
                    ops[stack[-1][1]] -= ms
                ops[hlo_op] = ops.get(hlo_op, 0.0) + ms
                stack.append((event.start_ns + event.duration_ns, hlo_op))
    if not ops:
        return {"error": "the JAX trace holds no XLA thunk events (hlo_op)"}
    result = {"wall_ms_per_step": 1e3 * wall / steps}
    try:
        instructions = hlo_instructions(jax_train_step_hlo(model, x, batch))
    except Exception as error:  # noqa: BLE001 - Keras internals: fall back to names
        instructions = {}
        result["note"] = (f"no HLO of the train step ({type(error).__name__}: {error}); "
                          "thunks grouped by name")
    layers = list(model._flatten_layers(include_self=False, recursive=True))
    bn_layers = {l.name for l in layers if isinstance(l, keras.layers.BatchNormalization)}
    act_layers = {l.name for l in layers if isinstance(l, keras.layers.Activation)}
    groups, kernels, top = {}, {}, {}
    for name, ms in ops.items():
        if name in instructions:
            group, kernel, shape = jax_group(instructions[name], batch, model.optimizer.name,
                                              bn_layers, act_layers)
            path = instructions[name][2].replace("jit(train_step)/", "") or f"-> {shape}"
        else:
            group, kernel, path = hlo_group(name), "?", ""
        groups[group] = groups.get(group, 0.0) + ms / steps
        if group.startswith("conv"):
            kernels[kernel] = kernels.get(kernel, 0.0) + ms / steps
        top[f"{name} [{kernel}] {path}"] = ms
    result.update(ms_per_step=groups, top_ops=costliest(top, steps), conv_kernels=kernels)
    return result
