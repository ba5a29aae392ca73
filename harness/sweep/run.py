"""The cells of a sweep: models compiled once per tuning, images built in parallel (harness.build
reuses an image while its content holds), each run on a device and checked against the model's own
runtime. A cell that fails is a row with its error; the sweep goes on."""

from __future__ import annotations

import math
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock

from harness import resources
from harness.build import Manifest
from harness.errors import UtvmError, last_line
from harness.models.compile.model import Compiled
from harness.models.deploy import fit
from harness.models.deploy.check import seeded_agreement
from harness.models.deploy.executors import get_executor
from harness.models.deploy.reference import Reference
from harness.models.deploy.run import build_model_image, load_inputs
from harness.rpc import RPCClient
from harness.sweep.configs import CellError, configured
from harness.sweep.devices import Devices
from harness.sweep.models import SweepModel, records_for
from harness.sweep.plan import Axes, Cell
from harness.targets import Target
from harness.targets.config import BuildConfig

Row = dict[str, Any]
# Every row has these keys (None where the cell has no such figure).
ROW_KEYS = ("target", "executor", "weights", "opt", "tuning", "config", "instructions", "cycles", "seconds",
            "flash_bytes", "ram_bytes", "max_diff_lsb", "top1_agree", "inputs", "error")
TIMED_RUNS = 3  # the fastest of these; where device time is exact (-icount, a cycle counter) one is enough


@dataclass(frozen=True)
class SweepOptions:
    jobs: int = 1  # cells built and run at once (local devices at once)
    inputs: int = 5  # seeded inputs each cell is checked on
    cache: Path | None = None  # where images are built (default: the harness cache)


def empty_row(cell: Cell) -> Row:
    return {**dict.fromkeys(ROW_KEYS), **cell.axes()}


@dataclass(frozen=True)
class Prepared:
    """A cell ready to build: its configured target, the configuration and the model compiled for it."""

    target: Target
    config: BuildConfig
    compiled: Compiled


def prepare(cell: Cell, sweep: SweepModel, compiling: Callable[[str], None]) -> Prepared | str:
    """The cell configured and its model compiled (TVM: call it from one thread), or why not."""
    stage = "configure"
    try:
        target, config = configured(cell)
        stage = "compile"
        records = records_for(cell.tuning, target.name)
        compiling(f"compiling {sweep.path.name}" + (f" with {records}" if records else ""))
        return Prepared(target, config, sweep.compile(records))
    except UtvmError as exc:
        return f"{stage}: {last_line(exc)}"


def run_sweep(sweep: SweepModel, axes: Axes, devices: Devices, options: SweepOptions,
              done: Callable[[Row], None] = lambda row: None,
              compiling: Callable[[str], None] = lambda what: None) -> list[Row]:
    """Every cell of the axes, in their order."""
    cells = axes.cells()
    prepared = {cell: prepare(cell, sweep, compiling) for cell in cells}  # compiled once per records
    cache = options.cache or resources.cache_dir()
    rows: dict[Cell, Row] = {}
    with ThreadPoolExecutor(max_workers=max(options.jobs, 1)) as pool:
        futures = {pool.submit(run_cell, c, prepared[c], sweep, devices, cache, options.inputs): c
                   for c in cells}
        for future in as_completed(futures):
            rows[futures[future]] = future.result()
            done(rows[futures[future]])
    return [rows[c] for c in cells]


def run_cell(cell: Cell, prepared: Prepared | str, sweep: SweepModel, devices: Devices, cache: Path,
             inputs: int) -> Row:
    """The cell's row: its figures, or the stage and the error that stopped it."""
    row = empty_row(cell)
    if isinstance(prepared, str):
        row["error"] = prepared
        return row
    target, config, compiled = prepared.target, prepared.config, prepared.compiled
    row.update(config.axes())  # what the cell runs: the default configuration's weights too
    stage = "fit"
    try:
        fits(compiled, target, cache)
        stage = "build"
        out = cache / "sweep" / f"{sweep.path.stem}-{sweep.sha256[:16]}" / cell.key
        out.mkdir(parents=True, exist_ok=True)
        with FileLock(str(out) + ".lock"):  # another sweep building the same cell
            manifest = build_model_image(compiled, target, out, cell.executor)
        stage = "run"
        with devices.device(manifest, out / "run", cell.target) as client:
            row.update(measure(client, manifest, compiled, target, cell.executor, sweep.reference, inputs))
        if config.weights == "ram":  # copied there at start: the model's RAM holds them too
            row["ram_bytes"] += int(compiled.graph.plan_stats.get("params_bytes", 0))
    except Exception as exc:  # a cell's failure, whatever it is, is its row's error; the sweep goes on
        row["error"] = f"{stage}: {last_line(exc)}"
    return row


def fits(compiled: Compiled, target: Target, cache: Path) -> None:
    try:
        fit.check(compiled.graph, target, cache)
    except fit.ModelTooBig as exc:
        raise CellError(str(exc)) from None


def counts(target: Target, seconds: float) -> Row:
    """Instructions where time counts them (QEMU -icount), else cycles (a real board's clock)."""
    if target.icount_shift is not None:
        return {"instructions": target.instructions(seconds), "cycles": None}
    return {"instructions": None, "cycles": target.cycles(seconds)}


def measure(client: RPCClient, manifest: Manifest, compiled: Compiled, target: Target, executor: str,
            reference: Reference, inputs: int) -> Row:
    """Seeded inputs on the device and the reference, one inference timed, the image's flash and the
    model's RAM (activation arena + the kernels' workspace high water; run_cell adds the parameters
    where the configuration copies them to RAM)."""
    graph = compiled.graph
    module = get_executor(executor).module(client, graph)
    agreement = seeded_agreement(module, reference, inputs)
    for i, x in enumerate(load_inputs(graph, None, seed=0)):  # time a known input
        module.set_input(i, x)
    seconds = min(module.time_run(repeat=1 if "exact_time" in target.features else TIMED_RUNS))
    stats = client.stats()
    lsb = agreement.max_diff_lsb
    return {**counts(target, seconds),
            "seconds": seconds, "flash_bytes": manifest.size["text"] + manifest.size["data"],
            "ram_bytes": graph.arena_bytes + int(stats["workspace"]["high_water"]),
            "max_diff_lsb": lsb if math.isfinite(lsb) else None, "top1_agree": agreement.top1_agree,
            "inputs": agreement.inputs,
            "error": None if math.isfinite(lsb) else "check: the outputs' shapes differ from the reference's"}
