"""Faults on the real pipe to the host device: garbage, bad CRC, oversized and
truncated frames, byte-at-a-time delivery, and recovery by a new session."""

from __future__ import annotations

import struct

import pytest

from harness import rpc_codec as c
from harness.device import Device
from harness.errors import TransportTimeout
from harness.framing import encode_frame
from harness.session import NORMAL, message


def test_garbage_and_bad_frames_are_ignored(device: Device) -> None:
    client, session, transport = device.client, device.session, device.transport
    assert client and session and transport
    echo = client.get_function("utvm.testing.echo")
    transport.write(b"\x00\x13garbage\xff\x01\xff\xff\xfe\xfd")  # garbage + invalid escapes
    bad = bytearray(encode_frame(message(session.session_id, NORMAL, b"zzzz")))
    bad[-2] ^= 0xFF
    transport.write(bytes(bad))  # bad CRC: dropped
    transport.write(b"\xff\xfd" + struct.pack("<I", 1 << 30) + b"junk")  # oversized length
    assert echo(42) == 42
    stats = client.stats()
    assert stats["crc_errors"] >= 1 and stats["oversized_frames"] >= 1


def test_byte_at_a_time_delivery(device: Device) -> None:
    client, session, transport = device.client, device.session, device.transport
    assert client and session and transport
    fn = client.get_function("add_int")
    pkt = c.packet(c.CALL_FUNC, struct.pack("<Q", fn.handle) + c.encode_args((20, 22)))
    for b in encode_frame(message(session.session_id, NORMAL, pkt)):
        transport.write(bytes([b]))
    (n,) = struct.unpack("<Q", session.recv_exact(8))
    reply = c.Reader(session.recv_exact(n))
    assert reply.unpack("<i") == (c.RETURN,)
    assert reply.values() == [c.T_INT, 42]


def test_truncated_packet_then_new_session_recovers(device: Device) -> None:
    client, session = device.client, device.session
    assert client and session
    session.send(struct.pack("<Qi", 1000, c.CALL_FUNC) + b"\x01\x02")  # promises 1000 bytes
    with pytest.raises(TransportTimeout):
        session.recv_exact(8, timeout=0.3)
    client = device.reconnect()  # StartInit resets the device's RPC state
    assert client.get_function("add_int")(1, 2) == 3
    assert client.stats()["sessions_started"] == 2
