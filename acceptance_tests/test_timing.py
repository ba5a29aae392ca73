"""Timing on the device (runtime.RPCTimeEvaluator) and the stats it reports."""

from __future__ import annotations

import pytest

from harness.device.dut import DeviceUnderTest
from harness.errors import RemoteError
from harness.testing.plugin import LiveRPC


def test_time_evaluator_sanity(rpc: LiveRPC) -> None:
    lib = rpc.system_lib()
    with lib.time_evaluator("busy", number=3, repeat=4) as te:
        times = te(200_000)
    assert len(times) == 4 and all(0 < t < 10 for t in times)
    with rpc.time_evaluator("add_int", number=10, repeat=2, min_repeat_ms=5) as te:
        fast = te(1, 2)
    assert all(0 < t < 0.005 for t in fast)
    with pytest.raises(RemoteError, match="no function"):
        rpc.time_evaluator("nope")


def test_time_evaluator_is_linear(dut: DeviceUnderTest, rpc: LiveRPC) -> None:
    """Twice the work measures twice the time: within 1% where time is exact (a board's
    cycle counter, an emulator's virtual clock), within 15% on a shared host.

    Other processes only ever add time, so the fastest repeat is the best estimate of each. On a
    shared host the two sizes are measured in alternating rounds (a burst of load then lands on
    both, not on one), the fastest of all rounds kept, until the ratio settles or the rounds run
    out; a fixed cost in the evaluator (or time not scaling with work) fails every round.
    """
    exact = "exact_time" in dut.target.features
    tolerance = 0.01 if exact else 0.15
    rounds, n = (1, 300_000) if exact else (12, 1_000_000)
    one = two = float("inf")
    with rpc.system_lib().time_evaluator("busy", number=1, repeat=5) as te:
        for _ in range(rounds):
            one, two = min(one, *te(n)), min(two, *te(2 * n))
            if abs(two / one - 2.0) < 2.0 * tolerance:
                break
    assert abs(two / one - 2.0) < 2.0 * tolerance, f"busy(2n)/busy(n) = {two / one:.4f}"


def test_stats_the_device_reports(rpc: LiveRPC) -> None:
    first = rpc.stats()
    for key in ("max_packet_size", "frames_ok", "sessions_started", "rpc_packets", "data", "workspace"):
        assert key in first, key
    for pool in ("data", "workspace"):
        assert {"capacity", "in_use", "high_water", "failures"} <= set(first[pool]), pool
    assert first["max_packet_size"] == rpc.max_packet_size
    rpc.get_function("add_int")(1, 2)
    second = rpc.stats()
    assert second["rpc_packets"] >= first["rpc_packets"] + 2
    assert second["frames_ok"] > first["frames_ok"]


@pytest.mark.requires("exact_time")
def test_time_is_deterministic(rpc: LiveRPC) -> None:
    """A cycle counter on a device with no OS (or an emulator's virtual clock) repeats itself."""
    with rpc.system_lib().time_evaluator("busy", number=1, repeat=5) as te:
        times = te(100_000)
    assert max(times) / min(times) < 1.001, times
