"""Benchmarks with printed figures (not timed tests): session open, null RPC,
tensor throughput. `utvm bench` runs them."""

from __future__ import annotations

import os
import statistics
import struct
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from harness.build import Manifest, build
from harness.build.footprint import runtime_use
from harness.device import Device
from harness.link.framing import encode_frame
from harness.link.session import NORMAL, message
from harness.rpc import RPCClient
from harness.rpc import codec as c
from harness.targets import StartOptions
from harness.targets.cortex_m import ECHO


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


def session_open_ms(manifest: Manifest, runs: int = 20, options: StartOptions | None = None) -> float:
    def open_close() -> None:
        dev = Device(manifest, options=options)
        dev.start()
        dev.stop()

    return _median_time(open_close, runs) * 1e3


@dataclass
class Floor:
    """What the bare transport does, measured with the echo firmware."""

    byte_rtt_us: float
    message_rtt_us: float  # a message as long as a null RPC's request
    throughput_kbs: float


def _echo_image(manifest: Manifest) -> Path:
    """The echo program built for the same target and transport as `manifest`."""
    echo = replace(manifest.target, main=ECHO)
    return Path(build(echo, Path(manifest.artifact).parent / "echo").artifact)


def transport_floor(manifest: Manifest, message_len: int, bulk: int) -> Floor:
    elf = _echo_image(manifest)
    with manifest.target.start(elf, elf.parent) as link:
        def echo(data: bytes) -> None:
            link.write(data)
            got = 0
            while got < len(data):
                got += len(link.read(len(data) - got, 30.0))

        echo(b"x")  # booted
        byte = _median_time(lambda: echo(b"\x55"), 200)
        msg = _median_time(lambda: echo(bytes(message_len)), 50)
        payload = bytes(range(256)) * (bulk // 256)
        t = _median_time(lambda: echo(payload), 3)
    return Floor(byte * 1e6, msg * 1e6, len(payload) / t / 1e3)


def _null_rpc_wire_bytes(client: RPCClient) -> int:
    """Bytes on the wire for a null RPC request: packet, session header, framing."""
    fn = client.get_function("tvm.rpc.server.GetCRTMaxPacketSize")
    pkt = c.packet(c.CALL_FUNC, struct.pack("<Q", fn.handle) + c.encode_args(()))
    return len(encode_frame(message(1, NORMAL, pkt)))


def _throughput(client: RPCClient, nbytes: int) -> tuple[float, float]:
    data = np.random.default_rng(0).integers(0, 255, size=nbytes, dtype=np.uint8)
    with client.tensor(data) as t:
        up = _median_time(lambda: t.copyfrom(data), 3)
        down = _median_time(t.numpy, 3)
        if not np.array_equal(t.numpy(), data):
            raise AssertionError("tensor round trip corrupted data")
    return nbytes / up, nbytes / down


def run_host(manifest: Manifest, nbytes: int) -> list[Figure]:
    figures = [Figure("session open (spawn to handshake), median", session_open_ms(manifest), "ms", 5.0)]
    with Device(manifest) as client:
        null = client.get_function("tvm.rpc.server.GetCRTMaxPacketSize")
        null()
        figures.append(Figure("null RPC round trip, median", _median_time(null, 2000) * 1e6, "us", 150.0))
        up, down = _throughput(client, nbytes)
        figures.append(Figure(f"{nbytes >> 10} KiB tensor upload", up / 1e6, "MB/s", 50.0, True))
        figures.append(Figure(f"{nbytes >> 10} KiB tensor download", down / 1e6, "MB/s", 50.0, True))
    figures.append(Figure("pipe 1-byte round trip from Python (baseline)", pipe_round_trip_us(), "us"))
    return figures


def footprint_figures(manifest: Manifest) -> list[Figure]:
    flash, ram = manifest.footprint["flash"], manifest.footprint["ram"]
    figures = [Figure(f"flash: {k}", v, "B") for k, v in sorted(flash.items())]
    figures += [Figure(f"RAM: {k}", v, "B") for k, v in sorted(ram.items())]
    rt_flash, rt_ram = runtime_use(manifest.footprint, manifest.target.defines)
    figures.append(Figure("runtime + RPC + link: flash", rt_flash / 1024, "KiB", 16.0))
    figures.append(Figure("runtime + RPC + link: RAM (no packet buf)", rt_ram / 1024, "KiB", 4.0))
    return figures


def run_qemu(manifest: Manifest, nbytes: int, container_image: str | None = None) -> list[Figure]:
    options = StartOptions(container_image=container_image)
    open_limit = 100.0 + (400.0 if container_image else 0.0)
    figures = [Figure("session open (boot to handshake), median", session_open_ms(manifest, 10, options),
                      "ms", open_limit)]
    with Device(manifest, options=options) as client:
        null = client.get_function("tvm.rpc.server.GetCRTMaxPacketSize")
        null()
        null_us = _median_time(null, 200) * 1e6
        wire = _null_rpc_wire_bytes(client)
        up, down = _throughput(client, nbytes)
    floor = transport_floor(manifest, wire, nbytes)
    figures += [
        Figure("transport floor: 1-byte round trip", floor.byte_rtt_us, "us"),
        Figure(f"transport floor: {wire}-byte round trip", floor.message_rtt_us, "us"),
        Figure("transport floor: raw throughput", floor.throughput_kbs, "KB/s"),
        Figure("null RPC round trip, median", null_us, "us", 2 * floor.byte_rtt_us),
        Figure(f"null RPC / {wire}-byte echo", null_us / floor.message_rtt_us, "x", 2.0),
        Figure(f"{nbytes >> 10} KiB tensor upload", up / 1e3, "KB/s", 0.8 * floor.throughput_kbs, True),
        Figure(f"{nbytes >> 10} KiB tensor download", down / 1e3, "KB/s"),
    ]
    return figures + footprint_figures(manifest)


def run(manifest: Manifest, nbytes: int | None = None, container_image: str | None = None) -> list[Figure]:
    if manifest.target.emulated:
        return run_qemu(manifest, nbytes or 64 << 10, container_image)
    return run_host(manifest, nbytes or 1 << 20)
