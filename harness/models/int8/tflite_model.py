"""A TFLite model in memory, as plain dataclasses: tensors (with their quantization and constant
data), operators and the subgraph's inputs and outputs. The reader (harness.models.frontends.
tflite_reader) fills them in from a flatbuffer; the int8 operators' converters read them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

NUMPY_DTYPES = {
    "FLOAT32": "float32",
    "FLOAT16": "float16",
    "FLOAT64": "float64",
    "INT8": "int8",
    "UINT8": "uint8",
    "INT16": "int16",
    "UINT16": "uint16",
    "INT32": "int32",
    "UINT32": "uint32",
    "INT64": "int64",
    "UINT64": "uint64",
    "BOOL": "bool",
}
@dataclass(frozen=True)
class Quant:
    """Affine quantization: real = scale * (q - zero_point), per tensor or along `dim`."""

    scales: np.ndarray  # float32, as stored
    zero_points: np.ndarray  # int64
    dim: int = 0

    @property
    def per_tensor(self) -> bool:
        return len(self.scales) == 1


@dataclass
class Tensor:
    index: int
    name: str
    shape: tuple[int, ...]
    type: str  # TFLite TensorType name: INT8, INT32, FLOAT32, ...
    quant: Quant | None
    data: np.ndarray | None  # constants only, shaped and typed

    @property
    def dtype(self) -> str:
        return NUMPY_DTYPES.get(self.type, self.type.lower())

    @property
    def scale(self) -> float:
        assert self.quant is not None
        return float(self.quant.scales[0])

    @property
    def zero_point(self) -> int:
        assert self.quant is not None
        return int(self.quant.zero_points[0])


@dataclass
class Operator:
    index: int
    op: str  # builtin operator name, e.g. CONV_2D; CUSTOM:<name> for custom operators
    inputs: tuple[int, ...]  # tensor indices; -1 is an omitted optional input
    outputs: tuple[int, ...]
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"operator {self.index} ({self.op})"


@dataclass
class TFLiteModel:
    tensors: list[Tensor]
    operators: list[Operator]
    inputs: list[int]
    outputs: list[int]
    version: int
