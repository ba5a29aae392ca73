"""The link: boot announcement, handshake, resets, and bytes that are not what they should be."""

from __future__ import annotations

import struct

import pytest

from harness.device.dut import DeviceUnderTest
from harness.errors import DeviceResetError, InfrastructureError, TransportTimeout
from harness.link.framing import crc16, encode_frame, escape
from harness.link.session import NORMAL, message
from harness.rpc import codec as c


@pytest.mark.requires("reset")
def test_boot_announcement_on_start(dut: DeviceUnderTest) -> None:
    device = dut.restart()
    assert device.session is not None and device.session.stats.boots_seen >= 1
    assert dut.rpc.get_function("add_int")(2, 3) == 5


def test_handshake_gives_a_fresh_session(dut: DeviceUnderTest) -> None:
    first = dut.raw_session().session_id
    before = dut.rpc.stats()["sessions_started"]
    dut.reconnect()
    assert dut.raw_session().session_id != 0
    # every StartInit that reached the device started a session; on a clean link that is one
    sent = dut.raw_session().stats.start_inits
    assert before + 1 <= dut.rpc.stats()["sessions_started"] <= before + sent
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
    dut.mark_broken()
    assert dut.recover().get_function("add_int")(2, 3) == 5


def test_noise_between_frames_is_ignored(dut: DeviceUnderTest) -> None:
    echo = dut.rpc.get_function("utvm.testing.echo")
    dut.raw_link().write(b"\x00\x13garbage\xfe\xff\xfe\xff\xff\x42")  # no frame start among it
    assert echo(42) == 42
    assert dut.rpc.stats()["link_faults"] == 0


def _bad_frames(session_id: int) -> dict[str, bytes]:
    """Built at the unescaped level: cutting or flipping escaped wire bytes could land inside an
    FF FF pair (the session id and CRC are random) and make a different fault than intended."""
    head = b"\xff\xfd" + escape(struct.pack("<I", 7)) + escape(message(session_id, NORMAL, b"\x00" * 4))
    wrong_crc = escape(struct.pack("<H", crc16(head) ^ 0x0101))
    return {
        "crc_errors": head + wrong_crc,
        "escape_errors": b"\xff\xfd\x02\x00\x00\x00\xff\x01zz",
        "oversized_frames": b"\xff\xfd" + struct.pack("<I", 1 << 30) + b"junk",
        "abandoned_frames": b"\xff\xfd\x07\x00\x00\x00\x01\x02",  # cut short by the next frame's start
    }


@pytest.mark.parametrize("fault", ["crc_errors", "escape_errors", "oversized_frames", "abandoned_frames"])
def test_a_bad_frame_ends_the_session_and_a_new_one_recovers(dut: DeviceUnderTest, fault: str) -> None:
    """Part of a request may have been lost with a bad frame: the device ends the session
    rather than risk answering a request it only half received."""
    before = dut.rpc.stats()
    dut.raw_link().write(_bad_frames(dut.raw_session().session_id)[fault])
    with pytest.raises(DeviceResetError, match=r"^device ended the session$"):  # not a reboot
        dut.rpc.get_function("utvm.testing.echo")(1)
    dut.reconnect()
    after = dut.rpc.stats()
    assert after[fault] >= before[fault] + 1
    assert after["link_faults"] >= before["link_faults"] + 1
    assert dut.rpc.get_function("add_int")(1, 1) == 2


def test_byte_at_a_time_delivery(dut: DeviceUnderTest) -> None:
    fn = dut.rpc.get_function("add_int")
    pkt = c.packet(c.CALL_FUNC, struct.pack("<Q", fn.handle) + c.encode_args((20, 22)))
    for b in encode_frame(message(dut.raw_session().session_id, NORMAL, pkt)):
        dut.raw_link().write(bytes([b]))
    (n,) = struct.unpack("<Q", dut.raw_session().recv_exact(8))
    reply = c.Reader(dut.raw_session().recv_exact(n))
    assert reply.unpack("<i") == (c.RETURN,)
    assert reply.values() == [c.T_INT, 42]


def test_truncated_packet_then_new_session_recovers(dut: DeviceUnderTest) -> None:
    dut.raw_session().send(struct.pack("<Qi", 1000, c.CALL_FUNC) + b"\x01\x02")  # promises 1000 bytes
    with pytest.raises(TransportTimeout):
        dut.raw_session().recv_exact(8, timeout=0.3)
    dut.reconnect()  # StartInit resets the device's RPC state
    assert dut.rpc.get_function("add_int")(1, 2) == 3
