"""The vendor's flow: scaffold a port, validate a board into a bundle, verify the bundle;
and the nightly as a scheduled service on a branch's latest commit."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.errors import UtvmError
from tests.conftest import REPO_ROOT
from tests.onnx_models import int8_mlp
from utvm_ci.lab import virtual_lab
from utvm_ci.night.schedule import Schedule, checkout_env

UTVM = [sys.executable, "-m", "harness.cli"]


def utvm(*argv: str, cwd: Path = REPO_ROOT, env: dict[str, str] | None = None,
         timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*UTVM, *argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
                          check=False)


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clone of this repository's committed state: what a vendor starts from."""
    path = tmp_path_factory.mktemp("clone") / "utvm"
    subprocess.run(["git", "clone", "--quiet", str(REPO_ROOT), str(path)], check=True, timeout=120)
    return path


@pytest.fixture
def one_board(tmp_path: Path) -> Iterator[Path]:
    inventory = tmp_path / "lab" / "lab.yaml"
    virtual_lab.start(virtual_lab.plan(1, ["qemu-mps2-an385"], [], inventory.parent), inventory)
    yield inventory
    virtual_lab.stop(inventory)


def test_a_scaffolded_port_is_a_target_that_builds(clone: Path, tmp_path: Path) -> None:
    env = checkout_env(clone)
    proc = utvm("port", "new", "acme-m4", "--cpu", "cortex-m4", cwd=clone, env=env)
    assert proc.returncode == 0, proc.stderr
    assert (clone / "boards" / "acme-m4.toml").exists()
    platform_c = (clone / "crt" / "platform" / "acme-m4" / "platform.c").read_text()
    for fn in ("utvm_platform_init", "utvm_platform_read", "utvm_platform_write", "utvm_platform_timer_ticks",
               "utvm_platform_timer_hz", "utvm_platform_random", "utvm_platform_abort",
               "utvm_platform_counters"):
        assert fn in platform_c
    assert platform_c.count("TODO") >= 5  # what is left to do is said where it is
    assert "acme-m4" in utvm("targets", cwd=clone, env=env).stdout
    built = utvm("build", "--target", "acme-m4", "--out", str(tmp_path / "b"), cwd=clone, env=env)
    assert built.returncode == 0, built.stderr
    assert (tmp_path / "b" / "utvm.elf").exists() and "rpc server" in built.stdout
    again = utvm("port", "new", "acme-m4", cwd=clone, env=env)
    assert again.returncode == 1 and "exists already" in again.stderr
    bad = utvm("port", "new", "Acme M4!", cwd=clone, env=env)
    assert bad.returncode == 1 and "port name" in bad.stderr


def test_a_real_board_target_says_how_to_reach_it(clone: Path) -> None:
    env = checkout_env(clone)
    utvm("port", "new", "acme-m0", "--cpu", "cortex-m0plus", cwd=clone, env=env)
    proc = subprocess.run([sys.executable, "-m", "pytest", "acceptance_tests/test_rpc.py", "-q", "-x",
                           "-p", "no:cacheprovider", "--target", "acme-m0"], cwd=clone, env=env,
                          capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode != 0 and "is a real board: reach it with --serial-port" in proc.stdout


def test_validate_writes_a_bundle_that_verify_checks(one_board: Path, tmp_path: Path) -> None:
    key = tmp_path / "key"
    key.write_text("vendor-secret\n")
    bundle = tmp_path / "bundle"
    (tmp_path / "models").mkdir()
    int8_mlp(tmp_path / "models" / "tiny.onnx")  # the model tier runs with it
    proc = utvm("validate", "--inventory", str(one_board), "--board", "vboard-1", "--out", str(bundle),
                "--key", str(key), "--models-dir", str(tmp_path / "models"), "--models", "tiny")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads((bundle / "conformance.json").read_text())
    assert doc["verdict"] == "conformant" and doc["board"] == "vboard-1"
    assert doc["counts"]["passed"] >= 150 and len(doc["tests"]) == sum(doc["counts"].values())
    (model,) = doc["models"]  # the model tier ran on the board: agreement and cost per model
    assert model["model"] == "tiny" and model["outcome"] == "passed" and model["outputs_agree"] is True
    assert model["max_diff_lsb"] <= 1 and model["top1_agree"] == model["inputs"] == 3
    assert model["cycles"] > 1000 and model["flash_bytes"] > 10_000 and model["ram_bytes"] > 0
    assert "<h2>Models</h2>" in (bundle / "report.html").read_text()
    assert len(doc["firmware_sha256"]) == 64 and doc["tvm"] == "0.27.0.post1" and "QEMU" in doc["qemu"]
    assert doc["suite_version"] and doc["toolchain"].startswith("arm-none-eabi-gcc")
    assert "<testcase" in (bundle / "junit.xml").read_text()
    assert "conformant" in (bundle / "report.html").read_text()
    assert utvm("validate", "--verify", str(bundle), "--key", str(key)).returncode == 0
    unkeyed = utvm("validate", "--verify", str(bundle))
    assert unkeyed.returncode == 1 and "give --key" in unkeyed.stderr
    junit = bundle / "junit.xml"
    junit.write_text(junit.read_text().replace('failures="0"', 'failures="1"'))
    tampered = utvm("validate", "--verify", str(bundle), "--key", str(key))
    assert tampered.returncode == 1 and "junit.xml was altered" in tampered.stderr


def test_validate_refuses_half_a_board(tmp_path: Path) -> None:
    proc = utvm("validate", "--target", "qemu-mps2-an385", "--out", str(tmp_path / "b"))
    assert proc.returncode == 1 and "--serial-port and --flash-cmd" in proc.stderr


def test_schedule_times() -> None:
    s = Schedule.parse("02:30")
    assert s.next_after(dt.datetime(2026, 1, 1, 1, 0)) == dt.datetime(2026, 1, 1, 2, 30)
    assert s.next_after(dt.datetime(2026, 1, 1, 2, 30)) == dt.datetime(2026, 1, 2, 2, 30)
    assert s.next_after(dt.datetime(2026, 12, 31, 23, 0)) == dt.datetime(2027, 1, 1, 2, 30)
    for bad in ("2:3", "24:00", "12:60", "noon", "12:00:99"):
        with pytest.raises(UtvmError):
            Schedule.parse(bad)


def test_serve_runs_the_night_on_the_branchs_latest_commit(one_board: Path, tmp_path: Path) -> None:
    at = (dt.datetime.now() + dt.timedelta(seconds=4)).strftime("%H:%M:%S")
    proc = utvm("hil", "serve", "--inventory", str(one_board), "--at", at, "--nights", "1",
                "--branch", "HEAD", "--remote", str(REPO_ROOT), "--checkout", str(tmp_path / "checkout"),
                "--report-dir", str(tmp_path / "reports"), "--state", str(tmp_path / "state"),
                "--reference", "", "--select", "test_rpc and not every_type")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert f"next night at {dt.date.today():%Y-%m-%d}" in proc.stdout or "next night at" in proc.stdout
    summary = json.loads((tmp_path / "reports" / "latest" / "summary.json").read_text())
    assert summary["verdict"] == "passed"
    head = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "--short=7", "HEAD"],
                          capture_output=True, text=True, check=True).stdout.strip()
    junit = (tmp_path / "reports" / "latest" / "junit-vboard-1.xml").read_text()
    assert f'name="revision" value="{head}' in junit  # the night ran the checkout of HEAD
    assert (tmp_path / "checkout" / "crt").is_dir()


def test_a_port_outside_utvm_is_found_through_the_board_path(tmp_path: Path) -> None:
    """A vendor with an installed utvm keeps the board and its port in their own tree."""
    tree = tmp_path / "vendor"
    made = utvm("port", "new", "outside-m4", "--cpu", "cortex-m4", "--root", str(tree))
    assert made.returncode == 0, made.stderr
    assert "outside-m4" not in utvm("targets").stdout
    env = {**os.environ, "UTVM_BOARD_PATH": str(tree / "boards")}
    assert "outside-m4" in utvm("targets", env=env).stdout
    built = utvm("build", "--target", "outside-m4", "--out", str(tmp_path / "b"), env=env)
    assert built.returncode == 0, built.stderr
    assert (tmp_path / "b" / "obj").is_dir() and (tmp_path / "b" / "utvm.elf").exists()


def test_a_broken_board_file_stops_only_the_runs_that_ask_for_targets(tmp_path: Path) -> None:
    """The plugin is installed for every pytest run in the environment: a malformed board description
    must not break a run that uses no target, and is a one-line usage error for one that does."""
    boards = tmp_path / "boards"
    boards.mkdir()
    (boards / "broken.toml").write_text("description = 'no cpu, no memory'\n")
    (tmp_path / "test_plain.py").write_text("def test_plain():\n    assert 1 + 1 == 2\n")
    env = {**os.environ, "UTVM_BOARD_PATH": str(boards)}
    pytest_argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_plain.py"]
    plain = subprocess.run(pytest_argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
                           check=False)
    assert plain.returncode == 0, plain.stdout + plain.stderr
    asked = subprocess.run([*pytest_argv, "--target", "host"], cwd=tmp_path, env=env, capture_output=True,
                           text=True, timeout=120, check=False)
    assert asked.returncode == pytest.ExitCode.USAGE_ERROR
    assert "broken.toml: board 'broken' is malformed" in asked.stderr
    assert "Traceback" not in asked.stderr
