"""Build configurations for real: a model built and run on QEMU with its weights in RAM gives the
flash build's outputs at the cost of RAM; a model that cannot fit that way is a plan-time error; an
unknown configuration is one line (exit 2) on every command that takes one; tuning records are keyed by
the configuration they were tuned under."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from elftools.elf.elffile import ELFFile

from harness.models.compile import records as tuning_records
from harness.models.deploy.run import run_model
from harness.targets import get_target
from tests.conftest import REPO_ROOT, mlperf_tiny_model, require_tvm
from tests.test_tune import conv_model

AN386 = "qemu-mps2-an386-semihosting"
UTVM = [sys.executable, "-m", "harness.cli"]


def utvm(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*UTVM, *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout,
                          check=False)


def _run(model: Path, config: str, out: Path) -> dict:
    proc = utvm("run-model", str(model), "--target", AN386, "--config", config, "--repeat", "2", "--json",
                "--outputs", str(out / "outputs.npz"), "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout)


def _load_and_run_addresses(elf: Path, section: str) -> tuple[int, int, int]:
    """(run address, load address, size) of an output section."""
    with elf.open("rb") as f:
        image = ELFFile(f)
        sec = image.get_section_by_name(section)
        seg = next(s for s in image.iter_segments() if s["p_type"] == "PT_LOAD" and s.section_in_segment(sec))
        return sec["sh_addr"], seg["p_paddr"] + sec["sh_addr"] - seg["p_vaddr"], sec["sh_size"]


def test_weights_in_ram_give_the_same_outputs_and_cost_their_bytes_of_ram(tmp_path: Path) -> None:
    require_tvm()
    model = mlperf_tiny_model("ad01")
    flash, ram = _run(model, "default", tmp_path / "flash"), _run(model, "weights-ram", tmp_path / "ram")
    assert ram["target"] == f"{AN386}@weights-ram" and flash["target"] == AN386
    for report in (flash, ram):
        assert report["outputs"][0]["matches_reference"] and report["outputs"][0]["max_diff_lsb"] == 0
    same = np.load(tmp_path / "flash" / "outputs.npz")["output_0"]
    np.testing.assert_array_equal(np.load(tmp_path / "ram" / "outputs.npz")["output_0"], same)
    params = ram["code_size"]["params"]
    assert params == flash["code_size"]["params"] >= 270_000  # ad01's weights, in flash in both
    assert ram["ram"]["static_bytes"] == flash["ram"]["static_bytes"] + params
    f, r = flash["code_size"], ram["code_size"]
    assert r["text"] + r["data"] >= f["text"] + f["data"] - 8  # the same bytes (8 B of alignment aside)
    footprints = [json.loads((tmp_path / d / "image" / "manifest.json").read_text())["footprint"]
                  for d in ("flash", "ram")]
    assert footprints[1]["ram"]["params"] == footprints[1]["flash"]["params"] == params
    assert "params" not in footprints[0]["ram"]
    no_padding = [{k: v for k, v in fp["flash"].items() if k != "alignment"} for fp in footprints]
    assert no_padding[0] == no_padding[1]
    run_at, load_at, size = _load_and_run_addresses(tmp_path / "ram" / "image" / "utvm.elf", ".utvm_params")
    assert 0x2000_0000 <= run_at < 0x2040_0000 and load_at < 0x0040_0000 and size == params
    # QEMU has no flash wait states: the same instructions either way (the copy is before main), as
    # read through the board's clock: a tick of it (25 MHz) is 1.25 instructions (32 ns each), and the
    # copy before main moves where the run starts within a tick.
    tick = get_target(AN386).instructions(1 / (get_target(AN386).cpu_hz or 1)) or 1
    assert abs(ram["instructions"]["median"] - flash["instructions"]["median"]) <= tick + 1


def test_a_model_whose_weights_do_not_fit_in_ram_is_a_plan_time_error(tmp_path: Path) -> None:
    """ad01_float's 1 MB of float weights fit the AN547's 2 MB SRAM; run from RAM, they do not fit its
    512 KB of DTCM (nor their load image its 512 KB of ITCM), and the plan says so before anything is
    built. (vww01 was the example until dead-channel elimination brought its weights to 56 KB.)"""
    require_tvm()
    proc = utvm("run-model", str(mlperf_tiny_model("ad01_float")), "--target", "qemu-mps3-an547", "--config",
                "weights-ram", "--out", str(tmp_path / "b"))
    assert proc.returncode == 2, proc.stderr[-2000:]
    found = re.search(r"beside its (\d+) B of parameters run from RAM", proc.stderr)
    assert "does not fit" in proc.stderr and found and int(found.group(1)) > 512 * 1024, proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "b" / "image").exists()


@pytest.mark.parametrize("argv", [
    ["run-model", "MODEL", "--target", "qemu-mps2-an386"],
    ["package", "MODEL", "--out", "OUT", "--target", "qemu-mps2-an386", "--mlperf-tiny"],
    ["tune", "MODEL", "--target", "qemu-mps2-an386"],
    ["bench", "--target", "qemu-mps2-an386"],
    ["ci", "presubmit", "--targets", "qemu-mps2-an386", "--no-models"],
])
def test_an_unknown_configuration_is_one_line_and_exit_2(argv: list[str], tmp_path: Path) -> None:
    args = [str(mlperf_tiny_model("ad01")) if a == "MODEL" else str(tmp_path) if a == "OUT" else a
            for a in argv]
    proc = utvm(*args, "--config", "turbo", timeout=120)
    assert proc.returncode == 2, proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert "unknown configuration 'turbo' for qemu-mps2-an386; known: default, size, speed, " \
        "weights-ram" in line


def test_records_are_keyed_by_the_configuration_they_were_tuned_under(tmp_path: Path) -> None:
    """Tuned under one configuration: the database and its exported records say which, are used under
    it, and are refused (one line) under another, as shipped records are when none ship for it."""
    require_tvm()
    model, db = conv_model(tmp_path), tmp_path / "db"
    proc = utvm("tune", str(model), "--target", "host", "--config", "opt=O1", "--trials", "3", "--devices",
                "1", "--db", str(db), "--no-model-check")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads((db / tuning_records.META).read_text()) == {"target": "host@opt=O1", "config": "opt=O1"}
    best = tmp_path / "best.json"
    assert tuning_records.export_best(tuning_records.Database.open(db), best) == 1
    assert json.loads(best.read_text())["config"] == "opt=O1"
    used = run_model(model, "host@opt=O1", tmp_path / "run", repeat=1, tuning=db)
    assert used.report["tuning"]["kernels"] == ["conv2d_0"]
    for tuning in (db, best):
        with pytest.raises(tuning_records.TuningError, match=r"measured on host@opt=O1, not host "
                           r"\(configuration opt=O1, not default: records tuned under one configuration are "
                           r"never used for another\)"):
            run_model(model, "host", tmp_path / "plain", repeat=1, tuning=tuning)
    refused = utvm("run-model", str(model), "--target", "qemu-mps2-an386", "--config", "speed", "--tuning",
                   "auto", "--out", str(tmp_path / "auto"))
    assert refused.returncode != 0 and "no tuned records ship for qemu-mps2-an386 under configuration speed" \
        in refused.stderr and "--config speed" in refused.stderr
    assert tuning_records.resolve("auto", "qemu-mps2-an386") is not None  # the default's still ship


def test_presubmit_runs_the_suite_on_boards_under_a_configuration(tmp_path: Path) -> None:
    from harness.targets.config import UnknownConfig
    from utvm_ci.presubmit import configured_targets, default_targets

    every = configured_targets(None, "weights-ram")  # the boards that have it; the host has none
    assert every == [f"{t}@weights-ram" for t in default_targets() if not t.startswith("host")]
    assert configured_targets(["host"], "opt=O1") == ["host@opt=O1"]
    with pytest.raises(UnknownConfig):
        configured_targets(["host", AN386], "weights-ram")
    proc = utvm("ci", "presubmit", "--targets", AN386, "--config", "weights-ram", "--no-models",
                "--no-container", "--workers", "1", "--report-dir", str(tmp_path))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "utvm ci presubmit: PASSED on 1 targets" in proc.stdout
    assert set(json.loads((tmp_path / "summary.json").read_text())["targets"]) == {f"{AN386}@weights-ram"}


def test_the_mlperf_tiny_firmware_runs_its_weights_from_ram(tmp_path: Path) -> None:
    """kws01's MLPerf Tiny firmware built with its weights in RAM, flashed on a virtual serial board
    (the AN385's UART): the runner's session, TFLite Micro's answer."""
    require_tvm()
    from tflite_micro import runtime

    from harness.models.deploy.mlperf_client import MlperfClient
    from harness.sim.virtual_board import control
    from tests.test_mlperf_fw import BOARD, check_boot, check_session, firmware, virtual_board

    model = mlperf_tiny_model("kws01")
    fw = firmware(model, f"{BOARD}@weights-ram")
    assert fw.device_name == f"utvm-{BOARD}+weights-ram"
    x = np.random.default_rng(0).integers(-128, 127, size=(1, 49, 10, 1), endpoint=True).astype("int8")
    tflm = runtime.Interpreter.from_file(str(model))
    tflm.set_input(x, 0)
    tflm.invoke()
    want = (np.asarray(tflm.get_output(0)).astype(np.float32).ravel() + 128) * np.float32(0.00390625)
    with virtual_board(tmp_path, board=BOARD) as port, MlperfClient.serial(str(port), timeout=60) as dut:
        control(port, f"flash {fw.elf}")
        check_boot(dut.boot())
        check_session(dut, fw, x, want)
    _, load_at, size = _load_and_run_addresses(Path(fw.elf), ".utvm_params")
    # kws01's parameters (at least its 24,376 B of constants): loaded in flash, run from RAM
    assert load_at < 0x0040_0000 and size >= 24_376
