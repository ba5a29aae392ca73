"""Wall time of a night on virtual labs: one board, two boards sharing the target, and
two boards of which one is dead (health check, out of rotation), no reference backends, no model
tier (bench/suite_time.py --models times the model tier).

    .venv/bin/python bench/nightly.py

Prints one line per lab: boards, wall time, verdict, and the tests each board ran.
Images are built first (the build cache is warm), as on a lab machine's second night.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from utvm_ci.lab import virtual_lab  # noqa: E402

LABS = [("1 board", 1, []), ("2 boards, one target", 2, []), ("2 boards, one dead", 2, ["2:dead=1"])]


def night(boards: int, faults: list[str], root: Path) -> tuple[float, dict]:
    out = root / "lab.yaml"
    virtual_lab.start(virtual_lab.plan(boards, ["qemu-mps2-an385"], faults, root), out)
    try:
        start = time.monotonic()
        subprocess.run([sys.executable, "-m", "harness.cli", "hil", "run", "--inventory", str(out),
                        "--report-dir", str(root / "r"), "--state", str(root / "s"), "--reference", "",
                        "--backoff", "0.5", "--no-models"], cwd=REPO, capture_output=True, check=False)
        elapsed = time.monotonic() - start
    finally:
        virtual_lab.stop(out)
    return elapsed, json.loads((root / "r" / "summary.json").read_text())


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        night(1, [], Path(tmp) / "warm")  # builds the images once
        for name, boards, faults in LABS:
            elapsed, summary = night(boards, faults, Path(tmp) / name.replace(" ", "-"))
            ran = ", ".join(f"{b}: {v['passed'] + v['passed_on_retry']} passed ({v['health']})"
                            for b, v in summary["boards"].items())
            print(f"{name:<24} {elapsed:6.1f} s  {summary['verdict']:<15} {ran}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
