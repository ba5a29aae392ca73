"""Deploying a compiled model: run-model on a target (run), the model's own reference runtime
(reference) and the comparison (check), the model tier (tier), whether a plan fits a board (fit),
the C library (package), standalone and MLPerf Tiny firmware (standalone, mlperf) and their clients
(graph_client, mlperf_client). Builds on compile and frontends."""
