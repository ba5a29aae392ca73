"""The utvm pytest plugin, run on small suites in a scratch directory (pytester)."""

from __future__ import annotations

import hashlib
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.conftest import KERNELS, REPO_ROOT, build_image

CACHE = REPO_ROOT / "build" / "utvm-cache"
HANDWRITTEN = REPO_ROOT / "acceptance_tests" / "kernels" / "handwritten.c"

CONFTEST = f"""
from pathlib import Path
def pytest_utvm_image_sources(config):
    return [Path({str(HANDWRITTEN)!r})]
"""

SUITE = """
import pytest
from harness.errors import TransportTimeout

ATTEMPTS = {"flaky": 0, "wrong": 0}

def test_ok(rpc):
    assert rpc.get_function("add_int")(1, 2) == 3

def test_wrong_result(rpc):
    ATTEMPTS["wrong"] += 1
    assert ATTEMPTS["wrong"] == 1, "a failure was retried"
    assert rpc.get_function("add_int")(1, 2) == 4

def test_link_always_lost(dut):
    raise TransportTimeout("the link is gone")

def test_link_lost_once(dut):
    ATTEMPTS["flaky"] += 1
    if ATTEMPTS["flaky"] == 1:
        dut.raw_link().close()  # the device process ends under the test's feet
    assert dut.rpc.get_function("add_int")(1, 1) == 2

@pytest.mark.requires("fpu")
def test_needs_an_fpu(rpc):
    pass

def test_plain_python():
    pass
"""


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    pytester.makeconftest(CONFTEST)
    return pytester.runpytest_subprocess(f"--utvm-cache={CACHE}", "-p", "no:cacheprovider", "-rs", *args)


def test_outcomes_retries_and_reports(pytester: pytest.Pytester, tmp_path: Path) -> None:
    pytester.makepyfile(test_suite=SUITE)
    reports = tmp_path / "reports"
    result = run(pytester, "--target", "host", "--infra-retries", "2", f"--utvm-report-dir={reports}")
    assert result.ret == 1
    outcomes = result.parseoutcomes()
    assert outcomes["passed"] == 3 and outcomes["failed"] == 1 and outcomes["skipped"] == 1, outcomes
    assert outcomes["errors"] == 1, outcomes  # the lost link is an error, not a failure
    result.stdout.re_match_lines([r"SKIPPED .*target host lacks fpu"])
    # columns: passed failed errors skipped retried
    result.stdout.re_match_lines([r"host\s+1\s+1\s+1\s+1\s+1\s+[\d.]+s"])

    suite = ET.parse(reports / "junit-host.xml").getroot().find("testsuite")
    assert suite is not None and suite.get("errors") == "1" and suite.get("failures") == "1"
    props = {p.get("name"): p.get("value") for p in suite.iter("property") if p.get("name") != "retries"}
    assert props["target"] == "host" and props["toolchain"].startswith("gcc")
    manifests = [m for m in CACHE.glob("host-*/utvm.elf")
                 if hashlib.sha256(m.read_bytes()).hexdigest() == props["image_sha256"]]
    assert manifests, "image_sha256 names no image that was built"
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert cases["test_link_always_lost[host]"].find("error").get("type") == "infrastructure"
    assert cases["test_wrong_result[host]"].find("failure").get("type") == "test"
    retried = cases["test_link_lost_once[host]"]
    assert retried.find("failure") is None and retried.find("error") is None
    assert retried.find("properties/property").get("value") == "1"
    summary = (reports / "summary.json").read_text()
    assert '"passed_on_retry": 1' in summary and '"ok": false' in summary


def test_parallel_workers_share_builds_and_the_summary(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_par="""
        import pytest
        @pytest.mark.parametrize("i", range(12))
        def test_add(rpc, i):
            assert rpc.get_function("add_int")(i, 1) == i + 1
    """)
    result = run(pytester, "--target", "host", "--target", "qemu-mps2-an385", "-n", "2")
    assert result.ret == 0
    result.stdout.re_match_lines([r"host\s+12\s+0\s+0\s+0\s+0", r"qemu-mps2-an385\s+12\s+0\s+0\s+0\s+0"])


def test_a_test_that_breaks_the_link_gets_the_next_one_a_fresh_session(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_break="""
        import struct
        from harness.rpc import codec as c
        def test_leaves_a_half_packet(dut):
            dut.raw_session().send(struct.pack("<Qi", 1000, c.CALL_FUNC))  # the device waits for 988 more
        def test_next(rpc):
            assert rpc.get_function("add_int")(2, 2) == 4
    """)
    result = run(pytester, "--target", "host", "--timeout-multiplier", "0.2")
    assert result.ret == 0, result.stdout.str()


def test_keep_artifacts_keeps_device_logs(pytester: pytest.Pytester, tmp_path: Path) -> None:
    pytester.makepyfile(test_one="def test_one(rpc):\n    assert rpc.get_function('add_int')(1, 1) == 2\n")
    out = tmp_path / "artifacts"
    assert run(pytester, "--target", "host", "--keep-artifacts", f"--artifacts-dir={out}").ret == 0
    assert (out / "devices" / "main" / "host" / "device.stderr").is_file()


@pytest.mark.parametrize(("args", "message"), [
    (["--target", "no-such-board"], "unknown target 'no-such-board'; known targets: host"),
    (["--target", "host", "--timeout-multiplier", "host=fast"], "'fast' is not a number"),
    (["--target", "host", "--timeout-multiplier", "qemu-mps2-an385=2"], "not a target of this run"),
    (["--target", "host", "--serial-port", "/dev/null"], "needs --firmware DIR"),
    (["--target", "host", "--target", "host-asan", "--serial-port", "/dev/null", "--flash-cmd", "x"],
     "a serial port holds one board"),
    (["--target", "host", "--firmware", "/nonexistent"], "cannot read manifest"),
])
def test_bad_options_are_usage_errors(pytester: pytest.Pytester, args: list[str], message: str) -> None:
    pytester.makepyfile(test_x="def test_x(rpc):\n    pass\n")
    result = run(pytester, *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert message in result.stderr.str()
    assert "Traceback" not in result.stderr.str()


def test_firmware_without_the_testing_functions_is_refused(pytester: pytest.Pytester) -> None:
    production = build_image("host", [KERNELS / "handwritten.c"], testing=False)  # what `utvm build` makes
    pytester.makepyfile(test_x="def test_x(rpc):\n    pass\n")
    result = run(pytester, "--target", "host", "--serial-port", "/dev/null", "--firmware",
                 str(Path(production.artifact).parent))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "utvm build --testing" in result.stderr.str(), result.stderr.str()


def test_a_test_runs_on_another_image_of_its_target_and_records_figures(pytester: pytest.Pytester,
                                                                        tmp_path: Path) -> None:
    other = build_image("host", [KERNELS / "handwritten.c"], testing=False)  # no utvm.testing.* in it
    pytester.makepyfile(test_images=f"""
        import pytest
        from harness.build import Manifest
        from harness.errors import FunctionNotFound
        OTHER = Manifest.load({str(Path(other.artifact).parent / "manifest.json")!r})

        def test_suite_image(rpc):
            assert rpc.get_function("utvm.testing.echo")(7) == 7

        def test_other_image(image_dut, utvm_figures):
            device = image_dut(OTHER)
            assert device.manifest.artifact == OTHER.artifact
            assert device.rpc.get_function("add_int")(2, 3) == 5
            with pytest.raises(FunctionNotFound):
                device.rpc.get_function("utvm.testing.echo")
            utvm_figures.record({{"instructions": 1234, "model": "m1"}})

        def test_model_param(utvm_model, utvm_spec):
            assert utvm_model.name == "m1" and len(utvm_model.sha256) == 64

        def test_model_alone(utvm_model):  # a test of the models on no target: each model once
            assert utvm_model.name == "m1"
    """)
    model = tmp_path / "models" / "m1.onnx"
    model.parent.mkdir()
    model.write_bytes(b"\x08\x07")
    reports = tmp_path / "reports"
    plain = run(pytester, "--target", "host", f"--utvm-report-dir={reports}")
    assert plain.ret == 0 and plain.parseoutcomes() == {"passed": 2}, plain.stdout.str()  # no model tier
    summary = json.loads((reports / "summary.json").read_text())
    tests = {t["nodeid"].rpartition("::")[2]: t for t in summary["tests"]}
    assert tests["test_other_image[host]"]["figures"] == {"instructions": 1234, "model": "m1"}
    case = ET.parse(reports / "junit-host.xml").getroot().find(".//testcase[@name='test_other_image[host]']")
    assert case is not None
    assert {p.get("name"): p.get("value") for p in case.iter("property")} == {"instructions": "1234",
                                                                            "model": "m1"}
    tier = run(pytester, "--target", "host", f"--utvm-models={model.parent}", "-k", "model_param")
    assert tier.ret == 0 and tier.parseoutcomes()["passed"] == 1, tier.stdout.str()
    alone = run(pytester, "--target", "host", f"--utvm-models={model.parent}", "-k", "model_alone")
    assert alone.ret == 0 and alone.parseoutcomes()["passed"] == 1, alone.stdout.str()


def test_a_serial_board_is_flashed_with_the_image_a_test_needs(tmp_path: Path) -> None:
    """One image at a time on a serial board: asking for another flashes it, asking for the first
    again flashes that back; the same image twice is not flashed again."""
    from harness.build import Manifest
    from harness.targets import get_target
    from harness.testing.devices import DevicePool
    from harness.testing.suite import RunConfig, TargetSpec

    log = tmp_path / "flashed"
    run_config = RunConfig(specs=[], cache=tmp_path, artifacts=tmp_path, serial_port="/dev/null",
                           flash_cmd=f"echo {{elf}} >> {log}")
    spec = TargetSpec("qemu-mps2-an385", get_target("qemu-mps2-an385"), frozenset({"serial"}), 1.0)

    def image(name: str) -> Manifest:
        return Manifest(spec.target, str(tmp_path / name / "utvm.elf"), "", [], {}, "", "", [])

    suite_image, model_image = image("suite"), image("model")
    pool = DevicePool(run_config, tmp_path / "devices")
    for m in (suite_image, suite_image, model_image, model_image, suite_image):
        pool.get(spec, m, label=Path(m.artifact).parent.name)
    assert log.read_text().split() == [suite_image.artifact, model_image.artifact, suite_image.artifact]
    assert pool.carried == suite_image.artifact
