"""The model of a sweep, compiled once per tuning (in the calling thread: TVM), and its own runtime
shared by every cell (behind a lock, its outputs kept per input)."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np

from harness.errors import UtvmError
from harness.models.compile import budget, records
from harness.models.compile.model import Compiled, compile_model
from harness.models.deploy import reference as references
from harness.models.frontends.loaded import read_model

Run = Callable[[list[np.ndarray]], list[np.ndarray]]


def records_for(tuning: str, target: str) -> Path | None:
    """The tuned records a cell's kernels are scheduled by: none, or (auto) those shipped for the
    target or its board, configuration included (harness.models.compile.records.shipped_for).
    TuningError if there are none."""
    return None if tuning == "none" else records.shipped_for(target)


class SweepModel:
    """The model file, its compilations by records (or why one failed) and its reference."""

    def __init__(self, path: Path, ram_budget: int | None = None) -> None:
        self.path = Path(path)
        self.ram_budget = ram_budget  # of tuned cells (harness.models.compile.budget); None: untuned RAM
        self.sha256 = hashlib.sha256(self.path.read_bytes()).hexdigest()
        self.format = read_model(self.path).format
        self._compiled: dict[Path | None, Compiled | UtvmError] = {}
        self._reference: references.Reference | None = None

    def compile(self, tuning: Path | None) -> Compiled:
        """Compiled once per records file (call it from one thread); the same error again if it failed."""
        if tuning not in self._compiled:
            try:
                loaded = read_model(self.path)
                tuned = budget.with_budget(tuning, self.ram_budget) if tuning is not None else None
                compiled = compile_model(loaded, tuning=records.resolve(tuned, None))
                self._compiled[tuning] = compiled
                if self._reference is None:
                    self._reference = shared(references.for_model(loaded, compiled))
            except UtvmError as exc:
                self._compiled[tuning] = exc
        found = self._compiled[tuning]
        if isinstance(found, UtvmError):
            raise found
        return found

    @property
    def reference(self) -> references.Reference:
        if self._reference is None:
            raise UtvmError(f"{self.path.name} was not compiled: no reference to compare with")
        return self._reference


def shared(ref: references.Reference) -> references.Reference:
    """The reference made safe to call from many threads, each input run once (its `run` wrapped in
    place: a reference may learn its runtime's name on its first run)."""
    lock = threading.Lock()
    seen: dict[bytes, list[np.ndarray]] = {}
    inner: Run = ref.run

    def run(xs: list[np.ndarray]) -> list[np.ndarray]:
        key = hashlib.sha256(b"".join(f"{x.dtype}{x.shape}".encode() + x.tobytes() for x in xs)).digest()
        with lock:
            if key not in seen:
                seen[key] = inner(xs)
            return seen[key]

    ref.run = run
    return ref
