"""MLPerf Tiny firmware: the protocol parser's C unit tests and fuzzing under ASan/UBSan, and
firmware built by `utvm package --mlperf-tiny` driven the way the benchmark runner drives a
board (host process, QEMU on stdio, a virtual serial board)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from elftools.elf.elffile import ELFFile
from filelock import FileLock

from harness import cli, resources
from harness.models.deploy.mlperf import MlperfFirmware, build_mlperf_firmware, output_quantization
from harness.models.deploy.mlperf_client import MlperfClient
from harness.sim.virtual_board import control
from harness.targets import get_target
from tests import onnx_models
from tests.conftest import REPO_ROOT, require_tvm
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
        cmd = [str(exe), f"-max_total_time={seconds}", "-max_len=4096", f"-artifact_prefix={tmp_path}/",
               str(corpus), str(tmp_path / "seeds")]
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


# ---- firmware built by `utvm package --mlperf-tiny`, driven as the runner drives a board ----

BOARD = "qemu-mps2-an385"
KWS01 = Path("/work/shared/models/mlperf-tiny/kws01.tflite")
PROFILE = "ULPMark for tinyML Firmware V0.0.1"
ROOT = REPO_ROOT / "build" / "test-mlperf"
_BUILT: dict[tuple[str, str, str], MlperfFirmware] = {}


def firmware(model: Path, target: str, mlperf_name: str | None = None,
             executor: str = "graph") -> MlperfFirmware:
    """Built once per run (and shared between xdist workers through a file lock)."""
    key = (str(model), target, executor)
    if key not in _BUILT:
        require_tvm()
        out = ROOT / (f"{model.stem}-{target}" + ("" if executor == "graph" else f"-{executor}"))
        ROOT.mkdir(parents=True, exist_ok=True)
        with FileLock(str(out) + ".lock"):
            _BUILT[key] = build_mlperf_firmware(model, target, out, model_name=mlperf_name, name=model.stem,
                                                executor=executor)
    return _BUILT[key]


@pytest.fixture(scope="module")
def mlp_model() -> Path:
    require_tvm()
    ROOT.mkdir(parents=True, exist_ok=True)
    return onnx_models.mlp(ROOT / "mlp.onnx")


def onnxruntime_outputs(model: Path, x: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    return np.asarray(session.run(None, {session.get_inputs()[0].name: x})[0]).ravel()


@contextmanager
def virtual_board(tmp_path: Path, faults: str = "split=0.5,delay=0.001",
                  board: str = BOARD) -> Iterator[Path]:
    """`utvm virtual-board serve`: QEMU's UART on a pseudo-terminal, behind a relay that here
    splits and delays chunks; nothing flashed yet."""
    port = tmp_path / "board"
    with (tmp_path / "board.log").open("wb") as log:
        argv = [sys.executable, "-m", "harness.cli", "virtual-board", "serve", "--board", board,
                "--port", str(port), "--faults", faults, "--workdir", str(tmp_path)]
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=REPO_ROOT)
    try:
        deadline = time.monotonic() + 30
        while not (port.exists() and Path(f"{port}.ctl").exists()):
            assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "board.log").read_text()
            time.sleep(0.05)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def check_boot(lines: list[str]) -> None:
    protocol = [line for line in lines if line.startswith(("m-", "e-"))]
    assert protocol[0] == "m-timestamp-mode-performance" and protocol[2:] == ["m-init-done", "m-ready"], lines
    assert re.fullmatch(r"m-lap-us-\d+", protocol[1]), lines


def check_session(dut: MlperfClient, fw: MlperfFirmware, x: np.ndarray, want: np.ndarray) -> list[float]:
    """What the runner asks, in its order, then bad commands; returns the results."""
    assert dut.name() == fw.device_name
    assert dut.profile() == (PROFILE, fw.model_name)
    t0, t1 = dut.timestamp(), dut.timestamp()
    assert t1 >= t0
    assert dut.command("db 00") == ["e-[No load in progress: send db load N first]"]
    assert dut.command("infer 1 0") == ["e-[No input: send db load N and its bytes first]"]
    assert dut.command("results") == ["e-[No results: run infer first]"]
    dut.load(x.tobytes())
    run = dut.infer(1, 0, timeout=dut.timeout * 10)
    assert run.lines[:3] == ["m-warmup-start-0", "m-warmup-done", "m-infer-start-1"], run.lines
    assert run.lines[5] == "m-infer-done" and run.elapsed_us >= 0, run.lines
    got = np.array(run.results)
    assert got.shape == want.shape and got.argmax() == want.argmax(), (got, want)
    assert dut.results() == run.results
    bad = {"bogus": "e-[Unknown command: bogus]", "infer x 0": "e-[Invalid number 'x'",
           "infer 0": "e-[Inference iterations must be >0]",
           "db load 3": "e-[db load 3: the model's input is",
           "db 0g": "e-[Invalid hex digit '0g']", "db 001": "e-[Insufficient number of hex digits]",
           "db 0011": "e-[Too many bytes: 2 sent, 0 still expected]", "x" * 100: "e-[Command too long",
           "name please": "e-[Command 'name' takes no arguments]", "db load 99999999999": "e-[Invalid number"}
    for command, error in bad.items():
        reply = dut.command(command)
        assert len(reply) == 1 and reply[0].startswith(error), (command, reply)
    assert dut.name() == fw.device_name  # still serving, the input still loaded
    assert dut.infer(2, 1, timeout=dut.timeout * 10).results == run.results
    return run.results


@pytest.mark.parametrize("target", ["host", "host-asan", BOARD])
def test_mlp_firmware_on_stdio(mlp_model: Path, target: str) -> None:
    """The host build as a process (and under ASan/UBSan), the board under QEMU with its UART on stdio."""
    fw = firmware(mlp_model, target)
    x = np.random.default_rng(3).standard_normal(16).astype("float32")
    want = onnxruntime_outputs(mlp_model, x[None])
    argv = get_target(target).process(str(fw.elf))  # type: ignore[misc]
    with MlperfClient.process(argv) as dut:
        check_boot(dut.boot())
        got = check_session(dut, fw, x, want)
        if "exact_time" in get_target(target).features:  # -icount: device time is deterministic
            one, four = dut.infer(1, 0).elapsed_us, dut.infer(4, 2).elapsed_us
            assert one > 0 and 3.8 * one <= four <= 4.2 * one, (one, four)  # every run is in the window
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-7)


def test_mlp_firmware_on_a_virtual_serial_board(mlp_model: Path, tmp_path: Path) -> None:
    fw = firmware(mlp_model, BOARD)
    assert [p.suffix for p in fw.flash_images] == [".bin", ".hex"]
    with open(fw.elf, "rb") as f:
        symbols = {s.name for s in ELFFile(f).get_section_by_name(".symtab").iter_symbols()}
    assert not symbols & {"malloc", "free", "calloc", "realloc", "_malloc_r"}
    x = np.random.default_rng(4).standard_normal(16).astype("float32")
    want = onnxruntime_outputs(mlp_model, x[None])
    with virtual_board(tmp_path) as port, MlperfClient.serial(str(port)) as dut:
        control(port, f"flash {fw.elf}")
        check_boot(dut.boot())
        got = check_session(dut, fw, x, want)
        control(port, "reset")  # a reset board boots again and serves again
        check_boot(dut.boot())
        assert dut.sync() == fw.device_name
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-7)


def test_cli_builds_the_firmware(mlp_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "fw"
    assert cli.main(["package", str(mlp_model), "--mlperf-tiny", "--target", "host", "--out", str(out),
                     "--mlperf-name", "kws01", "--name", "net"]) == 0
    text = capsys.readouterr().out
    assert "m-name-dut-[utvm-host], m-model-[kws01]; UART at 115200 8N1" in text
    assert "input: 64 bytes per db load" in text and "m-results: float32[4]" in text
    assert (out / "include" / "utvm" / "mlperf.h").is_file() and (out / "mlperf" / "mlperf_main.c").is_file()
    with MlperfClient.process([str(out / "firmware" / "mlperf.elf")]) as dut:
        check_boot(dut.boot())
        assert dut.profile() == (PROFILE, "kws01")
    misuse = ((["--mlperf-tiny"], "say which board"), (["--target", "host"], "go with --mlperf-tiny"),
              (["--mlperf-tiny", "--target", "host", "--mlperf-name", "kws]01"], "MLPerf model name"))
    for argv, error in misuse:
        assert cli.main(["package", str(mlp_model), "--out", str(tmp_path / "bad"), *argv]) == 1
        assert error in capsys.readouterr().err


def _compile_reads_tflite() -> bool:
    """Whether harness.models.compile.model takes a .tflite file (the int8 frontend, added in parallel):
    before it, the file is read as ONNX and fails as one. Any other outcome means it does, and the
    test runs (and fails if the frontend is broken)."""
    from harness.errors import ModelError
    from harness.models.compile.model import compile_model, load

    for attempt in (load, compile_model):  # load first: cheap; compile_model if only it dispatches
        try:
            attempt(KWS01)
        except ModelError as exc:
            if not str(exc).startswith("cannot read ONNX model"):
                return True
        else:
            return True
    return False


@pytest.mark.parametrize("target, executor", [("host", "graph"), (BOARD, "graph"),
                                              ("qemu-mps3-an547", "graph"),
                                              ("host", "aot"), (BOARD, "aot")])
def test_kws01_firmware_matches_tflite_micro(target: str, executor: str, tmp_path: Path) -> None:
    require_tvm()
    if not KWS01.is_file() or not _compile_reads_tflite():
        pytest.skip("harness.models.compile.model does not take .tflite models in this tree")
    from tflite_micro import runtime

    fw = firmware(KWS01, target, executor=executor)
    assert fw.model_name == "kws01" and fw.input_bytes == 490 and not fw.pixel_offset
    assert [(o.count, o.dtype, o.scale, o.zero_point) for o in fw.outputs] == [(12, "int8", 0.00390625, -128)]
    x = np.random.default_rng(0).integers(-128, 127, size=(1, 49, 10, 1), endpoint=True).astype("int8")
    tflm = runtime.Interpreter.from_file(str(KWS01))
    tflm.set_input(x, 0)
    tflm.invoke()
    want = (np.asarray(tflm.get_output(0)).astype(np.float32).ravel() + 128) * np.float32(0.00390625)
    if target == "host":
        with MlperfClient.process([str(fw.elf)]) as dut:
            check_boot(dut.boot())
            got = check_session(dut, fw, x, want)
    else:
        with virtual_board(tmp_path, board=target) as port, MlperfClient.serial(str(port), timeout=60) as dut:
            control(port, f"flash {fw.elf}")
            check_boot(dut.boot())
            got = check_session(dut, fw, x, want)
    np.testing.assert_allclose(got, want, rtol=0, atol=0.00390625 / 2)  # 0 LSB from TFLite Micro


def _flash_and_symbols(elf: Path) -> tuple[int, set[str]]:
    """Bytes the image puts in flash (allocated sections with contents) and its symbols."""
    with open(elf, "rb") as f:
        e = ELFFile(f)
        flash = sum(s["sh_size"] for s in e.iter_sections()
                    if s["sh_flags"] & 2 and s["sh_type"] != "SHT_NOBITS")  # SHF_ALLOC, with contents
        return flash, {s.name for s in e.get_section_by_name(".symtab").iter_symbols()}


def test_aot_firmware_has_no_graph_executor(mlp_model: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    """`package --mlperf-tiny --executor aot`: the firmware calls <name>_run; the graph executor, the graph
    table and the registry lookup are not in the image, which is smaller than the graph firmware; a pixel
    model gets its input less 128 while the loaded bytes stay as they came."""
    graph_flash, _ = _flash_and_symbols(firmware(mlp_model, BOARD).elf)
    fw = firmware(mlp_model, BOARD, executor="aot")
    flash, symbols = _flash_and_symbols(fw.elf)
    assert "mlp_run" in symbols and "utvm_aot_run" in symbols
    assert not symbols & {"utvm_graph_init", "utvm_graph_run", "utvm_model_graph", "utvm_registry_find",
                          "mlp_init", "mlp_set_input", "malloc"}
    assert flash < graph_flash, (flash, graph_flash)
    model = onnx_models.int8_input(tmp_path / "ic01.onnx")
    out = tmp_path / "fw"
    assert cli.main(["package", str(model), "--mlperf-tiny", "--executor", "aot", "--target", "host", "--out",
                     str(out)]) == 0
    assert "(aot executor) for host" in capsys.readouterr().out
    main = (out / "mlperf" / "mlperf_main.c").read_text()  # crt/templates/mlperf_aot_main.c, filled
    assert "model_run(k_inputs, k_outputs, g_workspace)" in main and "model_init" not in main
    pixels = np.array([0, 1, 127, 128, 129, 200, 254, 255], dtype=np.uint8)
    want = onnxruntime_outputs(model, (pixels.astype(np.int16) - 128).astype(np.int8)[None])
    with MlperfClient.process([str(out / "firmware" / "mlperf.elf")]) as dut:
        check_boot(dut.boot())
        assert dut.profile() == (PROFILE, "ic01")
        dut.load(pixels.tobytes())
        got = dut.infer(1, 0).results
        assert dut.checked("db print") == ["m-buffer-00-01-7f-80-81-c8-fe-ff"]
        assert dut.infer(3, 1).results == got
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


def test_quantized_outputs_are_dequantized(tmp_path: Path) -> None:
    """An int8 output made by QuantizeLinear prints as scale * (q - zero_point)."""
    require_tvm()
    model = onnx_models.quantized_output(tmp_path / "q.onnx")
    fw = build_mlperf_firmware(model, "host", tmp_path / "fw", model_name="kws01")
    assert [(o.count, o.dtype, o.zero_point) for o in fw.outputs] == [(12, "int8", -3)]
    x = np.random.default_rng(5).standard_normal((1, 16)).astype("float32")
    q = onnxruntime_outputs(model, x)
    with MlperfClient.process([str(fw.elf)]) as dut:
        dut.sync()
        dut.load(x.tobytes())
        got = dut.infer(1, 0).results
    np.testing.assert_allclose(got, (q.astype(np.float32) + 3) * np.float32(0.05), rtol=1e-6)


def test_pixel_models_take_uint8_pixels(tmp_path: Path) -> None:
    """ic01 and vww01 have int8 inputs, but the runner sends uint8 pixels: the device takes 128 off
    (as the reference firmware does) and keeps the loaded bytes as they came."""
    require_tvm()
    model = onnx_models.int8_input(tmp_path / "ic01.onnx")
    fw = build_mlperf_firmware(model, "host", tmp_path / "fw")
    assert fw.model_name == "ic01" and fw.pixel_offset
    pixels = np.array([0, 1, 127, 128, 129, 200, 254, 255], dtype=np.uint8)
    want = onnxruntime_outputs(model, (pixels.astype(np.int16) - 128).astype(np.int8)[None])
    with MlperfClient.process([str(fw.elf)]) as dut:
        assert dut.sync() == "utvm-host"
        dut.load(pixels.tobytes())
        got = dut.infer(1, 0).results
        assert dut.checked("db print") == ["m-buffer-00-01-7f-80-81-c8-fe-ff"]
        assert dut.infer(1, 0).results == got
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


def test_tflite_output_quantization_is_read_from_the_file() -> None:
    if not KWS01.is_file():
        pytest.skip(f"{KWS01} is not here")
    assert output_quantization(KWS01, 1) == [(0.00390625, -128)]
    assert output_quantization(KWS01, 2) == [None, None]  # counts differ: nothing is guessed
