"""Strided convolutions that XLA's CPU backend computes fast.

`Conv2D` and `Conv2DTranspose` here are Keras's layers, with the same
variables, arguments and outputs. On the JAX backend a strided "same"
convolution is computed as an equivalent stride-1 convolution of a
rearranged tensor: space-to-depth of the input for `Conv2D` (its input
gradient would otherwise be an lhs-dilated convolution), and a stride-1
convolution followed by depth-to-space ("sub-pixel") for
`Conv2DTranspose` (which XLA otherwise lowers to an lhs-dilated
convolution). XLA's CPU convolution is 10-17x slower than TensorFlow's
oneDNN on lhs-dilated convolutions and 1-3x on plain ones
(`benchmarks/backend_ops.py`; docs: performance page). The results are the
same to float32 rounding, gradients included. Other backends, and
configurations the rewrite does not cover (dilation, `output_padding`,
channels-first, "valid" padding, sizes not divisible by the stride), use
Keras's own computation.
"""

import keras
from keras import ops

from keras_vaes.layers.core import PACKAGE


def _same_padding_before(kernel, stride):
    """TensorFlow's "same": total padding max(k - s, 0) on an input divisible by s, the smaller half first."""
    return max(kernel - stride, 0) // 2


def _tap_offsets(kernel, stride):
    """Per axis: for each tap t, (phase r, block offset d) with t - pad_before = stride * d + r."""
    pad = _same_padding_before(kernel, stride)
    return [((t - pad) % stride, (t - pad) // stride) for t in range(kernel)]


def _rearranged_kernel(kernel, strides, transpose):
    """The stride-1 kernel over blocks of `strides` pixels, built from a Keras kernel.

    `kernel` is `(kh, kw, in, out)` for a convolution (the result takes
    `in * sh * sw` channels ordered (phase_h, phase_w, in)) and
    `(kh, kw, out, in)` for a transposed one (the result gives
    `out * sh * sw` channels ordered (phase_h, phase_w, out)).
    """
    kh, kw = kernel.shape[0], kernel.shape[1]
    sh, sw = strides
    rows, cols = _tap_offsets(kh, sh), _tap_offsets(kw, sw)
    # A transposed convolution reads input pixel i - d for output block i.
    sign = -1 if transpose else 1
    d_rows = [sign * d for _, d in rows]
    d_cols = [sign * d for _, d in cols]
    h0, w0 = min(d_rows), min(d_cols)
    size_h, size_w = max(d_rows) - h0 + 1, max(d_cols) - w0 + 1
    zero = ops.zeros_like(ops.transpose(kernel[0, 0]) if transpose else kernel[0, 0])
    taps = {}
    for th, (rh, _) in enumerate(rows):
        for tw, (rw, _) in enumerate(cols):
            taps[(d_rows[th] - h0, d_cols[tw] - w0, rh, rw)] = (th, tw)
    window = []
    for u in range(size_h):
        line = []
        for v in range(size_w):
            blocks = []
            for rh in range(sh):
                for rw in range(sw):
                    tap = taps.get((u, v, rh, rw))
                    if tap is None:
                        blocks.append(zero)
                    elif transpose:  # (out, in) -> (in, out)
                        blocks.append(ops.transpose(kernel[tap[0], tap[1]]))
                    else:
                        blocks.append(kernel[tap[0], tap[1]])
            # Convolution: phases stacked on the input axis; transpose: on the output axis.
            line.append(ops.concatenate(blocks, axis=1 if transpose else 0))
        window.append(ops.stack(line))
    padding = ((-h0, size_h - 1 + h0), (-w0, size_w - 1 + w0))
    return ops.stack(window), padding


def _space_to_depth(x, sh, sw):
    _, height, width, channels = x.shape
    x = ops.reshape(x, (-1, height // sh, sh, width // sw, sw, channels))
    x = ops.transpose(x, (0, 1, 3, 2, 4, 5))
    return ops.reshape(x, (-1, height // sh, width // sw, sh * sw * channels))


def _depth_to_space(x, sh, sw):
    _, height, width, channels = x.shape
    filters = channels // (sh * sw)
    x = ops.reshape(x, (-1, height, width, sh, sw, filters))
    x = ops.transpose(x, (0, 1, 3, 2, 4, 5))
    return ops.reshape(x, (-1, height * sh, width * sw, filters))


def _rewrite_applies(layer, inputs):
    if layer.rewrite is False or (layer.rewrite == "auto" and keras.backend.backend() != "jax"):
        return False
    strides = tuple(layer.strides)
    shape = inputs.shape
    return (
        strides != (1, 1)
        and layer.padding == "same"
        and tuple(layer.dilation_rate) == (1, 1)
        and layer.data_format == "channels_last"
        and getattr(layer, "output_padding", None) is None
        and getattr(layer, "groups", 1) == 1
        and len(shape) == 4
        and shape[1] is not None and shape[2] is not None
        and shape[1] % strides[0] == 0 and shape[2] % strides[1] == 0
    )


def _rewritten_call(layer, inputs, transpose):
    """The layer's output through one stride-1 convolution of rearranged blocks."""
    sh, sw = layer.strides
    kernel = ops.cast(layer.kernel, layer.compute_dtype)
    kernel, padding = _rearranged_kernel(kernel, (sh, sw), transpose=transpose)
    x = inputs if transpose else _space_to_depth(inputs, sh, sw)
    outputs = ops.conv(ops.pad(x, ((0, 0), *padding, (0, 0))), kernel, strides=1, padding="valid")
    if transpose:
        outputs = _depth_to_space(outputs, sh, sw)
    if layer.use_bias:
        outputs = ops.add(outputs, layer.bias)
    return layer.activation(outputs) if layer.activation is not None else outputs


class _StridedRewrite:
    """The `call` of both layers: the rewrite where it applies, Keras's computation elsewhere."""

    # "auto": the rewrite on JAX only; True / False: always / never (tests).
    rewrite = "auto"
    _transpose = False

    def call(self, inputs):
        if _rewrite_applies(self, inputs):
            return _rewritten_call(self, inputs, transpose=self._transpose)
        return super().call(inputs)


@keras.saving.register_keras_serializable(package=PACKAGE)
class Conv2D(_StridedRewrite, keras.layers.Conv2D):
    """`keras.layers.Conv2D`, computed by space-to-depth on JAX when strided (see the module).

    Example:
    >>> import numpy as np
    >>> tuple(Conv2D(4, 3, strides=2, padding="same")(np.zeros((1, 8, 8, 2), "float32")).shape)
    (1, 4, 4, 4)
    """


@keras.saving.register_keras_serializable(package=PACKAGE)
class Conv2DTranspose(_StridedRewrite, keras.layers.Conv2DTranspose):
    """`keras.layers.Conv2DTranspose`, computed as a sub-pixel convolution on JAX (see the module).

    Example:
    >>> import numpy as np
    >>> layer = Conv2DTranspose(4, 3, strides=2, padding="same")
    >>> tuple(layer(np.zeros((1, 4, 4, 2), "float32")).shape)
    (1, 8, 8, 4)
    """

    _transpose = True
