"""`utvm tune`: the command line of the tuner."""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from harness.errors import UtvmError
from harness.models.compile import budget as ram
from harness.targets.config import add_config_argument

EPILOG = """examples:
  utvm tune kws01.tflite --target qemu-mps2-an386 --trials 64 --db tuned/kws01
  utvm run-model kws01.tflite --target qemu-mps2-an386 --tuning tuned/kws01
  utvm package kws01.tflite --out lib --tuning tuned/kws01
  python -m tvm.exec.rpc_tracker --host 127.0.0.1 --port 9000 &      # a measurement farm:
  ssh -N -L 9000:127.0.0.1:9000 -R 9191:127.0.0.1:9191 tuner &         # on each lab machine,
  utvm tune-worker --tracker 127.0.0.1:9000 --key m4 --target qemu-mps2-an386 --port 9191  # its own port
  utvm tune kws01.tflite --target qemu-mps2-an386 --tracker 127.0.0.1:9000 --key m4

Kernels are searched with MetaSchedule and measured on the device (instructions on QEMU, cycles on
boards); every candidate's output is checked against the default schedule first. Records go to
MetaSchedule's JSON database in --db: run the same command again to resume (trials already in the
database count toward --trials). The report (report.txt, report.html, report.json) goes there too.
A tune-worker is TVM's RPC server, without authentication: it serves on loopback (reach it through
SSH tunnels, as above), and builds and runs what it is sent in the project's toolchain container."""


def parse_duration(text: str) -> float:
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*", text)
    if not m:
        raise UtvmError(f"--time {text!r}: expected a duration like 90s, 20m or 1h")
    return float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[m.group(2)]


def add_tune(sub: argparse._SubParsersAction, default_target: str) -> None:
    p = sub.add_parser("tune", help="autotune a model's kernels on a device (MetaSchedule, measured on the "
                       "target)", epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="a .tflite or ONNX model (format read from the content)")
    p.add_argument("--target", default=default_target, help="where candidates are measured (`utvm targets`)")
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--trials", type=int, default=64, help="candidates to measure in all (default 64)")
    budget.add_argument("--time", metavar="DURATION", help="stop after this long, e.g. 20m (trials: 10000)")
    p.add_argument("--db", metavar="DIR", help="tuning database (default tuning/MODEL-TARGET)")
    p.add_argument("--devices", type=int, default=0, help="local devices measuring at once (default: one "
                   "per core)")
    p.add_argument("--tracker", metavar="HOST:PORT", help="measure on `utvm tune-worker`s registered with "
                   "this TVM RPC tracker (python -m tvm.exec.rpc_tracker) instead of local devices")
    p.add_argument("--key", help="the workers' key at the tracker (with --tracker)")
    p.add_argument("--inventory", metavar="LAB.yaml", help="measure on boards of a HIL inventory, leased as "
                   "the nightly leases them (so tuning by day and testing by night never share a board)")
    p.add_argument("--board", action="append", default=[], help="a board of the inventory (repeat; "
                   "default: every board of --target)")
    p.add_argument("--seed", type=int, default=0)
    ram.add_argument(p)
    p.add_argument("--no-model-check", action="store_true", help="skip running the whole model before and "
                   "after (and comparing it with the model's own runtime)")
    p.add_argument("--executor", choices=("graph", "aot"), default="graph", help="the executor the whole "
                   "model runs through before and after (the kernels tuned are the same either way)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    add_config_argument(p)  # records are measured (and kept) under the configured target's name
    p.set_defaults(func=_cmd_tune)
    e = sub.add_parser("tune-export", help="merge a tuning database's best records into a small records "
                       "file (what `--tuning auto` reads: tuning/TARGET/best.json)")
    e.add_argument("db", metavar="DIR", help="a `utvm tune` database")
    e.add_argument("--to", metavar="FILE", help="records file (default: the shipped one for the database's "
                   "target, in this checkout)")
    e.set_defaults(func=_cmd_export)
    w = sub.add_parser("tune-worker", help="serve `utvm tune` measurements for a TVM RPC tracker: build, "
                       "flash and measure what the tuner sends, on this machine's device")
    w.add_argument("--tracker", required=True, metavar="HOST:PORT")
    w.add_argument("--key", required=True, help="the key the tuner asks the tracker for")
    w.add_argument("--target", default=default_target, help="this machine's device (`utvm targets`)")
    w.add_argument("--host", default="127.0.0.1", help="address to serve on (default 127.0.0.1: reach it "
                   "through an SSH tunnel; any other address opens it to that network, see README)")
    w.add_argument("--port", type=int, default=9190, help="first port to try (default 9190)")
    w.add_argument("--no-sandbox", action="store_true", help="build and run what arrives on this machine "
                   "directly, not in the toolchain container (only for a worker no one else can reach)")
    add_config_argument(w)
    w.set_defaults(func=_cmd_worker)


def _cmd_export(args: argparse.Namespace) -> int:
    from harness.models.compile import records

    db = records.Database.open(Path(args.db))
    out = Path(args.to) if args.to else records.shipped(db.target)
    n = records.export_best(db, out)
    print(f"{n} kernels' best records of {db.target} merged into {out}")
    return 0


def _cmd_worker(args: argparse.Namespace) -> int:
    import signal
    import threading

    from harness.tune.remote import exposure_warning, serve

    unsandboxed = "--no-sandbox: what arrives is built and run on this machine" if args.no_sandbox else None
    for warning in (exposure_warning(args.host), unsandboxed):
        if warning:
            print(f"utvm tune-worker: warning: {warning}", file=sys.stderr, flush=True)
    server = serve(args.tracker, args.key, args.target, args.host, args.port, sandboxed=not args.no_sandbox)
    print(f"utvm tune-worker: {args.target} serving key {args.key!r} on port {server.port} for tracker "
          f"{args.tracker}", file=sys.stderr, flush=True)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    server.terminate()
    return 0


def _cmd_tune(args: argparse.Namespace) -> int:
    from harness.models.frontends import formats
    from harness.tune import report
    from harness.tune.session import TuneOptions, tune

    model = Path(args.model)
    if not model.is_file():
        raise UtvmError(f"no model file {model}")
    if args.devices < 0:
        raise UtvmError("--devices must be positive")
    db = Path(args.db) if args.db else Path("tuning") / f"{model.stem}-{args.target}"
    limit = parse_duration(args.time) if args.time else None
    if bool(args.tracker) != bool(args.key):
        raise UtvmError("--tracker and --key go together")
    if args.board and not args.inventory:
        raise UtvmError("--board names a board of an --inventory")
    if args.tracker and args.inventory:
        raise UtvmError("--tracker and --inventory are two different farms: give one")
    formats.detect(model)  # neither TFLite nor ONNX: say so before anything starts
    ram.with_budget(db, args.ram_budget)  # a budget that is not a positive number: before tuning
    slots = _device_slots(args)
    opts = TuneOptions(target=args.target, db=db, trials=10000 if limit else args.trials, time_limit=limit,
                       devices=args.devices, seed=args.seed, slots=slots)
    try:
        result = tune(model, opts)
    finally:
        for slot in slots:
            slot.close()
    whole = None if args.no_model_check else model_check(model, args.target, db, args.executor,
                                                         args.ram_budget)
    d = report.as_dict(result, whole)
    (db / "report.json").write_text(json.dumps(d, indent=2) + "\n")
    (db / "report.txt").write_text("\n".join(report.text(d)) + "\n")
    (db / "report.html").write_text(report.html_page(d))
    print(json.dumps(d, indent=2) if args.json else "\n".join(report.text(d)))
    if whole is not None and not whole["matches_reference"]:
        print(f"utvm: the tuned model's outputs differ from {whole['reference']}", file=sys.stderr)
        return 1
    return 0


def _device_slots(args: argparse.Namespace) -> list[Any]:
    """Devices from a tracker or a lab inventory (the flags checked by _cmd_tune); none (local
    devices) otherwise."""
    if args.tracker:
        from harness.tune.remote import tracker_slots

        return tracker_slots(args.tracker, args.key, args.devices)
    if args.inventory:
        from importlib.metadata import entry_points

        found = {e.name: e for e in entry_points(group="utvm.tune_devices")}
        if "inventory" not in found:
            raise UtvmError("--inventory needs utvm's CI service (utvm_ci) installed beside the harness")
        return list(found["inventory"].load()(Path(args.inventory), args.board, args.target))
    return []


def model_check(model: Path, target: str, db: Path, executor: str = "graph",
                ram_budget: int | None = None) -> dict[str, Any]:
    """The whole model before and after, on the target, through `executor` (the tuned kernels are the
    same functions either way), with outputs against the model's own runtime; after, within the RAM
    budget (harness.models.compile.budget; None: the untuned model's RAM)."""
    from harness.models.deploy.run import run_model

    runs = {}
    for label, tuning in (("before", None), ("after", ram.with_budget(db, ram_budget))):
        runs[label] = run_model(model, target, db / "runs" / label, repeat=3, tuning=tuning,
                                executor=executor).report
    key = next((k for k in ("instructions", "cycles") if k in runs["after"]), None)

    def figure(r: dict[str, Any]) -> float:
        return float(r[key]["median"]) if key else float(r["time_ms"]["median"]) * 1e3

    before, after = figure(runs["before"]), figure(runs["after"])
    outs = runs["after"]["outputs"]
    return {"executor": executor, "unit": key or "us", "before": before, "after": after,
            "speedup": before / after if after else 0.0,
            "reference": f"{runs['after']['reference']['runtime']} {runs['after']['reference']['version']}",
            "max_diff_lsb": max((o["max_diff_lsb"] or 0) for o in outs),
            "top1_agrees": all(o["top1_agrees"] for o in outs),
            "matches_reference": all(o["matches_reference"] for o in outs),
            "tuned_kernels": runs["after"]["tuning"]["kernels"],
            "budget_note": runs["after"]["tuning"].get("budget_note", "")}
