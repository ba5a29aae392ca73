"""The pre-submit job: the acceptance suite on the host target and every QEMU board, with the
model tier (each model on each target, checked against its own runtime, its figures held to the
committed baseline: utvm_ci.results.baseline).

LAVA's shape: `validate` checks everything the run needs and fails early with an
infrastructure error; `run` runs the suite (one pytest, xdist workers in
parallel, QEMU boards in containers) and reads its verdict back from summary.json,
then compares the model tier's figures with the baseline.

Exit codes: 0 all passed; 1 a test failed (a wrong result: the change is bad), or a
model's figure moved from the baseline; 3 only infrastructure errors (build, boot,
container, link: retrying may help); 2 bad usage.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from harness.errors import InfrastructureError
from harness.targets import all_targets, get_target, with_config
from harness.targets.config import ConfigError
from harness.testing.report import Outcome
from utvm_ci.job import EXIT_FAILED, EXIT_INFRA, EXIT_OK
from utvm_ci.results import baseline
from utvm_ci.suite import ROOT, SUITE, model_args, pytest_argv


def default_targets() -> list[str]:
    """The host builds (self-hosted processes), then every emulated board over each of its links."""
    targets = all_targets()
    hosts = [n for n, t in targets.items() if t.self_hosted]
    return [*hosts, *sorted(n for n, t in targets.items() if t.emulated)]


def configured_targets(names: list[str] | None, config: str) -> list[str]:
    """`--config NAME`: the named targets under that build configuration (each must have it), or, with
    none named, every default target that has it (the QEMU boards declare theirs; the host has none)."""
    if names:
        return [str(with_config(n, config)) for n in names]
    found = []
    for name in default_targets():
        try:
            found.append(str(with_config(name, config)))
        except ConfigError:
            continue
    if not found:
        raise ConfigError(f"no target has a configuration {config!r}")
    return found


@dataclass(frozen=True)
class Presubmit:
    targets: tuple[str, ...]
    report_dir: Path
    containers: bool = True
    workers: str = "auto"
    infra_retries: int = 1
    suite: Path = SUITE  # the installed acceptance suite, or another one for the plugin
    models: tuple[Path, ...] = ()  # the model tier's models (none: no model tier)
    baseline: Path = baseline.DEFAULT_PATH
    select: str | None = None  # only the tests pytest -k selects

    def validate(self) -> str | None:
        """Everything the run needs; returns the container image (or None)."""
        targets = [get_target(name) for name in self.targets]  # UtvmError names the known targets
        if self.models and importlib.util.find_spec("tvm") is None:
            raise InfrastructureError("the model tier compiles models with apache-tvm, which is not "
                                      "installed (pip install 'utvm[tvm]'), or run with --no-models")
        needs = {t.cc for t in targets}
        if not self.containers:
            needs |= {t.emulator[0] for t in targets if t.emulated}
        missing = sorted(tool for tool in needs if shutil.which(tool) is None)
        if missing:
            raise InfrastructureError(f"missing tools {', '.join(missing)} (run ci/install-system.sh)")
        if self.containers and any(t.containerized for t in targets):
            from harness.targets.docker import ensure_qemu_image

            return ensure_qemu_image()  # built once here, not raced for by the workers
        return None

    def pytest_argv(self) -> list[str]:
        return pytest_argv("-q", "-n", self.workers, f"--utvm-report-dir={self.report_dir}",
                           f"--infra-retries={self.infra_retries}", "-o", "console_output_style=count",
                           *[f"--target={t}" for t in self.targets], *model_args(self.models),
                           *(["-k", self.select] if self.select else []),
                           *(["--container"] if self.containers else []), tests=[str(self.suite)])

    def expected(self) -> list[tuple[str, str]]:
        """The (model, target) pairs the model tier measures: each model on each target, and its
        variants where the tier runs them (kws01@tuned on the boards of tier.TUNED_BOARDS)."""
        from harness.models.deploy import tier

        pairs = []
        for t in self.targets:
            variants = ["", *tier.variants(get_target(t))]
            pairs += [(tier.label(m.stem, v), t) for v in variants for m in self.models]
        return pairs

    def run_suite(self) -> tuple[int, dict | None]:
        """The suite (and model tier) and its verdict; the summary, None if the run left none."""
        self.validate()
        summary = self.report_dir / "summary.json"
        summary.unlink(missing_ok=True)
        start = time.monotonic()
        proc = subprocess.run(self.pytest_argv(), cwd=ROOT, check=False)
        elapsed = time.monotonic() - start
        if not summary.exists():
            print(f"utvm ci presubmit: the suite ended ({proc.returncode}) without a summary",
                  file=sys.stderr)
            return EXIT_INFRA, None
        data = json.loads(summary.read_text())
        return verdict(data, elapsed), data

    def run(self) -> int:
        code, summary = self.run_suite()
        if summary is None or not self.models:
            return code
        comparison = baseline.compare(summary, self.baseline, self.report_dir, self.expected())
        for line in comparison.report(self.report_dir):
            print(line)
        comparison.write(self.report_dir)
        return code if comparison.ok else EXIT_FAILED


def verdict(summary: dict, elapsed: float) -> int:
    totals = {k: sum(t[k] for t in summary["targets"].values()) for k in Outcome}
    code = EXIT_FAILED if totals[Outcome.FAILED] else EXIT_INFRA if totals[Outcome.ERROR] else EXIT_OK
    word = {EXIT_OK: "PASSED", EXIT_FAILED: "FAILED", EXIT_INFRA: "INFRASTRUCTURE ERRORS"}[code]
    print(f"utvm ci presubmit: {word} on {len(summary['targets'])} targets in {elapsed:.0f} s: "
          + ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in totals.items()))
    return code
