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
from harness.models.compile.unpacked import kernel_bodies
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


def shared_kernels_differ(graph_c: str, aot_c: str) -> list[str]:
    """The kernels whose loops graph and AOT do not share (harness.models.compile.unpacked): the plain
    function utvm_k_<kernel> not the very same C in the AOT source as in the graph source, or the packed
    entry __tvm_ffi_<kernel> holding a loop or not returning its call, or the plain function doing
    nothing but read its arguments; [] when every kernel's are shared, and there is at least one."""
    packed, plain, aot = (kernel_bodies(graph_c, "__tvm_ffi_"), kernel_bodies(graph_c, "utvm_k_"),
                          kernel_bodies(aot_c, "utvm_k_"))
    packed = {k: b for k, b in packed.items() if not b.startswith("  return __tvm_ffi_")}  # TVM's main
    call = r"\n  return utvm_k_{}\(\(\(void\*\)UTVM_KERNEL_ARGS\([^;]*\)\)\);\n"
    differ = [k for k in sorted({*packed, *aot})
              if k not in aot or plain.get(k) != aot[k] or k not in packed
              or re.search(r"\b(for|while) \(", packed[k]) or not re.search(call.format(k), packed[k])]
    setup = re.compile(r"  (\w+\* \w+ = .*utvm_aot_arg\(.*|return 0;|if \(__builtin_expect_with_\w+\(.*)")
    empty = [k for k, body in aot.items() if all(setup.fullmatch(line) for line in body.split("\n"))]
    return differ + empty if aot else ["(no kernel)"]


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
