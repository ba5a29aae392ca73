"""A fuzz case of either kind (int8 TFLite against TFLite Micro, QDQ ONNX against onnxruntime) and
the kinds' common interface: its model alone or merged with others into one, its reference
outputs, its tolerance in LSB."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from harness.fuzz import tflite_gen
from harness.fuzz.qdq_case import QdqKind
from harness.fuzz.reference import Refused, quiet_stderr
from harness.fuzz.tflite_model import Chain, build_model, random_inputs, tflite_micro_outputs


@dataclass
class Case:
    kind: str  # "tflite" or "qdq"
    seed: int
    index: int
    size: int
    model: Any  # a Chain (tflite) or a QDQ graph description (qdq)
    inputs: list[np.ndarray]
    expected: list[np.ndarray] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.kind}-s{self.seed}-i{self.index}-z{self.size}"

    @property
    def ops(self) -> str:
        return KINDS[self.kind].describe(self.model)


class Kind(Protocol):
    tolerance: int

    def make(self, seed: int, index: int, size: int, ops: tuple[str, ...]) -> Any: ...
    def inputs(self, model: Any, rng: np.random.Generator) -> list[np.ndarray]: ...
    def merged(self, models: list[Any], workdir: Path) -> bytes | Path: ...
    def reference(self, model: Any, inputs: list[np.ndarray]) -> list[np.ndarray]: ...
    def reference_file(self, path: Path, inputs: list[np.ndarray]) -> list[np.ndarray]: ...
    def exact(self, model: Any, inputs: list[np.ndarray]) -> list[np.ndarray] | None: ...
    def describe(self, model: Any) -> str: ...
    def culprit(self, models: list[Any], message: str) -> int | None: ...
    def operators(self) -> tuple[str, ...]: ...
    def family(self, op: str) -> str: ...


class TfliteKind:
    tolerance = 0

    def make(self, seed: int, index: int, size: int, ops: tuple[str, ...]) -> Chain:
        return tflite_gen.make_chain(seed, index, size, ops)

    def inputs(self, model: Chain, rng: np.random.Generator) -> list[np.ndarray]:
        return random_inputs(model.inputs, rng, 128 if rng.random() < 0.7 else 12)

    def merged(self, models: list[Chain], workdir: Path) -> bytes | Path:
        return build_model(models)

    def reference(self, model: Chain, inputs: list[np.ndarray]) -> list[np.ndarray]:
        try:
            with quiet_stderr():
                return [tflite_micro_outputs(model.build(), inputs)]
        except RuntimeError as exc:
            raise Refused(str(exc).splitlines()[0] if str(exc) else "refused") from None

    def reference_file(self, path: Path, inputs: list[np.ndarray]) -> list[np.ndarray]:
        return [tflite_micro_outputs(path.read_bytes(), inputs)]

    def exact(self, model: Chain | Path, inputs: list[np.ndarray]) -> None:
        """None: TFLite Micro computes in integers, so it has no rounding of its own to second-guess."""
        return None

    def parts(self, model: Chain) -> list[Chain]:
        return [Chain([op]) for op in model.ops] if len(model.ops) > 1 else []

    def culprit(self, models: list[Chain], message: str) -> int | None:
        """The case whose operator a refusal of the merged model names ("operator N (...)")."""
        found = re.match(r"operator (\d+) ", message)
        if found is None:
            return None
        op = int(found.group(1))
        for i, model in enumerate(models):
            if op < len(model.ops):
                return i
            op -= len(model.ops)
        return None

    def describe(self, model: Chain) -> str:
        return ">".join(op.opcode for op in model.ops)

    def operators(self) -> tuple[str, ...]:
        return tuple(tflite_gen.OPS)

    def family(self, op: str) -> str:
        """The int8 operator family that converts the TFLite operator (its harness.models.int8 module)."""
        from harness.models.int8.operators import CONVERTERS

        converter = CONVERTERS.get(op)
        return converter.__module__.rsplit(".", 1)[-1] if converter is not None else op


KINDS: dict[str, Kind] = {"tflite": TfliteKind(), "qdq": QdqKind()}


def register(name: str, kind: Kind) -> None:
    KINDS[name] = kind


def make_case(kind: str, seed: int, index: int, size: int = 8, ops: tuple[str, ...] = ()) -> Case:
    """Case (seed, index) of `kind` at size cap `size`, its inputs drawn from the same seed."""
    k = KINDS[kind]
    model = k.make(seed, index, size, ops or k.operators())
    rng = np.random.default_rng([seed, index, size, 1])
    return Case(kind, seed, index, size, model, k.inputs(model, rng))


Factory = Callable[[int], Case]
