"""The progress bar of a sweep (rich, on stderr): cells done of all, failures so far, what runs now."""

from __future__ import annotations

from types import TracebackType
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


class Bar:
    def __init__(self, total: int) -> None:
        self.failed = 0
        self.progress = Progress(TextColumn("[bold]sweep[/]"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), TextColumn("{task.description}"),
                                 console=Console(stderr=True), transient=False)
        self.task = self.progress.add_task("starting", total=total)

    def __enter__(self) -> Bar:
        self.progress.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.progress.stop()

    def say(self, what: str) -> None:
        self.progress.update(self.task, description=what)

    def done(self, row: dict[str, Any]) -> None:
        self.failed += row["error"] is not None
        cell = "/".join(str(row[k]) for k in ("target", "executor", "tuning") if row[k] is not None)
        verdict = "failed" if row["error"] is not None else f"{row['max_diff_lsb']:g} LSB"
        self.progress.update(self.task, advance=1,
                             description=f"{cell}: {verdict} ({self.failed} failed so far)")
