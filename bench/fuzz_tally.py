"""The tally of a fuzzing campaign: `utvm fuzz --json` reports (one file per run, any directory depth)
summed per board family and kind, as the table docs/fuzzing.md keeps:

    .venv/bin/python bench/fuzz_tally.py CAMPAIGN_DIR [--markdown]

A report's family is its target's core (host, M3, M4, M55; a -semihosting target is its board's
core); its kind is int8 (TFLite) or qdq (quantized ONNX), from the file's directory name ("qdq" in it)
or its own "qdq" field. Disagreements are listed with their lines, so that a campaign with any is
never read as clean. Cases off the reference only by its own float rounding at a tie (the report's
"reference_rounding", harness.fuzz.exact) are counted as compared, in a column of their own, and
listed; they do not fail the tally.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

FAMILIES = {"host": "host", "an385": "M3", "an386": "M4", "an500": "M7", "an505": "M33", "an547": "M55"}


def family(target: str) -> str:
    return next((f for key, f in FAMILIES.items() if key in target), target)


Rows = dict[tuple[str, str], dict[str, float]]


def tally(root: Path) -> tuple[Rows, list[str], list[str]]:
    """Per (family, kind) sums, the disagreements' lines, the reference-rounding cases' lines."""
    rows: Rows = defaultdict(lambda: defaultdict(float))
    lines: list[str] = []
    ties: list[str] = []
    for path in sorted(root.rglob("*.json")):
        report = json.loads(path.read_text())
        kind = "qdq" if report.get("qdq") or "qdq" in path.parent.name else "int8"
        row = rows[(family(report["target"]), kind)]
        row["compared"] += report["matched"] + report["disagreements"]
        row["disagreements"] += report["disagreements"]
        row["refused_by_utvm"] += report["refused_by_utvm"]
        row["seconds"] += report["seconds"]
        row["runs"] += 1
        row["ties"] += len(report.get("reference_rounding", []))
        ties += [f"{path}: {name}: the reference's rounding at a tie"
                 for name in report.get("reference_rounding", [])]
        if report.get("schedules", "default") != "default":
            row["scheduled"] += report["matched"] + report["disagreements"]
        lines += [f"{path}: {line}" for line in report.get("lines", [])]
    return rows, lines, ties


HEAD = ("family", "kind", "compared", "of them scheduled", "disagreements", "refused by utvm", "cases/min",
        "reference ties")


def _line(cells: tuple[str, ...], markdown: bool) -> str:
    if markdown:
        return "| " + " | ".join(cells) + " |"
    return f"{cells[0]:<8}{cells[1]:<6}" + "".join(f"{c:>18}" for c in cells[2:])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("root", type=Path)
    p.add_argument("--markdown", action="store_true", help="a Markdown table")
    args = p.parse_args()
    rows, lines, ties = tally(args.root)
    out = [_line(HEAD, args.markdown)] + (["|" + "---|" * len(HEAD)] if args.markdown else [])
    for (fam, kind), r in sorted(rows.items()):
        rate = 60 * r["compared"] / r["seconds"] if r["seconds"] else 0.0
        cells = (fam, kind, f"{r['compared']:,.0f}", f"{r['scheduled']:,.0f}", f"{r['disagreements']:.0f}",
                 f"{r['refused_by_utvm']:.0f}", f"{rate:.0f}", f"{r['ties']:.0f}")
        out.append(_line(cells, args.markdown))
    print("\n".join(out + lines + ties))
    return 1 if lines else 0


if __name__ == "__main__":
    sys.exit(main())
