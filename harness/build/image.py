"""Builds a firmware image for a target and writes its manifest.json."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

from elftools.elf.constants import SH_FLAGS
from elftools.elf.elffile import ELFFile

from harness import resources
from harness.build.footprint import copied_sections, footprint
from harness.errors import BuildError, ToolchainError
from harness.targets.base import Target
from harness.targets.registry import get_target

T = TypeVar("T")
# Runs one compiler or linker command, capturing its output: locally (subprocess.run), or in a
# sandbox (harness.tune.sandbox: a container with no network), at the same paths.
Runner = Callable[[list[str]], "subprocess.CompletedProcess[str]"]
KERNEL_PREFIX = "__tvm_ffi_"
# Symbols every TVM-generated file defines; renamed per file so several link together.
_PER_FILE_SYMBOLS = ("__tvm_ffi_main", "__tvm_ffi__library_ctx")
_KERNEL_WARNINGS = ("-Wno-unused-parameter", "-Wno-unused-variable", "-Wno-unused-but-set-variable")


@dataclass
class Manifest:
    """A built image. `target` is the Target it was built for, resolved once when the manifest is made
    or loaded; manifest.json stores its name."""

    target: Target
    artifact: str
    rpc_launcher: str
    functions: list[str]
    size: dict[str, int]
    toolchain: str
    build_key: str
    sources: list[str]
    footprint: dict[str, dict[str, int]] = field(default_factory=dict)
    # utvm.testing.* built in (manifests from before this field: they always were)
    testing: bool = True

    @classmethod
    def load(cls, path: Path, target: Target | None = None) -> Manifest:
        """The manifest at `path`, its target looked up by name (`target`: the one already at hand)."""
        data = _read_manifest(path)
        name = data.get("target")
        if not isinstance(name, str):
            raise BuildError(f"cannot read manifest {path}: no target name")
        if target is None or target.name != name:
            target = get_target(name)
        try:
            return cls(**{**data, "target": target})
        except TypeError as exc:
            raise BuildError(f"cannot read manifest {path}: {exc}") from exc

    def to_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)} | {"target": self.target.name}

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json(), indent=2) + "\n")


def _read_manifest(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise BuildError(f"cannot read manifest {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise BuildError(f"cannot read manifest {path}: not a JSON object")
    return data


def runtime_sources(target: Target) -> list[Path]:
    entry = [target.main] if target.main else []
    runtime = sorted((resources.crt() / "src").rglob("*.c"))
    return [*runtime, *target.port_files(), *target.extra_sources, *entry]


def _flags(target: Target, testing: bool) -> list[str]:
    defines = [f"-D{k}={v}" for k, v in sorted(target.defines.items())]
    if testing:  # the same for every file: config.h sizes structs by it
        defines.append("-DUTVM_ENABLE_TESTING_GLOBALS=1")
    return [*target.cflags, *defines, f"-I{resources.crt() / 'include'}", f"-I{target.port_dir}"]


def kernel_flags(target: Target, testing: bool = False) -> list[str]:
    """The flags a model's kernels and parameter tables are compiled with (every extra source of an image)."""
    return [*_flags(target, testing), *target.kernel_cflags]


def run_locally(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, check=False)


def _run(cmd: Sequence[str], what: str, runner: Runner = run_locally) -> None:
    try:
        proc = runner(list(cmd))
    except OSError as exc:
        raise ToolchainError(f"{what}: cannot run {cmd[0]}: {exc}") from exc
    if proc.returncode != 0:
        raise BuildError(f"{what} failed:\n{proc.stderr.strip()[-4000:]}")


def toolchain_version(cc: str, runner: Runner = run_locally) -> str:
    try:
        proc = runner([cc, "--version"])
    except OSError as exc:
        raise ToolchainError(f"compiler {cc} is not usable: {exc}") from exc
    if proc.returncode != 0 or not proc.stdout.strip():
        raise ToolchainError(f"compiler {cc} is not usable: {(proc.stderr or proc.stdout).strip()[-300:]}")
    return proc.stdout.splitlines()[0].strip()


def build_key(target: Target, extra_sources: Sequence[Path], toolchain: str, testing: bool = False) -> str:
    # Only ordered data in the key: repr() of a frozenset varies between processes.
    desc = (target.name, str(target.port_dir), target.cc, target.cflags, target.kernel_cflags, target.ldflags,
            sorted(target.defines.items()), sorted(target.link_files.items()), toolchain, testing)
    h = hashlib.sha256(repr(desc).encode())
    files = [*runtime_sources(target), *sorted((resources.crt() / "include").rglob("*.h")),
             *sorted(target.port_dir.glob("*.h")), Path(__file__), Path(__file__).with_name("footprint.py"),
             *_linker_scripts(target), *extra_sources]
    for f in files:
        h.update(str(f).encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:24]


def _linker_scripts(target: Target) -> list[Path]:
    flags = list(target.ldflags)
    return [Path(flags[i + 1]) for i, f in enumerate(flags[:-1]) if f == "-T"]


def defined_kernels(obj: Path) -> list[str]:
    """Names of the __tvm_ffi_<name> functions an object file defines."""
    with obj.open("rb") as f:
        symtab = ELFFile(f).get_section_by_name(".symtab")
        if symtab is None:
            return []
        names = []
        for sym in symtab.iter_symbols():
            if (sym["st_info"]["type"] == "STT_FUNC" and sym["st_info"]["bind"] == "STB_GLOBAL"
                    and sym["st_shndx"] != "SHN_UNDEF" and sym.name.startswith(KERNEL_PREFIX)):
                names.append(sym.name[len(KERNEL_PREFIX):])
    return sorted(names)


def section_sizes(elf_path: Path) -> dict[str, int]:
    """Berkeley-style text/data/bss of an ELF: flash is text + data, static RAM data + bss (data is
    what is copied to RAM at start, which includes a model's parameters when they run from RAM)."""
    sizes = {"text": 0, "data": 0, "bss": 0}
    with elf_path.open("rb") as f:
        elf = ELFFile(f)
        copied = copied_sections(elf)
        for sec in elf.iter_sections():
            flags = sec["sh_flags"]
            if not flags & SH_FLAGS.SHF_ALLOC:
                continue
            if sec["sh_type"] == "SHT_NOBITS":
                sizes["bss"] += sec["sh_size"]
            elif flags & SH_FLAGS.SHF_WRITE or sec.name in copied:
                sizes["data"] += sec["sh_size"]
            else:
                sizes["text"] += sec["sh_size"]
    return sizes


def _system_lib_source(kernels: list[str]) -> str:
    decls = "".join(f"extern int32_t {KERNEL_PREFIX}{k}(void*, void*, int32_t, void*);\n" for k in kernels)
    rows = "".join(f'    {{"{k}", {KERNEL_PREFIX}{k}, NULL}},\n' for k in kernels)
    table = f"static const utvm_func_t kFuncs[] = {{\n{rows}}};\n" if kernels else ""
    ref = "kFuncs, sizeof(kFuncs) / sizeof(kFuncs[0])" if kernels else "NULL, 0"
    return (f'/* Generated by harness/build/image.py: the system library. */\n#include "utvm/runtime.h"\n'
            f"{decls}{table}const utvm_func_registry_t utvm_system_lib_registry = {{{ref}}};\n")


def _compile_kernels(target: Target, sources: Sequence[Path], out: Path, testing: bool,
                     runner: Runner = run_locally) -> tuple[list[Path], list[str]]:
    def one(item: tuple[int, Path]) -> Path:
        i, src = item
        obj = out / f"kernel{i}_{src.stem}.o"
        renames = [f"-D{s}=__utvm{i}{s}" for s in _PER_FILE_SYMBOLS]
        _run([target.cc, *kernel_flags(target, testing), *_KERNEL_WARNINGS, "-Wno-error",
              *renames, "-c", str(src), "-o", str(obj)], f"compiling {src}", runner)
        return obj

    objects = _parallel(one, list(enumerate(sources)))
    kernels, owner = [], {}
    for src, obj in zip(sources, objects, strict=True):
        for k in defined_kernels(obj):
            if k in owner:
                raise BuildError(f"kernel {k!r} is defined in both {owner[k]} and {src}")
            owner[k] = src
            kernels.append(k)
    return objects, sorted(kernels)


def build_jobs() -> int:
    """Compilers run at once: $UTVM_BUILD_JOBS, else one per core. The test suite sets 1 so that
    each xdist worker keeps to its core and the host's wall-clock figures are not crowded."""
    raw = os.environ.get("UTVM_BUILD_JOBS", "")
    if raw:
        if not raw.isdigit() or int(raw) < 1:
            raise BuildError(f"UTVM_BUILD_JOBS={raw!r}: expected a positive integer")
        return int(raw)
    return os.cpu_count() or 1


def _parallel(fn: Callable[[T], Path], items: list[T]) -> list[Path]:
    """fn over items on build_jobs() threads (compilers are separate processes), in order; the first
    failure is raised."""
    jobs = min(len(items), build_jobs())
    if jobs < 2:
        return [fn(i) for i in items]
    with ThreadPoolExecutor(jobs) as pool:
        return list(pool.map(fn, items))


def _runtime_objects(target: Target, toolchain: str, testing: bool, out: Path,
                     runner: Runner = run_locally, objects_dir: Path | None = None) -> list[Path]:
    """The runtime's objects for this target, compiled once and shared by every image (a tuning run
    builds hundreds): in the cache, under the hash of everything they are made of, and linked into
    out/obj so each image still has its own objects beside it."""
    from filelock import FileLock

    root = objects_dir or resources.cache_dir() / "runtime-objects"
    where = root / build_key(target, [], toolchain, testing)
    where.mkdir(parents=True, exist_ok=True)
    with FileLock(str(where / ".lock")):
        done = where / "objects.json"
        cached = [Path(p) for p in json.loads(done.read_text())] if done.exists() else []
        if not cached or not all(p.exists() for p in cached):
            cached = _compile_runtime(target, where, testing, runner)
            done.write_text(json.dumps([str(p) for p in cached]))
        objects = []
        for obj in cached:
            mine = out / obj.relative_to(where)
            mine.parent.mkdir(parents=True, exist_ok=True)
            mine.unlink(missing_ok=True)
            try:
                os.link(obj, mine)
            except OSError:  # another file system
                shutil.copyfile(obj, mine)
            objects.append(mine)
        return objects


def _compile_runtime(target: Target, out: Path, testing: bool, runner: Runner = run_locally) -> list[Path]:
    """One object per runtime file (kept apart so the map can attribute sizes)."""
    root = resources.data_root()

    def one(src: Path) -> Path:
        rel = src.relative_to(root) if src.is_relative_to(root) else Path(src.name)
        obj = out / "obj" / rel.with_suffix(".o")
        obj.parent.mkdir(parents=True, exist_ok=True)
        _run([target.cc, *_flags(target, testing), "-Wall", "-Wextra", "-Werror", "-c", str(src),
              "-o", str(obj)], f"compiling {rel}", runner)
        return obj

    return _parallel(one, runtime_sources(target))


def _write_launcher(out: Path, manifest_path: Path) -> Path:
    """`LAUNCHER READ_FD WRITE_FD`: the bridge that tvm.rpc.PopenSession execs."""
    script = out / "rpc_launcher"
    script.write_text(f"#!/bin/sh\n# Raw TVM RPC on fds $1/$2, relayed to the device's framed session.\n"
                      f'exec "{sys.executable}" -m harness.device.bridge --manifest "{manifest_path}" "$@"\n')
    script.chmod(0o755)
    return script


def build(target: Target, out: Path, extra_sources: Sequence[Path] = (), *,
          testing: bool = False, runner: Runner = run_locally, objects_dir: Path | None = None) -> Manifest:
    """Build (or reuse, when nothing changed) the image for `target` in `out`. `testing` builds
    in the utvm.testing.* globals that tests, health checks and the acceptance suite call;
    production images go without. `runner` runs the compiler and linker commands; the runtime's
    objects are compiled once per target into `objects_dir` (default: the cache's runtime-objects)."""
    sources = [Path(s).resolve() for s in extra_sources]
    for s in sources:
        if not s.is_file():
            raise BuildError(f"extra source {s} does not exist")
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    toolchain = toolchain_version(target.cc, runner)
    key = build_key(target, sources, toolchain, testing)
    manifest_path = out / "manifest.json"
    if manifest_path.exists():
        old = _read_manifest(manifest_path)
        if old.get("build_key") == key and Path(old.get("artifact", "")).exists():
            return Manifest.load(manifest_path, target)  # the key covers the target's name
    for name, text in target.link_files.items():
        (out / name).write_text(text)
    runtime_objects = _runtime_objects(target, toolchain, testing, out, runner, objects_dir)
    objects, kernels = _compile_kernels(target, sources, out, testing, runner)
    syslib = out / "system_lib.c"
    syslib.write_text(_system_lib_source(kernels))
    syslib_obj = out / "system_lib.o"
    _run([target.cc, *_flags(target, testing), "-c", str(syslib), "-o", str(syslib_obj)],
         "compiling the system library", runner)
    artifact, map_file = out / "utvm.elf", out / "utvm.map"
    partial = out / f".utvm.elf.{os.getpid()}"
    _run([target.cc, *target.cflags, *map(str, runtime_objects), str(syslib_obj), *map(str, objects),
          f"-L{out}", *target.ldflags, f"-Wl,-Map={map_file}", "-o", str(partial), "-lm"],  # kernels' expf...
         f"linking {target.name} image", runner)
    os.replace(partial, artifact)  # atomic: a running device never sees a half-written file
    manifest = Manifest(
        target=target, artifact=str(artifact),
        rpc_launcher=str(artifact if target.self_hosted else _write_launcher(out, manifest_path)),
        functions=kernels, size=section_sizes(artifact), toolchain=toolchain,
        build_key=key, sources=[str(s) for s in sources],
        footprint=footprint(artifact, map_file).as_dict(), testing=testing,
    )
    manifest.save(manifest_path)
    return manifest
