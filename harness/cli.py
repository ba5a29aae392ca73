"""The `utvm` command."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import tempfile
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import numpy as np

from harness import requirements
from harness.build import build
from harness.device import bench
from harness.errors import UtvmError
from harness.fuzz.command import add_fuzz
from harness.models.compile import budget
from harness.sweep.command import add_sweep
from harness.targets import all_targets, get_target, with_config
from harness.targets.config import ConfigError, add_config_argument
from harness.targets.docker import ensure_qemu_image
from harness.tune.command import add_tune

DEFAULT_TARGET = "host"
# Other packages add subcommands here: an entry point is a function that takes the subparsers.
COMMANDS_GROUP = "utvm.commands"


def _cmd_build(args: argparse.Namespace) -> int:
    manifest = build(get_target(args.target), Path(args.out), [Path(s) for s in args.extra_source],
                     testing=args.testing)
    print(f"built {manifest.artifact}")
    print(f"  functions: {', '.join(manifest.functions) or '(none)'}")
    print(f"  size: text={manifest.size['text']} data={manifest.size['data']} bss={manifest.size['bss']}")
    for kind in ("flash", "ram"):
        parts = ", ".join(f"{k} {v}" for k, v in sorted(manifest.footprint.get(kind, {}).items()))
        print(f"  {kind}: {parts}")
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="utvm-bench-"))
    manifest = build(get_target(args.target), out)
    image = ensure_qemu_image() if args.container else None
    figures = bench.run(manifest, args.kib << 10 if args.kib else None, container_image=image)
    if args.json:
        print(json.dumps([{**f.__dict__, "ok": f.ok} for f in figures], indent=2))
    else:
        where = " in a container" if args.container else ""
        print(f"utvm bench on target {args.target}{where} ({manifest.toolchain})")
        for f in figures:
            print("  " + f.line())
    return 0 if all(f.ok is not False for f in figures) else 1


def _cmd_targets(args: argparse.Namespace) -> int:
    for t in all_targets().values():
        configs = f" (--config {', '.join(sorted(t.configs))})" if t.configs else ""
        print(f"{t.name:<20} {t.description}{configs}")
    return 0


def _cmd_vboard_serve(args: argparse.Namespace) -> int:
    from harness.sim.faults import parse_faults
    from harness.sim.virtual_board import VirtualBoard
    from harness.targets.qemu import boards

    if args.board not in boards():
        raise UtvmError(f"unknown board {args.board!r}; known boards: {', '.join(sorted(boards()))}")
    port = Path(args.port).absolute()
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="utvm-vboard-"))
    vb = VirtualBoard(boards()[args.board], port, workdir, *parse_faults(args.faults))
    signal.signal(signal.SIGTERM, lambda *_: vb.stop())
    if args.elf:
        vb.flash(Path(args.elf))
    print(f"virtual board {args.board} on {port} (control: {port}.ctl, QEMU log: {workdir}/qemu.log)",
          flush=True)
    try:
        vb.serve_forever()
    finally:
        vb.stop()
    return 0


def _cmd_vboard_control(args: argparse.Namespace) -> int:
    from harness.sim.virtual_board import control

    command = " ".join([args.verb, *(str(Path(a).absolute()) if args.verb == "flash" else a
                                     for a in args.arg)])
    print(control(Path(args.port), command))
    return 0


def _add_vboard(sub: argparse._SubParsersAction) -> None:
    vb = sub.add_parser("virtual-board", help="a QEMU board on a pseudo-terminal, behind a fault relay")
    vsub = vb.add_subparsers(dest="action", required=True)
    serve = vsub.add_parser("serve", help="run the board until SIGTERM")
    serve.add_argument("--board", required=True, help="a board of boards/qemu/boards.toml")
    serve.add_argument("--port", required=True, help="path of the serial port to create (a symlink)")
    serve.add_argument("--elf", help="image to flash at start")
    serve.add_argument("--faults", default="", help="link: drop=0.001,corrupt=0.001,delay=0.005,split=0.5; "
                       "board: flash-fail=N,no-boot=1,vanish=BYTES,dead=1")
    serve.add_argument("--workdir", help="where QEMU's log goes (default: a temporary directory)")
    serve.set_defaults(func=_cmd_vboard_serve)
    for verb, text in (("flash", "restart the board with an image"), ("reset", "restart the board"),
                       ("off", "power off"), ("on", "power on"), ("faults", "set the fault plan"),
                       ("status", "print the board's state and fault counts")):
        p = vsub.add_parser(verb, help=text)
        p.add_argument("port")
        if verb in ("flash", "faults"):
            p.add_argument("arg", nargs=1, metavar="ELF" if verb == "flash" else "SPEC")
        p.set_defaults(func=_cmd_vboard_control, verb=verb, arg=[])


def _model_file(name: str) -> Path:
    from harness.models.frontends.formats import ModelFormatError

    model = Path(name)
    if not model.is_file():
        raise ModelFormatError(f"no model file {model}")
    return model


def _tuning(args: argparse.Namespace) -> Any:
    """--tuning with its --ram-budget (harness.models.compile.budget)."""
    return budget.with_budget(args.tuning, args.ram_budget)


def _cmd_run_model(args: argparse.Namespace) -> int:
    from harness.models.deploy.run import run_model, text_report

    model = _model_file(args.model)
    out = Path(args.out) if args.out else Path("build") / "run-model" / f"{model.stem}-{args.target}"
    run = run_model(model, args.target, out, Path(args.inputs) if args.inputs else None, args.repeat,
                    tuning=_tuning(args), executor=args.executor, overhead=args.overhead)
    if args.outputs:
        np.savez(args.outputs, **{f"output_{i}": o for i, o in enumerate(run.outputs)})
    if args.json:
        print(json.dumps(run.report, indent=2))
    else:
        print("\n".join(text_report(run.report)))
    if run.report["reference"]["runtime"] == "none":  # not a failure of ours: said, exit 0
        print(f"utvm: no reference could run the model; its outputs are unchecked "
              f"({run.report['reference']['note']})", file=sys.stderr)
        return 0
    if not all(o["matches_reference"] for o in run.report["outputs"]):
        print(f"utvm: the device's outputs differ from {run.report['reference']['runtime']}", file=sys.stderr)
        return 1
    return 0


def _add_run_model(sub: argparse._SubParsersAction) -> None:
    r = sub.add_parser("run-model", help="compile a model (TFLite or ONNX), run it on a target, report "
                       "time, instructions or cycles, size, RAM and outputs against the model's own runtime")
    r.add_argument("model", help="a .tflite (int8 or float32) or ONNX (float or QDQ) file; the format is "
                   "read from the content")
    r.add_argument("--target", default=DEFAULT_TARGET)
    r.add_argument("--inputs", metavar="IN.npz",
                   help="inputs by name or input_0, ... (default: seeded random)")
    r.add_argument("--outputs", metavar="OUT.npz", help="save output_0, output_1, ... in model order")
    r.add_argument("--repeat", type=int, default=10, help="timed runs on the device (default 10)")
    r.add_argument("--json", action="store_true", help="print one JSON document")
    r.add_argument("--tuning", metavar="DIR|auto", help="schedule kernels by a `utvm tune` database, or "
                   "'auto' for the one shipped for the target")
    budget.add_argument(r)
    r.add_argument("--executor", choices=("graph", "aot"), default="graph", help="run the model through "
                   "the graph executor (a graph table, default) or compiled ahead of time (aot)")
    r.add_argument("--overhead", action="store_true", help="also time each kernel called directly and report "
                   "the executor's own cost per inference")
    r.add_argument("--out", metavar="DIR", help="build directory (default build/run-model/MODEL-TARGET)")
    add_config_argument(r)
    r.set_defaults(func=_cmd_run_model)


def _cmd_package(args: argparse.Namespace) -> int:
    from harness.models.deploy.package import package

    model = _model_file(args.model)
    if args.mlperf_tiny:
        return _package_mlperf(args, model)
    if (args.target and args.tuning != "auto") or args.mlperf_name:
        raise UtvmError("--target and --mlperf-name go with --mlperf-tiny or --tuning auto (a library has "
                        "no target)")
    if args.executor == "aot":
        return _package_aot(args, model)
    pkg = package(model, Path(args.out), name=args.name, param_section=args.param_section,
                  tuning=_tuning(args), target=args.target)
    print(f"packaged {model} as {pkg.name} in {pkg.out}")
    print(f"  header: {pkg.include / (pkg.name + '.h')}; sources: {len(pkg.sources)} files "
          f"({pkg.out / (pkg.name + '.mk')} lists them)")
    print(f"  memory: {pkg.memory_bytes} B buffer ({pkg.graph.arena_bytes} activations, "
          f"{pkg.workspace_bytes} workspace); parameters in {args.param_section}")
    _budget_note(pkg.budget_note)
    return 0


def _budget_note(note: str) -> None:
    if note:
        print(f"  tuning: {note}")


def _package_aot(args: argparse.Namespace, model: Path) -> int:
    from harness.models.deploy.aot_package import package_aot

    pkg = package_aot(model, Path(args.out), name=args.name, param_section=args.param_section,
                      tuning=_tuning(args), target=args.target)
    up = pkg.name.upper()
    print(f"packaged {model} as {pkg.name} (compiled ahead of time) in {pkg.out}")
    print(f"  header: {pkg.include / (pkg.name + '.h')}; sources: {len(pkg.sources)} files "
          f"({pkg.out / (pkg.name + '.mk')} lists them)")
    print(f"  memory: {up}_WORKSPACE_BYTES {pkg.memory_bytes} B (activations) for {pkg.name}_run, "
          f"{up}_KERNEL_WORKSPACE_BYTES {pkg.workspace_bytes} B for utvm_aot_init; parameters in "
          f"{args.param_section}")
    _budget_note(pkg.budget_note)
    return 0


def _package_mlperf(args: argparse.Namespace, model: Path) -> int:
    from harness.models.deploy.mlperf import BAUD, build_mlperf_firmware

    if not args.target:
        raise UtvmError("--mlperf-tiny builds a firmware image: say which board (--target)")
    fw = build_mlperf_firmware(model, args.target, Path(args.out), model_name=args.mlperf_name,
                               name=args.name, param_section=args.param_section, tuning=_tuning(args),
                               executor=args.executor)
    outputs = ", ".join(f"{o.dtype}[{o.count}]" + (f" scale {o.scale:g} zero point {o.zero_point}"
                                                   if o.scale is not None else "") for o in fw.outputs)
    print(f"built the MLPerf Tiny firmware of {model} ({args.executor} executor) for {fw.target}: {fw.elf}")
    for image in fw.flash_images:
        print(f"  flash image: {image}")
    print(f"  m-name-dut-[{fw.device_name}], m-model-[{fw.model_name}]; UART at {BAUD} 8N1")
    print(f"  input: {fw.input_bytes} bytes per db load" + (" (uint8 pixels, less 128 on the device)"
                                                           if fw.pixel_offset else ""))
    print(f"  m-results: {outputs}")
    print(f"  the library it is built from: {fw.package.out} ({fw.package.memory_bytes} B buffer)")
    return 0


def _add_package(sub: argparse._SubParsersAction) -> None:
    from harness.models.compile.graph import DEFAULT_PARAM_SECTION

    p = sub.add_parser("package", help="a model (TFLite or ONNX) as a standalone C library for firmware, "
                       "or (--mlperf-tiny) a firmware image for MLPerf Tiny's benchmark runner")
    p.add_argument("model")
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--name", default="model", help="C prefix of the API and the header's name")
    p.add_argument("--param-section", default=DEFAULT_PARAM_SECTION, help="section the parameters go in")
    p.add_argument("--executor", choices=("graph", "aot"), default="graph", help="the graph executor's API "
                   "(default), or aot: <name>_run(inputs, outputs, workspace), direct kernel calls")
    p.add_argument("--mlperf-tiny", action="store_true",
                   help="also build a firmware image speaking MLPerf Tiny's serial protocol (needs --target)")
    p.add_argument("--target", help="the board the --mlperf-tiny firmware (or --tuning auto) is for "
                   "(see `utvm targets`)")
    p.add_argument("--tuning", metavar="DIR|auto", help="schedule kernels by a `utvm tune` database "
                   "(the packaged library runs exactly the kernels that were measured)")
    budget.add_argument(p)
    p.add_argument("--mlperf-name", help="the model's name in m-model-[...]: kws01, vww01, ic01 or ad01 "
                   "(default: the model file's stem)")
    add_config_argument(p)
    p.set_defaults(func=_cmd_package)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="utvm", description="Build, run and test the utvm runtime.")
    sub = p.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="build the runtime image for a target")
    b.add_argument("--target", default=DEFAULT_TARGET)
    b.add_argument("--extra-source", action="append", default=[], metavar="FILE.c",
                   help="C file with __tvm_ffi_<name> kernels to build in (repeatable)")
    b.add_argument("--out", required=True, metavar="DIR")
    b.add_argument("--testing", action="store_true",
                   help="build in the utvm.testing.* functions (a board's --firmware for the suite)")
    b.set_defaults(func=_cmd_build)
    be = sub.add_parser("bench", help="measure session open, RPC latency and throughput")
    be.add_argument("--target", default=DEFAULT_TARGET)
    be.add_argument("--out", metavar="DIR", help="build directory (default: a temporary one)")
    be.add_argument("--kib", type=int, help="tensor size for throughput, KiB (default: 1024 on the host, "
                    "64 on QEMU boards)")
    be.add_argument("--container", action="store_true", help="run the QEMU board inside a container")
    be.add_argument("--json", action="store_true")
    add_config_argument(be)
    be.set_defaults(func=_cmd_bench)
    t = sub.add_parser("targets", help="list the targets")
    t.set_defaults(func=_cmd_targets)
    _add_vboard(sub)
    _add_run_model(sub)
    _add_package(sub)
    add_tune(sub, DEFAULT_TARGET)
    add_fuzz(sub, DEFAULT_TARGET)
    add_sweep(sub)
    for entry in sorted(entry_points(group=COMMANDS_GROUP), key=lambda e: e.name):
        entry.load()(sub)  # e.g. utvm_ci's `ci`, `hil`, `port` and `validate`
    return p


def exit_code(exc: UtvmError) -> int:
    """2 for input the command cannot take (a model it cannot compile or read, a bad flag) or an
    environment it cannot run in (a missing module, a TVM pair known not to work), 1 otherwise."""
    if isinstance(exc, requirements.EnvironmentProblem):
        return 2
    from harness.errors import ModelError, UsageError
    from harness.models.frontends.formats import ModelFormatError

    return 2 if isinstance(exc, ModelError | ModelFormatError | ConfigError | UsageError) else 1


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        requirements.check(args.command, args)  # what the command imports, before it starts
        if getattr(args, "config", None) is not None and hasattr(args, "target"):  # the target under it
            args.target = with_config(args.target, args.config)
        return int(args.func(args))
    except UtvmError as exc:
        print(f"utvm: error: {exc}", file=sys.stderr)
        return exit_code(exc)
    except ModuleNotFoundError as exc:  # one requirements.COMMANDS does not list yet: still one line
        print(f"utvm: error: {exc} ({requirements.EXTRA} installs what utvm's commands use)", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # output piped into e.g. `head`
        sys.stderr.close()
        return 141


if __name__ == "__main__":
    sys.exit(main())
