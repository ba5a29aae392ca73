"""The nightly hardware-in-the-loop run: `utvm hil run --inventory LAB.yaml`.

LAVA's shape. `validate`: the inventory, the tools, the images. `run`:
  1. every board, in parallel: take its lease, reach its port, health check
     (flash a known-good image, handshake, echo); a sick board is out of rotation;
  2. per target, the suite split among its healthy boards, one pytest per board;
  3. tests that ended in an infrastructure error run again, after a backoff, on
     another board of the target when there is one (a board that produced them
     is checked again first); failures are never re-run;
  4. the reference backends (host, QEMU) run the same suite, for comparison;
     the suite includes the model tier (each model on the board's own image:
     outputs against the model's own runtime, cycles per inference, flash, RAM);
  5. results (and model figures) go to the history, quarantine is updated,
     reports are written.

Exit codes: 0 passed; 1 a test failed (quarantined tests excepted);
3 only infrastructure errors (or a board out of rotation); 2 bad usage.
"""

from __future__ import annotations

import contextlib
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

from harness.device.dut import Hooks
from harness.errors import InfrastructureError, UtvmError
from harness.targets import all_targets
from harness.testing.report import Outcome as O
from harness.testing.report import TestResult
from harness.testing.suite import revision
from utvm_ci.job import EXIT_FAILED, EXIT_INFRA, EXIT_OK
from utvm_ci.lab import health
from utvm_ci.lab.access import Access, access_for
from utvm_ci.lab.inventory import Board, Inventory, load
from utvm_ci.lab.lease import Lease
from utvm_ci.night import report, shard
from utvm_ci.night.options import NightOptions
from utvm_ci.results.flaky import compare_backends, update_quarantine
from utvm_ci.results.history import History, Result
from utvm_ci.suite import FUZZ_TESTS, MODEL_TESTS

HEALTH_TIMEOUT = 2.0  # s, times the target's and board's multipliers: a known-good image answers at once


@dataclass
class Slot:
    """One board during the night."""

    board: Board
    access: Access
    port: str = ""
    lease: Lease | None = None
    health: str = "unchecked"  # healthy, out_of_rotation, busy
    message: str = ""
    firmware_bytes: int | None = None
    facts: dict[str, str] = field(default_factory=dict)

    @property
    def healthy(self) -> bool:
        return self.health == "healthy"

    def where(self) -> shard.Where:
        return shard.Where.for_board(self.board, self.port)

    def hooks(self) -> Hooks:
        return self.board.hooks()


@dataclass
class Outcome:
    """A test's result tonight and the board it last ran on."""

    board: str
    target: str
    result: TestResult
    trail: list[str] = field(default_factory=list)  # earlier infrastructure errors


class Night:
    def __init__(self, options: NightOptions) -> None:
        if options.fuzz_cases and options.fuzz_seed is None:  # one seed for the whole night
            options = replace(options, fuzz_seed=int(time.strftime("%Y%m%d")))
        self.o = options
        self.run_id = options.run_id or time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
        self.inventory: Inventory | None = None
        self.slots: list[Slot] = []
        self.outcomes: dict[str, Outcome] = {}
        self.references: list[Result] = []
        self.target_errors: dict[str, str] = {}  # targets whose suite could not even be collected
        self.models: list[Path] = []  # the model tier's models
        self.model_outcomes: dict[tuple[str, str], Outcome] = {}  # (board, node id): on every board
        self.stopping = False  # asked to stop (SIGTERM): finish up, release the boards, report
        self._lock = threading.RLock()  # log() may run in a signal handler (stop)
        self.log_lines: list[str] = []

    def stop(self) -> None:
        """End the night early: running suites are stopped, nothing new starts, reports are written."""
        if not self.stopping:
            self.stopping = True
            self.log("asked to stop: ending the running suites, then releasing the boards")
            shard.stop_all()

    def log(self, text: str) -> None:
        line = f"[{time.strftime('%H:%M:%S')}] {text}"
        with self._lock:
            self.log_lines.append(line)
        print(line, flush=True)

    # ---- validate ----
    def validate(self) -> Inventory:
        """The inventory (InventoryError: nothing runs) and the references."""
        self.inventory = load(self.o.inventory)
        for name in self.reference_targets():
            if name not in all_targets():
                raise UtvmError(f"unknown reference target {name!r}")
        if self.o.retries < 0 or self.o.backoff < 0:
            raise UtvmError("retries and backoff must not be negative")
        self.models = self.o.model_files()  # a missing model: nothing runs
        return self.inventory

    def reference_targets(self) -> tuple[str, ...]:
        if self.o.references is not None:
            return self.o.references
        assert self.inventory is not None
        emulated = sorted({b.target for b in self.inventory.boards if all_targets()[b.target].emulated})
        return ("host", *emulated)

    # ---- run ----
    def run(self) -> int:

        inventory = self.validate()
        history = History(self.o.history_path)
        history.start_run(self.run_id, self.o.revision or revision(), inventory.lab)
        self.log(f"night {self.run_id}: lab {inventory.lab}, {len(inventory.boards)} boards; model tier: "
                 + (", ".join(m.stem for m in self.models) or "none") + "; fuzz tier: "
                 + (" ".join(self.o.fuzz_args()) or "none"))
        self.slots = [Slot(b, access_for(b)) for b in inventory.boards]
        try:
            with self._boards_held(), ThreadPoolExecutor(max(2, len(self.slots))) as pool:
                refs = pool.submit(self._run_references)
                targets = {b.target for b in inventory.boards}
                for done in [pool.submit(self._run_target, t) for t in sorted(targets)]:
                    done.result()
                self.references = refs.result()
        finally:
            self._record(history)
        changes = update_quarantine(history, self.o.policy, time.time())
        quarantined = {(q.test, q.target) for q in history.quarantined(time.time())}
        code, verdict = self.verdict(quarantined)
        history.finish_run(self.run_id, verdict)
        discrepancies = compare_backends(self.board_results(), self.references)
        written = report.write(self.o.report_dir, self, history, quarantined, changes, discrepancies,
                                       verdict)
        history.close()
        self.log(f"night {self.run_id}: {verdict.upper()}; reports in {written}")
        return code

    @contextlib.contextmanager
    def _boards_held(self) -> Iterator[None]:
        try:
            with ThreadPoolExecutor(len(self.slots)) as pool:
                list(pool.map(self._take_and_check, self.slots))
            yield
        finally:
            for slot in self.slots:
                self._give_back(slot)

    def _take_and_check(self, slot: Slot) -> None:
        wait = self.o.lease_wait if self.o.lease_wait is not None else self.o.lease_ttl + 5
        try:
            slot.lease = Lease(self.o.state / "leases", slot.board.name, ttl=self.o.lease_ttl).acquire(wait)
        except InfrastructureError as exc:
            slot.health, slot.message = "busy", str(exc)
            self.log(f"{slot.board.name}: busy: {exc}")
            return
        try:
            slot.port = slot.access.acquire()
        except InfrastructureError as exc:
            self._out_of_rotation(slot, str(exc))
            return
        self._check(slot)

    def _check(self, slot: Slot) -> None:
        try:
            image = health.known_good_image(slot.board.target, self.o.cache)
        except InfrastructureError as exc:
            raise InfrastructureError(f"cannot build the known-good image for {slot.board.target}: {exc}") \
                from exc
        slot.firmware_bytes = image.size["text"] + image.size["data"]
        for attempt in range(self.o.retries + 1):  # a flash that fails once is no verdict on the board
            if attempt:
                time.sleep(min(self.o.backoff * 2 ** (attempt - 1), 60.0))
                self._power_cycle(slot)
            result = health.check(image, slot.port, slot.board.baud, slot.hooks(),
                                  timeout=HEALTH_TIMEOUT * slot.board.timeout_multiplier)
            if result.ok:
                break
            self.log(f"{slot.board.name}: health check failed (attempt {attempt + 1}): {result.message}")
        if result.ok:
            slot.health, slot.message = "healthy", result.message
            self.log(f"{slot.board.name}: healthy ({result.seconds:.1f} s)")
        else:
            self._out_of_rotation(slot, result.message)

    def _power_cycle(self, slot: Slot) -> None:
        """Between health checks, a board with power control gets a cold start."""
        b = slot.board
        if not (b.power_off_cmd and b.power_on_cmd):
            return
        self.log(f"{b.name}: power-cycling")
        for cmd in (b.power_off_cmd, b.power_on_cmd):
            try:
                subprocess.run(cmd, shell=True, capture_output=True, timeout=b.flash_timeout, check=False)
            except subprocess.TimeoutExpired:
                self.log(f"{b.name}: power command timed out: {cmd}")
            time.sleep(0.5)

    def _out_of_rotation(self, slot: Slot, why: str) -> None:
        slot.health, slot.message = "out_of_rotation", why
        self.log(f"{slot.board.name}: OUT OF ROTATION: {why}")

    def _give_back(self, slot: Slot) -> None:
        with contextlib.suppress(InfrastructureError):
            slot.access.release()
        if slot.lease is not None:
            slot.lease.release()

    # ---- the suite on a target's boards, then the model tier on each of them ----
    def _run_target(self, target: str) -> None:
        slots = [s for s in self.slots if s.board.target == target]
        first = slots[0]
        where = first.where() if first.port else shard.Where(target, "unused", flash_cmd="true")
        try:
            nodeids = shard.collect(where, self.o.cache, self.o.select)
        except InfrastructureError as exc:  # the other targets' boards go on
            self.target_errors[target] = str(exc)
            self.log(f"{target}: cannot collect the suite: {exc}")
            return
        pending, last_board = list(nodeids), dict.fromkeys(nodeids, "")
        for attempt in range(self.o.retries + 1):
            if attempt:
                time.sleep(min(self.o.backoff * 2 ** (attempt - 1), 60.0))
            healthy = [s for s in slots if s.healthy]
            if not healthy or not pending or self.stopping:
                break
            plan = shard.assign(pending, [s.board.name for s in healthy], last_board)
            by_name = {s.board.name: s for s in healthy}
            with ThreadPoolExecutor(len(plan)) as pool:
                runs = {name: pool.submit(self._run_shard, by_name[name], ids, attempt)
                        for name, ids in plan.items()}
                results = {name: future.result() for name, future in runs.items()}
            pending = [n for _, n in self._merge(target, results, attempt)]
            for nodeid in pending:
                last_board[nodeid] = self.outcomes[nodeid].board
            for name in {last_board[n] for n in pending} if not self.stopping else ():
                self.log(f"{name}: infrastructure errors; checking the board again")
                self._check(by_name[name])
        for nodeid in nodeids:  # never ran: no board of the target was in rotation
            if nodeid not in self.outcomes:
                self.outcomes[nodeid] = Outcome(first.board.name, target, TestResult.infrastructure_error(
                    nodeid, target, f"not run: no board of {target} in rotation"))
        if self.models or self.o.fuzz_cases:
            self._run_model_tier(target, slots, where)

    def _run_model_tier(self, target: str, slots: list[Slot], where: shard.Where) -> None:
        """Every model (and the fuzz tier) on every healthy board (each board is measured, so nothing is
        shared); a test that ended in an infrastructure error runs again on the same board after a
        health check."""
        select = f"({MODEL_TESTS} or {FUZZ_TESTS})" + (f" and ({self.o.select})" if self.o.select else "")
        try:
            nodeids = shard.collect(where, self.o.cache, select, self.models, self.o.fuzz_args())
        except InfrastructureError as exc:
            self.target_errors[target] = str(exc)
            self.log(f"{target}: cannot collect the model tier: {exc}")
            return
        pending = {s.board.name: list(nodeids) for s in slots if s.healthy and nodeids}
        for attempt in range(self.o.retries + 1):
            if attempt:
                time.sleep(min(self.o.backoff * 2 ** (attempt - 1), 60.0))
                for slot in slots if not self.stopping else ():
                    if pending.get(slot.board.name):
                        self.log(f"{slot.board.name}: infrastructure errors in the model tier; checking "
                                 "the board again")
                        self._check(slot)
            by_name = {s.board.name: s for s in slots if s.healthy and pending.get(s.board.name)}
            if not by_name or self.stopping:
                break
            with ThreadPoolExecutor(len(by_name)) as pool:
                runs = {name: pool.submit(self._run_shard, slot, pending[name], attempt, "model-tier")
                        for name, slot in by_name.items()}
                results = {name: future.result() for name, future in runs.items()}
            pending = {}
            for board, nodeid in self._merge(target, results, attempt, per_board=True):
                pending.setdefault(board, []).append(nodeid)

    def _run_shard(self, slot: Slot, nodeids: list[str], attempt: int, tier: str = "") -> shard.ShardResult:
        self.log(f"{slot.board.name}: running {len(nodeids)} {tier + ' ' if tier else ''}tests "
                 f"(attempt {attempt + 1})")
        out = self.o.report_dir / "runs" / f"{slot.board.name}{'-' + tier if tier else ''}-{attempt + 1}"
        tiers = self.o.fuzz_args() if tier else []
        result = shard.run(slot.where(), nodeids, out, self.o.cache, models=self.models, tiers=tiers)
        slot.facts.update(result.facts)
        return result

    def _merge(self, target: str, results: dict[str, shard.ShardResult], attempt: int,
               per_board: bool = False) -> list[tuple[str, str]]:
        """Fold a round's results in (a model-tier test once per board); returns the (board, node id)
        of the tests that ended in an infrastructure error."""
        pending = []
        for board, result in results.items():
            for nodeid, entry in result.tests.items():
                book: dict = self.model_outcomes if per_board else self.outcomes
                key = (board, nodeid) if per_board else nodeid
                entry = replace(entry)
                before = book.get(key)
                trail = list(before.trail) if before else []
                if before is not None:  # this is a re-run after an infrastructure error
                    trail.append(f"{before.board}: {before.result.message}")
                    entry.retries += before.result.retries + 1
                if entry.outcome == O.PASSED and entry.retries:
                    entry.outcome = O.PASSED_ON_RETRY
                book[key] = Outcome(board, target, entry, trail)
                if entry.outcome == O.ERROR:
                    pending.append((board, nodeid))
        return pending

    # ---- references ----
    def _run_references(self) -> list[Result]:
        out: list[Result] = []
        for target in self.reference_targets():
            if self.stopping:
                break
            where = shard.Where(target)
            try:
                ids = shard.collect(where, self.o.cache, self.o.select, self.models, self.o.fuzz_args())
                out_dir = self.o.report_dir / "runs" / f"reference-{target}"
                result = shard.run(where, ids, out_dir, self.o.cache, models=self.models,
                                   tiers=self.o.fuzz_args())
            except InfrastructureError as exc:
                self.log(f"reference {target}: {exc}")
                continue
            out += [_result(target, target, e) for e in result.tests.values()]
            self.log(f"reference {target}: {len(ids)} tests")
        return out

    # ---- outcome of the night ----
    def board_results(self) -> list[Result]:
        outcomes = [*self.outcomes.values(), *self.model_outcomes.values()]
        return [_result(o.board, o.target, o.result, o.trail) for o in outcomes]

    def _record(self, history: History) -> None:
        for s in self.slots:
            history.record_board(self.run_id, s.board.name, s.board.target, s.health, s.message,
                                 s.firmware_bytes)
        for target in self.reference_targets():
            history.record_board(self.run_id, target, target, "reference", kind="reference")
        history.record_results(self.run_id, self.board_results() + self.references)

    def verdict(self, quarantined: set[tuple[str, str]]) -> tuple[int, str]:
        if self.stopping:
            return EXIT_INFRA, "interrupted"
        results = self.board_results()
        if any(r.outcome == O.FAILED and (r.test, r.target) not in quarantined for r in results):
            return EXIT_FAILED, "failed"
        if (any(r.outcome == O.ERROR for r in results) or any(not s.healthy for s in self.slots)
                or self.target_errors):
            return EXIT_INFRA, "infrastructure"
        return EXIT_OK, "passed"


def _result(board: str, target: str, entry: TestResult, trail: list[str] | None = None) -> Result:
    message = entry.message
    if trail:
        message = f"{message} (after infrastructure errors: {'; '.join(trail)})".strip()
    return Result(board, target, shard.test_name(entry.nodeid, target), entry.outcome, entry.duration,
                  entry.retries, entry.error_class, message, dict(entry.figures))
