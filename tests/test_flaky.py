"""Flakiness from the history: flips, pass rates, quarantine that kicks in and expires,
and backends compared, over synthetic nights."""

from __future__ import annotations

from pathlib import Path

import pytest

from utvm_ci.results.flaky import DAY, Policy, compare_backends, flip_count, pass_rate, update_quarantine
from utvm_ci.results.history import History, Result

T0 = 1_700_000_000.0
TARGET = "stm32f4"
FLAKY = "acceptance_tests/test_rpc.py::test_flaky"
STEADY = "acceptance_tests/test_rpc.py::test_steady"


def nights(history: History, outcomes: list[str], start: float, test: str = FLAKY) -> float:
    """One night per outcome, a day apart, the steady test passing beside it; returns the next day."""
    for i, outcome in enumerate(outcomes):
        run_id = f"n{start + i * DAY:.0f}"
        history.start_run(run_id, "rev", "lab", started=start + i * DAY)
        board = f"board-{i % 2}"
        history.record_board(run_id, board, TARGET, "healthy")
        history.record_results(run_id, [Result(board, TARGET, test, outcome),
                                        Result(board, TARGET, STEADY, "passed")])
        history.finish_run(run_id, "passed", finished=start + i * DAY + 60)
    return start + len(outcomes) * DAY


@pytest.fixture
def history(tmp_path: Path) -> History:
    return History(tmp_path / "history.sqlite")


def test_flips_count_pass_fail_changes_only() -> None:
    assert flip_count(["passed", "failed", "passed", "failed"]) == 3
    assert flip_count(["passed", "error", "skipped", "passed"]) == 0  # infrastructure and skips say nothing
    assert flip_count(["passed_on_retry", "failed", "error", "passed"]) == 2
    assert pass_rate(["passed", "failed", "skipped", "passed_on_retry"]) == pytest.approx(2 / 3)
    assert pass_rate(["skipped"]) is None


def test_a_test_that_flips_is_quarantined_then_lifted_when_it_settles(history: History) -> None:
    policy = Policy(window=10, flips=3, days=7)
    now = nights(history, ["passed", "failed", "passed", "passed", "failed", "passed"], T0)
    changes = update_quarantine(history, policy, now)
    assert changes.added == [(FLAKY, TARGET)]  # four flips in six nights; the steady test is left alone
    (entry,) = history.quarantined(now)
    assert entry.expires == pytest.approx(now + 7 * DAY) and "4 flips" in entry.reason
    assert update_quarantine(history, policy, now + DAY).added == []  # already in force
    # a quiet week while quarantined: at expiry it is lifted
    later = nights(history, ["passed"] * 7, now + DAY)
    changes = update_quarantine(history, policy, later)
    assert changes.lifted == [(FLAKY, TARGET)] and history.quarantined() == []


def test_a_quarantine_is_renewed_when_the_test_still_flips(history: History) -> None:
    policy = Policy(window=10, flips=3, days=7)
    now = nights(history, ["passed", "failed"] * 3, T0)
    update_quarantine(history, policy, now)
    later = nights(history, ["passed", "passed", "failed", "passed", "passed", "passed", "passed"], now + DAY)
    changes = update_quarantine(history, policy, later)
    assert changes.renewed == [(FLAKY, TARGET)]
    (entry,) = history.quarantined(later)
    assert entry.since == later and "still flaky: 2 flips" in entry.reason


def test_a_test_that_fails_every_night_is_broken_not_flaky(history: History) -> None:
    now = nights(history, ["passed"] + ["failed"] * 9, T0)
    assert update_quarantine(history, Policy(), now).added == []


def test_only_the_window_counts(history: History) -> None:
    now = nights(history, ["passed", "failed"] * 3 + ["passed"] * 10, T0)
    assert update_quarantine(history, Policy(window=10, flips=3), now).added == []


def test_a_quarantined_failure_does_not_fail_the_night(tmp_path: Path) -> None:
    from harness.testing.report import Outcome as O
    from harness.testing.report import TestResult
    from utvm_ci.job import EXIT_FAILED, EXIT_OK
    from utvm_ci.night.options import NightOptions
    from utvm_ci.night.runner import Night, Outcome

    night = Night(NightOptions(inventory=tmp_path / "lab.yaml", report_dir=tmp_path, state=tmp_path))
    night.outcomes = {
        "a[t]": Outcome("b1", "t", TestResult("a[t]", "t", O.FAILED)),
        "b[t]": Outcome("b1", "t", TestResult("b[t]", "t", O.PASSED_ON_RETRY, retries=1)),
    }
    assert night.verdict({("a", "t")}) == (EXIT_OK, "passed")
    assert night.verdict(set()) == (EXIT_FAILED, "failed")


def test_backends_compared() -> None:
    boards = [Result("b1", TARGET, "t1", "failed"), Result("b2", TARGET, "t1", "passed"),
              Result("b1", TARGET, "t2", "passed"), Result("b1", TARGET, "t3", "passed"),
              Result("b1", TARGET, "t4", "error")]
    refs = [Result("host", "host", "t1", "passed"), Result("qemu", "qemu", "t1", "passed"),
            Result("host", "host", "t2", "passed"), Result("qemu", "qemu", "t2", "failed"),
            Result("host", "host", "t3", "passed"), Result("host", "host", "t4", "passed")]
    found = {(d.test, d.kind): d for d in compare_backends(boards, refs)}
    assert set(found) == {("t1", "board-only failure"), ("t2", "board-only pass")}
    assert found["t1", "board-only failure"].boards == ("b1",)
    assert found["t1", "board-only failure"].references == ("host", "qemu")
    assert found["t2", "board-only pass"].references == ("qemu",)
