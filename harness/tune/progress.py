"""What a person sees while tuning runs: trials done and left, ETA, best per task, failures; and a
log of every candidate (candidates.jsonl) with its outcome, for the report and for a post-mortem."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from harness.tune.tasks import Task


@dataclass
class TaskProgress:
    task: Task
    trials: int = 0
    failed: int = 0
    rejected: int = 0
    best: float | None = None  # seconds
    curve: list[tuple[int, float]] = field(default_factory=list)  # (trial, best seconds so far)


class Progress:
    """Counts trials per task and prints one line per measured batch."""

    def __init__(self, tasks: list[Task], budget: int, log: Path, figure: Callable[[float], str],
                 deadline: float | None = None, out: TextIO = sys.stderr) -> None:
        self.tasks = [TaskProgress(t) for t in tasks]
        self.budget, self.log, self.figure, self.deadline, self.out = budget, log, figure, deadline, out
        self.started = time.monotonic()
        self.done = 0

    def record(self, task_id: int, errors: list[str | None], seconds: list[float | None]) -> None:
        tp = self.tasks[task_id]
        with self.log.open("a") as f:
            for err, secs in zip(errors, seconds, strict=True):
                self.done += 1
                tp.trials += 1
                status = "ok" if err is None else "rejected" if err.startswith("wrong output") else "error"
                tp.failed += status == "error"
                tp.rejected += status == "rejected"
                if secs is not None and (tp.best is None or secs < tp.best):
                    tp.best = secs
                if tp.best is not None:
                    tp.curve.append((tp.trials, tp.best))
                f.write(json.dumps({"at_s": round(time.monotonic() - self.started, 2), "task": tp.task.name,
                                    "key": tp.task.key, "trial": tp.trials,
                                    "status": status, "seconds": secs, "error": err}) + "\n")
        self.print_line(tp)

    def print_line(self, tp: TaskProgress) -> None:
        elapsed = time.monotonic() - self.started
        left = max(self.budget - self.done, 0)
        eta = elapsed / self.done * left if self.done else 0.0
        best = self.figure(tp.best) if tp.best is not None else "none yet"
        failed = sum(t.failed for t in self.tasks)
        rejected = sum(t.rejected for t in self.tasks)
        print(f"[tune] {self.done}/{self.budget} trials, {left} left, ETA {_duration(eta)} | {tp.task.name}: "
              f"{tp.trials} trials, best {best} | {failed} failed, {rejected} rejected", file=self.out,
              flush=True)

    def out_of_time(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline


def _duration(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    return f"{m}m{s:02d}s" if m else f"{s}s"


def make_callback(progress: Progress) -> Any:
    from tvm.ir.utils import derived_object
    from tvm.s_tir.meta_schedule.measure_callback import PyMeasureCallback

    @derived_object
    class _Progress(PyMeasureCallback):
        def apply(self, task_scheduler: Any, task_id: int, measure_candidates: list[Any],
                  builder_results: list[Any], runner_results: list[Any]) -> None:
            errors, seconds = [], []
            for b, r in zip(builder_results, runner_results, strict=True):
                err = b.error_msg or r.error_msg
                errors.append(str(err) if err else None)
                secs = [float(x) for x in r.run_secs] if r.run_secs else []
                seconds.append(min(secs) if secs and not err else None)
            progress.record(task_id, errors, seconds)
            if progress.out_of_time():
                for i, record in enumerate(task_scheduler.tasks_):
                    if not record.is_terminated:  # terminating a finished task is an error in TVM
                        task_scheduler.terminate_task(i)

    return _Progress()
