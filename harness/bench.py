"""Benchmarks with printed figures (not timed tests): session open, null RPC,
tensor throughput. `utvm bench` runs them."""

from __future__ import annotations

import os
import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from harness.build import Manifest
from harness.device import Device


@dataclass
class Figure:
    name: str
    value: float
    unit: str
    limit: float | None = None
    higher_is_better: bool = False

    @property
    def ok(self) -> bool | None:
        if self.limit is None:
            return None
        return self.value >= self.limit if self.higher_is_better else self.value <= self.limit

    def line(self) -> str:
        verdict = {None: "", True: "  ok", False: "  OVER TARGET"}[self.ok]
        rel = ">=" if self.higher_is_better else "<="
        target = f"  (target {rel} {self.limit:g} {self.unit})" if self.limit is not None else ""
        return f"{self.name:<38} {self.value:>10.3f} {self.unit:<6}{target}{verdict}"


def _median_time(fn: Callable[[], object], runs: int) -> float:
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def pipe_round_trip_us(rounds: int = 2000) -> float:
    """Baseline: one byte to `cat` and back through pipes, from Python."""
    proc = subprocess.Popen(["cat"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
    assert proc.stdin is not None and proc.stdout is not None
    w, r = proc.stdin.fileno(), proc.stdout.fileno()

    def ping() -> None:
        os.write(w, b"x")
        os.read(r, 1)

    try:
        return _median_time(ping, rounds) * 1e6
    finally:
        proc.stdin.close()
        proc.wait()


def session_open_ms(manifest: Manifest, runs: int = 20) -> float:
    def open_close() -> None:
        dev = Device(manifest)
        dev.start()
        dev.stop()

    return _median_time(open_close, runs) * 1e3


def run(manifest: Manifest, mib: int = 1) -> list[Figure]:
    figures = [Figure("session open (spawn to handshake), median", session_open_ms(manifest), "ms", 5.0)]
    with Device(manifest) as client:
        null = client.get_function("tvm.rpc.server.GetCRTMaxPacketSize")
        null()
        figures.append(Figure("null RPC round trip, median", _median_time(null, 2000) * 1e6, "us", 150.0))
        data = np.random.default_rng(0).integers(0, 255, size=mib << 20, dtype=np.uint8)
        with client.tensor(data) as t:
            up = _median_time(lambda: t.copyfrom(data), 7)
            down = _median_time(t.numpy, 7)
            if not np.array_equal(t.numpy(), data):
                raise AssertionError("tensor round trip corrupted data")
        size_mb = data.nbytes / 1e6
        figures.append(Figure(f"{mib} MiB tensor upload", size_mb / up, "MB/s", 50.0, True))
        figures.append(Figure(f"{mib} MiB tensor download", size_mb / down, "MB/s", 50.0, True))
    figures.append(Figure("pipe 1-byte round trip from Python (baseline)", pipe_round_trip_us(), "us"))
    return figures
