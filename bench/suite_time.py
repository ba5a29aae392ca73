"""Wall time of the acceptance suite per configuration, and the speed-up from -n 2.

    .venv/bin/python bench/suite_time.py [--quick]
    .venv/bin/python bench/suite_time.py --tier [--models-dir DIR] [--models kws01,vww01,ic01,ad01]

Limits: the suite on the host under 30 s, on one QEMU board under 120 s,
`utvm ci presubmit` (host + four QEMU boards, in containers) under 10 minutes.
Images are built before timing (the build cache is warm), as in a CI job's second step.

`--tier`: the whole pre-submit on its 10 default targets, in containers, 2 workers,
with and without the model tier, against a limit of 5 minutes. A first run, on an empty image
cache ($UTVM_CACHE in a temporary directory), builds every image and writes a baseline the timed
runs are held to (in a temporary file); the timed runs find the cache warm. It prints the model
tier's share: the summed duration of its tests per target (a worker's first test of a model
includes compiling it).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BOARDS = ["qemu-mps2-an385", "qemu-mps2-an386", "qemu-mps2-an500", "qemu-mps2-an505", "qemu-mps3-an547"]
PRESUBMIT = "ci presubmit (host + 4 boards in containers)"


def wall(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, int]:
    start = time.monotonic()
    proc = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, check=False, env=env)
    return time.monotonic() - start, proc.returncode


def suite(targets: list[str], workers: int) -> list[str]:
    return [sys.executable, "-m", "pytest", "acceptance_tests", "-q", "-p", "no:cacheprovider",
            "-n", str(workers), *(f"--target={t}" for t in targets)]


def presubmit(targets: list[str], workers: int, out: str) -> list[str]:
    return [sys.executable, "-m", "harness.cli", "ci", "presubmit", "--targets", ",".join(targets),
            "--workers", str(workers), "--report-dir", out]


def tier(models_dir: str | None, models: str | None) -> int:
    out = Path(tempfile.mkdtemp(prefix="utvm-bench-tier-"))
    chosen = [*(["--models-dir", models_dir] if models_dir else []),
              *(["--models", models] if models else [])]
    base = out / "baseline.json"
    utvm = [sys.executable, "-m", "harness.cli", "ci"]
    env = {**os.environ, "UTVM_CACHE": str(out / "cache")}
    seconds, _ = wall([*utvm, "presubmit", "--workers", "2", "--report-dir", str(out / "cold"),
                       "--baseline", str(base), *chosen], env)  # its figures are not in the baseline yet
    rows = [("ci presubmit, 10 targets, 2 workers, with the model tier, empty image cache", seconds, 300,
             0 if (out / "cold" / "summary.json").exists() else 3)]
    wall([*utvm, "baseline", "--update", "--from-report", str(out / "cold"), "--baseline", str(base)], env)
    for label, extra in (("without the model tier", ["--no-models"]), ("with the model tier", chosen)):
        argv = [*utvm, "presubmit", "--workers", "2", "--report-dir", str(out / label.replace(" ", "-")),
                "--baseline", str(base), *extra]
        seconds, code = wall(argv, env)
        rows.append((f"ci presubmit, 10 targets in containers, 2 workers, {label}", seconds, 300, code))
    print(f"{'configuration':<72}{'wall':>9}{'limit':>8}  result")
    for label, seconds, limit, code in rows:
        verdict = "ok" if code == 0 and seconds <= limit else "MISS" if code == 0 else f"exit {code}"
        print(f"{label:<72}{seconds:>8.1f}s{limit:>7}s  {verdict}")
    summary = json.loads((out / "with-the-model-tier" / "summary.json").read_text())
    per_target: dict[str, float] = defaultdict(float)
    for t in summary["tests"]:
        if "model" in t.get("figures", {}):
            per_target[t["target"]] += t["duration"]
    print("model tier, summed test durations per target: "
          + ", ".join(f"{k} {v:.1f} s" for k, v in sorted(per_target.items()))
          + f"; total {sum(per_target.values()):.1f} s over 2 workers")
    return 0 if all(code == 0 and s <= limit for _, s, limit, code in rows) else 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="skip the one-worker presubmit run")
    ap.add_argument("--tier", action="store_true", help="time the whole pre-submit with the model tier")
    ap.add_argument("--models-dir", help="with --tier: the models (default: the pre-submit's)")
    ap.add_argument("--models", help="with --tier: comma-separated names in --models-dir")
    args = ap.parse_args()
    if args.tier:
        return tier(args.models_dir, args.models)
    out = tempfile.mkdtemp(prefix="utvm-bench-suite-")
    wall(suite(["host", *BOARDS], 2))  # warm the build cache and the container image
    rows = []
    for label, target, limit in (("suite, host", ["host"], 30), ("suite, qemu-mps2-an385", [BOARDS[0]], 120)):
        for workers in (0, 2):
            seconds, code = wall(suite(target, workers))
            rows.append((f"{label}, -n {workers}", seconds, limit, code))
    for workers in ((2,) if args.quick else (1, 2)):
        seconds, code = wall(presubmit(["host", *BOARDS], workers, out))
        rows.append((f"{PRESUBMIT}, {workers} worker(s)", seconds, 600, code))
    print(f"{'configuration':<62}{'wall':>9}{'limit':>8}  result")
    for label, seconds, limit, code in rows:
        verdict = "ok" if code == 0 and seconds <= limit else "MISS" if code == 0 else f"exit {code}"
        print(f"{label:<62}{seconds:>8.1f}s{limit:>7}s  {verdict}")
    pairs = {r[0]: r[1] for r in rows}
    for label in ("suite, host", "suite, qemu-mps2-an385"):
        print(f"speed-up from -n 2, {label}: {pairs[f'{label}, -n 0'] / pairs[f'{label}, -n 2']:.2f}x")
    if not args.quick:
        one, two = pairs[f"{PRESUBMIT}, 1 worker(s)"], pairs[f"{PRESUBMIT}, 2 worker(s)"]
        print(f"speed-up from 2 workers, ci presubmit: {one / two:.2f}x")
    return 0 if all(code == 0 and s <= limit for _, s, limit, code in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
