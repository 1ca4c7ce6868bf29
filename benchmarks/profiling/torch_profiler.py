"""PyTorch's profiler (`torch.profiler`, CPU): self CPU time per aten op.

Groups: conv forward; conv backward (one kernel for both gradients); layout
copies (`.contiguous()`, NHWC -> NCHW before each conv); dense; batch norm
and the optimizer, told apart by `record_function` labels; activation
kernels; other.
"""

import functools
import re

from profiling.common import OTHER, costliest, timed_fit

# record_function labels of the PyTorch profile (Keras's torch trainer has none).
_TORCH_OPTIMIZER, _TORCH_BN = "keras_vaes/optimizer.apply", "keras_vaes/batch_norm.call"
_TORCH_DENSE = {"aten::addmm", "aten::mm", "aten::linear", "aten::matmul", "aten::bmm"}


def torch_group(name, node, label, parents):
    """Group of one aten op: by its label, else by its name, callers and backward node."""
    if label == _TORCH_OPTIMIZER:
        return "optimizer"
    if label == _TORCH_BN:
        return "batch norm (Keras's composite ops), both passes"
    node_name = node.name if node is not None else ""
    if "convolution_backward" in name or "Convolution" in node_name:
        return "conv backward (input and weight gradients, one kernel)"
    if "conv" in name:
        return "conv forward"
    if "aten::contiguous" in parents and "aten::_convolution" not in parents:
        # Keras's torch convolutions permute NHWC inputs to NCHW and copy them.
        return "layout copies (.contiguous(), NHWC -> NCHW for convs)"
    if name in _TORCH_DENSE or node_name.startswith(("autograd::engine::evaluate_function: Addmm",
                                                     "autograd::engine::evaluate_function: Mm")):
        return "dense (matmul), both passes"
    if "silu" in name or "sigmoid" in name:
        return "activation kernels"
    return OTHER


def profile_torch(model, x, batch, steps):
    """`torch.profiler.profile` (CPU) of `fit`; self CPU time per aten op.

    The optimizer's `apply` and each batch norm layer's `call` run under a
    `record_function` label; a backward op counts for the label of the
    forward op that recorded its autograd node (sequence number).
    """
    import keras
    import torch.profiler as tp

    patched = []

    def label(obj, attr, name):
        original = getattr(obj, attr)

        @functools.wraps(original)
        def labelled(*args, **kwargs):
            with tp.record_function(name):
                return original(*args, **kwargs)

        setattr(obj, attr, labelled)  # an instance attribute over the class's method
        patched.append((obj, attr))

    label(model.optimizer, "apply", _TORCH_OPTIMIZER)
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if isinstance(layer, keras.layers.BatchNormalization):
            label(layer, "call", _TORCH_BN)
    try:
        with tp.profile(activities=[tp.ProfilerActivity.CPU]) as prof:
            wall = timed_fit(model, x, batch)
    finally:
        for obj, attr in patched:
            delattr(obj, attr)
    events = prof.events()

    def label_of(event):
        while event is not None and event.name not in (_TORCH_OPTIMIZER, _TORCH_BN):
            event = event.cpu_parent
        return event.name if event is not None else None

    def node_of(event):  # the autograd node (backward function) an op runs in
        while event is not None and event.scope != 1:  # 1: RecordScope.BACKWARD_FUNCTION
            event = event.cpu_parent
        return event

    nodes = {id(event): node_of(event) for event in events}
    # Ops that record no autograd node share the next one's sequence number:
    # the forward op named like the node (PowBackward0: aten::pow) decides.
    forward = {}  # (sequence number, thread) -> {op name: label}
    for e in events:
        if e.sequence_nr >= 0 and nodes[id(e)] is None:
            forward.setdefault((e.sequence_nr, e.thread), {})[e.name] = label_of(e)

    def forward_label(node):
        ops = forward.get((node.sequence_nr, node.fwd_thread), {})
        op = "aten::" + re.sub(r"Backward\d*$", "", node.name).lower()
        if op in ops:
            return ops[op]
        labels = set(ops.values())
        return labels.pop() if len(labels) == 1 else None
    groups, ops = {}, {}
    for event in events:
        ms = event.self_cpu_time_total / 1e3  # microseconds
        node = nodes[id(event)]
        label = label_of(event)
        if node is not None and label is None:
            label = forward_label(node)
        parents, parent = set(), event.cpu_parent
        while parent is not None:
            parents.add(parent.name)
            parent = parent.cpu_parent
        group = torch_group(event.name, node, label, parents)
        groups[group] = groups.get(group, 0.0) + ms / steps
        ops[event.name] = ops.get(event.name, 0.0) + ms
    return {"wall_ms_per_step": 1e3 * wall / steps, "ms_per_step": groups, "top_ops": costliest(ops, steps)}
