"""A broken environment is one line and exit code 2 before any work: each command's missing module
(hidden from a child `utvm` by a sitecustomize that marks it absent, as an uninstalled module is),
and the apache-tvm wheel beside a TVM-FFI known to crash it (a fake dist-info first on the path).
A TVM of your own (no apache-tvm metadata behind it) is taken as it is."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.test_tune import conv_model

ROOT = Path(__file__).resolve().parent.parent
SITECUSTOMIZE = """import sys
for name in {names!r}:
    sys.modules[name] = None  # what importlib.util.find_spec and import see for a module not installed
"""

# A TVM package outside any distribution (as `PYTHONPATH=tvm/python` gives one) that runs the installed
# wheel's code, so that the command can go on.
BYO_TVM = """import importlib.util, os
_real = os.path.dirname(importlib.util.find_spec("tvm_ffi").origin.replace("tvm_ffi", "tvm", 1))
__path__ = [_real]
exec(compile(open(os.path.join(_real, "__init__.py")).read(), os.path.join(_real, "__init__.py"), "exec"))
"""


def _env(tmp: Path, block: tuple[str, ...] = (), dists: dict[str, str] | None = None,
         byo_tvm: bool = False) -> dict[str, str]:
    site = tmp / "site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE.format(names=list(block)))
    for dist, version in (dists or {}).items():
        info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    if byo_tvm:  # a TVM of your own on PYTHONPATH: a package no distribution owns (here the wheel's code)
        (site / "tvm").mkdir()
        (site / "tvm" / "__init__.py").write_text(BYO_TVM)
    return {**os.environ, "PYTHONPATH": f"{site}{os.pathsep}{ROOT}"}


def _utvm(argv: list[str], env: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], float]:
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "harness.cli", *argv], capture_output=True, text=True,
                          env=env, timeout=120, cwd=ROOT)
    return proc, time.monotonic() - start


def _refused(proc: subprocess.CompletedProcess[str], seconds: float, *words: str) -> None:
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1 and lines[0].startswith("utvm: error: "), proc.stderr
    assert "Traceback" not in proc.stderr and all(w in lines[0] for w in words), lines
    assert seconds < 20, f"the check took {seconds:.1f} s: it must come before the work"


def _onnx_model(tmp: Path) -> Path:
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "relu", [x], [y])
    path = tmp / "relu.onnx"
    onnx.save(helper.make_model(graph), str(path))
    return path


@pytest.mark.parametrize("command, block, words", [
    ("tune", "xgboost", ("utvm tune needs", "xgboost", "xgboost-cpu")),
    ("tune", "tvm", ("utvm tune needs", "tvm module", "apache-tvm==0.27.0.post1")),
    ("tune", "tflite_micro", ("TFLite Micro", "tflite-micro")),
    ("run-model", "tflite_micro", ("utvm run-model needs", "TFLite Micro", "tflite-micro")),
    ("run-model", "tvm", ("utvm run-model needs", "tvm module")),
    ("package", "tflite", ("utvm package needs", "tflite module")),
])
def test_a_missing_module_is_one_line_before_any_work(command: str, block: str, words: tuple[str, ...],
                                                       tmp_path: Path) -> None:
    model, db = conv_model(tmp_path), tmp_path / "db"
    argv = {"tune": ["tune", str(model), "--target", "qemu-mps2-an386-semihosting", "--db", str(db)],
            "run-model": ["run-model", str(model), "--target", "host", "--out", str(db)],
            "package": ["package", str(model), "--out", str(db)]}[command]
    proc, seconds = _utvm(argv, _env(tmp_path, (block,)))
    _refused(proc, seconds, *words)
    assert not db.exists()  # nothing searched, built or written


def test_run_model_of_an_onnx_model_without_onnxruntime(tmp_path: Path) -> None:
    model = _onnx_model(tmp_path)
    proc, seconds = _utvm(["run-model", str(model), "--out", str(tmp_path / "out")],
                          _env(tmp_path, ("onnxruntime",)))
    _refused(proc, seconds, "utvm run-model needs onnxruntime", "onnxruntime module")
    assert not (tmp_path / "out").exists()


def test_tune_without_the_reference_runtime_is_fine_with_no_model_check(tmp_path: Path) -> None:
    """--no-model-check compares nothing, so TFLite Micro is not needed: the command goes on (to the
    flag error given here, so that nothing is tuned)."""
    model = conv_model(tmp_path)
    proc, _ = _utvm(["tune", str(model), "--no-model-check", "--devices", "-1"],
                    _env(tmp_path, ("tflite_micro",)))
    assert proc.returncode != 0 and "--devices must be positive" in proc.stderr, proc.stderr


def test_tune_worker_without_tvm(tmp_path: Path) -> None:
    proc, seconds = _utvm(["tune-worker", "--tracker", "127.0.0.1:1", "--key", "k"], _env(tmp_path, ("tvm",)))
    _refused(proc, seconds, "utvm tune-worker needs", "tvm module")


def test_the_newest_tvm_ffi_with_the_tvm_wheel_is_refused_saying_what_to_install(tmp_path: Path) -> None:
    """apache-tvm 0.27.0.post1 with apache-tvm-ffi 0.1.15.post2 (what `pip install apache-tvm` brings)
    segfaults in tvm::ffi::ToJSONGraph once tuning starts: refused, naming the pair that works."""
    pytest.importorskip("tvm")
    model, db = conv_model(tmp_path), tmp_path / "db"
    proc, seconds = _utvm(["tune", str(model), "--target", "qemu-mps2-an386-semihosting", "--db", str(db)],
                          _env(tmp_path, dists={"apache-tvm-ffi": "0.1.15.post2"}))
    _refused(proc, seconds, "apache-tvm-ffi 0.1.15.post2", "ToJSONGraph",
             'pip install "apache-tvm==0.27.0.post1" "apache-tvm-ffi==0.1.14.post1"')
    assert not db.exists()


def test_an_untested_tvm_ffi_warns_and_goes_on(tmp_path: Path) -> None:
    pytest.importorskip("tvm")
    model = conv_model(tmp_path)
    env = _env(tmp_path, dists={"apache-tvm-ffi": "0.1.16"})
    proc, _ = _utvm(["tune", str(model), "--devices", "-1"], env)
    assert "utvm: warning: apache-tvm 0.27.0.post1, apache-tvm-ffi 0.1.16 is an untested pair" in proc.stderr
    assert "--devices must be positive" in proc.stderr and "Traceback" not in proc.stderr


def test_your_own_tvm_build_is_taken_as_it_is(tmp_path: Path) -> None:
    """A TVM on PYTHONPATH that is not the apache-tvm wheel's: no version rule applies, even beside
    a TVM-FFI distribution the wheel is known not to work with."""
    pytest.importorskip("tvm")
    model = conv_model(tmp_path)
    proc, _ = _utvm(["tune", str(model), "--devices", "-1"],
                    _env(tmp_path, dists={"apache-tvm-ffi": "0.1.15.post2"}, byo_tvm=True))
    assert "--devices must be positive" in proc.stderr, proc.stderr
    assert "apache-tvm-ffi" not in proc.stderr and "Traceback" not in proc.stderr
