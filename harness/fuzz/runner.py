"""The differential runner: cases the reference runs are merged, many to one model, compiled by
utvm into one image for the target, run through the graph executor over RPC, and each case's
outputs compared with the reference's. A case the reference refuses is skipped; one we refuse
must be refused in one line (a ModelError); anything else is a disagreement. A batch we refuse is
split in halves until the refused cases stand alone. Kernels scheduled otherwise than by default
(tuned, micro-kernels) are also compared with the same cases' default-scheduled image, bit for bit."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from harness.build import Manifest
from harness.device import Device
from harness.errors import ModelError
from harness.fuzz.cases import KINDS, Case
from harness.fuzz.reference import Refused
from harness.models.compile.model import Compiled, Scheduler, compile_model
from harness.models.deploy.graph_client import GraphModule
from harness.models.deploy.run import build_model_image
from harness.targets import Target


@dataclass
class Disagreement:
    case: Case
    summary: str  # one line

    def line(self) -> str:
        return f"{self.case.name} [{self.case.ops}]: {self.summary}"


@dataclass
class Report:
    target: str
    matched: int = 0
    refused_reference: int = 0  # skipped: the reference will not run them
    refused_ours: int = 0  # one-line ModelError where the reference runs the case
    refusals: dict[str, int] = field(default_factory=dict)  # our refusal messages, counted
    images: int = 0
    seconds: float = 0.0
    disagreements: list[Disagreement] = field(default_factory=list)
    families: dict[str, int] = field(default_factory=dict)  # compared cases per operator family
    untuned_compared: int = 0  # cases also compared with their default-scheduled image
    # Cases off the reference only where its own float rounding fell on the other side of a tie
    # (harness.fuzz.exact): counted as matched, listed here by name.
    reference_rounding: list[str] = field(default_factory=list)

    @property
    def compared(self) -> int:
        return self.matched + len(self.disagreements)

    @property
    def per_minute(self) -> float:
        return 60 * (self.compared + self.refused_ours) / self.seconds if self.seconds else 0.0


def triage(case: Case, report: Report) -> bool:
    """Whether the reference runs the case (its outputs kept); a case it refuses is skipped."""
    try:
        case.expected = KINDS[case.kind].reference(case.model, case.inputs)
    except Refused:
        report.refused_reference += 1
        return False
    return True


def _refused(case: Case, exc: Exception, report: Report) -> None:
    """Our refusal of a case the reference runs: one line (a ModelError), or a disagreement."""
    message = str(exc)
    if not isinstance(exc, ModelError) or "\n" in message:
        first = message.splitlines()[0] if message else ""
        report.disagreements.append(Disagreement(case, f"compile failed: {type(exc).__name__}: {first}"))
        return
    report.refused_ours += 1
    key = message.split(":", 1)[-1].strip()[:80]
    report.refusals[key] = report.refusals.get(key, 0) + 1


def differ(got: list[np.ndarray], expected: list[np.ndarray], tol: int) -> str | None:
    """One line on how outputs differ from expected ones beyond `tol` LSB, or None when they agree."""
    for g, e in zip(got, expected, strict=True):
        if g.shape != e.shape or g.dtype != e.dtype:
            return f"output {g.dtype}{list(g.shape)}, reference {e.dtype}{list(e.shape)}"
        if g.dtype.kind == "f":
            diff = float(np.max(np.abs(g.astype(np.float64) - e))) if g.size else 0.0
            if diff > 0 and not np.array_equal(g, e):
                return f"max |diff| {diff:g} (float output)"
            continue
        diff = int(np.max(np.abs(g.astype(np.int64) - e))) if g.size else 0
        if diff > tol:
            count = int(np.sum(np.abs(g.astype(np.int64) - e) > tol))
            return f"max |diff| {diff} LSB at {count} of {g.size} elements (tolerance {tol})"
    return None


def compare(case: Case, got: list[np.ndarray]) -> str | None:
    """One line on how the outputs differ from the reference's, or None when they agree."""
    return differ(got, case.expected, KINDS[case.kind].tolerance)


def reference_rounding(case: Case, got: list[np.ndarray], model: Any = None) -> bool:
    """Whether a disagreement is the reference's own rounding: the kind's exact evaluation of the
    case (`model`, default the case's), which only answers where it rounded an exact tie, agrees with
    our outputs and not with the reference's."""
    kind = KINDS[case.kind]
    try:
        exact = kind.exact(case.model if model is None else model, case.inputs)
    except Exception:  # the exact evaluator cannot run it: the disagreement stands
        return False
    if exact is None:
        return False
    tol = kind.tolerance
    return differ(got, exact, tol) is None and differ(case.expected, exact, tol) is not None


def versus_untuned(got: list[np.ndarray], untuned: list[np.ndarray]) -> str | None:
    """One line on how a scheduled kernel's outputs differ from the default schedule's (bit for bit)."""
    for g, u in zip(got, untuned, strict=True):
        if g.shape != u.shape or g.dtype != u.dtype or not np.array_equal(g, u):
            diff = (int(np.max(np.abs(g.astype(np.float64) - u))) if g.shape == u.shape and g.size else -1)
            return f"differs from the default schedule's output (max |diff| {diff})"
    return None


def _count(case: Case, report: Report) -> None:
    for family in {KINDS[case.kind].family(op) for op in case.ops.split(">")}:
        report.families[family] = report.families.get(family, 0) + 1


# How an image is run: a context manager giving the RPC client of a device running the manifest.
# Default: a Device started here (the host process, QEMU); a test suite passes its own (a lab board).
Launcher = Callable[[Manifest, Path], contextlib.AbstractContextManager]


@contextlib.contextmanager
def device(manifest: Manifest, workdir: Path) -> Iterator[object]:
    with Device(manifest, workdir=workdir) as client:
        yield client


def _outputs(compiled: Compiled, cases: list[Case], target: Target, workdir: Path,
             launcher: Launcher = device) -> list[list[np.ndarray]]:
    """Each case's outputs from one image of the compiled cases, run once on the target. With a
    launcher of the caller's, each image builds in a directory of its own (a launcher that keeps
    devices by image path sees each image as new)."""
    build = workdir / ("build" if launcher is device else f"image-{time.monotonic_ns()}")
    manifest = build_model_image(compiled, target, build)
    with launcher(manifest, workdir) as client:
        module = GraphModule(client, compiled.graph)
        inputs = [x for c in cases for x in c.inputs]
        for i, x in enumerate(inputs):
            module.set_input(i, x)
        module.run()
        position, out = 0, []
        for case in cases:
            out.append([module.get_output(position + j) for j in range(len(case.expected))])
            position += len(case.expected)
    return out


def _untuned(source: bytes | Path, cases: list[Case], target: Target, workdir: Path,
             report: Report, launcher: Launcher) -> list[list[np.ndarray]] | None:
    """The cases' outputs with every kernel on its default schedule (None if that does not compile:
    the default fuzz run's business)."""
    try:
        compiled = compile_model(source)
    except ModelError:
        return None
    report.images += 1
    return _outputs(compiled, cases, target, workdir, launcher)


def run_batch(cases: list[Case], target: Target, workdir: Path, report: Report,
              scheduler: Scheduler | None = None, launcher: Launcher = device) -> None:
    """Compile the cases as one model (kernels scheduled by `scheduler`, default each op's default
    schedule), run it once on the target, compare each case (with the reference, and with the
    default-scheduled image when `scheduler` is given)."""
    if not cases:
        return
    kind = KINDS[cases[0].kind]
    try:
        source = kind.merged([c.model for c in cases], workdir)
        compiled = compile_model(source, scheduler=scheduler)
    except Exception as exc:
        if len(cases) == 1:
            _refused(cases[0], exc, report)
            return
        culprit = kind.culprit([c.model for c in cases], str(exc)) if isinstance(exc, ModelError) else None
        if culprit is not None:  # the error names the operator, so the case: it alone, then the others
            run_batch([cases[culprit]], target, workdir, report, scheduler, launcher)
            run_batch(cases[:culprit] + cases[culprit + 1:], target, workdir, report, scheduler, launcher)
            return
        half = len(cases) // 2
        run_batch(cases[:half], target, workdir, report, scheduler, launcher)
        run_batch(cases[half:], target, workdir, report, scheduler, launcher)
        return
    report.images += 1
    outputs = _outputs(compiled, cases, target, workdir, launcher)
    untuned = _untuned(source, cases, target, workdir, report, launcher) if scheduler is not None else None
    for i, (case, got) in enumerate(zip(cases, outputs, strict=True)):
        problem = compare(case, got)
        if problem is not None and reference_rounding(case, got):
            report.reference_rounding.append(f"{case.name} [{case.ops}]")
            problem = None
        if problem is None and untuned is not None:
            report.untuned_compared += 1
            problem = versus_untuned(got, untuned[i])
        _count(case, report)
        if problem is None:
            report.matched += 1
        else:
            report.disagreements.append(Disagreement(case, problem))


def _bytes(case: Case) -> int:
    return sum(x.nbytes for x in case.inputs) + sum(e.nbytes for e in case.expected)


def fuzz(cases: list[Case], target: Target, workdir: Path, batch_bytes: int = 24_000,
         batch_cases: int = 40, scheduler: Scheduler | None = None,
         progress: Callable[[Report, int], None] | None = None, launcher: Launcher = device) -> Report:
    """Every case triaged, then the runnable ones in images of at most `batch_cases` cases and
    about `batch_bytes` bytes of inputs and outputs."""
    report = Report(target.name)
    start = time.monotonic()
    batch: list[Case] = []
    for done, case in enumerate(cases):
        if not triage(case, report):
            continue
        if batch and (len(batch) >= batch_cases or sum(map(_bytes, batch)) + _bytes(case) > batch_bytes):
            run_batch(batch, target, workdir, report, scheduler, launcher)
            batch = []
            if progress is not None:
                progress(report, done)
        batch.append(case)
    run_batch(batch, target, workdir, report, scheduler, launcher)
    report.seconds = time.monotonic() - start
    return report
