"""The QDQ ONNX kind of fuzz case: its model file (several cases side by side in one graph, their
names prefixed), its int8 inputs, and onnxruntime's unfused graph as the reference (1 LSB)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np

from harness.fuzz import qdq_gen
from harness.fuzz.qdq_gen import QdqModel
from harness.fuzz.reference import Refused, quiet_stderr


def _graph(model: QdqModel, prefix: str) -> tuple[list, list, list, list]:
    from onnx import TensorProto, helper

    rename = {i.name: prefix + i.name for i in model.inits}
    for node in model.nodes:
        rename.update({o: prefix + o for o in node.output})
    rename.update({name: prefix + name for name, _ in model.inputs})
    nodes = []
    for node in model.nodes:
        copy = helper.make_node(node.op_type, [rename.get(i, i) for i in node.input],
                                [rename[o] for o in node.output], prefix + node.name)
        copy.attribute.extend(node.attribute)
        nodes.append(copy)
    inits = []
    for init in model.inits:
        copy = type(init)()
        copy.CopyFrom(init)
        copy.name = rename[init.name]
        inits.append(copy)
    inputs = [helper.make_tensor_value_info(prefix + n, TensorProto.INT8, list(s)) for n, s in model.inputs]
    out = [helper.make_tensor_value_info(rename[model.output[0]], TensorProto.INT8, list(model.output[1]))]
    return nodes, inits, inputs, out


def write(models: list[QdqModel], directory: Path) -> Path:
    """One ONNX file with every case's graph side by side (inputs and outputs in case order)."""
    from onnx import helper

    parts = [_graph(m, f"c{i}_") for i, m in enumerate(models)]
    graph = helper.make_graph([n for p in parts for n in p[0]], "fuzz", [x for p in parts for x in p[2]],
                              [y for p in parts for y in p[3]], [t for p in parts for t in p[1]])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", qdq_gen.OPSET)])
    model.ir_version = 8
    data = model.SerializeToString()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"qdq-{hashlib.sha256(data).hexdigest()[:16]}.onnx"
    path.write_bytes(data)
    return path


def _run(path: Path, inputs: list[np.ndarray]) -> list[np.ndarray]:
    from harness.models.deploy.reference_onnx import onnxruntime_session

    try:
        with quiet_stderr():
            session = onnxruntime_session(path)
            feed = {i.name: x for i, x in zip(session.get_inputs(), inputs, strict=True)}
            return [np.asarray(y) for y in session.run(None, feed)]
    except Exception as exc:
        raise Refused(str(exc).splitlines()[0] if str(exc) else "refused") from None


class QdqKind:
    tolerance = 1

    def __init__(self, scratch: Path | None = None) -> None:
        import tempfile

        self.scratch = scratch or Path(tempfile.gettempdir()) / "utvm-fuzz-qdq"

    def make(self, seed: int, index: int, size: int, ops: tuple[str, ...]) -> QdqModel:
        return qdq_gen.make_qdq(seed, index, size, ops)

    def inputs(self, model: QdqModel, rng: np.random.Generator) -> list[np.ndarray]:
        spread = 128 if rng.random() < 0.7 else 12
        return [rng.integers(-spread, spread, size=s, dtype=np.int8) for _, s in model.inputs]

    def merged(self, models: list[QdqModel], workdir: Path) -> Path:
        return write(models, workdir / "models")

    def reference(self, model: QdqModel, inputs: list[np.ndarray]) -> list[np.ndarray]:
        return _run(write([model], self.scratch), inputs)

    def reference_file(self, path: Path, inputs: list[np.ndarray]) -> list[np.ndarray]:
        return _run(path, inputs)

    def exact(self, model: QdqModel | Path, inputs: list[np.ndarray]) -> list[np.ndarray] | None:
        """The case evaluated in float64 (harness.fuzz.exact), the tie-breaker where onnxruntime's
        float32 rounding and ours part; None where that evaluation rounded no exact tie (then there is
        nothing for it to break)."""
        import onnx

        from harness.fuzz.exact import evaluate

        path = model if isinstance(model, Path) else write([model], self.scratch)
        outputs, ties = evaluate(onnx.load(str(path)), inputs)
        return outputs if ties else None

    def culprit(self, models: list[QdqModel], message: str) -> int | None:
        """The case whose node a refusal of the merged model names (its names start c<i>_)."""
        found = re.search(r"\bc(\d+)_", message)
        return int(found.group(1)) if found and int(found.group(1)) < len(models) else None

    def describe(self, model: QdqModel) -> str:
        return ">".join(model.ops)

    def operators(self) -> tuple[str, ...]:
        return tuple(qdq_gen.OPS)

    def family(self, op: str) -> str:
        """An ONNX operator is its own family here (the QDQ importer maps each onto several kernels)."""
        return f"onnx.{op}"
