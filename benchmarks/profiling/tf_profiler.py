"""TensorFlow's profiler (`tf.profiler.experimental`, `framework_op_stats`): self time per op.

Ops are grouped by pass (the compiled step's backward pass is under
`gradient_tape/`) and kernel: convolutions (forward, input gradients,
weight gradients), dense, batch norm, activation kernels, optimizer, other.
"""

import glob
import json
import os
import tempfile

from profiling.common import OTHER, costliest, timed_fit

# Op types (without oneDNN's "_Mkl"/"_MklNative" prefixes) of activation
# kernels; swish's gradient multiplications are plain Mul ops ("other").
_ACTIVATION_OPS = {
    "Sigmoid", "SigmoidGrad", "Swish", "Relu", "ReluGrad", "Tanh", "TanhGrad", "Softplus",
}


def op_group(op_type, op_name, optimizer_scope):
    """Group of one TensorFlow op, by pass (op name) and kernel (op type).

    Inside the compiled step the backward pass is under `gradient_tape/`.
    A Conv2DTranspose forward is a Conv2DBackpropInput kernel and its
    input gradient a Conv2D kernel: convolutions are grouped by pass, not
    by kernel name.
    """
    kernel = op_type.replace("_MklNative", "").replace("_Mkl", "")
    if f"/{optimizer_scope}/" in op_name or op_name.startswith(f"{optimizer_scope}/"):
        return "optimizer"
    backward = "gradient_tape/" in op_name
    if "Conv2D" in kernel:
        if not backward:
            return "conv forward"
        return "conv weight gradients" if "BackpropFilter" in kernel else "conv input gradients"
    if "MatMul" in kernel:
        return "dense (matmul), both passes"
    if "BatchNorm" in kernel:
        return "batch norm, both passes"
    if kernel in _ACTIVATION_OPS:
        return "activation kernels"
    return OTHER


def profile_tensorflow(model, x, batch, steps):
    """`tf.profiler.experimental` and its `framework_op_stats` tool (host rows)."""
    import tensorflow as tf

    try:
        from tensorflow.python.profiler.internal import _pywrap_profiler_plugin as plugin
    except ImportError as error:  # internal module: may move between TF versions
        return {"error": f"TensorFlow profiler tools unavailable ({error})"}
    with tempfile.TemporaryDirectory() as logdir:
        tf.profiler.experimental.start(logdir)
        try:
            wall = timed_fit(model, x, batch)
        finally:
            tf.profiler.experimental.stop()
        planes = glob.glob(os.path.join(logdir, "**", "*.xplane.pb"), recursive=True)
        data, ok = plugin.xspace_to_tools_data(planes, "framework_op_stats", {})
    if not ok:
        return {"error": "the profiler wrote no op statistics"}
    table = json.loads(data)[0]
    columns = [column["id"] for column in table["cols"]]
    groups, ops = {}, {}
    for row in table["rows"]:
        row = dict(zip(columns, (cell["v"] for cell in row["c"])))
        if row["type"] == "IDLE" or row.get("host_or_device", "Host") != "Host":
            continue
        ms = row["total_self_time"] / 1e3  # microseconds
        group = op_group(row["type"], row["operation"], model.optimizer.name)
        groups[group] = groups.get(group, 0.0) + ms / steps
        name = row["operation"].replace("StatefulPartitionedCall/", "")
        ops[f"{row['type']} {name}"] = ops.get(f"{row['type']} {name}", 0.0) + ms
    return {"wall_ms_per_step": 1e3 * wall / steps, "ms_per_step": groups, "top_ops": costliest(ops, steps)}
