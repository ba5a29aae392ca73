"""Session layer (microTVM session v1) on top of framing: handshake, reset
detection, logs, and the RPC byte stream carried in Normal messages."""

from __future__ import annotations

import contextlib
import logging
import random
import struct
import time
from dataclasses import dataclass, field

from harness.errors import DeviceResetError, HandshakeError, LinkCorrupted, TransportError, TransportTimeout
from harness.link.framing import FrameDecoder, encode_frame
from harness.link.transport import Transport

log = logging.getLogger(__name__)

START_INIT, START_REPLY, TERMINATE, LOG, NORMAL = 0x00, 0x01, 0x02, 0x03, 0x10
VERSION = 1


def message(session_id: int, kind: int, payload: bytes = b"") -> bytes:
    return struct.pack("<HB", session_id, kind) + payload


@dataclass
class SessionStats:
    handshakes: int = 0
    start_inits: int = 0  # StartInit messages sent (more than handshakes when replies were lost)
    resets_seen: int = 0  # resets noticed during a session
    boots_seen: int = 0  # boot announcements (Terminate on session 0), at any time
    logs: list[str] = field(default_factory=list)


class Session:
    """A framed session with a device. Use send()/recv_exact() for the RPC stream."""

    def __init__(self, transport: Transport, timeout: float = 10.0, mtu: int = 1024) -> None:
        self.transport = transport
        self.timeout = timeout
        self.mtu = mtu  # largest Normal payload per frame; raised once the device says more
        self.session_id = 0
        self.stats = SessionStats()
        self._decoder = FrameDecoder()
        self._inbox: list[bytes] = []  # decoded frames not yet handled
        self._stream = bytearray()  # RPC bytes received, not yet consumed
        self._reset_state = True

    @property
    def idle(self) -> bool:
        """Open, and nothing half-read: the next request starts clean."""
        return bool(self.session_id) and not self._stream and not self._inbox

    # ---- sending ----
    def _send_frames(self, *payloads: bytes) -> None:
        """One transport write; the first frame after a reset carries the FE prefix."""
        wire = b"".join(encode_frame(p, reset=self._reset_state and i == 0) for i, p in enumerate(payloads))
        self.transport.write(wire)
        self._reset_state = False

    def send(self, data: bytes) -> None:
        """Send RPC bytes, split into Normal messages of at most `mtu` bytes."""
        if not self.session_id:
            raise DeviceResetError("no session is open")
        view = memoryview(data)
        chunks = [view[i : i + self.mtu] for i in range(0, len(view), self.mtu)] or [view]
        self._send_frames(*(message(self.session_id, NORMAL, bytes(c)) for c in chunks))

    # ---- receiving ----
    def _link_errors(self) -> int:
        st = self._decoder.stats
        return st.crc_errors + st.escape_errors + st.oversized + st.abandoned

    def _next_frame(self, deadline: float) -> bytes:
        while not self._inbox:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TransportTimeout("timed out waiting for a frame from the device")
            errors = self._link_errors()
            self._inbox.extend(self._decoder.feed(self.transport.read(1 << 20, remaining)))
            if self.session_id and self._link_errors() != errors:
                # what was lost may be (part of) a reply: the stream cannot be trusted any more
                self.session_id = 0
                self._inbox.clear()
                self._stream.clear()
                raise LinkCorrupted(f"a frame from the device failed its check ({self._decoder.stats}); "
                                    "the session must be reopened")
        return self._inbox.pop(0)

    def _handle(self, frame: bytes) -> bytes | None:
        """Process one frame; returns Normal payload for this session, else None."""
        if len(frame) < 3:
            return None
        sid, kind = struct.unpack_from("<HB", frame)
        body = frame[3:]
        if kind == TERMINATE and sid == 0:
            self.stats.boots_seen += 1
        if kind == LOG:
            text = body.decode(errors="replace")
            self.stats.logs.append(text)
            log.info("device log: %s", text)
        elif kind == TERMINATE and self.session_id and sid in (0, self.session_id):
            self.session_id = 0
            self._stream.clear()
            self.stats.resets_seen += 1
            raise DeviceResetError(
                "device reset or ended the session (boot announcement)" if sid == 0
                else "device ended the session"
            )
        elif kind == NORMAL and sid == self.session_id and self.session_id:
            return body
        return None

    def recv_exact(self, n: int, timeout: float | None = None) -> bytes:
        limit = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        while len(self._stream) < n:
            try:
                body = self._handle(self._next_frame(deadline))
            except TransportTimeout as exc:
                raise TransportTimeout(
                    f"device sent {len(self._stream)} of {n} expected bytes before the "
                    f"timeout ({limit:.3g} s)"
                ) from exc
            if body:
                self._stream += body
        out = bytes(self._stream[:n])
        del self._stream[:n]
        return out

    def recv_some(self, timeout: float) -> bytes:
        """Whatever RPC bytes have arrived (at least one); TransportTimeout if none did."""
        deadline = time.monotonic() + timeout
        while not self._stream:
            body = self._handle(self._next_frame(deadline))
            if body:
                self._stream += body
        out = bytes(self._stream)
        self._stream.clear()
        return out

    # ---- handshake ----
    def open(self, timeout: float | None = None, retry_interval: float = 0.25) -> None:
        """StartInit until the StartReply to the latest one arrives.

        Every retry carries a new nonce and only the reply to the newest is
        taken: a slow device that answers an earlier StartInit and then resets
        again for a later one must not leave us holding a stale session id.
        The interval between retries doubles (up to 2 s) so a slow boot is not
        flooded.
        """
        total = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + total
        nonce = 0
        self.session_id = 0
        self._stream.clear()
        while time.monotonic() < deadline:
            nonce = random.choice([n for n in range(1, 256) if n != nonce])
            self._send_frames(message(nonce, START_INIT, bytes([VERSION])))
            self.stats.start_inits += 1
            retry_at = min(deadline, time.monotonic() + retry_interval)
            retry_interval = min(2 * retry_interval, 2.0)
            try:
                while True:
                    frame = self._next_frame(retry_at)
                    if len(frame) >= 4:
                        sid, kind = struct.unpack_from("<HB", frame)
                        if kind == START_REPLY and sid & 0xFF == nonce and sid >> 8:
                            self.session_id = sid
                            self.stats.handshakes += 1
                            return
                    self._handle(frame)
            except TransportTimeout:
                continue
        raise HandshakeError(f"no StartReply from the device within {total:.3g} s")

    def close(self) -> None:
        if self.session_id:
            with contextlib.suppress(TransportError):  # best effort: the device may be gone
                self._send_frames(message(self.session_id, TERMINATE))
        self.session_id = 0
