"""Names of the attributes utvm puts on kernels (PrimFuncs), free of any TVM import: what op a kernel
computes ("utvm.op"), and that it is scheduled already ("utvm.scheduled")."""

OP_ATTR = "utvm.op"
SCHEDULED_ATTR = "utvm.scheduled"
