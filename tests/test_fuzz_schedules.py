"""Fuzzing the schedules (harness.fuzz.schedules, `utvm fuzz --schedules`): random legal points of the
tuner's design space on the host, and the DSP (Cortex-M4), register-blocked and Helium (Cortex-M55)
micro-kernels under QEMU, each case compared with TFLite Micro and with the same cases'
default-scheduled image, bit for bit. Small slices (one worker, well under a minute in all)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cli import main
from harness.fuzz.cases import make_case
from harness.fuzz.runner import fuzz
from harness.fuzz.schedules import SCHEDULES, scheduler
from harness.targets import all_targets, get_target
from tests.conftest import require_tvm

pytestmark = pytest.mark.tvm
KERNEL_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")


def test_random_schedules_are_a_function_of_the_seed() -> None:
    require_tvm()
    from harness.models.compile.design_space import random_schedule
    from harness.models.compile.model import load, lower

    case = make_case("tflite", 11, 0, 6, ("CONV_2D",))
    mod, entry = load(case.model.build())
    kernel = next(f for f in lower(mod, entry).functions.values()
                  if type(f).__name__ == "PrimFunc" and "utvm.op" in f.attrs)
    draws = [str(random_schedule(kernel, s)) for s in (1, 1, 2, 3)]
    assert draws[0] == draws[1]
    assert len(set(draws[1:])) > 1  # other seeds, other points (tile sizes, compute locations)


def test_random_schedules_agree_with_the_default_one_and_tflite_micro_on_the_host(tmp_path: Path) -> None:
    require_tvm()
    cases = [make_case("tflite", 2025, i, 6) for i in range(7)]
    chosen = scheduler("random", 2025, "host")
    report = fuzz(cases, get_target("host"), tmp_path, batch_cases=40, scheduler=chosen)
    assert not report.disagreements, "\n".join(d.line() for d in report.disagreements)
    assert report.matched >= 6 and report.untuned_compared == report.matched, report


@pytest.mark.parametrize(("schedules", "board"), [("dsp", "qemu-mps2-an386-semihosting"),
                                                  ("blocked", "host"),  # dsp_blocked.h's portable C
                                                  ("mve", "qemu-mps3-an547-semihosting")])
def test_micro_kernels_agree_with_the_default_schedule_on_their_board(schedules: str, board: str,
                                                                      tmp_path: Path) -> None:
    require_tvm()
    if board not in all_targets():
        pytest.skip(f"no {board}")
    cases = [make_case("tflite", 6, i, 6, KERNEL_OPS) for i in range(5)]
    chosen = scheduler(schedules, 6, board)
    report = fuzz(cases, get_target(board), tmp_path, batch_cases=40, scheduler=chosen)
    assert not report.disagreements, "\n".join(d.line() for d in report.disagreements)
    assert report.untuned_compared == report.matched >= 4, report


def test_fuzz_command_takes_schedules(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    require_tvm()
    assert set(SCHEDULES) == {"default", "random", "dsp", "blocked", "mve"}
    assert main(["fuzz", "--target", "host", "--cases", "2", "--seed", "3", "--ops", "FULLY_CONNECTED",
                 "--schedules", "random", "--json", "--workdir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert '"schedules": "random"' in out and '"untuned_compared": 2' in out and '"fully_connected": 2' in out


def test_a_one_channel_convolution_keeps_its_constants_wide_and_compiles(tmp_path: Path) -> None:
    """Found by `utvm fuzz --seed 29100 --schedules blocked`: a convolution of one output channel, whose
    blocked call TVMScript prints reading `in2.source`, failed to compile when its requantization
    constants were packed (harness.models.compile.rq_pack); it keeps them wide and agrees."""
    require_tvm()
    case = make_case("tflite", 29100, 25, 8)
    report = fuzz([case], get_target("host"), tmp_path, batch_cases=40,
                  scheduler=scheduler("blocked", 29100, "host"))
    assert not report.disagreements, "\n".join(d.line() for d in report.disagreements)
    assert report.matched == 1, report
