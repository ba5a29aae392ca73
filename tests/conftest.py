"""Fixtures shared by the white-box tests: images built once per run (shared
between xdist workers through a file lock). The black-box device tests are in
acceptance_tests/, run through the utvm pytest plugin."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import pytest
from filelock import FileLock

from harness.build import Manifest, build
from harness.targets import all_targets, get_target

REPO_ROOT = Path(__file__).resolve().parent.parent
KERNELS = REPO_ROOT / "acceptance_tests" / "kernels"
BUILD_ROOT = REPO_ROOT / "build" / "test-images"

# One compiler at a time per xdist worker (and per utvm command a test starts): the suite runs one
# worker per core, and host wall-clock checks beside a tuning run's builds must keep their core.
os.environ.setdefault("UTVM_BUILD_JOBS", "1")


def build_image(target: str, sources: list[Path], testing: bool = True) -> Manifest:
    """A test image: with the utvm.testing.* globals the tests call, unless testing=False."""
    key = hashlib.sha256("|".join([target, *map(str, sources)]).encode()).hexdigest()[:12]
    out = BUILD_ROOT / f"{target}-{key}{'' if testing else '-production'}"
    out.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(out) + ".lock"):
        return build(get_target(target), out, sources, testing=testing)


QEMU_TARGETS = [n for n, t in all_targets().items() if t.emulated]
MLPERF_TINY_DIR = REPO_ROOT.parent / "shared" / "models" / "mlperf-tiny"


def kernel_bodies(source: str, prefix: str) -> dict[str, list[str]]:
    """Each kernel's C body in TVM's generated source (functions named prefix + kernel), by kernel, with
    the numbers of TVM's condval temporaries dropped (they count from the function's first) and without
    a plain entry's check and reads of its arguments (harness.models.compile.unpacked)."""
    found = re.finditer(rf"TVM_DLL int32_t {prefix}(\w+)\([^)]*\) {{\n(.*?)\n}}\n", source, re.S)
    return {m.group(1): [line for line in re.sub(r"(condval)_\d+", r"\1", m.group(2)).split("\n")
                         if "utvm_aot_arg(" not in line and "__builtin_expect_with_probability(" not in line]
            for m in found}


def unpacked_kernels_differ(packed_c: str, unpacked_c: str) -> list[str]:
    """The kernels whose plain C entry (utvm_k_<kernel>) is not its packed entry's (__tvm_ffi_<kernel>)
    code after the argument checks; [] when every one is the very same, and there is at least one."""
    packed, plain = kernel_bodies(packed_c, "__tvm_ffi_"), kernel_bodies(unpacked_c, "utvm_k_")
    differ = [k for k, lines in plain.items() if len(lines) < 2 or packed.get(k, [])[-len(lines):] != lines]
    return differ if plain else ["(no kernel)"]


def mlperf_tiny_model(name: str) -> Path:
    """A model of ../shared/models/mlperf-tiny beside the checkout (kws01, ad01_float, ...); a test
    fails, not skips, without it."""
    path = MLPERF_TINY_DIR / f"{name}.tflite"
    if not path.is_file():
        pytest.fail(f"MLPerf Tiny model {name} is missing: expected {path}")
    return path


@pytest.fixture(scope="session")
def host_image() -> Manifest:
    return build_image("host", [KERNELS / "handwritten.c"])


def require_tvm():
    """TVM is installed by the test command; outside CI a missing TVM skips."""
    if os.environ.get("CI"):
        import tvm

        return tvm
    return pytest.importorskip("tvm")
