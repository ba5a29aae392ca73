"""A .tflite flatbuffer as plain dataclasses (the `tflite` package parses the bytes).

`parse` reads the structure and checks that it is intact: one subgraph, every index and
every vector inside the file. `check_int8` then checks the content against what the int8
importer can compile: supported operators only, int8 activations (float32 only where a
QUANTIZE reads a model input or a DEQUANTIZE writes a model output), int8 or int32 constants.
Anything else is a ModelError of one line naming the operator and its index.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

import numpy as np

from harness.errors import ModelError
from harness.models.int8.tflite_model import NUMPY_DTYPES, Operator, Quant, Tensor, TFLiteModel

IDENTIFIER = b"TFL3"
_CONSTANT_TYPES = ("INT8", "INT32")  # weights, biases, shapes
_SKIP_OPTION_METHODS = {"Init"}


def is_tflite(data: bytes) -> bool:
    """Whether the bytes carry the TFLite flatbuffer file identifier."""
    return len(data) >= 8 and bytes(data[4:8]) == IDENTIFIER


def parse(data: bytes) -> TFLiteModel:
    """The model in `data`; a ModelError if the bytes are not an intact single-subgraph TFLite model."""
    if not is_tflite(data):
        raise ModelError("not a TFLite model: the file identifier at bytes 4..8 is not 'TFL3'")
    try:
        return _Parser(bytes(data)).model()
    except ModelError:
        raise
    except Exception as exc:  # flatbuffers reads past the end, or garbage offsets
        raise ModelError(
            f"cannot read TFLite model: truncated or corrupt flatbuffer ({type(exc).__name__}: "
            f"{str(exc)[:80]})"
        ) from None


def check_int8(model: TFLiteModel, supported: Collection[str]) -> None:
    """Raise a ModelError unless every operator is supported and every tensor it touches is int8
    (activations) or an int8/int32 constant. float32 is admitted at the model boundary only: a
    model input that a QUANTIZE reads, a model output that a DEQUANTIZE writes."""
    for op in model.operators:
        if op.op not in supported:
            raise ModelError(f"{op.label} is not supported for int8 models{_other_types(model, op)}")
    boundary = float_boundary(model)
    for op in model.operators:
        for i in (*op.inputs, *op.outputs):
            if i >= 0:
                _check_tensor(op, model.tensors[i], float_ok=(op.index, i) in boundary)
    floats = {i for _, i in boundary}
    for i in (*model.inputs, *model.outputs):
        t = model.tensors[i]
        if t.type != "INT8" and not (t.type == "FLOAT32" and i in floats):
            raise ModelError(
                f"model {'input' if i in model.inputs else 'output'} tensor {i} {_name(t)} is "
                f"{t.type}; int8 models need int8 inputs and outputs (or float32 ones that a QUANTIZE "
                "reads or a DEQUANTIZE writes)"
            )


def _other_types(model: TFLiteModel, op: Operator) -> str:
    """ " (it has int16 activations)" where the operator's variable tensors are not all int8."""
    types = sorted({model.tensors[i].dtype for i in (*op.inputs, *op.outputs)
                    if i >= 0 and model.tensors[i].data is None} - {"int8"})
    return f" (it has {' and '.join(types)} activations)" if types else ""


def float_boundary(model: TFLiteModel) -> set[tuple[int, int]]:
    """(operator, tensor) pairs where a float32 tensor is allowed: a QUANTIZE's input that is a
    model input, a DEQUANTIZE's output that is a model output."""
    pairs = set()
    for op in model.operators:
        if op.op == "QUANTIZE" and op.inputs and op.inputs[0] in model.inputs:
            pairs.add((op.index, op.inputs[0]))
        if op.op == "DEQUANTIZE" and op.outputs and op.outputs[0] in model.outputs:
            pairs.add((op.index, op.outputs[0]))
    return pairs


def _check_tensor(op: Operator, t: Tensor, float_ok: bool = False) -> None:
    if t.data is None:
        if float_ok and t.type == "FLOAT32":
            return
        if t.type != "INT8":
            raise ModelError(
                f"{op.label}: tensor {t.index} {_name(t)} is {t.type}; int8 models need int8 activations"
            )
        if t.quant is None or not t.quant.per_tensor:
            raise ModelError(
                f"{op.label}: activation tensor {t.index} {_name(t)} needs one scale and zero point"
            )
    elif t.type not in _CONSTANT_TYPES:
        raise ModelError(
            f"{op.label}: constant tensor {t.index} {_name(t)} is {t.type}; int8 models need "
            "int8 weights and int32 biases"
        )


def _name(t: Tensor) -> str:
    return repr(t.name if len(t.name) <= 60 else t.name[:57] + "...")


class _Parser:
    """Walks the flatbuffer with the `tflite` package, checking every count and index on the way."""

    def __init__(self, data: bytes) -> None:
        try:
            import tflite
        except ImportError:
            raise ModelError("reading TFLite models needs the tflite package (pip install tflite)") from None

        self.tflite = tflite
        self.data = data
        self.m = tflite.Model.GetRootAsModel(data, 0)
        self.types = _enum_names(tflite.TensorType)
        self.ops = _enum_names(tflite.BuiltinOperator)
        self.option_classes = _enum_names(tflite.BuiltinOptions)

    def count(self, n: int, what: str, size: int = 4) -> int:
        if n < 0 or n * size > len(self.data):
            raise ModelError(
                f"cannot read TFLite model: {what} count {n} does not fit in a "
                f"{len(self.data)}-byte file (truncated or corrupt)"
            )
        return n

    def model(self) -> TFLiteModel:
        n_sub = self.count(self.m.SubgraphsLength(), "subgraph")
        if n_sub != 1:
            raise ModelError(f"the model has {n_sub} subgraphs; only single-subgraph models are supported")
        sg = self.m.Subgraphs(0)
        opcodes = [self.opcode(i) for i in range(self.count(self.m.OperatorCodesLength(), "operator code"))]
        n_buf = self.count(self.m.BuffersLength(), "buffer")
        tensors = [
            self.tensor(sg.Tensors(i), i, n_buf) for i in range(self.count(sg.TensorsLength(), "tensor"))
        ]
        ops = [
            self.operator(sg.Operators(i), i, opcodes, len(tensors))
            for i in range(self.count(sg.OperatorsLength(), "operator"))
        ]
        inputs = self.indices(sg.InputsAsNumpy(), len(tensors), "subgraph input", allow_omitted=False)
        outputs = self.indices(sg.OutputsAsNumpy(), len(tensors), "subgraph output", allow_omitted=False)
        return TFLiteModel(tensors, ops, list(inputs), list(outputs), int(self.m.Version()))

    def opcode(self, i: int) -> str:
        oc = self.m.OperatorCodes(i)
        code = max(_builtin_code(oc), int(oc.DeprecatedBuiltinCode()))  # schema 3a, as TFLite Micro
        name = self.ops.get(code, f"BUILTIN_{code}")
        if name == "CUSTOM":
            custom = oc.CustomCode()
            name = f"CUSTOM:{custom.decode(errors='replace') if custom else '?'}"
        return name

    def indices(self, values: Any, limit: int, what: str, allow_omitted: bool = True) -> tuple[int, ...]:
        out = tuple(int(v) for v in (values if not isinstance(values, int) else []))
        low = -1 if allow_omitted else 0
        bad = [v for v in out if not low <= v < limit]
        if bad:
            raise ModelError(
                f"cannot read TFLite model: {what} refers to tensor {bad[0]} of {limit} "
                "(truncated or corrupt)"
            )
        return out

    def tensor(self, t: Any, i: int, n_buf: int) -> Tensor:
        shape = tuple(int(d) for d in t.ShapeAsNumpy()) if t.ShapeLength() else ()
        if any(d < 0 for d in shape):  # the signature's -1 batch is fine: the shape is what TFLM runs
            raise ModelError(
                f"tensor {i} has a dynamic shape {list(shape)}: a device graph needs every shape fixed"
            )
        ttype = self.types.get(int(t.Type()), f"TYPE_{t.Type()}")
        name = (t.Name() or b"").decode(errors="replace")
        buf = int(t.Buffer())
        if not 0 <= buf < max(n_buf, 1):
            raise ModelError(f"cannot read TFLite model: tensor {i} refers to buffer {buf} of {n_buf}")
        raw = self.buffer(buf) if n_buf else None
        return Tensor(
            i, name, shape, ttype, self.quant(t.Quantization()), self.constant(raw, shape, ttype, i)
        )

    def buffer(self, index: int) -> bytes | None:
        b = self.m.Buffers(index)
        offset, size = int(b.Offset()), int(b.Size())
        if offset > 1:  # large models keep the data after the flatbuffer
            if offset + size > len(self.data):
                raise ModelError(
                    f"cannot read TFLite model: buffer {index} ends at byte {offset + size} of "
                    f"{len(self.data)} (truncated)"
                )
            return self.data[offset : offset + size]
        n = self.count(b.DataLength(), f"buffer {index} byte", size=1)
        return b.DataAsNumpy().tobytes() if n else None

    def constant(self, raw: bytes | None, shape: tuple[int, ...], ttype: str, i: int) -> np.ndarray | None:
        if not raw:
            return None
        if ttype not in NUMPY_DTYPES:
            return np.frombuffer(raw, dtype=np.uint8)  # kept as bytes; check_int8 rejects the type
        dtype = np.dtype(NUMPY_DTYPES[ttype]).newbyteorder("<")
        expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if len(raw) != expected:
            raise ModelError(
                f"cannot read TFLite model: tensor {i} holds {len(raw)} bytes, its shape {list(shape)} "
                f"of {ttype} needs {expected} (truncated or corrupt)"
            )
        return np.frombuffer(raw, dtype=dtype).astype(dtype.newbyteorder("=")).reshape(shape)

    def quant(self, q: Any) -> Quant | None:
        if q is None or q.ScaleLength() == 0:
            return None
        n = self.count(q.ScaleLength(), "quantization scale")
        scales = q.ScaleAsNumpy().astype(np.float32)
        zps = q.ZeroPointAsNumpy().astype(np.int64) if q.ZeroPointLength() else np.zeros(n, np.int64)
        if len(zps) != n:
            raise ModelError(f"cannot read TFLite model: {n} scales but {len(zps)} zero points")
        return Quant(scales, zps, int(q.QuantizedDimension()))

    def operator(self, op: Any, i: int, opcodes: list[str], n_tensors: int) -> Operator:
        code = int(op.OpcodeIndex())
        if not 0 <= code < len(opcodes):
            raise ModelError(
                f"cannot read TFLite model: operator {i} has opcode index {code} of {len(opcodes)}"
            )
        ins = self.indices(op.InputsAsNumpy(), n_tensors, f"operator {i} input")
        outs = self.indices(op.OutputsAsNumpy(), n_tensors, f"operator {i} output", allow_omitted=False)
        return Operator(i, opcodes[code], ins, outs, self.options(op))

    def options(self, op: Any) -> dict[str, Any]:
        kind = self.option_classes.get(int(op.BuiltinOptionsType()), "NONE")
        table = op.BuiltinOptions()
        cls = getattr(self.tflite, kind, None)
        if kind == "NONE" or table is None or cls is None:
            return {}
        obj = cls()
        obj.Init(table.Bytes, table.Pos)
        return _fields(obj)


def _builtin_code(opcode: Any) -> int:
    """OperatorCode.builtin_code as stored. The `tflite` package's BuiltinCode() returns the
    deprecated field instead whenever the code is below 127, which reads 0 (ADD) for files
    that set only builtin_code."""
    from flatbuffers.number_types import Int32Flags

    offset = opcode._tab.Offset(10)
    return int(opcode._tab.Get(Int32Flags, offset + opcode._tab.Pos)) if offset else 0


def _enum_names(enum_cls: type) -> dict[int, str]:
    return {v: k for k, v in vars(enum_cls).items() if not k.startswith("_") and isinstance(v, int)}


def _fields(obj: Any) -> dict[str, Any]:
    """Every scalar and vector field of a generated options table, by snake_case name."""
    out: dict[str, Any] = {}
    for name in dir(type(obj)):
        if (
            name.startswith("_")
            or name in _SKIP_OPTION_METHODS
            or name.startswith("GetRootAs")
            or name.endswith(("Length", "IsNone", "BufferHasIdentifier"))
            or name == "GetRootAs"
        ):
            continue
        method = getattr(obj, name)
        if name.endswith("AsNumpy"):
            value = method()
            out[_snake(name[: -len("AsNumpy")])] = [] if isinstance(value, int) else [int(v) for v in value]
        elif method.__code__.co_argcount == 1 and _snake(name) not in out:
            out[_snake(name)] = method()
    return out


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
