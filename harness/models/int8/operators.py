"""Every int8 operator family, in one table: the TFLite operators the int8 importer converts
(CONVERTERS) and the default schedule of every kernel kind (DEFAULT_SCHEDULES), the TFLite ones
and the ONNX QDQ ones (qdq.py). Adding an operator: its family module (or a new one, listed
here) and its test; tests/test_int8_registry.py checks the table is whole."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from harness.models.int8 import (
    activation,
    conv,
    elementwise,
    fully_connected,
    pool,
    qdq,
    quantize,
    shape,
    softmax,
)
from harness.models.int8.family import Converter, Family
from harness.models.int8.schedules import ScheduleFn

FAMILIES: tuple[Family, ...] = (
    conv.FAMILY,
    fully_connected.FAMILY,
    pool.FAMILY,
    elementwise.FAMILY,
    quantize.FAMILY,
    activation.FAMILY,
    softmax.FAMILY,
    shape.FAMILY,
    qdq.FAMILY,
)

T = TypeVar("T")


def _merged(tables: list[Mapping[str, T]], what: str) -> dict[str, T]:
    merged: dict[str, T] = {}
    for table in tables:
        for key, value in table.items():
            if key in merged and merged[key] is not value:
                raise RuntimeError(f"two operator families register {what} {key!r}")
            merged[key] = value
    return merged


CONVERTERS: dict[str, Converter] = _merged([f.converters for f in FAMILIES], "the TFLite operator")
DEFAULT_SCHEDULES: dict[str, ScheduleFn] = _merged([f.kernels for f in FAMILIES], "the kernel kind")
