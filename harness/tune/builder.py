"""The builder: a batch of candidates as a few firmware images, each holding many candidates.

Every image carries, per task in it, the kernel with its default schedule ("ref_<task>", the
measure of "before" and the judge of a candidate's output) and the task's arguments (args_<task>.npz;
a candidate measured on other ones, a packed fully-connected call, has its own beside them:
harness.tune.blocked.arguments), with the production runtime, backend functions and compiler flags
of the target. Images are named by the hash of their kernels' C, so a rebuilt batch is found, not
built again. A candidate TVM cannot emit, whose C does not compile, or that stops an image linking, is
a failed build of its own; the others go on.
"""

from __future__ import annotations

import hashlib
import json
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from harness.build import build
from harness.errors import UtvmError, last_line
from harness.models.compile import records
from harness.models.compile.schedule import apply_default_schedules
from harness.targets import get_target
from harness.tune import blocked
from harness.tune.tasks import Task

_CULPRIT = re.compile(r"compiling (\S+\.c) failed")
KERNELS_HEADER = "/* utvm tune: candidates and their reference kernels */\n"


@dataclass
class Artifact:
    """Where one built candidate is: its image, its kernel, and its task's reference kernel; the
    arguments it runs on, and those of the reference where they differ."""

    manifest: str
    kernel: str
    ref: str
    args: str
    task: str
    ref_args: str = ""  # "": the same as args

    def encode(self) -> str:
        return json.dumps(self.__dict__)

    @classmethod
    def decode(cls, text: str) -> Artifact:
        return cls(**json.loads(text))


def emit_c(funcs: dict[str, Any]) -> str:
    """C source of PrimFuncs, each exported under its name as the models' kernels are
    (harness.models.compile.unpacked: a plain function with the loops, a packed entry calling it)."""
    import tvm

    mod = tvm.IRModule({name: f.with_attr("global_symbol", name) for name, f in funcs.items()})
    from harness.models.compile.unpacked import kernels_c

    return kernels_c(mod)


def reference_kernel(task: Task) -> Any:
    """The task's kernel with its default schedule."""
    import tvm

    return apply_default_schedules(tvm.IRModule({"main": task.func}))["main"]


def _is_kernel(name: str) -> bool:
    return name.startswith("cand")


def _task_of(kernel: str) -> str:
    return kernel.rsplit("_", 1)[1]


def _artifact(where: Path, kernel: str, which: str) -> Artifact:
    """A built candidate; `which`: the arguments it runs on where they are not its task's."""
    key = _task_of(kernel)
    ref_args = str(where / f"args_{key}.npz")
    args = str(where / f"args_{key}{which}.npz") if which else ref_args
    return Artifact(str(where / "image" / "manifest.json"), kernel, f"ref_{key}", args, key,
                    ref_args if which else "")


_CAUSE = re.compile(r"error:|undefined reference|overflowed|will not fit")


def _build_reason(exc: BaseException) -> str:
    """The line that says why a build failed: the compiler's or linker's first error (not collect2's
    summary), else the message's last line."""
    lines = str(exc).splitlines()
    causes = [ln.strip() for ln in lines if _CAUSE.search(ln) and not ln.startswith("collect2")]
    return causes[0][:300] if causes else last_line(exc)


class ImageBuilder:
    """Builds candidates of one target into images under `workdir`, `images` images per batch,
    `jobs` at a time."""

    def __init__(self, target: str, tasks: list[Task], workdir: Path, images: int = 1, jobs: int = 2) -> None:
        self.target, self.workdir = target, Path(workdir)
        self.tasks = {t.key: t for t in tasks}
        self.images, self.jobs = max(1, images), max(1, jobs)
        self._refs: dict[str, str] = {}
        self._refs_ok: dict[tuple[str, ...], bool] = {}

    def build(self, mods: list[Any]) -> list[Artifact | str]:
        """One Artifact, or an error message, per candidate module (a scheduled workload)."""
        size = -(-len(mods) // self.images) if mods else 1
        chunks = [list(range(i, min(i + size, len(mods)))) for i in range(0, len(mods), size)]
        results: list[Artifact | str] = [""] * len(mods)
        with ThreadPoolExecutor(self.jobs) as pool:
            for chunk, out in zip(chunks, pool.map(lambda c: self._image([mods[i] for i in c]), chunks),
                                  strict=True):
                for i, r in zip(chunk, out, strict=True):
                    results[i] = r
        return results

    def _ref_c(self, key: str) -> str:
        if key not in self._refs:
            self._refs[key] = emit_c({f"ref_{key}": reference_kernel(self.tasks[key])})
        return self._refs[key]

    def _image(self, mods: list[Any]) -> list[Artifact | str]:
        """Candidates' kernel names (or their errors), then the image built without those that fail."""
        names: list[str] = []
        sources: dict[str, str] = {}
        which: dict[str, str] = {}  # a candidate measured on other arguments than its task's: which
        for i, mod in enumerate(mods):
            names.append(self._emit(i, mod["main"], sources, which))
        return self._link(names, sources, which)

    def _link(self, names: list[str], sources: dict[str, str], which: dict[str, str]) -> list[Artifact | str]:
        """An image of the candidates in `names` (the others are already errors). A candidate whose C
        does not compile is dropped; when the image fails otherwise (a link error, flash overflow),
        each half is built on its own, down to the one candidate at fault (unless an image of the
        reference kernels alone fails too: then no candidate is to blame and all fail at once)."""
        kernels = [n for n in names if _is_kernel(n)]
        if not kernels:
            return list(names)
        keys = sorted({_task_of(n) for n in kernels})
        refs = {f"ref_{k}": self._ref_c(k) for k in keys}
        try:
            where = self._build({**{n: sources[n] for n in kernels}, **refs}, keys)
        except UtvmError as exc:
            culprit = _CULPRIT.search(str(exc))
            name = Path(culprit.group(1)).stem if culprit else ""
            if name in kernels:
                why = f"C does not compile: {_build_reason(exc)}"
                return self._link([why if n == name else n for n in names], sources, which)
            if len(kernels) == 1 or not self._refs_link(keys):  # one culprit, or none among the candidates
                return [f"build failed: {_build_reason(exc)}" if n in kernels else n for n in names]
            half = set(kernels[: len(kernels) // 2])
            first = self._link([n if n in half or not _is_kernel(n) else "" for n in names], sources, which)
            second = self._link([n if n not in half else "" for n in names], sources, which)
            return [a if n in half else b for n, a, b in zip(names, first, second, strict=True)]
        self._own_args(where, {n: which[n] for n in kernels if n in which})
        return [_artifact(where, n, which.get(n, "")) if _is_kernel(n) else n for n in names]

    def _own_args(self, where: Path, which: dict[str, str]) -> None:
        """The arguments of the candidates measured on their own, beside their tasks'."""
        for name, own in which.items():
            task = self.tasks[_task_of(name)]
            args = blocked.arguments(task, own, get_target(self.target))
            np.savez(where / f"args_{task.key}{own}.npz", *args)

    def _refs_link(self, keys: list[str]) -> bool:
        """Whether an image of these tasks' reference kernels alone builds (asked once per task set)."""
        if tuple(keys) not in self._refs_ok:
            try:
                self._build({f"ref_{k}": self._ref_c(k) for k in keys}, keys)
                self._refs_ok[tuple(keys)] = True
            except UtvmError:
                self._refs_ok[tuple(keys)] = False
        return self._refs_ok[tuple(keys)]

    def _emit(self, index: int, func: Any, sources: dict[str, str], which: dict[str, str]) -> str:
        """The candidate's kernel name, its C added to `sources` (and to `which` the arguments it is
        measured on where they are not its task's); or why it has none."""
        key = str(func.attrs[records.TASK_ATTR]) if records.TASK_ATTR in func.attrs else ""
        if key not in self.tasks:
            return f"unknown task {key!r}"
        name = f"cand{index}_{key}"
        own = str(func.attrs[blocked.ARGS_ATTR]) if blocked.ARGS_ATTR in func.attrs else ""
        if own:
            func = func.without_attr(blocked.ARGS_ATTR)
            if blocked.arguments(self.tasks[key], own, get_target(self.target)) is not self.tasks[key].args:
                which[name] = own
        try:
            sources[name] = emit_c({name: func})
        except Exception as exc:  # TVM refusing the candidate: its own failure
            return f"TVM cannot emit C: {last_line(exc)}"
        return name

    def _build(self, sources: dict[str, str], keys: list[str]) -> Path:
        digest = hashlib.sha256(self.target.encode())
        for name in sorted(sources):
            digest.update(name.encode() + b"\0" + sources[name].encode())
        where = self.workdir / digest.hexdigest()[:20]
        where.mkdir(parents=True, exist_ok=True)
        files = []
        for name in sorted(sources):
            path = where / f"{name}.c"
            path.write_text(KERNELS_HEADER + sources[name])
            files.append(path)
        for key in keys:
            np.savez(where / f"args_{key}.npz", *self.tasks[key].args)
        build(get_target(self.target), where / "image", files)
        return where
