"""The runtime a model's outputs are compared with: the model's own.

A .tflite model is compared with TFLite Micro's interpreter (PyPI `tflite-micro`, the MCU runtime
itself), an ONNX model with onnxruntime; TVM's CPU build of the lowered module only where neither
applies (a Relax IRModule). Comparing only with TVM would hide frontend errors: a model TVM imports
wrongly would match its own wrong CPU build.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

from harness.errors import UtvmError
from harness.models.deploy.reference_base import Reference, compare, version
from harness.models.deploy.reference_onnx import onnx_reference, onnxruntime_reference
from harness.models.frontends import formats
from harness.models.frontends.loaded import LoadedModel

__all__ = ["Reference", "compare", "for_model", "onnxruntime_reference", "tflite_micro", "tvm_cpu"]


def tflite_micro(model: Path, n_outputs: int | None = None) -> Reference:
    try:
        from tflite_micro import runtime
    except ImportError:
        raise UtvmError("comparing a .tflite model needs TFLite Micro's interpreter "
                        "(pip install tflite-micro)") from None
    interpreter = _tflm_interpreter(runtime, model)
    if n_outputs is None:
        n_outputs = _tflite_output_count(model.read_bytes())

    def run(inputs: list[np.ndarray]) -> list[np.ndarray]:
        interpreter.reset()
        for i, x in enumerate(inputs):
            interpreter.set_input(x, i)
        interpreter.invoke()
        return [np.array(interpreter.get_output(i)) for i in range(n_outputs)]

    return Reference("tflite-micro", version("tflite-micro"), run, _tflm_arena(model))


def _tflm_interpreter(runtime: Any, model: Path, arena: int | None = None) -> Any:
    """TFLite Micro's interpreter over an arena of `arena` bytes, else its default (ten times the
    model's size), grown fourfold while it cannot allocate the tensors (a 976-byte model with two
    16 KB inputs needs more than 9760 B); TFLite Micro's own complaint is kept off stderr."""
    from harness.models.frontends.native_log import Captured

    size = arena or model.stat().st_size * 10
    while True:
        try:
            with Captured():
                return runtime.Interpreter.from_file(str(model), arena_size=size)
        except RuntimeError as exc:
            if size >= MAX_TFLM_ARENA:
                raise UtvmError(f"TFLite Micro cannot allocate the model's tensors in {size} B: "
                                f"{exc}") from None
            size *= 4


MAX_TFLM_ARENA = 1 << 30


def _tflite_output_count(data: bytes) -> int:
    import tflite

    return int(tflite.Model.GetRootAsModel(data, 0).Subgraphs(0).OutputsLength())


def _tflm_arena(model: Path) -> int | None:
    """TFLite Micro's whole arena for the model, from its allocation report (printed by C code, so
    it is read from a child process's output)."""
    code = ("import sys\nfrom tflite_micro import runtime\n"
            "from harness.models.deploy.reference import _tflm_interpreter\n"
            "from pathlib import Path\n"
            "_tflm_interpreter(runtime, Path(sys.argv[1])).print_allocations()\n")
    try:
        proc = subprocess.run([sys.executable, "-c", code, str(model)], capture_output=True, text=True,
                              timeout=120, check=False)
    except subprocess.TimeoutExpired:
        return None
    found = re.search(r"Arena allocation total (\d+) bytes", proc.stdout + proc.stderr)
    return int(found.group(1)) if found else None


def tvm_cpu(compiled: Any) -> Reference:
    from harness.models.compile.model import reference

    return Reference("tvm-llvm", version("apache-tvm"), lambda xs: reference(compiled, xs))


def for_model(model: LoadedModel | None, compiled: Any) -> Reference:
    """The model's own runtime: by the format of the model as it was read (frontends.loaded), TVM's
    CPU build where there is no model file (a Relax IRModule). ONNX: onnxruntime, else onnx.reference
    (deploy.reference_onnx)."""
    if model is not None and model.path is not None and model.format == formats.TFLITE:
        return tflite_micro(model.path, len(model.parsed.outputs))
    if model is not None and model.path is not None and model.format == formats.ONNX:
        return onnx_reference(model.path)
    return tvm_cpu(compiled)
