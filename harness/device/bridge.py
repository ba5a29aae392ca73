"""The rpc_launcher of a built image: `python -m harness.device.bridge --manifest M READ_FD WRITE_FD`.

tvm.rpc.PopenSession execs a launcher with two file descriptors and speaks raw
TVM RPC on them. The bridge starts the device, opens the framed session and
relays the raw RPC byte stream both ways, so the emulated board is driven
exactly like the host build. It ends when the client closes its side; a device
reset or a lost link ends it with a message on stderr (the client sees EOF).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path

from harness.build import Manifest
from harness.device import Device
from harness.errors import TransportTimeout, UtvmError
from harness.link.session import Session

POLL_S = 1.0  # how often the downlink checks that the uplink is still there


def _uplink(read_fd: int, session: Session, done: threading.Event, errors: list[BaseException]) -> None:
    try:
        while True:
            data = os.read(read_fd, 1 << 16)
            if not data:
                return
            session.send(data)
    except (OSError, UtvmError) as exc:
        errors.append(exc)
    finally:
        done.set()


def _downlink(write_fd: int, session: Session, done: threading.Event) -> None:
    while not done.is_set():
        try:
            data = session.recv_some(POLL_S)
        except TransportTimeout:
            continue
        view = memoryview(data)
        while view:
            view = view[os.write(write_fd, view):]


def relay(manifest: Manifest, read_fd: int, write_fd: int) -> int:
    device = Device(manifest)
    try:
        device.start()
        assert device.session is not None
        errors: list[BaseException] = []
        done = threading.Event()
        up = threading.Thread(target=_uplink, args=(read_fd, device.session, done, errors), daemon=True)
        up.start()
        _downlink(write_fd, device.session, done)
        if errors:
            raise errors[0]
        return 0
    except (UtvmError, OSError) as exc:
        print(f"utvm bridge: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    finally:
        device.stop()


def _exit_on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds through relay()'s finally: the device is stopped


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _exit_on_signal)
    p = argparse.ArgumentParser(prog="utvm-bridge", description=__doc__.splitlines()[0])
    p.add_argument("--manifest", required=True, type=Path)
    p.add_argument("read_fd", type=int)
    p.add_argument("write_fd", type=int)
    args = p.parse_args(argv)
    try:
        manifest = Manifest.load(args.manifest)
    except UtvmError as exc:
        print(f"utvm bridge: {exc}", file=sys.stderr)
        return 2
    return relay(manifest, args.read_fd, args.write_fd)


if __name__ == "__main__":
    sys.exit(main())
