"""The fuzz tier in the nightly (`utvm hil run --fuzz-cases N --fuzz-seed S`): acceptance_tests/
test_fuzz_tier.py on every healthy board and reference, its figures (cases, agreements,
disagreements, seconds, seed, cases per operator family) in the history's fuzz_figures table, the
summary and the page."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from tests.conftest import require_tvm
from tests.test_hil import Lab, lab, night

__all__ = ["lab"]  # the fixture, used by name


def test_a_night_fuzzes_every_board_and_keeps_the_figures(lab: Lab, tmp_path: Path) -> None:
    require_tvm()
    inventory = lab(1)
    code, summary, log = night(inventory, tmp_path / "r", tmp_path / "s", "--select", "test_fuzz_tier",
                               "--no-models", "--reference", "host", "--fuzz-cases", "10", "--fuzz-seed", "7")
    assert code == 0, log[-3000:]
    assert "fuzz tier: --utvm-fuzz-cases=10 --utvm-fuzz-seed=7" in log
    rows = {(r["board"], r["kind"]): r for r in summary["fuzz"]}
    assert set(rows) == {("vboard-1", "tflite"), ("vboard-1", "qdq"), ("host", "tflite"), ("host", "qdq")}
    board = rows[("vboard-1", "tflite")]
    assert board["seed"] == 7 and board["cases"] == 10 and board["disagreements"] == 0
    assert board["matched"] >= 8 and sum(board["families"].values()) >= board["matched"]
    assert rows[("vboard-1", "qdq")]["cases"] == 2
    db = sqlite3.connect(tmp_path / "s" / "history.sqlite")
    query = "SELECT board, kind, seed, cases, disagreements, families FROM fuzz_figures"
    stored = db.execute(query).fetchall()
    assert len(stored) == 4 and all(seed == 7 and bad == 0 for _, _, seed, _, bad, _ in stored)
    assert all(json.loads(families) for *_, families in stored)
    page = (tmp_path / "r" / "index.html").read_text()
    assert "Fuzz tier" in page and "0 disagree" in page
