"""The fuzz tier (opt-in: `--utvm-fuzz-cases N` [`--utvm-fuzz-seed S`]; not collected without it):
N seeded int8 TFLite cases and N/5 QDQ ONNX cases (harness.fuzz) compiled by utvm, run on the
target's device many cases per image, and compared with TFLite Micro bit for bit (onnxruntime within
one LSB). Its figures (cases, agreements, disagreements, cases per operator family, seconds, seed) go
with the test's result into the nightly history; a disagreement fails the test: a product failure."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.build import Manifest
from harness.testing.devices import Figures, ImageDevices
from harness.testing.suite import ANY_IMAGE, TargetSpec

QDQ_SHARE = 5  # one QDQ case per five int8 cases (each QDQ case costs more: onnxruntime, float I/O)


@pytest.mark.requires(ANY_IMAGE)
@pytest.mark.parametrize("kind", ["tflite", "qdq"])
def test_fuzz_campaign(kind: str, utvm_spec: TargetSpec, image_dut: ImageDevices, utvm_figures: Figures,
                       request: pytest.FixtureRequest, tmp_path: Path) -> None:
    pytest.importorskip("tvm")
    from harness.fuzz.cases import make_case
    from harness.fuzz.runner import fuzz

    total, seed = request.config.getoption("utvm_fuzz_cases"), request.config.getoption("utvm_fuzz_seed")
    count = total if kind == "tflite" else max(1, total // QDQ_SHARE)

    @contextlib.contextmanager
    def on_the_device(manifest: Manifest, workdir: Path) -> Iterator[object]:
        yield image_dut(manifest).rpc  # the suite's device for the image: a lab board, QEMU, the host

    report = fuzz([make_case(kind, seed, i) for i in range(count)], utvm_spec.target, tmp_path,
                  launcher=on_the_device)
    utvm_figures.record({
        "fuzz_kind": kind, "fuzz_seed": seed, "fuzz_cases": count, "fuzz_matched": report.matched,
        "fuzz_disagreements": len(report.disagreements), "fuzz_refused": report.refused_ours,
        "fuzz_seconds": round(report.seconds, 1), "fuzz_images": report.images,
        "fuzz_families": json.dumps(dict(sorted(report.families.items())), separators=(",", ":"))})
    assert not report.disagreements, (
        f"{len(report.disagreements)} of {count} {kind} cases (seed {seed}) disagree with the reference on "
        f"{utvm_spec.name}; `utvm fuzz --target {utvm_spec.target.name} --seed {seed} --start I --cases 1` "
        "replays case I:\n" + "\n".join(d.line() for d in report.disagreements[:20]))
