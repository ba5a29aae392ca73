"""The MLPerf Tiny int8 models on the QEMU boards: one table per board.

    .venv/bin/python bench/mlperf_tiny.py [--targets qemu-mps2-an386,qemu-mps2-an385] [--models kws01,ic01]
                                           [--inputs 5] [--models-dir ../shared/models/mlperf-tiny] [--json F]
                                           [--dsp | --mve | --blocked] [--tuning auto|DIR] [--ram-budget B]

--dsp schedules the convolutions and fully connected layers around the int8 dot-product
intrinsics (harness.models.compile.dsp.apply_dsp: SMLAD on cores with the DSP extension); --mve also
the depthwise convolutions around the depthwise tile intrinsic (harness.models.compile.mve.apply_mve:
Helium); --blocked makes 1x1 convolutions, fully connected and depthwise layers one call into the
register-blocked kernels of utvm/dsp_blocked.h (harness.models.compile.blocked.apply_blocked; their
Helium path on MVE cores), the rest as --dsp. --tuning schedules the kernels by tuning records
("auto": the ones shipped for the board), the others as above, within the RAM budget (--ram-budget;
default the untuned model's RAM: harness.models.compile.budget); the kernels that fell back to fit it
are listed under the table.

Per model: instructions per inference (exact under QEMU -icount), the anchors' Cortex-M4 cycles
(published MLPerf Tiny results, v0.5 to v1.3) beside them (TFLite Micro + CMSIS-NN, microTVM
autotuned, microTVM + CMSIS-NN, X-CUBE-AI), flash split (runtime, graph executor, kernels,
parameters), RAM (activations + kernel workspace) beside TFLite Micro's arena, and the largest
difference from TFLite Micro in LSB over seeded inputs; where TFLite Micro + CMSIS-NN was measured on
the same emulated board (the issues' tables: same QEMU -icount count), the ratio to it. Then per board,
a row per layer type: instructions and instructions per MAC (harness.models.deploy.layers), beside the
floor of the core's widest multiply-accumulate (SMLAD: 0.5, Helium VMLADAV: 1/16, the M3's SMLAL on two
packed pixels: 0.5).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.device import Device
from harness.models.compile.blocked import apply_blocked
from harness.models.compile.budget import with_budget
from harness.models.compile.dsp import apply_dsp
from harness.models.compile.mve import apply_mve
from harness.models.compile.records import same_core
from harness.models.deploy import reference as references
from harness.models.deploy.check import seeded_agreement
from harness.models.deploy.graph_client import GraphModule
from harness.models.deploy.layers import by_layer_type, mac_floor
from harness.models.deploy.run import build_model_image, code_size, compile_for
from harness.targets import get_target

MODELS = ("kws01", "vww01", "ic01", "ad01")  # the default; sww01 and ic02 (v1.3, no anchors) on request
# Cycles per inference on a Cortex-M4F (NUCLEO-L4R5ZI @ 120 MHz), from the published MLPerf Tiny results
# (mlcommons/tiny_results v0.5 to v1.3: ms x MHz).
ANCHORS = {
    "tflm+cmsis-nn": {"kws01": 21.8e6, "vww01": 72.1e6, "ic01": 84.5e6, "ad01": 1.21e6},
    "microtvm-tuned": {"kws01": 17.3e6, "vww01": 40.4e6, "ic01": 46.7e6, "ad01": 1.41e6},
    "microtvm+cmsis": {"kws01": 12.0e6, "vww01": 36.1e6, "ic01": 46.7e6, "ad01": 1.03e6},
    "x-cube-ai": {"kws01": 5.2e6, "vww01": 10.7e6, "ic01": 19.9e6, "ad01": 0.58e6},
}
# TFLite Micro + CMSIS-NN built for the comparison outside this project, instructions per inference
# under the same QEMU -icount (issues 22 and 23), per board.
SAME_BOARD = {
    "qemu-mps2-an386": {"kws01": 7.70e6, "vww01": 24.10e6, "ic01": 29.86e6, "ad01": 0.583e6},
    "qemu-mps2-an385": {"kws01": 10.53e6, "ic01": 41.85e6},
    "qemu-mps3-an547": {"kws01": 1.80e6, "vww01": 6.52e6, "ic01": 4.89e6, "ad01": 0.150e6},
}
DEFAULT_DIR = Path(__file__).resolve().parents[2] / "shared" / "models" / "mlperf-tiny"


def measure(model: Path, target: str, inputs: int, out: Path, dsp: bool = False, mve: bool = False,
            blocked: bool = False, tuning: str | None = None, ram_budget: int | None = None) -> dict:
    tgt = get_target(target)
    scheduler = apply_blocked if blocked else apply_mve if mve else apply_dsp if dsp else None
    compiled, loaded = compile_for(model, tgt, tuning=with_budget(tuning, ram_budget), scheduler=scheduler)
    ref = references.for_model(loaded, compiled)
    manifest = build_model_image(compiled, tgt, out)
    with Device(manifest, workdir=out) as client:
        module = GraphModule(client, compiled.graph)
        agreement = seeded_agreement(module, ref, inputs)
        seconds = min(module.time_run(repeat=3))
        workspace = client.stats()["workspace"]["high_water"]
        profile = [(f, float(tgt.instructions(t) or tgt.cycles(t) or t)) for f, t in module.profile()]
    size = code_size(manifest)
    return {
        "model": model.stem, "target": target,
        "instructions": tgt.instructions(seconds), "cycles": tgt.cycles(seconds), "seconds": seconds,
        "flash": {k: size[k] for k in ("runtime", "graph_executor", "kernels", "params")},
        "ram": {"activations": compiled.graph.arena_bytes, "workspace": workspace,
                "tflm_arena": ref.arena_bytes},
        "agreement": agreement.as_dict(),
        "budget": compiled.budget.describe() if compiled.budget is not None else None,
        "layers": {op: {"count": row.count, "macs": row.macs}
                   for op, row in sorted(by_layer_type(compiled, profile).items())},
    }



def _anchor(cycles: float | None) -> str:
    """A published figure in M, or "-" for a model with none (sww01, ic02: MLPerf Tiny v1.3)."""
    return f"{cycles / 1e6:>16.2f}" if cycles is not None else f"{'-':>16}"


def table(target: str, rows: list[dict]) -> list[str]:
    head = (f"{'model':<7}{'M instr':>9}" + "".join(f"{k:>16}" for k in ANCHORS) + f"{'runtime':>9}"
            f"{'graph':>7}{'kernels':>9}{'params':>8}{'act+ws':>9}{'TFLM':>8}{'LSB':>5}{'top1':>7}"
            f"{'/TFLM here':>11}")
    same = SAME_BOARD.get(same_core(target), {})
    lines = [f"{target} (instructions per inference; anchors: Cortex-M4 cycles, M)", head, "-" * len(head)]
    for r in rows:
        m, f, ram, a = r["model"], r["flash"], r["ram"], r["agreement"]
        count = r["instructions"] if r["instructions"] is not None else r["cycles"]
        lines.append(f"{m:<7}{count / 1e6:>9.2f}" + "".join(_anchor(ANCHORS[k].get(m)) for k in ANCHORS)
                     + f"{f['runtime']:>9}{f['graph_executor']:>7}{f['kernels']:>9}{f['params']:>8}"
                     f"{ram['activations'] + ram['workspace']:>9}{ram['tflm_arena'] or 0:>8}"
                     f"{a['max_diff_lsb']:>5.0f}{a['top1_agree']:>4}/{a['inputs']:<2}"
                     + (f"{count / same[m]:>11.2f}" if m in same else f"{'':>11}"))
    return lines


def layer_table(target: str, rows: list[dict]) -> list[str]:
    floor = mac_floor(get_target(target).features)
    lines = [f"{target} by layer type: M instructions (instructions per MAC; floor {floor:.3g} per MAC)"]
    for r in rows:
        cells = [f"{op} {c['count'] / 1e6:.3f}" + (f" ({c['count'] / c['macs']:.2f})" if c["macs"] else "")
                 for op, c in r["layers"].items()]
        lines.append(f"  {r['model']:<7}" + ", ".join(cells))
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--targets", default="qemu-mps2-an386,qemu-mps2-an385,qemu-mps2-an500,qemu-mps2-an505")
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--inputs", type=int, default=5, help="seeded inputs compared with TFLite Micro")
    ap.add_argument("--models-dir", type=Path, default=DEFAULT_DIR)
    ap.add_argument("--json", type=Path, help="also write the figures here")
    ap.add_argument("--dsp", action="store_true", help="tensorize dot products (harness.models.compile.dsp)")
    ap.add_argument("--mve", action="store_true",
                    help="and depthwise convolutions (harness.models.compile.mve)")
    ap.add_argument("--blocked", action="store_true", help="blocked kernels (harness.models.compile.blocked)")
    ap.add_argument("--tuning", help="tuning records: 'auto' (shipped for the board) or a database")
    ap.add_argument("--ram-budget", type=int, metavar="BYTES", help="with --tuning: the most activations + "
                    "workspace a tuned model may use (default: the untuned model's)")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="utvm-bench-mlperf-"))
    results = []
    for target in args.targets.split(","):
        rows = []
        for name in args.models.split(","):
            model = args.models_dir / f"{name}.tflite"
            if not model.is_file():
                print(f"bench: no model {model}", file=sys.stderr)
                return 2
            rows.append(measure(model, target, args.inputs, work / f"{name}-{target}", args.dsp,
                                args.mve, args.blocked, args.tuning, args.ram_budget))
        notes = [f"  {r['model']:<7}{r['budget']}" for r in rows if r["budget"]]
        print("\n".join([*table(target, rows), *(["", "tuning's RAM budget:", *notes] if notes else []),
                         "", *layer_table(target, rows)]) + "\n", flush=True)
        results += rows
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
