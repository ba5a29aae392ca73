"""Every device target (host builds, each QEMU board and transport) driven through the harness client."""

from __future__ import annotations

import numpy as np
import pytest

from harness.device import Device
from harness.errors import (
    DeviceResetError,
    FunctionNotFound,
    InfrastructureError,
    RemoteError,
    RemoteMemoryError,
    RemoteTypeError,
    RemoteValueError,
)
from harness.rpc import RPCClient

I64 = np.iinfo(np.int64)


@pytest.mark.parametrize(
    "value",
    [0, 1, -1, I64.max, I64.min, 2**31, True, False, 0.0, -1.5, 1e308, float("inf"), "", "héllo",
     "x" * 1000, b"", b"\xff\xfe\xfd\x00", bytes(range(256)), None],
    ids=repr,
)
def test_echo_round_trips_every_type(client: RPCClient, value: object) -> None:
    got = client.get_function("utvm.testing.echo")(value)
    assert got == value and type(got) is type(value)


def test_nan_round_trips(client: RPCClient) -> None:
    assert np.isnan(client.get_function("utvm.testing.echo")(float("nan")))


def test_kernels_and_their_errors(client: RPCClient) -> None:
    lib = client.system_lib()
    assert lib["add_int"](I64.max, 1) == I64.min  # wraps like int64 on the device
    assert client.get_function("add_int")(2, 3) == 5
    with pytest.raises(RemoteTypeError, match="add_int"):
        lib["add_int"](1)
    with pytest.raises(RemoteTypeError, match="add_int"):
        lib["add_int"]("a", 2)
    with pytest.raises(RemoteError, match="RuntimeError: the kernel says no"):
        lib["fail_with"]("the kernel says no")
    with pytest.raises(FunctionNotFound):
        lib["no_such_kernel"]
    with pytest.raises(FunctionNotFound):
        client.get_function("no.such.global")
    assert client.get_function("utvm.testing.count_args")(*range(40)) == 40


def test_tensor_kernel(client: RPCClient) -> None:
    x = np.linspace(-3, 3, 1000, dtype=np.float32)
    with client.tensor(x) as tx, client.empty(x.shape, "float32") as ty:
        client.system_lib()["scale"](tx, ty, 2.5)
        np.testing.assert_allclose(ty.numpy(), x * 2.5, rtol=1e-6)
        with pytest.raises(RemoteValueError):
            client.system_lib()["scale"](tx, ty.__class__(client, ty.data + 99999999, (4,), "float32"), 1.0)


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int16", "int32", "int64", "float16", "float32",
                                   "float64", "bool"])
@pytest.mark.parametrize("shape", [(), (7,), (3, 5), (2, 3, 4, 1, 2, 3)])
def test_tensor_round_trip_dtypes_and_ranks(client: RPCClient, dtype: str, shape: tuple) -> None:
    rng = np.random.default_rng(7)
    data = (rng.standard_normal(shape) * 100).astype(dtype)
    with client.tensor(data) as t:
        np.testing.assert_array_equal(t.numpy(), data)


def test_large_tensor_spans_many_packets(client: RPCClient) -> None:
    data = np.random.default_rng(3).integers(0, 256, size=3 * client.max_packet_size + 17, dtype=np.uint8)
    with client.tensor(data) as t:
        np.testing.assert_array_equal(t.numpy(), data)
        assert client.system_lib()["sum_bytes"](t) == int(data.sum())
        part = client.copy_from(t, byte_offset=1000, nbytes=5000)
        assert part == data[1000:6000].tobytes()


def test_memory_exhaustion_is_an_error_and_device_keeps_serving(client: RPCClient) -> None:
    total = client.stats()["data"]["capacity"]
    with pytest.raises(RemoteMemoryError, match="out of memory"):
        client.empty((total + 1,), "uint8")
    blocks = [client.alloc(total // 10) for _ in range(8)]
    for b in blocks[::2] + blocks[1::2]:
        client.free_data(b)
    with pytest.raises(RemoteValueError, match="not allocated"):
        client.free_data(blocks[0])
    stats = client.stats()["data"]
    assert stats["in_use"] == 0 and stats["failures"] >= 1
    assert client.get_function("add_int")(1, 1) == 2


def test_workspace_use_and_exhaustion(client: RPCClient) -> None:
    ws = client.system_lib()["workspace"]
    assert ws(1000) == sum(i % 256 for i in range(1000))
    with pytest.raises(RemoteMemoryError, match="workspace exhausted"):
        ws(1 << 40)
    assert client.stats()["workspace"]["high_water"] >= 1000
    assert ws(10) == 45


def test_time_evaluator(client: RPCClient) -> None:
    lib = client.system_lib()
    te = lib.time_evaluator("busy", number=3, repeat=4)
    times = te(200000)
    assert len(times) == 4 and all(t > 0 for t in times)
    te.free()
    fast = client.time_evaluator("add_int", number=10, repeat=2, min_repeat_ms=5)(1, 2)
    assert all(0 < t < 0.005 for t in fast)
    with pytest.raises(RemoteError, match="no function"):
        client.time_evaluator("nope")


def test_oversized_packet_gets_an_error(client: RPCClient) -> None:
    with pytest.raises(RemoteValueError, match="exceeds the device's maximum"):
        client.get_function("utvm.testing.echo")(b"x" * (client.max_packet_size + 10))
    assert client.get_function("add_int")(2, 2) == 4
    assert client.stats()["rpc_oversized"] == 1


def test_device_crash_is_an_infrastructure_error_and_a_restart_recovers(device: Device) -> None:
    """A fault in a kernel: a board resets itself, a host process dies; both are typed errors."""
    assert device.client is not None
    with pytest.raises(InfrastructureError) as info:
        device.client.get_function("crash")()
    if device.target.launcher == "qemu":
        assert isinstance(info.value, DeviceResetError)
        client = device.reconnect()  # the board rebooted and announced itself
    else:
        device.stop()
        client = device.start()
    assert client.get_function("add_int")(2, 3) == 5
