"""Differential fuzzing of the model compiler: seeded random int8 TFLite and QDQ ONNX cases (every
operator the int8 importers accept, single and chained), compiled by utvm, many cases per image,
run on a target and compared with TFLite Micro bit for bit (onnxruntime within one LSB for QDQ);
the kernels on their default schedules, on random points of the tuner's design space or on the
micro-kernels (DSP, blocked, Helium), the latter also against the default schedule bit for bit;
a disagreement is shrunk and saved as a regression case. `utvm fuzz` runs it."""
