"""The window of an ONNX Conv, MaxPool or AveragePool over H and W: kernel, strides, dilations and
padding (explicit pads, or auto_pad SAME_UPPER / SAME_LOWER / VALID), and the output size, as
ONNX defines them."""

from __future__ import annotations

from harness.errors import ModelError
from harness.models.frontends.onnx_qdq.reader import Node
from harness.models.int8.tensors import Window


def _pair(node: Node, name: str, default: int) -> tuple[int, int]:
    values = [int(v) for v in node.attr(name, [default, default])]
    if len(values) != 2 or min(values) < 1:
        raise ModelError(f"{node.label}: {name} {values} is not two positive values (2-D windows only)")
    return values[0], values[1]


def window(node: Node, size: tuple[int, int], kernel: tuple[int, int], *,
           ceil_mode: bool = False) -> tuple[Window, tuple[int, int]]:
    """(Window, (out_h, out_w)); with ceil_mode the last windows may reach past the padding, which
    then grows at the bottom and right to hold them."""
    strides = _pair(node, "strides", 1)
    dilations = _pair(node, "dilations", 1)
    auto_pad = str(node.attr("auto_pad", "NOTSET"))
    pads = [int(p) for p in node.attr("pads", [0, 0, 0, 0])]
    if len(pads) != 4 or min(pads) < 0:
        raise ModelError(f"{node.label}: pads {pads} are not four non-negative values")
    begin, end, out = [0, 0], [0, 0], [0, 0]
    for a in range(2):
        effective = (kernel[a] - 1) * dilations[a] + 1
        if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
            out[a] = -(-size[a] // strides[a])
            total = max((out[a] - 1) * strides[a] + effective - size[a], 0)
            begin[a] = total // 2 if auto_pad == "SAME_UPPER" else total - total // 2
            end[a] = total - begin[a]
        elif auto_pad in ("NOTSET", "VALID"):
            if auto_pad == "NOTSET":
                begin[a], end[a] = pads[a], pads[a + 2]
            span = size[a] + begin[a] + end[a] - effective
            if span < 0:
                raise ModelError(f"{node.label}: the window ({effective}) is larger than the padded input")
            out[a] = (-(-span // strides[a]) if ceil_mode else span // strides[a]) + 1
            if ceil_mode and (out[a] - 1) * strides[a] >= size[a] + begin[a]:
                out[a] -= 1  # the last window would start inside the end padding
            end[a] = max(end[a], (out[a] - 1) * strides[a] + effective - size[a] - begin[a])
        else:
            raise ModelError(f"{node.label}: auto_pad {auto_pad!r} is not supported")
    win = Window(kernel, strides, dilations, (begin[0], begin[1], end[0], end[1]))
    return win, (out[0], out[1])
