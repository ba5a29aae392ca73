"""Tensors: every dtype and rank, sizes far beyond one packet, offsets."""

from __future__ import annotations

import numpy as np
import pytest

from harness.rpc.client import RemoteTensor
from harness.testing.plugin import LiveRPC

DTYPES = ["int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64", "float16", "float32",
          "float64", "bool"]
SHAPES = [(), (1,), (7,), (3, 5), (2, 3, 4), (2, 1, 3, 2), (1, 2, 1, 2, 1), (2, 3, 4, 1, 2, 3)]


def sample(shape: tuple[int, ...], dtype: str, seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind in "iu":
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max, size=shape, dtype=dtype, endpoint=True)
    return (rng.standard_normal(shape) * 100).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_round_trip_dtypes_and_ranks(rpc: LiveRPC, dtype: str, shape: tuple[int, ...]) -> None:
    data = sample(shape, dtype)
    with rpc.tensor(data) as t:
        got = t.numpy()
        assert got.shape == data.shape and got.dtype == data.dtype
        np.testing.assert_array_equal(got, data)


def test_extreme_values_survive(rpc: LiveRPC) -> None:
    data = np.array([np.inf, -np.inf, np.nan, -0.0, np.finfo(np.float64).tiny, np.finfo(np.float64).max])
    with rpc.tensor(data) as t:
        np.testing.assert_array_equal(t.numpy().view(np.uint64), data.view(np.uint64))


@pytest.mark.parametrize("packets", [3, 8])
def test_sizes_far_beyond_the_max_packet(rpc: LiveRPC, packets: int) -> None:
    n = packets * rpc.max_packet_size + 17
    data = np.random.default_rng(packets).integers(0, 256, size=n, dtype=np.uint8)
    with rpc.tensor(data) as t:
        np.testing.assert_array_equal(t.numpy(), data)
        assert rpc.system_lib()["sum_bytes"](t) == int(data.sum())  # the device saw the same bytes


def test_partial_copies_at_offsets(rpc: LiveRPC) -> None:
    n = 2 * rpc.max_packet_size + 5
    data = np.arange(n, dtype=np.uint32).astype(np.uint8)
    with rpc.tensor(data) as t:
        assert rpc.copy_from(t, byte_offset=1000, nbytes=3000) == data[1000:4000].tobytes()
        patch = bytes(range(200, 250))
        rpc.copy_to(t, patch, byte_offset=n - 50)
        expect = data.copy()
        expect[-50:] = np.frombuffer(patch, np.uint8)
        np.testing.assert_array_equal(t.numpy(), expect)


def test_kernel_sees_a_tensor_at_a_byte_offset(rpc: LiveRPC) -> None:
    data = np.arange(256, dtype=np.uint8)
    with rpc.tensor(data) as t:
        tail = RemoteTensor(rpc, t.data, (56,), np.dtype("uint8"))
        # a view of the last 56 bytes, passed as data + byte_offset
        assert rpc.system_lib()["sum_bytes"](tail.rpc_value(byte_offset=200)) == int(data[200:].sum())
