"""An operator family: the kernel kinds ("utvm.op") its TE computations emit, each with its
default schedule, and the TFLite operators its converters import. Each family module ends with
its FAMILY; operators.py lists them all (an explicit table, no registration on import)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.models.int8.emit import Context
from harness.models.int8.schedules import ScheduleFn
from harness.models.int8.tflite_model import Operator

Converter = Callable[[Context, Operator], Any]


@dataclass(frozen=True)
class Family:
    kernels: Mapping[str, ScheduleFn]  # kernel kind -> its default schedule
    converters: Mapping[str, Converter] = field(default_factory=dict)  # TFLite builtin operator -> converter
