"""A virtual serial board: QEMU with its UART on a pseudo-terminal, behind a
fault-injecting relay, seen by the harness as a serial port like a USB board.

    harness --pyserial--> PORT (pty) <-relay: faults-> QEMU's UART (a unix socket)

It runs as a long-lived process (`utvm virtual-board serve`) with a control
socket beside the port (`PORT.ctl`) that flashes (restarts QEMU with a new
ELF), resets, powers off/on and changes the faults, so flash and reset
commands in a lab inventory drive it exactly as they would a real board.
Board faults (harness.sim.faults.BoardFaults) make flashing fail, keep the image
from booting, unplug the port mid-run, or kill the board for good.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import tty
from pathlib import Path

from harness.errors import InfrastructureError, UtvmError
from harness.link.transport import die_with_parent
from harness.sim.faults import BoardFaults, FaultInjector, FaultPlan, parse_faults
from harness.targets.qemu import QEMU, Board, qemu_argv


def control_path(port: Path) -> Path:
    return port.with_name(port.name + ".ctl")


class VirtualBoard:
    def __init__(self, board: Board, port: Path, workdir: Path, faults: FaultPlan | None = None,
                 board_faults: BoardFaults | None = None) -> None:
        self.board = board
        self.port = port
        self.workdir = workdir
        self.faults = faults or FaultPlan()
        self.board_faults = board_faults or BoardFaults()
        self._flash_failures = 0  # injected so far
        self._to_host = 0  # bytes, since the faults were set
        self.vanished = False
        self.elf: Path | None = None
        self._qemu: subprocess.Popen[bytes] | None = None
        self._dev_fd: int | None = None  # QEMU's UART: the relay's end of its socket
        self._dev_sock: socket.socket | None = None
        # a short path: a unix socket's name is limited to 107 bytes
        self._uart_socket = Path(tempfile.mkdtemp(prefix="utvm-vb-")) / "uart"
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._master, self._slave = os.openpty()  # the harness's side
        tty.setraw(self._slave)  # held open: the port survives the harness closing it
        self._injectors = self._new_injectors()

    def _new_injectors(self) -> tuple[FaultInjector, FaultInjector]:
        return FaultInjector(self.faults, salt=1), FaultInjector(self.faults, salt=2)

    # ---- power ----
    def power_on(self) -> None:
        if self.elf is None:
            raise UtvmError("nothing flashed yet")
        if self.board_faults.no_boot or self.board_faults.dead or self.vanished:
            return  # powered, silent
        log = self.workdir / "qemu.log"
        path = self._uart_socket
        path.unlink(missing_ok=True)
        argv = [*qemu_argv(self.board, "uart", str(self.elf), QEMU)]
        wiring_at = argv.index("-chardev")
        # QEMU waits for the relay before it starts the core: no byte of the boot is lost
        argv[wiring_at : wiring_at + 2] = ["-chardev", f"socket,id=link,path={path},server=on,wait=on"]
        with open(log, "wb") as err:
            self._qemu = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                                          preexec_fn=die_with_parent)  # a killed board takes QEMU along
        deadline = time.monotonic() + 10
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        while True:
            try:
                sock.connect(str(path))
                break
            except OSError:
                if self._qemu.poll() is not None or time.monotonic() > deadline:
                    sock.close()
                    self.power_off()
                    raise InfrastructureError(
                        f"QEMU did not start: {log.read_text(errors='replace')[-400:]}") from None
                time.sleep(0.01)
        with self._lock:
            self._dev_sock = sock
            self._dev_fd = sock.fileno()
        threading.Thread(target=self._device_to_host, args=(self._dev_fd,), daemon=True).start()

    def power_off(self) -> None:
        with self._lock:
            sock, self._dev_sock, self._dev_fd = self._dev_sock, None, None
            proc, self._qemu = self._qemu, None
        if proc is not None:
            proc.kill()
            proc.wait()
        if sock is not None:
            sock.close()

    def flash(self, elf: Path) -> None:
        if not elf.is_file():
            raise UtvmError(f"no such image: {elf}")
        if self.board_faults.dead or self.vanished:
            raise UtvmError("no debug probe answers (board dead or unplugged)")
        wanted = self.board_faults.flash_fail
        if wanted == -1 or self._flash_failures < wanted:
            self._flash_failures += 1
            raise UtvmError(f"flash failed: target not responding (injected, {self._flash_failures} so far)")
        self.power_off()
        if not (self.board_faults.stale_image and self.elf is not None):
            self.elf = elf.resolve()
        self.power_on()

    def reset(self) -> None:
        self.power_off()
        self.power_on()

    # ---- relay ----
    def _device_to_host(self, fd: int) -> None:
        while not self._stop.is_set():
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                return  # QEMU went away (power off, reflash)
            if not chunk:
                return
            self._to_host += len(chunk)
            if self.board_faults.vanish and self._to_host >= self.board_faults.vanish:
                self._unplug()
                return
            self._injectors[1].deliver(chunk, lambda b: os.write(self._master, b))

    def _unplug(self) -> None:
        """The port disappears, as a USB board pulled out: open handles fail, the path is gone."""
        self.vanished = True
        self.port.unlink(missing_ok=True)
        for fd in (self._master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)
        self.power_off()

    def _to_device(self, data: bytes) -> None:
        with self._lock:
            if self._dev_fd is not None:
                with contextlib.suppress(OSError):
                    os.write(self._dev_fd, data)

    def _host_to_device(self) -> None:
        while not self._stop.is_set():
            if self.vanished:
                return
            try:
                ready, _, _ = select.select([self._master], [], [], 0.2)
                chunk = os.read(self._master, 4096) if ready else b""
            except (OSError, ValueError):
                return  # unplugged
            if chunk:
                self._injectors[0].deliver(chunk, self._to_device)  # powered off: bytes are lost

    # ---- control ----
    def command(self, line: str) -> str:
        verb, _, arg = line.strip().partition(" ")
        if verb == "flash":
            self.flash(Path(arg))
        elif verb == "reset":
            self.reset()
        elif verb == "off":
            self.power_off()
        elif verb == "on":
            self.power_on()
        elif verb == "faults":
            self.faults, self.board_faults = parse_faults(arg)
            self._injectors = self._new_injectors()
            self._flash_failures = self._to_host = 0
        elif verb != "status":
            raise UtvmError(f"unknown command {verb!r}: flash ELF, reset, off, on, faults SPEC, status")
        tx, rx = (i.counts for i in self._injectors)
        state = "unplugged" if self.vanished else "on" if self._qemu else "off"
        return (f"ok powered={state} elf={self.elf} faults={self.faults} board_faults={self.board_faults} "
                f"to_device={tx} to_host={rx}")

    def serve_forever(self) -> None:
        """Relay and answer the control socket until stop()."""
        ctl = control_path(self.port)
        ctl.unlink(missing_ok=True)
        self.port.unlink(missing_ok=True)
        self.port.symlink_to(os.ttyname(self._slave))
        threading.Thread(target=self._host_to_device, daemon=True).start()
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
            server.bind(str(ctl))
            server.listen()
            server.settimeout(0.2)
            while not self._stop.is_set():
                try:
                    conn, _ = server.accept()
                except TimeoutError:
                    continue
                with conn:
                    self._answer(conn)
        ctl.unlink(missing_ok=True)
        self.port.unlink(missing_ok=True)

    def _answer(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        request = conn.makefile("r").readline()
        try:
            reply = self.command(request)
        except UtvmError as exc:
            reply = f"error {exc}"
        conn.sendall(reply.encode() + b"\n")

    def stop(self) -> None:
        self._stop.set()
        self.power_off()
        shutil.rmtree(self._uart_socket.parent, ignore_errors=True)


def control(port: Path, command: str, timeout: float = 30.0) -> str:
    """Send one command to a running virtual board; returns its status line."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(str(control_path(port)))
            sock.sendall(command.encode() + b"\n")
            reply = sock.makefile("r").readline().strip()
    except OSError as exc:
        raise InfrastructureError(f"virtual board at {port} does not answer: {exc}") from exc
    if not reply.startswith("ok"):
        raise InfrastructureError(f"virtual board at {port}: {reply or 'no reply'}")
    return reply
