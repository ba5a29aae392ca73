"""Tuned schedules in production: kernels as MetaSchedule workloads, and a tuning database applied.

A kernel's workload is its unscheduled PrimFunc as `main` of an IRModule, tagged with the hash of
its computation ("utvm.task"), so `utvm tune` and `run-model --tuning` / `package --tuning` name
the same kernel the same way. `apply_tuning` replays each kernel's best record from the database;
kernels without one keep their default schedule. A database is a directory holding MetaSchedule's
JSON files (database_workload.json, database_tuning_record.json) and utvm's tuning.json, which
says which target it was measured on; a kernel whose blocked call (harness.models.compile.blocked_choice)
measured faster than its records takes that instead.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import resources
from harness.errors import UtvmError, last_line
from harness.models.compile import blocked_choice
from harness.models.compile.budget import Budgeted
from harness.models.int8.attrs import OP_ATTR, SCHEDULED_ATTR
from harness.targets.qemu import TRANSPORTS

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
    ram_budget: int | None = None  # bytes of activations + workspace (None: the untuned model's)

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
            meta.write_text(json.dumps({"target": target, "config": config_of(target)}, indent=2) + "\n")
        try:
            recorded = json.loads(meta.read_text())["target"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise TuningError(f"cannot read {meta}: {exc}") from None
        target = target or recorded
        if same_core(recorded) != same_core(target):
            raise TuningError(f"tuning database {path} was measured on {recorded}, not {target}"
                              + _config_note(recorded, target))
        for name in (WORKLOADS, RECORDS):
            _drop_torn_line(path / name)
        if (path / RECORDS).exists():  # records replay on load and in the search: their intrinsics first
            from harness.models.compile.intrin_names import register_named

            register_named((path / RECORDS).read_text())
        db = JSONDatabase(str(path / WORKLOADS), str(path / RECORDS), allow_missing=True)
        return cls(path, target, db)

    def best(self, func: Any, blocked: bool = True) -> Any | None:
        """The kernel scheduled by its best valid record (or its blocked call where that won, unless
        `blocked` is False), or None when there is none."""
        import tvm

        from harness.models.compile.intrin_names import register_named

        mod = workload(func)
        if not self.db.has_workload(mod):
            return None
        top = self.db.get_top_k(self.db.commit_workload(mod), 1)
        secs = min(float(x) for x in top[0].run_secs) if top else None
        if blocked and blocked_choice.wins(self.path, str(mod["main"].attrs[TASK_ATTR]), secs):
            return blocked_choice.kernel(mod["main"])  # its blocked call measured faster than any record
        if not top:
            return None
        try:
            register_named(str(top[0].trace))  # the dot-product intrinsics it tensorizes with
            sch = tvm.s_tir.Schedule(mod)
            top[0].trace.apply_to_schedule(sch, remove_postproc=False)
        except Exception as exc:  # a record that no longer replays on this workload
            raise TuningError(f"the best record of kernel {func.attrs.get(OP_ATTR, '?')} in {self.path} "
                              f"does not replay: {last_line(exc, 200)}") from None
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


SHIPPED = "best.json"


def config_of(target: str) -> str:
    """The build configuration a target's name carries (harness.targets.config: <target>@<config>)."""
    return target.partition("@")[2] or "default"


def _none_ship(target: str) -> str:
    base, config = target.partition("@")[0], config_of(target)
    if config == "default":
        return f"no tuned records ship for {target}; run `utvm tune` to make some"
    return (f"no tuned records ship for {base} under configuration {config} (records tuned under one "
            f"configuration are never used for another); run `utvm tune --config {config}` to make some")


def _config_note(recorded: str, target: str) -> str:
    """Why records of the same board are refused, when only the configuration differs."""
    if recorded.partition("@")[0] != target.partition("@")[0]:
        return ""
    return (f" (configuration {config_of(recorded)}, not {config_of(target)}: records tuned under one "
            "configuration are never used for another)")


def shipped(target: str) -> Path:
    """The best records this package ships for a target (`--tuning auto`), as TVM's TopHub did."""
    return resources.data_root() / "tuning" / target / SHIPPED


def same_core(target: str) -> str:
    """The target whose records serve `target`: a QEMU board's serve each of its transports (the same
    core running the same kernels; the link is not timed), under the same configuration."""
    base, at, config = target.partition("@")
    for transport in TRANSPORTS:
        base = base.removesuffix(f"-{transport}")
    return base + at + config


def shipped_for(target: str) -> Path:
    """The records `--tuning auto` takes for a target: its own, else its board's; TuningError if none."""
    for name in dict.fromkeys((target, same_core(target))):
        if shipped(name).exists():
            return shipped(name)
    raise TuningError(_none_ship(target))


@dataclass
class BestRecords:
    """The best schedule of each kernel, by task key: MetaSchedule traces as JSON with their time.
    A few KB per model where the full database holds every workload's TIR and every trial."""

    path: Path
    target: str
    records: dict[str, Any]
    ram_budget: int | None = None  # bytes of activations + workspace (None: the untuned model's)

    @classmethod
    def load(cls, path: Path) -> BestRecords:
        try:
            data = json.loads(Path(path).read_text())
            return cls(Path(path), str(data["target"]), dict(data["records"]))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise TuningError(f"cannot read tuned records {path}: {exc}") from None

    def best(self, func: Any) -> Any | None:
        import tvm
        from tvm.s_tir.schedule import Trace

        from harness.models.compile.intrin_names import register_named

        entry = self.records.get(task_key(func))
        if entry is None:
            return None
        if blocked_choice.is_blocked(entry):
            return blocked_choice.kernel(workload(func)["main"], entry["op"])
        register_named(json.dumps(entry["trace"]))
        sch = tvm.s_tir.Schedule(workload(func))
        try:
            Trace.apply_json_to_schedule(entry["trace"], sch)
        except Exception as exc:
            raise TuningError(f"the shipped record of kernel {func.attrs.get(OP_ATTR, '?')} ({self.path}) "
                              f"does not replay: {last_line(exc, 200)}") from None
        return sch.mod["main"]


def export_best(db: Database, out: Path) -> int:
    """Merge each workload's best record of `db` into the shipped-records file `out`; how many."""
    current = BestRecords.load(out).records if out.exists() else {}
    count = 0
    for wl_record in {str(r.workload.mod["main"].attrs[TASK_ATTR]): r for r in db.db.get_all_tuning_records()
                      if TASK_ATTR in r.workload.mod["main"].attrs}.values():
        top = db.db.get_top_k(wl_record.workload, 1)
        if not top:
            continue
        main = top[0].workload.mod["main"]
        key, secs = str(main.attrs[TASK_ATTR]), float(min(float(x) for x in top[0].run_secs))
        blocked = blocked_choice.wins(db.path, key, secs)
        secs = blocked["seconds"] if blocked else secs
        if key in current and current[key]["seconds"] <= secs:
            continue
        current[key] = blocked_choice.shipped_entry(blocked) if blocked else {
            "op": str(main.attrs.get(OP_ATTR, "")), "seconds": secs,
            "trace": top[0].trace.as_json(remove_postproc=False)}
        count += 1
    out.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"  {json.dumps(k)}: {json.dumps(v, separators=(',', ':'), default=_plain)}"
             for k, v in sorted(current.items())]
    out.write_text(f'{{"target": {json.dumps(db.target)}, "config": {json.dumps(config_of(db.target))}, '
                   '"records": {\n' + ",\n".join(lines) + "\n}}\n")
    return count


def _plain(obj: Any) -> Any:
    """TVM containers in a trace's JSON as plain lists, dicts and numbers."""
    if hasattr(obj, "items"):
        return dict(obj.items())
    if hasattr(obj, "__iter__") and not isinstance(obj, str | bytes):
        return list(obj)
    if hasattr(obj, "value"):
        return obj.value
    return str(obj)


def resolve(tuning: str | Path | Budgeted | None, target: str | None) -> Database | BestRecords | None:
    """What `--tuning` names: a database directory, a best-records file, or "auto" (the records shipped
    for the target); with a RAM budget (harness.models.compile.budget.Budgeted), that budget."""
    if tuning is None:
        return None
    if isinstance(tuning, Budgeted):
        found = resolve(tuning.source, target)
        assert found is not None
        found.ram_budget = tuning.ram_budget
        return found
    if str(tuning) == "auto":
        if target is None:
            raise TuningError("--tuning auto needs a target: the shipped records are per target")
        return BestRecords.load(shipped_for(target))
    if Path(tuning).is_file():
        records = BestRecords.load(Path(tuning))
        if target is not None and same_core(records.target) != same_core(target):
            raise TuningError(f"tuned records {tuning} were measured on {records.target}, not {target}"
                              + _config_note(records.target, target))
        return records
    return Database.open(Path(tuning), target)


def alternatives(database: Database | BestRecords, func: Any) -> list[Any]:
    """The kernel's schedules after its best, fastest first (a database's best trace where its blocked
    call won; shipped records keep only the best)."""
    if not isinstance(database, Database) or not blocked_choice.wins(
            database.path, task_key(func), _best_seconds(database, func)):
        return []
    best = database.best(func, blocked=False)
    return [best] if best is not None else []


def _best_seconds(database: Database, func: Any) -> float | None:
    mod = workload(func)
    if not database.db.has_workload(mod):
        return None
    top = database.db.get_top_k(database.db.commit_workload(mod), 1)
    return min(float(x) for x in top[0].run_secs) if top else None


def apply_tuning(mod: Any, database: Database | BestRecords) -> tuple[Any, list[str]]:
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
