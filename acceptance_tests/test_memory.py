"""Memory: allocation patterns, exhaustion as a clear error, kernel workspaces."""

from __future__ import annotations

import numpy as np
import pytest

from harness.errors import RemoteMemoryError, RemoteValueError
from harness.testing.plugin import LiveRPC


def test_allocation_and_free_patterns(rpc: LiveRPC) -> None:
    data = rpc.stats()["data"]
    rng = np.random.default_rng(11)
    sizes = rng.integers(1, data["capacity"] // 64, size=40)
    blocks = [rpc.alloc(int(n)) for n in sizes]
    assert len(set(blocks)) == len(blocks) and all(b % 64 == 0 for b in blocks)
    order = rng.permutation(len(blocks))
    for i in order[::2]:
        rpc.free_data(blocks[i])  # free every other block: holes
    refill = [rpc.alloc(int(n)) for n in sizes[order[::2]]]
    for b in refill + [blocks[i] for i in order[1::2]]:
        rpc.free_data(b)
    after = rpc.stats()["data"]
    assert after["in_use"] == data["in_use"]
    big = rpc.alloc(data["capacity"] // 2)  # the holes were merged again
    rpc.free_data(big)


def test_exhaustion_is_an_error_and_device_keeps_serving(rpc: LiveRPC) -> None:
    data = rpc.stats()["data"]
    with pytest.raises(RemoteMemoryError, match="out of memory"):
        rpc.empty((data["capacity"] + 1,), "uint8")
    blocks = []
    with pytest.raises(RemoteMemoryError):
        while True:
            blocks.append(rpc.alloc(data["capacity"] // 7))
    assert len(blocks) >= 5
    assert rpc.get_function("add_int")(1, 1) == 2
    for b in blocks:
        rpc.free_data(b)
    after = rpc.stats()["data"]
    assert after["in_use"] == data["in_use"] and after["failures"] >= data["failures"] + 2


def test_bad_frees_are_errors(rpc: LiveRPC) -> None:
    block = rpc.alloc(100)
    rpc.free_data(block)
    with pytest.raises(RemoteValueError, match="not allocated"):
        rpc.free_data(block)
    with pytest.raises(RemoteValueError, match="not allocated"):
        rpc.free_data(block + 8)
    assert rpc.get_function("add_int")(1, 1) == 2


def test_workspace_use_and_exhaustion(rpc: LiveRPC) -> None:
    ws = rpc.system_lib()["workspace"]
    assert ws(1000) == sum(i % 256 for i in range(1000))
    with pytest.raises(RemoteMemoryError, match="workspace exhausted"):
        ws(1 << 40)
    stats = rpc.stats()["workspace"]
    assert stats["high_water"] >= 1000 and stats["in_use"] == 0
    assert ws(10) == 45
