"""Python framing/session against the golden vectors, and decoder robustness."""

from __future__ import annotations

import random

import pytest

from harness.errors import DeviceResetError, HandshakeError
from harness.link.framing import FrameDecoder, encode_frame
from harness.link.session import NORMAL, START_INIT, TERMINATE, Session, message
from harness.link.transport import Transport

GOLDEN = [
    (b"one", False, "FF FD 03 00 00 00 6F 6E 65 58 F4"),
    (b"", False, "FF FD 00 00 00 00 83 44"),
    (message(0, TERMINATE), True, "FE FF FD 03 00 00 00 00 00 02 66 77"),
    (message(0x82, START_INIT, b"\x01"), False, "FF FD 04 00 00 00 82 00 00 01 7B E9"),
    (message(0x6682, 0x01, b"\x01"), False, "FF FD 04 00 00 00 82 66 01 01 81 F3"),
    (message(0x6682, NORMAL, b"hello"), False, "FF FD 08 00 00 00 82 66 10 68 65 6C 6C 6F 90 28"),
    (message(0, 0x03, b"log1"), True, "FE FF FD 07 00 00 00 00 00 03 6C 6F 67 31 F0 D4"),
]


@pytest.mark.parametrize(("payload", "reset", "wire"), GOLDEN)
def test_golden_vectors(payload: bytes, reset: bool, wire: str) -> None:
    assert encode_frame(payload, reset=reset) == bytes.fromhex(wire)
    assert FrameDecoder().feed(bytes.fromhex(wire)) == [payload]


def test_decoder_byte_at_a_time_with_garbage_and_escapes() -> None:
    rng = random.Random(1)
    payloads = [bytes(rng.choice([0xFF, 0xFD, 0xFE, rng.randrange(256)]) for _ in range(n))
                for n in (0, 1, 5, 300)]
    wire = b"\x00\xff\xff\xfd garbage \xff\x01" + b"".join(encode_frame(p) for p in payloads)
    dec = FrameDecoder()
    got = [f for b in wire for f in dec.feed(bytes([b]))]
    assert got == payloads


def test_decoder_drops_bad_crc_and_recovers() -> None:
    good = encode_frame(b"payload")
    bad = bytearray(good)
    bad[-1] ^= 0x01
    dec = FrameDecoder()
    assert dec.feed(bytes(bad) + good) == [b"payload"]
    assert dec.stats.crc_errors == 1


def test_decoder_restart_inside_frame_and_oversize() -> None:
    dec = FrameDecoder(max_payload=8)
    first = encode_frame(b"abcdefgh")
    assert dec.feed(first[:6] + encode_frame(b"xy")) == [b"xy"]
    assert dec.stats.abandoned == 1
    assert dec.feed(encode_frame(b"123456789") + encode_frame(b"ok")) == [b"ok"]
    assert dec.stats.oversized == 1


class ScriptedTransport(Transport):
    """Replays canned device bytes; records what the host wrote."""

    def __init__(self, replies: list[bytes]) -> None:
        self.replies, self.written = list(replies), bytearray()

    def open(self) -> None: ...

    def close(self) -> None: ...

    def write(self, data: bytes) -> None:
        self.written += data

    def read(self, max_bytes: int, timeout: float) -> bytes:
        from harness.errors import TransportTimeout

        if not self.replies:
            raise TransportTimeout("nothing scripted")
        return self.replies.pop(0)


def test_session_detects_device_reset() -> None:
    t = ScriptedTransport([])
    s = Session(t, timeout=0.5)
    s.session_id = 0x4411
    t.replies = [encode_frame(message(0, TERMINATE), reset=True)]
    with pytest.raises(DeviceResetError):
        s.recv_exact(4)
    assert s.session_id == 0 and s.stats.resets_seen == 1


def test_session_handshake_times_out_cleanly() -> None:
    s = Session(ScriptedTransport([]), timeout=0.3)
    with pytest.raises(HandshakeError):
        s.open(retry_interval=0.1)
