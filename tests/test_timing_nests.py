"""Whole-graph timing with `number > 1`, driven by TVM's own RPC client and by the harness, on the host
and every QEMU board: the graph executor's run times itself with a timer of its own, so the caller's
time evaluator around N runs measures all N (it measured only the last one when both shared the
port's single timer), and a profile's node times add up to the run.

Per-run time agrees within 1% for number in {1, 2, 4, 8} on -icount boards, where time is virtual
and every repeat of a measurement gives the same value; within 10% on the host's shared wall clock
(the fault measured 1/N of the time)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from filelock import FileLock

from harness.build import Manifest
from harness.device import Device
from harness.models.compile.model import Compiled, compile_model
from harness.models.deploy.graph_client import GraphModule
from harness.models.deploy.run import build_model_image
from harness.targets import get_target
from tests.conftest import QEMU_TARGETS, REPO_ROOT, require_tvm
from tests.models import MODELS, _const, _function

NUMBERS = (1, 2, 4, 8)
ROOT = REPO_ROOT / "build" / "test-timing"


def wide_cnn() -> tuple[Any, list[np.ndarray]]:
    """About 0.1 ms on the host: 1% is well above the timer's resolution, and eight runs
    still fit between two of the scheduler's ticks on a loaded host."""
    from tvm.relax import op as R

    rng = np.random.default_rng(7)

    def body(bb: Any, x: Any) -> Any:
        y = bb.emit(R.nn.relu(R.nn.conv2d(x, _const(rng, (8, 4, 3, 3)), padding=1)))
        return bb.emit(R.nn.max_pool2d(y, pool_size=2, strides=2))

    image = rng.standard_normal((1, 4, 16, 16)).astype("float32")
    return _function("main", [("image", (1, 4, 16, 16), "float32")], body), [image]


_COMPILED: dict[str, tuple[Compiled, list[np.ndarray]]] = {}


def model_for(target: str) -> tuple[Compiled, list[np.ndarray], Manifest]:
    """The wide model on the host, the small CNN (10 ms of a Cortex-M3) on boards."""
    require_tvm()
    name = "wide_cnn" if target.startswith("host") else "cnn"
    if name not in _COMPILED:
        mod, inputs = wide_cnn() if name == "wide_cnn" else MODELS[name]()
        _COMPILED[name] = (compile_model(mod), inputs)
    compiled, inputs = _COMPILED[name]
    out = ROOT / f"{name}-{target}"
    out.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(out) + ".lock"):
        return compiled, inputs, build_model_image(compiled, get_target(target), out)


def _repeats(target: str) -> int:
    return 3 if "exact_time" in get_target(target).features else 15


def _tolerance(target: str) -> float:
    """1% where time is virtual (exact: every repeat agrees to a tick, checked in `check`). On the
    host, wall clock beside the other xdist worker: the fastest of 200 runs of 0.23 ms at number=4
    came out 3.4% slower than at number=1 with the neighbour compiling, so the host asks for 10%. The
    fault this guards against is off by a factor: timing only the last of N runs gives 1/N (-50% at
    number=2), which 10% still catches by far; the precision is the boards' to show."""
    return 0.01 if "exact_time" in get_target(target).features else 0.10


def measure(time_run: Callable[[int, int], list[float]], target: str) -> dict[int, list[float]]:
    """Per-run seconds for each number. The host shares its cores with other tests, so there the
    fastest run is what is compared, gathered over more rounds while the fastest still disagree."""
    samples = {n: time_run(n, _repeats(target)) for n in NUMBERS}
    for _ in range(0 if "exact_time" in get_target(target).features else 12):
        best = {n: min(s) for n, s in samples.items()}
        if all(abs(b / best[1] - 1) < _tolerance(target) / 2 for b in best.values()):
            break
        for n in NUMBERS:
            samples[n] += time_run(n, _repeats(target))
    return samples


def check(per_number: dict[int, list[float]], target: str) -> None:
    tgt = get_target(target)
    if "exact_time" in tgt.features:  # virtual time: each repeat is the same instructions, read to a tick
        assert tgt.cpu_hz is not None
        for n, seconds in per_number.items():
            assert max(seconds) - min(seconds) <= 1.01 / (tgt.cpu_hz * n), (n, seconds)
    best = {n: min(s) for n, s in per_number.items()}
    for n, t in best.items():
        assert abs(t / best[1] - 1) < _tolerance(target), (
            f"per-run time, number={n}: {t:.6g} s; number=1: {best[1]:.6g} s")


@pytest.mark.parametrize("target", ["host", *QEMU_TARGETS])
def test_harness_time_evaluator_per_run_time_does_not_depend_on_number(target: str, tmp_path: Path) -> None:
    compiled, inputs, manifest = model_for(target)
    with Device(manifest, workdir=tmp_path) as client:
        graph = GraphModule(client, compiled.graph)
        for i, x in enumerate(inputs):
            graph.set_input(i, x)
        per_number = measure(lambda n, r: graph.time_run(repeat=r, number=n), target)
        nodes = graph.profile()
        profiled = graph.stats()["last_run_ns"] * 1e-9
    check(per_number, target)
    node_sum = sum(t for _, t in nodes)
    overhead = 4e-6 if "exact_time" in get_target(target).features else 1e-4  # one counter read a node
    assert node_sum - 1e-9 <= profiled <= node_sum + overhead, (node_sum, profiled)


@pytest.mark.parametrize("target", ["host", *QEMU_TARGETS])
def test_tvm_client_time_evaluator_per_run_time_does_not_depend_on_number(target: str) -> None:
    tvm = require_tvm()
    _, inputs, manifest = model_for(target)
    sess = tvm.rpc.PopenSession(manifest.rpc_launcher)
    dev = sess.cpu(0)
    module = sess.get_function("utvm.graph.create")()
    for i, x in enumerate(inputs):
        module["set_input"](i, tvm.runtime.tensor(x, dev))
    per_number = measure(lambda n, r: list(module.time_evaluator("run", dev, number=n, repeat=r)().results),
                         target)
    check(per_number, target)
