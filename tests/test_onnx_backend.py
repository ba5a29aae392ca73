"""The ONNX package's backend test cases (onnx/backend/test/data/{simple,pytorch-converted,
pytorch-operator}: 140 models, each with inputs and the outputs its exporter computed) through
`utvm run-model --target host`, in-process: every case either runs and matches both its reference
runtime (onnxruntime, else onnx.reference) and the shipped outputs, or is refused with one error
line of ours (exit 2), the last line on stderr. Never a wrong answer, a traceback or a TVM log line
after our error.

Builds are cached by content (harness.build, under build/test-onnx-backend); each case is its own
test, so xdist spreads them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from harness import cli
from tests.conftest import REPO_ROOT, require_tvm

SUITES = ("simple", "pytorch-converted", "pytorch-operator")
ROOT = REPO_ROOT / "build" / "test-onnx-backend"
TVM_LOG = re.compile(r"^\[\d\d:\d\d:\d\d\] \S+:\d+: ")


def _data_root() -> Path | None:
    try:
        import onnx
    except ImportError:
        return None
    return Path(onnx.__file__).parent / "backend" / "test" / "data"


def _cases() -> list[str]:
    root = _data_root()
    if root is None:
        return []
    return [f"{s}/{c.name}" for s in SUITES if (root / s).is_dir() for c in sorted((root / s).iterdir())
            if (c / "model.onnx").is_file()]


def _arrays(folder: Path, prefix: str) -> list[np.ndarray]:
    import onnx
    from onnx import numpy_helper

    return [numpy_helper.to_array(onnx.load_tensor(str(p))) for p in sorted(folder.glob(f"{prefix}_*.pb"))]


def _close(got: np.ndarray, want: np.ndarray) -> bool:
    if got.shape != want.shape:
        return False
    if want.dtype.kind in "biu":
        return bool(np.array_equal(got, want))
    return bool(np.allclose(got, want, rtol=1e-3, atol=1e-4, equal_nan=True))


@pytest.mark.parametrize("case", _cases())
def test_onnx_backend_case_matches_or_is_one_error_line(case: str, tmp_path: Path,
                                                        capfd: pytest.CaptureFixture[str]) -> None:
    require_tvm()
    folder = _data_root() / case  # type: ignore[operator]
    data = folder / "test_data_set_0"
    inputs = tmp_path / "in.npz"
    np.savez(inputs, **{f"input_{i}": x for i, x in enumerate(_arrays(data, "input"))})
    outputs = tmp_path / "out.npz"
    rc = cli.main(["run-model", str(folder / "model.onnx"), "--target", "host", "--inputs", str(inputs),
                   "--outputs", str(outputs), "--json", "--repeat", "1",
                   "--out", str(ROOT / case.replace("/", "__"))])
    out, err = capfd.readouterr()
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert "Traceback" not in err, err[-3000:]
    if rc == 2:
        assert lines and lines[-1].startswith("utvm: error:"), err
        assert not any(TVM_LOG.match(ln) for ln in lines), err
        return
    assert rc == 0, err[-3000:]
    report = json.loads(out)
    ref = report["reference"]
    assert ref["runtime"] != "none" or lines[-1].startswith("utvm: no reference"), err
    assert all(o["matches_reference"] in (True, None) for o in report["outputs"]), report["outputs"]
    got = np.load(outputs)
    expected = _arrays(data, "output")
    assert len(got.files) == len(expected)
    for i, want in enumerate(expected):
        assert _close(got[f"output_{i}"], want), (case, i, got[f"output_{i}"].ravel()[:8], want.ravel()[:8])


def _run_case(case: str, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> tuple[int, dict, list[str]]:
    folder = _data_root() / case  # type: ignore[operator]
    inputs = tmp_path / "in.npz"
    np.savez(inputs, **{f"input_{i}": x for i, x in enumerate(_arrays(folder / "test_data_set_0", "input"))})
    rc = cli.main(["run-model", str(folder / "model.onnx"), "--target", "host", "--inputs", str(inputs),
                   "--json", "--repeat", "1", "--out", str(ROOT / "own" / case.replace("/", "__"))])
    out, err = capfd.readouterr()  # (its own build directory: xdist may run the case's test beside it)
    return rc, json.loads(out) if rc == 0 else {}, [ln for ln in err.splitlines() if ln.strip()]


def test_an_old_opset_onnxruntime_cannot_load_is_checked_against_onnx_reference(
        tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    require_tvm()
    rc, report, _ = _run_case("pytorch-converted/test_AvgPool2d", tmp_path, capfd)
    assert rc == 0
    ref = report["reference"]
    assert ref["runtime"] == "onnx.reference" and ref["version"], ref
    assert "onnxruntime" in ref["note"] and "AveragePool(1)" in ref["note"], ref
    assert report["outputs"][0]["matches_reference"] is True


def test_a_model_no_reference_can_run_still_runs_and_says_so(
        tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Where no reference runtime loads the model, the device's outputs are reported unchecked,
    one line on stderr says why, and the exit code is 0 (not the model's fault, nor ours)."""
    require_tvm()
    from harness.models.deploy import reference_onnx

    def refuses(model: Path) -> tuple[str, str, reference_onnx.Runner]:
        raise RuntimeError("cannot load this model\nfor a reason")

    monkeypatch.setattr(reference_onnx, "RUNTIMES", [refuses, refuses])
    rc, report, lines = _run_case("pytorch-operator/test_operator_exp", tmp_path, capfd)
    assert rc == 0
    assert report["reference"]["runtime"] == "none"
    assert report["reference"]["note"] == "refuses: for a reason; refuses: for a reason"
    assert lines[-1].startswith("utvm: no reference could run the model"), lines
    assert report["outputs"][0]["matches_reference"] is None and len(report["outputs"][0]["values"]) == 8
