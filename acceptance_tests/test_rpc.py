"""RPC: every argument type with edge values, lookups, and errors that carry their message."""

from __future__ import annotations

import math

import numpy as np
import pytest

from harness.errors import FunctionNotFound, RemoteError, RemoteTypeError, RemoteValueError
from harness.testing.plugin import LiveRPC

I64 = np.iinfo(np.int64)
EDGE_VALUES = [0, 1, -1, I64.max, I64.min, 2**31, -(2**31) - 1, 2**32, True, False, 0.0, -0.0, -1.5,
               1e308, 5e-324, float("inf"), float("-inf"), "", "héllo wörld", "x" * 1000,
               b"", b"\xff\xfe\xfd\x00", bytes(range(256)), None]


@pytest.mark.parametrize("value", EDGE_VALUES, ids=repr)
def test_echo_round_trips_every_type(rpc: LiveRPC, value: object) -> None:
    got = rpc.get_function("utvm.testing.echo")(value)
    assert got == value and type(got) is type(value)
    if isinstance(value, float):
        assert math.copysign(1.0, got) == math.copysign(1.0, value)


def test_values_the_abi_cannot_carry_are_refused_before_sending(rpc: LiveRPC) -> None:
    echo = rpc.get_function("utvm.testing.echo")
    with pytest.raises(ValueError, match="NUL"):
        echo("nul\x00inside")
    with pytest.raises(OverflowError):
        echo(2**63)
    with pytest.raises(TypeError, match="cannot pass"):
        echo(object())
    assert echo("still serving") == "still serving"


def test_nan_round_trips(rpc: LiveRPC) -> None:
    assert math.isnan(rpc.get_function("utvm.testing.echo")(float("nan")))


def test_many_arguments(rpc: LiveRPC) -> None:
    assert rpc.get_function("utvm.testing.count_args")(*range(40)) == 40
    assert rpc.get_function("utvm.testing.count_args")() == 0


def test_unknown_functions(rpc: LiveRPC) -> None:
    with pytest.raises(FunctionNotFound):
        rpc.get_function("no.such.global")
    with pytest.raises(FunctionNotFound):
        rpc.system_lib()["no_such_kernel"]
    assert rpc.get_function("add_int")(2, 3) == 5  # still serving


def test_wrong_argument_counts_and_types(rpc: LiveRPC) -> None:
    add = rpc.system_lib()["add_int"]
    for args in [(1,), (1, 2, 3), ("a", 2), (1.5, 2), (None, None), (b"x", 1)]:
        with pytest.raises(RemoteTypeError, match=r"add_int\(a: int, b: int\)"):
            add(*args)
    assert add(I64.max, 1) == I64.min  # wraps like int64 on the device


@pytest.mark.parametrize("text", ["the kernel says no", "ünïcödé message", "m" * 200])
def test_kernel_errors_arrive_with_their_message(rpc: LiveRPC, text: str) -> None:
    with pytest.raises(RemoteError) as info:
        rpc.system_lib()["fail_with"](text)
    got = info.value.message
    assert info.value.kind == "RuntimeError"
    # a device may cut a long message at its buffer size, visibly
    assert got == text or (got.endswith("...") and len(got) >= 100 and text.startswith(got[:-3])), got
    assert rpc.get_function("add_int")(1, 1) == 2


def test_value_errors_from_kernels(rpc: LiveRPC) -> None:
    with pytest.raises(RemoteValueError, match="0 <= i < 64"):
        rpc.system_lib()["table"](64)


def test_oversized_request_is_refused_and_device_keeps_serving(rpc: LiveRPC) -> None:
    before = rpc.stats()["rpc_oversized"]
    with pytest.raises(RemoteValueError, match="exceeds the device's maximum"):
        rpc.get_function("utvm.testing.echo")(b"x" * (rpc.max_packet_size + 10))
    assert rpc.get_function("add_int")(2, 2) == 4
    assert rpc.stats()["rpc_oversized"] == before + 1
