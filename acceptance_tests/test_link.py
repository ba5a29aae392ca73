"""The link: boot announcement, handshake, resets, and bytes that are not what they should be."""

from __future__ import annotations

import struct

import pytest

from harness import rpc_codec as c
from harness.dut import DeviceUnderTest
from harness.errors import DeviceResetError, InfrastructureError, TransportTimeout
from harness.framing import encode_frame
from harness.session import NORMAL, message


@pytest.mark.requires("reset")
def test_boot_announcement_on_start(dut: DeviceUnderTest) -> None:
    device = dut.restart()
    assert device.session is not None and device.session.stats.boots_seen >= 1
    assert dut.rpc.get_function("add_int")(2, 3) == 5


def test_handshake_gives_a_fresh_session(dut: DeviceUnderTest) -> None:
    first = dut.session.session_id
    before = dut.rpc.stats()["sessions_started"]
    dut.reconnect()
    assert dut.session.session_id != 0
    assert dut.rpc.stats()["sessions_started"] == before + 1
    assert first & 0xFF or first >> 8  # both were real session ids
    assert dut.rpc.get_function("add_int")(20, 22) == 42


@pytest.mark.requires("reset")
def test_device_reset_is_a_typed_error_and_recovers(dut: DeviceUnderTest) -> None:
    """A fault in a kernel: a board resets and announces itself, a process dies; both are
    infrastructure errors, never a hang or a wrong answer."""
    with pytest.raises(InfrastructureError) as info:
        dut.rpc.get_function("crash")()
    if "board" in dut.target.features:
        assert isinstance(info.value, DeviceResetError)
    dut.broken = True
    assert dut.rpc.get_function("add_int")(2, 3) == 5


def test_garbage_before_and_inside_frames_is_ignored(dut: DeviceUnderTest) -> None:
    echo = dut.rpc.get_function("utvm.testing.echo")
    before = dut.rpc.stats()
    dut.link.write(b"\x00\x13garbage\xfe\xff\xfe")  # noise before any frame
    dut.link.write(b"\xff\xfd\x02\x00\x00\x00\xff\x01zz")  # an invalid escape inside a frame
    good = encode_frame(message(dut.session.session_id, NORMAL, b"\x00" * 4))
    dut.link.write(good[: len(good) // 2] + b"\xff\xfd")  # a frame abandoned halfway by a new start
    dut.link.write(b"\x00" * 6 + b"\x13\x37")  # ...an empty frame with a wrong CRC
    assert echo(42) == 42
    after = dut.rpc.stats()
    for counter in ("escape_errors", "abandoned_frames", "crc_errors"):
        assert after[counter] >= before[counter] + 1, counter


def test_bad_crc_frame_is_dropped(dut: DeviceUnderTest) -> None:
    before = dut.rpc.stats()["crc_errors"]
    bad = bytearray(encode_frame(message(dut.session.session_id, NORMAL, b"zzzz")))
    bad[-2] ^= 0xFF
    dut.link.write(bytes(bad))
    assert dut.rpc.get_function("add_int")(1, 1) == 2
    assert dut.rpc.stats()["crc_errors"] == before + 1


def test_oversized_frame_is_rejected(dut: DeviceUnderTest) -> None:
    before = dut.rpc.stats()["oversized_frames"]
    dut.link.write(b"\xff\xfd" + struct.pack("<I", 1 << 30) + b"junk")
    assert dut.rpc.get_function("add_int")(1, 1) == 2
    assert dut.rpc.stats()["oversized_frames"] == before + 1


def test_byte_at_a_time_delivery(dut: DeviceUnderTest) -> None:
    fn = dut.rpc.get_function("add_int")
    pkt = c.packet(c.CALL_FUNC, struct.pack("<Q", fn.handle) + c.encode_args((20, 22)))
    for b in encode_frame(message(dut.session.session_id, NORMAL, pkt)):
        dut.link.write(bytes([b]))
    (n,) = struct.unpack("<Q", dut.session.recv_exact(8))
    reply = c.Reader(dut.session.recv_exact(n))
    assert reply.unpack("<i") == (c.RETURN,)
    assert reply.values() == [c.T_INT, 42]


def test_truncated_packet_then_new_session_recovers(dut: DeviceUnderTest) -> None:
    dut.session.send(struct.pack("<Qi", 1000, c.CALL_FUNC) + b"\x01\x02")  # promises 1000 bytes
    with pytest.raises(TransportTimeout):
        dut.session.recv_exact(8, timeout=0.3)
    dut.reconnect()  # StartInit resets the device's RPC state
    assert dut.rpc.get_function("add_int")(1, 2) == 3
