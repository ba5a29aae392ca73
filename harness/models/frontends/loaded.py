"""A model file read once: its path, bytes, format (from its content) and parsed model, passed on
to compile (to_relax) and to the reference runtime chooser (deploy.reference.for_model)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.models.frontends import formats
from harness.models.frontends.tflite_reader import is_tflite


@dataclass
class LoadedModel:
    path: Path | None  # None for a model given as bytes
    data: bytes
    format: str  # formats.TFLITE or formats.ONNX
    _parsed: Any = field(default=None, repr=False)

    @property
    def parsed(self) -> Any:
        """The parsed model (a TFLiteModel, or an onnx ModelProto), parsed on first use, once."""
        if self._parsed is None:
            if self.format == formats.TFLITE:
                from harness.models.frontends.tflite_reader import parse

                self._parsed = parse(self.data)
            else:
                from harness.models.frontends.onnx import parse_onnx

                self._parsed = parse_onnx(self.path or Path("<bytes>"))
        return self._parsed


def read_model(path: str | Path) -> LoadedModel:
    """The model file read and classified (a ModelFormatError if it is neither TFLite nor ONNX)."""
    data = formats.read(Path(path))
    return LoadedModel(Path(path), data, formats.classify(Path(path), data))


def from_source(source: str | Path | bytes | LoadedModel) -> LoadedModel:
    """What compile_model takes: a LoadedModel as it is, bytes as a TFLite model, a path read (what
    is not a TFLite flatbuffer goes to the ONNX reader, which names what is wrong with it)."""
    if isinstance(source, LoadedModel):
        return source
    if isinstance(source, bytes | bytearray | memoryview):
        return LoadedModel(None, bytes(source), formats.TFLITE)
    path = Path(source)
    try:
        data = path.read_bytes()
    except OSError:
        data = b""  # the ONNX reader reports the missing file
    return LoadedModel(path, data, formats.TFLITE if is_tflite(data) else formats.ONNX)


def to_relax(model: LoadedModel) -> Any:
    """The model's IRModule."""
    if model.format == formats.TFLITE:
        from harness.models.frontends.tflite import load_tflite

        return load_tflite(model.parsed, model.data)
    from harness.models.frontends.onnx import import_onnx

    return import_onnx(model.parsed, model.path or Path("<bytes>"))
