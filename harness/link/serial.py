"""A board on a serial port: /dev/tty*, a pseudo-terminal, or any pyserial URL
(rfc2217://host:port for a port a labgrid exporter serves)."""

from __future__ import annotations

import contextlib
import time

from harness.errors import TransportClosed, TransportError, TransportTimeout
from harness.link.transport import Transport

DEFAULT_BAUD = 115200


class SerialTransport(Transport):
    """The runtime's link over a UART, through pyserial."""

    def __init__(self, port: str, baud: int = DEFAULT_BAUD) -> None:
        self.port = port
        self.baud = baud
        self._ser = None

    def open(self) -> None:
        import serial

        try:
            local = "://" not in self.port  # URLs (rfc2217://) take neither option
            options = {"write_timeout": 10, "exclusive": True} if local else {}
            self._ser = serial.serial_for_url(self.port, baudrate=self.baud, timeout=0, **options)
            self._ser.reset_input_buffer()  # bytes from before we came are not ours
        except (serial.SerialException, OSError, ValueError) as exc:
            raise TransportError(f"cannot open serial port {self.port}: {exc}") from exc

    @property
    def ser(self):
        if self._ser is None:
            raise TransportError(f"serial port {self.port} is not open")
        return self._ser

    def write(self, data: bytes) -> None:
        import serial

        try:
            self.ser.write(data)
            self.ser.flush()
        except (serial.SerialException, OSError) as exc:
            raise TransportClosed(f"serial port {self.port} vanished while writing: {exc}") from exc

    def read(self, max_bytes: int, timeout: float) -> bytes:
        import serial

        deadline = time.monotonic() + timeout
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TransportTimeout(f"no bytes from {self.port} within {timeout:.3g} s")
                self.ser.timeout = remaining
                first = self.ser.read(1)
                if first:
                    waiting = min(self.ser.in_waiting, max_bytes - 1)
                    return first + (self.ser.read(waiting) if waiting > 0 else b"")
        except (serial.SerialException, OSError) as exc:
            raise TransportClosed(f"serial port {self.port} vanished while reading: {exc}") from exc

    def close(self) -> None:
        ser, self._ser = self._ser, None
        if ser is not None:
            with contextlib.suppress(OSError):  # the port is gone already
                ser.close()

    def describe(self) -> str:
        return f"serial port {self.port} at {self.baud} baud"
