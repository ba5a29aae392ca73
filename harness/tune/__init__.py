"""`utvm tune`: search schedules of a model's kernels with MetaSchedule, measured on the device.

tasks (the model's kernels, deduplicated and weighted by calls) -> space (design spaces from an
explicit rule list for microcontrollers) -> builder (many candidates per firmware image, built in
parallel and cached by content) -> runner (images on a pool of devices: outputs checked against the
default schedule, time from the on-device timer) -> MetaSchedule's JSON database, which
`run-model --tuning` and `package --tuning` apply (harness.models.compile.records). A farm: remote
(TVM's tracker and `utvm tune-worker`s, on loopback), whose workers check what they are sent
(payload) and build and run it in the project's container image (sandbox).
"""
