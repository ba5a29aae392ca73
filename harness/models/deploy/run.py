"""`utvm run-model`: compile a model, build it for a target, run it there, and report
on-device time (and instructions or cycles), code size, RAM and the outputs, checked against
the model's own runtime (TFLite Micro for .tflite, onnxruntime for ONNX)."""

from __future__ import annotations

import statistics
import zipfile
from collections.abc import Callable
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
from harness.models.compile.unpacked import PREFIX as UNPACKED_PREFIX
from harness.models.deploy import fit
from harness.models.deploy import overhead as overheads
from harness.models.deploy import reference as references
from harness.models.deploy.executors import DEFAULT as DEFAULT_EXECUTOR
from harness.models.deploy.executors import get_executor
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


def build_model_image(compiled: Compiled, target: Target, out: Path,
                      executor: str = DEFAULT_EXECUTOR) -> Manifest:
    """The target's image with the model's kernels and graph, as the executor runs it (a graph table
    or AOT calls; sources in `out`, image in out/image)."""
    out.mkdir(parents=True, exist_ok=True)
    sources = []
    for name, text in get_executor(executor).sources(compiled).items():
        (out / name).write_text(text)
        sources.append(out / name)
    return build(target, out / "image", sources)


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
              tuning: str | Path | None = None, executor: str = DEFAULT_EXECUTOR,
              overhead: bool = False) -> ModelRun:
    """`tuning`: a tuning database directory, or "auto" for the one shipped for the target.
    `executor`: "graph" or "aot" (harness.models.deploy.executors). `overhead`: also time each kernel called
    directly and report the executor's own cost per inference (the run less its kernels)."""
    if repeat < 1:
        raise UtvmError("--repeat must be at least 1")
    ex = get_executor(executor)
    tgt = get_target(target)
    compiled, loaded = compile_for(model, tgt, tuning)
    ref = references.for_model(loaded, compiled)
    manifest = build_model_image(compiled, tgt, out, executor)
    (out / "graph.json").write_text(compiled.graph.to_json())
    graph = compiled.graph
    xs = load_inputs(graph, inputs)
    with Device(manifest, workdir=out) as client:
        module = ex.module(client, graph)
        outputs = module(*xs)
        times = module.time_run(repeat=repeat)
        nodes = module.profile()
        stats = client.stats()
        kernels = overheads.kernel_seconds(client, graph, xs) if overhead and ex.packed_kernels else None
    if overhead and kernels is None:  # an image without packed kernels: time them on the graph image's
        kernels = _kernel_seconds(compiled, tgt, out / "kernels", xs)
    expected = ref.run(xs)
    report = {
        "model": str(model), "format": loaded.format, "target": target, "executor": executor,
        "image": manifest.artifact,
        "time_ms": _times(times),
        **_counts(tgt, times),
        **({"executor_overhead": overheads.overhead(statistics.median(times), kernels, _counter(tgt))}
           if kernels is not None else {}),
        "nodes": [{"kernel": k, "time_ms": round(t * 1e3, 6)} for k, t in nodes],
        "code_size": {**code_size(manifest, sorted({n.func for n in graph.nodes})),
                      "executor": _executor_bytes(manifest, executor)},
        "ram": {**_ram(graph, manifest, stats), "reference_arena_bytes": ref.arena_bytes},
        "reference": ref.describe(),
        "tuning": {"database": str(tuning), "kernels": compiled.tuned, **_budget(compiled)}
        if tuning is not None else None,
        "outputs": [_describe(o, e, graph.tensors[t].scale) for o, e, t in
                    zip(outputs, expected or [None] * len(outputs), graph.outputs, strict=True)],
    }
    return ModelRun(report, outputs)


def _kernel_seconds(compiled: Compiled, target: Target, out: Path, xs: list[np.ndarray]) -> list[float]:
    """Each kernel called directly through its packed entry, on the graph executor's image of the model
    (the same kernels' code, with TVM's argument checks in front)."""
    with Device(build_model_image(compiled, target, out, "graph"), workdir=out) as client:
        return overheads.kernel_seconds(client, compiled.graph, xs)


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


def _counter(target: Target) -> Callable[[float], int | None]:
    """Seconds to instructions (QEMU -icount) or cycles (a real board's clock), else None."""
    return target.instructions if target.icount_shift is not None else target.cycles


def _times(seconds: list[float]) -> dict[str, float]:
    ms = sorted(t * 1e3 for t in seconds)
    return {"median": round(statistics.median(ms), 6), "min": round(ms[0], 6), "max": round(ms[-1], 6),
            "spread_pct": round(100 * (ms[-1] - ms[0]) / statistics.median(ms), 3) if ms[0] > 0 else 0.0,
            "repeats": len(ms)}


def kernel_sizes(elf: str, names: list[str]) -> dict[str, int]:
    """Bytes of code of each kernel, from the ELF's symbols: its plain function utvm_k_<name> (its
    loops) plus, in a graph image, its packed entry __tvm_ffi_<name> (the argument checks)."""
    from elftools.elf.elffile import ELFFile

    wanted = {f"{prefix}{n}": n for n in names for prefix in ("__tvm_ffi_", UNPACKED_PREFIX)}
    sizes: dict[str, int] = {}
    with open(elf, "rb") as f:
        for s in ELFFile(f).get_section_by_name(".symtab").iter_symbols():
            if s.name in wanted:
                sizes[wanted[s.name]] = sizes.get(wanted[s.name], 0) + int(s["st_size"])
    return sizes


def code_size(m: Manifest, kernels: list[str] | None = None) -> dict[str, Any]:
    """Flash split by component; `kernels`: the names to size (default: the image's functions)."""
    flash = m.footprint.get("flash", {})
    split = {"runtime": sum(flash.get(k, 0) for k in RUNTIME_COMPONENTS),
             "graph_executor": flash.get("graph executor", 0), "graph_table": flash.get("graph table", 0),
             "aot_executor": flash.get("aot executor", 0), "kernels": flash.get("kernels", 0),
             "params": flash.get("params", 0)}
    return {"text": m.size["text"], "data": m.size["data"], "bss": m.size["bss"], **split,
            "other": max(sum(flash.values()) - sum(split.values()), 0),
            "per_kernel": kernel_sizes(m.artifact, kernels if kernels is not None else m.functions)}


def _ram(graph: Graph, m: Manifest, stats: dict[str, Any]) -> dict[str, Any]:
    port = stats.get("port", {})
    return {"arena_bytes": graph.arena_bytes,
            "workspace_high_water": stats["workspace"]["high_water"],
            "data_in_use": stats["data"]["in_use"],
            "static_bytes": m.size["data"] + m.size["bss"],
            "stack_used": port.get("stack_used"),  # None where the port cannot tell (host)
            "stack_size": port.get("stack_size")}


def _describe(got: np.ndarray, expected: np.ndarray | None, scale: float | None = None) -> dict[str, Any]:
    """The output against the reference's (all None where no reference could run the model)."""
    checked = references.compare(got, expected, scale) if expected is not None else dict.fromkeys(
        ("max_abs_diff", "max_diff_lsb", "top1_agrees", "matches_reference"))
    return {"shape": list(got.shape), "dtype": str(got.dtype), **checked,
            "values": got.flatten()[:8].tolist()}


def _budget(compiled: Compiled) -> dict[str, Any]:
    """The tuning's RAM budget and the kernels that fell back to fit it (harness.models.compile.budget)."""
    fit = compiled.budget
    if fit is None:
        return {}
    return {"ram_budget": fit.budget, "fell_back": dict(fit.fell_back), "budget_note": fit.describe()}


def _stack(ram: dict[str, Any]) -> str:
    return f", stack {ram['stack_used']} of {ram['stack_size']} B" if ram["stack_used"] is not None else ""


def text_report(r: dict[str, Any]) -> list[str]:
    t, c, ram = r["time_ms"], r["code_size"], r["ram"]
    lines = [f"{r['model']} on {r['target']}",
             f"  time on device: median {t['median']:.4f} ms (min {t['min']:.4f}, max {t['max']:.4f}, "
             f"spread {t['spread_pct']:.2f}% over {t['repeats']} runs)" + _count_text(r),
             f"  code size: text {c['text']} B, data {c['data']} B, bss {c['bss']} B; "
             f"runtime {c['runtime']}, {_executor_text(r)}, kernels {c['kernels']}, "
             f"parameters {c['params']} B",
             f"  RAM: activations {ram['arena_bytes']} B, workspace high water "
             f"{ram['workspace_high_water']} B, static {ram['static_bytes']} B" + _stack(ram) + _beside(r)]
    lines += _overhead_text(r)
    if r.get("tuning") and "ram_budget" in r["tuning"]:
        lines.append(f"  tuning: {r['tuning']['budget_note']}")
    sizes = c.get("per_kernel", {})
    for n in r["nodes"]:
        lines.append(f"    {n['kernel']:<40} {n['time_ms']:.4f} ms  {sizes.get(n['kernel'], 0):>6} B of code")
    ref = r["reference"]
    if ref["runtime"] == "none":
        lines.append(f"  no reference could run the model, outputs unchecked ({ref.get('note', '')})")
    elif ref.get("note"):
        lines.append(f"  reference: {ref['runtime']} {ref['version']} ({ref['note']})")
    for i, o in enumerate(r["outputs"]):
        if o["matches_reference"] is None:
            lines.append(f"  output_{i}: {o['dtype']}{o['shape']}; first values {o['values']}")
            continue
        verdict = "matches" if o["matches_reference"] else "DIFFERS from"
        lsb = f", {o['max_diff_lsb']:.3g} LSB" if o["max_diff_lsb"] is not None else ""
        lines.append(f"  output_{i}: {o['dtype']}{o['shape']} {verdict} {ref['runtime']} {ref['version']} "
                     f"(max abs diff {o['max_abs_diff']:.3g}{lsb}; top-1 "
                     f"{'agrees' if o['top1_agrees'] else 'DIFFERS'}); first values {o['values']}")
    return lines


def _executor_bytes(m: Manifest, executor: str) -> int:
    """Flash of the executor's code and its tables of the model (harness.models.deploy.executors)."""
    return sum(m.footprint.get("flash", {}).get(k, 0) for k in get_executor(executor).footprint)


def _executor_text(r: dict[str, Any]) -> str:
    return f"{r['executor']} executor {r['code_size']['executor']} ({get_executor(r['executor']).parts})"


def _overhead_text(r: dict[str, Any]) -> list[str]:
    o = r.get("executor_overhead")
    if o is None:
        return []
    unit = next((k for k in ("instructions", "cycles") if k in r), "")
    count = f" ({o['overhead_count']} {unit})" if "overhead_count" in o else ""
    where = "" if get_executor(r["executor"]).packed_kernels else " through their packed entries"
    return [f"  executor overhead per inference: {o['overhead_ms']:.4f} ms{count} (the run less its kernels "
            f"called directly{where}, {o['kernels_ms']:.4f} ms)"]


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
