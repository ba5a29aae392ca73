"""The single-operator int8 TFLite model builder, now harness.fuzz.tflite_model (shared with the
fuzzer); the tests import it from here."""

from harness.fuzz.tflite_model import (
    Activation,
    Chain,
    Constant,
    OpModel,
    random_inputs,
    tflite_micro_outputs,
)

__all__ = ["Activation", "Chain", "Constant", "OpModel", "random_inputs", "tflite_micro_outputs"]
