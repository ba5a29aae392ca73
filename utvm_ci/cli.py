"""`utvm ci`, `utvm hil`, `utvm port` and `utvm validate`: the CI, lab and vendor commands.

harness's `utvm` command finds them through the `utvm.commands` entry points (pyproject.toml)."""

from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from harness.errors import UtvmError
from harness.targets.config import add_config_argument

if TYPE_CHECKING:
    from utvm_ci.presubmit import Presubmit


def _night_options(args: argparse.Namespace):
    from utvm_ci.night.options import NightOptions

    return NightOptions.from_args(args)


def _cmd_run(args: argparse.Namespace) -> int:
    from utvm_ci.job import run_job
    from utvm_ci.night.runner import Night

    night = Night(_night_options(args))
    for sig in (signal.SIGTERM, signal.SIGINT):  # a stopped night still releases its boards
        signal.signal(sig, lambda *_: night.stop())
    return run_job("utvm hil", night.run)


def _cmd_serve(args: argparse.Namespace) -> int:
    from utvm_ci.night.schedule import Schedule, serve

    schedule = Schedule.parse(args.at)
    return serve(schedule, _night_options(args), branch=args.branch, remote=args.remote,
                 checkout=Path(args.checkout).absolute() if args.checkout else None, max_nights=args.nights)


def _cmd_virtual_lab(args: argparse.Namespace) -> int:
    from utvm_ci.lab import virtual_lab

    out = Path(args.out).absolute()
    if args.stop:
        print(f"stopped {virtual_lab.stop(out)} virtual boards")
        return 0
    targets = [t for t in args.target.split(",") if t]
    specs = virtual_lab.plan(args.boards, targets, args.fault, out.parent)
    pids = virtual_lab.start(specs, out)
    for s, pid in zip(specs, pids, strict=True):
        print(f"{s.name}: {s.target} on {s.port} (pid {pid}){' faults ' + s.faults if s.faults else ''}")
    print(f"wrote {out}; stop with: utvm hil virtual-lab --stop --out {out}")
    return 0


def _night_arguments(p: argparse.ArgumentParser) -> None:
    from utvm_ci.night.options import NightOptions

    NightOptions.add_arguments(p)


def add_hil(sub: argparse._SubParsersAction) -> None:
    hil = sub.add_parser("hil", help="the nightly hardware-in-the-loop runner")
    hsub = hil.add_subparsers(dest="hil_command", required=True)
    run = hsub.add_parser("run", help="one night: health checks, the suite on every board, reports")
    _night_arguments(run)
    run.set_defaults(func=_cmd_run)
    serve = hsub.add_parser("serve", help="run the nightly every day at a time, on a branch's latest commit")
    _night_arguments(serve)
    serve.add_argument("--at", required=True, metavar="HH:MM[:SS]")
    serve.add_argument("--branch", default="main")
    serve.add_argument("--remote", default="origin", help="git remote to fetch the branch from "
                       "(a path or URL; default origin)")
    serve.add_argument("--checkout", metavar="DIR", help="where the branch is checked out "
                       "(default: build/hil-checkout)")
    serve.add_argument("--nights", type=int, default=0, help="stop after this many nights (0: never)")
    serve.set_defaults(func=_cmd_serve)
    vl = hsub.add_parser("virtual-lab", help="start N virtual boards and write an inventory for them")
    vl.add_argument("--boards", type=int, default=2)
    vl.add_argument("--out", required=True, metavar="LAB.yaml")
    vl.add_argument("--target", default="qemu-mps2-an385", help="QEMU board(s), comma-separated, "
                    "given to the boards in turn")
    vl.add_argument("--fault", action="append", default=[], metavar="BOARD:SPEC",
                    help="e.g. vboard-2:dead=1, 1:flash-fail=2, 3:vanish=20000, 2:no-boot=1, "
                    "1:corrupt=0.0001 (repeatable)")
    vl.add_argument("--stop", action="store_true", help="stop the lab's boards")
    vl.set_defaults(func=_cmd_virtual_lab)


def _cmd_port_new(args: argparse.Namespace) -> int:
    from harness import resources
    from utvm_ci.vendor.port import new_port

    root = Path(args.root).absolute() if args.root else resources.source_checkout() or Path.cwd()
    for path in new_port(args.name, args.cpu, root):
        print(f"wrote {path}")
    print(f"next: fill in the TODOs, then `utvm build --target {args.name} --out build/{args.name}` and "
          f"`utvm validate --target {args.name} --serial-port PORT --flash-cmd CMD --out bundle`")
    return 0


def add_port(sub: argparse._SubParsersAction) -> None:
    from utvm_ci.vendor.port import CPUS

    port = sub.add_parser("port", help="ports for real boards")
    psub = port.add_subparsers(dest="port_command", required=True)
    new = psub.add_parser("new", help="scaffold a port: a board description and the platform functions")
    new.add_argument("name")
    new.add_argument("--cpu", default="cortex-m4", choices=sorted(CPUS))
    new.add_argument("--root", metavar="DIR", help="tree to write DIR/boards/NAME.toml and "
                     "DIR/crt/platform/NAME/ into (default: the utvm checkout, or the current directory); "
                     "outside utvm's own tree, UTVM_BOARD_PATH=DIR/boards makes the board a target")
    new.set_defaults(func=_cmd_port_new)


def _model_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--models-dir", metavar="DIR", help="the model tier's models (default: "
                   "../shared/models/mlperf-tiny beside the checkout; an installed utvm has no default)")
    p.add_argument("--models", metavar="NAMES", help="comma-separated names in --models-dir, each "
                   "NAME.tflite or NAME.onnx (default: kws01,vww01,ic01,ad01, MLPerf Tiny's int8 models)")
    p.add_argument("--no-models", action="store_true", help="without the model tier")


def _models(args: argparse.Namespace) -> tuple[Path, ...]:
    """The model tier's model files; none with --no-models, or from an installed utvm without --models-dir."""
    from utvm_ci import suite

    if args.no_models:
        return ()
    directory = Path(args.models_dir).absolute() if args.models_dir else suite.default_models_dir()
    if directory is None and args.models is None:
        print("utvm: no model tier (an installed utvm has no default models: give --models-dir DIR)",
              file=sys.stderr)
        return ()
    return tuple(suite.model_files(directory, suite.names(args.models)))


def _key(args: argparse.Namespace) -> bytes | None:
    if not args.key:
        return None
    try:
        return Path(args.key).read_bytes().strip()
    except OSError as exc:
        raise UtvmError(f"cannot read --key {args.key}: {exc}") from None


def _board_where(args: argparse.Namespace):
    """The board to validate: from an inventory, or a single serial port."""
    from utvm_ci.lab.inventory import load
    from utvm_ci.night import shard

    if args.inventory:
        boards = {b.name: b for b in load(Path(args.inventory)).boards}
        if args.board not in boards:
            raise UtvmError(f"no board {args.board!r} in {args.inventory}; it has {', '.join(boards)}")
        b = boards[args.board]
        if b.labgrid_place:
            raise UtvmError("a labgrid place is validated through `utvm hil run`, "
                            "or give its port with --serial-port")
        return b.name, shard.Where.for_board(b, b.port or "")
    if not (args.target and args.serial_port and args.flash_cmd):
        raise UtvmError("give --inventory LAB.yaml --board NAME, or --target, --serial-port and --flash-cmd")
    return (args.board or args.target,
            shard.Where(args.target, args.serial_port, args.baud, args.flash_cmd, args.reset_cmd))


def _cmd_validate(args: argparse.Namespace) -> int:
    from utvm_ci.vendor import conformance

    if args.verify:
        problems = conformance.verify(Path(args.verify), _key(args))
        for p in problems:
            print(f"utvm validate: {args.verify}: {p}", file=sys.stderr)
        if not problems:
            doc = json.loads((Path(args.verify) / "conformance.json").read_text())
            print(f"{args.verify}: intact; {doc['board']} ({doc['target']}) {doc['verdict']}, "
                  f"run {doc['run_id']}")
        return 1 if problems else 0
    if not args.out:
        raise UtvmError("--out DIR is required (where the bundle goes)")
    board, where = _board_where(args)
    doc = conformance.run(where, board, Path(args.out).absolute(), conformance.default_cache(), _key(args),
                          models=_models(args))
    print(f"{board}: {doc['verdict']}: " + ", ".join(f"{v} {k}" for k, v in doc["counts"].items()))
    print(f"bundle: {args.out} (check it with: utvm validate --verify {args.out})")
    return {"conformant": 0, "not conformant": 1}.get(doc["verdict"], 3)


def add_validate(sub: argparse._SubParsersAction) -> None:
    v = sub.add_parser("validate", help="run the conformance suite on a board; write a bundle to hand over")
    v.add_argument("--board", help="a board of --inventory (or a label for a single serial port)")
    v.add_argument("--inventory", metavar="LAB.yaml")
    v.add_argument("--target", help="with --serial-port: the board's target (port)")
    v.add_argument("--serial-port", metavar="PORT")
    v.add_argument("--baud", type=int, default=115200)
    v.add_argument("--flash-cmd", metavar="CMD", help="flashes {elf} onto the board on {port}")
    v.add_argument("--reset-cmd", metavar="CMD")
    v.add_argument("--out", metavar="DIR", help="the bundle's directory")
    v.add_argument("--key", metavar="FILE", help="sign (or verify) the bundle with this secret (HMAC-SHA256)")
    v.add_argument("--verify", metavar="BUNDLE", help="check a bundle instead: exit 0 if it is as written")
    _model_arguments(v)
    v.set_defaults(func=_cmd_validate)


def _presubmit(args: argparse.Namespace, **overrides: object) -> Presubmit:
    from utvm_ci.presubmit import Presubmit, configured_targets, default_targets
    from utvm_ci.results import baseline

    targets = [t for t in args.targets.split(",") if t] if args.targets else default_targets()
    if args.config is not None:  # the targets under that configuration (their figures keyed by it)
        targets = configured_targets([t for t in args.targets.split(",") if t] if args.targets else None,
                                     args.config)
    settings: dict = {"targets": tuple(targets), "report_dir": Path(args.report_dir).absolute(),
                      "containers": not args.no_container, "workers": args.workers,
                      "infra_retries": args.infra_retries, "models": _models(args),
                      "baseline": Path(args.baseline).absolute() if args.baseline else baseline.DEFAULT_PATH}
    return Presubmit(**{**settings, **overrides})


def _cmd_presubmit(args: argparse.Namespace) -> int:
    from utvm_ci.job import run_job

    return run_job("utvm", lambda: _presubmit(args).run())


def _cmd_baseline(args: argparse.Namespace) -> int:
    from utvm_ci.job import EXIT_FAILED, EXIT_OK, run_job
    from utvm_ci.results import baseline
    from utvm_ci.suite import MODEL_TESTS

    path = Path(args.baseline).absolute() if args.baseline else baseline.DEFAULT_PATH

    def job() -> int:
        if args.from_report:
            report = Path(args.from_report).absolute()
            summary_path = report / "summary.json"
            if not summary_path.is_file():
                raise UtvmError(f"--from-report {args.from_report}: no summary.json in it")
            summary = json.loads(summary_path.read_text())
        elif not args.update:
            raise UtvmError("give --from-report DIR to compare a run with the baseline, or --update")
        else:  # run the model tier alone, then take its figures
            job = _presubmit(args, select=MODEL_TESTS)
            if not job.models:
                raise UtvmError("no models to run (--no-models, or no --models-dir)")
            report, (code, summary) = job.report_dir, job.run_suite()
            if summary is None:
                return code
        if args.update:
            for line in baseline.update(summary, path):
                print(line)
            print(f"wrote {path}; commit it with the change that moved the figures")
            return EXIT_OK
        comparison = baseline.compare(summary, path, report)
        for line in comparison.report(report):
            print(line)
        return EXIT_OK if comparison.ok else EXIT_FAILED

    return run_job("utvm ci baseline", job)


def _presubmit_arguments(p: argparse.ArgumentParser, report_dir: str) -> None:
    p.add_argument("--targets", help="comma-separated (default: host targets and every QEMU target)")
    p.add_argument("--report-dir", default=report_dir, help="JUnit files and summary.json")
    p.add_argument("--workers", default="auto", help="pytest-xdist workers (default: one per core)")
    p.add_argument("--infra-retries", type=int, default=1, help="retries after infrastructure errors")
    p.add_argument("--no-container", action="store_true", help="run QEMU locally, not in containers")
    p.add_argument("--baseline", metavar="FILE", help="the model tier's baseline "
                   "(default: utvm_ci/baselines/models.json)")
    add_config_argument(p)
    _model_arguments(p)


def add_ci(sub: argparse._SubParsersAction) -> None:
    ci = sub.add_parser("ci", help="CI jobs")
    csub = ci.add_subparsers(dest="job", required=True)
    pre = csub.add_parser("presubmit", help="the acceptance suite and the model tier on the host and every "
                          "QEMU board (boards in containers); exit 0 passed, 1 test failures or a model's "
                          "figure off its baseline, 3 infrastructure errors")
    _presubmit_arguments(pre, "reports/presubmit")
    pre.set_defaults(func=_cmd_presubmit)
    base = csub.add_parser("baseline", help="compare a run's model figures with the baseline, or --update it "
                           "(from a report, or by running the model tier)")
    base.add_argument("--update", action="store_true", help="write the run's figures into the baseline")
    base.add_argument("--from-report", metavar="DIR", help="a run's report directory (its summary.json); "
                      "without it, --update runs the model tier first (with the options below)")
    _presubmit_arguments(base, "reports/baseline")
    base.set_defaults(func=_cmd_baseline)
