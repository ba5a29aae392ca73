"""The reference for an ONNX model: onnxruntime, and where onnxruntime cannot load or run the model
(operators of old opsets it no longer implements, e.g. AveragePool(1), BatchNormalization(6),
Gemm(6)), the ONNX package's own `onnx.reference.ReferenceEvaluator`, which implements every opset.

The reference that answered is the one the report names (`runtime`, `version`); `note` says why an
earlier one did not. Where none can run the model, `run` returns None: the device's outputs are
still reported, unchecked, with the reasons in `note`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from harness.errors import UtvmError, last_line
from harness.models.deploy.reference_base import Reference, version


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


Runner = Callable[[list[np.ndarray]], list[np.ndarray]]


def _onnxruntime(model: Path) -> tuple[str, str, Runner]:
    ref = onnxruntime_reference(model)
    return ref.runtime, ref.version, ref.run


def _onnx_reference(model: Path) -> tuple[str, str, Runner]:
    import onnx
    from onnx.reference import ReferenceEvaluator

    proto = onnx.load(str(model))
    evaluator = ReferenceEvaluator(proto)
    initialized = {i.name for i in proto.graph.initializer}
    names = [i.name for i in proto.graph.input if i.name not in initialized]

    def run(inputs: list[np.ndarray]) -> list[np.ndarray]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # numpy's overflow/invalid warnings, as onnxruntime is silent
            outs = evaluator.run(None, dict(zip(names, inputs, strict=True)))
        return [np.asarray(o) for o in outs]

    return "onnx.reference", version("onnx"), run


RUNTIMES: list[Callable[[Path], tuple[str, str, Runner]]] = [_onnxruntime, _onnx_reference]


class FallbackReference(Reference):
    """The first runtime of RUNTIMES that loads and runs the model; which one it was is known after
    the first run (`runtime` is "none" when no runtime could)."""

    def __init__(self, model: Path) -> None:
        super().__init__("onnxruntime", "", self._run)
        self.model = model
        self.note = ""
        self._runner: Runner | None = None

    def _run(self, inputs: list[np.ndarray]) -> list[np.ndarray] | None:  # type: ignore[return]
        if self._runner is not None:
            return self._runner(inputs)
        reasons = []
        for make in RUNTIMES:
            try:
                runtime, version, runner = make(self.model)
                outputs = runner(inputs)
            except UtvmError:
                raise  # a runtime that is not installed: the user's to fix
            except Exception as exc:  # the runtime refuses the model: try the next one
                reasons.append(f"{make.__name__.strip('_')}: {last_line(exc, 160)}")
                continue
            self.runtime, self.version, self._runner = runtime, version, runner
            self.note = "; ".join(reasons)
            return outputs
        self.runtime, self.version, self.note = "none", "", "; ".join(reasons)
        return None

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "note": self.note}


def onnx_reference(model: Path) -> Reference:
    return FallbackReference(model)
