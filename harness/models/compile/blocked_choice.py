"""The blocked kernel as a tuning choice: `utvm tune` measures, beside a kernel's schedules, its
whole-layer call into dsp_blocked.h (harness.models.compile.blocked.blocked_kernel), and records its
time here, since it is a body replacement and not a MetaSchedule trace.

In a database directory, blocked.json maps the key of each task whose blocked kernel won (measured
faster than its default schedule and best record, side by side in one image) to {"op", "seconds"};
a kernel takes it while it is faster than the database's best record. In a shipped
records file, the entry {"op", "seconds", "blocked": true} stands for it instead of a trace.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.errors import UtvmError

SIDE = "blocked.json"
BLOCKED_KEY = "blocked"


class BlockedError(UtvmError):
    """A record that names the blocked kernel for a kernel the blocked kernels do not fit."""


def measured(db_path: Path) -> dict[str, dict[str, Any]]:
    """The blocked kernels measured into a database: task key -> {"op", "seconds"}."""
    path = Path(db_path) / SIDE
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
        return {str(k): {"op": str(v["op"]), "seconds": float(v["seconds"])} for k, v in data.items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise UtvmError(f"cannot read {path}: {exc}") from None


def record(db_path: Path, key: str, op: str, seconds: float | None) -> None:
    """Record the task's blocked kernel as the winner at `seconds`, or (None) drop it: it lost."""
    current = measured(db_path)
    if seconds is None and key not in current:
        return
    current.pop(key, None)
    if seconds is not None:
        current[key] = {"op": op, "seconds": seconds}
    path = Path(db_path) / SIDE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(current, indent=1, sort_keys=True) + "\n")
    tmp.replace(path)


def wins(db_path: Path, key: str, best_seconds: float | None) -> dict[str, Any] | None:
    """The task's blocked entry when it is faster than `best_seconds` (None: no record to beat)."""
    entry = measured(db_path).get(key)
    if entry is None or (best_seconds is not None and best_seconds <= entry["seconds"]):
        return None
    return entry


def is_blocked(entry: dict[str, Any]) -> bool:
    """Whether a shipped records entry stands for the blocked kernel."""
    return bool(entry.get(BLOCKED_KEY, False))


def shipped_entry(entry: dict[str, Any]) -> dict[str, Any]:
    return {"op": entry["op"], "seconds": entry["seconds"], BLOCKED_KEY: True}


def kernel(func: Any, op: str | None = None) -> Any:
    """The kernel as its blocked call (marked scheduled), or a BlockedError if it does not fit."""
    from harness.models.compile.blocked import PARSERS, blocked_kernel
    from harness.models.int8.attrs import OP_ATTR

    op = op or str(func.attrs[OP_ATTR])
    new = blocked_kernel(func, op) if op in PARSERS else None
    if new is None:
        raise BlockedError(f"a tuned record names the blocked kernel for a {op} kernel it does not fit")
    return new
