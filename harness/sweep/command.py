"""`utvm sweep`: the command line."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from harness.errors import UsageError
from harness.models.compile import budget
from harness.sweep.plan import OPTS, TUNINGS, WEIGHTS, Axes, parse_axes

EPILOG = """examples:
  utvm sweep kws01.tflite --targets qemu-mps2-an385-semihosting,qemu-mps2-an386-semihosting \\
      --executor graph,aot --tuning none,auto --jobs 2
  utvm sweep ad01.tflite --targets qemu-mps2-an386 --weights flash,ram --opt O2,Os --json

Every cell is built (images cached by content), run on a device and checked against the model's own
runtime (TFLite Micro, onnxruntime) on seeded inputs. A cell that fails (does not fit, does not build,
does not run) is a row with its error and the sweep goes on. DIR gets sweep.json and report.html
(instructions or cycles against flash and RAM per target, the Pareto front marked, the failed cells).
Exit code 1 if a cell's outputs differ from the reference by more than 1 LSB, 2 on a bad flag."""


def add_sweep(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sweep", help="a model over targets x executors x weights x opt x tuning x configs, "
                       "every cell checked against the model's own runtime, with a report page",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="a .tflite or ONNX model (format read from the content)")
    p.add_argument("--targets", required=True, metavar="T1,T2", help="targets (`utvm targets`)")
    p.add_argument("--executor", metavar="graph,aot", help="executors (default graph)")
    p.add_argument("--weights", metavar=",".join(WEIGHTS), help="where the weights live (default: the "
                   "target's own placement)")
    p.add_argument("--opt", metavar="O2,O3,Os", help=f"compiler optimisation levels, of {','.join(OPTS)} "
                   "(default: the target's own)")
    p.add_argument("--tuning", metavar=",".join(TUNINGS), help="none: default schedules; auto: the tuned "
                   "records shipped for the target (default none)")
    budget.add_argument(p)
    p.add_argument("--config", metavar="A,B", help="build configurations the boards declare (e.g. default, "
                   "speed, size, weights-ram; or opt=O3+weights=ram)")
    p.add_argument("--out", metavar="DIR", help="where sweep.json and report.html go (default "
                   "build/sweep/MODEL)")
    p.add_argument("--json", action="store_true", help="print the sweep as one JSON document")
    p.add_argument("--jobs", type=int, default=0, help="cells built and run at once, i.e. local devices "
                   "at once (default: one per core)")
    p.add_argument("--inputs", type=int, default=5, help="seeded inputs each cell is checked on (default 5)")
    p.add_argument("--inventory", metavar="LAB.yaml", help="run on the boards of a HIL inventory, leased as "
                   "the nightly leases them (a target with no board there: its cells say so)")
    p.set_defaults(func=_cmd_sweep)


def _checked(args: argparse.Namespace) -> tuple[Path, Axes]:
    from harness.models.compile.budget import BudgetError, with_budget
    from harness.models.frontends import formats
    from harness.sweep.configs import check_configs

    if args.jobs < 0:
        raise UsageError(f"--jobs {args.jobs}: expected a positive number of cells at once")
    if args.inputs < 1:
        raise UsageError(f"--inputs {args.inputs}: expected at least one input")
    axes = parse_axes(args.targets, args.executor, args.weights, args.opt, args.tuning, args.config)
    try:  # the same checks as run-model's, on the tuning the cells may have
        with_budget(None if axes.tunings == ("none",) else "auto", args.ram_budget)
    except BudgetError as exc:
        raise UsageError(str(exc)) from None
    check_configs(axes.targets, axes.configs)
    model = Path(args.model)
    if not model.is_file():
        raise formats.ModelFormatError(f"no model file {model}")
    formats.detect(model)  # neither TFLite nor ONNX: one line before anything starts
    return model, axes


def _cmd_sweep(args: argparse.Namespace) -> int:
    from harness.sweep import devices, progress, report
    from harness.sweep.models import SweepModel
    from harness.sweep.run import SweepOptions, run_sweep

    model, axes = _checked(args)
    out = Path(args.out) if args.out else Path("build") / "sweep" / model.stem
    jobs = args.jobs or os.cpu_count() or 1
    pool = (devices.lab_devices(Path(args.inventory), list(axes.targets)) if args.inventory
            else devices.Devices())
    sweep = SweepModel(model, args.ram_budget)
    try:
        with progress.Bar(len(axes.cells())) as bar:
            rows = run_sweep(sweep, axes, pool, SweepOptions(jobs=jobs, inputs=args.inputs),
                             done=bar.done, compiling=bar.say)
    finally:
        pool.close()
    doc = report.document(_model(sweep, args.inputs), rows)
    out.mkdir(parents=True, exist_ok=True)
    (out / "sweep.json").write_text(json.dumps(doc, indent=2) + "\n")
    (out / "report.html").write_text(report.html_page(doc))
    print(json.dumps(doc, indent=2) if args.json else "\n".join(report.text(doc)))
    print(f"utvm sweep: {out / 'sweep.json'}, {out / 'report.html'}", file=sys.stderr)
    wrong = [r for r in rows if r["max_diff_lsb"] is not None and r["max_diff_lsb"] > 1]
    if wrong:
        print(f"utvm: {len(wrong)} cells' outputs differ from the model's own runtime by more than 1 LSB",
              file=sys.stderr)
        return 1
    return 0


def _model(sweep: Any, inputs: int) -> dict[str, Any]:
    try:
        ref = sweep.reference
        reference = f"{ref.runtime} {ref.version}"
    except Exception:  # no cell compiled: no reference
        reference = None
    return {"name": sweep.path.stem, "path": str(sweep.path), "format": sweep.format,
            "sha256": sweep.sha256, "reference": reference, "inputs": inputs}
