"""The model tier (opt-in: `--utvm-models FILE_OR_DIR`): each model on the target's device, through
the graph executor on the model's own image, within 1 LSB of the model's own runtime (TFLite Micro
for .tflite, onnxruntime for ONNX) on seeded inputs, with its cost recorded as the test's figures
(instructions or cycles per inference, flash, RAM, the largest difference in LSB); on the boards
whose shipped tuning records it holds, each model tuned too (kws01@tuned): see harness.models.deploy.tier."""

from __future__ import annotations

import pytest

from harness.models.deploy import tier
from harness.models.deploy.fit import ModelTooBig
from harness.testing.devices import Figures, ImageDevices
from harness.testing.suite import ANY_IMAGE, ModelFile, RunConfig, TargetSpec


@pytest.mark.requires(ANY_IMAGE)
def test_model(utvm_model: ModelFile, utvm_spec: TargetSpec, utvm_run: RunConfig, image_dut: ImageDevices,
               utvm_figures: Figures) -> None:
    try:
        model = tier.image(utvm_model.path, utvm_spec.target, utvm_run.cache, utvm_model.sha256,
                           utvm_model.variant)
    except ModelTooBig as exc:
        pytest.skip(f"{utvm_model.label} does not fit {utvm_spec.name}: {exc}")
    device = image_dut(model.manifest)
    measured = tier.measure(device.rpc, model, utvm_spec.target, utvm_run.model_inputs)
    utvm_figures.record(measured.figures)  # also when the outputs disagree: the figures say by how much
    agreement = measured.agreement
    assert agreement.within_one_lsb, (
        f"{utvm_model.label} on {utvm_spec.name}: outputs differ from the model's own runtime by up to "
        f"{agreement.max_diff_lsb:g} LSB (max |diff| {agreement.max_abs_diff:g}); top-1 agrees on "
        f"{agreement.top1_agree} of {agreement.inputs} inputs")
