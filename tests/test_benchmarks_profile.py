"""benchmarks/train_throughput.py --profile on the current backend, tiny config.

Each backend's own profiler (TensorFlow's, jax.profiler, torch.profiler)
around one training step; its grouped times, or a clean {"error": ...}.
"""

import importlib.util
import os
import sys

import keras

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _script():
    """benchmarks/train_throughput.py, its folder first on sys.path as `python benchmarks/...` has it."""
    if os.path.join(REPO, "benchmarks") not in sys.path:  # it imports benchmarks/profiling/
        sys.path.insert(0, os.path.join(REPO, "benchmarks"))
    path = os.path.join(REPO, "benchmarks", "train_throughput.py")
    spec = importlib.util.spec_from_file_location("train_throughput_profile", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_profile_groups_one_step_or_reports_an_error(capsys):
    script = _script()
    args = script.parse_args(["--config", "tiny", "--steps", "1", "--warmup", "1",
                              "--batch-size", "16"])
    prof = script.profile_training("tiny", args)
    assert prof["profiler"] == keras.backend.backend()
    if "error" in prof:  # the profilers' output formats are not versioned
        assert isinstance(prof["error"], str) and prof["error"]
    else:
        groups = prof["ms_per_step"]
        assert groups and all(ms >= 0 for ms in groups.values())
        assert sum(groups.values()) > 0
        assert prof["wall_ms_per_step"] > 0
        assert all(ms >= 0 for _, ms in prof["top_ops"])
    script.print_profile(prof)
    assert "profile" in capsys.readouterr().out



def test_hlo_parser_tells_passes_apart():
    _script()  # benchmarks/ on sys.path
    from profiling import hlo

    text = "\n".join([
        "fused_computation.1 {",
        '  %convolution.2 = f32[16,8,8,4]{3,2,1,0} convolution(%a, %b), op_name="jit(train_step)/'
        'transpose(jvp(decoder))/conv_general_dilated"',
        "}",
        "ENTRY main.9 {",
        '  %conv.1 = f32[16,8,8,4]{3,2,1,0} convolution(%x, %w), op_name="jit(train_step)/encoder/conv_general_dilated"',
        '  %conv.3 = f32[3,3,4,4]{3,2,1,0} convolution(%x, %g), op_name=""',
        "  %fusion.4 = f32[16,8,8,4]{3,2,1,0} fusion(%p), kind=kLoop, calls=%fused_computation.1",
        '  %add.5 = f32[4]{0} add(%m, %v), op_name="jit(train_step)/adam/add"',
        "}",
    ])
    instructions = hlo.hlo_instructions(text)
    group = {name: hlo.jax_group(instructions[name], 16, "adam", set(), set())[0] for name in instructions}
    assert group["conv.1"] == "conv forward"
    assert group["conv.3"] == "conv weight gradients"  # kernel-shaped output
    assert group["fusion.4"] == "conv input gradients"  # its fused convolution is under transpose(jvp(...))
    assert group["add.5"] == "optimizer"
    assert hlo.hlo_group("dot.6") == "dense (matmul), both passes"
