"""`utvm fuzz`: seeded random cases compiled by utvm, run on a target and compared with the
reference runtime; exit 0 when every case agrees, 1 with one line per disagreement (shrunk, and
saved with --save), 2 on bad usage."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from functools import partial
from pathlib import Path

from harness.errors import UtvmError
from harness.fuzz.cases import KINDS, make_case
from harness.fuzz.regress import save
from harness.fuzz.runner import Report, fuzz
from harness.fuzz.schedules import SCHEDULES, scheduler
from harness.fuzz.shrink import disagrees, shrink
from harness.targets import Target, get_target


class FuzzUsageError(UtvmError):
    """A fuzz option the command cannot take."""


def add_fuzz(sub: argparse._SubParsersAction, default_target: str) -> None:
    p = sub.add_parser("fuzz", help="differential fuzzing: random int8 TFLite (or --qdq ONNX) cases, "
                       "compiled, run on a target, compared with TFLite Micro (onnxruntime)")
    p.add_argument("--target", default=default_target, help="where the cases run (`utvm targets`)")
    p.add_argument("--cases", type=int, default=200, help="cases to generate (default 200)")
    p.add_argument("--seed", type=int, default=0, help="case i is a function of (seed, i)")
    p.add_argument("--start", type=int, default=0, help="first case index (default 0)")
    p.add_argument("--ops", nargs="+", metavar="OP", help="only these operators (default: every one)")
    p.add_argument("--qdq", action="store_true", help="quantized ONNX (QDQ) against onnxruntime")
    p.add_argument("--size", type=int, default=8, help="size cap: largest spatial size and channels")
    p.add_argument("--batch", type=int, default=40, help="cases per image (default 40)")
    p.add_argument("--schedules", choices=sorted(SCHEDULES), default="default",
                   help="the kernels' schedules: each op's default; random legal points of the tuner's "
                   "design space (seeded by --seed); the DSP, register-blocked or Helium micro-kernels. "
                   "All but the default are also compared with the default-scheduled image, bit for bit")
    p.add_argument("--dsp", action="store_true", help="same as --schedules dsp (CONV_2D and FULLY_CONNECTED "
                   "around the DSP micro-kernels)")
    p.add_argument("--no-shrink", action="store_true", help="report disagreements as found")
    p.add_argument("--save", metavar="DIR", help="save each shrunk disagreement there as a regression case")
    p.add_argument("--workdir", metavar="DIR", help="build directory (default: a temporary one)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=_cmd_fuzz)


def _options(args: argparse.Namespace) -> tuple[str, tuple[str, ...], Target]:
    kind = "qdq" if args.qdq else "tflite"
    known = KINDS[kind].operators()
    ops = tuple(args.ops or ())
    unknown = [o for o in ops if o not in known]
    if unknown:
        raise FuzzUsageError(f"unknown operator(s) {', '.join(unknown)} for {kind}; "
                             f"known: {', '.join(known)}")
    if args.cases < 0 or args.size < 1 or args.batch < 1:
        raise FuzzUsageError("--cases must be >= 0, --size and --batch >= 1")
    return kind, ops, get_target(args.target)  # the target, looked up once


def summary(report: Report) -> dict:
    return {"target": report.target, "matched": report.matched, "disagreements": len(report.disagreements),
            "families": dict(sorted(report.families.items())), "untuned_compared": report.untuned_compared,
            "refused_by_reference": report.refused_reference, "refused_by_utvm": report.refused_ours,
            "refusals": report.refusals, "images": report.images, "seconds": round(report.seconds, 1),
            "cases_per_minute": round(report.per_minute, 1),
            "reference_rounding": report.reference_rounding,
            "lines": [d.line() for d in report.disagreements]}


def _cmd_fuzz(args: argparse.Namespace) -> int:
    try:
        kind, ops, target = _options(args)
    except UtvmError as exc:
        print(f"utvm fuzz: error: {exc}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="utvm-fuzz-") as tmp:
        workdir = Path(args.workdir or tmp)
        indices = range(args.start, args.start + args.cases)
        cases = [make_case(kind, args.seed, i, args.size, ops) for i in indices]
        schedules = "dsp" if args.dsp else args.schedules
        chosen = scheduler(schedules, args.seed, target.name)
        report = fuzz(cases, target, workdir, batch_cases=args.batch, scheduler=chosen,
                      progress=lambda r, done: print(f"{done}/{len(cases)} cases: {r.matched} agree, "
                                                     f"{len(r.disagreements)} disagree", file=sys.stderr))
        if not args.no_shrink:
            check = partial(disagrees, scheduler=chosen)
            shrunk = [shrink(d, target, workdir / "shrink", check=check) for d in report.disagreements]
            report.disagreements = list({d.case.name + d.case.ops: d for d in shrunk}.values())
        for found in report.disagreements if args.save else []:
            save(found, Path(args.save), args.target, schedules)
    result = {**summary(report), "seed": args.seed, "schedules": schedules}
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        print(f"{args.target}: {report.matched} cases agree, {len(report.disagreements)} disagree, "
              f"{report.refused_reference} refused by the reference, {report.refused_ours} refused by utvm "
              f"({report.images} images, {report.seconds:.0f} s, {report.per_minute:.0f} cases/min)")
        for line in result["lines"]:
            print(line)
        for name in report.reference_rounding:
            print(f"{name}: agrees with the exact (float64) evaluation, where the reference's float32 "
                  "rounding fell on the other side of a tie")
    return 1 if report.disagreements else 0
