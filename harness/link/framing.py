"""Link-layer framing, byte-compatible with microTVM (see crt/include/utvm/framing.h).

Wire: [FE] FF FD | u32 len | payload | u16 crc, with FF escaped as FF FF; the
CRC-16/CCITT (init 0xFFFF) covers the escaped bytes from FF FD through the payload.
"""

from __future__ import annotations

import binascii
import enum
import struct
from dataclasses import dataclass

ESCAPE = 0xFF
NOP = 0xFE
START = 0xFD
_FF = b"\xff"
_FF2 = b"\xff\xff"


def crc16(data: bytes, crc: int = 0xFFFF) -> int:
    return binascii.crc_hqx(data, crc)


def escape(data: bytes) -> bytes:
    return data.replace(_FF, _FF2)


def encode_frame(payload: bytes, reset: bool = False) -> bytes:
    """One frame; `reset` prefixes the raw FE a framer sends after a reset."""
    head = b"\xff\xfd" + escape(struct.pack("<I", len(payload))) + escape(payload)
    tail = escape(struct.pack("<H", crc16(head)))
    return (b"\xfe" if reset else b"") + head + tail


class _State(enum.Enum):
    WAIT = 0
    LENGTH = 1
    PAYLOAD = 2
    CRC = 3


@dataclass
class DecoderStats:
    frames_ok: int = 0
    crc_errors: int = 0
    escape_errors: int = 0
    oversized: int = 0
    abandoned: int = 0


class FrameDecoder:
    """Incremental decoder: feed() wire bytes, get back complete, CRC-checked payloads."""

    def __init__(self, max_payload: int = 1 << 24) -> None:
        self.max_payload = max_payload
        self.stats = DecoderStats()
        self._state = _State.WAIT
        self._escape = False
        self._field = bytearray()
        self._payload = bytearray()
        self._length = 0
        self._crc = 0xFFFF

    def feed(self, data: bytes) -> list[bytes]:
        frames: list[bytes] = []
        i, n = 0, len(data)
        while i < n:
            if self._escape:
                self._escape = False
                self._control(data[i], frames)
                i += 1
                continue
            j = data.find(_FF, i)
            end = n if j < 0 else j
            if end > i:
                self._run(data[i:end], None, frames)
            if j < 0:
                break
            self._escape = True
            i = j + 1
        return frames

    def _control(self, byte: int, frames: list[bytes]) -> None:
        if byte == START:
            if self._state is not _State.WAIT:
                self.stats.abandoned += 1
            self._state = _State.LENGTH
            self._field.clear()
            self._crc = crc16(b"\xff\xfd")
        elif byte == ESCAPE:
            self._run(_FF, _FF2, frames)
        elif byte != NOP and self._state is not _State.WAIT:
            self.stats.escape_errors += 1
            self._state = _State.WAIT

    def _run(self, chunk: bytes, wire: bytes | None, frames: list[bytes]) -> None:
        """Consume literal bytes `chunk`; `wire` is their escaped form when it differs."""
        pos = 0
        while pos < len(chunk):
            state = self._state
            if state is _State.WAIT:
                return
            if state is _State.LENGTH:
                take = chunk[pos : pos + 4 - len(self._field)]
                self._crc = crc16(wire if wire is not None else take, self._crc)
                self._field += take
                pos += len(take)
                if len(self._field) == 4:
                    self._start_payload()
            elif state is _State.PAYLOAD:
                take = chunk[pos : pos + self._length - len(self._payload)]
                self._crc = crc16(wire if wire is not None else take, self._crc)
                self._payload += take
                pos += len(take)
                if len(self._payload) == self._length:
                    self._state = _State.CRC
            else:
                take = chunk[pos : pos + 2 - len(self._field)]
                self._field += take
                pos += len(take)
                if len(self._field) == 2:
                    self._finish(frames)

    def _start_payload(self) -> None:
        (self._length,) = struct.unpack("<I", self._field)
        self._field.clear()
        self._payload = bytearray()
        if self._length > self.max_payload:
            self.stats.oversized += 1
            self._state = _State.WAIT
        else:
            self._state = _State.PAYLOAD if self._length else _State.CRC

    def _finish(self, frames: list[bytes]) -> None:
        self._state = _State.WAIT
        (received,) = struct.unpack("<H", self._field)
        if received == self._crc:
            self.stats.frames_ok += 1
            frames.append(bytes(self._payload))
        else:
            self.stats.crc_errors += 1
