"""The model tier's baseline: per model and target, the figures a change may not move unnoticed.

utvm_ci/baselines/models.json (package data, committed with the change that moves a figure):

    {"tolerance_pct": 0.5,
     "models": {"kws01": {"qemu-mps2-an386": {"instructions": 12310000, "flash_bytes": 81234,
                                              "ram_bytes": 20480},
                          "host": {"flash_bytes": 93312, "ram_bytes": 20480}}, ...}}

The gate reads a run's summary.json (the model tier's results carry their figures). A figure that
moved by more than the tolerance either way fails the job, a gain as much as a loss, so that a gain
is written down and never silently lost; so does a figure the baseline lacks (a new model or target)
and a model result without figures (it failed or was skipped). A change that means to move a figure
updates the baseline in the same change: `utvm ci baseline --update --from-report DIR`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import utvm_ci

DEFAULT_PATH = Path(utvm_ci.__file__).resolve().parent / "baselines" / "models.json"
TOLERANCE_PCT = 0.5
UPDATE = "utvm ci baseline --update --from-report {report}"


def update_command(report_dir: Path | str, path: Path) -> str:
    """What updates the baseline from a run's report."""
    return UPDATE.format(report=report_dir) + ("" if path == DEFAULT_PATH else f" --baseline {path}")


def _millions(value: float) -> str:
    return f"{value / 1e6:.2f} M" if abs(value) >= 1e6 else f"{value / 1e6:.4f} M"


def _count(value: float) -> str:
    return f"{int(value)}"


@dataclass(frozen=True)
class Gauge:
    """How a gated figure reads in a line: `12.31 M -> 12.90 M instructions`."""

    label: str
    show: Callable[[float], str]


# The figures the gate holds, by their name in a result's figures (harness.models.deploy.tier).
GAUGES: dict[str, Gauge] = {
    "instructions": Gauge("instructions", _millions),
    "flash_bytes": Gauge("flash bytes", _count),
    "ram_bytes": Gauge("RAM bytes", _count),
}


@dataclass(frozen=True)
class Row:
    model: str
    target: str
    figure: str
    baseline: float | None
    now: float | None
    change_pct: float | None
    verdict: str  # same, moved, not in baseline, missing
    line: str


@dataclass
class Comparison:
    rows: list[Row]
    tolerance_pct: float
    baseline: Path

    @property
    def failures(self) -> list[Row]:
        return [r for r in self.rows if r.verdict != "same"]

    @property
    def ok(self) -> bool:
        return not self.failures

    def report(self, report_dir: Path) -> list[str]:
        """The lines a person reads: one per figure that failed, then what to do."""
        pairs = len({(r.model, r.target) for r in self.rows})
        if self.ok:
            return [f"model baseline: {pairs} model/target pairs, every figure within "
                    f"{self.tolerance_pct:g}% of {self.baseline}"]
        return [*(r.line for r in self.failures),
                f"model baseline: {len(self.failures)} figures differ from {self.baseline} "
                f"(tolerance {self.tolerance_pct:g}%). If the change means it, update the baseline in the "
                f"same change: {update_command(report_dir, self.baseline)}"]

    def write(self, report_dir: Path) -> list[Path]:
        """baseline-comparison.txt (the lines) and .json (every row) beside the JUnit files."""
        text, data = report_dir / "baseline-comparison.txt", report_dir / "baseline-comparison.json"
        text.write_text("\n".join(self.report(report_dir)) + "\n")
        data.write_text(json.dumps({"ok": self.ok, "baseline": str(self.baseline),
                                    "tolerance_pct": self.tolerance_pct,
                                    "rows": [asdict(r) for r in self.rows]}, indent=2) + "\n")
        return [text, data]


def load(path: Path = DEFAULT_PATH) -> dict[str, Any]:
    if not path.is_file():
        return {"tolerance_pct": TOLERANCE_PCT, "models": {}}
    return json.loads(path.read_text())


def model_results(summary: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    """(model, target, figures, test entry) of each model-tier result in a summary.json."""
    for test in summary.get("tests", []):
        figures = test.get("figures") or {}
        if "model" in figures:
            yield str(figures["model"]), str(test["target"]), figures, test


def compare(summary: dict[str, Any], path: Path = DEFAULT_PATH, report_dir: Path | None = None,
            expected: list[tuple[str, str]] | None = None) -> Comparison:
    """The run's figures against the baseline; `expected` (model, target) pairs the run was to
    measure: one the baseline holds and the run has no result for fails too."""
    base = load(path)
    tolerance = float(base.get("tolerance_pct", TOLERANCE_PCT))
    update = update_command(report_dir or "REPORT_DIR", path)
    rows: list[Row] = []
    seen = set()
    for model, target, figures, test in model_results(summary):
        seen.add((model, target))
        known = base.get("models", {}).get(model, {}).get(target, {})
        names = [n for n in GAUGES if n in figures or n in known]
        if not any(n in figures for n in GAUGES):
            why = f"{test['outcome']}: {test.get('message', '')}".strip().rstrip(":")
            rows.append(Row(model, target, "", None, None, None, "missing",
                            f"{model} on {target}: no figures ({why})"))
            continue
        rows += [_row(model, target, n, known.get(n), figures.get(n), tolerance, update) for n in names]
    for model, target in expected or []:
        if (model, target) not in seen and base.get("models", {}).get(model, {}).get(target):
            rows.append(Row(model, target, "", None, None, None, "missing",
                            f"{model} on {target}: no result in this run (the baseline has figures for it)"))
    return Comparison(rows, tolerance, path)


def _row(model: str, target: str, name: str, old: float | None, new: float | None, tolerance: float,
         update: str) -> Row:
    gauge, where = GAUGES[name], f"{model} on {target}"
    if new is None:
        return Row(model, target, name, old, None, None, "missing",
                   f"{where}: no {gauge.label} from this run (baseline {gauge.show(old or 0)})")
    if old is None:
        return Row(model, target, name, None, new, None, "not in baseline",
                   f"{where}: {gauge.show(new)} {gauge.label}, not in the baseline: add it with `{update}`")
    change = (new - old) / old * 100 if old else (0.0 if new == old else float("inf"))
    verdict = "moved" if abs(change) > tolerance + 1e-9 else "same"  # exactly the tolerance is within
    return Row(model, target, name, old, new, change, verdict,
               f"{where}: {gauge.show(old)} -> {gauge.show(new)} {gauge.label} ({change:+.1f}%)")


def update(summary: dict[str, Any], path: Path = DEFAULT_PATH) -> list[str]:
    """Write the run's gated figures into the baseline (other models and targets are kept);
    returns a line per model and target written."""
    base = load(path)
    base.setdefault("tolerance_pct", TOLERANCE_PCT)
    models = base.setdefault("models", {})
    lines = []
    for model, target, figures, _ in model_results(summary):
        gated = {n: figures[n] for n in GAUGES if n in figures}
        if not gated:
            lines.append(f"{model} on {target}: no figures in the report; kept as it was")
            continue
        models.setdefault(model, {})[target] = gated
        lines.append(f"{model} on {target}: " + ", ".join(f"{GAUGES[n].show(v)} {GAUGES[n].label}"
                                                          for n, v in gated.items()))
    base["models"] = {m: dict(sorted(t.items())) for m, t in sorted(models.items())}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(base, indent=2) + "\n")
    return lines
