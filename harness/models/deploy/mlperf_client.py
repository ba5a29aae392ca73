"""A client of MLPerf Tiny's device protocol that speaks it as the benchmark runner does:
a command ends in '%', its reply is the lines up to `m-ready`; inputs go in `db` chunks of
31 bytes (62 hex digits). Over a serial port (pexpect's fdspawn on the port pyserial opens)
or a local process with the UART on its stdio (a host build, QEMU -nographic).

    with MlperfClient.serial("/dev/ttyACM0") as dut:
        dut.sync()
        dut.load(x.tobytes())
        run = dut.infer(10, warmups=1)    # run.results, run.elapsed_us
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import pexpect
from pexpect import fdpexpect, popen_spawn

from harness.errors import InfrastructureError, UtvmError

BAUD = 115200
CHUNK = 31  # bytes per db command, as the runner sends them: "db " and 62 hex digits


class MlperfError(UtvmError):
    """The device answered a command with e-[...]."""

    def __init__(self, command: str, lines: list[str]) -> None:
        self.command = command
        self.lines = lines
        errors = [line for line in lines if line.startswith("e-")]
        super().__init__(f"{command}%: {'; '.join(errors) or lines}")


@dataclass
class Inference:
    results: list[float]
    elapsed_us: int  # between the two m-lap-us lines: the timed runs
    lines: list[str]


def parse_results(lines: Sequence[str]) -> list[float] | None:
    for line in lines:
        m = re.fullmatch(r"m-results-\[([^]]*)\]", line)
        if m:
            return [float(x) for x in m.group(1).split(",") if x.strip()]
    return None


class MlperfClient:
    def __init__(self, child: Any, write: Callable[[bytes], None], timeout: float = 30.0,
                 closer: Callable[[], None] | None = None) -> None:
        self.child = child
        self._write = write
        self.timeout = timeout
        self._closer = closer
        self.log: list[str] = []  # every line received

    @classmethod
    def serial(cls, port: str, baud: int = BAUD, timeout: float = 30.0) -> MlperfClient:
        import serial

        try:
            ser = serial.serial_for_url(port, baudrate=baud, timeout=0)
        except (serial.SerialException, OSError) as exc:
            raise InfrastructureError(f"cannot open serial port {port}: {exc}") from exc

        def write(data: bytes) -> None:
            ser.write(data)
            ser.flush()

        child = fdpexpect.fdspawn(ser.fileno(), encoding="ascii", codec_errors="replace", timeout=timeout)
        return cls(child, write, timeout, ser.close)

    @classmethod
    def process(cls, argv: list[str], timeout: float = 30.0) -> MlperfClient:
        child = popen_spawn.PopenSpawn(argv, encoding="ascii", codec_errors="replace", timeout=timeout)

        def close() -> None:
            child.kill(9)
            child.wait()

        return cls(child, lambda data: child.send(data.decode("ascii")), timeout, close)

    def close(self) -> None:
        if self._closer is not None:
            self._closer()
            self._closer = None

    def __enter__(self) -> MlperfClient:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # ---- lines ----
    def read_line(self, timeout: float | None = None, waiting_for: str = "a line") -> str:
        try:
            self.child.expect("\n", timeout=self.timeout if timeout is None else timeout)
        except (pexpect.TIMEOUT, pexpect.EOF) as exc:
            seen = "\n".join(self.log[-5:])
            what = "timed out" if isinstance(exc, pexpect.TIMEOUT) else "closed the link"
            raise InfrastructureError(f"the device {what} waiting for {waiting_for}; "
                                      f"last lines:\n{seen}") from None
        line = str(self.child.before).strip("\r\n\0")
        self.log.append(line)
        return line

    def read_until(self, last: str, timeout: float | None = None) -> list[str]:
        """Lines up to and including one equal to `last`."""
        lines = []
        while True:
            line = self.read_line(timeout, waiting_for=last)
            lines.append(line)
            if line == last:
                return lines

    def boot(self, timeout: float | None = None) -> list[str]:
        """The boot lines, up to m-ready after m-init-done."""
        lines = []
        while "m-init-done" not in lines:
            lines += self.read_until("m-ready", timeout)
        return lines

    def command(self, command: str, timeout: float | None = None) -> list[str]:
        """Send `command%`; its reply lines, up to (not including) m-ready."""
        self._write(command.encode("ascii") + b"%")
        return self.read_until("m-ready", timeout)[:-1]

    def checked(self, command: str, timeout: float | None = None) -> list[str]:
        lines = self.command(command, timeout)
        if any(line.startswith("e-") for line in lines):
            raise MlperfError(command, lines)
        return lines

    # ---- the runner's commands ----
    def sync(self, timeout: float | None = None) -> str:
        """Get in step with a device whose earlier output (a boot, a half-read reply) may still be
        arriving: `name%`, skipping lines up to its answer. Returns the device's name."""
        self._write(b"%name%")
        while True:
            m = re.fullmatch(r"m-name-dut-\[([^]]+)\]", self.read_line(timeout, waiting_for="m-name-dut"))
            if m:
                self.read_until("m-ready", timeout)
                return m.group(1)

    def name(self) -> str:
        return self._one(self.checked("name"), r"m-name-dut-\[([^]]+)\]", "name")

    def profile(self) -> tuple[str, str]:
        """(profile, model) from m-profile-[...] and m-model-[...]."""
        lines = self.checked("profile")
        return (self._one(lines, r"m-profile-\[([^]]+)\]", "profile"),
                self._one(lines, r"m-model-\[([^]]+)\]", "profile"))

    def timestamp(self) -> int:
        return int(self._one(self.checked("timestamp"), r"m-lap-us-(\d+)", "timestamp"))

    def load(self, data: bytes, chunk: int = CHUNK) -> None:
        self._one(self.checked(f"db load {len(data)}"), r"m-\[Expecting (\d+) bytes\]", "db load")
        done: list[str] = []
        for at in range(0, len(data), chunk):
            done = self.checked(f"db {data[at:at + chunk].hex()}")
        if "m-load-done" not in done:
            raise UtvmError(f"db: no m-load-done after {len(data)} bytes ({done})")

    def infer(self, runs: int = 1, warmups: int = 0, timeout: float | None = None) -> Inference:
        lines = self.checked(f"infer {runs} {warmups}", timeout)
        laps = [int(m.group(1)) for m in map(re.compile(r"m-lap-us-(\d+)").fullmatch, lines) if m]
        results = parse_results(lines)
        if len(laps) != 2 or results is None or "m-infer-done" not in lines:
            raise UtvmError(f"infer {runs} {warmups}: expected two m-lap-us lines, m-infer-done and "
                            f"m-results; got {lines}")
        return Inference(results, laps[1] - laps[0], lines)

    def results(self) -> list[float]:
        lines = self.checked("results")
        results = parse_results(lines)
        if results is None:
            raise UtvmError(f"results: no m-results line in {lines}")
        return results

    @staticmethod
    def _one(lines: list[str], pattern: str, command: str) -> str:
        for line in lines:
            m = re.fullmatch(pattern, line)
            if m:
                return m.group(1)
        raise UtvmError(f"{command}%: no line like {pattern} in {lines}")
