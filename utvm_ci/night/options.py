"""What a night is asked to do, defined once: the dataclass the runner reads, the command-line
options of `utvm hil run` and `serve` (derived from its fields), and the argv that hands the
options to a night started from a checkout."""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from harness import resources
from utvm_ci import suite
from utvm_ci.lab.lease import default_state
from utvm_ci.results.flaky import Policy


@dataclass(frozen=True)
class NightOptions:
    # Fields with help text are command-line options (--report-dir for report_dir); the rest are
    # for callers in Python.
    inventory: Path = field(metadata={"help": "the lab's inventory", "metavar": "LAB.yaml", "required": True})
    report_dir: Path = field(default=Path("reports/nightly"), metadata={"help": "where the reports go",
                                                                        "metavar": "DIR"})
    state: Path = field(default_factory=default_state, metadata={
        "help": "history.sqlite and leases (default: $UTVM_HIL_STATE, or hil-state beside the image cache)",
        "metavar": "DIR"})
    retries: int = field(default=2, metadata={"help": "rounds of re-runs after infrastructure errors"})
    backoff: float = field(default=2.0, metadata={"help": "seconds before the first re-run; doubles"})
    lease_ttl: float = field(default=60.0, metadata={"help": "seconds a lease lives unless renewed"})
    reference: str | None = field(default=None, metadata={
        "help": "reference backends to compare with, T1,T2 (default: host and the inventory's QEMU "
                "targets; '' for none)", "metavar": "T1,T2"})
    select: str | None = field(default=None, metadata={"help": "only the tests pytest -k EXPR selects",
                                                       "metavar": "EXPR"})
    flaky_window: int = field(default=10, metadata={"help": "nights looked at for flips"})
    flaky_flips: int = field(default=3, metadata={"help": "flips in the window that quarantine a test"})
    quarantine_days: float = field(default=7.0, metadata={"help": "how long a quarantine lasts"})
    models_dir: Path | None = field(default=None, metadata={
        "help": "the model tier's models, run on every healthy board and reference backend (default: "
                "../shared/models/mlperf-tiny beside the checkout)", "metavar": "DIR"})
    models: str | None = field(default=None, metadata={
        "help": "comma-separated model names in --models-dir (default: kws01,vww01,ic01,ad01)",
        "metavar": "NAMES"})
    no_models: bool = field(default=False, metadata={"help": "a night without the model tier"})
    fuzz_cases: int = field(default=0, metadata={
        "help": "the fuzz tier: N int8 TFLite cases and N/5 QDQ cases on every healthy board and reference "
                "(default 0: none); a disagreement fails the night", "metavar": "N"})
    fuzz_seed: int | None = field(default=None, metadata={
        "help": "the fuzz tier's seed (default: the night's date, YYYYMMDD: new cases each night)",
        "metavar": "S"})
    cache: Path = field(default_factory=resources.cache_dir)
    lease_wait: float | None = None  # default: a lease's lifetime, so a killed runner's leases lapse
    run_id: str | None = None
    revision: str | None = None

    @property
    def references(self) -> tuple[str, ...] | None:
        return None if self.reference is None else tuple(t for t in self.reference.split(",") if t)

    @property
    def policy(self) -> Policy:
        return Policy(window=self.flaky_window, flips=self.flaky_flips, days=self.quarantine_days)

    @property
    def history_path(self) -> Path:
        return self.state / "history.sqlite"

    def fuzz_args(self) -> list[str]:
        """The suite's options that run the fuzz tier (acceptance_tests/test_fuzz_tier.py), or none."""
        if not self.fuzz_cases:
            return []
        seed = self.fuzz_seed if self.fuzz_seed is not None else int(time.strftime("%Y%m%d"))
        return [f"--utvm-fuzz-cases={self.fuzz_cases}", f"--utvm-fuzz-seed={seed}"]

    def model_files(self) -> list[Path]:
        """The model tier's models (UtvmError if one is missing); none with no_models, or from an
        installed utvm given no models_dir."""
        if self.no_models:
            return []
        directory = self.models_dir if self.models_dir is not None else suite.default_models_dir()
        if directory is None and self.models is None:
            return []
        return suite.model_files(directory, suite.names(self.models))

    # ---- the command line ----
    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        for f in _options():
            if f.type == "bool":  # a switch
                parser.add_argument(_flag(f.name), action="store_true", default=None, help=f.metadata["help"])
                continue
            parser.add_argument(_flag(f.name), type=_TYPES[f.type], default=None,
                                required=f.metadata.get("required", False),
                                metavar=f.metadata.get("metavar"), help=f.metadata["help"])

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> NightOptions:
        given = {f.name: getattr(args, f.name) for f in _options() if getattr(args, f.name) is not None}
        options = cls(**given)
        if options.models_dir is None:  # beside this checkout, also for a night run from another one
            options = replace(options, models_dir=suite.default_models_dir())
        return replace(options, **{k: Path(getattr(options, k)).absolute() for k in _PATHS
                                   if getattr(options, k) is not None})

    def argv(self) -> list[str]:
        """The options again as arguments of `utvm hil run`."""
        out: list[str] = []
        for f in _options():
            value = getattr(self, f.name)
            if isinstance(value, bool):
                out += [_flag(f.name)] if value else []
            elif value is not None:
                out += [_flag(f.name), str(value)]
        return out


_TYPES = {"Path": str, "Path | None": str, "int": int, "int | None": int, "float": float, "str | None": str}
_PATHS = ("inventory", "report_dir", "state", "models_dir")


def _options() -> list[Any]:
    return [f for f in fields(NightOptions) if "help" in f.metadata]


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")
