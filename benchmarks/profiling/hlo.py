"""The compiled HLO of the JAX train step: which instruction is which pass, layer and kernel.

XLA names a thunk after its HLO instruction; the compiled HLO text gives
each instruction's opcode, output shape, fused members and JAX source path
(`transpose(jvp(...))` is the backward pass), from which `jax_group` tells
convolution passes, dense, batch norm, activations and the optimizer apart.
"""

import re

from profiling.common import OTHER

def hlo_group(name):
    """Group of one XLA thunk by its name alone (when the HLO is unavailable).

    XLA names an instruction after its opcode (`convolution.3`, `dot.6`),
    a fusion after its ops (`broadcast_add_fusion.4`, or `ynn_fusion.1`, a
    YNNPACK call); JAX names a convolution after its primitive
    (`conv_general_dilated.44`). The pass is not in the name.
    """
    kind = name.split(".")[0]
    if kind.startswith(("convolution", "conv_general_dilated")):
        return "convolution (pass unknown)"
    if kind.startswith(("dot", "dot_general")):
        return "dense (matmul), both passes"
    return OTHER


HLO_INSTRUCTION = re.compile(r"\s+(?:ROOT )?%?([\w.\-]+) = (\S+) ([\w\-]+)\(")
HLO_COMPUTATION = re.compile(r"(?:ENTRY )?%?([\w.\-]+) .*\{$")


def hlo_instructions(text):
    """Instructions of compiled HLO text: name -> (opcode, shape, op_name, members, YNNPACK).

    `members` are the instructions of the computation a fusion calls;
    `op_name` is JAX's source path, e.g. `jit(train_step)/transpose(jvp(
    decoder))/.../conv_general_dilated` (`transpose(jvp(...))`: backward).
    """
    computations, instructions, current = {}, {}, None
    for line in text.splitlines():
        if not line.startswith(" "):
            header = HLO_COMPUTATION.match(line)
            current = header.group(1) if header else None
            computations.setdefault(current, [])
            continue
        match = HLO_INSTRUCTION.match(line)
        if match is None:  # tuple shapes (while, ...): grouped by their thunks' names
            continue
        name, shape, opcode = match.groups()
        op_name = re.search(r'op_name="([^"]*)"', line)
        calls = re.search(r"calls=%?([\w.\-]+)", line)
        instructions[name] = [opcode, shape, op_name.group(1) if op_name else "",
                              calls.group(1) if calls else None, "__ynn_fusion" in line]
        computations[current].append(name)
    for entry in instructions.values():
        entry[3] = [instructions[n] for n in computations.get(entry[3], [])] if entry[3] else []
    return instructions


def jax_group(instruction, batch, optimizer_name, bn_layers, act_layers):
    """(group, kernel, output shape) of one XLA thunk, from its HLO instruction and JAX source path."""
    opcode, shape, op_name, members, ynn = instruction
    for member in [instruction] + members:
        if member[0] in ("convolution", "dot"):
            opcode, shape, op_name = member[:3]
            break
    if opcode == "fusion":
        kernel = "YNNPACK fusion" if ynn else "XLA fusion"
    else:
        kernel = f"{'YNNPACK' if ynn else 'XLA'} {opcode}"
    path = op_name.split("/")
    if optimizer_name in path:
        return "optimizer", kernel, shape
    backward = "transpose(" in op_name
    if opcode == "convolution":
        # Outputs are batch-major (b01f) but for weight gradients (kernel-
        # shaped), whose fusions often lose the source path.
        leading = re.match(r"\w+\[(\d+)", shape)
        if not leading or int(leading.group(1)) != batch:
            return "conv weight gradients", kernel, shape
        if backward:
            return "conv input gradients", kernel, shape
        return ("conv forward" if op_name else "conv, pass unknown (no source path)"), kernel, shape
    if opcode == "dot":
        return "dense (matmul), both passes", kernel, shape
    if any(part in bn_layers for part in path):
        return "batch norm, both passes", kernel, shape
    if any(part in act_layers for part in path):
        return "activation kernels", kernel, shape
    return OTHER, kernel, shape


def jax_train_step_hlo(model, x, batch):
    """Compiled HLO text of the train step `fit` runs (same jit: a cache hit).

    Keras's JAX trainer keeps its jitted step in the closure of
    `model.train_function`; one `fit` batch records the argument shapes.
    """
    import inspect

    import jax

    original = model.train_function
    jitted = inspect.getclosurevars(original).nonlocals["step_function"]
    shapes = []

    def recording(state, iterator):
        data = next(iterator)
        shapes.append(jax.tree.map(lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype), (state, data)))
        return original(state, iter([data]))

    model.train_function = recording
    try:
        model.fit(x[:batch], batch_size=batch, epochs=1, verbose=0, shuffle=False)
    finally:
        model.train_function = original
    return jitted.lower(*shapes[0]).compile().as_text()
