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
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from harness.errors import UtvmError
from harness.models.frontends import formats
from harness.models.frontends.loaded import LoadedModel


@dataclass
class Reference:
    runtime: str  # e.g. "tflite-micro"
    version: str
    run: Callable[[list[np.ndarray]], list[np.ndarray]]
    arena_bytes: int | None = None  # TFLite Micro's whole arena for the model, where it tells

    def describe(self) -> dict[str, Any]:
        return {"runtime": self.runtime, "version": self.version, "arena_bytes": self.arena_bytes}


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "unknown"


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

    return Reference("tflite-micro", _version("tflite-micro"), run, _tflm_arena(model))


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


def onnxruntime_session(model: Path) -> Any:
    """onnxruntime on the CPU at its basic graph optimisations: constant folding, but no fusion of
    DequantizeLinear/op/QuantizeLinear into its int8 kernels. Those depend on the CPU: without VNNI,
    x86 MLAS multiplies int8 pairs with VPMADDUBSW, whose int16 sums saturate (hence quantize_static's
    reduce_range "for non-VNNI CPUs"), and a QDQ model came out 14 LSB off on an AVX2 machine; the
    unfused graph computes what the model says on every CPU."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise UtvmError("comparing an ONNX model needs onnxruntime (pip install onnxruntime)") from None
    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    return ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])


def onnxruntime_reference(model: Path) -> Reference:
    import onnxruntime as ort

    session = onnxruntime_session(model)
    names = [i.name for i in session.get_inputs()]

    def run(inputs: list[np.ndarray]) -> list[np.ndarray]:
        return [np.asarray(o) for o in session.run(None, dict(zip(names, inputs, strict=True)))]

    return Reference("onnxruntime", ort.__version__, run)


def tvm_cpu(compiled: Any) -> Reference:
    from harness.models.compile.model import reference

    return Reference("tvm-llvm", _version("apache-tvm"), lambda xs: reference(compiled, xs))


def for_model(model: LoadedModel | None, compiled: Any) -> Reference:
    """The model's own runtime: by the format of the model as it was read (frontends.loaded), TVM's
    CPU build where there is no model file (a Relax IRModule). ONNX: onnxruntime, else onnx.reference
    (deploy.reference_onnx)."""
    if model is not None and model.path is not None and model.format == formats.TFLITE:
        return tflite_micro(model.path, len(model.parsed.outputs))
    if model is not None and model.path is not None and model.format == formats.ONNX:
        from harness.models.deploy.reference_onnx import onnx_reference

        return onnx_reference(model.path)
    return tvm_cpu(compiled)


def compare(got: np.ndarray, expected: np.ndarray, scale: float | None = None) -> dict[str, Any]:
    """How far the device's output is from the reference's: max |diff|, in LSB for integer outputs
    (or in units of the output's scale, when a float output has one: a QDQ model's output
    dequantized from int8), and whether the top-1 agrees. Integer outputs, and float outputs with a
    scale, match within one LSB (the reference may requantize in float, as onnxruntime does);
    other float outputs match to a relative 1e-4."""
    got64, exp64 = got.astype(np.float64), np.asarray(expected).astype(np.float64)
    if got64.shape == exp64.shape:  # NaN where the reference has NaN (sqrt of a negative) agrees
        both_nan = np.isnan(got64) & np.isnan(exp64)
        got64, exp64 = np.where(both_nan, 0.0, got64), np.where(both_nan, 0.0, exp64)
    diff = float(np.abs(got64 - exp64).max(initial=0.0)) if got64.shape == exp64.shape else float("inf")
    if np.dtype(got.dtype).kind in "iu":
        lsb: float | None = diff
    else:
        lsb = diff / scale if scale else None
    last = got64.shape[-1] if got64.ndim else 1  # a scalar output is its own row
    top1 = (got64.shape == exp64.shape and got64.size > 0
            and bool(np.array_equal(got64.reshape(-1, last).argmax(-1), exp64.reshape(-1, last).argmax(-1))))
    if np.dtype(got.dtype).kind in "iu":
        matches = diff <= 1.0
    elif lsb is not None:
        matches = lsb <= 1.0 + 1e-3  # float rounding of (q - zero point) * scale
    else:
        matches = bool(got64.shape == exp64.shape and np.allclose(got64, exp64, rtol=1e-4, atol=1e-5))
    return {"max_abs_diff": diff, "max_diff_lsb": lsb, "top1_agrees": top1, "matches_reference": matches}
