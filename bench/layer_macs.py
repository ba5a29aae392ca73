"""Instructions per multiply-accumulate per layer type of an MLPerf Tiny model on a QEMU board, for the
default schedules, --dsp (harness.models.compile.dsp) and --blocked (harness.models.compile.blocked):

    .venv/bin/python bench/layer_macs.py [--model kws01] [--target qemu-mps2-an386-semihosting]

One profiled run per schedule (the graph executor's per-node time, exact instructions under -icount);
MACs from each kernel's shapes (CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED); other kernels summed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.device import Device
from harness.models.compile.blocked import apply_blocked
from harness.models.compile.dsp import apply_dsp
from harness.models.deploy.graph_client import GraphModule
from harness.models.deploy.layers import LayerType, by_layer_type
from harness.models.deploy.run import build_model_image, compile_for
from harness.targets import get_target

SCHEDULERS = {"default": None, "dsp": apply_dsp, "blocked": apply_blocked}
DEFAULT_DIR = Path(__file__).resolve().parents[2] / "shared" / "models" / "mlperf-tiny"


def profile(model: Path, target: str, name: str, work: Path) -> dict[str, LayerType]:
    tgt = get_target(target)
    compiled, _ = compile_for(model, tgt, scheduler=SCHEDULERS[name])
    with Device(build_model_image(compiled, tgt, work / name), workdir=work) as client:
        module = GraphModule(client, compiled.graph)
        module.time_run(repeat=1)
        profile = [(f, float(tgt.instructions(s) or 0)) for f, s in module.profile()]
    return by_layer_type(compiled, profile)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="kws01")
    ap.add_argument("--target", default="qemu-mps2-an386-semihosting")
    ap.add_argument("--models-dir", type=Path, default=DEFAULT_DIR)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="utvm-bench-layers-"))
    print(f"{args.model} on {args.target}: M instructions (instructions per MAC)")
    for name in SCHEDULERS:
        rows = profile(args.models_dir / f"{args.model}.tflite", args.target, name, work)
        cells = [f"{op} {r.count / 1e6:.3f} M" + (f" ({r.per_mac:.2f}/MAC)" if r.per_mac is not None else "")
                 for op, r in sorted(rows.items())]
        total = sum(r.count for r in rows.values())
        print(f"  {name:<8} total {total / 1e6:.2f} M: " + ", ".join(cells), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
