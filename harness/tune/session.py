"""`tune`: a model's kernels searched with MetaSchedule and measured on devices, into a database."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import resources
from harness.build import build_jobs
from harness.errors import UtvmError
from harness.models.compile import records
from harness.targets import Target, get_target
from harness.tune import blocked, space
from harness.tune.adapters import make_builder, make_runner
from harness.tune.builder import ImageBuilder
from harness.tune.progress import Progress, TaskProgress, make_callback
from harness.tune.runner import DevicePool, DeviceSlot, local_device
from harness.tune.tasks import Task, extract

UNTUNED_OPS = {"reshape"}  # a copy: nothing to schedule


@dataclass
class TuneOptions:
    target: str
    db: Path
    trials: int = 64
    time_limit: float | None = None  # seconds
    devices: int = 0  # 0: one per core
    per_iter: int = 0  # candidates per task per round; 0: from the budget
    seed: int = 0
    slots: list[DeviceSlot] = field(default_factory=list)  # devices from elsewhere (lab, tracker)


@dataclass
class KernelFigures:
    task: str
    kernels: list[str]
    calls: int
    before: float | None  # seconds of the default schedule
    after: float | None  # seconds of the best record (measured again, in one image)
    trials: int
    failed: int
    rejected: int
    curve: list[tuple[int, float]]
    blocked: float | None = None  # seconds of its blocked kernel (harness.tune.blocked), where it fits


@dataclass
class TuneResult:
    target: str
    db: Path
    trials_run: int
    trials_total: int
    seconds: float
    kernels: list[KernelFigures]
    search_seconds: float = 0.0  # the search itself: candidates generated, built and measured


def _slots(opts: TuneOptions) -> list[DeviceSlot]:
    if opts.slots:
        return opts.slots
    k = opts.devices or os.cpu_count() or 1
    return [DeviceSlot(f"device{i}", local_device) for i in range(k)]


def tune(model: str | Path | Any, opts: TuneOptions, progress_out: Any = None) -> TuneResult:
    if opts.trials < 0:
        raise UtvmError("--trials must not be negative")
    target = get_target(opts.target)  # an unknown target fails before the model is read
    tasks = [t for t in extract(model, opts.seed) if t.op not in UNTUNED_OPS]
    if not tasks:
        raise UtvmError("the model has no kernels to tune")
    db = records.Database.open(opts.db, opts.target, create=True)
    done = {t.key: len(db.records(t.func)) for t in tasks}
    remaining = max(opts.trials - sum(done.values()), 0)
    slots = _slots(opts)
    workdir = resources.cache_dir() / "tune" / opts.target
    images = ImageBuilder(opts.target, tasks, workdir, images=len(slots), jobs=build_jobs())
    pool = DevicePool(slots, workdir / "devices")
    deadline = time.monotonic() + opts.time_limit if opts.time_limit else None
    progress = Progress(tasks, remaining, opts.db / "candidates.jsonl", _figure(target), deadline,
                        **({"out": progress_out} if progress_out is not None else {}))
    started, search_seconds = time.monotonic(), 0.0
    if remaining:
        for tp, best in zip(progress.tasks, _seed(tasks, db, images, pool), strict=True):
            tp.best = best  # the default or SIMD schedule: what the search has to beat
        searching = time.monotonic()
        _search(tasks, opts, remaining, db, images, pool, progress)
        search_seconds = time.monotonic() - searching
    figures = _final(tasks, db, images, pool, progress.tasks)
    return TuneResult(opts.target, opts.db, progress.done, sum(done.values()) + progress.done,
                      time.monotonic() - started, figures, search_seconds)


def _search(tasks: list[Task], opts: TuneOptions, remaining: int, db: records.Database, images: ImageBuilder,
            pool: DevicePool, progress: Progress) -> None:
    from tvm.s_tir import meta_schedule as ms

    # at least 8 candidates a round: an image amortises its build, boot and upload over them
    per_iter = opts.per_iter or max(8, min(32, remaining // (2 * len(tasks))))
    contexts = [space.context(t, opts.target, opts.seed + i) for i, t in enumerate(tasks)]
    callbacks = [ms.measure_callback.AddToDatabase(), ms.measure_callback.UpdateCostModel(),
                 make_callback(progress)]
    ms.tune.tune_tasks(
        tasks=contexts, task_weights=[float(t.calls) for t in tasks], work_dir=str(opts.db / "logs"),
        max_trials_global=remaining, num_trials_per_iter=per_iter,
        builder=make_builder(images), runner=make_runner(pool), database=db.db,
        cost_model=ms.cost_model.XGBModel(num_tuning_cores=1, tree_method="auto"),
        measure_callbacks=callbacks, task_scheduler="gradient")


def _measure(tasks: list[Task], mods: list[tuple[tuple[str, str], Any]], images: ImageBuilder,
             pool: DevicePool) -> dict[tuple[str, str], float | None]:
    """Seconds of each (task key, label) candidate, all built into as few images as the pool has devices."""
    arts = images.build([m for _, m in mods])
    seconds: dict[tuple[str, str], float | None] = {}
    by_image: dict[str, list[tuple[tuple[str, str], Any]]] = {}
    for (owner, _), art in zip(mods, arts, strict=True):
        if isinstance(art, str):
            seconds[owner] = None
        else:
            by_image.setdefault(art.manifest, []).append((owner, art))
    for manifest, items in by_image.items():
        for (owner, _), m in zip(items, pool.run_image(manifest, [a for _, a in items]), strict=True):
            seconds[owner] = m.seconds
    return seconds


def _scheduled(task: Task, fn: Any) -> Any:
    import tvm

    sch = tvm.s_tir.Schedule(task.workload)
    fn(sch)
    return sch.mod


def _seed(tasks: list[Task], db: records.Database, images: ImageBuilder,
          pool: DevicePool) -> list[float | None]:
    """The default (and SIMD) schedule of each task measured and recorded before the search; the
    best of them per task."""
    mods = [((t.key, str(i)), _scheduled(t, fn)) for t in tasks for i, fn in enumerate(space.seeds(t))]
    seconds = _measure(tasks, mods, images, pool)
    best: list[float | None] = []
    for t in tasks:
        measured = []
        for i, fn in enumerate(space.seeds(t)):
            secs = seconds.get((t.key, str(i)))
            if secs is not None:
                db.commit(t.func, fn, secs)
                measured.append(secs)
        best.append(min(measured, default=None))
    return best


def _final(tasks: list[Task], db: records.Database, images: ImageBuilder, pool: DevicePool,
           progress: list[TaskProgress]) -> list[KernelFigures]:
    """Each task's default schedule, best record and blocked kernel, measured again side by side."""
    mods = []
    for t in tasks:
        mods.append(((t.key, "before"), _scheduled(t, space.default)))
        cand = blocked.candidate(t)
        if cand is not None:
            mods.append(((t.key, blocked.LABEL), cand))
        best = db.best(t.func, blocked=False)  # the best schedule, to set the blocked kernel against
        if best is not None:
            mods.append(((t.key, "after"), _as_candidate(best)))
    seconds = _measure(tasks, mods, images, pool)
    figures = []
    for t, p in zip(tasks, progress, strict=True):
        before, after = seconds.get((t.key, "before")), seconds.get((t.key, "after"))
        if before is not None:
            db.commit(t.func, space.default, before)  # production never takes a record slower than that
            after = before if after is None else min(before, after)
        secs = seconds.get((t.key, blocked.LABEL))
        after = blocked.settle(db.path, t, secs, after)
        figures.append(KernelFigures(t.name, t.kernels, t.calls, before, after, p.trials, p.failed,
                                     p.rejected, p.curve, secs))
    return figures


def _as_candidate(func: Any) -> Any:
    import tvm

    return tvm.IRModule({"main": func})


def _figure(tgt: Target) -> Any:
    def fmt(seconds: float) -> str:
        n = tgt.instructions(seconds) if tgt.icount_shift is not None else None
        if n is not None:
            return f"{n / 1e6:.3f} M instructions"
        c = tgt.cycles(seconds) if tgt.cpu_hz is not None else None
        return f"{c / 1e6:.3f} M cycles" if c is not None else f"{seconds * 1e6:.1f} us"

    return fmt
