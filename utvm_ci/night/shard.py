"""Run part of the acceptance suite on one board (or one reference target) through the pytest plugin.

Each run is a pytest child process: the plugin builds the suite's image, flashes it
with the board's command and runs the tests over its serial port; the results come
back through the plugin's summary.json. A run that ends without one (a crash, a
timeout) turns every test it held into an infrastructure error.
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from harness.errors import InfrastructureError
from harness.link.transport import die_with_parent
from harness.testing.report import TestResult
from utvm_ci import suite
from utvm_ci.lab.inventory import Board

_LIVE: set[subprocess.Popen[bytes]] = set()  # suite runs in progress, for stop_all()
_LIVE_LOCK = threading.Lock()


def stop_all() -> None:
    """End every suite run in progress (the runner is asked to stop); their tests become errors."""
    with _LIVE_LOCK:
        for proc in _LIVE:
            proc.terminate()


@dataclass(frozen=True)
class Where:
    """How pytest reaches the target: nothing for a local target, port and commands for a board."""

    target: str
    port: str | None = None
    baud: int = 115200
    flash_cmd: str | None = None
    reset_cmd: str | None = None
    timeout_multiplier: float = 1.0

    @classmethod
    def for_board(cls, board: Board, port: str) -> Where:
        """A lab board, reached on `port` (its own, or the one its labgrid place gave)."""
        return cls(board.target, port, board.baud, board.flash_cmd, board.reset_cmd, board.timeout_multiplier)

    def argv(self) -> list[str]:
        out = [f"--target={self.target}", f"--timeout-multiplier={self.timeout_multiplier}"]
        if self.port:
            out += [f"--serial-port={self.port}", f"--baud={self.baud}", f"--flash-cmd={self.flash_cmd}"]
            out += [f"--reset-cmd={self.reset_cmd}"] if self.reset_cmd else []
        return out


@dataclass
class ShardResult:
    tests: dict[str, TestResult] = field(default_factory=dict)  # node id -> its result
    facts: dict[str, str] = field(default_factory=dict)
    log: Path | None = None


def test_name(nodeid: str, target: str) -> str:
    """The node id without the target parameter, the same for every backend."""
    base, bracket, params = nodeid.partition("[")
    if not bracket:
        return nodeid
    rest = params.removesuffix("]")
    if rest == target:
        rest = ""
    elif rest.startswith(target + "-"):
        rest = rest[len(target) + 1:]
    elif rest.endswith("-" + target):
        rest = rest[: -len(target) - 1]
    else:
        rest = rest.replace(f"-{target}-", "-", 1)
    return f"{base}[{rest}]" if rest else base


def _pytest(where: Where, cache: Path, extra: list[str], nodeids: list[str] | None = None) -> list[str]:
    """pytest on the whole suite, or on just these node ids."""
    return suite.pytest_argv("-q", "-o", "console_output_style=classic", f"--utvm-cache={cache}",
                             *where.argv(), *extra, tests=nodeids)


def collect(where: Where, cache: Path, select: str | None = None, models: Sequence[Path] = (),
            tiers: Sequence[str] = ()) -> list[str]:
    """The suite's node ids for the target, in order (with the model tier's tests for these models,
    and the tiers the options `tiers` turn on: the fuzz tier's)."""
    extra = ["--collect-only", *suite.model_args(models), *tiers] + (["-k", select] if select else [])
    proc = subprocess.run(_pytest(where, cache, extra), cwd=suite.ROOT, capture_output=True, text=True,
                          timeout=300, check=False)
    ids = [line.strip() for line in proc.stdout.splitlines() if "::" in line and not line.startswith(" ")]
    if proc.returncode not in (0, 5) or (proc.returncode == 0 and not ids):
        raise InfrastructureError(f"cannot collect the suite for {where.target} ({proc.returncode}): "
                                  f"{(proc.stderr or proc.stdout)[-1500:]}")
    return ids


def run(where: Where, nodeids: list[str], out: Path, cache: Path, infra_retries: int = 1,
        timeout: float = 3600, workers: int = 0, models: Sequence[Path] = (),
        tiers: Sequence[str] = ()) -> ShardResult:
    """Run the tests (model-tier tests need the models they were collected with); every one of them
    gets a result."""
    out.mkdir(parents=True, exist_ok=True)
    summary, log = out / "summary.json", out / "pytest.log"
    summary.unlink(missing_ok=True)
    extra = [f"--utvm-report-dir={out}", f"--infra-retries={infra_retries}", "-rN", *suite.model_args(models),
             *tiers]
    extra += ["-n", str(workers)] if workers else []
    with log.open("w") as sink:
        proc = subprocess.Popen(_pytest(where, cache, extra, nodeids), cwd=suite.ROOT, stdout=sink,
                                stderr=subprocess.STDOUT, preexec_fn=die_with_parent)  # none left behind
        with _LIVE_LOCK:
            _LIVE.add(proc)
        try:
            code: int | None = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            code = None
        finally:
            with _LIVE_LOCK:
                _LIVE.discard(proc)
    result = ShardResult(log=log)
    if summary.exists():
        data = json.loads(summary.read_text())
        result.tests = {t["nodeid"]: TestResult.from_dict(t) for t in data["tests"]}
        result.facts = data["targets"].get(where.target, {}).get("facts", {})
    why = ("did not finish in time" if code is None else f"ended ({code}) without a result")
    tail = log.read_text(errors="replace")[-800:]
    for nodeid in nodeids:  # tests the run never reported: the run broke down under them
        result.tests.setdefault(nodeid, TestResult.infrastructure_error(nodeid, where.target,
                                                                        f"the suite run {why}", tail))
    return result


def assign(nodeids: list[str], boards: list[str], last_board: dict[str, str]) -> dict[str, list[str]]:
    """Split tests among boards: evenly, and away from the board a test last failed to run on."""
    plan: dict[str, list[str]] = {b: [] for b in boards}
    for nodeid in nodeids:
        choices = [b for b in boards if b != last_board.get(nodeid)] or boards
        target = min(choices, key=lambda b: len(plan[b]))
        plan[target].append(nodeid)
    return {b: ids for b, ids in plan.items() if ids}
