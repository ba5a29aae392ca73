"""What each `utvm` command needs from the Python environment, checked before the command starts.

Each command names the modules it imports (TVM, MetaSchedule's XGBoost cost model, the model's own
runtime it compares with, ...). `check` finds them without importing them (importlib's finders
and the distributions' metadata), so a missing one, or a TVM/TVM-FFI pair known not to work, is one
line and exit code 2 before any work, not a traceback (or a segfault) half-way through. A TVM that
is not the apache-tvm wheel (your own build) is taken as it is.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from harness.errors import UtvmError

TVM_DIST, FFI_DIST = "apache-tvm", "apache-tvm-ffi"
# The pair the `tvm` extra pins (pyproject.toml), known to work.
KNOWN_GOOD = {TVM_DIST: "0.27.0.post1", FFI_DIST: "0.1.14.post1"}
# Pairs known not to work, and why: (apache-tvm release prefix, apache-tvm-ffi release prefix, what happens).
KNOWN_BAD = (((0, 27), (0, 1, 15), "its JSON writer segfaults in tvm::ffi::ToJSONGraph on any TIR node, so "
              "MetaSchedule's database and design spaces crash"),)
EXTRA = 'pip install "utvm[tvm]"'


class EnvironmentProblem(UtvmError):
    """A module a command needs is missing, or TVM and TVM-FFI are a pair known not to work."""


@dataclass(frozen=True)
class Module:
    """A module a command imports: its import name, the distribution that provides it, what for."""

    name: str
    dist: str
    why: str


TVM = Module("tvm", "apache-tvm==0.27.0.post1", "TVM, to compile the model's kernels")
XGBOOST = Module("xgboost", "xgboost-cpu>=2.0", "MetaSchedule's XGBoost cost model")
PSUTIL = Module("psutil", "psutil>=5.9", "TVM's worker pools")
CLOUDPICKLE = Module("cloudpickle", "cloudpickle>=2.0", "TVM's RPC workers")
TFLITE = Module("tflite", "tflite>=2.18", "reading .tflite models")
ONNX = Module("onnx", "onnx>=1.14", "reading ONNX models")
TFLM = Module("tflite_micro", "tflite-micro", "TFLite Micro, the reference a .tflite model is compared with")
ORT = Module("onnxruntime", "onnxruntime>=1.17", "onnxruntime, the reference an ONNX model is compared with")
READERS = {"tflite": (TFLITE,), "onnx": (ONNX,)}
REFERENCES = {"tflite": (TFLM,), "onnx": (ORT,)}


def _model_format(args: argparse.Namespace) -> str | None:
    """The command's model's format, when it has one that can be read (else the command says why)."""
    from harness.models.frontends.formats import detect

    path = Path(getattr(args, "model", "") or "")
    try:
        return detect(path) if path.is_file() else None
    except UtvmError:
        return None


def _model_modules(args: argparse.Namespace, compare: bool) -> list[Module]:
    fmt = _model_format(args)
    return [*READERS.get(fmt or "", ()), *(REFERENCES.get(fmt or "", ()) if compare else ())]


# Per command: the modules it needs, given its arguments. Commands not here need only the package's own
# dependencies.
COMMANDS: dict[str, Callable[[argparse.Namespace], list[Module]]] = {
    "run-model": lambda a: [TVM, *_model_modules(a, compare=True)],
    "package": lambda a: [TVM, *_model_modules(a, compare=False)],
    "tune": lambda a: [TVM, XGBOOST, PSUTIL, CLOUDPICKLE, *_model_modules(a, compare=not a.no_model_check)],
    "tune-worker": lambda a: [TVM, PSUTIL, CLOUDPICKLE],
    "tune-export": lambda a: [TVM],
    "sweep": lambda a: [TVM, *_model_modules(a, compare=True)],
    "fuzz": lambda a: [TVM, ONNX, ORT] if a.qdq else [TVM, TFLM],
}


def check(command: str, args: argparse.Namespace) -> None:
    """EnvironmentProblem for the first missing module or bad TVM pair; unknown pairs warn on stderr."""
    needs = COMMANDS.get(command)
    if needs is None:
        return
    for module in needs(args):
        if importlib.util.find_spec(module.name) is None:
            raise EnvironmentProblem(f"utvm {command} needs {module.why}: the {module.name} module is not "
                                     f'installed (pip install "{module.dist}", or {EXTRA})')
        if module is TVM:
            check_tvm()


def _release(version: str) -> tuple[int, ...]:
    m = re.match(r"\d+(?:\.\d+)*", version)
    return tuple(int(p) for p in m.group(0).split(".")) if m else ()


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def tvm_is_the_wheel() -> bool:
    """Whether `import tvm` would load the apache-tvm wheel's package (not your own build)."""
    spec = importlib.util.find_spec("tvm")
    try:
        dist = metadata.distribution(TVM_DIST)
    except metadata.PackageNotFoundError:
        return False
    if spec is None or spec.origin is None:
        return False
    return Path(str(dist.locate_file("tvm/__init__.py"))).resolve() == Path(spec.origin).resolve()


def check_tvm() -> None:
    """The apache-tvm wheel with a TVM-FFI known to crash it is an error; an untested pair warns."""
    if not tvm_is_the_wheel():
        return  # your own TVM build: it brings its own FFI
    found = {d: _version(d) for d in (TVM_DIST, FFI_DIST)}
    fix = f'pip install "{TVM_DIST}=={KNOWN_GOOD[TVM_DIST]}" "{FFI_DIST}=={KNOWN_GOOD[FFI_DIST]}"'
    if found[FFI_DIST] is None:
        raise EnvironmentProblem(f"{TVM_DIST} {found[TVM_DIST]} is installed without {FFI_DIST}: {fix}")
    tvm, ffi = _release(found[TVM_DIST] or ""), _release(found[FFI_DIST] or "")
    for tvm_release, ffi_release, what in KNOWN_BAD:
        if tvm[: len(tvm_release)] == tvm_release and ffi[: len(ffi_release)] == ffi_release:
            raise EnvironmentProblem(f"{FFI_DIST} {found[FFI_DIST]} does not work with {TVM_DIST} "
                                     f"{found[TVM_DIST]} ({what}): {fix}")
    if found != KNOWN_GOOD:
        pair = ", ".join(f"{d} {v}" for d, v in found.items())
        print(f"utvm: warning: {pair} is an untested pair (known to work: {KNOWN_GOOD[TVM_DIST]} with "
              f"{FFI_DIST} {KNOWN_GOOD[FFI_DIST]})", file=sys.stderr)
