"""`utvm run-model`: compile a model, build it for a target, run it there, and report
on-device time (and instructions or cycles), code size, RAM and the outputs, checked against
the model's own runtime (TFLite Micro for .tflite, onnxruntime for ONNX)."""

from __future__ import annotations

import statistics
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from harness.build import Manifest, build
from harness.build.footprint import RUNTIME_COMPONENTS
from harness.device import Device
from harness.errors import ModelError, UtvmError
from harness.models.compile import records
from harness.models.compile.graph import Graph
from harness.models.compile.model import Compiled, Scheduler, compile_model
from harness.models.deploy import fit
from harness.models.deploy import reference as references
from harness.models.deploy.graph_client import GraphModule
from harness.models.frontends.loaded import LoadedModel, read_model
from harness.targets import Target, get_target


@dataclass
class ModelRun:
    report: dict[str, Any]
    outputs: list[np.ndarray]


def load_inputs(graph: Graph, path: Path | None, seed: int = 0) -> list[np.ndarray]:
    """From an .npz (keys: input names, or input_0, input_1, ...), else seeded random data."""
    specs = [graph.tensors[i] for i in graph.inputs]
    if path is None:
        rng = np.random.default_rng(seed)
        return [_random(rng, s.shape, s.dtype) for s in specs]
    try:
        data = np.load(path)
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise UtvmError(f"cannot read inputs {path}: {exc}") from None
    out = []
    for i, s in enumerate(specs):
        key = s.name if s.name in data else f"input_{i}"
        if key not in data:
            raise UtvmError(f"{path} has no array {s.name!r} or 'input_{i}' (it has {sorted(data.files)})")
        array = data[key]
        if tuple(array.shape) != s.shape:
            raise UtvmError(f"input {s.name!r}: shape {array.shape} in {path}, the model expects {s.shape}")
        out.append(array.astype(s.dtype))
    return out


def _random(rng: np.random.Generator, shape: tuple[int, ...], dtype: str) -> np.ndarray:
    if np.dtype(dtype).kind in "iu":
        info = np.iinfo(dtype)
        if info.bits == 8:  # quantized data: the whole range
            return rng.integers(info.min, info.max, size=shape, endpoint=True).astype(dtype)
        return rng.integers(max(info.min, -100), min(info.max, 100), size=shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def build_model_image(compiled: Compiled, target: str, out: Path) -> Manifest:
    """The target's image with the model's kernels and graph (sources in `out`, image in out/image)."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "kernels.c").write_text(compiled.kernels_c)
    (out / "model_graph.c").write_text(compiled.graph.to_c())
    return build(get_target(target), out / "image", [out / "kernels.c", out / "model_graph.c"])


def compile_for(model: Path, target: Target, tuning: str | Path | None = None,
                scheduler: Scheduler | None = None) -> tuple[Compiled, LoadedModel]:
    """The model compiled (kernels scheduled by the tuning database, if any, the others by `scheduler`,
    compile_model's), and the model as it was read (once); ModelError if its plan cannot fit the
    target."""
    loaded = read_model(model)
    compiled = compile_model(loaded, scheduler=scheduler, tuning=records.resolve(tuning, target.name))
    try:
        fit.check(compiled.graph, target)
    except fit.ModelTooBig as exc:
        raise ModelError(str(exc)) from None
    return compiled, loaded


def run_model(model: Path, target: str, out: Path, inputs: Path | None = None, repeat: int = 10,
              tuning: str | Path | None = None) -> ModelRun:
    """`tuning`: a tuning database directory, or "auto" for the one shipped for the target."""
    if repeat < 1:
        raise UtvmError("--repeat must be at least 1")
    tgt = get_target(target)
    compiled, loaded = compile_for(model, tgt, tuning)
    ref = references.for_model(loaded, compiled)
    manifest = build_model_image(compiled, target, out)
    (out / "graph.json").write_text(compiled.graph.to_json())
    graph = compiled.graph
    xs = load_inputs(graph, inputs)
    with Device(manifest, workdir=out) as client:
        module = GraphModule(client, graph)
        outputs = module(*xs)
        times = module.time_run(repeat=repeat)
        nodes = module.profile()
        stats = client.stats()
    expected = ref.run(xs)
    report = {
        "model": str(model), "format": loaded.format, "target": target, "image": manifest.artifact,
        "time_ms": _times(times),
        **_counts(tgt, times),
        "nodes": [{"kernel": k, "time_ms": round(t * 1e3, 6)} for k, t in nodes],
        "code_size": code_size(manifest),
        "ram": {**_ram(graph, manifest, stats), "reference_arena_bytes": ref.arena_bytes},
        "reference": ref.describe(),
        "tuning": {"database": str(tuning), "kernels": compiled.tuned} if tuning is not None else None,
        "outputs": [_describe(o, e, graph.tensors[t].scale)
                    for o, e, t in zip(outputs, expected, graph.outputs, strict=True)],
    }
    return ModelRun(report, outputs)


def _counts(target: Target, seconds: list[float]) -> dict[str, dict[str, int]]:
    """Instructions per inference where time counts them (QEMU -icount); cycles on a real board."""
    out = {}
    if target.icount_shift is not None:
        counts = sorted(target.instructions(s) or 0 for s in seconds)
        out["instructions"] = {"median": int(statistics.median(counts)), "min": counts[0], "max": counts[-1]}
    elif target.cpu_hz is not None:
        counts = sorted(target.cycles(s) or 0 for s in seconds)
        out["cycles"] = {"median": int(statistics.median(counts)), "min": counts[0], "max": counts[-1]}
    return out


def _times(seconds: list[float]) -> dict[str, float]:
    ms = sorted(t * 1e3 for t in seconds)
    return {"median": round(statistics.median(ms), 6), "min": round(ms[0], 6), "max": round(ms[-1], 6),
            "spread_pct": round(100 * (ms[-1] - ms[0]) / statistics.median(ms), 3) if ms[0] > 0 else 0.0,
            "repeats": len(ms)}


def kernel_sizes(elf: str, names: list[str]) -> dict[str, int]:
    """Bytes of code of each kernel (its __tvm_ffi_<name> function), from the ELF's symbols."""
    from elftools.elf.elffile import ELFFile

    wanted = {f"__tvm_ffi_{n}": n for n in names}
    with open(elf, "rb") as f:
        symtab = ELFFile(f).get_section_by_name(".symtab")
        return {wanted[s.name]: int(s["st_size"]) for s in symtab.iter_symbols() if s.name in wanted}


def code_size(m: Manifest) -> dict[str, Any]:
    flash = m.footprint.get("flash", {})
    split = {"runtime": sum(flash.get(k, 0) for k in RUNTIME_COMPONENTS),
             "graph_executor": flash.get("graph executor", 0), "kernels": flash.get("kernels", 0),
             "params": flash.get("params", 0)}
    return {"text": m.size["text"], "data": m.size["data"], "bss": m.size["bss"], **split,
            "other": max(sum(flash.values()) - sum(split.values()), 0),
            "per_kernel": kernel_sizes(m.artifact, m.functions)}


def _ram(graph: Graph, m: Manifest, stats: dict[str, Any]) -> dict[str, Any]:
    port = stats.get("port", {})
    return {"arena_bytes": graph.arena_bytes,
            "workspace_high_water": stats["workspace"]["high_water"],
            "data_in_use": stats["data"]["in_use"],
            "static_bytes": m.size["data"] + m.size["bss"],
            "stack_used": port.get("stack_used"),  # None where the port cannot tell (host)
            "stack_size": port.get("stack_size")}


def _describe(got: np.ndarray, expected: np.ndarray, scale: float | None = None) -> dict[str, Any]:
    return {"shape": list(got.shape), "dtype": str(got.dtype), **references.compare(got, expected, scale),
            "values": got.flatten()[:8].tolist()}


def _stack(ram: dict[str, Any]) -> str:
    return f", stack {ram['stack_used']} of {ram['stack_size']} B" if ram["stack_used"] is not None else ""


def text_report(r: dict[str, Any]) -> list[str]:
    t, c, ram = r["time_ms"], r["code_size"], r["ram"]
    lines = [f"{r['model']} on {r['target']}",
             f"  time on device: median {t['median']:.4f} ms (min {t['min']:.4f}, max {t['max']:.4f}, "
             f"spread {t['spread_pct']:.2f}% over {t['repeats']} runs)" + _count_text(r),
             f"  code size: text {c['text']} B, data {c['data']} B, bss {c['bss']} B; "
             f"runtime {c['runtime']}, graph executor {c['graph_executor']}, kernels {c['kernels']}, "
             f"parameters {c['params']} B",
             f"  RAM: activations {ram['arena_bytes']} B, workspace high water "
             f"{ram['workspace_high_water']} B, static {ram['static_bytes']} B" + _stack(ram) + _beside(r)]
    sizes = c.get("per_kernel", {})
    for n in r["nodes"]:
        lines.append(f"    {n['kernel']:<40} {n['time_ms']:.4f} ms  {sizes.get(n['kernel'], 0):>6} B of code")
    ref = r["reference"]
    for i, o in enumerate(r["outputs"]):
        verdict = "matches" if o["matches_reference"] else "DIFFERS from"
        lsb = f", {o['max_diff_lsb']:.3g} LSB" if o["max_diff_lsb"] is not None else ""
        lines.append(f"  output_{i}: {o['dtype']}{o['shape']} {verdict} {ref['runtime']} {ref['version']} "
                     f"(max abs diff {o['max_abs_diff']:.3g}{lsb}; top-1 "
                     f"{'agrees' if o['top1_agrees'] else 'DIFFERS'}); first values {o['values']}")
    return lines


def _count_text(r: dict[str, Any]) -> str:
    for key in ("instructions", "cycles"):
        if key in r:
            return f"; {r[key]['median'] / 1e6:.3f} M {key} per inference (median)"
    return ""


def _beside(r: dict[str, Any]) -> str:
    arena = r["ram"].get("reference_arena_bytes")
    if arena is None:
        return ""
    ours = r["ram"]["arena_bytes"] + r["ram"]["workspace_high_water"]
    return f"; activations + workspace {ours} B beside TFLite Micro's arena of {arena} B"
