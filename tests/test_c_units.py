"""C unit tests and fuzzing of the runtime, built for the host under ASan/UBSan."""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest

from harness import resources
from harness.link.framing import encode_frame
from harness.link.session import NORMAL, START_INIT, message
from harness.rpc import codec as c

SANITIZE = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-g", "-O1"]
RUNTIME = sorted(str(p) for p in (resources.crt() / "src").rglob("*.c"))
TESTS = resources.crt() / "tests"


def compile_c(out: Path, sources: list[str], cc: str = "gcc", extra: tuple[str, ...] = ()) -> Path:
    cmd = [cc, "-std=c11", "-D_GNU_SOURCE", "-DUTVM_ENABLE_TESTING_GLOBALS=1", "-Wall", "-Wextra", "-Werror",
           *SANITIZE, *extra, f"-I{resources.crt() / 'include'}", *sources, "-o", str(out)]
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    return out


def test_unit_tests_under_sanitizers(tmp_path: Path) -> None:
    exe = compile_c(tmp_path / "unit", [*RUNTIME, *map(str, sorted(TESTS.glob("test_*.c"))),
                                        str(TESTS / "fake_platform.c")])
    proc = subprocess.run([str(exe)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert " 0 failed" in proc.stdout and proc.stderr == ""


@pytest.mark.parametrize("cc", ["gcc", "clang-14", "arm-none-eabi-gcc"])
def test_public_headers_are_iso_c11(cc: str, tmp_path: Path) -> None:
    """Each header of crt/include/utvm compiles on its own as ISO C11 (-pedantic-errors)."""
    if shutil.which(cc) is None:
        pytest.skip(f"{cc} is not installed")
    for header in sorted((resources.crt() / "include" / "utvm").glob("*.h")):
        src = tmp_path / f"{header.stem}.c"
        src.write_text(f'#include "utvm/{header.name}"\ntypedef int not_empty;\n')
        proc = subprocess.run([cc, "-std=c11", "-pedantic-errors", "-Wall", "-Wextra", "-Werror",
                               f"-I{resources.crt() / 'include'}", "-fsyntax-only", str(src)],
                              capture_output=True, text=True, check=False)
        assert proc.returncode == 0, f"{header.name}: {proc.stderr}"
        # -pedantic lets builtins through; ACLE's intrinsics (which expand to them) are the way to ask
        builtins = re.findall(r"__builtin_\w+|__extension__", header.read_text())
        assert not builtins, f"{header.name} uses GNU builtins: {sorted(set(builtins))}"


GNU = re.compile(r"__attribute__|__asm|__typeof__|\btypeof\b")
CORES = {"cortex-m3": ["-mcpu=cortex-m3"], "cortex-m4": ["-mcpu=cortex-m4"],
         "cortex-m55": ["-mcpu=cortex-m55", "-mfloat-abi=hard"]}


def _own_lines(preprocessed: str, include: Path) -> str:
    """The lines of preprocessor output that come from our headers (ACLE's and libc's are theirs)."""
    keep, out = False, []
    for line in preprocessed.splitlines():
        marker = re.match(r'# \d+ "([^"]+)"', line)
        if marker:
            keep = Path(marker.group(1)).resolve().is_relative_to(include)
        elif keep:
            out.append(line)
    return "\n".join(out)


@pytest.mark.parametrize("core", sorted(CORES))
def test_public_headers_use_gnu_extensions_only_for_gnu_compilers(core: str, tmp_path: Path) -> None:
    """The kernels' inline assembly and naked functions (the Thumb-2 tiles, the packed fully-connected
    loop) are GNU C, as CMSIS's are: each sits under `defined(__GNUC__)` beside a portable path, so a
    compiler that is not GCC or clang sees ISO C only. Checked on each Cortex-M core's configuration:
    preprocessed with __GNUC__ undefined, no GNU extension is left in our headers' lines (with it, the
    assembly is there: the check can fail)."""
    if shutil.which("arm-none-eabi-gcc") is None:
        pytest.skip("arm-none-eabi-gcc is not installed")
    include = (resources.crt() / "include" / "utvm").resolve()
    found: dict[str, set[str]] = {}
    with_gnu: set[str] = set()
    for header in sorted(include.glob("*.h")):
        src = tmp_path / f"{header.stem}.c"
        src.write_text(f'#include "utvm/{header.name}"\n')
        for undefine in (["-U__GNUC__"], []):
            cmd = ["arm-none-eabi-gcc", *CORES[core], "-mthumb", "-std=c11", "-E", *undefine,
                   f"-I{include.parent}"]
            proc = subprocess.run([*cmd, str(src)], capture_output=True, text=True, check=False)
            assert proc.returncode == 0, f"{header.name}: {proc.stderr}"
            hits = set(GNU.findall(_own_lines(proc.stdout, include)))
            if undefine and hits:
                found[header.name] = hits
            with_gnu |= hits if not undefine else set()
    assert not found, f"GNU extensions outside defined(__GNUC__) on {core}: {found}"
    if core != "cortex-m55":  # the M3's SMLAL tiles and the M4's SMLAD tiles are assembly
        assert "__asm" in with_gnu
def seed_corpus(directory: Path) -> list[Path]:
    """Valid inputs for the fuzz target (mode byte + stream), to start from."""
    init = c.packet(c.INIT_SERVER, struct.pack("<Q", 5) + c.PROTOCOL_VERSION + c.encode_args(()))
    get = c.packet(c.GET_GLOBAL_FUNC, c.encode_args(("utvm.testing.echo",)))
    alloc = c.packet(c.DEV_ALLOC_DATA, c.encode_args((c.Device(), 64, 16, np.dtype("u1"))))
    call = c.packet(c.CALL_FUNC, b"\0" * 8 + c.encode_args((1, "s", b"b", None, 2.5)))
    seeds = []
    for i, s in enumerate([init + get, alloc, get + call]):
        framed = encode_frame(message(0x12, START_INIT, b"\x01")) + encode_frame(message(0x3412, NORMAL, s))
        for mode, body in ((0, framed), (1, s), (2, bytes([len(s) // 8]) + s)):
            path = directory / f"seed{i}_{mode}"
            path.write_bytes(bytes([mode]) + body)
            seeds.append(path)
    return seeds


def test_fuzz_decoders_bounded(tmp_path: Path) -> None:
    """A short bounded run (libFuzzer when clang-14 is present, else the gcc driver)."""
    seeds = seed_corpus(tmp_path)
    fuzz_src = [*RUNTIME, str(TESTS / "fuzz_device.c"), str(TESTS / "fake_platform.c")]
    seconds = os.environ.get("UTVM_FUZZ_SECONDS", "20")
    if shutil.which("clang-14"):
        exe = compile_c(tmp_path / "fuzz", fuzz_src, cc="clang-14", extra=("-fsanitize=fuzzer",))
        corpus = tmp_path / "corpus"
        corpus.mkdir()
        cmd = [str(exe), f"-max_total_time={seconds}", "-max_len=4096", str(corpus), str(tmp_path)]
    else:
        exe = compile_c(tmp_path / "fuzz", [*fuzz_src, str(TESTS / "fuzz_driver.c")])
        cmd = [str(exe), "200000", *map(str, seeds)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=int(seconds) + 120)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]


@pytest.mark.skipif(shutil.which("clang-14") is None,
                    reason="without clang-14 the bounded fuzz test already runs the gcc driver")
def test_fuzz_driver_builds_with_gcc(tmp_path: Path) -> None:
    exe = compile_c(tmp_path / "fuzzd", [*RUNTIME, str(TESTS / "fuzz_device.c"),
                                         str(TESTS / "fake_platform.c"), str(TESTS / "fuzz_driver.c")])
    seeds = seed_corpus(tmp_path)
    proc = subprocess.run([str(exe), "50000", *map(str, seeds)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and "no failure" in proc.stdout, proc.stderr[-3000:]
