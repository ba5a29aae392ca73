"""The lab's memory: every night's results in one SQLite file.

    runs        one row per night: id, times, code revision, lab, verdict
    boards      per night and board: health (healthy, out_of_rotation, busy), why, firmware size
    results     per night, board and test: outcome, duration, retries, error class and message
    quarantine  tests (per target) that flip too often, with since and expiry dates
    model_figures  per night, board and model of the model tier: cycles (and instructions where
                the target counts them) per inference, seconds, flash and RAM bytes, the largest
                difference from the model's own runtime (LSB) and the digest of the outputs
    fuzz_figures  per night, board and kind (tflite, qdq) of the fuzz tier: seed, cases, agreements,
                disagreements, refusals, seconds and the cases per operator family (JSON)

Results of reference backends (the host target, QEMU) are stored like boards,
with `kind = 'reference'`, so a test can be compared across backends.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, started REAL NOT NULL, finished REAL, revision TEXT NOT NULL,
    lab TEXT NOT NULL, verdict TEXT);
CREATE TABLE IF NOT EXISTS boards (
    run_id TEXT NOT NULL, board TEXT NOT NULL, target TEXT NOT NULL, kind TEXT NOT NULL DEFAULT 'board',
    health TEXT NOT NULL, message TEXT NOT NULL DEFAULT '', firmware_bytes INTEGER,
    PRIMARY KEY (run_id, board));
CREATE TABLE IF NOT EXISTS results (
    run_id TEXT NOT NULL, board TEXT NOT NULL, target TEXT NOT NULL, test TEXT NOT NULL,
    outcome TEXT NOT NULL, duration REAL NOT NULL DEFAULT 0, retries INTEGER NOT NULL DEFAULT 0,
    error_class TEXT NOT NULL DEFAULT '', message TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (run_id, board, test));
CREATE INDEX IF NOT EXISTS results_by_test ON results (test, target);
CREATE TABLE IF NOT EXISTS quarantine (
    test TEXT NOT NULL, target TEXT NOT NULL, since REAL NOT NULL, expires REAL NOT NULL,
    reason TEXT NOT NULL, lifted REAL);
CREATE TABLE IF NOT EXISTS model_figures (
    run_id TEXT NOT NULL, board TEXT NOT NULL, target TEXT NOT NULL, model TEXT NOT NULL,
    cycles INTEGER, instructions INTEGER, seconds REAL, flash_bytes INTEGER, ram_bytes INTEGER,
    max_diff_lsb REAL, outputs_sha256 TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (run_id, board, model));
CREATE TABLE IF NOT EXISTS fuzz_figures (
    run_id TEXT NOT NULL, board TEXT NOT NULL, target TEXT NOT NULL, kind TEXT NOT NULL,
    seed INTEGER, cases INTEGER, matched INTEGER, disagreements INTEGER, refused INTEGER, seconds REAL,
    families TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (run_id, board, kind));
"""
# model_figures' columns after the key, as the model tier names its figures (harness.models.deploy.tier)
MODEL_COLUMNS = ("cycles", "instructions", "seconds", "flash_bytes", "ram_bytes", "max_diff_lsb",
                 "outputs_sha256")
# fuzz_figures' columns after the key, as the fuzz tier names its figures ("fuzz_" + column)
FUZZ_COLUMNS = ("seed", "cases", "matched", "disagreements", "refused", "seconds", "families")


@dataclass(frozen=True)
class Result:
    board: str
    target: str
    test: str  # the test's node id without the target parameter
    outcome: str  # an harness.testing.report.Outcome
    duration: float = 0.0
    retries: int = 0
    error_class: str = ""
    message: str = ""
    figures: dict[str, Any] = field(default_factory=dict, compare=False)  # what the test measured


@dataclass(frozen=True)
class ModelFigures:
    """One model on one board (or reference backend) one night."""

    run_id: str
    started: float
    board: str
    target: str
    kind: str  # board, reference
    model: str
    cycles: int | None
    instructions: int | None
    seconds: float | None
    flash_bytes: int | None
    ram_bytes: int | None
    max_diff_lsb: float | None
    outputs_sha256: str


@dataclass(frozen=True)
class FuzzFigures:
    """The fuzz tier of one kind on one board (or reference backend) one night."""

    run_id: str
    started: float
    board: str
    target: str
    board_kind: str  # board, reference
    kind: str  # tflite, qdq
    seed: int | None
    cases: int | None
    matched: int | None
    disagreements: int | None
    refused: int | None
    seconds: float | None
    families: str  # JSON: cases per operator family


@dataclass(frozen=True)
class Run:
    run_id: str
    started: float
    revision: str
    lab: str
    verdict: str | None


@dataclass(frozen=True)
class Quarantined:
    test: str
    target: str
    since: float
    expires: float
    reason: str


def _model_row(run_id: str, r: Result) -> tuple[Any, ...]:
    figures = [r.figures.get(c) for c in MODEL_COLUMNS[:-1]]
    return (run_id, r.board, r.target, str(r.figures["model"]), *figures,
            str(r.figures.get("outputs_sha256", "")))


def _fuzz_row(run_id: str, r: Result) -> tuple[Any, ...]:
    figures = [r.figures.get(f"fuzz_{c}") for c in FUZZ_COLUMNS[:-1]]
    return (run_id, r.board, r.target, str(r.figures["fuzz_kind"]), *figures,
            str(r.figures.get("fuzz_families", "{}")))


class History:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(self.path), timeout=30, check_same_thread=False)
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self.db:
            yield self.db

    # ---- writing ----
    def start_run(self, run_id: str, revision: str, lab: str, started: float | None = None) -> None:
        with self._tx() as db:
            db.execute("INSERT INTO runs (run_id, started, revision, lab) VALUES (?, ?, ?, ?)",
                       (run_id, time.time() if started is None else started, revision, lab))

    def finish_run(self, run_id: str, verdict: str, finished: float | None = None) -> None:
        with self._tx() as db:
            db.execute("UPDATE runs SET finished = ?, verdict = ? WHERE run_id = ?",
                       (time.time() if finished is None else finished, verdict, run_id))

    def record_board(self, run_id: str, board: str, target: str, health: str, message: str = "",
                     firmware_bytes: int | None = None, kind: str = "board") -> None:
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO boards VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (run_id, board, target, kind, health, message, firmware_bytes))

    def record_results(self, run_id: str, results: list[Result]) -> None:
        with self._tx() as db:
            db.executemany("INSERT OR REPLACE INTO results VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           [(run_id, r.board, r.target, r.test, r.outcome, r.duration, r.retries,
                             r.error_class, r.message[:2000]) for r in results])
            db.executemany(f"INSERT OR REPLACE INTO model_figures VALUES ({', '.join('?' * 11)})",
                           [_model_row(run_id, r) for r in results if "model" in r.figures])
            db.executemany(f"INSERT OR REPLACE INTO fuzz_figures VALUES ({', '.join('?' * 11)})",
                           [_fuzz_row(run_id, r) for r in results if "fuzz_kind" in r.figures])

    def quarantine(self, test: str, target: str, since: float, expires: float, reason: str) -> None:
        with self._tx() as db:
            db.execute("INSERT INTO quarantine VALUES (?, ?, ?, ?, ?, NULL)",
                       (test, target, since, expires, reason))

    def lift(self, test: str, target: str, when: float) -> None:
        with self._tx() as db:
            db.execute("UPDATE quarantine SET lifted = ? WHERE test = ? AND target = ? AND lifted IS NULL",
                       (when, test, target))

    # ---- reading ----
    def runs(self, limit: int = 30) -> list[Run]:
        """The last `limit` finished runs, oldest first."""
        rows = self.db.execute("SELECT run_id, started, revision, lab, verdict FROM runs "
                               "WHERE finished IS NOT NULL ORDER BY started DESC LIMIT ?", (limit,))
        return [Run(*row) for row in rows][::-1]

    def results(self, run_id: str, kind: str | None = "board") -> list[Result]:
        query = ("SELECT r.board, r.target, r.test, r.outcome, r.duration, r.retries, r.error_class, "
                 "r.message FROM results r JOIN boards b ON b.run_id = r.run_id AND b.board = r.board "
                 "WHERE r.run_id = ?" + (" AND b.kind = ?" if kind else "") + " ORDER BY r.test, r.board")
        return [Result(*row) for row in self.db.execute(query, (run_id, kind) if kind else (run_id,))]

    def boards(self, run_id: str) -> list[tuple[str, str, str, str, int | None]]:
        """(board, target, health, message, firmware_bytes) of the run's boards."""
        return list(self.db.execute("SELECT board, target, health, message, firmware_bytes FROM boards "
                                    "WHERE run_id = ? AND kind = 'board' ORDER BY board", (run_id,)))

    def outcomes(self, test: str, target: str, since: float = 0.0, limit: int = 1000
                 ) -> list[tuple[float, str, str]]:
        """(run start, board, outcome) of a test on a target's boards, oldest first."""
        rows = self.db.execute(
            "SELECT runs.started, r.board, r.outcome FROM results r JOIN runs USING (run_id) "
            "JOIN boards b ON b.run_id = r.run_id AND b.board = r.board "
            "WHERE r.test = ? AND r.target = ? AND b.kind = 'board' AND runs.started >= ? "
            "ORDER BY runs.started DESC LIMIT ?", (test, target, since, limit))
        return list(rows)[::-1]

    def tests(self, since: float = 0.0) -> list[tuple[str, str]]:
        """(test, target) pairs that ran on boards since a time."""
        return list(self.db.execute(
            "SELECT DISTINCT r.test, r.target FROM results r JOIN runs USING (run_id) "
            "JOIN boards b ON b.run_id = r.run_id AND b.board = r.board "
            "WHERE b.kind = 'board' AND runs.started >= ? ORDER BY r.test, r.target", (since,)))

    def quarantined(self, when: float | None = None) -> list[Quarantined]:
        """Quarantine entries in force (not lifted); with `when`, only those not yet expired then."""
        rows = self.db.execute("SELECT test, target, since, expires, reason FROM quarantine "
                               "WHERE lifted IS NULL ORDER BY test, target")
        entries = [Quarantined(*row) for row in rows]
        return [q for q in entries if when is None or q.expires > when]

    def model_figures(self, limit: int = 30, run_id: str | None = None) -> list[ModelFigures]:
        """The model tier's figures over the last `limit` finished runs (or of one run), oldest first."""
        runs = [r.run_id for r in self.runs(limit)] if run_id is None else [run_id]
        if not runs:
            return []
        rows = self.db.execute(
            f"SELECT m.run_id, runs.started, m.board, m.target, b.kind, m.model, "
            f"{', '.join('m.' + c for c in MODEL_COLUMNS)} FROM model_figures m JOIN runs USING (run_id) "
            f"JOIN boards b ON b.run_id = m.run_id AND b.board = m.board "
            f"WHERE m.run_id IN ({', '.join('?' * len(runs))}) ORDER BY runs.started, m.board, m.model",
            runs)
        return [ModelFigures(*row) for row in rows]

    def firmware_sizes(self, limit: int = 30) -> dict[str, list[tuple[str, int]]]:
        """Per target, (run id, image bytes) over the last runs, oldest first."""
        out: dict[str, list[tuple[str, int]]] = {}
        for run in self.runs(limit):
            for target, size in self.db.execute(
                    "SELECT target, MAX(firmware_bytes) FROM boards WHERE run_id = ? AND kind = 'board' "
                    "AND firmware_bytes IS NOT NULL GROUP BY target", (run.run_id,)):
                out.setdefault(target, []).append((run.run_id, int(size)))
        return out

    def fuzz_figures(self, limit: int = 30) -> list[FuzzFigures]:
        """The fuzz tier's figures over the last `limit` runs, oldest first."""
        runs = [r.run_id for r in self.runs(limit)]
        if not runs:
            return []
        rows = self.db.execute(
            f"SELECT f.run_id, runs.started, f.board, f.target, b.kind, f.kind, "
            f"{', '.join('f.' + c for c in FUZZ_COLUMNS)} FROM fuzz_figures f JOIN runs USING (run_id) "
            f"JOIN boards b ON b.run_id = f.run_id AND b.board = f.board "
            f"WHERE f.run_id IN ({', '.join('?' * len(runs))}) ORDER BY runs.started, f.board, f.kind", runs)
        return [FuzzFigures(*row) for row in rows]
