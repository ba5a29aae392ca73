"""utvm as a real package: `python -m build` gives a wheel and an sdist, and the wheel installed into a
fresh virtual environment, with no extras and outside the checkout, runs the commands a TVM pre-submit,
a lab and a vendor use: bench, the pre-submit, a virtual lab's night, validate, and the installed suite
through `pytest --pyargs`."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

Done = subprocess.CompletedProcess
pytestmark = pytest.mark.slow


def _run(argv: list[str], cwd: Path, env: dict[str, str], timeout: float = 300) -> Done:
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
                          check=False)
    assert proc.returncode == 0, \
        f"{' '.join(argv)} -> {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, str]]:
    """(venv bin, a working directory outside the checkout, its environment)."""
    root = tmp_path_factory.mktemp("wheel")
    dist = root / "dist"
    _run([sys.executable, "-m", "build", "--outdir", str(dist), str(REPO_ROOT)], root, dict(os.environ))
    wheels, sdists = sorted(dist.glob("utvm-*.whl")), sorted(dist.glob("utvm-*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1
    names = zipfile.ZipFile(wheels[0]).namelist()
    for carried in ("harness/_data/crt/include/utvm/platform.h",
                    "harness/_data/crt/platform/cortex_m/startup.c",
                    "harness/_data/boards/qemu/boards.toml", "harness/_data/Dockerfile",
                    "acceptance_tests/kernels/handwritten.c", "acceptance_tests/pytest.ini"):
        assert carried in names
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env |= {"UTVM_HOME": str(root / "home"), "PATH": f"{venv / 'bin'}{os.pathsep}{env['PATH']}"}
    _run([str(venv / "bin" / "pip"), "install", "-q", str(wheels[0])], root, env, timeout=600)
    work = root / "work"
    work.mkdir()
    return venv / "bin", work, env


def test_the_package_is_found_in_site_packages_not_the_checkout(installed) -> None:
    bin_dir, work, env = installed
    out = _run([str(bin_dir / "python"), "-c", "import harness.resources as r; print(r.crt())"], work, env)
    assert "site-packages/harness/_data/crt" in out.stdout
    assert str(REPO_ROOT) not in out.stdout


def test_bench_and_presubmit(installed) -> None:
    """The installed bench measures every figure; whether the host's wall-clock figures meet their
    targets beside the rest of the suite is the bench's verdict (exit 1), not this test's."""
    bin_dir, work, env = installed
    bench = subprocess.run([str(bin_dir / "utvm"), "bench", "--target", "host", "--json"], cwd=work, env=env,
                           capture_output=True, text=True, timeout=300, check=False)
    assert bench.returncode in (0, 1) and "Traceback" not in bench.stderr, bench.stderr[-3000:]
    figures = {f["name"]: f for f in json.loads(bench.stdout)}
    assert any(n.startswith("null RPC round trip") for n in figures), list(figures)
    assert all(f["value"] > 0 for f in figures.values()), figures
    assert bench.returncode == int(any(f["ok"] is False for f in figures.values())), figures
    pre = _run([str(bin_dir / "utvm"), "ci", "presubmit", "--no-container", "--targets", "host",
                "--report-dir", str(work / "presubmit")], work, env, timeout=600)
    assert "utvm ci presubmit: PASSED on 1 targets" in pre.stdout
    assert (work / "presubmit" / "junit-host.xml").is_file()


def test_virtual_lab_night_and_validate(installed) -> None:
    bin_dir, work, env = installed
    utvm, lab = str(bin_dir / "utvm"), work / "lab.yaml"
    _run([utvm, "hil", "virtual-lab", "--boards", "1", "--out", str(lab)], work, env)
    try:
        night = _run([utvm, "hil", "run", "--inventory", str(lab), "--reference", "",
                      "--report-dir", str(work / "night")], work, env, timeout=600)
        assert "PASSED" in night.stdout
        assert (work / "night" / "junit-vboard-1.xml").is_file()
        bundle = work / "bundle"
        _run([utvm, "validate", "--inventory", str(lab), "--board", "vboard-1", "--out", str(bundle)],
             work, env, timeout=600)
        verify = _run([utvm, "validate", "--verify", str(bundle)], work, env)
        assert "conformant" in verify.stdout
    finally:
        subprocess.run([utvm, "hil", "virtual-lab", "--stop", "--out", str(lab)], cwd=work, env=env,
                       capture_output=True, timeout=60, check=False)


def test_installed_suite_runs_through_pytest_pyargs(installed) -> None:
    bin_dir, work, env = installed
    out = _run([str(bin_dir / "python"), "-m", "pytest", "--pyargs", "acceptance_tests", "--target", "host",
                "-q", "-p", "no:cacheprovider"], work, env, timeout=600)
    summary = out.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"\d+ passed(, \d+ skipped)? in .*", summary), summary
