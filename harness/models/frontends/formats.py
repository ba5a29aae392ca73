"""What a model file is, from its content (never its name): a TFLite flatbuffer or an ONNX protobuf."""

from __future__ import annotations

from pathlib import Path

from harness.errors import ModelError

TFLITE, ONNX = "tflite", "onnx"


class ModelFormatError(ModelError):
    """The file is not a model utvm reads."""


def detect(path: Path) -> str:
    path = Path(path)
    return classify(path, read(path))


def read(path: Path) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ModelFormatError(f"cannot read model {path}: {exc.strerror or exc}") from None


def classify(path: Path, data: bytes) -> str:
    if len(data) >= 8 and data[4:8] == b"TFL3":  # the flatbuffer's file identifier
        return TFLITE
    if _looks_like_onnx(data):
        return ONNX
    raise ModelFormatError(f"{path} is neither a TFLite flatbuffer nor an ONNX model "
                           f"({len(data)} bytes, starting {data[:8].hex(' ') or 'empty'})")


def _looks_like_onnx(data: bytes) -> bool:
    """An ONNX ModelProto: a protobuf whose first field is ir_version (field 1, varint: 0x08)
    or, rarely, another ModelProto field; parsed for real by the importer."""
    return len(data) > 2 and data[0] in (0x08, 0x12, 0x1a, 0x22, 0x2a, 0x32, 0x3a, 0x42)
