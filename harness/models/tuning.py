"""Tuned schedules in production: kernels as MetaSchedule workloads, and a tuning database applied.

A kernel's workload is its unscheduled PrimFunc as `main` of an IRModule, tagged with the hash of
its computation ("utvm.task"), so `utvm tune` and `run-model --tuning` / `package --tuning` name
the same kernel the same way. `apply_tuning` replays each kernel's best record from the database;
kernels without one keep their default schedule. A database is a directory holding MetaSchedule's
JSON files (database_workload.json, database_tuning_record.json) and utvm's tuning.json, which
says which target it was measured on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import resources
from harness.errors import UtvmError
from harness.models.attrs import OP_ATTR, SCHEDULED_ATTR

TASK_ATTR = "utvm.task"
WORKLOADS, RECORDS, META = "database_workload.json", "database_tuning_record.json", "tuning.json"


class TuningError(UtvmError):
    """A tuning database that cannot be used (missing, corrupt, or for another target)."""


def tunable(func: Any) -> bool:
    """Whether a PrimFunc is one of our kernels (it names its op) and not scheduled yet."""
    attrs = getattr(func, "attrs", None)
    return attrs is not None and OP_ATTR in attrs and SCHEDULED_ATTR not in attrs


def workload(func: Any) -> Any:
    """The kernel as a MetaSchedule workload: an IRModule whose `main` carries its task key. A deep
    copy: this wheel's Schedule rewrites a PrimFunc in place, and the caller's kernel must not change."""
    import tvm
    import tvm_ffi

    func = tvm.ir.load_json(tvm.ir.save_json(func))
    func = func.without_attr("global_symbol") if "global_symbol" in func.attrs else func
    if TASK_ATTR not in func.attrs:
        key = f"{tvm_ffi.structural_hash(func, map_free_vars=True) & 0xFFFFFFFFFFFF:012x}"
        func = func.with_attr(TASK_ATTR, key)
    return tvm.IRModule({"main": func.with_attr("global_symbol", "main")})


def task_key(func: Any) -> str:
    return str(workload(func)["main"].attrs[TASK_ATTR])


def meta_target(target_name: str) -> Any:
    """The MetaSchedule target of a utvm target: C, tagged with the utvm target it was measured on."""
    import tvm

    return tvm.target.Target({"kind": "c", "keys": ["cpu"], "tag": "", "model": target_name})


@dataclass
class Database:
    path: Path
    target: str
    db: Any  # tvm.s_tir.meta_schedule.database.JSONDatabase

    @classmethod
    def open(cls, path: Path, target: str | None = None, create: bool = False) -> Database:
        """The database in `path`; `target` None takes whichever it was measured on."""
        from tvm.s_tir.meta_schedule.database import JSONDatabase

        path = Path(path)
        meta = path / META
        if not meta.exists():
            if not create or target is None:
                raise TuningError(f"{path} is not a tuning database (no {META}); `utvm tune` writes one")
            path.mkdir(parents=True, exist_ok=True)
            meta.write_text(json.dumps({"target": target}, indent=2) + "\n")
        try:
            recorded = json.loads(meta.read_text())["target"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise TuningError(f"cannot read {meta}: {exc}") from None
        target = target or recorded
        if recorded != target:
            raise TuningError(f"tuning database {path} was measured on {recorded}, not {target}")
        for name in (WORKLOADS, RECORDS):
            _drop_torn_line(path / name)
        if (path / RECORDS).exists():  # records replay on load and in the search: their intrinsics first
            from harness.models.intrin import register_named

            register_named((path / RECORDS).read_text())
        db = JSONDatabase(str(path / WORKLOADS), str(path / RECORDS), allow_missing=True)
        return cls(path, target, db)

    def best(self, func: Any) -> Any | None:
        """The kernel scheduled by its best valid record, or None when there is none."""
        import tvm

        from harness.models.intrin import register_named

        mod = workload(func)
        if not self.db.has_workload(mod):
            return None
        top = self.db.get_top_k(self.db.commit_workload(mod), 1)
        if not top:
            return None
        try:
            register_named(str(top[0].trace))  # the dot-product intrinsics it tensorizes with
            sch = tvm.s_tir.Schedule(mod)
            top[0].trace.apply_to_schedule(sch, remove_postproc=False)
        except Exception as exc:  # a record that no longer replays on this workload
            raise TuningError(f"the best record of kernel {func.attrs.get(OP_ATTR, '?')} in {self.path} "
                              f"does not replay: {str(exc).splitlines()[-1][:200]}") from None
        return sch.mod["main"]

    def commit(self, func: Any, schedule: Any, seconds: float) -> bool:
        """Record `schedule(sch)` of the kernel with its measured time, unless that trace is recorded
        already. The default schedule goes in this way, so the best is never worse than no tuning."""
        import tvm
        from tvm.s_tir.meta_schedule.arg_info import ArgInfo
        from tvm.s_tir.meta_schedule.database import TuningRecord

        mod = workload(func)
        sch = tvm.s_tir.Schedule(mod)
        schedule(sch)
        if any(str(r.trace) == str(sch.trace) for r in self.records(func)):
            return False
        record = TuningRecord(sch.trace, self.db.commit_workload(mod), [seconds], meta_target(self.target),
                              ArgInfo.from_prim_func(mod["main"]))
        self.db.commit_tuning_record(record)
        return True

    def records(self, func: Any) -> list[Any]:
        """Every record of the kernel, failed candidates included."""
        import tvm_ffi

        mod = workload(func)
        if not self.db.has_workload(mod):
            return []
        return [r for r in self.db.get_all_tuning_records() if tvm_ffi.structural_equal(r.workload.mod, mod)]


def _drop_torn_line(path: Path) -> None:
    """A kill in the middle of an append leaves a partial last line: drop it so the rest loads."""
    if not path.exists():
        return
    data = path.read_bytes()
    if not data or data.endswith(b"\n"):
        return
    keep = data[: data.rfind(b"\n") + 1]
    path.write_bytes(keep)


def shipped(target: str) -> Path:
    """The database this package ships for a target (`--tuning auto`)."""
    return resources.data_root() / "tuning" / target


def resolve(tuning: str | Path | None, target: str | None) -> Database | None:
    """The database `--tuning` names: a directory, or "auto" (the one shipped for the target)."""
    if tuning is None:
        return None
    if str(tuning) == "auto" and target is None:
        raise TuningError("--tuning auto needs a target: the shipped databases are per target")
    path = shipped(target) if str(tuning) == "auto" and target else Path(tuning)
    if str(tuning) == "auto" and not (path / META).exists():
        raise TuningError(f"no tuned database ships for {target}; run `utvm tune` to make one")
    return Database.open(path, target)


def apply_tuning(mod: Any, database: Database) -> tuple[Any, list[str]]:
    """The module with every tunable kernel that has a record scheduled by it (marked scheduled, so
    the default schedules leave it alone), and the names of the kernels that got one."""
    updates, tuned = {}, []
    for gv, func in mod.functions.items():
        if type(func).__name__ != "PrimFunc" or not tunable(func):
            continue
        best = database.best(func)
        if best is not None:
            updates[gv] = best.without_attr("global_symbol").with_attr(SCHEDULED_ATTR, True)
            tuned.append(gv.name_hint)
    if not updates:
        return mod, []
    mod = mod.clone()
    for gv, func in updates.items():
        mod.update_func(gv, func)
    return mod, sorted(tuned)
