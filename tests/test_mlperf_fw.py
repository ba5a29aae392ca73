"""MLPerf Tiny firmware: the protocol parser's C unit tests and fuzzing under ASan/UBSan, and
firmware built by `utvm package --mlperf-tiny` driven the way the benchmark runner drives a
board (host process, QEMU on stdio, a virtual serial board)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from harness import resources
from tests.test_c_units import compile_c

TESTS = resources.crt() / "tests"
PARSER = sorted(str(p) for p in (resources.crt() / "mlperf").glob("*.c"))


def test_parser_unit_tests_under_sanitizers(tmp_path: Path) -> None:
    exe = compile_c(tmp_path / "unit", [*PARSER, str(TESTS / "mlperf_unit.c")],
                    extra=(f"-I{TESTS}",))
    proc = subprocess.run([str(exe)], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert " 0 failed" in proc.stdout and proc.stderr == ""


def _seeds(directory: Path) -> list[Path]:
    scripts = [b"\x00name%profile%timestamp%help%", b"\x05db load 6%db 000102%db 030405%infer 2 1%results%",
               b"\x0edb load 6%db 0001020304050607%db 0g%db 001%db print%infer x%",
               b"\x07db load 6%db 000102030405%infer 3 0%", b"\x03" + b"x" * 100 + b"%name%"]
    paths = []
    for i, s in enumerate(scripts):
        path = directory / f"seed{i}"
        path.write_bytes(s)
        paths.append(path)
    return paths


def test_fuzz_parser_bounded(tmp_path: Path) -> None:
    """A short bounded run (libFuzzer when clang-14 is present, else the gcc driver)."""
    (tmp_path / "seeds").mkdir()
    seeds = _seeds(tmp_path / "seeds")
    sources = [*PARSER, str(TESTS / "fuzz_mlperf.c")]
    seconds = os.environ.get("UTVM_FUZZ_SECONDS", "20")
    if shutil.which("clang-14"):
        exe = compile_c(tmp_path / "fuzz", sources, cc="clang-14", extra=("-fsanitize=fuzzer", f"-I{TESTS}"))
        corpus = tmp_path / "corpus"
        corpus.mkdir()
        cmd = [str(exe), f"-max_total_time={seconds}", "-max_len=4096", str(corpus), str(tmp_path / "seeds")]
    else:
        exe = compile_c(tmp_path / "fuzz", [*sources, str(TESTS / "fuzz_driver.c")], extra=(f"-I{TESTS}",))
        cmd = [str(exe), "200000", *map(str, seeds)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=int(seconds) + 120, check=False)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]


def test_parser_builds_for_cortex_m_with_strict_warnings(tmp_path: Path) -> None:
    for cc, extra in (("gcc", []), ("arm-none-eabi-gcc", ["-mcpu=cortex-m3", "-mthumb", "-Os"])):
        cmd = [cc, "-std=c11", "-pedantic", "-Wall", "-Wextra", "-Werror", "-Wconversion", "-Wshadow",
               f"-I{resources.crt() / 'include'}", *extra, "-c", *PARSER]
        proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, check=False)
        assert proc.returncode == 0, proc.stderr
