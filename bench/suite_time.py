"""Wall time of the acceptance suite per configuration, and the speed-up from -n 2.

    .venv/bin/python bench/suite_time.py [--quick]

Targets (issue 4): the suite on the host under 30 s, on one QEMU board under 120 s,
`utvm ci presubmit` (host + four QEMU boards, in containers) under 10 minutes.
Images are built before timing (the build cache is warm), as in a CI job's second step.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BOARDS = ["qemu-mps2-an385", "qemu-mps2-an386", "qemu-mps2-an500", "qemu-mps2-an505"]
PRESUBMIT = "ci presubmit (host + 4 boards in containers)"


def wall(argv: list[str]) -> tuple[float, int]:
    start = time.monotonic()
    proc = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, check=False)
    return time.monotonic() - start, proc.returncode


def suite(targets: list[str], workers: int) -> list[str]:
    return [sys.executable, "-m", "pytest", "acceptance_tests", "-q", "-p", "no:cacheprovider",
            "-n", str(workers), *(f"--target={t}" for t in targets)]


def presubmit(targets: list[str], workers: int, out: str) -> list[str]:
    return [sys.executable, "-m", "harness.cli", "ci", "presubmit", "--targets", ",".join(targets),
            "--workers", str(workers), "--report-dir", out]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="skip the one-worker presubmit run")
    args = ap.parse_args()
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
