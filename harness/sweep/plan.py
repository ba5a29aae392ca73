"""The axes of a sweep and their cross product: one Cell per combination, in a stable order."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from harness.errors import UsageError, UtvmError
from harness.models.deploy.executors import EXECUTORS
from harness.targets import get_target

WEIGHTS = ("flash", "ram")
OPTS = ("O0", "O1", "O2", "O3", "Os", "Oz", "Og", "Ofast")  # harness.targets.config's levels
TUNINGS = ("none", "auto")


class SweepUsageError(UsageError):
    """A flag of `utvm sweep` names something that does not exist (an unknown target, a bad axis value)."""


@dataclass(frozen=True)
class Cell:
    """One combination. None on opt, weights or config: the target's own default."""

    target: str
    executor: str
    weights: str | None
    opt: str | None
    tuning: str
    config: str | None

    @property
    def key(self) -> str:
        """A file name for the cell (its build directory)."""
        parts = [self.target, self.executor, self.tuning, self.weights or "-", self.opt or "-",
                 self.config or "-"]
        return "_".join(parts)

    def axes(self) -> dict[str, str | None]:
        return {"target": self.target, "executor": self.executor, "weights": self.weights, "opt": self.opt,
                "tuning": self.tuning, "config": self.config}


@dataclass(frozen=True)
class Axes:
    targets: tuple[str, ...]
    executors: tuple[str, ...] = ("graph",)
    weights: tuple[str | None, ...] = (None,)
    opts: tuple[str | None, ...] = (None,)
    tunings: tuple[str, ...] = ("none",)
    configs: tuple[str | None, ...] = (None,)

    def cells(self) -> list[Cell]:
        return [Cell(t, e, w, o, tu, c) for t, e, w, o, tu, c in itertools.product(
            self.targets, self.executors, self.weights, self.opts, self.tunings, self.configs)]


def split(flag: str, text: str | None) -> tuple[str, ...]:
    """A comma-separated axis; SweepUsageError on an empty or repeated value."""
    if text is None:
        return ()
    values = tuple(v.strip() for v in text.split(","))
    if any(not v for v in values):
        raise SweepUsageError(f"{flag} {text!r}: an empty value (expected e.g. {flag} A,B)")
    repeated = sorted({v for v in values if values.count(v) > 1})
    if repeated:
        raise SweepUsageError(f"{flag} {text!r}: {repeated[0]!r} is given twice")
    return values


def _choose(flag: str, text: str | None, allowed: tuple[str, ...]) -> tuple[str, ...]:
    values = split(flag, text)
    bad = [v for v in values if v not in allowed]
    if bad:
        raise SweepUsageError(f"{flag}: unknown value {bad[0]!r}; expected some of {','.join(allowed)}")
    return values


def _targets(text: str) -> tuple[str, ...]:
    names = split("--targets", text)
    if not names:
        raise SweepUsageError("--targets: give at least one target (see `utvm targets`)")
    for name in names:
        try:
            get_target(name)
        except UtvmError as exc:
            raise SweepUsageError(f"--targets: {exc}") from None
    return names


def parse_axes(targets: str, executor: str | None = None, weights: str | None = None, opt: str | None = None,
               tuning: str | None = None, config: str | None = None) -> Axes:
    """The axes as the command line gives them (comma-separated); an axis not given is its default."""
    return Axes(
        targets=_targets(targets),
        executors=_choose("--executor", executor, tuple(EXECUTORS)) or ("graph",),
        weights=_choose("--weights", weights, WEIGHTS) or (None,),
        opts=_choose("--opt", opt, OPTS) or (None,),
        tunings=_choose("--tuning", tuning, TUNINGS) or ("none",),
        configs=split("--config", config) or (None,),
    )
