"""Results of a suite run, per target: JUnit XML, summary.json and the summary table.

Outcomes follow LAVA's taxonomy: a wrong result is a *failure*, and so is a change
that does not build; a fault of the machinery (boot, flash, transport, a missing
tool) is an *error*; a test that passed only after an infrastructure retry is
*passed on retry*, never a plain pass.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import asdict, dataclass, field, fields
from enum import StrEnum
from pathlib import Path
from typing import Any


class Outcome(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"
    SKIPPED = "skipped"
    PASSED_ON_RETRY = "passed_on_retry"


class ErrorClass(StrEnum):
    """Why a test did not pass: its own result, its change not building, or the machinery."""

    NONE = ""
    TEST = "test"
    BUILD = "build"
    INFRASTRUCTURE = "infrastructure"


OUTCOMES = tuple(Outcome)
_JUNIT_TAGS = {Outcome.FAILED: "failure", Outcome.ERROR: "error", Outcome.SKIPPED: "skipped"}
PASSES = (Outcome.PASSED, Outcome.PASSED_ON_RETRY)
# user_properties keys the plugin attaches to every test report
P_TARGET, P_ERROR_CLASS, P_RETRIES = "utvm_target", "utvm_error_class", "utvm_retries"
P_TARGET_FACTS = "utvm_fact_"  # prefix: facts about the target that go into the JUnit properties
P_FIGURE = "utvm_figure_"  # prefix: what a test measured (instructions, flash bytes, ...)

Figure = int | float | str  # a measured number, or a fact that goes with it (the model's name, a digest)


@dataclass
class TestResult:
    """One test's result: what summary.json lists, the nightly runner merges and the history keeps."""

    nodeid: str
    target: str
    outcome: Outcome = Outcome.PASSED
    duration: float = 0.0
    message: str = ""
    details: str = ""
    retries: int = 0
    error_class: ErrorClass = ErrorClass.NONE
    figures: dict[str, Figure] = field(default_factory=dict)  # what the test measured, by name

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TestResult:
        known = {f.name for f in fields(cls)}
        result = cls(**{k: v for k, v in data.items() if k in known})
        result.outcome, result.error_class = Outcome(result.outcome), ErrorClass(result.error_class)
        return result

    @classmethod
    def infrastructure_error(cls, nodeid: str, target: str, message: str, details: str = "") -> TestResult:
        """A test the machinery never let run to a result."""
        return cls(nodeid, target, Outcome.ERROR, message=message, details=details,
                   error_class=ErrorClass.INFRASTRUCTURE)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def classname(self) -> str:
        path, _, rest = self.nodeid.partition("::")
        return path.removesuffix(".py").replace("/", ".") + ("." + rest.rpartition("::")[0] if "::" in rest
                                                              else "")

    @property
    def name(self) -> str:
        return self.nodeid.rpartition("::")[2]


def _figure(value: object) -> Figure:
    """A property as a figure: numbers and text as they are, anything else as its text."""
    if isinstance(value, bool):
        return int(value)
    return value if isinstance(value, int | float | str) else str(value)


def _error_class(when: str, properties: dict[str, object]) -> ErrorClass:
    """What the plugin found raised; a fixture's fault that is not a build is the machinery's."""
    marked = properties.get(P_ERROR_CLASS)
    if marked:
        return ErrorClass(str(marked))
    return ErrorClass.TEST if when == "call" else ErrorClass.INFRASTRUCTURE


@dataclass
class RunResults:
    tests: dict[str, TestResult] = field(default_factory=dict)
    facts: dict[str, dict[str, str]] = field(default_factory=dict)  # per target

    def record(self, nodeid: str, when: str, outcome: str, duration: float,
               properties: dict[str, object], message: str = "", details: str = "") -> None:
        """Fold one phase report (setup, call, teardown) into the test's result."""
        target = str(properties.get(P_TARGET, "(none)"))
        result = self.tests.setdefault(nodeid, TestResult(nodeid, target))
        result.duration += duration
        result.retries = max(result.retries, int(str(properties.get(P_RETRIES, 0))))
        for key, value in properties.items():
            if key.startswith(P_TARGET_FACTS):
                self.facts.setdefault(target, {})[key.removeprefix(P_TARGET_FACTS)] = str(value)
            elif key.startswith(P_FIGURE):
                result.figures[key.removeprefix(P_FIGURE)] = _figure(value)
        if result.outcome in (Outcome.FAILED, Outcome.ERROR):
            return  # the first fault is the one reported
        if outcome == "skipped":
            result.outcome, result.message = Outcome.SKIPPED, message
        elif outcome == "failed":
            result.error_class = _error_class(when, properties)
            infra = result.error_class == ErrorClass.INFRASTRUCTURE
            result.outcome = Outcome.ERROR if infra else Outcome.FAILED
            result.message, result.details = message, details
        elif when == "call" and result.retries:
            result.outcome = Outcome.PASSED_ON_RETRY

    def targets(self) -> list[str]:
        return sorted({t.target for t in self.tests.values()})

    def counts(self, target: str) -> Counter[str]:
        return Counter(t.outcome for t in self.tests.values() if t.target == target)

    def time(self, target: str) -> float:
        return sum(t.duration for t in self.tests.values() if t.target == target)

    @property
    def ok(self) -> bool:
        return not any(t.outcome in (Outcome.FAILED, Outcome.ERROR) for t in self.tests.values())

    # ---- outputs ----
    def table(self) -> list[str]:
        head = f"{'target':<28}{'passed':>8}{'failed':>8}{'errors':>8}{'skipped':>8}{'retried':>8}{'time':>9}"
        lines = [head, "-" * len(head)]
        for target in self.targets():
            c = self.counts(target)
            lines.append(f"{target:<28}{c['passed']:>8}{c['failed']:>8}{c['error']:>8}{c['skipped']:>8}"
                         f"{c['passed_on_retry']:>8}{self.time(target):>8.1f}s")
        return lines

    def summary(self) -> dict[str, object]:
        return {target: {**{o: self.counts(target)[o] for o in OUTCOMES},
                         "time_s": round(self.time(target), 3), "facts": self.facts.get(target, {})}
                for target in self.targets()}

    def junit(self, target: str, suite: str = "utvm-acceptance") -> ET.ElementTree:
        tests = sorted((t for t in self.tests.values() if t.target == target), key=lambda t: t.nodeid)
        c = self.counts(target)
        root = ET.Element("testsuites")
        ts = ET.SubElement(root, "testsuite", name=f"{suite}[{target}]", tests=str(len(tests)),
                           failures=str(c["failed"]), errors=str(c["error"]), skipped=str(c["skipped"]),
                           time=f"{self.time(target):.3f}")
        props = ET.SubElement(ts, "properties")
        for key, value in sorted({"target": target, **self.facts.get(target, {})}.items()):
            ET.SubElement(props, "property", name=key, value=value)
        for t in tests:
            case = ET.SubElement(ts, "testcase", classname=t.classname, name=t.name, time=f"{t.duration:.3f}")
            case_props = {**({"retries": t.retries} if t.retries else {}), **t.figures}
            if case_props:
                cprops = ET.SubElement(case, "properties")
                for key, value in case_props.items():
                    ET.SubElement(cprops, "property", name=key, value=str(value))
            tag = _JUNIT_TAGS.get(t.outcome)
            if tag:
                el = ET.SubElement(case, tag, message=t.message[:1000])
                if t.error_class:
                    el.set("type", t.error_class)
                el.text = t.details
        ET.indent(root)
        return ET.ElementTree(root)

    def write(self, out: Path) -> list[Path]:
        out.mkdir(parents=True, exist_ok=True)
        written = []
        for target in self.targets():
            path = out / f"junit-{target}.xml"
            self.junit(target).write(path, encoding="utf-8", xml_declaration=True)
            written.append(path)
        summary = out / "summary.json"
        summary.write_text(json.dumps({"ok": self.ok, "targets": self.summary(),
                                       "tests": [t.to_dict() for t in self.tests.values()]}, indent=2) + "\n")
        return [*written, summary]
