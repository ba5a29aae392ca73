"""`utvm hil ...`: the nightly runner, its schedule, and virtual labs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.errors import InfrastructureError, UtvmError


def _night_options(args: argparse.Namespace):
    from utvm_ci.flaky import Policy
    from utvm_ci.hil import NightOptions, default_state

    refs = None if args.reference is None else tuple(t for t in args.reference.split(",") if t)
    return NightOptions(
        inventory=Path(args.inventory), report_dir=Path(args.report_dir).absolute(),
        state=Path(args.state).absolute() if args.state else default_state(), lease_ttl=args.lease_ttl,
        retries=args.retries, backoff=args.backoff, references=refs, select=args.select,
        policy=Policy(window=args.flaky_window, flips=args.flaky_flips, days=args.quarantine_days))


def _cmd_run(args: argparse.Namespace) -> int:
    from utvm_ci.hil import EXIT_INFRA, EXIT_USAGE, Night

    try:
        return Night(_night_options(args)).run()
    except InfrastructureError as exc:
        print(f"utvm hil: infrastructure error: {exc}", file=sys.stderr)
        return EXIT_INFRA
    except UtvmError as exc:
        print(f"utvm hil: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


def _cmd_serve(args: argparse.Namespace) -> int:
    from utvm_ci.schedule import Schedule, serve

    schedule = Schedule.parse(args.at)
    return serve(schedule, _night_options(args), branch=args.branch, remote=args.remote,
                 checkout=Path(args.checkout).absolute() if args.checkout else None, max_nights=args.nights)


def _cmd_virtual_lab(args: argparse.Namespace) -> int:
    from utvm_ci import virtual_lab

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
    p.add_argument("--inventory", required=True, metavar="LAB.yaml")
    p.add_argument("--report-dir", default="reports/nightly", metavar="DIR")
    p.add_argument("--state", metavar="DIR", help="history.sqlite and leases (default: $UTVM_HIL_STATE "
                   "or build/hil-state)")
    p.add_argument("--retries", type=int, default=2, help="rounds of re-runs after infrastructure errors")
    p.add_argument("--backoff", type=float, default=2.0, help="seconds before the first re-run; doubles")
    p.add_argument("--lease-ttl", type=float, default=60.0, help="seconds a lease lives unless renewed")
    p.add_argument("--reference", metavar="T1,T2", help="reference backends to compare with "
                   "(default: host and the inventory's QEMU targets; '' for none)")
    p.add_argument("--select", metavar="EXPR", help="only the tests pytest -k EXPR selects")
    p.add_argument("--flaky-window", type=int, default=10, help="nights looked at for flips")
    p.add_argument("--flaky-flips", type=int, default=3, help="flips in the window that quarantine a test")
    p.add_argument("--quarantine-days", type=float, default=7.0)


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
