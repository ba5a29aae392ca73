"""Regression cases: a shrunk disagreement saved under tests/fuzz_regressions/ as its model, its
inputs (.npz) and a JSON note (kind, the seed, index and size it came from, the schedules it was
fuzzed with, what disagreed), and
replayed from those files, so it stays the same case whatever the generator becomes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from harness.device import Device
from harness.fuzz.cases import KINDS, Case
from harness.fuzz.runner import Disagreement, compare, reference_rounding, versus_untuned
from harness.fuzz.schedules import scheduler
from harness.models.compile.model import Compiled, compile_model
from harness.models.deploy.graph_client import GraphModule
from harness.models.deploy.run import build_model_image
from harness.targets import Target

SUFFIX = {"tflite": ".tflite", "qdq": ".onnx"}


def save(found: Disagreement, directory: Path, target: str, schedules: str = "default") -> Path:
    """The case's files in `directory`; the path of its JSON note."""
    case = found.case
    directory.mkdir(parents=True, exist_ok=True)
    source = KINDS[case.kind].merged([case.model], directory)
    model = directory / f"{case.name}{SUFFIX[case.kind]}"
    if isinstance(source, Path):
        if source != model:
            source.replace(model)
    else:
        model.write_bytes(source)
    np.savez(directory / f"{case.name}.npz", *case.inputs)
    note = {"kind": case.kind, "seed": case.seed, "index": case.index, "size": case.size, "ops": case.ops,
            "target": target, "schedules": schedules, "found": found.summary, "model": model.name,
            "inputs": f"{case.name}.npz"}
    path = directory / f"{case.name}.json"
    path.write_text(json.dumps(note, indent=1) + "\n")
    return path


def replay(note: Path, target: Target, workdir: Path) -> str | None:
    """How the saved case disagrees with its reference on `target` now, or None."""
    info = json.loads(note.read_text())
    model = note.parent / info["model"]
    with np.load(note.parent / info["inputs"]) as data:
        inputs = [data[f"arr_{i}"] for i in range(len(data.files))]
    kind = KINDS[info["kind"]]
    expected = kind.reference_file(model, inputs)
    case = Case(info["kind"], info["seed"], info["index"], info["size"], None, inputs, expected)
    schedules = info.get("schedules", "default")
    got = _run(compile_model(model, scheduler=scheduler(schedules, info["seed"], target.name)), inputs,
               target, workdir)
    problem = compare(case, got)
    if problem is not None and reference_rounding(case, got, model):
        problem = None
    if problem is None and schedules != "default":
        problem = versus_untuned(got, _run(compile_model(model), inputs, target, workdir))
    return problem


def _run(compiled: Compiled, inputs: list[np.ndarray], target: Target, workdir: Path) -> list[np.ndarray]:
    manifest = build_model_image(compiled, target, workdir / "build")
    with Device(manifest, workdir=workdir) as client:
        return GraphModule(client, compiled.graph)(*inputs)
