"""Compiling a model: its Relax module lowered and fused to TIR (model.py), each int8 kernel given
its default schedule (schedule.py), the DSP schedules on tensor intrinsics (dsp.py, intrin.py) or a
tuning database's records applied (records.py), the kernels emitted as C and the Relax `main` turned
into the fixed Graph with its static memory plan (graph.py). Builds on frontends and int8."""
