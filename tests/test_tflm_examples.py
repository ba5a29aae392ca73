"""The models TensorFlow Lite Micro ships (../shared/models/tflm-examples beside the checkout; see its
README): the ones we compile run within one LSB of TFLite Micro on the host and on QEMU boards, and
person_detect tells a person from none on TFLite Micro's own test images; the others (LSTM, SVDF,
int16 activations, operators we lack) are one error line of ours naming the operator and its type.

A missing model fails the test with its path (it never skips). Images are built once per content
(harness.build's cache) under build/test-tflm-examples and shared between xdist workers."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from filelock import FileLock

from harness import cli
from harness.build import Manifest
from harness.device import Device
from harness.models.compile.model import Compiled
from harness.models.deploy import fit
from harness.models.deploy import reference as references
from harness.models.deploy.graph_client import GraphModule
from harness.models.deploy.run import build_model_image, compile_for, load_inputs
from harness.targets import get_target
from tests.bmp import gray8
from tests.conftest import REPO_ROOT, require_tvm

DIR = REPO_ROOT.parent / "shared" / "models" / "tflm-examples"
ROOT = REPO_ROOT / "build" / "test-tflm-examples"
RUNNING = ["int8/hello_world_int8", "int8/micro_speech_quantized", "int8/person_detect",
           "float32/hello_world_float", "int8/simple_add_model"]
BOARDS = ["qemu-mps2-an385-semihosting", "qemu-mps2-an505-semihosting"]  # Cortex-M3 and M33
SEEDED_INPUTS = 3
REFUSED = {  # model: (operator, type) its one error line names
    "float32/trained_lstm": ("UNIDIRECTIONAL_SEQUENCE_LSTM", "float32"),
    "int16x8_or_hybrid/trained_lstm_int8": ("UNIDIRECTIONAL_SEQUENCE_LSTM", "int16"),
    "int16x8_or_hybrid/dtln_noise_suppression": ("UNIDIRECTIONAL_SEQUENCE_LSTM", "int16"),
    "int16x8_or_hybrid/micro_speech_lstm": ("UNIDIRECTIONAL_SEQUENCE_LSTM", "int"),
    "int16x8_or_hybrid/keyword_scrambled": ("SVDF", "int16"),
    "int16x8_or_hybrid/keyword_scrambled_8bit": ("SVDF", "int8"),
}

_COMPILED: dict[str, Compiled] = {}


def model_path(name: str) -> Path:
    path = DIR / f"{name}.tflite"
    if not path.is_file():
        pytest.fail(f"TFLite Micro example model {name} is missing: expected {path}")
    return path


def compiled(name: str) -> Compiled:
    require_tvm()
    if name not in _COMPILED:
        _COMPILED[name], _ = compile_for(model_path(name), get_target("host"))
    return _COMPILED[name]


def image(name: str, target: str) -> Manifest:
    out = ROOT / f"{name.replace('/', '__')}-{target}"
    out.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(out) + ".lock"):
        return build_model_image(compiled(name), get_target(target), out)


@pytest.mark.parametrize("target", ["host", *BOARDS])
@pytest.mark.parametrize("name", RUNNING)
def test_model_matches_tflite_micro(name: str, target: str, tmp_path: Path) -> None:
    ref = references.tflite_micro(model_path(name))
    graph = compiled(name).graph
    scales = [graph.tensors[t].scale for t in graph.outputs]
    with Device(image(name, target), workdir=tmp_path) as client:
        module = GraphModule(client, graph)
        for seed in range(SEEDED_INPUTS):
            xs = load_inputs(graph, None, seed=seed)
            for got, want, scale in zip(module(*xs), ref.run(xs), scales, strict=True):
                result = references.compare(got, want, scale)
                assert result["matches_reference"], (name, target, seed, result)
                if got.dtype.kind in "iu":
                    assert result["max_diff_lsb"] <= 1


@pytest.mark.parametrize("target", ["host", BOARDS[0]])
def test_person_detect_on_tflite_micros_test_images(target: str, tmp_path: Path) -> None:
    """person.bmp scores person above no person, no_person.bmp the reverse, as TFLite Micro's
    person_detection_test copies the images' bytes into the int8 input; the scores equal TFLite
    Micro's to one LSB (with CMSIS-NN it gave (no person, person) = (-113, 113) and (57, -57))."""
    name = "int8/person_detect"
    ref = references.tflite_micro(model_path(name))
    with Device(image(name, target), workdir=tmp_path) as client:
        module = GraphModule(client, compiled(name).graph)
        for picture, person in (("person", True), ("no_person", False)):
            x = gray8(DIR / "inputs" / f"{picture}.bmp").view(np.int8).reshape(1, 96, 96, 1)
            no_score, yes_score = (int(v) for v in module(x)[0].ravel())
            tflm = ref.run([x])[0].ravel()
            assert abs(no_score - int(tflm[0])) <= 1 and abs(yes_score - int(tflm[1])) <= 1, (picture, tflm)
            assert (yes_score > no_score) == person, (picture, no_score, yes_score)
    assert [int(v) for v in ref.run([gray8(DIR / "inputs" / "person.bmp").view(np.int8)
                                      .reshape(1, 96, 96, 1)])[0].ravel()] == [-113, 113]


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_unsupported_models_are_one_error_line(name: str, tmp_path: Path,
                                               capfd: pytest.CaptureFixture[str]) -> None:
    require_tvm()
    operator, dtype = REFUSED[name]
    rc = cli.main(["run-model", str(model_path(name)), "--target", "host", "--out", str(tmp_path / "b")])
    err = capfd.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert rc == 2, err[-3000:]
    assert "Traceback" not in err and lines and lines[-1].startswith("utvm: error: operator "), err
    assert re.search(rf"\({operator}\b", lines[-1]) and dtype in lines[-1], lines[-1]


def test_mobilenet_v2_on_the_host_and_refused_by_a_board_too_small(tmp_path: Path) -> None:
    """mobilenet_v2 (converted from PyTorch: an NCHW input TRANSPOSEd, PAD, MEAN; 3.5 MB of int8
    weights) runs on the host bit-exact with TFLite Micro; a board with 1 MB of flash refuses its
    plan saying by how much."""
    from dataclasses import replace

    name = "int8/mobilenet_v2_quantized_1x3x224x224"
    graph = compiled(name).graph
    with pytest.raises(fit.ModelTooBig, match=r"parameters need \d+ B of flash .* \(\d+ B too many\)"):
        fit.check(graph, replace(get_target("qemu-mps2-an385"), flash_bytes=1 << 20))
    xs = load_inputs(graph, None, seed=0)
    with Device(image(name, "host"), workdir=tmp_path) as client:
        got = GraphModule(client, graph)(*xs)[0]
    want = references.tflite_micro(model_path(name)).run(xs)[0]
    np.testing.assert_array_equal(got, want)


def test_a_board_too_small_for_person_detect_says_by_how_much() -> None:
    from dataclasses import replace

    graph = compiled("int8/person_detect").graph
    with pytest.raises(fit.ModelTooBig, match=r"parameters need \d+ B of flash .* \(\d+ B too many\)"):
        fit.check(graph, replace(get_target("qemu-mps2-an385"), flash_bytes=128 * 1024))
