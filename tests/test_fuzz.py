"""Differential fuzzing (harness.fuzz): seeded int8 TFLite cases against TFLite Micro bit for bit,
QDQ ONNX cases against onnxruntime within one LSB, many cases per image, on the host and on a
Cortex-M3 under QEMU; the saved regression cases replayed; the generator's reproducibility and
coverage, the shrinker and `utvm fuzz`'s exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from harness.cli import main
from harness.fuzz.cases import KINDS, Case, make_case
from harness.fuzz.runner import Disagreement, Report, fuzz
from harness.fuzz.shrink import shrink
from harness.fuzz.tflite_gen import OPS
from harness.targets import Target, get_target
from tests.conftest import REPO_ROOT, require_tvm

pytestmark = pytest.mark.tvm
REGRESSIONS = Path(__file__).with_name("fuzz_regressions")
IMPORTER_OPS = {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "AVERAGE_POOL_2D", "MAX_POOL_2D", "MEAN",
                "ADD", "MUL", "CONCATENATION", "PAD", "PADV2", "RESHAPE", "SOFTMAX", "LOGISTIC", "TANH",
                "QUANTIZE", "DEQUANTIZE"}


def _run(kind: str, seed: int, n: int, target: str, tmp_path: Path, batch: int = 50) -> Report:
    require_tvm()
    cases = [make_case(kind, seed, i) for i in range(n)]
    report = fuzz(cases, get_target(target), tmp_path, batch_cases=batch)
    assert not report.disagreements, "\n".join(d.line() for d in report.disagreements)
    return report


def test_int8_cases_bit_exact_with_tflite_micro_on_the_host(tmp_path: Path) -> None:
    report = _run("tflite", 2024, 200, "host", tmp_path)
    assert report.matched >= 180, report  # the few others refused by TFLite Micro or in one line by us
    assert report.images <= 8


def test_qdq_cases_within_one_lsb_of_onnxruntime_on_the_host(tmp_path: Path) -> None:
    report = _run("qdq", 2024, 50, "host", tmp_path)
    assert report.matched >= 45, report


def test_int8_cases_bit_exact_with_tflite_micro_on_cortex_m3(tmp_path: Path) -> None:
    report = _run("tflite", 77, 100, "qemu-mps2-an385-semihosting", tmp_path)
    assert report.matched >= 90, report


def test_dsp_scheduled_conv_and_fc_bit_exact_with_tflite_micro_on_the_host(tmp_path: Path) -> None:
    """CONV_2D and FULLY_CONNECTED around the dot-product micro-kernels (portable loop on x86)."""
    require_tvm()
    from harness.models.compile.dsp import apply_dsp

    cases = [make_case("tflite", 31, i, 8, ("CONV_2D", "FULLY_CONNECTED")) for i in range(16)]
    report = fuzz(cases, get_target("host"), tmp_path, batch_cases=40, scheduler=apply_dsp)
    assert not report.disagreements, "\n".join(d.line() for d in report.disagreements)
    assert report.matched >= 14, report


@pytest.mark.parametrize("note", sorted(p.name for p in REGRESSIONS.glob("*.json")))
def test_saved_regressions_agree(note: str, tmp_path: Path) -> None:
    require_tvm()
    from harness.fuzz.regress import replay

    info = json.loads((REGRESSIONS / note).read_text())  # micro-kernel cases on the board they were found on
    target = info["target"] if info.get("schedules", "default") != "default" else "host"
    assert replay(REGRESSIONS / note, get_target(target), tmp_path) is None


def test_a_case_is_a_function_of_seed_and_index() -> None:
    for kind in KINDS:
        a, b = make_case(kind, 5, 17), make_case(kind, 5, 17)
        assert a.ops == b.ops and all(np.array_equal(x, y) for x, y in zip(a.inputs, b.inputs, strict=True))
    assert make_case("tflite", 5, 17).model.build() == make_case("tflite", 5, 17).model.build()
    assert make_case("tflite", 5, 17).model.build() != make_case("tflite", 5, 18).model.build()


def test_the_generator_covers_every_importer_operator_and_the_quantization_corners() -> None:
    assert set(OPS) == IMPORTER_OPS
    cases = [make_case("tflite", 3, i) for i in range(400)]
    seen = {op.opcode for c in cases for op in c.model.ops}
    assert seen == IMPORTER_OPS
    assert any(len(c.model.ops) == 3 for c in cases)
    zps = {a[2] for c in cases for op in c.model.ops for a in [*op.inputs, op.output] if a[1] is not None}
    assert {-128, 127} <= zps
    options = [op.options[1] for c in cases for op in c.model.ops if op.options]
    assert any(o.get("depthMultiplier", 1) > 1 for o in options)
    assert any(o.get("dilationHFactor", 1) > 1 for o in options)
    assert {0, 1} <= {o["padding"] for o in options if "padding" in o}
    qdq = {op for i in range(200) for op in make_case("qdq", 3, i).ops.split(">")}
    assert qdq == set(KINDS["qdq"].operators())


def test_the_shrinker_keeps_the_smallest_case_that_still_disagrees(tmp_path: Path) -> None:
    """The search itself, with "disagrees" standing for "has a CONV_2D" (no device run)."""
    def check(case: Case, target: Target, workdir: Path) -> Disagreement | None:
        case.expected = [np.zeros(1)]
        return Disagreement(case, "conv") if "CONV_2D" in case.ops.split(">") else None

    start = next(c for c in (make_case("tflite", 9, i) for i in range(500))
                 if len(c.model.ops) == 3 and "CONV_2D" in c.ops.split(">")[1:])
    start.expected = [np.zeros(1)]
    found = shrink(Disagreement(start, "conv"), get_target("host"), tmp_path, budget=40, check=check)
    assert set(found.case.ops.split(">")) == {"CONV_2D"}
    assert found.case.size < start.size


@pytest.mark.parametrize(("argv", "code"), [
    (["--ops", "NOT_AN_OP"], 2), (["--cases", "-1"], 2), (["--target", "no-such-board"], 2)])
def test_fuzz_command_bad_usage_exits_2(argv: list[str], code: int,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    require_tvm()
    assert main(["fuzz", *argv]) == code
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_fuzz_command_exits_0_when_every_case_agrees(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    require_tvm()
    assert main(["fuzz", "--target", "host", "--cases", "12", "--seed", "8", "--ops", "ADD", "MUL",
                 "--workdir", str(tmp_path)]) == 0
    assert "cases agree, 0 disagree" in capsys.readouterr().out


def test_a_campaign_of_json_reports_is_tallied_per_family(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """bench/fuzz_tally.py sums `utvm fuzz --json` reports per core family and kind; one with a
    disagreement is listed and fails the tally."""
    require_tvm()
    import json
    import subprocess
    import sys

    for i in (0, 1):
        assert main(["fuzz", "--target", "host", "--cases", "6", "--seed", "9", "--start", str(6 * i),
                     "--ops", "ADD", "--workdir", str(tmp_path / "w"), "--json"]) == 0
        (tmp_path / "c" / "host-int8").mkdir(parents=True, exist_ok=True)
        (tmp_path / "c" / "host-int8" / f"{i}.json").write_text(capsys.readouterr().out)
    tally = [sys.executable, str(REPO_ROOT / "bench" / "fuzz_tally.py"), str(tmp_path / "c")]
    proc = subprocess.run(tally, capture_output=True, text=True, timeout=60)
    compared = sum(json.loads(p.read_text())["matched"] for p in (tmp_path / "c").rglob("*.json"))
    assert proc.returncode == 0 and compared >= 10, proc.stdout + proc.stderr
    assert proc.stdout.splitlines()[1].split()[:3] == ["host", "int8", str(compared)], proc.stdout
    bad = json.loads((tmp_path / "c" / "host-int8" / "0.json").read_text())
    bad.update(target="qemu-mps2-an385", disagreements=1, lines=["tflite-s9-i0 [ADD]: max |diff| 2 LSB"])
    (tmp_path / "c" / "m3.json").write_text(json.dumps(bad))
    proc = subprocess.run(tally, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "m3.json: tflite-s9-i0 [ADD]" in proc.stdout, proc.stdout
    rows = [line.split() for line in proc.stdout.splitlines()]
    assert any(row[:2] == ["M3", "int8"] and row[4] == "1" for row in rows), proc.stdout
