"""`utvm tune` measured: candidates per minute with one and two QEMU devices, and the before/after
instructions of the MLPerf Tiny models.

    .venv/bin/python bench/tune.py [--targets qemu-mps2-an386,qemu-mps2-an500] [--models kws01,ad01]
                                   [--trials 32] [--throughput-trials 64] [--models-dir DIR] [--json F]

Throughput: one fresh tune of kws01 per device count: candidates per minute of the search phase
(MetaSchedule generating them, images built, booted, arguments uploaded, outputs checked, timed).
Models: a fresh tune per model and target, the whole model run
before and after, instructions per inference (exact under QEMU -icount) beside microTVM's autotuned
Cortex-M4 cycles (MLPerf Tiny v1.0, OctoML, NUCLEO-L4R5ZI), and the largest difference from TFLite
Micro in LSB.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.tune.command import model_check
from harness.tune.session import TuneOptions, tune

MICROTVM_TUNED = {"kws01": 17.3e6, "vww01": 40.4e6, "ic01": 46.7e6, "ad01": 1.41e6}
MODELS_DIR = Path(__file__).resolve().parents[2] / "shared" / "models" / "mlperf-tiny"


def throughput(model: Path, target: str, devices: int, trials: int) -> float:
    """Candidates per minute of the search (generated, built into images, checked and timed on the
    devices), not counting the model's import and the measurements before and after."""
    with tempfile.TemporaryDirectory() as tmp:
        result = tune(model, TuneOptions(target=target, db=Path(tmp) / "db", trials=trials, devices=devices),
                      progress_out=io.StringIO())
        return result.trials_run / (result.search_seconds / 60)


def before_after(model: Path, target: str, trials: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "db"
        started = time.monotonic()
        tune(model, TuneOptions(target=target, db=db, trials=trials), progress_out=io.StringIO())
        minutes = (time.monotonic() - started) / 60
        whole = model_check(model, target, db)
    return {**whole, "minutes": round(minutes, 2)}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--targets", default="qemu-mps2-an386,qemu-mps2-an500")
    ap.add_argument("--models", default="kws01,vww01,ic01,ad01")
    ap.add_argument("--trials", type=int, default=32)
    ap.add_argument("--throughput-trials", type=int, default=64)
    ap.add_argument("--models-dir", default=str(MODELS_DIR))
    ap.add_argument("--json")
    args = ap.parse_args()
    models_dir = Path(args.models_dir)
    out: dict[str, object] = {"throughput": {}, "models": {}}
    first = args.targets.split(",")[0]
    print(f"candidates measured per minute on {first} (kws01, {args.throughput_trials} trials)")
    for k in (1, 2):
        rate = throughput(models_dir / "kws01.tflite", first, k, args.throughput_trials)
        out["throughput"][k] = round(rate, 1)  # type: ignore[index]
        print(f"  {k} device{'s' if k > 1 else ''}: {rate:.1f} candidates/min")
    for target in args.targets.split(","):
        print(f"\n{target}: instructions per inference, {args.trials} trials per model")
        head = f"{'untuned':>11}{'tuned':>11}{'speed-up':>10}{'microTVM':>11}{'LSB':>5}{'min':>7}"
        print(f"  {'model':<8}{head}")
        for name in args.models.split(","):
            r = before_after(models_dir / f"{name}.tflite", target, args.trials)
            out["models"][f"{target}/{name}"] = r  # type: ignore[index]
            print(f"  {name:<8}{r['before'] / 1e6:>10.2f}M{r['after'] / 1e6:>10.2f}M{r['speedup']:>9.2f}x"
                  f"{MICROTVM_TUNED[name] / 1e6:>10.1f}M{r['max_diff_lsb']:>5}{r['minutes']:>7.1f}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
