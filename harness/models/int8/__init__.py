"""TFLite models: full-integer (int8) ones as Relax IRModules of our own int8 kernels, float32
ones through TVM's TFLite frontend (`load_tflite` picks, frontend.py).

`import_tflite` reads a .tflite flatbuffer (reader), computes TFLite's fixed-point
requantization parameters exactly as TFLite Micro does (quant), and emits one TE/TIR
PrimFunc per operator (ops) whose integer arithmetic matches TFLite Micro's reference
kernels bit for bit. Every PrimFunc carries a "utvm.op" attribute; `apply_default_schedules`
gives each its default schedule (schedules) before the kernels are emitted as C.
"""

from harness.models.tflite.frontend import load_tflite
from harness.models.tflite.importer import import_tflite
from harness.models.tflite.reader import is_tflite
from harness.models.tflite.schedules import DEFAULT_SCHEDULES, apply_default_schedules

__all__ = ["DEFAULT_SCHEDULES", "apply_default_schedules", "import_tflite", "is_tflite", "load_tflite"]
